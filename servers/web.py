"""Chapter 3's practice web site: one twisted.web resource tree with fixed fixtures, for web clients to fetch.

``site(**options)`` builds it (a :class:`PracticeSite`, registered as ``web``); ``labkit.serve("web")`` or
``python -m servers web`` puts it on a port. Pages are HTML (``text/html; charset=utf-8``) unless said otherwise.

Fixtures (fixed, so checks can rely on them):

``/``
    200: an index page linking every fixture below.
``/hello``
    200: exactly :data:`HELLO_HTML`, a small HTML page titled ``Hello``.
anything else (``/nowhere``, ``/hello/x``, ``/slow``)
    404: an HTML page titled ``404 Not Found`` that names the path, for every method.
a method a page does not take (``POST /hello``)
    405 with ``Allow`` and an HTML page titled ``405 Method Not Allowed``. Pages take GET and HEAD;
    ``/check`` takes POST too; ``/error``, ``/never`` and the 404 take anything.
``/error``
    500: an HTML page titled ``500 Internal Server Error`` (on purpose; nothing broke), for every method.
``/big``
    200 ``text/plain``, ``Content-Length: 1000000``: exactly :data:`BIG_SIZE` bytes of :func:`text_body`,
    10,000 numbered lines of 100 bytes each (``line 00001 of 10000 ...``), the same on every request.
``/private``
    HTTP Basic authentication, realm ``practice``. Without credentials, or with wrong ones: 401 with
    ``WWW-Authenticate: Basic realm="practice"`` and an HTML page titled ``401 Unauthorized``. With
    :data:`USERNAME` / :data:`PASSWORD` (``learner`` / ``twisted``): 200, :data:`PRIVATE_HTML`. These
    credentials grant nothing anywhere; they are a fixture.
``/news``
    200 with ``ETag`` and ``Last-Modified``: the current :class:`NewsItem` as a page. The first item is
    version 1, ETag ``"news-1"``, Last-Modified :data:`NEWS_START` (Wed, 01 Jun 2005 12:00:00 GMT).
    304 with no body when ``If-None-Match`` names the current ETag (or is ``*``); when the request has no
    ``If-None-Match``, 304 when ``If-Modified-Since`` is not earlier than Last-Modified. (With an
    ``If-None-Match`` present, ``If-Modified-Since`` is ignored, as HTTP says.) ``site.bump_news(text)``
    publishes a new item: version + 1, ETag ``"news-N"``, Last-Modified one minute later than before.
``/plain``
    200: an HTML page sent without ``ETag`` or ``Last-Modified``; never 304.
``/check``
    GET: an HTML upload form (a file field named ``uploaded_file``, like the W3C validator's form).
    POST ``multipart/form-data``: 200 and an HTML report titled ``Upload report``: every field's name, file
    name, content type and size in bytes, and for the uploaded file (the field ``uploaded_file``, else the
    first field with a file name) a small check of its HTML: doctype, title, unclosed and stray tags.
    A body that is not proper multipart (no Content-Type, another type, no ``boundary`` parameter, no
    ``--BOUNDARY`` delimiter lines, no closing ``--BOUNDARY--`` line, a part without a form-data name) gets
    400 and an HTML page titled ``400 Bad Request`` listing what is wrong, one ``<li>`` per problem, for
    example ``Content-Type has no boundary parameter``. :func:`check_upload` is the same check as a function.
    Every POST's :class:`UploadReport` is kept in ``site.uploads``. The 400 report needs the tree served by
    ``site.make_site()``: a default ``Site(site)`` parses multipart bodies before any resource sees them and
    answers one it cannot parse with a bare 400 and a hang-up.
``/slow/sized`` and ``/slow/chunked``
    200 ``text/plain``: the first ``slow_size`` (default 256 KiB) bytes of :func:`text_body`, written in
    ``slow_chunks`` (default 16) pieces spread evenly over ``slow_duration`` seconds (default 2): the first piece
    at once, the last one after the full duration. ``/slow/sized`` sends ``Content-Length``; ``/slow/chunked``
    sends none, so HTTP/1.1 clients get ``Transfer-Encoding: chunked`` (HTTP/1.0 ones read until the
    connection closes). ``?duration=SECONDS`` (0 to 60) overrides the duration for one request. When the
    client goes away the sending stops.
``/redirect``
    302 with ``Location: /hello``.
``/never``
    Never answers, whatever the method. A waiting request is forgotten as soon as its client disconnects
    (``site.waiting_forever`` counts the ones still waiting).

The request log: every request that reaches the site is appended to ``site.requests`` as a
:class:`RequestRecord` (method, path, query, selected request headers, body size, then response code and bytes
sent); ``site.requests_to("/news")`` filters by path, ``site.clear_requests()`` empties it. Notebook checks
read it to see what a client really sent.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import email.utils
import functools
import html
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesParser
from html.parser import HTMLParser

from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse
from twisted.cred.portal import IRealm, Portal
from twisted.web import util
from twisted.web.error import UnsupportedMethod
from twisted.web._auth.wrapper import UnauthorizedResource
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.http import CACHED, datetimeToString
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from servers.registry import practice_server

__all__ = ["BIG_SIZE", "FormField", "HELLO_HTML", "HtmlCheck", "NEWS_START", "NEWS_TEXT", "NewsItem", "PASSWORD",
           "PRIVATE_HTML", "PracticeSite", "REALM", "RequestRecord", "SLOW_CHUNKS", "SLOW_DURATION", "SLOW_SIZE",
           "USERNAME", "UploadReport", "check_html", "check_upload", "site", "text_body"]

HTML_TYPE = b"text/html; charset=utf-8"
TEXT_TYPE = b"text/plain; charset=utf-8"

USERNAME = "learner"
PASSWORD = "twisted"
REALM = "practice"

BIG_SIZE = 1_000_000
SLOW_SIZE = 256 * 1024
SLOW_DURATION = 2.0
SLOW_CHUNKS = 16
SLOW_MAX_DURATION = 60.0

NEWS_START = datetime(2005, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
NEWS_TEXT = "The practice web site is open. Fetch this page twice and see what changes."


def _page(title: str, body: str) -> bytes:
    """A complete, valid HTML page (``title`` and ``body`` are HTML already)."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body>\n{body}\n</body>\n</html>\n").encode("utf-8")


