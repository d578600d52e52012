"""The reverse-text protocol, its factory, and the service that runs it under twistd or twist.

Promises: :class:`ReverseTextProtocol` answers each line with its characters in reverse order; :func:`reverse`
builds its factory (the catalogue's builder); :func:`reverse_service` wraps it in a ``strports`` service, an
``IService`` listening on an endpoint description (loopback and a port the system picks by default).
"""

from __future__ import annotations

from twisted.application import strports
from twisted.internet import protocol
from twisted.logger import Logger
from twisted.protocols import basic

__all__ = ["DEFAULT_ENDPOINT", "MAX_LINE", "ReverseTextFactory", "ReverseTextProtocol", "reverse", "reverse_service"]

MAX_LINE = 4096
DEFAULT_ENDPOINT = "tcp:0:interface=127.0.0.1"


class ReverseTextProtocol(basic.LineReceiver):
    """Every line answered reversed; ``quit`` says Goodbye and closes."""

    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE
    log = Logger()

    def lineReceived(self, line: bytes):
        line = line.rstrip(b"\r")
        if line == b"quit":
            self.sendLine(b"Goodbye.")
            self.transport.loseConnection()
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.log.info("refused a line that is not UTF-8 ({size} bytes)", size=len(line))
            self.sendLine(b"error: send UTF-8 text")
            return
        self.log.info("reversed {size} characters", size=len(text))
        self.sendLine(text[::-1].encode("utf-8"))

    def sendLine(self, line: bytes):
        return self.transport.write(line + b"\r\n")

    def lineLengthExceeded(self, line: bytes):
        self.log.warn("closed a connection whose line passed {limit} bytes", limit=self.MAX_LENGTH)
        self.sendLine(b"error: line too long")
        self.transport.loseConnection()


class ReverseTextFactory(protocol.ServerFactory):
    protocol = ReverseTextProtocol


def reverse() -> ReverseTextFactory:
    """The practice server ``reverse``."""
    return ReverseTextFactory()


def reverse_service(endpoint: str = DEFAULT_ENDPOINT):
    """The reverse-text service listening on ``endpoint`` (an endpoint description), ready for an Application."""
    return strports.service(endpoint, reverse())
