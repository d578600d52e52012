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
import re
import sqlite3
from pathlib import Path
from urllib.parse import urljoin

from twisted.internet import protocol
from twisted.web import resource

from labkit.bridge import react
from labkit.checks import Check, converse, limits, logged_error, server_health, short, unwritten
from labkit.checks.proxy import proxy_factory, via_proxy
from labkit.checks.web import FORM_HEADERS, Reply, fetch, form, http_factory

import servers.web
from servers.origins import title_origin

__all__ = ["check_blog_save", "check_glossary", "check_greeting_form", "check_http_by_hand", "check_polite_proxy",
           "check_request_handler", "check_title_proxy"]

MAX_FORM_BYTES = 10_000
MAX_TITLE_CHARS = 200


# --- 4.1 HTTP by hand -------------------------------------------------------------------------------------------

def check_http_by_hand(protocol_class) -> None:
    """Exercise 4.1: a LineReceiver that answers HTTP itself: ``GET /`` is 200 ``Hello HTTP world!`` (text/plain,
    exact Content-Length), another path 404 naming it, another method 405 with ``Allow: GET``, a request line
    that is not ``METHOD PATH VERSION`` 400; every response closes the connection."""
    with Check("your hand-written server answers 200, 404, 405 and 400 with correct status lines and headers",
               hint="split the request line with line.split(b' '); write b'HTTP/1.0 200 OK', then each header "
                    "as b'Name: value', then b'' (the blank line), then the body, and close the connection; "
                    "Content-Length is len(body) in bytes") as check:
        served = check.serve(protocol.ServerFactory.forProtocol(protocol_class), "check-http-by-hand")
        home = fetch(served.port, "GET", "/")
        if unwritten(check, served):
            return
        check.expect("GET / status", 200, home.outcome, sent="GET / HTTP/1.1")
        check.expect("GET / body", b"Hello HTTP world!", home.body)
        check.expect("GET / Content-Type", "text/plain", (home.header("content-type") or "").split(";")[0])
        check.expect("GET / Content-Length matches the body", str(len(home.body)),
                     home.header("content-length"),
                     hint="Content-Length counts the bytes of the body: b'Content-Length: %d' % len(body)")
        missing = fetch(served.port, "GET", "/missing")
        check.expect("GET /missing status", 404, missing.outcome)
        check.expect("the 404 body names the path", True, missing.has(b"/missing"), ok=missing.has(b"/missing"))
        posted = fetch(served.port, "POST", "/", body=b"")
        check.expect("POST / status", 405, posted.outcome,
                     hint="a method other than GET gets b'HTTP/1.0 405 Method Not Allowed' and a header "
                          "b'Allow: GET'")
        check.expect("POST / has an Allow header naming GET", "GET", posted.header("allow"),
                     ok="GET" in (posted.header("allow") or ""))
        garbage = converse(served.port, b"HELLO\r\n\r\n")
        first_line = garbage.split(b"\r\n", 1)[0]
        check.expect("a request line that is not METHOD PATH VERSION gets 400", b"HTTP/1.0 400 Bad Request",
                     first_line, sent=b"HELLO\r\n\r\n", ok=re.match(rb"HTTP/1\.[01] 400\b", first_line) is not None,
                     hint="if the request line does not split into exactly three parts, answer 400 Bad Request")
        again = fetch(served.port, "GET", "/")
        check.expect("after all that, GET / still works", 200, again.outcome)
        check.show(served.transcript)
        server_health(check, served)


# --- 4.2 a request handler --------------------------------------------------------------------------------------

