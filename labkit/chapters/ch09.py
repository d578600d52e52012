"""Checks for chapter 9, NNTP.

Each ``check_*`` function runs what the learner wrote against the ``nntp`` practice server (or, for the server
exercise, serves the learner's protocol) and looks at it with a peer that shares nothing with it: the standard
library's ``nntplib`` or a raw socket. It compares groups, articles, response codes and what the server stored,
then shows a pass or raises :class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check
starts is stopped again.
"""

from __future__ import annotations

import random
import re
from email.utils import parseaddr, parsedate_to_datetime

from labkit.checks import (Check, Outcome, call_learner, converse, limits, logged_error, server_health, settled,
                           short, unwritten, wait_until)
from labkit.checks.nntp import ask, newsreader
from labkit.checks.values import Shown

__all__ = ["check_feed_cache", "check_header_command", "check_latest_subjects", "check_make_reply",
           "check_posting_groups"]

HOST = "127.0.0.1"


WORDS = ["tulips", "comets", "otters", "lanterns", "maples", "quasars", "harbours", "pebbles"]


def _practice(check, name: str, extra=()):
    """A fresh ``nntp`` practice server and its storage (the check reads what was stored there), with the
    practice groups and the ``extra`` ones."""
    from servers.news import nntp
    from servers.news.practice import practice_groups
    from servers.news.storage import MemoryStorage

    class AnyOrder(MemoryStorage):  # a server may list its groups in any order
        def groups(self):
            return super().groups().addCallback(_unsorted)

    storage = AnyOrder(practice_groups() + list(extra))
    return check.serve(nntp(storage), name), storage


def _unsorted(groups: list) -> list:
    """``groups`` (``GroupInfo``) shuffled so that neither all of them nor those open to posts come out sorted by
    name: a client that forgets to sort is then caught on every run, not on five in six."""
    while True:
        shuffled = random.sample(groups, len(groups))
        names = [group.name for group in shuffled]
        posting = [group.name for group in shuffled if group.posting]
        if names != sorted(names) and (len(posting) < 2 or posting != sorted(posting)):
            return shuffled


# --- 9.1 listing the groups -------------------------------------------------------------------------------------

def _groups_hint(expected: list, got, names: dict) -> str:
    """Why the list of groups differs, from what came back (``names``: every group's name -> its flag)."""
    if not isinstance(got, list):
        return ""
    if not got:
        return "no group was kept: each group's flag is the text 'y' or 'n'"
    if not all(isinstance(name, str) for name in got):
        return "return the groups' names only (the first item of each tuple), as text"
    if sorted(got) == expected and got != expected:
        return "the names are right but not in order: return them sorted"
    read_only = sorted(name for name in got if names.get(name) == "n")
    if read_only:
        return f"{', '.join(read_only)} cannot be posted to: its flag is 'n'; keep only the names flagged 'y'"
    if set(got) < set(expected):
        return "some groups that accept posts are missing: keep every name whose flag is 'y'"
    return ""


def check_posting_groups(posting_groups) -> None:
    """Exercise 9.1: ``posting_groups(reactor, host, port)`` fires with the sorted names of the groups that
    accept posts (LIST's fourth field is ``y``). The server holds the practice groups and two more with random
    names, one open to posts and one read-only."""
    from servers.news.practice import ANNOUNCE, SANDBOX, TWISTED
    from servers.news.storage import Group

    with Check("your client lists the groups that accept posts",
               start="connect, then fetchGroups(): each group is (name, high, low, flag)") as check:
        open_word, closed_word = random.sample(WORDS, 2)
        extra = [Group(f"practice.{open_word}", posting=True), Group(f"practice.{closed_word}", posting=False)]
        served, _ = _practice(check, "check-posting-groups", extra)
        outcome = Outcome(posting_groups, HOST, served.port, timeout=limits.LEARNER_CALL)
        check.show(served.transcript)
        got = outcome.value if outcome.ok else outcome.described()
        expected = sorted([SANDBOX, TWISTED, f"practice.{open_word}"])
        names = {SANDBOX: "y", TWISTED: "y", ANNOUNCE: "n", f"practice.{open_word}": "y",
                 f"practice.{closed_word}": "n"}
        check.expect("posting_groups(reactor, host, port)", expected, got, hint=_groups_hint(expected, got, names))
        _said_quit(check, served)
        server_health(check, served)


