"""Checks for chapter 9, NNTP.

Each ``check_*`` function runs what the learner wrote against the ``nntp`` practice server (or, for the server
exercise, serves the learner's protocol) and looks at it with a peer that shares nothing with it: the standard
library's ``nntplib`` or a raw socket. It compares groups, articles, response codes and what the server stored,
then shows a pass or raises :class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check
starts is stopped again.
"""

from __future__ import annotations

from labkit.checks import Check, Outcome, converse, limits, server_health, short, unwritten
from labkit.checks.nntp import ask, newsreader
from labkit.checks.values import Shown

__all__ = ["check_feed_cache", "check_header_command", "check_latest_subjects", "check_make_reply",
           "check_posting_groups"]

HOST = "127.0.0.1"


def _practice(check, name: str):
    """A fresh ``nntp`` practice server and its storage (the check reads what was stored there)."""
    from servers.news import nntp
    from servers.news.practice import practice_groups
    from servers.news.storage import MemoryStorage

    storage = MemoryStorage(practice_groups())
    return check.serve(nntp(storage), name), storage


# --- 9.1 listing the groups -------------------------------------------------------------------------------------

def check_posting_groups(posting_groups) -> None:
    """Exercise 9.1: ``posting_groups(reactor, host, port)`` fires with the sorted names of the groups that
    accept posts (LIST's fourth field is ``y``)."""
    from servers.news.practice import SANDBOX, TWISTED

    with Check("your client lists the groups that accept posts",
               hint="client = await connect(reactor, host, port); groups = await client.fetchGroups(); keep the "
                    "names whose flag (the fourth item) is 'y', sorted; then await client.quit()") as check:
        served, _ = _practice(check, "check-posting-groups")
        outcome = Outcome(posting_groups, HOST, served.port, timeout=limits.LEARNER_CALL)
        check.show(served.transcript)
        got = outcome.value if outcome.ok else outcome.described()
        everything = outcome.ok and isinstance(got, list) and len(got) == 3
        check.expect("posting_groups(reactor, host, port)", [SANDBOX, TWISTED], got,
                     hint="practice.announce is read-only: its flag is 'n'; keep only the names flagged 'y'"
                          if everything else "")
        server_health(check, served)


# --- 9.2 the overview of a group --------------------------------------------------------------------------------

def check_latest_subjects(latest_subjects) -> None:
    """Exercise 9.2: ``latest_subjects(reactor, host, port, group, count)`` fires with ``[(number, subject)]``
    for the articles among the last ``count`` numbers of the group, oldest first, asked for with one OVER
    command (a missing number is simply not listed)."""
    from servers.news.practice import MISSING, TWISTED

    with Check("your client reads the last subjects of a group with one OVER",
               hint="count_, low, high, name = await client.fetchGroup(group); rows = await "
                    "client.fetchOverview(f'{max(low, high - count + 1)}-{high}'); return [(row['number'], "
                    "row['Subject']) for row in rows]") as check:
        served, _ = _practice(check, "check-latest-subjects")
        ten = Outcome(latest_subjects, HOST, served.port, TWISTED, 10, timeout=limits.LEARNER_CALL)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        commands = [line.split(b" ", 1)[0].upper() for line in _client_lines(served.transcript)]
        expected = [(n, f"Twisted tip {n}") for n in range(7, 17) if n != MISSING]
        got = ten.value if ten.ok else ten.described()
        check.expect("latest_subjects(reactor, host, port, 'practice.twisted', 10)", expected, got,
                     hint="the last ten numbers of a group whose high is 16 are 7 to 16: the range "
                          "f'{high - count + 1}-{high}'" if ten.ok and got and got[0][0] == 1 else "")
        per_article = sum(command in (b"HEAD", b"ARTICLE", b"STAT") for command in commands)
        check.expect("the commands sent", Shown("one OVER (or XOVER), no HEAD or ARTICLE"),
                     Shown(", ".join(c.decode("ascii", "replace") for c in commands)),
                     ok=commands.count(b"OVER") + commands.count(b"XOVER") == 1 and not per_article,
                     hint="one OVER answers for the whole range: client.fetchOverview(f'{first}-{high}')"
                     if per_article else "")
        three = Outcome(latest_subjects, HOST, served.port, TWISTED, 3, timeout=limits.LEARNER_CALL)
        check.expect("the last 3", [(14, "Twisted tip 14"), (15, "Twisted tip 15"), (16, "Twisted tip 16")],
                     three.value if three.ok else three.described())
        server_health(check, served)


def _client_lines(transcript) -> list[bytes]:
    """What the clients sent so far, line by line."""
    return [line.rstrip(b"\r") for line in transcript.sent_by("client").split(b"\n") if line.strip()]


