"""Chapter 2's practice servers: plain TCP, one line at a time.

Fixtures (fixed, so checks can rely on them):

``echo``
    A line server. Every line gets ``You said: LINE`` back; the line ``quit`` gets ``Goodbye.`` and the server
    closes the connection. Lines may end in CR LF or LF (so ``nc`` works); answers end in CR LF.
``hangup``
    Accepts a connection and closes it at once, cleanly.
``ports``
    The port-scan target: a run of ``size`` (default 40) consecutive ports on loopback, free when chosen, of
    which the ones at ``OPEN_OFFSETS`` accept connections (and hang up); the rest are closed.
``http``
    A tiny HTTP/1.0 responder: whatever the method and target, once a well-formed request has arrived (its blank
    line, and its body by Content-Length) it answers ``200 OK`` with a fixed text body (no body for ``HEAD``) and
    closes; a request it cannot read gets 400, 411, 414, 431 or 505 with a line saying why
    (:class:`TinyHTTPProtocol`). No Date header, so its answers are always the same.
"""

from __future__ import annotations

import random
import re
import socket

from twisted.internet import protocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols import basic
from zope.interface import implementer

from servers.interfaces import IMultiPort

__all__ = ["EchoProtocol", "HTTP_BODY", "HangUpProtocol", "OPEN_OFFSETS", "PortField", "TinyHTTPProtocol"]


@implementer(IHalfCloseableProtocol)
class EchoProtocol(basic.LineReceiver):
    """The echo server of chapter 2, working on Python 3: every line is answered, ``quit`` ends the talk.

    A client that half-closes (``nc -N``, ``shutdown(SHUT_WR)``) gets every answer, the one to an unfinished
    last line too, before the server closes.
    """

    delimiter = b"\n"

    def readConnectionLost(self):
        rest = self.clearLineBuffer()
        if rest and not self.transport.disconnecting:
            self.lineReceived(rest)
        self.transport.loseConnection()

    def writeConnectionLost(self):
        self.transport.loseConnection()

    def sendLine(self, line: bytes):
        return self.transport.write(line + b"\r\n")

    def lineReceived(self, line: bytes):
        line = line.rstrip(b"\r")
        if line == b"quit":
            self.sendLine(b"Goodbye.")
            self.transport.loseConnection()
        else:
            self.sendLine(b"You said: " + line)


class HangUpProtocol(protocol.Protocol):
    """Accepts, then closes the connection cleanly."""

    def connectionMade(self):
        self.transport.loseConnection()


HTTP_BODY = b"Hello from the practice web server.\r\n"
_TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^\x00-\x20\x7f]+) HTTP/([0-9])\.[0-9]")
_FIELD_NAME = re.compile(_TOKEN)
_REASONS = {200: b"OK", 400: b"Bad Request", 411: b"Length Required", 414: b"URI Too Long",
            431: b"Request Header Fields Too Large", 505: b"HTTP Version Not Supported"}


