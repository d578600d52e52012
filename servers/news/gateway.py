"""RSS and Atom feeds as read-only newsgroups: a news storage whose Deferreds fetch a feed with treq and parse
it with feedparser, the book's example 9-5 with today's libraries.

Promises:

* :class:`FeedStorage` provides :class:`servers.news.storage.INewsStorage`; each group is one feed URL, read-only
  (POST gets 441).
* A feed is fetched when a request needs it and its copy is older than ``refresh_every`` seconds (on the
  storage's clock), never on every request; requests that arrive while it is being fetched share that fetch.
* An item keeps its article number across refreshes (numbers follow the order items were first seen); an item
  that changed is served as it is now.
* A feed that is malformed, too big (over :data:`MAX_FEED` bytes), not 200, or silent for ``timeout`` seconds:
  the group answers with the copy it had, or, when it never had one, fails with 403 and a sentence saying why.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from servers.news.storage import (Article, GroupInfo, INewsStorage, NewsError, NoSuchArticle, NoSuchGroup,
                                  PostingRefused)

__all__ = ["FeedStorage", "FeedUnavailable", "MAX_FEED", "article_from_entry"]

MAX_FEED = 1024 * 1024
_log = Logger()


class FeedUnavailable(NewsError):
    code = 403


def article_from_entry(group: str, entry) -> Article:
    """A feedparser entry as a news article (From the feed's site, Subject its title, the summary as body)."""
    guid = entry.get("id") or entry.get("link") or entry.get("title", "")
    local = "".join(c if c.isalnum() else "." for c in guid)[-60:].strip(".") or "item"
    date = entry.get("published") or entry.get("updated") or ""
    headers = (("Path", "feeds!not-for-mail"), ("From", "Feed <feed@feeds.practice.invalid>"),
               ("Newsgroups", group), ("Subject", " ".join(entry.get("title", "(no title)").split())),
               ("Date", date), ("Message-ID", f"<{local}@{group}>"), ("Content-Type", "text/plain; charset=utf-8"))
    body = [*(line.encode("utf-8") for line in entry.get("summary", "").splitlines()), b"",
            entry.get("link", "").encode("utf-8")]
    return Article(headers, tuple(body))


class _Feed:
    def __init__(self, group: str, url: str):
        self.group, self.url = group, url
        self.fetched_at = None  # clock time of the last successful fetch
        self.fetching = None  # the Deferred of a fetch under way
        self.numbers: dict[str, int] = {}  # guid -> article number, kept across refreshes
        self.articles: dict[int, Article] = {}
        self.title = ""
        self.problem = ""


@implementer(INewsStorage)
class FeedStorage:
    """Feeds (``{group name: URL}``) as newsgroups, each refreshed at most every ``refresh_every`` seconds."""

    def __init__(self, feeds: dict[str, str], reactor=None, refresh_every: float = 60.0, timeout: float = 5.0):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        self.refresh_every, self.timeout = refresh_every, timeout
        self.feeds = {group: _Feed(group, url) for group, url in feeds.items()}
        self.fetches = 0  # how many times a feed was asked for over HTTP

    # --- the cache ----------------------------------------------------------------------------------------

    def _fresh(self, group: str) -> defer.Deferred:
        """Fires with the group's feed once its copy is fresh enough (fetching it if needed)."""
        feed = self.feeds.get(group)
        if feed is None:
            return defer.fail(NoSuchGroup(f"no such newsgroup: {group}"))
        now = self.reactor.seconds()
        if feed.fetched_at is not None and now - feed.fetched_at < self.refresh_every:
            return defer.succeed(feed)
        if feed.fetching is None:
            feed.fetching = self._fetch(feed)
            feed.fetching.addBoth(self._fetched, feed)
        waiting = defer.Deferred()
        feed.fetching.addBoth(lambda _: waiting.callback(feed))
        return waiting.addCallback(self._usable)

    @staticmethod
    def _usable(feed):
        if feed.fetched_at is None:
            raise FeedUnavailable(f"the feed of {feed.group} could not be read: {feed.problem}")
        return feed

    def _fetched(self, result, feed):
        feed.fetching = None
        return result

    @defer.inlineCallbacks
    def _fetch(self, feed: _Feed):
        import feedparser
        import treq

        self.fetches += 1
        try:
            response = yield treq.get(feed.url, timeout=self.timeout, reactor=self.reactor)
            if response.code != 200:
                raise ValueError(f"{feed.url} answered {response.code}")
            body = yield _bounded_content(response)
        except Exception as exc:  # any reason the fetch failed is the feed's problem, said in a sentence
            feed.problem = _reason(exc, self.timeout)
            _log.info("feed {group} not refreshed: {why}", group=feed.group, why=feed.problem)
            return
        parsed = feedparser.parse(body)
        if parsed.bozo and not isinstance(parsed.bozo_exception, feedparser.CharacterEncodingOverride):
            feed.problem = f"{feed.url} is not a well-formed feed ({parsed.bozo_exception})"
            _log.info("feed {group} not refreshed: {why}", group=feed.group, why=feed.problem)
            return
        feed.title = parsed.feed.get("title", feed.group)
        for entry in parsed.entries:
            guid = entry.get("id") or entry.get("link") or entry.get("title", "")
            number = feed.numbers.setdefault(guid, len(feed.numbers) + 1)
            feed.articles[number] = article_from_entry(feed.group, entry)
        feed.fetched_at, feed.problem = self.reactor.seconds(), ""

    # --- INewsStorage --------------------------------------------------------------------------------------

    def groups(self):
        answers = [self.group(name).addErrback(lambda failure, name=name: self._unavailable(name, failure))
                   for name in sorted(self.feeds)]
        return defer.gatherResults(answers)

    def _unavailable(self, name, failure):
        failure.trap(FeedUnavailable)
        return GroupInfo(name, f"unavailable: {self.feeds[name].problem}", False, 1, 0, 0)

    def group(self, name):
        def info(feed):
            numbers = sorted(feed.articles)
            return GroupInfo(name, feed.title, False, numbers[0] if numbers else 1,
                             numbers[-1] if numbers else 0, len(numbers))
        return self._fresh(name).addCallback(info)

    def numbers(self, name):
        return self._fresh(name).addCallback(lambda feed: sorted(feed.articles))

    def article(self, name, number):
        def pick(feed):
            try:
                return feed.articles[number]
            except KeyError:
                raise NoSuchArticle(f"no article {number} in {name}") from None
        return self._fresh(name).addCallback(pick)

    def find(self, message_id):
        for feed in self.feeds.values():
            for number, article in feed.articles.items():
                if article.message_id == message_id:
                    return defer.succeed((feed.group, number, article))
        return defer.fail(NoSuchArticle(f"no article with Message-ID {message_id}"))

    def post(self, article):
        return defer.fail(PostingRefused("feeds are read-only newsgroups"))


@defer.inlineCallbacks
def _bounded_content(response):
    import treq

    parts, size = [], 0

    def collect(data):
        nonlocal size
        size += len(data)
        if size > MAX_FEED:
            raise ValueError(f"the feed is over {MAX_FEED} bytes")
        parts.append(data)

    yield treq.collect(response, collect)
    return b"".join(parts)


def _reason(exc: Exception, timeout: float) -> str:
    from twisted.internet.defer import CancelledError
    from twisted.web.client import ResponseNeverReceived

    if isinstance(exc, (CancelledError, ResponseNeverReceived)) or "Timeout" in type(exc).__name__:
        return f"no answer within {timeout:g} s"
    return str(exc) or type(exc).__name__