def check_request_handler(request_class) -> None:
    """Exercise 4.2: an ``http.Request`` subclass serving ``request_class.pages`` (path -> HTML) for GET and HEAD,
    404 with an HTML page that names the path (escaped) for other paths, 405 with ``Allow: GET, HEAD`` for
    other methods."""
    with Check("your request handler serves its pages, 404s the rest, and refuses other methods",
               hint="self.path is bytes (b'/test'), so the keys of pages must be bytes too; compare "
                    "self.method with b'GET' and b'HEAD'") as check:
        pages = dict(getattr(request_class, "pages", {}) or {})
        served = check.serve(http_factory(request_class), "check-request-handler")
        statuses = []
        for key, page in pages.items():
            path = key.decode("utf-8") if isinstance(key, bytes) else str(key)
            reply = fetch(served.port, "GET", path)
            statuses.append(reply.status)
            expected = page if isinstance(page, bytes) else str(page).encode("utf-8")
            check.expect(f"GET {path}", (200, expected), (reply.outcome, reply.body))
        str_keys = pages and all(status == 404 for status in statuses) and any(isinstance(k, str) for k in pages)
        home = fetch(served.port, "GET", "/")
        check.expect("Content-Type of a page", "text/html",
                     (home.header("content-type") or "(none)").split(";")[0],
                     hint="set the type before writing: self.setHeader(b'content-type', "
                          "b'text/html; charset=utf-8')")
        query = fetch(served.port, "GET", "/test?colour=blue")
        check.expect("GET /test?colour=blue finds /test", 200, query.outcome,
                     hint="look pages up by self.path, which leaves out the ?query (self.uri has it)")
        missing = fetch(served.port, "GET", "/nowhere")
        check.expect("GET /nowhere status", 404, missing.outcome)
        check.expect("the 404 page names the path", True, missing.has(b"/nowhere"),
                     ok=missing.has(b"/nowhere"))
        sneaky = fetch(served.port, "GET", "/<script>alert(1)</script>")
        check.expect("a path with HTML in it is escaped on the 404 page", b"&lt;script&gt;",
                     short(sneaky.body, 300), ok=sneaky.has(b"&lt;script&gt;") and b"<script>" not in sneaky.body,
                     sent="GET /<script>alert(1)</script>",
                     hint="escape what you echo: html.escape(self.path.decode('utf-8', 'replace'))")
        posted = fetch(served.port, "POST", "/", body=b"")
        check.expect("POST / status", 405, posted.outcome,
                     hint="for a method other than GET or HEAD: self.setResponseCode(405) and "
                          "self.setHeader(b'allow', b'GET, HEAD')")
        allow = posted.header("allow") or ""
        check.expect("POST / has Allow: GET, HEAD", "GET, HEAD", allow or None,
                     ok="GET" in allow and "HEAD" in allow)
        head = fetch(served.port, "HEAD", "/")
        check.expect("HEAD / status and body", (200, b""), (head.outcome, head.body))
        server_health(check, served)
        if str_keys:
            check.hint = ("every page answered 404: on Python 3 self.path is bytes (b'/'), and b'/' never "
                          "equals the str key '/'. Make the keys of pages bytes: {b'/': ..., b'/test': ...}; "
                          "then answer other methods with 405")


# --- 4.3 forms --------------------------------------------------------------------------------------------------

