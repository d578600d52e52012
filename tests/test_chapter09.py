"""Chapter 9's checks: a right answer passes, the untouched stub fails with "not written yet", and each typical
mistake fails with the hint that names it. Every check drives a real news server (see labkit.chapters.ch09)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from twisted.internet import defer

from labkit.chapters import ch09
from servers.news.client import NNTPError, connect
from servers.news.server import Answer, NNTPServer
from tests.failing import fails


def stub(*args):
    raise NotImplementedError()


# --- 9.1 ---------------------------------------------------------------------------------------------------------

async def posting_groups(reactor, host, port):
    client = await connect(reactor, host, port)
    groups = await client.fetchGroups()
    await client.quit()
    return sorted(name for name, high, low, flag in groups if flag == "y")


async def all_groups(reactor, host, port):
    client = await connect(reactor, host, port)
    groups = await client.fetchGroups()
    await client.quit()
    return sorted(name for name, *_ in groups)


def test_posting_groups():
    ch09.check_posting_groups(posting_groups)
    assert "not written yet" in fails(ch09.check_posting_groups, stub)
    assert "practice.announce is read-only" in fails(ch09.check_posting_groups, all_groups)


# --- 9.2 ---------------------------------------------------------------------------------------------------------

def subjects_reader(first_numbers=False, per_article=False):
    async def latest_subjects(reactor, host, port, group, count):
        client = await connect(reactor, host, port)
        _, low, high, _ = await client.fetchGroup(group)
        first = low if first_numbers else max(low, high - count + 1)
        last = min(high, first + count - 1)
        if not per_article:
            rows = await client.fetchOverview(f"{first}-{last}")
            found = [(row["number"], row["Subject"]) for row in rows]
        else:
            found = []
            for number in range(first, last + 1):
                try:
                    head = await client.fetchHead(number)
                except NNTPError:
                    continue
                found.append((number, message_from_bytes(head)["Subject"]))
        await client.quit()
        return found
    return latest_subjects


def test_latest_subjects():
    ch09.check_latest_subjects(subjects_reader())
    assert "not written yet" in fails(ch09.check_latest_subjects, stub)
    assert "one OVER answers for the whole range" in fails(ch09.check_latest_subjects,
                                                            subjects_reader(per_article=True))
    assert "the range f'{high - count + 1}-{high}'" in fails(ch09.check_latest_subjects,
                                                              subjects_reader(first_numbers=True))


# --- 9.3 ---------------------------------------------------------------------------------------------------------

def reply_maker(references=True, strip_re=True, new_id=True):
    def make_reply(original, text):
        source = message_from_bytes(original)
        subject = source["Subject"]
        if strip_re and subject.startswith("Re: "):
            subject = subject[4:]
        reply = EmailMessage()
        reply["From"] = "Learner <learner@practice.invalid>"
        reply["Newsgroups"] = source["Newsgroups"]
        reply["Subject"] = "Re: " + subject
        if references:
            reply["References"] = " ".join(filter(None, [source["References"], source["Message-ID"]]))
        reply["Message-ID"] = make_msgid(domain="practice.invalid") if new_id else source["Message-ID"]
        reply["Date"] = formatdate()
        reply.set_content(text)
        return bytes(reply)
    return make_reply


def test_make_reply():
    ch09.check_make_reply(reply_maker())
    assert "not written yet" in fails(ch09.check_make_reply, stub)
    assert "References holds the Message-IDs" in fails(ch09.check_make_reply, reply_maker(references=False))
    assert "not 'Re: Re: X'" in fails(ch09.check_make_reply, reply_maker(strip_re=False))
    assert "give the reply a new one" in fails(ch09.check_make_reply, reply_maker(new_id=False))
    assert "return bytes(reply)" in fails(ch09.check_make_reply, lambda *args: str(reply_maker()(*args)))


# --- 9.4 ---------------------------------------------------------------------------------------------------------

def header_server(every_number=False):
    class HeaderServer(NNTPServer):
        @defer.inlineCallbacks
        def do_HDR(self, field, span=None):
            name = self.selected_group()
            numbers = yield self.factory.storage.numbers(name)
            if span is None:
                wanted = [self.current] if self.current is not None else []
            else:
                low, high = self.article_range(span, numbers[-1] if numbers else 0)
                wanted = list(range(low, high + 1)) if every_number else [n for n in numbers if low <= n <= high]
            if not wanted:
                raise Answer(423, "no articles in that range")
            lines = []
            for number in wanted:
                try:
                    article = yield self.factory.storage.article(name, number)
                except Exception:
                    lines.append(f"{number} ".encode())
                    continue
                lines.append(f"{number} {article.header(field)}".encode())
            self.reply(225, "headers follow", lines)
    return HeaderServer


class StubServer(NNTPServer):
    def do_HDR(self, field, span=None):
        raise NotImplementedError()


def test_header_command():
    ch09.check_header_command(header_server())
    assert "not written yet" in fails(ch09.check_header_command, StubServer)
    assert "article 9 is missing" in fails(ch09.check_header_command, header_server(every_number=True))
    assert "name the method do_HDR" in fails(ch09.check_header_command, NNTPServer)


# --- 9.5 ---------------------------------------------------------------------------------------------------------

def feed_cache(share=True, refresh=True, keep_failures=False):
    import treq
    from twisted.python.failure import Failure

    class FeedCache:
        def __init__(self, url, max_age):
            self.url, self.max_age = url, max_age
            self.body, self.fetched_at, self.waiting = None, None, []
            self.failure = None

        def get(self, reactor):
            fresh = self.fetched_at is not None and (not refresh or reactor.seconds() - self.fetched_at
                                                     < self.max_age)
            if keep_failures and self.failure is not None:
                return defer.fail(self.failure)
            if fresh:
                return defer.succeed(self.body)
            answer = defer.Deferred()
            self.waiting.append(answer)
            if len(self.waiting) == 1 or not share:
                treq.get(self.url).addCallback(self.read).addBoth(self.done, reactor)
            return answer

        def read(self, response):
            if response.code != 200:
                raise ValueError(f"{self.url} answered {response.code}")
            return treq.content(response)

        def done(self, result, reactor):
            waiting, self.waiting = self.waiting, []
            if isinstance(result, Failure):
                self.failure = result
            else:
                self.body, self.fetched_at = result, reactor.seconds()
            for answer in waiting:
                answer.errback(result) if isinstance(result, Failure) else answer.callback(result)

    return FeedCache


class StubCache:
    def __init__(self, url, max_age):
        pass

    def get(self, reactor):
        raise NotImplementedError()


def test_feed_cache():
    ch09.check_feed_cache(feed_cache())
    assert "not written yet" in fails(ch09.check_feed_cache, StubCache)
    assert "keep their Deferreds in a list" in fails(ch09.check_feed_cache, feed_cache(share=False))
    assert "a copy as old as max_age or older is stale" in fails(ch09.check_feed_cache, feed_cache(refresh=False))
    assert "keep no copy, so the next call tries again" in fails(ch09.check_feed_cache,
                                                                 feed_cache(keep_failures=True))
