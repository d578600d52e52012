"""The wiki as a REST resource tree (the catalogue's ``wiki``): every page is a resource at its own URL.

Promises (``wiki(data=None)`` builds it; pages live in a :class:`~servers.rpc.data.WikiData`, this process only):

``GET /NAME`` (``/`` is ``/WikiHome``)
    200, the page as HTML (``text/html; charset=utf-8``), WikiWords as links, with an ``ETag``; 304 when
    ``If-None-Match`` names it (weak comparison, RFC 9110 section 13.1.2). A missing page: 404, an HTML page linking
    to its edit form.
``PUT /NAME``
    the body (UTF-8 text) becomes the page: 201 Created (with ``Location``) or 200 OK, ``text/plain``. With
    ``If-Match``, 412 unless it names the current ETag (``*``: any existing page). A body that is not UTF-8,
    a bad name or a text over the size limit: 400, nothing stored.
``DELETE /NAME``
    200 ``Deleted.``, or 404. Any other method: 405 with ``Allow``.
``GET /index``, ``GET /edit/NAME``, ``POST /save``
    the list of pages; an HTML form; the form's target (fields ``path`` and ``data``): 303 See Other to the
    page. A missing field: 400.
``/api/pages`` and ``/api/pages/NAME``
    the same pages as JSON: GET the list of names; GET ``{"name": ..., "text": ...}`` (with ETag); PUT
    ``{"text": ...}`` answers ``{"name": ..., "created": true|false}`` (201 or 200); DELETE. Errors are JSON
    ``{"error": "..."}`` with 400, 404 or 412.

Any request body over 1 MB gets 413 and a hang-up, and is not kept. Every request is appended to
``wiki.requests`` (a bounded request log, as the practice web site keeps).
"""

from __future__ import annotations

import html
import json

from twisted.web import http
from twisted.web.server import NOT_DONE_YET

from servers.rpc.bounded import BoundedRoot
from servers.rpc.data import HOME, WikiData, WikiRefused, check_name
from servers.web.news import none_match
from servers.web.pages import HTML_TYPE, TEXT_TYPE, NotFoundPage, PracticePage, html_document
from servers.web.records import RequestLog, record_of

__all__ = ["JSON_TYPE", "WikiSite", "wiki"]

JSON_TYPE = b"application/json"


def _name_of(segment: bytes) -> str:
    return segment.decode("utf-8", "replace")


def _conditional_put_refused(request, data: WikiData, name: str) -> str:
    """Why an ``If-Match`` PUT must be refused (412), or ``""`` when it may go ahead."""
    wanted = request.getHeader(b"if-match")
    if wanted is None:
        return ""
    current = data.etag(name)
    tags = [tag.strip() for tag in wanted.decode("latin-1").split(",")]
    if current is not None and ("*" in tags or current in tags):
        return ""
    return f"If-Match {wanted.decode('latin-1')} does not name the page's current version ({current or 'none'})"


def _not_modified(request, etag: str) -> bool:
    request.setHeader(b"etag", etag.encode("ascii"))
    wanted = request.getHeader(b"if-none-match")
    if wanted is None or not none_match(wanted, etag):
        return False
    request.setResponseCode(http.NOT_MODIFIED)
    return True


