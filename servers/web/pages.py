"""The page kit of the practice web site: HTML documents, the deterministic text body, and the small resources
every fixture is made of.

Promises:

* :func:`html_document` is a complete, valid HTML page; :func:`text_body` the numbered lines ``/big`` and
  ``/slow/*`` send, the same bytes on every call.
* :class:`PracticePage` has no children (any path below it is 404) and answers a method it does not take with an
  HTML 405 and ``Allow``. :class:`FixedPage` serves fixed bytes for GET and HEAD, with ``Last-Modified`` (the
  fixtures' moment unless told otherwise, or none) and 304 for a client whose copy is current
  (:mod:`~servers.web.conditional`); :class:`StreamedPage` does too, but writes them through a pull producer, so
  a client that does not read holds the server to one buffer's worth.
"""

from __future__ import annotations

import functools
import html
import io
from datetime import datetime

from twisted.protocols.basic import FileSender
from twisted.web.error import UnsupportedMethod
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from servers.web.conditional import FIXTURES_MODIFIED, client_copy_is_current, not_modified

__all__ = ["BIG_SIZE", "ErrorPage", "FixedPage", "Folder", "HTML_TYPE", "NotFoundPage", "PracticePage", "StreamedPage",
           "TEXT_TYPE", "html_document", "text_body"]

BIG_SIZE = 1_000_000
HTML_TYPE = b"text/html; charset=utf-8"
TEXT_TYPE = b"text/plain; charset=utf-8"


def html_document(title: str, body: str) -> bytes:
    """A complete, valid HTML page (``title`` and ``body`` are HTML already)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body>\n{body}\n</body>\n</html>\n").encode("utf-8")


@functools.lru_cache(maxsize=8)
def text_body(size: int = BIG_SIZE) -> bytes:
    """The deterministic text that ``/big`` and ``/slow/*`` send: numbered lines of exactly 100 bytes
    (``line 00001 of 10000: `` then letters, then a newline), cut at ``size`` bytes."""
    count = -(-size // 100)
    letters = "abcdefghijklmnopqrstuvwxyz" * 4
    lines = []
    for number in range(1, count + 1):
        head = f"line {number:05d} of {count:05d}: "
        lines.append(head + letters[number % 26:][:99 - len(head)] + "\n")
    return "".join(lines).encode("ascii")[:size]


class PracticePage(Resource):
    """A page with no children: any path below it is 404; a method it does not take gets an HTML 405."""

    def getChild(self, name, request):
        return NotFoundPage()

    def render(self, request):
        try:
            return super().render(request)
        except UnsupportedMethod as refused:
            allowed = b", ".join(refused.allowedMethods)
            request.setResponseCode(405)
            request.setHeader(b"allow", allowed)
            request.setHeader(b"content-type", HTML_TYPE)
            method = html.escape(request.method.decode("ascii", "replace"))
            return html_document("405 Method Not Allowed", "<h1>405 Method Not Allowed</h1>\n<p>This page does "
                                 f"not take {method} requests; it takes {html.escape(allowed.decode('ascii'))}.</p>")


class FixedPage(PracticePage):
    """Fixed bytes for GET (and HEAD), last modified at ``modified`` (None: a page sent without Last-Modified)."""

    def __init__(self, body: bytes, content_type: bytes = HTML_TYPE, modified: datetime | None = FIXTURES_MODIFIED):
        super().__init__()
        self.body = body
        self.content_type = content_type
        self.modified = modified

    def render_GET(self, request):
        if self.modified is not None and client_copy_is_current(request, self.modified):
            return not_modified(request)
        request.setHeader(b"content-type", self.content_type)
        return self.body


class StreamedPage(FixedPage):
    """Fixed bytes for GET (and HEAD) with Content-Length, written as the client reads them (a pull producer)."""

    def render_GET(self, request):
        if self.modified is not None and client_copy_is_current(request, self.modified):
            return not_modified(request)
        request.setHeader(b"content-type", self.content_type)
        request.setHeader(b"content-length", b"%d" % len(self.body))
        if request.method == b"HEAD":
            return b""
        sent = FileSender().beginFileTransfer(io.BytesIO(self.body), request)
        # It fails only when the client goes away first; then there is nobody left to answer.
        sent.addCallbacks(lambda _: request.finish(), lambda _: None)
        return NOT_DONE_YET


def to_root(request) -> str:
    """A relative link from the requested page to the site's root (``./``, ``../``, ...): it still leads there when
    the site is served below a prefix (a JupyterHub's ``/user/NAME/proxy/PORT/``), where ``/`` would leave it."""
    depth = request.path.split(b"?", 1)[0].count(b"/") - 1
    return "../" * depth if depth > 0 else "./"


class NotFoundPage(Resource):
    """404 with an HTML page naming the path, whatever the method."""

    isLeaf = True

    def render(self, request):
        request.setResponseCode(404)
        request.setHeader(b"content-type", HTML_TYPE)
        path = html.escape(request.path.decode("utf-8", "replace"))
        return html_document("404 Not Found", f'<h1>404 Not Found</h1>\n<p>There is no page at <code>{path}</code> '
                             f'on the practice web site. <a href="{to_root(request)}">The index</a> lists the '
                             'pages.</p>')


class Folder(PracticePage):
    """Holds pages; the folder itself, like any unknown path, is 404."""

    def render(self, request):
        return NotFoundPage().render(request)


class ErrorPage(PracticePage):
    """500 on purpose, whatever the method."""

    def render(self, request):
        request.setResponseCode(500)
        request.setHeader(b"content-type", HTML_TYPE)
        return html_document("500 Internal Server Error", "<h1>500 Internal Server Error</h1>\n<p>This page "
                             "always fails, on purpose, so clients can practise handling a server error.</p>")