def _said_quit(check, served) -> None:
    """Record that the client ended its session with QUIT, as NNTP asks (the server then frees it at once). The
    server's close says the QUIT arrived: one sent without waiting for its answer may still be on its way."""
    wait_until(lambda: served.open_connections == 0)
    commands = [line.split(b" ", 1)[0].upper() for line in _client_lines(served.transcript)]
    check.expect("the session ended with QUIT", b"QUIT", commands[-1] if commands else Shown("nothing sent"),
                 hint="the client left without QUIT: end the session with client.quit()")


# --- 9.2 the overview of a group --------------------------------------------------------------------------------

def _subjects_hint(expected: list, got, count: int) -> str:
    """Why the subjects differ, from the numbers that came back."""
    if not isinstance(got, list) or not got or not all(isinstance(row, tuple) and row for row in got):
        return ""
    numbers, wanted = [row[0] for row in got], [row[0] for row in expected]
    if numbers == wanted and [row[1] for row in got] != [row[1] for row in expected]:
        return "the numbers are right, the subjects not: each row's 'Subject' field"
    if numbers and numbers[0] == 1 and wanted[0] != 1:
        return f"these are the first numbers of the group; the last {count} numbers end at the group's high"
    if numbers and numbers[-1] == wanted[-1] and numbers[0] != wanted[0]:
        return (f"the range starts at {numbers[0]}, not {wanted[0]}: the last {count} numbers of a group whose "
                f"high is 16 are {17 - count} to 16")
    if numbers == sorted(numbers, reverse=True) and sorted(numbers) == wanted:
        return "oldest first: the rows in the order OVER gives them"
    return ""