class WikiPage(PracticePage):
    """One page, by name: GET (HTML), PUT (text), DELETE."""

    def __init__(self, data: WikiData, name: str):
        super().__init__()
        self.data, self.name = data, name

    def render_GET(self, request):
        rendered = self.data.rendered_page(self.name)
        request.setHeader(b"content-type", HTML_TYPE)
        if rendered is None:
            request.setResponseCode(http.NOT_FOUND)
            name = html.escape(self.name)
            return html_document(f"No page {name}", f'<h1>No page {name} yet</h1>\n<p><a href="/edit/{name}">'
                                 "Write it</a>, or PUT its text to this URL.</p>")
        if _not_modified(request, self.data.etag(self.name)):
            request.finish()  # no body, and no "Content-Length: 0" (RFC 9110 section 8.6)
            return NOT_DONE_YET
        name = html.escape(self.name)
        links = f'<p><a href="/edit/{name}">Edit</a> <a href="/index">Index</a> <a href="/">Home</a></p>'
        return html_document(name, f"{links}\n<h1>{name}</h1>\n<p>{rendered}</p>")

    def render_PUT(self, request):
        request.setHeader(b"content-type", TEXT_TYPE)
        refused = _conditional_put_refused(request, self.data, self.name)
        if refused:
            request.setResponseCode(http.PRECONDITION_FAILED)
            return f"{refused}: GET the page again and redo your change.\n".encode()
        try:
            created = self.data.set_page(self.name, request.content.read().decode("utf-8"))
        except (UnicodeDecodeError, WikiRefused) as refused_text:
            request.setResponseCode(http.BAD_REQUEST)
            why = "the body is not UTF-8 text" if isinstance(refused_text, UnicodeDecodeError) else refused_text
            return f"Nothing stored: {why}.\n".encode()
        request.setHeader(b"etag", self.data.etag(self.name).encode("ascii"))
        if created:
            request.setResponseCode(http.CREATED)
            request.setHeader(b"location", b"/" + self.name.encode("utf-8"))
            return b"Created.\n"
        return b"Modified.\n"

    def render_DELETE(self, request):
        request.setHeader(b"content-type", TEXT_TYPE)
        if self.data.delete_page(self.name):
            return b"Deleted.\n"
        request.setResponseCode(http.NOT_FOUND)
        return b"No such page.\n"


class IndexPage(PracticePage):
    def __init__(self, data: WikiData):
        super().__init__()
        self.data = data

    def render_GET(self, request):
        request.setHeader(b"content-type", HTML_TYPE)
        items = "\n".join(f'<li><a href="/{html.escape(name)}">{html.escape(name)}</a></li>'
                          for name in self.data.list_pages())
        return html_document("Wiki index", f'<p><a href="/">Home</a></p>\n<h1>Index</h1>\n<ul>\n{items}\n</ul>')


class EditFolder(PracticePage):
    """``/edit/NAME``: a form to write a page, posted to ``/save``."""

    def __init__(self, data: WikiData):
        super().__init__()
        self.data = data

    def getChild(self, name, request):
        return EditPage(self.data, _name_of(name))


class EditPage(PracticePage):
    def __init__(self, data: WikiData, name: str):
        super().__init__()
        self.data, self.name = data, name

    def render_GET(self, request):
        request.setHeader(b"content-type", HTML_TYPE)
        name, text = html.escape(self.name), html.escape(self.data.get_page(self.name) or "")
        return html_document(f"Editing {name}", f"<h1>Editing {name}</h1>\n<form method=\"post\" action=\"/save\">\n"
                             f'<input type="hidden" name="path" value="{name}">\n'
                             f'<textarea name="data" rows="10" cols="60">{text}</textarea><br>\n'
                             '<input type="submit" value="Save">\n</form>')


class SavePage(PracticePage):
    """``/save``: the edit form's target; answers with a redirect to the page it saved."""

    def __init__(self, data: WikiData):
        super().__init__()
        self.data = data

    def render_GET(self, request):
        request.setHeader(b"content-type", HTML_TYPE)
        return html_document("Save", "<p>POST a form here with the fields <code>path</code> (a page name) and "
                             "<code>data</code> (its text).</p>")

    def render_POST(self, request):
        path, data = request.args.get(b"path", [None])[0], request.args.get(b"data", [None])[0]
        request.setHeader(b"content-type", TEXT_TYPE)
        if path is None or data is None:
            request.setResponseCode(http.BAD_REQUEST)
            return b"Nothing stored: send both form fields, path and data.\n"
        try:
            name = path.decode("utf-8")
            self.data.set_page(name, data.decode("utf-8"))
        except (UnicodeDecodeError, WikiRefused) as refused:
            request.setResponseCode(http.BAD_REQUEST)
            return f"Nothing stored: {refused}.\n".encode()
        request.setResponseCode(http.SEE_OTHER)
        request.setHeader(b"location", b"/" + name.encode("utf-8"))
        return b""


