"""The ``feeds`` practice server: RSS 2.0 and Atom feeds whose items a notebook adds and edits, and which counts
every request, so a gateway that fetches on every request instead of on a schedule shows itself.

``GET /rss/NAME``, ``GET /atom/NAME``
    the feed ``NAME`` (``twisted`` and ``python`` at first) as RSS 2.0 or Atom 1.0; an unknown name is 404.
``GET /broken.xml``
    a 200 answer that is no feed at all (half an XML document).
``GET /silent.xml``
    an answer that never comes: the request stays open until the client gives up (the server's idle limit
    closes it in the end).
``GET /hits``
    the request counts as ``text/plain`` lines ``PATH COUNT`` (this page is not counted).

Promises: :meth:`FeedSite.add_item` and :meth:`FeedSite.edit_item` change a feed at once (call them from any
thread: they take a lock); item dates are fixed, so the feeds are the same on every run; :attr:`FeedSite.hits`
counts requests per path, bounded to :data:`MAX_PATHS` paths; a silent request leaves nothing behind once its
connection is gone.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from twisted.web import server
from twisted.web.resource import Resource

from servers.rpc.bounded import BoundedRoot
from servers.web.pages import TEXT_TYPE, NotFoundPage

__all__ = ["FeedItem", "FeedSite", "MAX_PATHS", "atom", "rss"]

MAX_PATHS = 1000
EPOCH = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
RSS_TYPE = b"application/rss+xml; charset=utf-8"
ATOM_TYPE = b"application/atom+xml; charset=utf-8"


@dataclass(frozen=True)
class FeedItem:
    guid: str
    title: str
    link: str
    summary: str
    published: datetime


STARTING_ITEMS = {
    "twisted": ["Deferreds explained", "Writing a LineReceiver", "Testing with MemoryReactor"],
    "python": ["What is new in the standard library", "Typing a protocol class"],
}


class FeedSite(BoundedRoot):
    """The feeds, their items in order (oldest first), and the hit counter."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.items: dict[str, list[FeedItem]] = {name: [] for name in STARTING_ITEMS}
        self.added = 0
        for name, titles in STARTING_ITEMS.items():
            for title in titles:
                self.add_item(name, title, f"A short article: {title.lower()}.")

    # --- what a notebook changes -------------------------------------------------------------------------

    def add_item(self, feed: str, title: str, summary: str) -> str:
        """Add an item to ``feed`` (a new feed if needed); returns its guid."""
        with self.lock:
            self.added += 1
            guid = f"tag:feeds.practice.invalid,2025:{feed}/{self.added}"
            item = FeedItem(guid, title, f"http://feeds.practice.invalid/{feed}/{self.added}", summary,
                            EPOCH + timedelta(hours=self.added))
            self.items.setdefault(feed, []).append(item)
            return guid

    def edit_item(self, feed: str, guid: str, **changes) -> None:
        """Change an item's ``title`` or ``summary``; KeyError names what is missing."""
        with self.lock:
            items = self.items[feed]
            index = next((i for i, item in enumerate(items) if item.guid == guid), None)
            if index is None:
                raise KeyError(f"feed {feed!r} has no item {guid!r}")
            items[index] = replace(items[index], **changes)

    # --- serving ----------------------------------------------------------------------------------------

    def getChild(self, name, request):
        path = request.path.decode("utf-8", "replace")
        if path != "/hits":
            with self.lock:
                if path in self.hits or len(self.hits) < MAX_PATHS:
                    self.hits[path] += 1
        return _Answer(self, path)


class _Answer(Resource):
    isLeaf = True

    def __init__(self, site: FeedSite, path: str):
        super().__init__()
        self.site, self.path = site, path

    def render_GET(self, request):
        kind, _, name = self.path.strip("/").partition("/")
        if self.path == "/hits":
            request.setHeader(b"content-type", TEXT_TYPE)
            with self.site.lock:
                return "".join(f"{path} {count}\n" for path, count in sorted(self.site.hits.items())).encode()
        if self.path == "/broken.xml":
            request.setHeader(b"content-type", RSS_TYPE)
            return b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Half a feed</title><item><ti'
        if self.path == "/silent.xml":
            return server.NOT_DONE_YET  # never finished; the connection's end releases the request
        with self.site.lock:
            items = list(self.site.items.get(name, ()))
            known = name in self.site.items
        if kind not in ("rss", "atom") or not known:
            return NotFoundPage().render(request)
        request.setHeader(b"content-type", RSS_TYPE if kind == "rss" else ATOM_TYPE)
        return (rss if kind == "rss" else atom)(name, items)


def rss(name: str, items: list[FeedItem]) -> bytes:
    entries = "".join(
        f"<item><title>{escape(i.title)}</title><link>{escape(i.link)}</link>"
        f"<description>{escape(i.summary)}</description><guid isPermaLink=\"false\">{escape(i.guid)}</guid>"
        f"<pubDate>{format_datetime(i.published)}</pubDate></item>\n" for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\n<title>Practice feed: {name}'
            f"</title><link>http://feeds.practice.invalid/{name}</link><description>Items about {name}"
            f"</description>\n{entries}</channel></rss>\n").encode("utf-8")


def atom(name: str, items: list[FeedItem]) -> bytes:
    updated = max((i.published for i in items), default=EPOCH).isoformat()
    entries = "".join(
        f"<entry><title>{escape(i.title)}</title><link href=\"{escape(i.link)}\"/><id>{escape(i.guid)}</id>"
        f"<updated>{i.published.isoformat()}</updated><summary>{escape(i.summary)}</summary></entry>\n"
        for i in items)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f"<title>Practice feed: {name}</title><id>tag:feeds.practice.invalid,2025:{name}</id>"
            f"<updated>{updated}</updated>\n{entries}</feed>\n").encode("utf-8")