def check_greeting_form(request_class) -> None:
    """Exercise 4.3: ``POST /greet`` with a form field ``name`` answers ``Hello, NAME!`` (escaped, UTF-8); no
    name or a blank one is 400, a body over 10,000 bytes 413, ``GET /greet`` 405 with ``Allow: POST``."""
    with Check("the greeting form greets by name, safely, and refuses bad posts",
               hint="request.args maps bytes to lists of bytes: name = request.args.get(b'name', [b''])[0]"
                    ".decode('utf-8', 'replace').strip(); answer html.escape(name) encoded as UTF-8") as check:
        served = check.serve(http_factory(request_class), "check-greeting-form")
        def post(body: bytes, **extra) -> Reply:
            return fetch(served.port, "POST", "/greet", body=body, headers={**FORM_HEADERS, **extra})

        ada = post(b"name=Ada")
        if unwritten(check, served):
            return
        check.expect("name=Ada", (200, True), (ada.outcome, b"Hello, Ada!" in ada.body),
                     sent=b"name=Ada")
        check.expect("Content-Type says UTF-8", "text/html; charset=utf-8",
                     (ada.header("content-type") or "(none)").replace(" ", "").lower().replace(";", "; "),
                     hint="self.setHeader(b'content-type', b'text/html; charset=utf-8')")
        zoe = post(form(name="Zoë"))
        check.expect("name=Zoë (UTF-8 in the form)", "Hello, Zoë!".encode(), short(zoe.body, 300),
                     ok=zoe.has("Hello, Zoë!".encode()), sent=form(name="Zoë"),
                     hint="form values are bytes: decode them with .decode('utf-8') and encode the page "
                          "with .encode('utf-8')")
        evil = "<script>alert('hi')</script>"
        attack = post(form(name=evil))
        check.expect("a name with HTML in it is escaped", html.escape(evil).encode(), short(attack.body, 300),
                     ok=attack.has(html.escape(evil).encode()) and b"<script>" not in attack.body,
                     sent=form(name=evil),
                     hint="never echo form data as it came: html.escape(name) turns < > & ' \" into entities")
        twice = post(b"name=Ada&name=Bob")
        check.expect("two name fields: the first one counts", True, twice.has(b"Hello, Ada!"),
                     ok=twice.has(b"Hello, Ada!"), sent=b"name=Ada&name=Bob",
                     hint="request.args[b'name'] is a list; take its first item")
        empty = post(b"")
        check.expect("no name at all", 400, empty.outcome, sent=b"",
                     hint="with no name (or only spaces): self.setResponseCode(400) and say what is missing")
        blank = post(b"name=%20%20")
        check.expect("a blank name", 400, blank.outcome, sent=b"name=%20%20")
        big = post(b"name=" + b"x" * 20_000)
        check.expect("a 20,000-byte post", 413, big.outcome, sent="name=xxxx... (20,005 bytes)",
                     hint="compare int(request.getHeader(b'content-length') or 0) with MAX_FORM_BYTES and "
                          "answer 413 when it is larger")
        odd = post(b"name=%FF%FE")
        check.expect("a name that is not UTF-8 gets an answer (200 or 400), not a crash", "200 or 400",
                     odd.outcome, ok=odd.status in (200, 400), sent=b"name=%FF%FE",
                     hint="decode with errors='replace' so bytes that are not UTF-8 cannot raise")
        got = fetch(served.port, "GET", "/greet")
        check.expect("GET /greet", (405, "POST"), (got.outcome, got.header("allow")),
                     hint="the greeting takes POST only: 405 and self.setHeader(b'allow', b'POST')")
        again = post(b"name=Ada")
        check.expect("after all that, the server still greets", 200, again.outcome)
        server_health(check, served)


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
        folder = check.temporary_folder("check-glossary-")
        (folder / "styles.css").write_text(CHECK_CSS)
        root = build_glossary(folder, dict(CHECK_GLOSSARY))
        served = check.serve(root, "check-glossary")
        port = served.port
        home = fetch(port, "GET", "/")
        check.expect("GET /", (200, "text/html"),
                     (home.outcome, (home.header("content-type") or "").split(";")[0]))
        check.expect("the home page links the stylesheet relatively", True,
                     home.has(b"styles.css"), ok=home.has(b"styles.css"))
        css = fetch(port, "GET", "/styles.css")
        check.expect("GET /styles.css", (200, "text/css", CHECK_CSS.encode()),
                     (css.outcome, (css.header("content-type") or "").split(";")[0], css.body),
                     hint="serve the file with static.File(str(folder / 'styles.css')); it sets text/css")
        moved = fetch(port, "GET", "/terms")
        where = urljoin("/terms", moved.header("location") or "")
        check.expect("GET /terms redirects to /terms/", ("a redirect", "/terms/"),
                     ("a redirect" if moved.status in (301, 302, 303, 307, 308) else moved.outcome, where),
                     hint="in TermsFolder.render_GET: return util.redirectTo(b'terms/', request) (a relative "
                          "Location, so it works behind a proxy too)")
        index = fetch(port, "GET", "/terms/")
        check.expect("GET /terms/ lists every term", (200, True),
                     (index.outcome, all(name in index.body for name in CHECK_GLOSSARY)))
        pages = [(root_relative, path) for path, reply in (("/", home), ("/terms/", index))
                 for root_relative in _ROOT_RELATIVE.findall(reply.body)]
        check.expect("no link starts with / (they would leave a proxy's prefix)", [], pages,
                     hint="write relative links: href='styles.css' on /, href='../styles.css' and "
                          "href='reactor' on /terms/; a leading / skips jupyter-server-proxy's prefix")
        term = fetch(port, "GET", "/terms/reactor")
        check.expect("GET /terms/reactor", (200, True),
                     (term.outcome, term.has(CHECK_GLOSSARY[b"reactor"].encode())))
        markup = fetch(port, "GET", "/terms/markup")
        check.expect("a meaning with < and & is escaped", True,
                     markup.has(b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                     ok=markup.has(b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                     hint="html.escape(meaning) before putting it in the page")
        if b"did not return bytes" in term.body + markup.body:
            check.hint = ("render_GET returned a str: Twisted answers 500 (and logs nothing); return bytes, "
                          "for example page.encode('utf-8')")
        unknown = fetch(port, "GET", "/terms/nosuchterm")
        check.expect("GET /terms/nosuchterm", 404, unknown.outcome,
                     hint="in getChild, return pages.notFound() for a name that is not in the glossary")
        below = fetch(port, "GET", "/terms/reactor/extra")
        check.expect("GET /terms/reactor/extra (nothing below a term)", 404, below.outcome,
                     hint="a TermPage that called super().__init__() has no children, so the default "
                          "getChild answers 404; without that call Twisted fails with AttributeError "
                          "'children' (a 500), and with isLeaf = True it would answer 200")
        posted = fetch(port, "POST", "/terms/reactor", body=b"")
        check.expect("POST /terms/reactor", (405, True), (posted.outcome, "GET" in (posted.header("allow") or "")),
                     hint="define render_GET (not render): Twisted then answers other methods with 405 "
                          "and an Allow header by itself")
        server_health(check, served)


# --- 4.5 the blog's save page -----------------------------------------------------------------------------------

SCHEMA = ("CREATE TABLE IF NOT EXISTS posts (post_id INTEGER PRIMARY KEY AUTOINCREMENT, "
          "title TEXT NOT NULL, body TEXT)")


def _rows(path: Path) -> list[tuple]:
    """Read the posts with sqlite3 directly: an independent look at what reached the file."""
    with contextlib.closing(sqlite3.connect(path, timeout=limits.CATCH_UP)) as db:
        return db.execute("SELECT title, body FROM posts ORDER BY post_id").fetchall()


def _pool(path, timeout: float = limits.DATABASE_LOCK):
    from twisted.enterprise import adbapi

    return adbapi.ConnectionPool("sqlite3", str(path), check_same_thread=False, timeout=timeout,
                                 cp_min=1, cp_max=2)


def _close_pool(pool) -> None:
    try:
        react(lambda reactor: pool.close(), timeout=limits.CLEANUP)
    except Exception:
        pass


def _saved(reply: Reply) -> tuple:
    where = urljoin("/save", reply.header("location") or "") if reply.header("location") else None
    return ("a redirect" if reply.status in (301, 302, 303, 307) else reply.outcome, where)


def check_blog_save(save_page_class) -> None:
    """Exercise 4.5: ``save_page_class(db)`` is the blog's ``/save``: ``POST`` with ``title`` and ``body`` stores
    them through the ``adbapi`` pool ``db`` with parameters, then redirects to ``./``; a missing, blank or
    too long (over 200 characters) title is 400; a database error is a 500 page, and the server goes on."""
    with Check("the save page stores posts safely, refuses bad ones, and survives database trouble",
               hint="d = self.db.runOperation('INSERT INTO posts (title, body) VALUES (?, ?)', (title, body)); "
                    "d.addCallbacks(self.saved, self.failed, callbackArgs=(request,), errbackArgs=(request,)); "
                    "return server.NOT_DONE_YET. saved: request.redirect(b'./'); request.finish(). failed: "
                    "request.setResponseCode(500), write a page, request.finish()") as check:
        folder = check.temporary_folder("check-blog-")
        path = folder / "blog.db"
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(SCHEMA)
            db.commit()
        pools, started = [], []

        def start(database_path):
            pool = _pool(database_path)
            pools.append(pool)
            check.on_exit(_close_pool, pool)
            root = resource.Resource()
            root.putChild(b"save", save_page_class(pool))
            served = check.serve(root, "check-blog-save")
            started.append(served)
            return served

        served = start(path)
        post = lambda body: fetch(served.port, "POST", "/save", body=body, headers=FORM_HEADERS)  # noqa: E731
        title, body = "Bobby'); DROP TABLE posts;--", "<b>bold</b> & \"quoted\""
        first = post(form(title=title, body=body))
        if unwritten(check, served):
            return
        check.expect("a post with SQL and HTML in it", ("a redirect", "/"), _saved(first),
                     sent=form(title=title, body=body),
                     hint="the insert failed: with SQL built by % or an f-string, the quote in the title ends "
                          "the string early. Bind the values: runOperation('INSERT ... VALUES (?, ?)', "
                          "(title, body))" if first.status == 500 else
                          "after the insert: request.redirect(b'./') (303 or 302 to the home page), then "
                          "request.finish()")
        check.expect("what reached the database, exactly", [(title, body)], _rows(path),
                     hint="bind the values: runOperation('INSERT ... VALUES (?, ?)', (title, body)); never "
                          "build SQL with % or f-strings")
        for sent, what in ((form(body="no title"), "no title"), (form(title="   ", body="x"), "a blank title"),
                           (form(title="x" * (MAX_TITLE_CHARS + 1)), "a 201-character title")):
            reply = post(sent)
            check.expect(f"{what}: 400", 400, reply.outcome, sent=short(sent, 60),
                         hint="check the title before touching the database: missing, blank (after strip()) "
                              "or longer than 200 characters is request.setResponseCode(400)")
        check.expect("nothing invalid was stored", 1, len(_rows(path)))
        odd = post(b"title=%FF&body=x")
        check.expect("a title that is not UTF-8 gets an answer, not a crash", "a redirect or 400",
                     odd.outcome, ok=odd.status in (301, 302, 303, 307, 400), sent=b"title=%FF&body=x",
                     hint="decode form values with .decode('utf-8', 'replace')")
        count = len(_rows(path))
        locker = sqlite3.connect(path, timeout=0)
        try:
            locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
            locked = post(form(title="while locked", body="x"))
        finally:
            locker.rollback()
            locker.close()
        check.expect("a locked database: 500, in good time", 500, locked.outcome,
                     hint="add an errback to the Deferred from runOperation that sets 500, writes a page "
                          "and finishes the request; without it the browser waits forever")
        check.expect("a locked database: nothing half-saved", count, len(_rows(path)))
        after = post(form(title="after the lock", body="y"))
        check.expect("once the lock is gone, saving works again", ("a redirect", "/"), _saved(after))
        served.stop()
        _close_pool(pools[-1])
        served = start(path)  # the same file, a new server and pool: a restart
        restarted = post(form(title="after a restart", body="z"))
        check.expect("after a restart, on the same file", ("a redirect", "/"), _saved(restarted))
        titles = [row[0] for row in _rows(path)]
        check.expect("every saved post is still there", [title, "after the lock", "after a restart"],
                     [t for t in titles if t != "\ufffd"])
        server_health(check, served, *(earlier.log.text for earlier in started), expected=("OperationalError",))
        served.stop()
        served = start(folder / "missing-folder" / "blog.db")
        missing = post(form(title="nowhere to go", body="x"))
        check.expect("a database file that cannot be opened: 500", 500, missing.outcome)
        server_health(check, served, expected=("OperationalError",))


# --- 4.6 proxies ------------------------------------------------------------------------------------------------

def check_polite_proxy(request_class) -> None:
    """Exercise 4.6: a ``proxy.ProxyRequest`` subclass that forwards ``http://`` requests for hosts in
    ``allowed_hosts``, answers 403 for other hosts (without connecting), and 400 with an HTML page for a request
    that is not a proxy request (a browser that opened the proxy's own address) or not ``http://``."""
    with Check("your proxy forwards what it may, and answers the rest itself",
               hint="in process(): parsed = urllib.parse.urlsplit(self.uri); if parsed.scheme != b'http' -> 400 "
                    "page; elif parsed.hostname not in self.allowed_hosts -> 403; else "
                    "super().process()") as check:
        origin_site = servers.web.site()
        origin = check.serve(origin_site, "check-proxy-origin")
        served = check.serve(proxy_factory(request_class), "check-polite-proxy")
        printed = []
        hello, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
        printed.append(out)
        if unwritten(check, served, out):
            return
        check.expect("GET /hello of the origin, through the proxy", (200, servers.web.HELLO_HTML),
                     (hello.outcome, hello.body))
        check.expect("the origin saw the request", ["/hello"], [r.path for r in origin_site.requests])
        missing, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/nowhere")
        printed.append(out)
        check.expect("the origin's 404 comes back as it is", 404, missing.outcome)
        origin_site.clear_requests()
        other, out = via_proxy(served.port, f"http://127.0.0.2:{origin.port}/hello")
        printed.append(out)
        check.expect("a host that is not allowed (127.0.0.2)", 403, other.outcome,
                     hint="compare the URI's host with self.allowed_hosts before forwarding; a 501 means "
                          "the proxy tried to connect")
        direct = converse(served.port, b"GET / HTTP/1.0\r\n\r\n")
        check.expect("a browser opening the proxy's own address (GET / HTTP/1.0)", b"HTTP/1.0 400",
                     direct[:12], sent=b"GET / HTTP/1.0\r\n\r\n",
                     ok=re.match(rb"HTTP/1\.[01] 400", direct) is not None,
                     hint="a request whose URI does not start with http:// is not for a proxy: answer 400 "
                          "with a page that says how to use the proxy")
        check.expect("... gets an HTML page", True, b"<" in direct.partition(b"\r\n\r\n")[2],
                     ok=b"<" in direct.partition(b"\r\n\r\n")[2])
        ftp = converse(served.port, f"GET ftp://127.0.0.1:{origin.port}/ HTTP/1.0\r\n\r\n".encode())
        check.expect("an ftp:// URI", b"HTTP/1.0 400", ftp[:12], ok=re.match(rb"HTTP/1\.[01] 400", ftp) is not None)
        check.expect("nothing was forwarded for the refused requests", [],
                     [r.path for r in origin_site.requests])
        again, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
        printed.append(out)
        check.expect("after all that, the proxy still forwards", 200, again.outcome)
        check.show(served.transcript)
        server_health(check, served, *printed)


def check_title_proxy(factory_class) -> None:
    """Exercise 4.6 (continued): ``factory_class()`` is an HTTPFactory for a proxy whose ``ProxyClient`` feeds
    every ``text/html`` response through a title parser as it passes and appends ``(url, title)`` to the
    factory's ``titles``; every response reaches the client unchanged."""
    with Check("your proxy records the title of every HTML page it passes on, and changes nothing",
               hint="handleHeader: make a TitleParser when the content type is text/html; handleResponsePart: "
                    "feed it every piece; handleResponseEnd: record (self.father.uri.decode(), parser.close()) "
                    "once, then call the ProxyClient method you override in each case") as check:
        origin = check.serve(title_origin(), "check-title-origin")
        factory = factory_class()
        served = check.serve(factory, "check-title-proxy")
        printed: list[str] = []
        base = f"http://127.0.0.1:{origin.port}"
        for path in ("/hello", "/split", "/notes.txt", "/gone"):
            direct = fetch(origin.port, "GET", path)
            reply, out = via_proxy(served.port, base + path)
            printed.append(out)
            if unwritten(check, served, out):
                return
            if logged_error(out):  # the proxy's code raised: say so rather than compare what is left
                check.expect(f"GET {path} through the proxy", "no exception in the proxy",
                             f"{reply.summary} with {len(reply.body)} bytes; the proxy raised "
                             f"{logged_error(out)}", ok=False,
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
        server_health(check, served, *printed)
