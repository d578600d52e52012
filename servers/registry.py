"""What a practice server's builder may return besides a protocol factory or a twisted.web resource.

Promises: :class:`MultiPort` is the shape of a server that listens on several fixed ports at once with one
factory (the port-scan target); :func:`servers.listening.listen` puts it on every one of its ports.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.interfaces import IProtocolFactory

__all__ = ["MultiPort"]


class MultiPort(Protocol):
    """A server that listens on several fixed ports at once (for example the port-scan target)."""

    factory: IProtocolFactory

    def ports(self) -> list[int]:
        """The ports to listen on."""
