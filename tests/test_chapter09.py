"""Chapter 9's checks: a right answer passes, the untouched stub fails with "not written yet", and each typical
mistake fails with the hint that names it. Every check drives a real news server (see labkit.chapters.ch09)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from twisted.internet import defer

from labkit.chapters import ch09
from servers.news.client import NNTPError, connect
from servers.news.server import Answer, NNTPServer
from tests.test_chapter04 import fails


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

def downloader(first_numbers=False, catch=True):
    async def download_last(reactor, host, port, group, count):
        client = await connect(reactor, host, port)
        _, low, high, _ = await client.fetchGroup(group)
        start = low if first_numbers else max(low, high - count + 1)
        articles, missing = [], []
        for number in range(start, start + min(count, high - start + 1)):
            try:
                articles.append(await client.fetchArticle(number))
            except NNTPError as error:
                if error.code != 423 or not catch:
                    raise
                missing.append(number)
        await client.quit()
        return articles, missing
    return download_last


def test_download_last():
    ch09.check_download_last(downloader())
    assert "not written yet" in fails(ch09.check_download_last, stub)
    assert "catch NNTPError around each fetchArticle" in fails(ch09.check_download_last, downloader(catch=False))
    assert "range(high - count + 1" in fails(ch09.check_download_last, downloader(first_numbers=True))


# --- 9.3 ---------------------------------------------------------------------------------------------------------

def article_maker(*skip):
    def make_article(group, subject, text):
        message = EmailMessage()
        headers = {"From": "Learner <learner@practice.invalid>", "Newsgroups": group, "Subject": subject,
                   "Message-ID": make_msgid(domain="practice.invalid"), "Date": formatdate()}
        for name, value in headers.items():
            if name not in skip:
                message[name] = value
        message.set_content(text)
        return bytes(message)
    return make_article


def test_make_article():
    ch09.check_make_article(article_maker())
    assert "not written yet" in fails(ch09.check_make_article, stub)
    assert "wants a Newsgroups header" in fails(ch09.check_make_article, article_maker("Newsgroups"))
    assert "make_msgid()" in fails(ch09.check_make_article, article_maker("Message-ID"))
    assert "return bytes(message)" in fails(ch09.check_make_article, lambda *args: str(article_maker()(*args)))


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
