"""``/news`` and ``/plain``: conditional GET on the practice web site.

Promises: :class:`NewsPage` sends the current :class:`NewsItem` with ``ETag`` and ``Last-Modified`` and answers 304
(no body) when the client's copy is current, as :mod:`servers.web.conditional` decides: ``If-None-Match`` when
present (a list of tags, weak or strong, or ``*``, compared weakly), else ``If-Modified-Since``. ``bump()``
publishes a new item, one minute later. :func:`none_match` (the wiki's too) is
:func:`servers.web.conditional.none_match`. :data:`PLAIN_HTML` is ``/plain``, a page sent without validators.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from twisted.web.http import datetimeToString

from servers.web.conditional import client_copy_is_current, none_match, not_modified
from servers.web.pages import HTML_TYPE, PracticePage, html_document

__all__ = ["NEWS_START", "NEWS_TEXT", "NewsItem", "NewsPage", "PLAIN_HTML", "none_match"]

NEWS_START = datetime(2005, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
NEWS_TEXT = "The practice web site is open. Fetch this page twice and see what changes."

PLAIN_HTML = html_document("Plain", "<h1>Plain</h1>\n<p>This page is sent without ETag or Last-Modified, "
                           "so a client cannot ask whether it changed: it gets the whole page every time.</p>")


@dataclass(frozen=True)
class NewsItem:
    """One version of ``/news``."""

    version: int
    text: str
    modified: datetime

    @property
    def etag(self) -> str:
        return f'"news-{self.version}"'

    @property
    def last_modified(self) -> str:
        """The HTTP date of ``modified``, as sent in Last-Modified."""
        return datetimeToString(self.timestamp).decode("ascii")

    @property
    def timestamp(self) -> int:
        return int(self.modified.timestamp())

    def html(self) -> bytes:
        return html_document("News", f"<h1>News</h1>\n<p>Item {self.version}, {html.escape(self.last_modified)}:"
                             f"</p>\n<p>{html.escape(self.text)}</p>")


class NewsPage(PracticePage):
    """The current news item, with validators, and 304 when the client's copy is current."""

    def __init__(self, text: str = NEWS_TEXT, start: datetime = NEWS_START):
        super().__init__()
        self.item = NewsItem(1, text, start)
        self._lock = threading.Lock()

    def bump(self, text: str | None = None) -> NewsItem:
        with self._lock:
            version = self.item.version + 1
            self.item = NewsItem(version, text if text is not None else f"News item number {version}.",
                                 self.item.modified + timedelta(minutes=1))
            return self.item

    def render_GET(self, request):
        item = self.item
        if client_copy_is_current(request, item.modified, item.etag):
            return not_modified(request)
        request.setHeader(b"content-type", HTML_TYPE)
        return item.html()