HELLO_HTML = _page("Hello", "<h1>Hello</h1>\n<p>Hello from the practice web site.</p>")
PRIVATE_HTML = _page("A Password Protected Page",
                     f"<h1>A Password Protected Page</h1>\n<p>Welcome, {USERNAME}. Your credentials worked.</p>")
PLAIN_HTML = _page("Plain", "<h1>Plain</h1>\n<p>This page is sent without ETag or Last-Modified, "
                   "so a client cannot ask whether it changed: it gets the whole page every time.</p>")


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


# --- the request log ------------------------------------------------------------------------------------------

@dataclass
class RequestRecord:
    """One request as the site saw it. ``code`` is None until the response starts; ``finished`` turns True when
    the response was sent completely; ``disconnected`` when the client went away first."""

    method: str
    path: str
    query: str
    version: str
    authorization: str | None
    if_none_match: str | None
    if_modified_since: str | None
    content_type: str | None
    user_agent: str | None
    body_size: int
    code: int | None = None
    sent: int = 0
    finished: bool = False
    disconnected: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def basic_credentials(self) -> tuple[str, str] | None:
        """The (user, password) of a ``Basic`` Authorization header, or None."""
        if not self.authorization or not self.authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(self.authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        return (user, password) if colon else None


def _record(request) -> RequestRecord:
    headers = {name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
               for name, values in request.requestHeaders.getAllRawHeaders()}
    content = getattr(request, "content", None)
    size = 0
    if content is not None:
        position = content.tell()
        size = content.seek(0, 2)
        content.seek(position)
    uri = request.uri.decode("utf-8", "replace")
    return RequestRecord(
        method=request.method.decode("ascii", "replace"),
        path=request.path.decode("utf-8", "replace"),
        query=uri.partition("?")[2],
        version=request.clientproto.decode("ascii", "replace"),
        authorization=headers.get("authorization"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"),
        content_type=headers.get("content-type"),
        user_agent=headers.get("user-agent"),
        body_size=size,
        headers=headers,
    )


# --- plain pages ----------------------------------------------------------------------------------------------

class Page(Resource):
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
            return _page("405 Method Not Allowed", f"<h1>405 Method Not Allowed</h1>\n<p>This page does not take "
                         f"{method} requests; it takes {html.escape(allowed.decode('ascii'))}.</p>")


class StaticPage(Page):
    """Fixed bytes for GET (and HEAD)."""

    def __init__(self, body: bytes, content_type: bytes = HTML_TYPE):
        super().__init__()
        self.body = body
        self.content_type = content_type

    def render_GET(self, request):
        request.setHeader(b"content-type", self.content_type)
        return self.body


class NotFoundPage(Resource):
    """404 with an HTML page naming the path, whatever the method."""

    isLeaf = True

    def render(self, request):
        request.setResponseCode(404)
        request.setHeader(b"content-type", HTML_TYPE)
        path = html.escape(request.path.decode("utf-8", "replace"))
        return _page("404 Not Found", f'<h1>404 Not Found</h1>\n<p>There is no page at <code>{path}</code> '
                     'on the practice web site. <a href="/">The index</a> lists the pages.</p>')


class Folder(Page):
    """Holds pages; the folder itself, like any unknown path, is 404."""

    def render(self, request):
        return NotFoundPage().render(request)


class ErrorPage(Page):
    """500 on purpose, whatever the method."""

    def render(self, request):
        request.setResponseCode(500)
        request.setHeader(b"content-type", HTML_TYPE)
        return _page("500 Internal Server Error", "<h1>500 Internal Server Error</h1>\n<p>This page always "
                     "fails, on purpose, so clients can practise handling a server error.</p>")


class IndexPage(Page):
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
        request.setHeader(b"content-type", HTML_TYPE)
        items = "\n".join(f'<li><a href="{path}">{path}</a>: {html.escape(text)}</li>' for path, text in self.LINKS)
        return _page("Practice web site", f"<h1>Practice web site</h1>\n<ul>\n{items}\n</ul>")


# --- /private: HTTP Basic authentication ----------------------------------------------------------------------

class ChallengePage(Resource):
    """401 with ``WWW-Authenticate: Basic realm="..."`` and an HTML page."""

    isLeaf = True

    def __init__(self, realm: str = REALM):
        super().__init__()
        self.realm = realm

    def render(self, request):
        request.setResponseCode(401)
        request.setHeader(b"content-type", HTML_TYPE)
        request.setHeader(b"www-authenticate", b'Basic realm="%s"' % self.realm.encode("ascii"))
        return _page("401 Unauthorized", "<h1>401 Unauthorized</h1>\n<p>This page needs a user name and "
                     "password, sent with HTTP Basic authentication.</p>")

    def getChildWithDefault(self, name, request):
        return self


@implementer(IRealm)
class PrivateRealm:
    """Every authenticated user gets the same private page."""

    def requestAvatar(self, avatarId, mind, *interfaces):
        if IResource in interfaces:
            return IResource, StaticPage(PRIVATE_HTML), lambda: None
        raise NotImplementedError("the practice realm only gives web resources")


class BasicGuard(HTTPAuthSessionWrapper):
    """Twisted's guard, whose refusals say ``Basic realm="practice"`` (Twisted's own say ``basic ...``) and
    come with an HTML page."""

    def __init__(self, portal: Portal, realm: str = REALM):
        super().__init__(portal, [BasicCredentialFactory(realm.encode("ascii"))])
        self._challenge = ChallengePage(realm)

    def _authorizedResource(self, request):
        return self._ours(super()._authorizedResource(request))

    def _loginFailed(self, result):
        return self._ours(super()._loginFailed(result))

    def _ours(self, resource):
        return self._challenge if isinstance(resource, UnauthorizedResource) else resource


def private_area(username: str = USERNAME, password: str = PASSWORD, realm: str = REALM) -> BasicGuard:
    """The ``/private`` resource: :data:`PRIVATE_HTML` behind HTTP Basic authentication."""
    checker = InMemoryUsernamePasswordDatabaseDontUse()
    checker.addUser(username.encode("utf-8"), password.encode("utf-8"))
    return BasicGuard(Portal(PrivateRealm(), [checker]), realm)


# --- /news and /plain: conditional GET ------------------------------------------------------------------------

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
        return _page("News", f"<h1>News</h1>\n<p>Item {self.version}, {html.escape(self.last_modified)}:</p>\n"
                     f"<p>{html.escape(self.text)}</p>")


class NewsPage(Page):
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
        request.setHeader(b"content-type", HTML_TYPE)
        has_tag_condition = request.getHeader(b"if-none-match") is not None
        cached = request.setETag(item.etag.encode("ascii"))
        if has_tag_condition:
            # If-None-Match decides alone (If-Modified-Since is ignored when it is present).
            request.setHeader(b"last-modified", item.last_modified.encode("ascii"))
        else:
            cached = request.setLastModified(item.timestamp)
        if cached is CACHED:
            request.finish()  # no body, and no misleading Content-Length: 0
            return NOT_DONE_YET
        return item.html()


# --- /check: a multipart/form-data upload checker -------------------------------------------------------------

VOID_ELEMENTS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


@dataclass
class HtmlCheck:
    """What the practice checker found in an uploaded HTML document (stricter than HTML5: every non-void element
    must be closed)."""

    doctype: str | None
    title: str | None
    unclosed: list[str]
    stray: list[str]

    @property
    def problems(self) -> list[str]:
        found = []
        if self.doctype is None:
            found.append("no <!DOCTYPE ...> declaration")
        if not self.title:
            found.append("no <title> (or an empty one)")
        found += [f"unclosed tag {tag}" for tag in self.unclosed]
        found += [f"stray end tag {tag}" for tag in self.stray]
        return found

    @property
    def valid(self) -> bool:
        return not self.problems


class _TagChecker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, int]] = []
        self.doctype: str | None = None
        self.title: str | None = None
        self.in_title = False
        self.unclosed: list[str] = []
        self.stray: list[str] = []

    def handle_decl(self, decl):
        if decl.lower().startswith("doctype") and self.doctype is None:
            self.doctype = decl

    def handle_starttag(self, tag, attrs):
        if tag in VOID_ELEMENTS:
            return
        self.open.append((tag, self.getpos()[0]))
        if tag == "title":
            self.in_title = True
            self.title = self.title or ""

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        if tag in VOID_ELEMENTS:
            return
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                self.unclosed += [f"<{name}> (line {line})" for name, line in self.open[index + 1:]]
                del self.open[index:]
                return
        self.stray.append(f"</{tag}> (line {self.getpos()[0]})")

    def handle_data(self, data):
        if self.in_title:
            self.title += data

    def finish(self) -> HtmlCheck:
        self.close()
        self.unclosed += [f"<{name}> (line {line})" for name, line in self.open]
        title = self.title.strip() if self.title is not None else None
        return HtmlCheck(self.doctype, title, self.unclosed, self.stray)


