"""The chapter 3 practice web site, fixture by fixture, over real HTTP: treq on the shared reactor, and the
stdlib (http.client, urllib) from the test thread as an independent peer."""

from __future__ import annotations

import base64
import http.client
import io
import socket
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
import treq
from twisted.internet import defer, error as net_error
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.web.client import UNKNOWN_LENGTH, ResponseNeverReceived
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.test.requesthelper import DummyChannel, DummyRequest

import labkit
import servers
from servers import web
from servers.web.bodies import BoundedRequest
from servers.web.lingering import LINGER_BYTES, LINGER_SECONDS
from servers.web.records import RequestLog
from servers.web.upload import KEPT_REPORTS
from tests.raw_http import exchange
from tests.standalone import standalone

SLOW_SIZE = 64 * 1024
SLOW_CHUNKS = 8
SLOW_DURATION = 0.4

GOOD_DOC = (b"<!DOCTYPE html>\n<html><head><title>Checked</title></head>\n"
            b"<body><p>fine</p><br><img src=x.png></body></html>\n")
BAD_DOC = b"<html><head></head>\n<body><div><p>one\n</span></body></html>\n"


@pytest.fixture
def served():
    """A fresh practice site per test, served through labkit (so behind the default Site labkit.serve makes)."""
    site = web.site(slow_size=SLOW_SIZE, slow_duration=SLOW_DURATION, slow_chunks=SLOW_CHUNKS)
    server = labkit.serve(site, name="test-web", show=False)
    yield site, server
    server.stop()


@pytest.fixture
def site(served):
    return served[0]


@pytest.fixture
def url(served):
    return served[1].url


@pytest.fixture
def address(served):
    return served[1].host, served[1].port


def fetch(method: str, url: str, **kwargs):
    """(response, body) for one treq request, made on the reactor thread."""

    async def go(reactor):
        response = await treq.request(method, url, **kwargs)
        return response, await treq.content(response)

    return labkit.react(go, timeout=10)


