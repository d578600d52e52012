"""What a practice server's builder may return besides a protocol factory or a twisted.web resource.

Promises: :class:`MultiPort` is the shape of a server that listens on several fixed ports at once with one
factory (the port-scan target); :func:`servers.listening.listen` puts it on every one of its ports.
:class:`StreamAndDatagrams` is a server that answers over TCP and UDP on one port number (DNS).
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IProtocolFactory

__all__ = ["MultiPort", "StreamAndDatagrams"]


class MultiPort(Protocol):
    """A server that listens on several fixed ports at once (for example the port-scan target)."""

    factory: IProtocolFactory

    def ports(self) -> list[int]:
        """The ports to listen on."""


class StreamAndDatagrams(Protocol):
    """A server on TCP and UDP at one port number (DNS): ``listen`` guards ``factory`` for TCP."""

    factory: IProtocolFactory

    def listen_datagrams(self, reactor, listen_stream, host: str, port: int):
        """Call ``listen_stream(number)`` to listen on TCP, add UDP on the same number; return one listening port
        (``getHost``, ``stopListening``) for both."""
