"""The practice web sites against HTTP's RFCs (RFC 9110 semantics, RFC 9112 HTTP/1.1 messages, RFC 6585's 431),
over raw sockets and http.client (the independent clients are in test_web_clients.py).

The table: each row is one requirement, named by its section, run against every site that serves HTTP pages
(``web``, chapter 3's practice site; ``lucky``, chapter 8's search; ``wiki``, chapter 5's REST wiki; ``rss``,
chapter 9's feeds). Malformed input always gets a status line (a 4xx with a page, never a 500, never a close
without an answer, nothing in the server's error log), and what a site does not do it does not advertise (Allow,
Accept-Ranges). Chapter 2's tiny HTTP/1.0 responder (``http``) has rows of its own, in test_tcp_http_conformance.py.
Then the refusal of a body
the client is still sending: the client reads the 413 (a lingering close), and the server reads only a bounded
amount more.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import socket
from dataclasses import dataclass
from datetime import timedelta

import pytest

import labkit
from servers import web
from servers.web.lingering import LINGER_BYTES, LINGER_SECONDS
from tests.raw_http import WAIT, allowed, ask, exchange, has_date, page_with_date, parse, trouble


@dataclass(frozen=True)
class Site:
    """What the table needs to know of a site: a page that takes GET, a path that does not exist, a page with
    validators (or None), and a request that takes a body (or None: then a body goes to the page, which refuses
    the method)."""

    name: str
    page: str
    missing: str
    validated: str | None = None
    takes_body: tuple[str, str, bytes] | None = None  # (method, path, a body it accepts)
    fixed: tuple[tuple[str, ...], ...] = ()  # (path, *headers): pages whose content has a fixed moment
    fresh: tuple[tuple[str, str, tuple[str, ...], bytes], ...] = ()  # (method, path, headers, body): claims no date


NOTE_FORM = b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n'
LEARNER = "Authorization: Basic " + base64.b64encode(f"{web.USERNAME}:{web.PASSWORD}".encode()).decode()
SITES = {
    "web": Site("web", "/hello", "/nowhere", "/news", ("POST", "/check", NOTE_FORM),
                fixed=(("/",), ("/hello",), ("/big",), ("/check",), ("/private", LEARNER), ("/slow/sized?duration=0",),
                       ("/slow/chunked?duration=0",)),
                fresh=(("POST", "/check", ("Content-Type: multipart/form-data; boundary=b",), NOTE_FORM),)),
    "lucky": Site("lucky", "/pages/twisted", "/nowhere", fixed=(("/",), ("/pages/twisted",), ("/pages/imap",)),
                  fresh=(("GET", "/lucky?q=twisted", (), b""),)),
    "rss": Site("rss", "/rss/twisted", "/rss/nowhere", fresh=(("GET", "/hits", (), b""),)),
    "wiki": Site("wiki", "/WikiHome", "/NoSuchPage", "/WikiHome", ("PUT", "/FromChunks", b"Hello, in pieces."),
                 fresh=(("GET", "/WikiHome", (), b""),)),  # editable: validated by its ETag, never by a date
}
BODY_TYPES = {"web": "multipart/form-data; boundary=b", "wiki": "text/plain; charset=utf-8"}


@pytest.fixture(params=sorted(SITES))
def site(request):
    """(Site, server) for one practice site, served for this test only."""
    server = labkit.serve(request.param, name=f"conformance-{request.param}", show=False)
    yield SITES[request.param], server
    server.stop()


# --- the table: one requirement a row -------------------------------------------------------------------------------

def head_is_get_without_content(site: Site, port: int):
    for path in (site.page, site.missing) + ((site.validated,) if site.validated else ()):
        got, headed = ask(port, "GET", path), ask(port, "HEAD", path)
        assert headed.status == got.status and headed.body == b""
        assert {k: v for k, v in headed.headers.items() if k != "date"} == \
               {k: v for k, v in got.headers.items() if k != "date"}, path
        assert int(headed.headers["content-length"]) == len(got.body), path


def refused_method_gets_405_with_allow(site: Site, port: int):
    for method in ("PATCH", "POST", "PUT", "DELETE"):
        answer = ask(port, method, site.page, body=b"x=1")
        if answer.status != 405:
            continue
        methods = allowed(answer)
        assert {"GET", "HEAD"} <= methods and method not in methods and has_date(answer), answer.headers
        for other in methods - {"HEAD", "GET", "OPTIONS"}:  # an advertised method is never 405 (nor 501)
            assert ask(port, other, site.page, body=b"x=1").status not in (405, 501), other
        return
    pytest.fail(f"{site.page} takes PUT, DELETE, PATCH and POST: pick another page for this row")


def options_lists_what_a_page_takes(site: Site, port: int):
    answer = ask(port, "OPTIONS", site.page)
    if answer.status in (405, 501):  # allowed (section 9.1): OPTIONS not implemented, and not said to be
        assert "OPTIONS" not in allowed(answer) and has_date(answer)
    else:
        assert answer.status in (200, 204) and {"GET", "HEAD", "OPTIONS"} <= allowed(answer), answer
        for method in allowed(answer) - {"OPTIONS"}:
            assert ask(port, method, site.page, body=b"x=1" if method in ("PUT", "POST") else b"").status != 405
    assert ask(port, "OPTIONS", "*").status == 200


def not_found_has_a_page(site: Site, port: int):
    page_with_date(ask(port, "GET", site.missing), 404)


def date_on_every_answer(site: Site, port: int):
    answers = [ask(port, "GET", site.page), ask(port, "GET", site.missing), ask(port, "DELETE", site.page),
               ask(port, "GARBAGE", "/", "Bad header"), ask(port, "PUT", site.page, f"Content-Length: {2 * 10**6}")]
    assert all(has_date(answer) for answer in answers), [(a.status, a.headers) for a in answers]


def text_says_its_charset(site: Site, port: int):
    for path in (site.page, site.missing):
        kind = ask(port, "GET", path).headers.get("content-type", "")
        assert not kind.startswith("text/") or "charset=" in kind, (path, kind)


def last_modified_answers_if_modified_since(site: Site, port: int):
    path = site.validated or site.page
    full = ask(port, "GET", path)
    modified = full.headers.get("last-modified")
    if modified is None:  # no date to compare with: the condition is ignored (never a 304 the client cannot check)
        answer = ask(port, "GET", path, "If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT")
        assert (answer.status, answer.body) == (200, full.body)
        return
    assert email.utils.parsedate_to_datetime(modified).tzname() == "UTC"
    for method in ("GET", "HEAD"):
        same = ask(port, method, path, f"If-Modified-Since: {modified}")
        assert same.status == 304 and same.body == b"" and has_date(same)
        assert same.headers.get("etag") == full.headers.get("etag") and "content-length" not in same.headers
    assert ask(port, "GET", path, "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT").status == 200
    assert ask(port, "GET", path, "If-Modified-Since: yesterday").status == 200  # not a date: ignored


def fixed_pages_answer_if_modified_since(site: Site, port: int):
    assert site.fixed or site.fresh, f"{site.name}: list its fixed pages, or its pages that claim no date"
    for path, *headers in site.fixed:
        full = ask(port, "GET", path, *headers)
        modified = full.headers.get("last-modified")
        assert full.status == 200 and modified, (path, full.status, full.headers)
        for method in ("GET", "HEAD"):
            same = ask(port, method, path, *headers, f"If-Modified-Since: {modified}")
            assert (same.status, same.body, same.headers.get("last-modified")) == (304, b"", modified), (method, path)
            assert has_date(same) and "content-length" not in same.headers, (method, path, same.headers)
        earlier = email.utils.format_datetime(email.utils.parsedate_to_datetime(modified) - timedelta(seconds=1),
                                              usegmt=True)
        assert ask(port, "GET", path, *headers, f"If-Modified-Since: {earlier}").body == full.body, path
        # If-None-Match present (and naming no tag of this page): If-Modified-Since is not consulted
        assert ask(port, "GET", path, *headers, 'If-None-Match: "other"', f"If-Modified-Since: {modified}"
                   ).status == 200, path
    for method, path, headers, body in site.fresh:  # built per request or editable: no date to claim, never a 304
        answer = ask(port, method, path, *headers, "If-Modified-Since: Sat, 01 Jan 2050 00:00:00 GMT", body=body)
        assert answer.status != 304 and "last-modified" not in answer.headers, (method, path, answer.headers)


def etag_answers_if_none_match(site: Site, port: int):
    if site.validated is None:
        assert "etag" not in ask(port, "GET", site.page).headers
        return
    tag = ask(port, "GET", site.validated).headers["etag"]
    opaque = tag.removeprefix("W/")
    for condition in (opaque, f"W/{opaque}", f'"other", {tag}', f'{tag}, "other"', "*"):  # weak comparison, lists
        answer = ask(port, "GET", site.validated, f"If-None-Match: {condition}")
        assert answer.status == 304 and answer.body == b"" and answer.headers["etag"] == tag, condition
        assert has_date(answer) and "content-length" not in answer.headers
    changed = ask(port, "GET", site.validated, 'If-None-Match: "other"', "If-Modified-Since: Sat, 01 Jan 2050 "
                                                                         "00:00:00 GMT")
    assert changed.status == 200  # If-None-Match present: If-Modified-Since is ignored (section 13.2.2)


def range_only_when_advertised(site: Site, port: int):
    full = ask(port, "GET", site.page)
    ranged = ask(port, "GET", site.page, "Range: bytes=0-9")
    if "bytes" in full.headers.get("accept-ranges", ""):
        assert ranged.status == 206 and ranged.body == full.body[:10] and ranged.headers["content-range"]
    else:  # not advertised: the Range header is ignored, the whole page comes
        assert (ranged.status, ranged.body) == (200, full.body) and "content-range" not in ranged.headers


def http11_keeps_the_connection(site: Site, port: int):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        for path in (site.page, site.missing, site.page):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert not response.will_close, path
        assert connection.sock is not None
    finally:
        connection.close()


def connection_close_closes_after_the_answer(site: Site, port: int):
    request = f"GET {site.page} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET {site.page} HTTP/1.1\r\n\r\n"
    answer, after = parse(exchange(port, request.encode()))
    assert answer.status == 200 and "close" in answer.headers.get("connection", "") and after == b""


def http10_gets_one_answer_then_a_close(site: Site, port: int):
    for asked in ("", "Connection: keep-alive\r\n"):  # a server that keeps a 1.0 connection must say so; this closes
        data = exchange(port, f"GET {site.page} HTTP/1.0\r\n{asked}\r\n".encode())
        answer, after = parse(data)
        assert answer.status == 200 and after == b"" and "keep-alive" not in answer.headers.get("connection", "")
        assert len(answer.body) == int(answer.headers.get("content-length", len(answer.body)))


def chunked_body_is_read_to_its_end(site: Site, port: int):
    method, path, body = site.takes_body or ("POST", site.page, b"x=1")
    kind = BODY_TYPES.get(site.name, "application/x-www-form-urlencoded")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7]) for i in range(0, len(body), 7))
    request = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\n\r\n"
               .encode() + chunks + b"0\r\n\r\n" + f"GET {site.page} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               .encode())
    first, rest = parse(exchange(port, request))
    second, _ = parse(rest)
    assert first.status in ((200, 201) if site.takes_body else (405,)), first
    assert second.status == 200  # the body ended where its last chunk said: the next request was read as one


def expect_100_continue(site: Site, port: int):
    method, path, body = site.takes_body or ("POST", site.page, b"x=1")
    kind = BODY_TYPES.get(site.name, "application/x-www-form-urlencoded")
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                     "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode())
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
        sock.sendall(body)
        final = b""
        while chunk := sock.recv(65536):
            final += chunk
    assert parse(final)[0].status in ((200, 201) if site.takes_body else (405,))
    too_big = exchange(port, f"PUT {site.page} HTTP/1.1\r\nHost: x\r\nContent-Length: {2 * 10**6}\r\n"
                             "Expect: 100-continue\r\n\r\n".encode())
    assert b"100 Continue" not in too_big and parse(too_big)[0].status == 413  # refused before the body is sent


def host_is_required_once(site: Site, port: int):
    for headers in ((), ("Host: a", "Host: b")):
        lines = "".join(f"{h}\r\n" for h in headers)
        answer, _ = parse(exchange(port, f"GET {site.page} HTTP/1.1\r\n{lines}Connection: close\r\n\r\n".encode()))
        page_with_date(answer, 400)
    answer, _ = parse(exchange(port, f"GET {site.page} HTTP/1.0\r\n\r\n".encode()))
    assert answer.status == 200  # HTTP/1.0 may leave Host out


def absolute_form_is_accepted(site: Site, port: int):
    answer = ask(port, "GET", f"http://127.0.0.1:{port}{site.page}")
    assert (answer.status, answer.body) == (200, ask(port, "GET", site.page).body)


def overlong_lines_get_414_and_431(site: Site, port: int):
    page_with_date(ask(port, "GET", "/" + "a" * 20_000), 414)
    page_with_date(ask(port, "GET", site.page, "X-Long: " + "a" * 20_000), 431)


MALFORMED = {  # request -> what RFC 9112 says it is
    "a request line that is not one": b"HELLO\r\n\r\n",
    "an unknown HTTP version": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    "a header without a colon": b"GET / HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n",
    "whitespace before a header's colon (section 5.1)": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "a NUL in a header value": b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "a Content-Length that is not a number": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    "a negative Content-Length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "both Content-Length and chunked (section 6.3)":
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "a chunk size that is not hex": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    "a transfer coding it does not know (section 6.1: 501 or 400)":
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    "600 header lines": b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: a\r\n" * 600 + b"\r\n",
}


def malformed_requests_get_400_with_a_page(site: Site, port: int):
    for what, request in MALFORMED.items():
        data = exchange(port, request)
        assert data, f"{what}: the server closed without an answer"
        answer, _ = parse(data)
        assert answer.status in (400, 501), (what, answer.status)
        page_with_date(answer, answer.status)


ODD_TARGETS = ["/%ff%fe", "/%00", "//", "/./x/../", "/..%2f..%2fetc%2fpasswd", "/?%zz=%%&&=", "/lucky?q=%ff",
               "/pages/%c3%a9", "/rss/%ff", "/api/pages/%ff", "/" + "%41" * 3000]


def odd_targets_get_an_answer_not_an_error(site: Site, port: int):
    for target in ODD_TARGETS:
        answer = ask(port, "GET", target)
        assert answer.status < 500, (target, answer.status, answer.body[:300])
        assert has_date(answer), target


TABLE = {  # requirement (RFC and section) -> the check
    "RFC 9110 9.3.2 HEAD is GET without content": head_is_get_without_content,
    "RFC 9110 15.5.6 405 names the methods in Allow, each of which works": refused_method_gets_405_with_allow,
    "RFC 9110 9.3.7 OPTIONS gives Allow (or 405/501 without OPTIONS in it)": options_lists_what_a_page_takes,
    "RFC 9110 15.5.5 404 comes with a page": not_found_has_a_page,
    "RFC 9110 6.6.1 Date on every answer, refusals included": date_on_every_answer,
    "RFC 9110 8.3 text says its charset": text_says_its_charset,
    "RFC 9110 13.1.3 If-Modified-Since gives 304 without content": last_modified_answers_if_modified_since,
    "RFC 9110 8.8.2 fixed pages send Last-Modified and 304 when unchanged, others claim no date":
        fixed_pages_answer_if_modified_since,
    "RFC 9110 13.1.2 If-None-Match compares weakly, lists included": etag_answers_if_none_match,
    "RFC 9110 14.2 Range only where Accept-Ranges says so": range_only_when_advertised,
    "RFC 9112 9.3 HTTP/1.1 connections persist": http11_keeps_the_connection,
    "RFC 9112 9.6 Connection: close ends it after the answer": connection_close_closes_after_the_answer,
    "RFC 9112 9.3 HTTP/1.0 gets one answer, then a close": http10_gets_one_answer_then_a_close,
    "RFC 9112 7.1 a chunked body is read to its last chunk": chunked_body_is_read_to_its_end,
    "RFC 9110 10.1.1 Expect: 100-continue gets 100, or the refusal first": expect_100_continue,
    "RFC 9112 3.2 Host exactly once in HTTP/1.1, else 400": host_is_required_once,
    "RFC 9112 3.2.2 the absolute form is accepted": absolute_form_is_accepted,
    "RFC 9112 3 / RFC 6585 5 over-long lines get 414 and 431": overlong_lines_get_414_and_431,
    "RFC 9112 malformed requests get 400 with a page, never a 500 or a silent close":
        malformed_requests_get_400_with_a_page,
    "RFC 3986 odd but well-formed targets get an answer, never a 500": odd_targets_get_an_answer_not_an_error,
}


@pytest.mark.parametrize("requirement", list(TABLE))
def test_practice_sites_meet_http(site, requirement):
    description, server = site
    TABLE[requirement](description, server.port)
    assert trouble(server) == []  # nothing of it was an error on the server's side


# --- refusing a body the client is still sending: a lingering close -------------------------------------------------

MB = 1_000_000


@pytest.mark.parametrize("name, path", [("web", "/check"), ("wiki", "/Big")])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_raw_client_sending_2_mb_reads_the_413(name, path, chunked):
    server = labkit.serve(name, name=f"conformance-{name}-413", show=False)
    body = b"x" * (2 * MB)
    framing, sent = ((b"Transfer-Encoding: chunked", b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) if chunked
                     else (b"Content-Length: %d" % len(body), body))
    for _ in range(3):  # the answer used to be lost only some of the time
        answer, _ = parse(exchange(server.port, b"PUT %s HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n"
                                   % (path.encode(), framing) + sent))
        page_with_date(answer, 413)
    assert ask(server.port, "GET", SITES[name].page).status == 200 and trouble(server) == []


def test_the_lingering_close_reads_a_bounded_amount():
    server = labkit.serve("web", name="conformance-linger", show=False)
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as sock:
        sock.sendall(b"PUT /check HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (10 * LINGER_BYTES))
        with pytest.raises(OSError):  # reset, broken pipe or a timeout once the server stops reading
            while sent < 10 * LINGER_BYTES:
                sent += sock.send(b"x" * 65536)
    assert sent < 3 * LINGER_BYTES, f"the server read {sent} bytes after refusing the body"
    assert ask(server.port, "GET", "/hello").status == 200


def test_a_client_that_stops_sending_gets_the_413_and_a_close():
    server = labkit.serve("web", name="conformance-linger-idle", show=False)
    data = exchange(server.port, b"PUT /check HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nabc" % (2 * MB),
                    wait=LINGER_SECONDS * 3)
    page_with_date(parse(data)[0], 413)


def test_a_request_refused_twice_over_gets_one_answer():
    """A chunked body past the ceiling, then a malformed chunk: the 413 is the only answer (nothing more parsed)."""
    server = labkit.serve("web", name="conformance-one-answer", show=False)
    chunk = b"x" * (MB + 1)
    data = exchange(server.port, b"PUT /check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + b"%x\r\n%s\r\nzz\r\nnot a chunk\r\n" % (len(chunk), chunk))
    answer, after = parse(data)
    page_with_date(answer, 413)
    assert after == b"" and trouble(server) == []