def check_html(document: bytes | str) -> HtmlCheck:
    """Check an HTML document the practice way: doctype, title, unclosed and stray tags (html.parser)."""
    if isinstance(document, bytes):
        document = document.decode("utf-8", "replace")
    checker = _TagChecker()
    checker.feed(document)
    return checker.finish()


@dataclass
class FormField:
    """One part of a multipart/form-data body."""

    name: str
    filename: str | None
    content_type: str | None
    size: int
    data: bytes = field(repr=False, default=b"")


@dataclass
class UploadReport:
    """What ``/check`` made of one upload: the fields, the checked file, and any problem with the encoding
    (``problems`` non-empty means the answer was 400)."""

    content_type: str | None
    boundary: str | None
    body_size: int
    fields: list[FormField] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: FormField | None = None
    html: HtmlCheck | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _lines(body: bytes) -> list[bytes]:
    return [line.rstrip(b"\r") for line in body.split(b"\n")]


def _show(data: bytes, limit: int = 60) -> str:
    text = data.decode("utf-8", "replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_upload(content_type: bytes | str | None, body: bytes) -> UploadReport:
    """Parse a ``multipart/form-data`` upload like ``/check`` does, with the stdlib ``email`` parser.

    Never raises: encoding mistakes are listed in the report's ``problems``, each saying exactly what is wrong.
    """
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    report = UploadReport(content_type, None, len(body))
    problems = report.problems
    if not content_type:
        problems.append("the request has no Content-Type header; a form upload needs "
                        "'Content-Type: multipart/form-data; boundary=...'")
        return report
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/form-data":
        problems.append(f"Content-Type is {content_type!r}, not multipart/form-data")
        return report
    boundary = header.get_param("boundary")
    if isinstance(boundary, tuple):  # an RFC 2231 encoded parameter
        boundary = email.utils.collapse_rfc2231_value(boundary)
    lines = _lines(body)
    first = next((line for line in lines if line.strip()), b"")
    if not boundary:
        hint = (f"; the body starts with the line {_show(first)}, but the server cannot know that it is meant "
                "as a delimiter" if first.startswith(b"-") else "")
        problems.append("Content-Type has no boundary parameter: it must say which string separates the parts, "
                        f"as in 'multipart/form-data; boundary=XYZ'{hint}")
        return report
    report.boundary = boundary
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    if not any(line.startswith(delimiter) for line in lines):
        bare = any(line.strip() == boundary.encode("latin-1", "replace") for line in lines)
        problems.append(f"the body has no delimiter line {delimiter.decode('latin-1')!r}: each part must begin with "
                        "a line of two hyphens followed by the boundary"
                        + (f" (the body has lines that are the bare boundary {boundary!r}, without the two "
                           "leading hyphens)" if bare else ""))
        return report
    if not any(line.rstrip() == delimiter + b"--" for line in lines):
        problems.append(f"the body has no closing delimiter line {(delimiter + b'--').decode('latin-1')!r} "
                        "after the last part")
        return report

    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    if message.defects or not message.is_multipart():
        problems += [f"the body could not be parsed as multipart: {type(d).__name__}" for d in message.defects]
        problems += [] if message.defects else ["the body could not be parsed as multipart"]
        return report
    parts = message.get_payload()
    if not parts:
        problems.append("the body has no parts between its delimiters")
        return report
    for number, part in enumerate(parts, 1):
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not name:
            problems.append(f"part {number} has no 'Content-Disposition: form-data; name=\"...\"' header")
            continue
        data = part.get_payload(decode=True) or b""
        report.fields.append(FormField(str(name), part.get_filename(), part.get("content-type"), len(data), data))
    if problems:
        return report
    named = [f for f in report.fields if f.name == "uploaded_file"]
    files = named or [f for f in report.fields if f.filename is not None]
    if files:
        report.checked = files[0]
        report.html = check_html(files[0].data)
    return report


def _report_page(report: UploadReport) -> bytes:
    def cell(value) -> str:
        return "<td>(none)</td>" if value is None else f"<td>{html.escape(str(value))}</td>"

    rows = "\n".join(f"<tr>{cell(f.name)}{cell(f.filename)}{cell(f.content_type)}{cell(f.size)}</tr>"
                     for f in report.fields)
    parts = [f"<h1>Upload report</h1>\n<p>Received {report.body_size} bytes in {len(report.fields)} "
             f"field(s), boundary {html.escape(repr(report.boundary))}.</p>",
             f"<table>\n<tr><th>field</th><th>file name</th><th>content type</th><th>bytes</th></tr>\n{rows}\n"
             "</table>"]
    if report.checked is None:
        parts.append('<p id="result">No file was uploaded, so nothing was checked (the form\'s file field is '
                     "called <code>uploaded_file</code>).</p>")
    else:
        checked, found = report.checked, report.html
        unclosed = ", ".join(found.unclosed) or "none"
        stray = ", ".join(found.stray) or "none"
        parts.append(
            f"<h2>Checked: {html.escape(checked.name)} ({html.escape(checked.filename or 'no file name')})</h2>\n"
            "<ul>\n"
            f"<li>doctype: {html.escape('<!' + found.doctype + '>') if found.doctype else 'missing'}</li>\n"
            f"<li>title: {html.escape(repr(found.title)) if found.title else 'missing'}</li>\n"
            f"<li>unclosed tags: {html.escape(unclosed)}</li>\n"
            f"<li>stray end tags: {html.escape(stray)}</li>\n"
            "</ul>")
        verdict = ("This document passed the practice checks." if found.valid else
                   f"This document has {len(found.problems)} problem(s): "
                   + html.escape("; ".join(found.problems)) + ".")
        parts.append(f'<p id="result">{verdict}</p>')
    return _page("Upload report", "\n".join(parts))


def _problem_page(report: UploadReport) -> bytes:
    items = "\n".join(f"<li>{html.escape(problem)}</li>" for problem in report.problems)
    return _page("400 Bad Request", "<h1>400 Bad Request</h1>\n<p>The upload is not a proper multipart/form-data "
                 f"body:</p>\n<ul>\n{items}\n</ul>")


class CheckPage(Page):
    """GET: the upload form. POST: the upload report (200) or what is wrong with the encoding (400)."""

    FORM = _page("Upload a file to check", '<h1>Upload a file to check</h1>\n<form method="post" '
                 'enctype="multipart/form-data" action="/check">\n<input type="file" name="uploaded_file">\n'
                 '<input type="submit" value="Check">\n</form>')

    def __init__(self):
        super().__init__()
        self.reports: list[UploadReport] = []

    def render_GET(self, request):
        request.setHeader(b"content-type", HTML_TYPE)
        return self.FORM

    def render_POST(self, request):
        request.content.seek(0)
        report = check_upload(request.getHeader(b"content-type"), request.content.read())
        self.reports.append(report)
        request.setHeader(b"content-type", HTML_TYPE)
        if not report.ok:
            request.setResponseCode(400)
            return _problem_page(report)
        return _report_page(report)


# --- /slow/sized and /slow/chunked ----------------------------------------------------------------------------

def _pieces(body: bytes, count: int) -> list[bytes]:
    count = max(1, min(count, len(body) or 1))
    edges = [len(body) * i // count for i in range(count + 1)]
    return [body[edges[i]:edges[i + 1]] for i in range(count)]


class _SlowSender:
    """Writes the pieces of one response, ``interval`` seconds apart, and stops if the client goes away."""

    def __init__(self, request, pieces: list[bytes], interval: float, reactor):
        self.request = request
        self.pieces = list(pieces)
        self.interval = interval
        self.reactor = reactor
        self.call = None
        request.notifyFinish().addErrback(self.stop)

    def send_next(self) -> None:
        self.call = None
        self.request.write(self.pieces.pop(0))
        if self.pieces:
            self.call = self.reactor.callLater(self.interval, self.send_next)
        else:
            self.request.finish()

    def stop(self, _reason=None) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None
        self.pieces = []


class SlowPage(Page):
    """``size`` bytes of :func:`text_body` in ``chunks`` pieces over ``duration`` seconds; with ``sized`` the
    response has Content-Length, without it has none (chunked)."""

    def __init__(self, sized: bool, size: int = SLOW_SIZE, duration: float = SLOW_DURATION,
                 chunks: int = SLOW_CHUNKS, reactor=None):
        super().__init__()
        if size < 0 or chunks < 1 or not 0 <= duration <= SLOW_MAX_DURATION:
            raise ValueError(f"need size >= 0, chunks >= 1 and 0 <= duration <= {SLOW_MAX_DURATION:g}")
        self.sized = sized
        self.size = size
        self.duration = duration
        self.chunks = chunks
        self.reactor = reactor

    def render_GET(self, request):
        duration = self.duration
        if b"duration" in request.args:
            try:
                duration = float(request.args[b"duration"][0])
            except ValueError:
                duration = -1.0
            if not 0 <= duration <= SLOW_MAX_DURATION:
                request.setResponseCode(400)
                request.setHeader(b"content-type", TEXT_TYPE)
                return b"duration must be a number of seconds from 0 to %d\n" % SLOW_MAX_DURATION
        body = text_body(self.size)
        request.setHeader(b"content-type", TEXT_TYPE)
        if self.sized:
            request.setHeader(b"content-length", b"%d" % len(body))
        if request.method == b"HEAD":
            return b""
        pieces = _pieces(body, self.chunks)
        interval = duration / (len(pieces) - 1) if len(pieces) > 1 else 0.0
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor
        sender = _SlowSender(request, pieces, interval, reactor)
        sender.send_next()
        return NOT_DONE_YET


# --- /never ---------------------------------------------------------------------------------------------------

class NeverPage(Page):
    """Never answers; a request is dropped from ``waiting`` when its client disconnects."""

    def __init__(self):
        super().__init__()
        self.waiting: set = set()

    def render(self, request):
        self.waiting.add(request)
        request.notifyFinish().addBoth(lambda _: self.waiting.discard(request))
        return NOT_DONE_YET


# --- the site -------------------------------------------------------------------------------------------------

class PracticeSite(Resource):
    """The root of the practice web site (see the module docstring for the fixtures)."""

    def __init__(self, *, reactor=None, slow_size: int = SLOW_SIZE, slow_duration: float = SLOW_DURATION,
                 slow_chunks: int = SLOW_CHUNKS, news_text: str = NEWS_TEXT, max_requests: int = 10_000):
        super().__init__()
        self.requests: list[RequestRecord] = []
        self.max_requests = max_requests
        self._news = NewsPage(news_text)
        self._check = CheckPage()
        self._never = NeverPage()
        slow = Folder()
        slow.putChild(b"sized", SlowPage(True, slow_size, slow_duration, slow_chunks, reactor))
        slow.putChild(b"chunked", SlowPage(False, slow_size, slow_duration, slow_chunks, reactor))
        for name, child in [(b"", IndexPage()), (b"hello", StaticPage(HELLO_HTML)), (b"error", ErrorPage()),
                            (b"big", StaticPage(text_body(BIG_SIZE), TEXT_TYPE)), (b"private", private_area()),
                            (b"news", self._news), (b"plain", StaticPage(PLAIN_HTML)), (b"check", self._check),
                            (b"slow", slow), (b"redirect", util.Redirect(b"/hello")), (b"never", self._never)]:
            self.putChild(name, child)

    # The root sees every request first (the first path segment is looked up here), so the log is kept here.
    def getChildWithDefault(self, name, request):
        self._log(request)
        return super().getChildWithDefault(name, request)

    def getChild(self, name, request):
        return NotFoundPage()

    def render(self, request):  # reached only by a request without any path segment
        return NotFoundPage().render(request)

    def _log(self, request) -> None:
        record = _record(request)
        if len(self.requests) >= self.max_requests:
            del self.requests[:max(1, self.max_requests // 10)]
        self.requests.append(record)

        def done(result, disconnected: bool):
            record.code = request.code if request.startedWriting or not disconnected else None
            record.sent = getattr(request, "sentLength", 0)
            record.finished = not disconnected
            record.disconnected = disconnected

        request.notifyFinish().addCallbacks(done, done, callbackArgs=(False,), errbackArgs=(True,))

    def make_site(self):
        """A ``twisted.web.server.Site`` serving this tree the way ``/check`` needs.

        A default ``Site`` parses every multipart/form-data POST body itself before any resource sees the
        request, and answers a body it cannot parse (the book's encoder's, for one) with a bare 400 and a
        hang-up; this one leaves the body alone, so ``/check`` can say what is wrong with it.
        """
        from twisted.web.server import Site

        made = Site(self, parsePOSTFormSubmission=False)
        made.displayTracebacks = False
        return made

    # --- for notebooks and checks ---

    def requests_to(self, path: str | bytes) -> list[RequestRecord]:
        """The logged requests whose path (without query) is ``path``, oldest first."""
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        return [record for record in list(self.requests) if record.path == path]

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
        """The reports of every POST to ``/check``, oldest first."""
        return self._check.reports

    @property
    def waiting_forever(self) -> int:
        """How many requests to ``/never`` are waiting (their clients are still connected)."""
        return len(self._never.waiting)


@practice_server("web", "chapter 3's web site: pages, 404/500, 1 MB, Basic auth, conditional GET, uploads, "
                        "slow downloads")
def site(**options) -> PracticeSite:
    """Build the practice web site; ``options`` are those of :class:`PracticeSite`."""
    return PracticeSite(**options)