def check_latest_subjects(latest_subjects) -> None:
    """Exercise 9.2: ``latest_subjects(reactor, host, port, group, count)`` fires with ``[(number, subject)]``
    for the articles among the last ``count`` numbers of the group, oldest first, asked for with one OVER
    command (a missing number is simply not listed). ``count`` is chosen at random."""
    from servers.news.practice import MISSING, TWISTED

    with Check("your client reads the last subjects of a group with one OVER",
               start="GROUP tells the group's low and high numbers (fetchGroup); fetchOverview takes a range "
                     "'first-last'") as check:
        served, _ = _practice(check, "check-latest-subjects")
        count = random.randint(8, 12)  # the range holds the missing article 9
        ten = Outcome(latest_subjects, HOST, served.port, TWISTED, count, timeout=limits.LEARNER_CALL)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        commands = [line.split(b" ", 1)[0].upper() for line in _client_lines(served.transcript)]
        expected = [(n, f"Twisted tip {n}") for n in range(17 - count, 17) if n != MISSING]
        got = ten.value if ten.ok else ten.described()
        check.expect("latest_subjects(reactor, host, port, 'practice.twisted', count) for 8 to 12", expected, got,
                     sent=f"count={count}",
                     hint=_subjects_hint(expected, got, count))
        per_article = sum(command in (b"HEAD", b"ARTICLE", b"STAT") for command in commands)
        check.expect("the commands sent", Shown("one OVER (or XOVER), no HEAD or ARTICLE"),
                     Shown(", ".join(c.decode("ascii", "replace") for c in commands)),
                     ok=commands.count(b"OVER") + commands.count(b"XOVER") == 1 and not per_article,
                     hint="one OVER answers for the whole range: ask for the range, not article by article"
                     if per_article else "")
        small = random.randint(2, 4)
        three = Outcome(latest_subjects, HOST, served.port, TWISTED, small, timeout=limits.LEARNER_CALL)
        check.expect("the last 2 to 4", [(n, f"Twisted tip {n}") for n in range(17 - small, 17)],
                     three.value if three.ok else three.described(), sent=f"count={small}")
        _said_quit(check, served)
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
    from email import policy
    from email.parser import BytesParser

    from servers.news.practice import MISSING, TIPS, TWISTED

    with Check("your follow-ups are stored, and thread under the article they answer",
               start="parse the original with email.message_from_bytes, build an EmailMessage with its headers, "
                     "return its bytes") as check:
        served, _ = _practice(check, "check-make-reply")
        number = random.choice([n for n in range(1, len(TIPS) + 1) if n != MISSING])
        original_id, subject = f"<twisted-{number}@practice.invalid>", f"Re: Twisted tip {number}"
        text = f"I agree about the {random.choice(WORDS)}.\n"
        with newsreader(served.port) as reader:
            first = b"\r\n".join(reader.article(original_id)[1].lines) + b"\r\n"
            reply = call_learner(make_reply, first, text, timeout=limits.QUICK, blocking=True)
            check.expect("what make_reply returns", Shown("bytes"), Shown(type(reply).__name__),
                         ok=isinstance(reply, bytes), hint=f"make_reply returned {type(reply).__name__}: the server "
                                                           "takes the article's bytes (bytes(reply))")
            if not isinstance(reply, bytes):
                return
            parsed = BytesParser(policy=policy.default).parsebytes(reply)
            reply_id = parsed.get("Message-ID", "")
            posted = ask(reader, "post", reply)
            check.expect("POST of the reply", Shown("240 article received"), short(posted, 90),
                         ok=isinstance(posted, str) and posted.startswith("240"), hint=_why_refused(posted))
            check.expect("the reply's headers", (subject, TWISTED, original_id),
                         tuple(None if parsed.get(name) is None else str(parsed.get(name))
                               for name in ("Subject", "Newsgroups", "References")),
                         hint="" if parsed.get("References") else
                         "the reply has no References: it holds the Message-IDs of the thread, the original's "
                         "References, then its own Message-ID")
            check.expect("From, Date and Message-ID are well formed (RFC 5536)", (True, True, True),
                         (bool(parseaddr(str(parsed.get("From", "")))[1].count("@") == 1),
                          _is_date(parsed.get("Date")), bool(MESSAGE_ID.fullmatch(str(parsed.get("Message-ID", ""))))),
                         hint="an article needs From (a mailbox, name@domain), Date (formatdate()) and a Message-ID "
                              "<left@domain> (make_msgid with a domain)")
            body = parsed.get_body(("plain",))
            check.expect("the reply's text", text, body.get_content() if body is not None else "(no text part)",
                         hint="the reply's body is the text make_reply was given")
            stored = ask(reader, "article", reply_id) if reply_id else Shown("no Message-ID")
            second_source = (b"\r\n".join(stored[1].lines) + b"\r\n") if isinstance(stored, tuple) else b""
            if not second_source:
                check.expect("the reply, read back by its Message-ID", Shown("the article"), stored)
                return
            deeper = BytesParser(policy=policy.default).parsebytes(call_learner(make_reply, second_source, "Me too.\n",
                                                           timeout=limits.QUICK, blocking=True))
            references = " ".join(str(deeper.get("References", "")).split())
            check.expect("a reply to the reply", (subject, f"{original_id} {reply_id}"),
                         (str(deeper.get("Subject")), references),
                         hint="answering 'Re: X' gives 'Re: X' again, not 'Re: Re: X'"
                         if str(deeper.get("Subject", "")).startswith("Re: Re:") else
                         "References lists the thread oldest first: the original's References, then its Message-ID"
                         if references == f"{reply_id} {original_id}" else "")
            check.expect("its Message-ID is new", Shown("a new one"), Shown(str(deeper.get("Message-ID"))),
                         ok=deeper.get("Message-ID") not in (None, reply_id, original_id),
                         hint="every article needs its own Message-ID: make_msgid(), never the original's")
        server_health(check, served)


MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


def _is_date(value) -> bool:
    try:
        return value is not None and parsedate_to_datetime(str(value)) is not None
    except (TypeError, ValueError):
        return False


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
            b"HDR Subject 15-\r\n", b"HDR Subject 40-50\r\n", b"QUIT\r\n")
HDR_ANSWERS = [b"200", b"412", b"211", b"225", b"8 Twisted tip 8", b"10 Twisted tip 10", b".", b"225",
               b"1 Twisted tip 1", b".", b"225", b"15 Twisted tip 15", b"16 Twisted tip 16", b".", b"423", b"205"]


