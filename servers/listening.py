"""The one way every practice server is put on a port, in a notebook (``labkit.serve``) and on its own
(``python -m servers``), so a server behaves the same in both.

Promises: :func:`listen` refuses any host that is not loopback (:func:`servers.limits.loopback`), holds every
connection to a :class:`servers.limits.Limits`, and puts on ports of that host a protocol factory (one port), a
twisted.web resource behind a ``Site`` (one port), a :class:`servers.registry.MultiPort` server (one factory
on several ports, one set of limits across them), or a :class:`servers.registry.StreamAndDatagrams` server (its
factory on TCP, guarded, and UDP beside it on the same number, as one listening port).
"""

from __future__ import annotations

import sys
from typing import Callable

from twisted.internet.interfaces import IProtocolFactory

from servers.limits import Limits, guard, loopback

__all__ = ["BACKLOG", "listen"]

# Connections the kernel completes before the server accepts them; past it, new clients wait a second (a
# dropped SYN is sent again). Twisted's default, 50, is met by anyone opening connections in a loop.
BACKLOG = 1024


def listen(reactor, thing, *, host: str = "127.0.0.1", port: int = 0, tls=None,
           wrap: Callable = lambda factory: factory, limits: Limits | None = None) -> list:
    """Listen with ``thing`` on ``host`` and return the listening ports.

    ``wrap`` is applied to each protocol factory before it is guarded (labkit uses it to record the wire, so
    the recording sees the protocol's own bytes on the real transport); ``tls`` is a TLS context factory for
    ``listenSSL``; ``limits`` defaults to ``Limits()``.
    """
    host = loopback(host)
    limits = limits or Limits()
    if _is_resource(thing):
        from twisted.web.server import Site

        # A resource may bring its own Site (the practice web site does, to see malformed uploads itself).
        factory = thing.make_site() if hasattr(thing, "make_site") else Site(thing)
        factory.displayTracebacks = False
        thing = factory
    if IProtocolFactory.providedBy(thing):
        return [_listen_one(reactor, port, guard(wrap(thing), limits, clock=reactor), host, tls)]
    if hasattr(thing, "listen_datagrams") and hasattr(thing, "factory"):  # DNS: TCP and UDP on one number
        guarded = guard(wrap(thing.factory), limits, clock=reactor)
        return [thing.listen_datagrams(reactor, lambda number: _listen_one(reactor, number, guarded, host, tls),
                                       host, port)]
    if hasattr(thing, "ports") and hasattr(thing, "factory"):
        guarded = guard(wrap(thing.factory), limits, clock=reactor)
        return [_listen_one(reactor, number, guarded, host, tls) for number in thing.ports()]
    raise TypeError(f"cannot serve {thing!r}: give a protocol factory, a twisted.web resource, "
                    "or the name of a practice server")


def _is_resource(thing) -> bool:
    """Whether ``thing`` is a twisted.web resource. Nothing can be one before ``twisted.web.resource`` is
    imported, so serving anything else leaves twisted.web unimported."""
    resource = sys.modules.get("twisted.web.resource")
    return resource is not None and resource.IResource.providedBy(thing)


def _listen_one(reactor, port: int, factory, host: str, tls):
    if tls is not None:
        return reactor.listenSSL(port, factory, tls, backlog=BACKLOG, interface=host)
    return reactor.listenTCP(port, factory, backlog=BACKLOG, interface=host)