def stdlib(address, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(response, body) for one request made with http.client from the test thread."""
    conn = http.client.HTTPConnection(*address, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def header(response, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)  # a str name gives str values
    return None if values is None else values[0]


def multipart(parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = "pRaCtIcE-b0undary"):
    """A correct multipart/form-data body: (Content-Type, body)."""
    out = []
    for name, filename, content_type, data in parts:
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.append(f"--{boundary}\r\n{disposition}\r\n".encode())
        if content_type:
            out.append(f"Content-Type: {content_type}\r\n".encode())
        out.append(b"\r\n" + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(out)


def book_encode_form(fields: dict[str, bytes], boundary: str = "---abcdefghijklmnopqrst---") -> bytes:
    """The book's encodeForm (Example 3-4), ported: the bare boundary as delimiter lines, no closing line."""
    lines = [boundary.encode()]
    for key, value in fields.items():
        lines.append(f'Content-Disposition: form-data; name="{key}"; filename="{key}.html"'.encode())
        lines.append(value)
        lines.append(b"")
        lines.append(boundary.encode())
    return b"\r\n".join(lines)


# --- registration and the command line ---------------------------------------------------------------------------

def test_registered_as_web():
    assert "web" in servers.REGISTRY
    assert isinstance(servers.build("web"), web.PracticeSite)
    assert isinstance(servers.build("web", slow_duration=0.1), web.PracticeSite)


def test_python_m_servers_web_serves_hello():
    with standalone("web", "--port", "0") as server:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/hello", timeout=5) as response:
            assert response.status == 200
            assert response.read() == web.HELLO_HTML


# --- plain pages, 404, 500 ----------------------------------------------------------------------------------------

def test_index_links_every_fixture(url):
    response, body = fetch("GET", url)
    assert response.code == 200
    assert header(response, "content-type") == "text/html; charset=utf-8"
    for path in ["/hello", "/error", "/big", "/private", "/news", "/plain", "/check", "/slow/sized",
                 "/slow/chunked", "/redirect", "/never"]:
        assert f'href="{path[1:]}"'.encode() in body  # relative, so it holds below a proxy's prefix


def test_hello_is_the_fixed_page(url, address):
    response, body = fetch("GET", url + "hello")
    assert (response.code, body) == (200, web.HELLO_HTML)
    response, body = stdlib(address, "GET", "/hello")
    assert (response.status, body) == (200, web.HELLO_HTML)
    assert response.getheader("Content-Length") == str(len(web.HELLO_HTML))
    assert b"<title>Hello</title>" in body


@pytest.mark.parametrize("path", ["/nowhere", "/hello/x", "/hello/", "/slow", "/slow/other", "/big/deeper"])
def test_unknown_paths_are_html_404(url, address, path):
    response, body = fetch("GET", url + path.lstrip("/"))
    assert response.code == 404
    assert header(response, "content-type") == "text/html; charset=utf-8"
    assert b"<title>404 Not Found</title>" in body
    assert path.encode() in body
    response, body = stdlib(address, "POST", path, body=b"x=1",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 404 and b"404 Not Found" in body


def test_error_answers_500(url, address):
    response, body = fetch("GET", url + "error")
    assert response.code == 500
    assert b"<title>500 Internal Server Error</title>" in body
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url + "error", timeout=5)
    assert raised.value.code == 500
    raised.value.close()


def test_every_html_page_passes_the_practice_checker(url):
    for path in ["", "hello", "nowhere", "error", "private", "news", "plain", "check"]:
        _, body = fetch("GET", url + path)
        assert web.check_html(body).valid, (path, web.check_html(body).problems)


# --- /big ---------------------------------------------------------------------------------------------------------

def test_big_is_one_million_deterministic_bytes(url, address):
    response, body = fetch("GET", url + "big")
    assert response.code == 200
    assert response.length == 1_000_000 == web.BIG_SIZE
    assert len(body) == 1_000_000
    assert body == web.text_body(1_000_000)
    lines = body.split(b"\n")
    assert lines[0].startswith(b"line 00001 of 10000: ") and lines[-2].startswith(b"line 10000 of 10000: ")
    assert all(len(line) == 99 for line in lines[:-1]) and lines[-1] == b""
    response, again = stdlib(address, "GET", "/big")
    assert response.getheader("Content-Length") == "1000000" and again == body
    response, nothing = stdlib(address, "HEAD", "/big")
    assert response.status == 200 and response.getheader("Content-Length") == "1000000" and nothing == b""


# --- /private -----------------------------------------------------------------------------------------------------

def test_private_needs_basic_auth(site, url, address):
    response, body = fetch("GET", url + "private")
    assert response.code == 401
    assert response.headers.getRawHeaders("www-authenticate") == ['Basic realm="practice"']
    assert b"<title>401 Unauthorized</title>" in body

    response, _ = fetch("GET", url + "private", auth=(web.USERNAME, "wrong"))
    assert response.code == 401

    response, body = fetch("GET", url + "private", auth=(web.USERNAME, web.PASSWORD))
    assert (response.code, body) == (200, web.PRIVATE_HTML)

    token = base64.b64encode(b"learner:twisted").decode()
    response, body = stdlib(address, "GET", "/private", headers={"Authorization": f"Basic {token}"})
    assert (response.status, body) == (200, web.PRIVATE_HTML)

    log = site.requests_to("/private")
    assert [r.code for r in log] == [401, 401, 200, 200]
    assert log[0].authorization is None and log[0].basic_credentials is None
    assert log[1].basic_credentials == ("learner", "wrong")
    assert log[2].basic_credentials == ("learner", "twisted") == log[3].basic_credentials


def test_private_with_urllib_auth_handler(site, url):
    """urllib answers the 401 challenge by itself: two requests, the second with credentials."""
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, url, web.USERNAME, web.PASSWORD)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords))
    with opener.open(url + "private", timeout=5) as response:
        assert response.read() == web.PRIVATE_HTML
    assert [(r.code, r.basic_credentials) for r in site.requests_to("/private")] == [
        (401, None), (200, ("learner", "twisted"))]


# --- /news and /plain ---------------------------------------------------------------------------------------------

@pytest.fixture
def news_site():
    """A fresh site of its own, so bumps do not leak into other tests."""
    site = web.site()
    server = labkit.serve(site, name="test-web-news", show=False)
    yield site, server.url, server.address
    server.stop()


