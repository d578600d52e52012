"""HTTP by hand for the web tests: send exact bytes on a socket, read until the server closes, and parse what came
back (status, headers, a body framed by Content-Length, chunks or the close), with no HTTP client in between to
tidy up what the server did. :func:`trouble` reads what a served site logged besides its start."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

WAIT = 10


@dataclass
class Answer:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes


def exchange(port: int, data: bytes, wait: float = WAIT) -> bytes:
    """Send all of ``data`` before reading anything (as wget sends a body), then read until the server closes.
    Fails the test if the server neither answers nor closes within ``wait`` seconds, or resets the connection (a
    reset can lose the answer before the client reads it)."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
            while chunk := sock.recv(65536):
                got += chunk
        except TimeoutError:
            raise AssertionError(f"no close within {wait} s; got {got[:300]!r}") from None
        except ConnectionError as reset:
            raise AssertionError(f"{reset!r} after {len(got)} bytes of answer: the answer can be lost") from None
    return got


def parse(data: bytes, head: bool = False) -> tuple[Answer, bytes]:
    """The first response in ``data`` (its body framed by Content-Length, chunked coding or the close; none for a
    HEAD, 1xx, 204 or 304) and what follows it."""
    top, separator, rest = data.partition(b"\r\n\r\n")
    assert separator, f"no complete response head in {data[:300]!r}"
    status_line, *lines = top.decode("latin-1").split("\r\n")
    version, status, reason = (status_line.split(" ", 2) + [""])[:3]
    assert re.fullmatch(r"HTTP/1\.[01]", version) and status.isdigit(), status_line
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        key = name.lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    code = int(status)
    if head or code < 200 or code in (204, 304):
        return Answer(code, reason, headers, b""), rest
    if "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body, rest = body + rest[:size], rest[size + 2:]  # the chunk and its CRLF (no trailers here)
            if size == 0:
                return Answer(code, reason, headers, body), rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        return Answer(code, reason, headers, rest[:length]), rest[length:]
    return Answer(code, reason, headers, rest), b""


def ask(port: int, method: str, path: str, *headers: str, body: bytes = b"", version: str = "HTTP/1.1") -> Answer:
    """One request on its own connection (``Connection: close``, ``Host`` unless ``headers`` say otherwise)."""
    names = {h.split(":")[0].lower() for h in headers}
    lines = [f"{method} {path} {version}", *headers]
    lines += [] if "host" in names else ["Host: 127.0.0.1"]
    lines += [] if "connection" in names else ["Connection: close"]
    lines += [f"Content-Length: {len(body)}"] if body and "transfer-encoding" not in names else []
    answer, _ = parse(exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body), method == "HEAD")
    return answer


def has_date(answer: Answer) -> bool:
    """RFC 9110 section 6.6.1: an origin server with a clock sends Date, an IMF-fixdate."""
    date = answer.headers.get("date", "")
    return re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", date) is not None


def page_with_date(answer: Answer, status: int) -> None:
    """The answer has ``status``, Date, and an HTML page (with its charset) to say what went wrong."""
    assert answer.status == status, (answer.status, answer.body[:300])
    assert has_date(answer), answer.headers
    assert answer.headers.get("content-type", "").startswith("text/html; charset=")
    assert b"<title>" in answer.body.lower(), answer.body[:300]


def allowed(answer: Answer) -> set[str]:
    """The methods the answer's Allow header names."""
    return {method.strip() for method in answer.headers.get("allow", "").split(",") if method.strip()}


def trouble(server) -> list[str]:
    """What the server's log holds besides its "listening on" line: its errors and warnings."""
    return [line for line in server.log.text.splitlines() if line and "listening on" not in line]