def _json(request, code: int, value) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", JSON_TYPE)
    return json.dumps(value).encode("utf-8") + b"\n"


class PagesJson(PracticePage):
    """``/api/pages``: the names, as JSON; ``/api/pages/NAME``: one page."""

    def __init__(self, data: WikiData):
        super().__init__()
        self.data = data

    def getChild(self, name, request):
        return PageJson(self.data, _name_of(name)) if name else self

    def render_GET(self, request):
        return _json(request, http.OK, self.data.list_pages())


class PageJson(PracticePage):
    def __init__(self, data: WikiData, name: str):
        super().__init__()
        self.data, self.name = data, name

    def render_GET(self, request):
        text = self.data.get_page(self.name)
        if text is None:
            return _json(request, http.NOT_FOUND, {"error": f"no page named {self.name!r}"})
        if _not_modified(request, self.data.etag(self.name)):
            request.finish()  # no body, and no "Content-Length: 0" (RFC 9110 section 8.6)
            return NOT_DONE_YET
        return _json(request, http.OK, {"name": self.name, "text": text})

    def render_PUT(self, request):
        refused = _conditional_put_refused(request, self.data, self.name)
        if refused:
            return _json(request, http.PRECONDITION_FAILED, {"error": refused})
        try:
            sent = json.loads(request.content.read())
            if not isinstance(sent, dict) or not isinstance(sent.get("text"), str):
                raise WikiRefused('send a JSON object with a string "text", like {"text": "Hello"}')
            created = self.data.set_page(self.name, sent["text"])
        except (ValueError, RecursionError) as problem:  # JSONDecodeError and WikiRefused are ValueErrors
            return _json(request, http.BAD_REQUEST, {"error": f"nothing stored: {problem}"})
        request.setHeader(b"etag", self.data.etag(self.name).encode("ascii"))
        return _json(request, http.CREATED if created else http.OK, {"name": self.name, "created": created})

    def render_DELETE(self, request):
        if self.data.delete_page(self.name):
            return _json(request, http.OK, {"name": self.name, "deleted": True})
        return _json(request, http.NOT_FOUND, {"error": f"no page named {self.name!r}"})


class WikiSite(BoundedRoot):
    """The root of the REST wiki (see the module's promises)."""

    def __init__(self, data: WikiData | None = None):
        super().__init__()
        self.data = data if data is not None else WikiData()
        self.requests = RequestLog()
        api = PracticePage()
        api.putChild(b"pages", PagesJson(self.data))
        for name, child in [(b"index", IndexPage(self.data)), (b"edit", EditFolder(self.data)),
                            (b"save", SavePage(self.data)), (b"api", api)]:
            self.putChild(name, child)

    def getChildWithDefault(self, name, request):
        self._log(request)
        return super().getChildWithDefault(name, request)

    def getChild(self, name, request):
        page = _name_of(name) or HOME
        try:
            check_name(page)
        except WikiRefused:
            return NotFoundPage()
        return WikiPage(self.data, page)

    def render(self, request):  # reached only by a request without any path segment
        return NotFoundPage().render(request)

    def _log(self, request) -> None:
        record = record_of(request)
        self.requests.append(record)

        def done(result, finished: bool):
            record.code, record.sent = request.code, getattr(request, "sentLength", 0)
            record.finished, record.disconnected = finished, not finished

        request.notifyFinish().addCallbacks(done, done, callbackArgs=(True,), errbackArgs=(False,))



def wiki(data: WikiData | None = None, **options) -> WikiSite:
    """Build the REST wiki over ``data`` (a new :class:`WikiData` unless given)."""
    return WikiSite(data, **options)
