"""Probes: one well-behaved client per practice server, written with the standard library only.

Promises: each ``probe(host, port)`` talks to a running practice server the way an ordinary client would and
returns quietly when every answer is right; a wrong answer raises AssertionError saying what came back, and a
server that does not answer in :data:`TIMEOUT` seconds raises ``socket.timeout`` (an OSError). The catalogue
names them (``probe="servers.probes:echo"``); the robustness suite runs them while it attacks a server.
"""

from __future__ import annotations

import socket
from http.client import HTTPConnection

__all__ = ["TIMEOUT", "echo", "hangup", "http", "ports", "web"]

TIMEOUT = 10.0


def _read_to_close(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    received = b""
    while len(received) <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"the server sent more than {limit} bytes without closing")


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    """``count`` bytes from ``sock`` (a length-prefixed message, say), however the server splits them."""
    received = b""
    while len(received) < count:
        chunk = sock.recv(count - len(received))
        if not chunk:
            raise AssertionError(f"the server closed after {len(received)} of {count} bytes")
        received += chunk
    return received


def _read_line(sock: socket.socket, limit: int = 4096) -> bytes:
    received = b""
    while not received.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"the server closed after {received!r}, before ending its line")
        received += chunk
        if len(received) > limit:
            raise AssertionError(f"no line end in the first {limit} bytes: {received[:80]!r}...")
    return received


def echo(host: str, port: int) -> None:
    """Two lines answered in order (CR LF and LF endings), then ``quit`` answered with Goodbye and a close."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(b"probe one\r\nprobe two\n")
        answers = [_read_line(sock), _read_line(sock)]
        assert answers == [b"You said: probe one\r\n", b"You said: probe two\r\n"], f"echo answered {answers!r}"
        sock.sendall(b"quit\n")
        goodbye = _read_to_close(sock)
        assert goodbye == b"Goodbye.\r\n", f"echo answered quit with {goodbye!r}"


def hangup(host: str, port: int) -> None:
    """The server closes at once, cleanly, having sent nothing."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sent = _read_to_close(sock)
        assert sent == b"", f"hangup sent {sent!r} before closing"


def ports(host: str, port: int) -> None:
    """An open port of the port-scan target accepts and hangs up."""
    hangup(host, port)


def _get(host: str, port: int, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    connection = HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http(host: str, port: int) -> None:
    """The tiny HTTP responder answers GET with 200 and its fixed body."""
    from servers.tcp import HTTP_BODY

    answer = _get(host, port, "/probe")
    assert answer == (200, HTTP_BODY), f"http answered {answer!r}"


def web(host: str, port: int) -> None:
    """The practice web site serves /hello, a 404 for a missing page, and /private with the practice account."""
    import base64

    from servers.web.auth import PASSWORD, USERNAME
    from servers.web.practice_site import HELLO_HTML

    answer = _get(host, port, "/hello")
    assert answer == (200, HELLO_HTML), f"GET /hello answered {answer[0]} {answer[1][:80]!r}"
    status, _ = _get(host, port, "/no-such-page")
    assert status == 404, f"GET /no-such-page answered {status}, not 404"
    credentials = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    status, _ = _get(host, port, "/private", {"Authorization": f"Basic {credentials}"})
    assert status == 200, f"GET /private with the practice account answered {status}, not 200"