def test_news_starts_at_the_fixed_date(news_site):
    site, url, _ = news_site
    response, body = fetch("GET", url + "news")
    assert response.code == 200
    assert header(response, "etag") == '"news-1"' == site.news.etag
    assert header(response, "last-modified") == "Wed, 01 Jun 2005 12:00:00 GMT" == site.news.last_modified
    assert web.NEWS_TEXT.encode() in body


def test_news_answers_304_when_unchanged(news_site):
    site, url, address = news_site
    etag, modified = site.news.etag, site.news.last_modified

    response, body = fetch("GET", url + "news", headers={"If-None-Match": etag})
    assert (response.code, body) == (304, b"")
    assert header(response, "etag") == etag
    assert header(response, "content-length") is None

    response, body = fetch("GET", url + "news", headers={"If-Modified-Since": modified})
    assert (response.code, body) == (304, b"")

    response, body = stdlib(address, "GET", "/news", headers={"If-None-Match": etag, "If-Modified-Since": modified})
    assert (response.status, body) == (304, b"")

    response, _ = fetch("GET", url + "news", headers={"If-Modified-Since": "Wed, 01 Jun 2005 11:59:59 GMT"})
    assert response.code == 200
    # With If-None-Match present, If-Modified-Since is ignored: a wrong tag means the page is sent.
    response, _ = fetch("GET", url + "news", headers={"If-None-Match": '"news-0"', "If-Modified-Since": modified})
    assert response.code == 200

    log = site.requests_to("/news")
    assert [r.code for r in log] == [304, 304, 304, 200, 200]
    assert log[0].if_none_match == etag and log[0].if_modified_since is None
    assert log[1].if_modified_since == modified


def test_bump_news_changes_validators(news_site):
    site, url, address = news_site
    first = site.news
    second = site.bump_news("Second story.")
    assert second.version == 2 and second.etag == '"news-2"' and second.text == "Second story."
    assert second.modified - first.modified == timedelta(minutes=1)
    assert second.last_modified == "Wed, 01 Jun 2005 12:01:00 GMT"

    response, body = fetch("GET", url + "news", headers={"If-None-Match": first.etag})
    assert response.code == 200 and b"Second story." in body
    assert header(response, "etag") == '"news-2"'
    assert header(response, "last-modified") == "Wed, 01 Jun 2005 12:01:00 GMT"
    response, _ = fetch("GET", url + "news", headers={"If-Modified-Since": first.last_modified})
    assert response.code == 200
    response, _ = fetch("GET", url + "news", headers={"If-None-Match": '"news-2"'})
    assert response.code == 304

    third = site.bump_news()
    assert third.version == 3 and third.modified > second.modified and third.text
    response, _ = stdlib(address, "GET", "/news", headers={"If-Modified-Since": second.last_modified})
    assert response.status == 200 and response.getheader("ETag") == '"news-3"'


def test_plain_has_no_validators(url, address):
    response, body = fetch("GET", url + "plain")
    assert response.code == 200 and b"<title>Plain</title>" in body
    assert header(response, "etag") is None and header(response, "last-modified") is None
    response, _ = stdlib(address, "GET", "/plain", headers={"If-None-Match": "*",
                                                            "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"})
    assert response.status == 200


# --- /check -------------------------------------------------------------------------------------------------------

def test_check_get_shows_the_upload_form(url):
    response, body = fetch("GET", url + "check")
    assert response.code == 200
    assert b'enctype="multipart/form-data"' in body and b'name="uploaded_file"' in body


def test_check_reports_a_treq_upload(site, url):
    binary = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    response, body = fetch("POST", url + "check", data={"note": "hello"},
                           files={"uploaded_file": ("page.html", "text/html", io.BytesIO(BAD_DOC)),
                                  "extra": ("blob.bin", "application/octet-stream", io.BytesIO(binary))})
    assert response.code == 200, body
    assert b"<title>Upload report</title>" in body
    for text in [b"uploaded_file", b"page.html", b"text/html", b"<td>%d</td>" % len(BAD_DOC), b"note",
                 b"<td>5</td>", b"blob.bin", b"<td>%d</td>" % len(binary)]:
        assert text in body, text
    assert b"doctype: missing" in body and b"title: missing" in body
    assert b"&lt;div&gt; (line 2)" in body and b"&lt;/span&gt; (line 3)" in body

    report = site.uploads[-1]
    assert report.ok
    assert sorted(report.field_names()) == ["extra", "note", "uploaded_file"]
    sizes = {f.name: (f.filename, f.content_type, f.size) for f in report.fields}
    assert sizes["uploaded_file"] == ("page.html", "text/html", len(BAD_DOC))
    assert sizes["extra"] == ("blob.bin", "application/octet-stream", len(binary))
    assert [f.data for f in report.fields if f.name == "extra"] == [binary]
    assert report.checked.name == "uploaded_file"
    assert not report.html.valid
    assert report.html.doctype is None and report.html.title is None
    assert report.html.unclosed == ["<div> (line 2)", "<p> (line 2)"]
    assert report.html.stray == ["</span> (line 3)"]

    record = site.requests_to("/check")[-1]
    assert record.method == "POST" and record.code == 200
    assert record.content_type.startswith("multipart/form-data; boundary=")
    assert record.body_size > len(binary) + len(BAD_DOC)