# --- 9.3 posting ------------------------------------------------------------------------------------------------

def check_make_reply(make_reply) -> None:
    """Exercise 9.3: ``make_reply(original, text)`` returns the bytes of a follow-up to the article ``original``
    (bytes), built with ``email.message.EmailMessage``: the same Newsgroups, ``Re: `` and the subject (one
    ``Re: ``, however deep the thread), References (the original's, then its Message-ID), a new Message-ID from
    ``make_msgid``; the server stores it, and a reply to that reply continues the thread."""
    from email.parser import BytesParser

    from servers.news.practice import TWISTED

    with Check("your follow-ups are stored, and thread under the article they answer",
               hint="reply = EmailMessage(); reply['From'] = ...; reply['Newsgroups'] = original['Newsgroups']; "
                    "reply['Subject'] = 'Re: ' + subject without its 'Re: '; reply['References'] = "
                    "(original['References'] + ' ' if any) + original['Message-ID']; reply['Message-ID'] = "
                    "make_msgid(); reply.set_content(text); return bytes(reply)") as check:
        served, _ = _practice(check, "check-make-reply")
        with newsreader(served.port) as reader:
            first = b"\r\n".join(reader.article("<twisted-3@practice.invalid>")[1].lines) + b"\r\n"
            reply = make_reply(first, "I agree.\n")
            check.expect("what make_reply returns", Shown("bytes"), Shown(type(reply).__name__),
                         ok=isinstance(reply, bytes), hint="return bytes(reply) (or reply.as_bytes())")
            if not isinstance(reply, bytes):
                return
            parsed = BytesParser().parsebytes(reply)
            reply_id = parsed.get("Message-ID", "")
            posted = ask(reader, "post", reply)
            check.expect("POST of the reply", Shown("240 article received"), short(posted, 90),
                         ok=isinstance(posted, str) and posted.startswith("240"), hint=_why_refused(posted))
            check.expect("the reply's headers", ("Re: Twisted tip 3", TWISTED, "<twisted-3@practice.invalid>"),
                         (parsed.get("Subject"), parsed.get("Newsgroups"), parsed.get("References")),
                         hint="" if parsed.get("References") else
                         "References holds the Message-IDs of the thread: the original's References, then its "
                         "own Message-ID")
            stored = ask(reader, "article", reply_id) if reply_id else Shown("no Message-ID")
            second_source = (b"\r\n".join(stored[1].lines) + b"\r\n") if isinstance(stored, tuple) else b""
            if not second_source:
                check.expect("the reply, read back by its Message-ID", Shown("the article"), stored)
                return
            deeper = BytesParser().parsebytes(make_reply(second_source, "Me too.\n"))
            check.expect("a reply to the reply", ("Re: Twisted tip 3", f"<twisted-3@practice.invalid> {reply_id}"),
                         (deeper.get("Subject"), " ".join(str(deeper.get("References", "")).split())),
                         hint="answering 'Re: X' gives 'Re: X' again, not 'Re: Re: X'"
                         if str(deeper.get("Subject", "")).startswith("Re: Re:") else "")
            check.expect("its Message-ID is new", Shown("a new one"), Shown(str(deeper.get("Message-ID"))),
                         ok=deeper.get("Message-ID") not in (None, reply_id, "<twisted-3@practice.invalid>"),
                         hint="every article needs its own Message-ID: make_msgid(), never the original's")
        server_health(check, served)


def _why_refused(answer) -> str:
    text = str(answer)
    for header in ("From", "Newsgroups", "Subject"):
        if f"no {header}" in text:
            return f"the server wants a {header} header: reply['{header}'] = ..."
    if "already stored" in text:
        return "that Message-ID is the original's: give the reply a new one with make_msgid()"
    return ""


# --- 9.4 the server: a command of your own ----------------------------------------------------------------------

HDR_TALK = (b"HDR Subject 1\r\n", b"GROUP practice.twisted\r\n", b"HDR Subject 8-10\r\n", b"HDR Subject\r\n",
            b"HDR Subject 40-50\r\n", b"QUIT\r\n")
HDR_ANSWERS = [b"200", b"412", b"211", b"225", b"8 Twisted tip 8", b"10 Twisted tip 10", b".", b"225",
               b"1 Twisted tip 1", b".", b"423", b"205"]


