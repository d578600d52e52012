"""Chapter 8's ``lucky`` practice search service: an "I'm feeling lucky" search over a few fixed pages, standing
in for the web search the book's mail robot used (``twisted.web.google`` is long gone, and a lab must not
depend on a search engine's answers).

Promises:

* ``GET /lucky?q=WORDS`` answers ``302 Found`` with ``Location: /pages/NAME``, the first page (in
  :data:`PAGES` order) one of whose keywords is one of the query's words (case and punctuation ignored). No
  page matches: ``404`` with a plain-text line saying so. No ``q``, or an empty one: ``400``.
* ``GET /pages/NAME`` answers ``200`` with the page (HTML, UTF-8); any other path ``404`` with an HTML page.
  The pages and the index ``/`` are fixed: they carry ``Last-Modified`` and answer a client whose copy is current
  with 304 (:mod:`servers.web.conditional`); a search's answer carries none.
* Every query is appended to ``resource.queries`` (text), so a check can see whether a robot asked; the list
  keeps the newest :data:`KEPT_QUERIES`.
"""

from __future__ import annotations

import html
import http.client
import re

from twisted.web import resource

from servers.rpc.bounded import BoundedRoot
from servers.web.conditional import FIXTURES_MODIFIED, client_copy_is_current, not_modified
from servers.web.pages import FixedPage, NotFoundPage

__all__ = ["PAGES", "LuckySearch", "lucky", "page_html", "probe"]

PAGES = {
    "twisted": ("Twisted", "An event-driven networking engine written in Python.",
                {"twisted", "reactor", "deferred", "python"}),
    "maildir": ("Maildir", "A mailbox format: one file per message, written to tmp/ and renamed into new/.",
                {"maildir", "mailbox", "mail"}),
    "smtp": ("SMTP", "The Simple Mail Transfer Protocol, RFC 5321: how mail moves between servers.",
             {"smtp", "esmtp", "relay"}),
    "imap": ("IMAP", "The Internet Message Access Protocol, RFC 9051: mail kept on the server, in folders.",
             {"imap", "folders", "uid"}),
}
"""name -> (title, one sentence, keywords)."""

KEPT_QUERIES = 1000


def page_html(name: str) -> bytes:
    """The page ``/pages/NAME`` as served."""
    title, sentence, _ = PAGES[name]
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>\n"
            f"<body><h1>{html.escape(title)}</h1><p>{html.escape(sentence)}</p></body></html>\n").encode()


def first_match(query: str) -> str | None:
    words = set(re.findall(r"\w+", query.lower()))
    return next((name for name, (_, _, keywords) in PAGES.items() if words & keywords), None)


class _Pages(resource.Resource):
    def getChild(self, path, request):
        name = path.decode("utf-8", "replace")
        return FixedPage(page_html(name)) if name in PAGES else NotFoundPage()


class _Lucky(resource.Resource):
    isLeaf = True

    def __init__(self, queries: list):
        super().__init__()
        self.queries = queries

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        query = request.args.get(b"q", [b""])[0].decode("utf-8", "replace").strip()
        if not query:
            request.setResponseCode(400)
            return b"give a query: /lucky?q=WORDS\n"
        self.queries.append(query)
        del self.queries[:-KEPT_QUERIES]
        found = first_match(query)
        if found is None:
            request.setResponseCode(404)
            return f"nothing found for {query!r}\n".encode()
        request.redirect(f"/pages/{found}".encode())
        return b""


class LuckySearch(BoundedRoot):
    """The service's root: ``/`` lists the pages, ``/lucky`` searches, ``/pages/NAME`` are the pages. Served by
    ``make_site()`` (a client that pipelines requests and never reads is held to one send buffer)."""

    def __init__(self):
        super().__init__()
        self.queries: list[str] = []
        self.putChild(b"lucky", _Lucky(self.queries))
        self.putChild(b"pages", _Pages())

    def getChild(self, path, request):
        return self if path == b"" else NotFoundPage()

    def render_GET(self, request):
        if client_copy_is_current(request, FIXTURES_MODIFIED):
            return not_modified(request)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        links = "".join(f"<li><a href='pages/{name}'>{html.escape(title)}</a></li>"
                        for name, (title, _, _) in PAGES.items())
        return (f"<!DOCTYPE html>\n<html><head><title>Lucky search</title></head><body><h1>Lucky search</h1>"
                f"<p>Try <a href='lucky?q=twisted'>lucky?q=twisted</a>.</p><ul>{links}</ul></body></html>\n"
                ).encode()


def lucky() -> LuckySearch:
    """A new search service (its own list of queries)."""
    return LuckySearch()


def probe(host: str, port: int) -> None:
    """A query that matches is redirected to its page, and the page is served."""
    from servers.probes import TIMEOUT

    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/lucky?q=Twisted+mail")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 302, f"/lucky answered {answer.status}, not 302"
        location = answer.getheader("Location", "")
        assert location.endswith("/pages/twisted"), f"/lucky redirected to {location!r}"
        connection.request("GET", "/pages/twisted")
        page = connection.getresponse()
        assert page.status == 200 and page.read() == page_html("twisted"), f"/pages/twisted answered {page.status}"
    finally:
        connection.close()