def test_check_reports_a_stdlib_upload(site, address):
    content_type, body = multipart([("uploaded_file", "good.html", "text/html", GOOD_DOC)])
    response, page = stdlib(address, "POST", "/check", body=body, headers={"Content-Type": content_type})
    assert response.status == 200
    assert b"This document passed the practice checks." in page
    assert b"&lt;!DOCTYPE html&gt;" in page and b"title: &#x27;Checked&#x27;" in page
    report = site.uploads[-1]
    assert report.boundary == "pRaCtIcE-b0undary" and report.html.valid and report.html.title == "Checked"
    assert site.requests_to("/check")[-1].body_size == len(body)


def test_check_without_a_file_says_so(address):
    content_type, body = multipart([("note", None, None, b"just text")])
    response, page = stdlib(address, "POST", "/check", body=body, headers={"Content-Type": content_type})
    assert response.status == 200 and b"No file was uploaded" in page


@pytest.fixture
def checker_url(site):
    """The same site also behind ``make_site()``, which leaves POST bodies to ``/check``."""

    def listen(reactor):
        return reactor.listenTCP(0, site.make_site(), interface="127.0.0.1")

    port = labkit.react(listen)
    yield f"http://127.0.0.1:{port.getHost().port}/"
    labkit.react(lambda reactor: port.stopListening())


BROKEN = [
    ("multipart/form-data", book_encode_form({"uploaded_file": GOOD_DOC}),
     "Content-Type has no boundary parameter"),
    ("multipart/form-data; boundary=---abcdefghijklmnopqrst---", book_encode_form({"uploaded_file": GOOD_DOC}),
     "the body has no delimiter line &#x27;-----abcdefghijklmnopqrst---&#x27;"),
    ("multipart/form-data; boundary=XYZ",
     b'--XYZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XYZ\r\n',
     "the body has no closing delimiter line &#x27;--XYZ--&#x27;"),
    ("multipart/form-data; boundary=XYZ", b"--XYZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XYZ--\r\n",
     "part 1 has no &#x27;Content-Disposition: form-data; name=&quot;...&quot;&#x27; header"),
    ("text/html", GOOD_DOC, "Content-Type is &#x27;text/html&#x27;, not multipart/form-data"),
]


@pytest.mark.parametrize("content_type, body, problem", BROKEN)
def test_check_explains_broken_encodings(site, checker_url, content_type, body, problem):
    response, page = fetch("POST", checker_url + "check", data=body, headers={"Content-Type": content_type})
    assert response.code == 400
    assert b"<title>400 Bad Request</title>" in page
    assert problem.encode() in page, page
    assert not site.uploads[-1].ok


