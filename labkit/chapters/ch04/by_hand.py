"""Chapter 4's checks for HTTP spoken by the learner's own code: 4.1 (a LineReceiver that answers HTTP) and 4.2
(an ``http.Request`` subclass). Both are served on loopback and driven with ``http.client`` and a raw socket."""

from __future__ import annotations

import random
import re

from twisted.internet import protocol

from labkit.checks import Check, converse, limits, logged_error, server_health, short, unwritten
from labkit.checks.talk import conversation
from labkit.checks.web import fetch, http_factory

__all__ = ["check_http_by_hand", "check_request_handler"]


# --- 4.1 HTTP by hand -------------------------------------------------------------------------------------------

def _unreadable(served) -> str:
    """When ``http.client`` could not read an answer: how the raw answer began, for the hint."""
    first = converse(served.port, b"GET / HTTP/1.0\r\n\r\n").split(b"\r\n", 1)[0]
    return (f"http.client could not read the answer, which began {short(first, 60)}: an answer is a status line "
            "(HTTP/1.0 200 OK), header lines, an empty line, then the body")


def check_http_by_hand(protocol_class) -> None:
    """Exercise 4.1: a LineReceiver that answers HTTP itself: ``GET /`` is 200 ``Hello HTTP world!`` (text/plain,
    exact Content-Length), another path 404 naming it, another method 405 with ``Allow: GET``, a request line
    that is not ``METHOD PATH VERSION`` 400; every response closes the connection."""
    with Check("your hand-written server answers 200, 404, 405 and 400 with correct status lines and headers",
               start="in respond, write the status line with self.sendLine(b'HTTP/1.0 200 OK'), then headers, "
                     "an empty line and the body") as check:
        served = check.serve(protocol.ServerFactory.forProtocol(protocol_class), "check-http-by-hand")
        home = fetch(served.port, "GET", "/")
        if unwritten(check, served):
            return
        raised = logged_error(served.log.text)
        crashed = f"the server raised {raised}" if raised else ""
        refused = ("a GET was refused with 405: the request line is bytes, so compare the method with bytes"
                   if home.status == 405 else "")
        if not check.expect("GET / status", 200, home.outcome, sent="GET / HTTP/1.1",
                            hint=crashed or refused or (_unreadable(served) if home.status is None else "")):
            check.show(served.transcript)  # the rest would only repeat it
            return
        raw = conversation(served.port, b"GET / HTTP/1.0\r\n\r\n", settle=limits.REPLY)  # the whole body: to the close
        head, _, raw_body = raw.received.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        check.expect("GET / Content-Length matches the body", len(raw_body), int(length.group(1)) if length else None,
                     sent=b"GET / HTTP/1.0", hint="Content-Length counts the bytes of the body, exactly")
        check.expect("GET / body", b"Hello HTTP world!", home.body)
        check.expect("GET / Content-Type", "text/plain", (home.header("content-type") or "").split(";")[0])
        name = f"/missing-{random.randrange(10**6)}"
        missing = fetch(served.port, "GET", name)
        check.expect("GET /missing-N status", 404, missing.outcome)
        check.expect("the 404 body names the path", True, missing.has(name.encode()), ok=missing.has(name.encode()),
                     hint="the 404 page says which path it did not find")
        posted = fetch(served.port, "POST", "/", body=b"")
        check.expect("POST / status", 405, posted.outcome,
                     hint="a method other than GET gets 405 Method Not Allowed")
        check.expect("POST / has an Allow header naming GET", "GET", posted.header("allow"),
                     ok="GET" in (posted.header("allow") or ""),
                     hint="a 405 answer says which methods the page takes, in an Allow header")
        garbage = conversation(served.port, b"HELLO\r\n\r\n", settle=limits.REPLY)
        first_line = garbage.received.split(b"\r\n", 1)[0]
        raised = logged_error(served.log.text)
        check.expect("a request line that is not METHOD PATH VERSION gets 400", b"HTTP/1.0 400 Bad Request",
                     first_line, sent=b"HELLO\r\n\r\n",
                     ok=re.match(rb"HTTP/1\.[01] 400\b", first_line) is not None,
                     hint=f"the server raised {raised} on it" if raised else
                     "a request line that does not split into exactly three parts gets 400 Bad Request")
        check.expect("the server hung up after answering", True, garbage.hung_up,
                     hint="this server answers one request per connection: it closes the connection after the "
                          "body, so the client knows the answer is complete")
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
               start="in process, self.write the page for self.path, then self.finish()") as check:
        pages = dict(getattr(request_class, "pages", {}) or {})
        served = check.serve(http_factory(request_class), "check-request-handler")
        statuses = []
        for key, page in pages.items():
            path = key.decode("utf-8") if isinstance(key, bytes) else str(key)
            reply = fetch(served.port, "GET", path)
            statuses.append(reply.status)
            expected = page if isinstance(page, bytes) else str(page).encode("utf-8")
            check.expect(f"GET {path}", (200, expected), (reply.outcome, reply.body),
                         hint="the response never ended: a Request is answered only when self.finish() is called"
                         if reply.status is None else reply.answered_500())
        str_keys = pages and all(status == 404 for status in statuses) and any(isinstance(k, str) for k in pages)
        home = fetch(served.port, "GET", "/")
        check.expect("Content-Type of a page", "text/html",
                     (home.header("content-type") or "(none)").split(";")[0],
                     hint="the pages are HTML: say so in a Content-Type header, set before the first write")
        query = fetch(served.port, "GET", "/test?colour=blue")
        check.expect("GET /test?colour=blue finds /test", 200, query.outcome,
                     hint="look pages up by self.path, which leaves out the ?query (self.uri has it)")
        missing = fetch(served.port, "GET", "/nowhere")
        check.expect("GET /nowhere status", 404, missing.outcome)
        check.expect("the 404 page names the path", True, missing.has(b"/nowhere"),
                     ok=missing.has(b"/nowhere"), hint="the 404 page says which path it did not find")
        sneaky = fetch(served.port, "GET", "/<script>alert(1)</script>")
        check.expect("a path with HTML in it is escaped on the 404 page", b"&lt;script&gt;",
                     short(sneaky.body, 300), ok=sneaky.has(b"&lt;script&gt;") and b"<script>" not in sneaky.body,
                     sent="GET /<script>alert(1)</script>",
                     hint="the path came back in the page as HTML: escape what you echo (html.escape)")
        posted = fetch(served.port, "POST", "/", body=b"")
        check.expect("POST / status", 405, posted.outcome,
                     hint="a method other than GET or HEAD gets 405 Method Not Allowed")
        allow = posted.header("allow") or ""
        check.expect("POST / has Allow: GET, HEAD", "GET, HEAD", allow or None,
                     ok="GET" in allow and "HEAD" in allow,
                     hint="a 405 answer names the methods the page takes in an Allow header")
        head = fetch(served.port, "HEAD", "/")
        check.expect("HEAD / status and body", (200, b""), (head.outcome, head.body),
                     hint="HEAD asks for what GET would answer, without the body: answer it as GET (Twisted "
                          "leaves the body out itself)")
        server_health(check, served)
        if str_keys:
            check.hint = ("every page answered 404: on Python 3 self.path is bytes (b'/'), and b'/' never "
                          "equals the str key '/'. Make the keys of pages bytes: {b'/': ..., b'/test': ...}; "
                          "then answer other methods with 405")