def check_header_command(server_class) -> None:
    """Exercise 9.4: ``server_class`` (an ``NNTPServer`` subclass) answers ``HDR field [range]`` (RFC 3977,
    8.5): 225 and one ``number value`` line per article that exists in the range (the current article without
    one), 412 without a group, 423 for a range with no article."""
    from servers.news.practice import practice_groups
    from servers.news.server import NNTPFactory
    from servers.news.storage import MemoryStorage

    with Check("your server answers HDR with one line per article, and the right codes",
               start="in do_HDR: self.selected_group() names the group; the storage's numbers(name) and "
                     "article(name, number) return Deferreds") as check:
        factory = NNTPFactory(MemoryStorage(practice_groups()))
        factory.protocol = server_class
        served = check.serve(factory, "check-hdr")
        answer = converse(served.port, *HDR_TALK, settle=limits.REPLY)  # ended by the close after QUIT
        check.show(served.transcript)
        if unwritten(check, served):
            return
        lines = [line for line in answer.split(b"\r\n") if line]
        got = [line[:3] if line[:3].isdigit() and line[3:4] == b" " else line for line in lines]
        check.expect("the answers (codes, and the header lines)", HDR_ANSWERS, got,
                     hint=_hdr_hint(got, served.log.text, answer))
        server_health(check, served)


def _hdr_hint(got, log: str, answer: bytes) -> str:
    """Why the answers to HDR_TALK differ, from the answers and the server's log."""
    error = logged_error(log)
    if error and error != "NotImplementedError":
        return f"the server logged {error}: its traceback (server.log) names the line"
    if any(line.startswith(b"9 ") for line in got) or b"423 no article 9 " in answer:
        return "article 9 is missing: list only the numbers the storage has (storage.numbers(name))"
    if got[1:2] == [b"500"]:
        return "name the method do_HDR, so the server finds it"
    if got[1:2] != [b"412"]:
        return "without a group, self.selected_group() raises the 412 answer for you: call it first"
    if b"10 Twisted tip 10" not in got and b"8 Twisted tip 8" in got:
        return "HDR Subject 8-10 includes both ends: article 10 is missing from the answer"
    if b"423" not in got:
        return "a range with no article (40-50) gets 423, not an empty 225"
    if b"16 Twisted tip 16" not in got and b"15 Twisted tip 15" in got:
        return "HDR Subject 15- runs to the group's last article: an open range ends at the highest number"
    if b"1 Twisted tip 1" not in got:
        return "without a range, HDR answers for the current article (the one GROUP selected, number 1)"
    return ""


# --- 9.5 the gateway's cache ------------------------------------------------------------------------------------

NEVER_FIRED = Shown("no answer: the Deferred never fired")


def _ending(outcome) -> Shown:
    """How a call for a feed that cannot be fetched ended: an error (right), a value, or never."""
    if outcome.ok:
        return outcome.shown()
    return NEVER_FIRED if outcome.error == "it did not finish within the time limit" else Shown("an error")

def _hits(site, path: str) -> int:
    """The feed site's count of requests to ``path``, read in the reactor thread: while the reactor is held up the
    read waits, so :func:`labkit.checks.settled` never takes that time for quiet."""
    from labkit.bridge import run_in_reactor

    return run_in_reactor(lambda: site.hits[path], timeout=limits.CATCH_UP)


def check_feed_cache(cache_class) -> None:
    """Exercise 9.5: ``cache_class(url, max_age)`` has ``get(reactor)``, a Deferred of the feed's body: fetched
    with treq when there is no copy younger than ``max_age`` seconds, one fetch shared by every caller that
    asks while it is under way, and a failed fetch reported to its callers and not kept."""
    from twisted.internet import defer

    from servers.news import feeds
    from servers.news.feedsite import rss

    with Check("your feed cache fetches once for many callers, and again when its copy is old",
               start="keep the body and reactor.seconds() of the last fetch; a Deferred per caller") as check:
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
        requests = settled(lambda: _hits(site, "/rss/twisted"))  # fetches still on their way when the first ended
        check.expect("requests the feed server got for them", 1, requests,
                     hint="callers that ask while the fetch is under way must wait for that fetch: keep their "
                          "Deferreds in a list and fire each when it ends" if requests > 1 else "")
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
        ended = [_ending(first), _ending(second)]
        check.expect("a feed that answers 404, asked twice", (Shown("an error"), Shown("an error"), 2),
                     (*ended, site.hits["/rss/nothing-here"]),
                     hint="the callers' Deferreds never fired: a failed fetch must fail each of them (errback)"
                     if NEVER_FIRED in ended else
                     "when the answer is not 200, fail the callers' Deferreds (raise) and keep no copy, so the next "
                     "call tries again")
        server_health(check, served)
