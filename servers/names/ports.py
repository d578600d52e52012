"""The practice DNS server on one port number over both UDP and TCP, as DNS is normally served (RFC 1035 section
4.2): what ``python -m servers dns`` and ``labkit.serve("dns")`` put up.

Promises: :class:`UDPAndTCP` provides :class:`servers.interfaces.IStreamAndDatagrams`: ``factory`` (guarded and
listened with on TCP by :meth:`servers.listening.Plan.listen`) and :meth:`UDPAndTCP.listen_datagrams`, which
puts UDP beside it on the same number. With port 0 a number whose UDP side is taken is given back and
another tried; a port asked for by number is taken whole or not at all. The result stops both at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer
from twisted.internet.error import CannotListenError
from zope.interface import implementer

from servers.interfaces import IStreamAndDatagrams

from servers.names.server import DatagramProtocol

__all__ = ["BothPorts", "UDPAndTCP"]

ATTEMPTS = 8  # port numbers tried, with port 0, before giving up


class BothPorts:
    """A TCP and a UDP listening port of one number, seen as one: ``getHost()`` is the TCP side's address."""

    def __init__(self, stream, datagrams):
        self.stream, self.datagrams = stream, datagrams

    def getHost(self):
        return self.stream.getHost()

    def stopListening(self) -> defer.Deferred:
        return defer.gatherResults([defer.maybeDeferred(self.stream.stopListening),
                                    defer.maybeDeferred(self.datagrams.stopListening)])


@implementer(IStreamAndDatagrams)
@dataclass
class UDPAndTCP:
    """``factory`` (an :class:`servers.names.server.AuthorityFactory`) answering over TCP and UDP."""

    factory: object

    def listen_datagrams(self, reactor, listen_stream, host: str, port: int) -> BothPorts:
        """``listen_stream(number)`` listens on TCP (guarded as every server is); UDP joins it on that number."""
        for _ in range(ATTEMPTS):
            stream = listen_stream(port)
            number = stream.getHost().port
            try:
                datagrams = reactor.listenUDP(number, DatagramProtocol(controller=self.factory), interface=host)
            except CannotListenError:
                stream.stopListening()
                if port:
                    raise
                continue
            return BothPorts(stream, datagrams)
        raise CannotListenError(host, port, f"no port number had both TCP and UDP free in {ATTEMPTS} tries")
