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
    A tiny HTTP/1.0 responder: whatever the request, once its blank line arrives it answers ``200 OK`` with a
    fixed text body (no body for ``HEAD``) and closes. No Date header, so its answers are always the same.
"""

from __future__ import annotations

import random
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


class TinyHTTPProtocol(basic.LineReceiver):
    """Reads a request up to its blank line and answers a fixed ``200 OK``."""

    def connectionMade(self):
        self.request_line = None

    def lineReceived(self, line: bytes):
        if self.request_line is None:
            self.request_line = line
            return
        if line:  # a header; this responder does not need them
            return
        method = self.request_line.split(b" ", 1)[0].upper()
        head = (b"HTTP/1.0 200 OK\r\n"
                b"Server: practice-http\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n"
                b"Connection: close\r\n\r\n" % len(HTTP_BODY))
        self.transport.write(head if method == b"HEAD" else head + HTTP_BODY)
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