def check_header_command(server_class) -> None:
    """Exercise 9.4: ``server_class`` (an ``NNTPServer`` subclass) answers ``HDR field [range]`` (RFC 3977,
    8.5): 225 and one ``number value`` line per article that exists in the range (the current article without
    one), 412 without a group, 423 for a range with no article."""
    from servers.news.practice import practice_groups
    from servers.news.server import NNTPFactory
    from servers.news.storage import MemoryStorage

    with Check("your server answers HDR with one line per article, and the right codes",
               hint="in do_HDR: name = self.selected_group(); numbers = yield self.factory.storage.numbers(name); "
                    "for each number in the range, article = yield self.factory.storage.article(name, number) "
                    "and add f'{number} {article.header(field)}'; self.reply(225, 'headers follow', lines)") as check:
        factory = NNTPFactory(MemoryStorage(practice_groups()))
        factory.protocol = server_class
        served = check.serve(factory, "check-hdr")
        answer = converse(served.port, *HDR_TALK, settle=limits.QUIET)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        lines = [line for line in answer.split(b"\r\n") if line]
        got = [line[:3] if line[:3].isdigit() and line[3:4] == b" " else line for line in lines]
        check.expect("the answers (codes, and the header lines)", HDR_ANSWERS, got,
                     hint=_hdr_hint(got))
        server_health(check, served)


def _hdr_hint(got) -> str:
    if any(line.startswith(b"9 ") for line in got):
        return "article 9 is missing: list only the numbers the storage has (storage.numbers(name))"
    if got[1:2] == [b"500"]:
        return "name the method do_HDR, so the server finds it"
    if got[1:2] != [b"412"]:
        return "without a group, self.selected_group() raises the 412 answer for you: call it first"
    return ""


# --- 9.5 the gateway's cache ------------------------------------------------------------------------------------

def check_feed_cache(cache_class) -> None:
    """Exercise 9.5: ``cache_class(url, max_age)`` has ``get(reactor)``, a Deferred of the feed's body: fetched
    with treq when there is no copy younger than ``max_age`` seconds, one fetch shared by every caller that
    asks while it is under way, and a failed fetch reported to its callers and not kept."""
    from twisted.internet import defer

    from servers.news import feeds
    from servers.news.feedsite import rss

    with Check("your feed cache fetches once for many callers, and again when its copy is old",
               hint="keep the body and reactor.seconds() of the last fetch; while a fetch is under way keep a "
                    "list of the Deferreds you handed out and fire them all when it ends") as check:
        site = feeds()
        served = check.serve(site, "check-feed-cache")
        url = f"{served.url}rss/twisted"
        body = rss("twisted", site.items["twisted"])
        cache = cache_class(url, 60)

        def five_at_once(reactor):
            return defer.gatherResults([defer.maybeDeferred(cache.get, reactor) for _ in range(5)],
                                       consumeErrors=True)

        together = Outcome(five_at_once, timeout=limits.LEARNER_CALL)
        if unwritten(check, served):
            return
        check.expect("five callers at once get the feed", Shown("the feed, five times"),
                     Shown("the feed, five times") if together.ok and together.value == [body] * 5
                     else together.shown())
        check.expect("requests the feed server got for them", 1, site.hits["/rss/twisted"],
                     hint="callers that ask while the fetch is under way must wait for that fetch: keep their "
                          "Deferreds in a list and fire each when it ends" if site.hits["/rss/twisted"] > 1 else "")
        later = Outcome(lambda reactor: cache.get(reactor), timeout=limits.LEARNER_CALL)
        check.expect("a sixth call, a moment later", (Shown("the feed"), 1),
                     (Shown("the feed") if later.ok and later.value == body else later.shown(),
                      site.hits["/rss/twisted"]),
                     hint="a copy younger than max_age is the answer: defer.succeed(self.body)")
        stale = cache_class(url, 0)
        for _ in range(2):
            Outcome(lambda reactor: stale.get(reactor), timeout=limits.LEARNER_CALL)
        check.expect("two calls with max_age=0", 3, site.hits["/rss/twisted"],
                     hint="a copy as old as max_age or older is stale: fetch again" if site.hits["/rss/twisted"] < 3
                     else "")
        missing = cache_class(f"{served.url}rss/nothing-here", 60)
        first = Outcome(lambda reactor: missing.get(reactor), timeout=limits.LEARNER_CALL)
        second = Outcome(lambda reactor: missing.get(reactor), timeout=limits.LEARNER_CALL)
        check.expect("a feed that answers 404, asked twice", (Shown("an error"), Shown("an error"), 2),
                     (Shown("an error") if not first.ok else first.shown(),
                      Shown("an error") if not second.ok else second.shown(), site.hits["/rss/nothing-here"]),
                     hint="when the answer is not 200, fail the callers' Deferreds (raise) and keep no copy, "
                          "so the next call tries again")
        server_health(check, served)
