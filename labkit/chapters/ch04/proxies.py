"""Chapter 4's checks for proxies (4.6a, 4.6b): the learner's proxy between ``ProxyAgent`` and a practice origin,
and what it forwards, refuses and records."""

from __future__ import annotations

import re

from labkit.checks import Check, converse, limits, logged_error, server_health, unwritten
from labkit.checks.proxy import proxy_factory, via_proxy
from labkit.checks.web import fetch

import servers.web
from servers.origins import title_origin

__all__ = ["check_polite_proxy", "check_title_proxy"]


# --- 4.6a and 4.6b proxies ------------------------------------------------------------------------------------------------

def check_polite_proxy(request_class) -> None:
    """Exercise 4.6a: a ``proxy.ProxyRequest`` subclass that forwards ``http://`` requests for hosts in
    ``allowed_hosts``, answers 403 for other hosts (without connecting), and 400 with an HTML page for a request
    that is not a proxy request (a browser that opened the proxy's own address) or not ``http://``."""
    with Check("your proxy forwards what it may, and answers the rest itself",
               start="in process, split self.uri (urllib.parse.urlsplit) and decide: refuse, or "
                     "super().process() to forward") as check:
        origin_site = servers.web.site()
        origin = check.serve(origin_site, "check-proxy-origin")
        served = check.serve(proxy_factory(request_class), "check-polite-proxy")
        printed = []
        hello, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
        printed.append(out)
        if unwritten(check, served, out):
            return
        check.expect("GET /hello of the origin, through the proxy", (200, servers.web.HELLO_HTML),
                     (hello.outcome, hello.body),
                     hint=f"an allowed host was refused with {hello.outcome}: self.uri is bytes, so compare "
                          "its host with the bytes in allowed_hosts" if hello.status in (400, 403) else "")
        check.expect("the origin saw the request", ["/hello"], [r.path for r in origin_site.requests])
        missing, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/nowhere")
        printed.append(out)
        check.expect("the origin's 404 comes back as it is", 404, missing.outcome)
        origin_site.clear_requests()
        other, out = via_proxy(served.port, f"http://127.0.0.2:{origin.port}/hello")
        printed.append(out)
        check.expect("a host that is not allowed (127.0.0.2)", 403, other.outcome,
                     hint="a host outside allowed_hosts was forwarded: compare the URI's host with "
                          "self.allowed_hosts before forwarding" if other.status in (200, 501, 502) else
                          "a host outside allowed_hosts gets 403 Forbidden")
        direct = converse(served.port, b"GET / HTTP/1.0\r\n\r\n", settle=limits.REPLY)  # HTTP/1.0: until the close
        check.expect("a browser opening the proxy's own address (GET / HTTP/1.0)", b"HTTP/1.0 400",
                     direct[:12], sent=b"GET / HTTP/1.0\r\n\r\n",
                     ok=re.match(rb"HTTP/1\.[01] 400", direct) is not None,
                     hint="a request whose URI does not start with http:// is not for a proxy: answer 400 "
                          "with a page that says how to use the proxy")
        check.expect("... gets an HTML page", True, b"<" in direct.partition(b"\r\n\r\n")[2],
                     ok=b"<" in direct.partition(b"\r\n\r\n")[2],
                     hint="the refusal is a page a browser shows: write an HTML body that says what to do")
        ftp = converse(served.port, f"GET ftp://127.0.0.1:{origin.port}/ HTTP/1.0\r\n\r\n".encode(),
                       settle=limits.REPLY)
        check.expect("an ftp:// URI", b"HTTP/1.0 400", ftp[:12], ok=re.match(rb"HTTP/1\.[01] 400", ftp) is not None,
                     sent=f"GET ftp://127.0.0.1:{origin.port}/ HTTP/1.0",
                     hint="this proxy speaks only http://: any other scheme gets 400")
        check.expect("nothing was forwarded for the refused requests", [],
                     [r.path for r in origin_site.requests])
        again, out = via_proxy(served.port, f"http://127.0.0.1:{origin.port}/hello")
        printed.append(out)
        check.expect("after all that, the proxy still forwards", 200, again.outcome)
        check.show(served.transcript)
        server_health(check, served, *printed)


def _titles_hint(recorded: list, base: str) -> str:
    """Why the titles recorded differ from the pages' titles, from what was recorded."""
    urls = [url for url, _ in recorded]
    if any(not isinstance(url, str) for url in urls):
        return "the URLs were recorded as bytes: a request's uri is bytes, decode it"
    if any(url.endswith("/notes.txt") for url in urls):
        return "a text/plain page got a title: only text/html responses get a parser"
    if f"{base}/split" not in urls:
        return "a page was missed: every text/html response gets a parser and is recorded at its end"
    titles = dict(recorded)
    if titles.get(f"{base}/split") != "Café au lait":
        return (f"/split arrives in several parts, with its title cut between them; recorded "
                f"{titles.get(base + '/split')!r}: feed one parser every part, and read the title after the last")
    return "each page is recorded once, when its response ends, in the order the pages were asked for"


def check_title_proxy(factory_class) -> None:
    """Exercise 4.6b: ``factory_class()`` is an HTTPFactory for a proxy whose ``ProxyClient`` feeds
    every ``text/html`` response through a title parser as it passes and appends ``(url, title)`` to the
    factory's ``titles``; every response reaches the client unchanged."""
    with Check("your proxy records the title of every HTML page it passes on, and changes nothing",
               start="in handleHeader, make a TitleParser when the Content-Type is text/html, and call "
                     "super().handleHeader(key, value)") as check:
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
            check.expect(f"GET {path} through the proxy: same status, type and body as directly",
                         (direct.status, direct.header("content-type"), direct.body),
                         (reply.status, reply.header("content-type"), reply.body),
                         hint="call the ProxyClient method you override (super().handleResponsePart(data) "
                              "...) so the data still reaches the browser")
        recorded = list(getattr(factory, "titles", []))
        check.expect("titles recorded, in order", [(base + "/hello", "Hello"), (base + "/split", "Café au lait"),
                                                   (base + "/gone", "Gone")], recorded,
                     hint=_titles_hint(recorded, base))
        check.show(served.transcript)
        server_health(check, served, *printed)
