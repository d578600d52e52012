"""Checks for chapter 4, Web Servers.

Each ``check_*`` function serves what the learner wrote on 127.0.0.1 (``labkit.serve``) and drives it over real
HTTP: from the cell's own thread with ``http.client`` (a client that shares nothing with Twisted), or, for the
proxies, through ``twisted.web.client.ProxyAgent``. It looks at status codes, headers, bodies, redirects,
escaping and what reached the database or the origin server, then shows a pass or raises
:class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import contextlib
import html
import http.client
import io
import re
import shutil
import sqlite3
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urljoin

from twisted.internet import protocol
from twisted.web import http as web_http
from twisted.web import resource, server

from labkit.bridge import react
from labkit.checks import Check, converse
from labkit.serving import serve

with warnings.catch_warnings():  # twisted.web.proxy imports http.HTTPClient, deprecated since Twisted 24.7
    warnings.filterwarnings("ignore", message=r"twisted\.web\.http\.HTTPClient was deprecated",
                            category=DeprecationWarning)
    from twisted.web import proxy

__all__ = ["Reply", "check_blog_save", "check_glossary", "check_greeting_form", "check_http_by_hand",
           "check_polite_proxy", "check_request_handler", "check_title_proxy", "fetch", "via_proxy"]

TIMEOUT = 5.0
MAX_FORM_BYTES = 10_000
MAX_TITLE_CHARS = 200
NOT_WRITTEN = ("your code is not written yet: the server raised NotImplementedError while answering. Replace the "
               "`raise NotImplementedError()` in the exercise cell with your solution and run that cell again.")


# --- a client that shares nothing with Twisted ------------------------------------------------------------------

@dataclass
class Reply:
    """One HTTP response as a client saw it; ``status`` is None when no complete response came (``error``)."""

    status: int | None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def summary(self) -> str:
        return f"{self.status} {self.reason}".strip() if self.status is not None else f"no response ({self.error})"


def fetch(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
          timeout: float = TIMEOUT) -> Reply:
    """Send one request with ``http.client`` from this thread and read the whole response (bounded)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        names: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            names[key] = f"{names[key]}, {value}" if key in names else value
        return Reply(response.status, response.reason, names, data)
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            return Reply(None, error=f"no complete response within {timeout:g} s (did the server finish the "
                                     "request?)")
        if isinstance(exc, http.client.RemoteDisconnected):
            return Reply(None, error="the server closed the connection without answering")
        return Reply(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def via_proxy(proxy_port: int, url: str, method: str = "GET", timeout: float = TIMEOUT) -> tuple[Reply, str]:
    """Ask for ``url`` through the HTTP proxy on ``proxy_port`` with Twisted's ``ProxyAgent``. Returns the reply
    and whatever the reactor printed meanwhile (errors in the proxy's code land there)."""
    from twisted.internet import defer
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.web.client import ProxyAgent

    class Collect(protocol.Protocol):
        """The body as far as it came, however the response ended."""

        def __init__(self, done):
            self.done, self.parts = done, []

        def dataReceived(self, data):
            self.parts.append(data)

        def connectionLost(self, reason):
            self.done.callback(b"".join(self.parts))

    async def go(reactor):
        agent = ProxyAgent(TCP4ClientEndpoint(reactor, "127.0.0.1", proxy_port, timeout=timeout))
        response = await agent.request(method.encode("ascii"), url.encode("ascii"))
        received = defer.Deferred()
        response.deliverBody(Collect(received))
        body = await received
        headers = {name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
                   for name, values in response.headers.getAllRawHeaders()}
        return Reply(response.code, response.phrase.decode("latin-1"), headers, body)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            reply = react(go, timeout=timeout)
        except Exception as exc:
            reasons = getattr(exc, "reasons", None)
            detail = "; ".join(r.getErrorMessage() for r in reasons) if reasons else str(exc)
            reply = Reply(None, error=f"{type(exc).__name__}: {detail}")
    return reply, printed.getvalue()


# --- what went wrong on the server ------------------------------------------------------------------------------

_ERROR_LINE = re.compile(r"(?:raised |^\s*(?:builtins\.)?)([A-Za-z_][\w.]*(?:Error|Exception))(?::\s*(.*))?$", re.M)


def _logged_error(*texts: str, ignore: tuple[str, ...] = ()) -> str:
    """The first exception named in a server's log (or other captured output), as ``Name: message``; kinds in
    ``ignore`` (errors the check provoked on purpose) do not count."""
    for text in texts:
        if "NotImplementedError" in text:
            return "NotImplementedError"
        for found in _ERROR_LINE.finditer(text):
            name = found.group(1).rsplit(".", 1)[-1]
            if name not in ignore:
                return f"{name}: {found.group(2)}" if found.group(2) else name
    return ""


def _server_health(check: Check, server, *captured: str, hint: str = "", expected: tuple[str, ...] = ()) -> str:
    """Record that the server's log shows no exception (other than the ``expected`` kinds); an unwritten stub
    becomes the check's problem."""
    error = _logged_error(server.log.text, *captured, ignore=expected)
    if error == "NotImplementedError":
        check.problem = NOT_WRITTEN
        return error
    if "has no attribute 'children'" in error:
        hint = ("a Resource subclass with its own __init__ must call super().__init__(), which makes its "
                "children dictionary")
    hint = hint or f"the server raised {error}; its log (server.log) has the traceback"
    check.expect("the server's log shows no exception", "no exception", error or "no exception", hint=hint)
    return error


def _unwritten(check: Check, server, *captured: str) -> bool:
    """True (and the check's problem says so) when the learner's stub raised NotImplementedError: the rest of
    the check would only repeat it."""
    if "NotImplementedError" in server.log.text or any("NotImplementedError" in text for text in captured):
        check.problem = NOT_WRITTEN
        return True
    return False


def _status(reply: Reply) -> int | str:
    return reply.status if reply.status is not None else reply.summary


def _has(reply: Reply, *pieces: bytes) -> bool:
    return reply.status is not None and all(piece in reply.body for piece in pieces)


def _short(body: bytes, limit: int = 300) -> bytes:
    return body if len(body) <= limit else body[:limit] + b"..."


# --- 4.1 HTTP by hand -------------------------------------------------------------------------------------------

def check_http_by_hand(protocol_class) -> None:
    """Exercise 4.1: a LineReceiver that answers HTTP itself: ``GET /`` is 200 ``Hello HTTP world!`` (text/plain,
    exact Content-Length), another path 404 naming it, another method 405 with ``Allow: GET``, a request line
    that is not ``METHOD PATH VERSION`` 400; every response closes the connection."""
    with Check("your hand-written server answers 200, 404, 405 and 400 with correct status lines and headers",
               hint="split the request line with line.split(b' '); write b'HTTP/1.0 200 OK', then each header "
                    "as b'Name: value', then b'' (the blank line), then the body, and close the connection; "
                    "Content-Length is len(body) in bytes") as check:
        served = serve(protocol.ServerFactory.forProtocol(protocol_class), name="check-http-by-hand", show=False)
        try:
            home = fetch(served.port, "GET", "/")
            if _unwritten(check, served):
                return
            check.expect("GET / status", 200, _status(home), sent="GET / HTTP/1.1")
            check.expect("GET / body", b"Hello HTTP world!", home.body)
            check.expect("GET / Content-Type", "text/plain", (home.header("content-type") or "").split(";")[0])
            check.expect("GET / Content-Length matches the body", str(len(home.body)),
                         home.header("content-length"),
                         hint="Content-Length counts the bytes of the body: b'Content-Length: %d' % len(body)")
            missing = fetch(served.port, "GET", "/missing")
            check.expect("GET /missing status", 404, _status(missing))
            check.expect("the 404 body names the path", True, _has(missing, b"/missing"), ok=_has(missing, b"/missing"))
            posted = fetch(served.port, "POST", "/", body=b"")
            check.expect("POST / status", 405, _status(posted),
                         hint="a method other than GET gets b'HTTP/1.0 405 Method Not Allowed' and a header "
                              "b'Allow: GET'")
            check.expect("POST / has an Allow header naming GET", "GET", posted.header("allow"),
                         ok="GET" in (posted.header("allow") or ""))
            garbage = converse(served.port, b"HELLO\r\n\r\n", timeout=TIMEOUT)
            first_line = garbage.split(b"\r\n", 1)[0]
            check.expect("a request line that is not METHOD PATH VERSION gets 400", b"HTTP/1.0 400 Bad Request",
                         first_line, sent=b"HELLO\r\n\r\n", ok=re.match(rb"HTTP/1\.[01] 400\b", first_line) is not None,
                         hint="if the request line does not split into exactly three parts, answer 400 Bad Request")
            again = fetch(served.port, "GET", "/")
            check.expect("after all that, GET / still works", 200, _status(again))
            check.show(served.transcript)
            _server_health(check, served)
        finally:
            served.stop()


# --- 4.2 a request handler --------------------------------------------------------------------------------------

def _http_factory(request_class) -> web_http.HTTPFactory:
    class Channel(web_http.HTTPChannel):
        requestFactory = request_class

    factory = web_http.HTTPFactory()
    factory.protocol = Channel
    return factory


def check_request_handler(request_class) -> None:
    """Exercise 4.2: an ``http.Request`` subclass serving ``request_class.pages`` (path -> HTML) for GET and HEAD,
    404 with an HTML page that names the path (escaped) for other paths, 405 with ``Allow: GET, HEAD`` for
    other methods."""
    with Check("your request handler serves its pages, 404s the rest, and refuses other methods",
               hint="self.path is bytes (b'/test'), so the keys of pages must be bytes too; compare "
                    "self.method with b'GET' and b'HEAD'") as check:
        pages = dict(getattr(request_class, "pages", {}) or {})
        served = serve(_http_factory(request_class), name="check-request-handler", show=False)
        try:
            statuses = []
            for key, page in pages.items():
                path = key.decode("utf-8") if isinstance(key, bytes) else str(key)
                reply = fetch(served.port, "GET", path)
                statuses.append(reply.status)
                expected = page if isinstance(page, bytes) else str(page).encode("utf-8")
                check.expect(f"GET {path}", (200, expected), (_status(reply), reply.body))
            str_keys = pages and all(status == 404 for status in statuses) and any(isinstance(k, str) for k in pages)
            home = fetch(served.port, "GET", "/")
            check.expect("Content-Type of a page", "text/html",
                         (home.header("content-type") or "(none)").split(";")[0],
                         hint="set the type before writing: self.setHeader(b'content-type', "
                              "b'text/html; charset=utf-8')")
            query = fetch(served.port, "GET", "/test?colour=blue")
            check.expect("GET /test?colour=blue finds /test", 200, _status(query),
                         hint="look pages up by self.path, which leaves out the ?query (self.uri has it)")
            missing = fetch(served.port, "GET", "/nowhere")
            check.expect("GET /nowhere status", 404, _status(missing))
            check.expect("the 404 page names the path", True, _has(missing, b"/nowhere"),
                         ok=_has(missing, b"/nowhere"))
            sneaky = fetch(served.port, "GET", "/<script>alert(1)</script>")
            check.expect("a path with HTML in it is escaped on the 404 page", b"&lt;script&gt;",
                         _short(sneaky.body), ok=_has(sneaky, b"&lt;script&gt;") and b"<script>" not in sneaky.body,
                         sent="GET /<script>alert(1)</script>",
                         hint="escape what you echo: html.escape(self.path.decode('utf-8', 'replace'))")
            posted = fetch(served.port, "POST", "/", body=b"")
            check.expect("POST / status", 405, _status(posted),
                         hint="for a method other than GET or HEAD: self.setResponseCode(405) and "
                              "self.setHeader(b'allow', b'GET, HEAD')")
            allow = posted.header("allow") or ""
            check.expect("POST / has Allow: GET, HEAD", "GET, HEAD", allow or None,
                         ok="GET" in allow and "HEAD" in allow)
            head = fetch(served.port, "HEAD", "/")
            check.expect("HEAD / status and body", (200, b""), (_status(head), head.body))
            _server_health(check, served)
            if str_keys:
                check.hint = ("every page answered 404: on Python 3 self.path is bytes (b'/'), and b'/' never "
                              "equals the str key '/'. Make the keys of pages bytes: {b'/': ..., b'/test': ...}; "
                              "then answer other methods with 405")
        finally:
            served.stop()


# --- 4.3 forms --------------------------------------------------------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(**fields) -> bytes:
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode("ascii")


def check_greeting_form(request_class) -> None:
    """Exercise 4.3: ``POST /greet`` with a form field ``name`` answers ``Hello, NAME!`` (escaped, UTF-8); no
    name or a blank one is 400, a body over 10,000 bytes 413, ``GET /greet`` 405 with ``Allow: POST``."""
    with Check("the greeting form greets by name, safely, and refuses bad posts",
               hint="request.args maps bytes to lists of bytes: name = request.args.get(b'name', [b''])[0]"
                    ".decode('utf-8', 'replace').strip(); answer html.escape(name) encoded as UTF-8") as check:
        served = serve(_http_factory(request_class), name="check-greeting-form", show=False)
        try:
            def post(body: bytes, **extra) -> Reply:
                return fetch(served.port, "POST", "/greet", body=body, headers={**FORM, **extra})

            ada = post(b"name=Ada")
            if _unwritten(check, served):
                return
            check.expect("name=Ada", (200, True), (_status(ada), b"Hello, Ada!" in ada.body),
                         sent=b"name=Ada")
            check.expect("Content-Type says UTF-8", "text/html; charset=utf-8",
                         (ada.header("content-type") or "(none)").replace(" ", "").lower().replace(";", "; "),
                         hint="self.setHeader(b'content-type', b'text/html; charset=utf-8')")
            zoe = post(_form(name="Zoë"))
            check.expect("name=Zoë (UTF-8 in the form)", "Hello, Zoë!".encode(), _short(zoe.body),
                         ok=_has(zoe, "Hello, Zoë!".encode()), sent=_form(name="Zoë"),
                         hint="form values are bytes: decode them with .decode('utf-8') and encode the page "
                              "with .encode('utf-8')")
            evil = "<script>alert('hi')</script>"
            attack = post(_form(name=evil))
            check.expect("a name with HTML in it is escaped", html.escape(evil).encode(), _short(attack.body),
                         ok=_has(attack, html.escape(evil).encode()) and b"<script>" not in attack.body,
                         sent=_form(name=evil),
                         hint="never echo form data as it came: html.escape(name) turns < > & ' \" into entities")
            twice = post(b"name=Ada&name=Bob")
            check.expect("two name fields: the first one counts", True, _has(twice, b"Hello, Ada!"),
                         ok=_has(twice, b"Hello, Ada!"), sent=b"name=Ada&name=Bob",
                         hint="request.args[b'name'] is a list; take its first item")
            empty = post(b"")
            check.expect("no name at all", 400, _status(empty), sent=b"",
                         hint="with no name (or only spaces): self.setResponseCode(400) and say what is missing")
            blank = post(b"name=%20%20")
            check.expect("a blank name", 400, _status(blank), sent=b"name=%20%20")
            big = post(b"name=" + b"x" * 20_000)
            check.expect("a 20,000-byte post", 413, _status(big), sent="name=xxxx... (20,005 bytes)",
                         hint="compare int(request.getHeader(b'content-length') or 0) with MAX_FORM_BYTES and "
                              "answer 413 when it is larger")
            odd = post(b"name=%FF%FE")
            check.expect("a name that is not UTF-8 gets an answer (200 or 400), not a crash", "200 or 400",
                         _status(odd), ok=odd.status in (200, 400), sent=b"name=%FF%FE",
                         hint="decode with errors='replace' so bytes that are not UTF-8 cannot raise")
            got = fetch(served.port, "GET", "/greet")
            check.expect("GET /greet", (405, "POST"), (_status(got), got.header("allow")),
                         hint="the greeting takes POST only: 405 and self.setHeader(b'allow', b'POST')")
            again = post(b"name=Ada")
            check.expect("after all that, the server still greets", 200, _status(again))
            _server_health(check, served)
        finally:
            served.stop()


# --- 4.4 a resource tree ----------------------------------------------------------------------------------------

CHECK_CSS = "/* the check's stylesheet */\nbody { font-family: sans-serif; }\n"
CHECK_GLOSSARY = {
    b"reactor": "The event loop: it waits for events and calls your code.",
    b"deferred": "A result that is not there yet.",
    b"markup": "Pages use <tags>; escape & before you echo.",
}
_ROOT_RELATIVE = re.compile(rb"""(?:href|src|action)\s*=\s*["']?/(?!/)""", re.I)


def check_glossary(build_glossary) -> None:
    """Exercise 4.4: ``build_glossary(folder, glossary)`` returns a resource tree: ``/`` a home page,
    ``/styles.css`` the file from ``folder`` (text/css), ``/terms`` a redirect to ``terms/``, ``/terms/`` an
    index, ``/terms/NAME`` a page per term (404 for unknown terms and anything below a term), 405 for POST; all
    links relative."""
    with Check("your glossary site: pages, stylesheet, redirect, 404s and 405s, relative links",
               hint="root.putChild(b'', Home()); root.putChild(b'styles.css', static.File(folder / 'styles.css')); "
                    "root.putChild(b'terms', TermsFolder(glossary)); every Resource's __init__ calls "
                    "super().__init__(), and render methods return bytes") as check:
        folder = Path(tempfile.mkdtemp(prefix="check-glossary-"))
        served = None
        try:
            (folder / "styles.css").write_text(CHECK_CSS)
            root = build_glossary(folder, dict(CHECK_GLOSSARY))
            served = serve(root, name="check-glossary", show=False)
            port = served.port
            home = fetch(port, "GET", "/")
            check.expect("GET /", (200, "text/html"),
                         (_status(home), (home.header("content-type") or "").split(";")[0]))
            check.expect("the home page links the stylesheet relatively", True,
                         _has(home, b"styles.css"), ok=_has(home, b"styles.css"))
            css = fetch(port, "GET", "/styles.css")
            check.expect("GET /styles.css", (200, "text/css", CHECK_CSS.encode()),
                         (_status(css), (css.header("content-type") or "").split(";")[0], css.body),
                         hint="serve the file with static.File(str(folder / 'styles.css')); it sets text/css")
            moved = fetch(port, "GET", "/terms")
            where = urljoin("/terms", moved.header("location") or "")
            check.expect("GET /terms redirects to /terms/", ("a redirect", "/terms/"),
                         ("a redirect" if moved.status in (301, 302, 303, 307, 308) else _status(moved), where),
                         hint="in TermsFolder.render_GET: return util.redirectTo(b'terms/', request) (a relative "
                              "Location, so it works behind a proxy too)")
            index = fetch(port, "GET", "/terms/")
            check.expect("GET /terms/ lists every term", (200, True),
                         (_status(index), all(name in index.body for name in CHECK_GLOSSARY)))
            pages = [(root_relative, path) for path, reply in (("/", home), ("/terms/", index))
                     for root_relative in _ROOT_RELATIVE.findall(reply.body)]
            check.expect("no link starts with / (they would leave a proxy's prefix)", [], pages,
                         hint="write relative links: href='styles.css' on /, href='../styles.css' and "
                              "href='reactor' on /terms/; a leading / skips jupyter-server-proxy's prefix")
            term = fetch(port, "GET", "/terms/reactor")
            check.expect("GET /terms/reactor", (200, True),
                         (_status(term), _has(term, CHECK_GLOSSARY[b"reactor"].encode())))
            markup = fetch(port, "GET", "/terms/markup")
            check.expect("a meaning with < and & is escaped", True,
                         _has(markup, b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                         ok=_has(markup, b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                         hint="html.escape(meaning) before putting it in the page")
            if b"did not return bytes" in term.body + markup.body:
                check.hint = ("render_GET returned a str: Twisted answers 500 (and logs nothing); return bytes, "
                              "for example page.encode('utf-8')")
            unknown = fetch(port, "GET", "/terms/nosuchterm")
            check.expect("GET /terms/nosuchterm", 404, _status(unknown),
                         hint="in getChild, return pages.notFound() for a name that is not in the glossary")
            below = fetch(port, "GET", "/terms/reactor/extra")
            check.expect("GET /terms/reactor/extra (nothing below a term)", 404, _status(below),
                         hint="a TermPage that called super().__init__() has no children, so the default "
                              "getChild answers 404; without that call Twisted fails with AttributeError "
                              "'children' (a 500), and with isLeaf = True it would answer 200")
            posted = fetch(port, "POST", "/terms/reactor", body=b"")
            check.expect("POST /terms/reactor", (405, True), (_status(posted), "GET" in (posted.header("allow") or "")),
                         hint="define render_GET (not render): Twisted then answers other methods with 405 "
                              "and an Allow header by itself")
            _server_health(check, served)
        finally:
            if served is not None:
                served.stop()
            shutil.rmtree(folder, ignore_errors=True)


# --- 4.5 the blog's save page -----------------------------------------------------------------------------------

SCHEMA = ("CREATE TABLE IF NOT EXISTS posts (post_id INTEGER PRIMARY KEY AUTOINCREMENT, "
          "title TEXT NOT NULL, body TEXT)")


def _rows(path: Path) -> list[tuple]:
    """Read the posts with sqlite3 directly: an independent look at what reached the file."""
    with contextlib.closing(sqlite3.connect(path, timeout=2)) as db:
        return db.execute("SELECT title, body FROM posts ORDER BY post_id").fetchall()


def _pool(path, timeout: float = 0.2):
    from twisted.enterprise import adbapi

    return adbapi.ConnectionPool("sqlite3", str(path), check_same_thread=False, timeout=timeout,
                                 cp_min=1, cp_max=2)


def _close_pool(pool) -> None:
    try:
        react(lambda reactor: pool.close(), timeout=TIMEOUT)
    except Exception:
        pass


def _saved(reply: Reply) -> tuple:
    where = urljoin("/save", reply.header("location") or "") if reply.header("location") else None
    return ("a redirect" if reply.status in (301, 302, 303, 307) else _status(reply), where)


def check_blog_save(save_page_class) -> None:
    """Exercise 4.5: ``save_page_class(db)`` is the blog's ``/save``: ``POST`` with ``title`` and ``body`` stores
    them through the ``adbapi`` pool ``db`` with parameters, then redirects to ``./``; a missing, blank or
    too long (over 200 characters) title is 400; a database error is a 500 page, and the server goes on."""
    with Check("the save page stores posts safely, refuses bad ones, and survives database trouble",
               hint="d = self.db.runOperation('INSERT INTO posts (title, body) VALUES (?, ?)', (title, body)); "
                    "d.addCallbacks(self.saved, self.failed, callbackArgs=(request,), errbackArgs=(request,)); "
                    "return server.NOT_DONE_YET. saved: request.redirect(b'./'); request.finish(). failed: "
                    "request.setResponseCode(500), write a page, request.finish()") as check:
        folder = Path(tempfile.mkdtemp(prefix="check-blog-"))
        path = folder / "blog.db"
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(SCHEMA)
            db.commit()
        pools, servers = [], []

        def start(database_path):
            pool = _pool(database_path)
            pools.append(pool)
            root = resource.Resource()
            root.putChild(b"save", save_page_class(pool))
            served = serve(root, name="check-blog-save", show=False)
            servers.append(served)
            return served

        try:
            served = start(path)
            post = lambda body: fetch(served.port, "POST", "/save", body=body, headers=FORM)  # noqa: E731
            title, body = "Bobby'); DROP TABLE posts;--", "<b>bold</b> & \"quoted\""
            first = post(_form(title=title, body=body))
            if _unwritten(check, served):
                return
            check.expect("a post with SQL and HTML in it", ("a redirect", "/"), _saved(first),
                         sent=_form(title=title, body=body),
                         hint="the insert failed: with SQL built by % or an f-string, the quote in the title ends "
                              "the string early. Bind the values: runOperation('INSERT ... VALUES (?, ?)', "
                              "(title, body))" if first.status == 500 else
                              "after the insert: request.redirect(b'./') (303 or 302 to the home page), then "
                              "request.finish()")
            check.expect("what reached the database, exactly", [(title, body)], _rows(path),
                         hint="bind the values: runOperation('INSERT ... VALUES (?, ?)', (title, body)); never "
                              "build SQL with % or f-strings")
            for sent, what in ((_form(body="no title"), "no title"), (_form(title="   ", body="x"), "a blank title"),
                               (_form(title="x" * (MAX_TITLE_CHARS + 1)), "a 201-character title")):
                reply = post(sent)
                check.expect(f"{what}: 400", 400, _status(reply), sent=_short(sent, 60),
                             hint="check the title before touching the database: missing, blank (after strip()) "
                                  "or longer than 200 characters is request.setResponseCode(400)")
            check.expect("nothing invalid was stored", 1, len(_rows(path)))
            odd = post(b"title=%FF&body=x")
            check.expect("a title that is not UTF-8 gets an answer, not a crash", "a redirect or 400",
                         _status(odd), ok=odd.status in (301, 302, 303, 307, 400), sent=b"title=%FF&body=x",
                         hint="decode form values with .decode('utf-8', 'replace')")
            count = len(_rows(path))
            locker = sqlite3.connect(path, timeout=0)
            try:
                locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
                locked = post(_form(title="while locked", body="x"))
            finally:
                locker.rollback()
                locker.close()
            check.expect("a locked database: 500, in good time", 500, _status(locked),
                         hint="add an errback to the Deferred from runOperation that sets 500, writes a page "
                              "and finishes the request; without it the browser waits forever")
            check.expect("a locked database: nothing half-saved", count, len(_rows(path)))
            after = post(_form(title="after the lock", body="y"))
            check.expect("once the lock is gone, saving works again", ("a redirect", "/"), _saved(after))
            served.stop()
            _close_pool(pools[-1])
            served = start(path)  # the same file, a new server and pool: a restart
            restarted = post(_form(title="after a restart", body="z"))
            check.expect("after a restart, on the same file", ("a redirect", "/"), _saved(restarted))
            titles = [row[0] for row in _rows(path)]
            check.expect("every saved post is still there", [title, "after the lock", "after a restart"],
                         [t for t in titles if t != "\ufffd"])
            _server_health(check, served, *(earlier.log.text for earlier in servers), expected=("OperationalError",))
            served.stop()
            served = start(folder / "missing-folder" / "blog.db")
            missing = post(_form(title="nowhere to go", body="x"))
            check.expect("a database file that cannot be opened: 500", 500, _status(missing))
            _server_health(check, served, expected=("OperationalError",))
        finally:
            for served in servers:
                if not served.stopped:
                    served.stop()
            for pool in pools:
                _close_pool(pool)
            shutil.rmtree(folder, ignore_errors=True)


# --- 4.6 proxies ------------------------------------------------------------------------------------------------

def _proxy_factory(request_class=None, channel_class=None) -> web_http.HTTPFactory:
    if channel_class is None:
        class Channel(proxy.Proxy):
            requestFactory = request_class

        channel_class = Channel
    factory = web_http.HTTPFactory()
    factory.protocol = channel_class
    return factory


def check_polite_proxy(request_class) -> None:
    """Exercise 4.6: a ``proxy.ProxyRequest`` subclass that forwards ``http://`` requests for hosts in
    ``allowed_hosts``, answers 403 for other hosts (without connecting), and 400 with an HTML page for a request
    that is not a proxy request (a browser that opened the proxy's own address) or not ``http://``."""
    import servers.web

    with Check("your proxy forwards what it may, and answers the rest itself",
               hint="in process(): parsed = urllib.parse.urlsplit(self.uri); if parsed.scheme != b'http' -> 400 "
                    "page; elif parsed.hostname not in self.allowed_hosts -> 403; else "
                    "super().process()") as check:
        origin_site = servers.web.site()
        origin = serve(origin_site, name="check-proxy-origin", show=False)
        served = serve(_proxy_factory(request_class), name="check-polite-proxy", show=False)
        printed = []
        try:
            hello, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
            printed.append(out)
            if _unwritten(check, served, out):
                return
            check.expect("GET /hello of the origin, through the proxy", (200, servers.web.HELLO_HTML),
                         (_status(hello), hello.body))
            check.expect("the origin saw the request", ["/hello"], [r.path for r in origin_site.requests])
            missing, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/nowhere")
            printed.append(out)
            check.expect("the origin's 404 comes back as it is", 404, _status(missing))
            origin_site.clear_requests()
            other, out = via_proxy(served.port, f"http://127.0.0.2:{origin.port}/hello")
            printed.append(out)
            check.expect("a host that is not allowed (127.0.0.2)", 403, _status(other),
                         hint="compare the URI's host with self.allowed_hosts before forwarding; a 501 means "
                              "the proxy tried to connect")
            direct = converse(served.port, b"GET / HTTP/1.0\r\n\r\n", timeout=TIMEOUT)
            check.expect("a browser opening the proxy's own address (GET / HTTP/1.0)", b"HTTP/1.0 400",
                         direct[:12], sent=b"GET / HTTP/1.0\r\n\r\n",
                         ok=re.match(rb"HTTP/1\.[01] 400", direct) is not None,
                         hint="a request whose URI does not start with http:// is not for a proxy: answer 400 "
                              "with a page that says how to use the proxy")
            check.expect("... gets an HTML page", True, b"<" in direct.partition(b"\r\n\r\n")[2],
                         ok=b"<" in direct.partition(b"\r\n\r\n")[2])
            ftp = converse(served.port, f"GET ftp://127.0.0.1:{origin.port}/ HTTP/1.0\r\n\r\n".encode(),
                           timeout=TIMEOUT)
            check.expect("an ftp:// URI", b"HTTP/1.0 400", ftp[:12], ok=re.match(rb"HTTP/1\.[01] 400", ftp) is not None)
            check.expect("nothing was forwarded for the refused requests", [],
                         [r.path for r in origin_site.requests])
            again, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
            printed.append(out)
            check.expect("after all that, the proxy still forwards", 200, _status(again))
            check.show(served.transcript)
            _server_health(check, served, *printed)
        finally:
            served.stop()
            origin.stop()


class _SplitPage(resource.Resource):
    """An HTML page written in three pieces 50 ms apart; the title is cut inside a UTF-8 character."""

    isLeaf = True
    PIECES = (b"<!DOCTYPE html><html><head><title>Caf", b"\xc3", b"\xa9 au lait</title></head>"
              b"<body><p>Written in pieces.</p></body></html>")

    def render_GET(self, request):
        from twisted.internet import reactor

        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.write(self.PIECES[0])
        reactor.callLater(0.05, request.write, self.PIECES[1])

        def last():
            request.write(self.PIECES[2])
            request.finish()

        reactor.callLater(0.1, last)
        return server.NOT_DONE_YET


class _TextPage(resource.Resource):
    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes, code: int = 200):
        super().__init__()
        self.body, self.content_type, self.code = body, content_type, code

    def render_GET(self, request):
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", self.content_type)
        return self.body


def title_origin() -> resource.Resource:
    """The check's origin for the title-recording proxy: an HTML page, one sent in pieces, text that looks like
    HTML, and an HTML 404."""
    root = resource.Resource()
    root.putChild(b"hello", _TextPage(b"<!DOCTYPE html><html><head><title>Hello</title></head>"
                                      b"<body><p>Hi.</p></body></html>", b"text/html; charset=utf-8"))
    root.putChild(b"split", _SplitPage())
    root.putChild(b"notes.txt", _TextPage(b"<title>Not HTML</title> is plain text here.\n", b"text/plain"))
    root.putChild(b"gone", _TextPage(b"<html><head><title>Gone</title></head><body>404</body></html>",
                                     b"text/html", code=404))
    return root


def check_title_proxy(factory_class) -> None:
    """Exercise 4.6 (continued): ``factory_class()`` is an HTTPFactory for a proxy whose ``ProxyClient`` feeds
    every ``text/html`` response through a title parser as it passes and appends ``(url, title)`` to the
    factory's ``titles``; every response reaches the client unchanged."""
    with Check("your proxy records the title of every HTML page it passes on, and changes nothing",
               hint="handleHeader: make a TitleParser when the content type is text/html; handleResponsePart: "
                    "feed it every piece; handleResponseEnd: record (self.father.uri.decode(), parser.close()) "
                    "once, then call the ProxyClient method you override in each case") as check:
        origin = serve(title_origin(), name="check-title-origin", show=False)
        factory = factory_class()
        served = serve(factory, name="check-title-proxy", show=False)
        printed: list[str] = []
        try:
            base = f"http://127.0.0.1:{origin.port}"
            expected_bodies = {"/hello": None, "/split": b"".join(_SplitPage.PIECES),
                               "/notes.txt": b"<title>Not HTML</title> is plain text here.\n", "/gone": None}
            for path in expected_bodies:
                direct = fetch(origin.port, "GET", path)
                reply, out = via_proxy(served.port, base + path)
                printed.append(out)
                if _unwritten(check, served, out):
                    return
                if _logged_error(out):  # the proxy's code raised: say so rather than compare what is left
                    check.expect(f"GET {path} through the proxy", "no exception in the proxy",
                                 f"{reply.summary} with {len(reply.body)} bytes; the proxy raised "
                                 f"{_logged_error(out)}", ok=False,
                                 hint="an exception in a ProxyClient method drops the connection to the origin, "
                                      "and the browser gets what had arrived so far (often nothing); fix the "
                                      "method the error names")
                    return
                check.expect(f"GET {path} through the proxy: same status and body as directly",
                             (direct.status, direct.body), (reply.status, reply.body),
                             hint="call the ProxyClient method you override (super().handleResponsePart(data) "
                                  "...) so the data still reaches the browser")
            recorded = list(getattr(factory, "titles", []))
            check.expect("titles recorded, in order", [(base + "/hello", "Hello"), (base + "/split", "Café au lait"),
                                                       (base + "/gone", "Gone")], recorded,
                         hint="only text/html responses get a parser; feed it every part as it arrives (one "
                              "parser per response, not per part) and record after the last part")
            check.show(served.transcript)
            _server_health(check, served, *printed)
        finally:
            served.stop()
            origin.stop()
