"""Perspective Broker that a hostile peer cannot stall: bounded work and memory per message, before and after
login.

Twisted's Banana decoder (under every PB connection) copies the rest of its buffer for each token it reads, so a
large read of many small tokens costs time quadratic in its size (0.6 MB of nested lists, sent before any login,
stalled a kernel's reactor for 5.7 s; 4 MB cost 31 s and 214 MB). It also accepts lists nested as deep as the
peer likes, and lists of 640,000 items, which jelly then unpacks recursively.

Promises (:class:`BoundedBroker`, the ``protocol`` of the factories :func:`bounded` makes):

* Input is decoded in slices of :data:`SLICE` bytes, so decoding costs time linear in what is received.
* One message (a top-level Banana expression) may take at most :data:`MAX_MESSAGE` bytes, nest lists at most
  :data:`MAX_DEPTH` deep and hold lists of at most :data:`MAX_ITEMS` items. A peer that sends more gets one line
  in the server's log and its connection closed; the server goes on serving everyone else.
"""

from __future__ import annotations

from twisted.logger import Logger
from twisted.spread import banana, pb

__all__ = ["BoundedBroker", "MAX_DEPTH", "MAX_ITEMS", "MAX_MESSAGE", "SLICE", "bounded"]

SLICE = 4096
"""Bytes decoded at a time: the most Banana copies for one token."""
MAX_MESSAGE = 1024 * 1024
"""Bytes one message may take (the wiki's largest page is 64 KiB)."""
MAX_DEPTH = 32
"""Lists inside lists, at most this deep in one message (PB's own messages nest a few levels)."""
MAX_ITEMS = 10_000
"""Items in one list, at most."""

_log = Logger()


class MessageRefused(banana.BananaError):
    """A message over the bounds: the connection is closed."""


class _BoundedStack(list):
    """Banana's stack of open lists, refusing to grow deeper than :data:`MAX_DEPTH` or to open a list longer
    than :data:`MAX_ITEMS` (Banana pushes ``(length, items)`` for each list it starts)."""

    def append(self, opened):
        if len(self) >= MAX_DEPTH:
            raise MessageRefused(f"lists nested deeper than {MAX_DEPTH}")
        if opened[0] > MAX_ITEMS:
            raise MessageRefused(f"a list of {opened[0]} items (at most {MAX_ITEMS})")
        super().append(opened)


class BoundedBroker(pb.Broker):
    """A ``pb.Broker`` whose input is bounded as the module says."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.listStack = _BoundedStack()
        self.message_bytes = 0
        self.refused = False

    def dataReceived(self, chunk: bytes) -> None:
        for start in range(0, len(chunk), SLICE):
            if self.refused:
                return
            piece = chunk[start:start + SLICE]
            self.message_bytes += len(piece)
            try:
                if self.message_bytes > MAX_MESSAGE:
                    raise MessageRefused(f"a message of more than {MAX_MESSAGE} bytes")
                super().dataReceived(piece)
            except (banana.BananaError, NotImplementedError, KeyError) as refused:
                _log.warn("PB peer {peer} refused: {why}", peer=self.transport.getPeer(), why=refused)
                self.listStack = _BoundedStack()
                self.buffer = b""
                self.refused = True
                self.transport.loseConnection()
                return

    def expressionReceived(self, sexp) -> None:
        self.message_bytes = len(self.buffer)
        super().expressionReceived(sexp)


def bounded(root_or_portal) -> pb.PBServerFactory:
    """``pb.PBServerFactory(root_or_portal)`` whose connections are :class:`BoundedBroker`."""
    factory = pb.PBServerFactory(root_or_portal)
    factory.protocol = BoundedBroker
    return factory