def test_book_encoding_mentions_the_bare_boundary(checker_url):
    body = book_encode_form({"uploaded_file": GOOD_DOC}, boundary="BOUNDARY")
    response, page = fetch("POST", checker_url + "check", data=body,
                           headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"})
    assert response.code == 400
    assert b"the bare boundary &#x27;BOUNDARY&#x27;, without the two leading hyphens" in page


def test_check_without_content_type(checker_url, address):
    port = int(checker_url.rsplit(":", 1)[1].strip("/"))
    response, page = stdlib(("127.0.0.1", port), "POST", "/check", body=b"--x--\r\n")
    assert response.status == 400 and b"the request has no Content-Type header" in page


def test_labkit_served_check_explains_the_book_encoding(url):
    response, page = fetch("POST", url + "check", data=book_encode_form({"uploaded_file": GOOD_DOC}),
                           headers={"Content-Type": "multipart/form-data"})
    assert response.code == 400
    assert b"Content-Type has no boundary parameter" in page


@pytest.mark.parametrize("content_type, body, problem", BROKEN)
def test_inspect_upload_function(content_type, body, problem):
    report = web.inspect_upload(content_type, body)
    assert not report.ok
    assert any(problem.replace("&#x27;", "'").replace("&quot;", '"') in p for p in report.problems), report.problems


def test_inspect_upload_accepts_what_it_reports():
    content_type, body = multipart([("uploaded_file", "a.html", "text/html", GOOD_DOC), ("x", None, None, b"")])
    report = web.inspect_upload(content_type.encode(), body)
    assert report.ok and [(f.name, f.size) for f in report.fields] == [("uploaded_file", len(GOOD_DOC)), ("x", 0)]
    assert web.inspect_upload(None, body).problems[0].startswith("the request has no Content-Type header")


# --- /slow --------------------------------------------------------------------------------------------------------

def download_in_pieces(url: str):
    async def go(reactor):
        response = await treq.get(url, unbuffered=True)
        pieces: list[bytes] = []
        await treq.collect(response, pieces.append)
        return response, pieces

    return labkit.react(go, timeout=10)


def test_slow_sized_arrives_in_pieces_with_content_length(site, url, address):
    response, pieces = download_in_pieces(url + "slow/sized")
    assert response.code == 200 and response.length == SLOW_SIZE
    assert len(pieces) >= 2
    assert b"".join(pieces) == web.text_body(SLOW_SIZE)
    raw, body = stdlib(address, "GET", "/slow/sized?duration=0")
    assert raw.getheader("Content-Length") == str(SLOW_SIZE) and raw.getheader("Transfer-Encoding") is None
    assert body == web.text_body(SLOW_SIZE)
    assert site.requests_to("/slow/sized")[0].sent == SLOW_SIZE


def test_slow_chunked_arrives_in_pieces_without_content_length(url, address):
    response, pieces = download_in_pieces(url + "slow/chunked")
    assert response.code == 200 and response.length is UNKNOWN_LENGTH
    assert len(pieces) >= 2
    assert b"".join(pieces) == web.text_body(SLOW_SIZE)
    raw, body = stdlib(address, "GET", "/slow/chunked?duration=0.1")
    assert raw.getheader("Transfer-Encoding") == "chunked" and raw.getheader("Content-Length") is None
    assert body == web.text_body(SLOW_SIZE)


def test_slow_rejects_a_bad_duration(address):
    for value in ["soon", "-1", "61"]:
        response, body = stdlib(address, "GET", f"/slow/sized?duration={value}")
        assert response.status == 400 and b"duration" in body


@pytest.mark.parametrize("sized", [True, False])
def test_slow_page_schedule_on_a_clock(sized):
    clock = Clock()
    page = web.SlowPage(sized, size=1000, duration=1.0, chunks=5, reactor=clock)
    request = DummyRequest([])
    assert page.render(request) is NOT_DONE_YET
    assert len(request.written) == 1 and not request.finished
    lengths = request.responseHeaders.getRawHeaders(b"content-length")
    assert lengths == ([b"1000"] if sized else None)
    for expected in [2, 3, 4]:
        clock.advance(0.25)
        assert len(request.written) == expected and not request.finished
    clock.advance(0.25)
    assert request.finished and b"".join(request.written) == web.text_body(1000)
    assert [len(piece) for piece in request.written] == [200] * 5
    assert clock.getDelayedCalls() == []


def test_slow_page_stops_when_the_client_goes_away():
    clock = Clock()
    page = web.SlowPage(True, size=1000, duration=1.0, chunks=5, reactor=clock)
    request = DummyRequest([])
    page.render(request)
    clock.advance(0.25)
    request.processingFailed(Failure(net_error.ConnectionDone("client left")))
    assert clock.getDelayedCalls() == []
    clock.advance(5)
    assert len(request.written) == 2 and not request.finished


# --- /redirect ----------------------------------------------------------------------------------------------------

def test_redirect_to_hello(url, address):
    response, _ = fetch("GET", url + "redirect", allow_redirects=False)
    assert response.code == 302 and header(response, "location") == "hello"  # relative: holds below a prefix
    response, body = fetch("GET", url + "redirect")
    assert (response.code, body) == (200, web.HELLO_HTML)
    raw, _ = stdlib(address, "GET", "/redirect")
    assert raw.status == 302 and raw.getheader("Location") == "hello"


# --- /never -------------------------------------------------------------------------------------------------------

def wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_never_answers_and_forgets_a_client_that_leaves(site, url, address):
    conn = http.client.HTTPConnection(*address, timeout=0.3)
    conn.request("GET", "/never")
    assert wait_until(lambda: site.waiting_forever == 1)
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    assert wait_until(lambda: site.waiting_forever == 0)

    with pytest.raises(ResponseNeverReceived) as raised:
        fetch("GET", url + "never", timeout=0.2)
    assert raised.value.reasons[0].check(defer.CancelledError)
    assert wait_until(lambda: site.waiting_forever == 0)
    log = site.requests_to("/never")
    assert len(log) == 2
    assert all(r.disconnected and not r.finished and r.code is None for r in log)


# --- the request log ----------------------------------------------------------------------------------------------

def test_request_log_records_what_the_client_sent(site, url, address):
    stdlib(address, "POST", "/hello?x=1&y=2", body=b"twelve bytes",
           headers={"User-Agent": "practice-client/1.0", "Content-Type": "text/plain",
                    "If-None-Match": '"abc"', "If-Modified-Since": "Wed, 01 Jun 2005 12:00:00 GMT",
                    "X-Extra": "kept"})
    fetch("GET", url + "hello")
    fetch("GET", url + "nowhere")

    first, second, third = site.requests
    assert (first.method, first.path, first.query, first.version) == ("POST", "/hello", "x=1&y=2", "HTTP/1.1")
    assert first.user_agent == "practice-client/1.0" and first.content_type == "text/plain"
    assert first.if_none_match == '"abc"' and first.if_modified_since == "Wed, 01 Jun 2005 12:00:00 GMT"
    assert first.authorization is None
    assert first.body_size == 12 and first.code == 405 and first.finished and not first.disconnected
    assert first.headers["x-extra"] == "kept"
    assert (second.method, second.code, second.sent, second.body_size) == ("GET", 200, len(web.HELLO_HTML), 0)
    assert second.user_agent is None or "practice-client" not in second.user_agent
    assert (third.path, third.code) == ("/nowhere", 404)
    assert [r.method for r in site.requests_to("/hello")] == ["POST", "GET"]
    assert site.requests_to(b"/nowhere") == [third]

    site.clear_requests()
    assert list(site.requests) == [] and site.requests_to("/hello") == []


def test_the_site_writes_no_access_log_line_its_request_log_holds_the_request(site, url):
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        fetch("GET", url + "hello")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert [formatEvent(event) for event in events if "GET /hello" in formatEvent(event)] == []
    assert [(record.path, record.code) for record in site.requests] == [("/hello", 200)]


REFUSED = [  # (request, (method, path, version, code) as the log keeps it, header it keeps or None)
    (b"PUT /check HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", ("PUT", "/check", "HTTP/1.1", 413),
     ("content-length", "2000000")),
    (b"POST /check HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n"
     % (web.MAX_BODY + 1, b"x" * (web.MAX_BODY + 1)), ("POST", "/check", "HTTP/1.1", 413), ("host", "h")),
    (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", ("GET", "/" + "a" * 195, "", 414), None),
    (b"GET /hello HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
     ("GET", "/hello", "HTTP/1.1", 431), ("host", "h")),  # Twisted takes a header in when the next line comes
    (b"GET /hello HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", ("GET", "/hello", "HTTP/1.1", 400), ("host", "h")),
    (b"HELLO\r\n\r\n", ("HELLO", "", "", 400), None),
]


def test_a_refused_request_is_logged_with_the_code_it_was_sent(site, address):
    """413, 414, 431 and 400 are answered by the channel before any resource sees the request: the log still
    shows each, as far as it was read, with the code sent and the answer's size; the pages' requests go on."""
    for request, _, _ in REFUSED:
        answer = exchange(address[1], request)
        fetch("GET", f"http://{address[0]}:{address[1]}/hello")
        records = list(site.requests)
        assert [record.path for record in records[-1:]] == ["/hello"], records[-2:]
        assert records[-2].sent == len(answer) and records[-2].finished and not records[-2].disconnected
    logged = [record for record in site.requests if record.code != 200]
    assert [(r.method, r.path, r.version, r.code) for r in logged] == [expected for _, expected, _ in REFUSED]
    for record, (_, _, kept) in zip(logged, REFUSED):
        assert kept is None or record.headers[kept[0]] == kept[1], record.headers


def logged(site, path: bytes, **headers: bytes) -> None:
    """Make ``site`` log one GET of ``path`` (with ``headers``), as the resource tree does."""
    request = DummyRequest([path.lstrip(b"/")])
    request.uri = request.path = path
    request.content = io.BytesIO(b"")
    for name, value in headers.items():
        request.requestHeaders.addRawHeader(name.encode(), value)
    site.getChildWithDefault(path.lstrip(b"/"), request)


def test_request_log_keeps_the_newest_within_a_count():
    site = web.site(max_requests=10)
    for number in range(25):
        logged(site, b"/hello%d" % number)
    assert [record.path for record in site.requests] == [f"/hello{number}" for number in range(15, 25)]
    assert site.requests.dropped == 15
    assert site.requests.note.startswith("15 older request(s) were dropped") and "15 older" in repr(site.requests)
    site.clear_requests()
    assert len(site.requests) == 0 and site.requests.note == ""


def test_request_log_keeps_the_newest_within_a_byte_budget():
    site = web.site(max_log_bytes=20_000)
    for number in range(40):
        logged(site, b"/page%d" % number, X_Padding=b"p" * 1000)
    kept = list(site.requests)
    assert sum(record.weight for record in kept) <= 20_000 < sum(record.weight for record in kept) + kept[0].weight
    assert kept[-1].path == "/page39" and site.requests.dropped == 40 - len(kept)
    assert [record.path for record in kept] == [f"/page{number}" for number in range(40 - len(kept), 40)]


@pytest.mark.parametrize("kind", [Request, BoundedRequest])
def test_a_request_log_learns_how_any_twisted_web_request_ended(kind):
    """The practice site's requests tell their records themselves; any other request is followed too."""
    log = RequestLog()
    answered, abandoned = kind(DummyChannel()), kind(DummyChannel())
    for request in answered, abandoned:  # as they arrive, before any resource renders them
        request.method, request.uri, request.clientproto = b"GET", b"/caf\xc3\xa9?q=\xff", b"HTTP/1.1"
        request.gotLength(0)
    first, second = log.log(answered), log.log(abandoned)
    assert (first.code, first.finished, first.disconnected) == (None, False, False)
    answered.setResponseCode(404)
    answered.write(b"abc")
    answered.finish()
    abandoned.connectionLost(Failure(net_error.ConnectionDone()))
    assert (first.code, first.sent, first.finished, first.disconnected) == (404, 3, True, False)
    assert (second.code, second.sent, second.finished, second.disconnected) == (None, 0, False, True)
    assert (first.method, first.path, first.query, first.version) == ("GET", "/café", "q=\ufffd", "HTTP/1.1")
    assert list(log) == [first, second]


def test_only_the_latest_upload_reports_are_kept(site, checker_url):
    content_type, body = multipart([("uploaded_file", "a.html", "text/html", GOOD_DOC)])
    for _ in range(KEPT_REPORTS + 3):
        response, _ = fetch("POST", checker_url + "check", data=body, headers={"Content-Type": content_type})
        assert response.code == 200
    assert len(site.uploads) == KEPT_REPORTS


# --- bodies over the ceiling, and clients that never read (measured on the server process) -----------------------

def test_a_body_over_the_ceiling_gets_413_by_its_length(address):
    answer = exchange(address[1], b"POST /check HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                               b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (web.MAX_BODY + 1))
    head, _, page = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 Content Too Large\r\n") and b"100 Continue" not in answer
    assert b"<title>413 Content Too Large</title>" in page and b"Send a smaller body" in page
    assert web.check_html(page).valid


def test_a_chunked_body_over_the_ceiling_gets_413_as_it_arrives(address):
    chunk = b"x" * 100_000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11))
    answer = exchange(address[1], b"POST /check HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert answer.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
    assert b"more than 1000000 bytes arrived" in answer


def test_a_body_just_within_the_ceiling_is_checked(address):
    padding = b"<!-- " + b"x" * 900_000 + b" -->"
    content_type, body = multipart([("uploaded_file", "big.html", "text/html", GOOD_DOC + padding)])
    assert len(body) <= web.MAX_BODY
    response, page = stdlib(address, "POST", "/check", body=body, headers={"Content-Type": content_type})
    assert response.status == 200 and b"This document passed the practice checks." in page


MB = 1024 * 1024


def upload(port: int, size: int, chunked: bool) -> int | None:
    """POST a proper multipart upload of a ``size``-byte file to /check (by Content-Length or chunked); the status,
    or None if the server hung up before the client could read one."""
    head, tail = multipart([("uploaded_file", "big.html", "text/html", b"\0")], boundary="b")[1].split(b"\0")
    parts = [head] + [b"x" * MB] * (size // MB) + [tail]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/check", body=iter(parts) if chunked else b"".join(parts), encode_chunked=chunked,
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
        return connection.getresponse().status
    except (BrokenPipeError, ConnectionResetError):
        return None
    finally:
        connection.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_48_mb_upload_leaves_the_servers_memory_where_it_was(chunked):
    with standalone("web") as server:
        stdlib(("127.0.0.1", server.port), "GET", "/hello")
        before = server.peak_rss()
        assert upload(server.port, 48 * MB, chunked) in (413, None)
        grown = server.peak_rss() - before
        assert grown < 16 * MB, f"the server's peak memory grew by {grown / MB:.1f} MB"
        response, body = stdlib(("127.0.0.1", server.port), "GET", "/hello")
        assert (response.status, body) == (200, web.HELLO_HTML)


def test_a_client_that_never_reads_big_holds_the_server_to_a_buffer():
    with standalone("web") as server:
        stdlib(("127.0.0.1", server.port), "GET", "/big")
        before = server.rss()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as greedy:
            greedy.sendall(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n" * 100)
            time.sleep(2)  # time for the server to do all it would do for them (the assertion is about memory)
            grown = server.rss() - before
            assert grown < 16 * MB, f"the server grew by {grown / MB:.1f} MB for a client that does not read"
            response, body = stdlib(("127.0.0.1", server.port), "GET", "/big")
            assert (response.status, len(body)) == (200, web.BIG_SIZE)
            first = greedy.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 OK\r\n")


def test_methods_a_page_does_not_take_get_html_405(address):
    response, body = stdlib(address, "POST", "/hello", body=b"x")
    assert response.status == 405
    assert set(response.getheader("Allow").split(", ")) == {"GET", "HEAD"}
    assert b"<title>405 Method Not Allowed</title>" in body and web.check_html(body).valid
    response, _ = stdlib(address, "DELETE", "/check")
    assert response.status == 405 and set(response.getheader("Allow").split(", ")) == {"GET", "HEAD", "POST"}


# --- refusals and the lingering close, on a transport in memory ------------------------------------------------------

def refusing_channel(clock):
    """A PracticeChannel on an in-memory transport, its timers on ``clock``."""
    from servers.web.channel import PracticeChannel

    channel = PracticeChannel()
    channel.callLater = clock.callLater
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport


def test_a_refused_connection_drops_what_follows_up_to_a_byte_bound():
    clock = Clock()
    channel, transport = refusing_channel(clock)
    channel.dataReceived(b"GET /hello HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\nDate: ") and b"200 OK" not in answer
    assert b"<title>400 Bad Request</title>" in answer and not transport.disconnecting
    channel.dataReceived(b"x" * LINGER_BYTES)  # read and dropped: nothing parsed, nothing answered
    assert transport.value() == answer and not transport.disconnecting
    channel.dataReceived(b"x")
    assert transport.disconnecting  # past the bound: closed
    clock.advance(LINGER_SECONDS)
    assert transport.value() == answer


def test_a_refused_connection_closes_after_a_time_bound():
    clock = Clock()
    channel, transport = refusing_channel(clock)
    channel.dataReceived(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n")
    assert transport.value().startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    clock.advance(LINGER_SECONDS - 0.5)
    assert not transport.disconnecting
    clock.advance(0.5)
    assert transport.disconnecting