@implementer(IHalfCloseableProtocol)
class TinyHTTPProtocol(basic.LineReceiver):
    """A deliberately minimal HTTP/1.0 server (RFC 9112 as it applies to HTTP/1.0): one request, one answer, a
    close.

    A well-formed request (``METHOD TARGET HTTP/1.x``, then ``Name: value`` header lines, then a blank line; lines
    may end in CR LF or LF, and an empty line before the request line is ignored) is answered ``HTTP/1.0 200 OK``
    with :data:`HTTP_BODY` (no body for ``HEAD``), whatever its method, target or ``Host``. A request body is
    read by its ``Content-Length`` and dropped before the answer. Anything else gets a text answer that says
    what was wrong: 400 (a malformed request line or header line, a bad or repeated Content-Length, a request
    cut short by the client's half-close), 411 (a body without Content-Length: chunked), 414 and 431 (a request
    or header line over ``MAX_LENGTH`` bytes, more than :attr:`MAX_HEADERS` header lines), 505 (HTTP/2 and
    beyond). Every answer has ``Content-Length`` and ``Connection: close``, and no ``Date``: the same request
    always gets the same bytes.
    """

    delimiter = b"\n"
    MAX_HEADERS = 100

    def connectionMade(self):
        self.method = None  # known once the request line is read
        self.header_lines = 0
        self.length = None  # the body's Content-Length
        self.chunked = False
        self.answered = False

    def lineReceived(self, line: bytes):
        if self.answered:
            return
        line = line[:-1] if line.endswith(b"\r") else line
        if self.method is None:
            self.request_line(line)
        elif line:
            self.header_line(line)
        elif self.chunked:
            self.answer(411, b"This server reads a request body only by its Content-Length; send one instead of "
                             b"Transfer-Encoding: chunked.")
        elif self.length:
            self.setRawMode()
        else:
            self.answer(200, HTTP_BODY)

    def request_line(self, line: bytes) -> None:
        if not line:
            return  # RFC 9112 section 2.2: an empty line before the request line is ignored
        parsed = _REQUEST_LINE.fullmatch(line)
        if parsed is None:
            self.answer(400, b"A request line is METHOD TARGET HTTP/1.0, separated by single spaces.")
        elif parsed[3] != b"1":
            self.answer(505, b"This server speaks HTTP/1.0 (and answers HTTP/1.1 requests as HTTP/1.0).")
        else:
            self.method = parsed[1]

    def header_line(self, line: bytes) -> None:
        self.header_lines += 1
        name, colon, value = line.partition(b":")
        value = value.strip(b" \t")
        if self.header_lines > self.MAX_HEADERS:
            self.answer(431, b"More than %d header lines; send fewer." % self.MAX_HEADERS)
        elif not colon or _FIELD_NAME.fullmatch(name) is None:
            self.answer(400, b"Each header line is Name: value, with no space before the colon and no line "
                             b"folding.")
        elif name.lower() == b"content-length":
            if not value.isdigit() or self.length is not None:
                self.answer(400, b"Give one Content-Length, a number of bytes.")
            else:
                self.length = int(value)
        elif name.lower() == b"transfer-encoding":
            self.chunked = True

    def rawDataReceived(self, data: bytes):
        if self.answered:
            return
        self.length -= len(data)  # the body is dropped as it comes
        if self.length <= 0:
            self.answer(200, HTTP_BODY)

    def lineLengthExceeded(self, line: bytes):
        if self.method is None:
            self.answer(414, b"The request line is longer than %d bytes." % self.MAX_LENGTH)
        else:
            self.answer(431, b"A header line is longer than %d bytes." % self.MAX_LENGTH)

    def readConnectionLost(self):
        if not self.answered:
            self.answer(400, b"The client closed its side before the request was complete (a blank line ends the "
                             b"headers; then come as many body bytes as Content-Length says).")
        self.transport.loseConnection()

    def writeConnectionLost(self):
        self.transport.loseConnection()

    def answer(self, status: int, body: bytes) -> None:
        """Send the one answer this connection gets, then close."""
        self.answered = True
        body = body if status == 200 else body + b"\r\n"
        head = (b"HTTP/1.0 %d %s\r\n"
                b"Server: practice-http\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % (status, _REASONS[status], len(body)))
        self.transport.write(head if self.method == b"HEAD" else head + body)
        self.transport.loseConnection()


OPEN_OFFSETS = (3, 11, 17, 29)


@implementer(IMultiPort)
class PortField:
    """The port-scan target: ``size`` consecutive ports from ``first``; those at ``open_offsets`` accept.

    The range is picked at random among ports that were free when it was chosen (checked by binding each one
    on loopback), so two kernels on one machine get different ranges.
    """

    def __init__(self, size: int = 40, open_offsets: tuple[int, ...] = OPEN_OFFSETS, host: str = "127.0.0.1",
                 first: int | None = None):
        if any(not 0 <= offset < size for offset in open_offsets):
            raise ValueError(f"open offsets {open_offsets} must lie in range({size})")
        self.size = size
        self.open_offsets = tuple(sorted(open_offsets))
        self.first = first if first is not None else self._free_run(size, host)
        self.factory = protocol.ServerFactory.forProtocol(HangUpProtocol)
        self.factory.noisy = False

    @staticmethod
    def _free_run(size: int, host: str, attempts: int = 200) -> int:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for _ in range(attempts):
            first = random.randrange(20000, 60000 - size)
            if all(_is_free(family, host, first + i) for i in range(size)):
                return first
        raise RuntimeError(f"found no run of {size} free ports on {host} after {attempts} tries")

    @property
    def all_ports(self) -> list[int]:
        return list(range(self.first, self.first + self.size))

    @property
    def open_ports(self) -> list[int]:
        return [self.first + offset for offset in self.open_offsets]

    @property
    def closed_ports(self) -> list[int]:
        return sorted(set(self.all_ports) - set(self.open_ports))

    def ports(self) -> list[int]:
        return self.open_ports

    def __repr__(self) -> str:
        return f"<PortField {self.first}-{self.first + self.size - 1}, open: {self.open_ports}>"


def _is_free(family: int, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _factory(protocol_class):
    factory = protocol.ServerFactory.forProtocol(protocol_class)
    factory.noisy = False
    return factory


def echo():
    return _factory(EchoProtocol)


def hangup():
    return _factory(HangUpProtocol)


def ports(size: int = 40, open_offsets: tuple[int, ...] = OPEN_OFFSETS):
    return PortField(size, open_offsets)


def http():
    return _factory(TinyHTTPProtocol)
