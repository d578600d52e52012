"""Chapter 2's tiny HTTP/1.0 responder (``python -m servers http``, in servers/tcp.py) against RFC 9112 and RFC 9110,
over raw sockets: a deliberately minimal server, so it has rows of its own beside the web sites' table
(test_web_conformance.py)."""

from __future__ import annotations

import socket

import pytest

import labkit
from servers.tcp import HTTP_BODY
from tests.raw_http import WAIT, exchange, parse, trouble


# --- chapter 2's tiny HTTP/1.0 responder (``http``): a deliberately minimal server, its own rows ---------------------
# It answers any well-formed request with one fixed text body and closes, so the table's rows about pages, methods,
# validators and persistence do not apply. What RFC 9112 still asks of a minimal HTTP/1.0 server: a status line in
# its version, a body framed by Content-Length (none for HEAD), the request's own body read by its Content-Length,
# and 4xx/5xx with a body for what it cannot take. It sends no Date on purpose (chapter 2 shows its answers, which
# stay the same on every run).

def tiny_answers(port: int, request: bytes) -> list:
    """Every response the server sent for ``request`` (several would be wrong: it answers once, then closes)."""
    answers, rest = [], exchange(port, request)
    while rest:
        answer, rest = parse(rest, head=request.startswith(b"HEAD"))
        answers.append(answer)
    return answers


def tiny_one_answer(port: int, request: bytes, status: int):
    answers = tiny_answers(port, request)
    assert [answer.status for answer in answers] == [status], (request[:80], answers)
    answer = answers[0]
    assert answer.headers.get("connection") == "close" and answer.headers["content-type"].startswith("text/plain")
    return answer


def tiny_status_line_and_length(port: int):
    for request in (b"GET / HTTP/1.0\r\n\r\n", b"GET /any/path?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"DELETE / HTTP/1.0\r\nAccept: */*\r\n\r\n"):
        data = exchange(port, request)
        assert data.startswith(b"HTTP/1.0 200 OK\r\n"), data[:80]  # its own version, whatever the client's
        answer = tiny_one_answer(port, request, 200)
        assert answer.body == HTTP_BODY and int(answer.headers["content-length"]) == len(HTTP_BODY)


def tiny_head_has_no_content(port: int):
    got, headed = tiny_one_answer(port, b"GET / HTTP/1.0\r\n\r\n", 200), \
        tiny_one_answer(port, b"HEAD / HTTP/1.0\r\n\r\n", 200)
    assert headed.headers == got.headers and exchange(port, b"HEAD / HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\n")


def tiny_reads_the_body_by_its_length(port: int):
    hidden = b"GET /second HTTP/1.0\r\n\r\n"  # inside the body: not a second request
    tiny_one_answer(port, b"POST / HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(hidden), hidden), 200)
    big = b"x" * (2 * 10**6)  # read and dropped as it comes: the answer follows the body, never a reset
    tiny_one_answer(port, b"PUT / HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(big), big), 200)
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    assert b"Content-Length" in tiny_one_answer(port, chunked, 411).body  # section 6.3: 411 without a length


def tiny_line_ends_and_empty_lines(port: int):
    tiny_one_answer(port, b"GET / HTTP/1.0\n\n", 200)  # section 2.2: a bare LF may end a line (so nc works)
    tiny_one_answer(port, b"\r\nGET / HTTP/1.0\r\n\r\n", 200)  # section 2.2: an empty line before it is ignored


TINY_MALFORMED = {  # request -> the status RFC 9112 / RFC 9110 give it
    b"HELLO\r\n\r\n": 400,  # not a request line
    b"GET /\r\n\r\n": 400,  # HTTP/0.9's simple request: no version
    b"GET / FTP/1.0\r\n\r\n": 400,
    b"GET  / HTTP/1.0\r\n\r\n": 400,  # section 3: single spaces
    b"GET / HTTP/1.0\r\r\n\r\n": 400,  # a bare CR
    b"GET / HTTP/1.0\r\nNo colon\r\n\r\n": 400,
    b"GET / HTTP/1.0\r\nHost : x\r\n\r\n": 400,  # section 5.1: whitespace before the colon
    b"GET / HTTP/1.0\r\nX-A: 1\r\n folded\r\n\r\n": 400,  # section 5.2: obsolete line folding
    b"POST / HTTP/1.0\r\nContent-Length: abc\r\n\r\n": 400,
    b"POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab": 400,  # section 6.3
    b"GET / HTTP/2.0\r\n\r\n": 505,  # RFC 9110 15.6.6: a major version it does not speak
    b"GET /" + b"a" * 20_000 + b" HTTP/1.0\r\n\r\n": 414,
    b"GET / HTTP/1.0\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n": 431,
    b"GET / HTTP/1.0\r\n" + b"X-A: a\r\n" * 600 + b"\r\n": 431,
}


def tiny_refuses_what_it_cannot_read(port: int):
    for request, status in TINY_MALFORMED.items():
        answer = tiny_one_answer(port, request, status)
        assert answer.body and int(answer.headers["content-length"]) == len(answer.body), request[:60]


def tiny_half_closed_request_gets_an_answer(port: int):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\nAccept: */*\r\n")  # no blank line, then the client's half-close
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert parse(data)[0].status == 400, data[:200]


TINY_TABLE = {
    "RFC 9112 4 a status line in its own version, a body framed by Content-Length": tiny_status_line_and_length,
    "RFC 9110 9.3.2 HEAD is GET without content": tiny_head_has_no_content,
    "RFC 9112 6.3 a request body is read by its Content-Length; none without one: 411":
        tiny_reads_the_body_by_its_length,
    "RFC 9112 2.2 bare LF line ends and a leading empty line are accepted": tiny_line_ends_and_empty_lines,
    "RFC 9112 malformed requests get 400, 414, 431 or 505 with a body, never a silent close":
        tiny_refuses_what_it_cannot_read,
    "RFC 9112 9.6 a request cut short by a half-close gets 400": tiny_half_closed_request_gets_an_answer,
}


@pytest.fixture
def tiny():
    server = labkit.serve("http", name="conformance-http", show=False)
    yield server
    server.stop()


@pytest.mark.parametrize("requirement", list(TINY_TABLE))
def test_the_tiny_http10_responder_meets_http(tiny, requirement):
    TINY_TABLE[requirement](tiny.port)
    assert trouble(tiny) == []
