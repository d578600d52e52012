"""The practice web site itself: the resource tree of every fixture, its request log, and the ``Site`` it runs in.

Promises: :func:`site` builds a :class:`PracticeSite` (the catalogue's ``web``). Every request that reaches the
tree is logged (``site.requests``, a bounded :class:`~servers.web.records.RequestLog`), and so is every request
the channel of ``make_site()`` refuses before it reaches the tree (with the code it was sent). ``make_site()`` is the
``Site`` to serve it with: it leaves multipart bodies to ``/check``, caps every request body at
:data:`~servers.web.bodies.MAX_BODY` bytes, answers requests it cannot read with a page that says why
(:mod:`~servers.web.channel`), and writes no access log line (the request log is the record).
"""

from __future__ import annotations

import html

from twisted.web import util
from twisted.web.resource import Resource
from zope.interface import implementer

from servers.interfaces import IMakesSite
from servers.web.auth import PASSWORD, USERNAME, private_area
from servers.web.bodies import BoundedRequest
from servers.web.channel import PipelineBoundChannel
from servers.web.conditional import FIXTURES_MODIFIED, client_copy_is_current, not_modified
from servers.web.news import NEWS_TEXT, PLAIN_HTML, NewsItem, NewsPage
from servers.web.pages import (BIG_SIZE, HTML_TYPE, TEXT_TYPE, ErrorPage, FixedPage, Folder, NotFoundPage,
                               PracticePage, StreamedPage, html_document, text_body)
from servers.web.records import MAX_LOG_BYTES, MAX_LOG_RECORDS, RequestLog, RequestRecord
from servers.web.slow import SLOW_CHUNKS, SLOW_DURATION, SLOW_SIZE, NeverPage, SlowPage
from servers.web.upload import CheckPage, UploadReport

__all__ = ["HELLO_HTML", "IndexPage", "PracticeSite", "site"]

HELLO_HTML = html_document("Hello", "<h1>Hello</h1>\n<p>Hello from the practice web site.</p>")


class IndexPage(PracticePage):
    """The index: a link to every fixture."""

    LINKS = [("/hello", "a small HTML page"), ("/nowhere", "a page that does not exist (404)"),
             ("/error", "a server error (500)"), ("/big", "1,000,000 bytes of text"),
             ("/private", f"HTTP Basic authentication (user {USERNAME}, password {PASSWORD})"),
             ("/news", "a page with ETag and Last-Modified (conditional GET)"),
             ("/plain", "a page without ETag or Last-Modified"), ("/check", "an upload form and checker"),
             ("/slow/sized", "a slow download with Content-Length"),
             ("/slow/chunked", "a slow download without Content-Length (chunked)"),
             ("/redirect", "a redirect (302) to /hello"), ("/never", "a page that never answers")]

    def render_GET(self, request):
        if client_copy_is_current(request, FIXTURES_MODIFIED):
            return not_modified(request)
        request.setHeader(b"content-type", HTML_TYPE)
        # relative links ("hello", not "/hello"): they hold below a proxy's prefix too
        items = "\n".join(f'<li><a href="{path.lstrip("/")}">{path}</a>: {html.escape(text)}</li>'
                           for path, text in self.LINKS)
        return html_document("Practice web site", f"<h1>Practice web site</h1>\n<ul>\n{items}\n</ul>")


@implementer(IMakesSite)
class PracticeSite(Resource):
    """The root of the practice web site (see :mod:`servers.web` for the fixtures)."""

    def __init__(self, *, reactor=None, slow_size: int = SLOW_SIZE, slow_duration: float = SLOW_DURATION,
                 slow_chunks: int = SLOW_CHUNKS, news_text: str = NEWS_TEXT, max_requests: int = MAX_LOG_RECORDS,
                 max_log_bytes: int = MAX_LOG_BYTES):
        super().__init__()
        self.requests = RequestLog(max_requests, max_log_bytes)
        self._news = NewsPage(news_text)
        self._check = CheckPage()
        self._never = NeverPage()
        slow = Folder()
        slow.putChild(b"sized", SlowPage(True, slow_size, slow_duration, slow_chunks, reactor))
        slow.putChild(b"chunked", SlowPage(False, slow_size, slow_duration, slow_chunks, reactor))
        for name, child in [(b"", IndexPage()), (b"hello", FixedPage(HELLO_HTML)), (b"error", ErrorPage()),
                            (b"big", StreamedPage(text_body(BIG_SIZE), TEXT_TYPE)), (b"private", private_area()),
                            (b"news", self._news), (b"plain", FixedPage(PLAIN_HTML, modified=None)),
                            (b"check", self._check),
                            (b"slow", slow), (b"redirect", util.Redirect(b"hello")), (b"never", self._never)]:
            self.putChild(name, child)

    # The root sees every request first (the first path segment is looked up here), so the log is kept here.
    def getChildWithDefault(self, name, request):
        self.requests.log(request)
        return super().getChildWithDefault(name, request)

    def getChild(self, name, request):
        return NotFoundPage()

    def render(self, request):  # reached only by a request without any path segment
        return NotFoundPage().render(request)

    def make_site(self):
        """A ``twisted.web.server.Site`` serving this tree the way ``/check`` needs, with capped bodies.

        A default ``Site`` parses every multipart/form-data POST body itself before any resource sees the
        request, and answers a body it cannot parse (the book's encoder's, for one) with a bare 400 and a
        hang-up; this one leaves the body alone, so ``/check`` can say what is wrong with it. It writes no access
        log line either: ``site.requests`` holds every request already.
        """
        from twisted.web.server import Site

        made = Site(self, requestFactory=BoundedRequest, parsePOSTFormSubmission=False)
        made.protocol = PipelineBoundChannel  # a client that pipelines and never reads is held to one send buffer
        made.request_log = self.requests  # where its channels log the requests they refuse
        made.displayTracebacks = False
        made.log = _no_access_line
        return made

    # --- for notebooks and checks ---

    def requests_to(self, path: str | bytes) -> list[RequestRecord]:
        """The logged requests whose path (without query) is ``path``, oldest first."""
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        return [record for record in self.requests if record.path == path]

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.requests.clear()

    @property
    def news(self) -> NewsItem:
        """The current ``/news`` item (version, text, ETag, Last-Modified)."""
        return self._news.item

    def bump_news(self, text: str | None = None) -> NewsItem:
        """Publish a new ``/news`` item: new ETag, Last-Modified one minute later. Returns it."""
        return self._news.bump(text)

    @property
    def uploads(self) -> list[UploadReport]:
        """The reports of the latest POSTs to ``/check`` (at most ``KEPT_REPORTS``), oldest first."""
        return list(self._check.reports)

    @property
    def waiting_forever(self) -> int:
        """How many requests to ``/never`` are waiting (their clients are still connected)."""
        return len(self._never.waiting)


def _no_access_line(request) -> None:
    """Twisted's Site formats an access log line per request (about a quarter of the time a small page takes)
    for a log nobody reads here: ``python -m servers`` starts no log observer and a kernel files it as chatter."""


def site(**options) -> PracticeSite:
    """Build the practice web site; ``options`` are those of :class:`PracticeSite`."""
    return PracticeSite(**options)
