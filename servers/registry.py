"""The catalogue of practice servers, and the one way every one of them is put on a port.

Promises:

* :func:`practice_server` registers a builder under a name; :func:`build` calls it; :data:`REGISTRY` lists them.
* :func:`listen` puts a built server on ports of one host: a protocol factory on one port, a twisted.web
  resource behind a ``Site`` on one port, or a :class:`MultiPort` server (one factory on several ports).
  labkit's ``serve`` and ``python -m servers`` both use it, so a server behaves the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from twisted.internet.interfaces import IProtocolFactory
from twisted.web.resource import IResource

__all__ = ["MultiPort", "PracticeServer", "REGISTRY", "build", "is_web", "listen", "practice_server"]


@dataclass(frozen=True)
class PracticeServer:
    name: str
    summary: str
    builder: Callable


REGISTRY: dict[str, PracticeServer] = {}


def practice_server(name: str, summary: str):
    """Decorator: register ``builder(**options)`` as the practice server ``name``."""

    def register(builder: Callable) -> Callable:
        if name in REGISTRY:
            raise ValueError(f"a practice server named {name!r} is registered already")
        REGISTRY[name] = PracticeServer(name, summary, builder)
        return builder

    return register


def build(name: str, **options):
    """Build the practice server ``name`` (a factory, a resource or a MultiPort server)."""
    try:
        entry = REGISTRY[name]
    except KeyError:
        raise KeyError(f"no practice server named {name!r}; there are: {', '.join(sorted(REGISTRY))}") from None
    return entry.builder(**options)


class MultiPort(Protocol):
    """A server that listens on several fixed ports at once (for example the port-scan target)."""

    factory: IProtocolFactory

    def ports(self) -> list[int]:
        """The ports to listen on."""


def is_web(thing) -> bool:
    """True for what speaks HTTP: a twisted.web resource, or an HTTP factory (a ``Site``, say)."""
    from twisted.web.http import HTTPFactory

    return IResource.providedBy(thing) or isinstance(thing, HTTPFactory)


def listen(reactor, thing, *, host: str = "127.0.0.1", port: int = 0, tls=None,
           wrap: Callable = lambda factory: factory) -> list:
    """Listen with ``thing`` on ``host`` and return the listening ports.

    ``wrap`` is applied to each protocol factory before it listens (labkit uses it to record the wire);
    ``tls`` is a TLS context factory for ``listenSSL``.
    """
    if IResource.providedBy(thing):
        from twisted.web.server import Site

        # A resource may bring its own Site (the practice web site does, to see malformed uploads itself).
        factory = thing.make_site() if hasattr(thing, "make_site") else Site(thing)
        factory.displayTracebacks = False
        thing = factory
    if IProtocolFactory.providedBy(thing):
        return [_listen_one(reactor, port, wrap(thing), host, tls)]
    if hasattr(thing, "ports") and hasattr(thing, "factory"):
        wrapped = wrap(thing.factory)
        return [_listen_one(reactor, number, wrapped, host, tls) for number in thing.ports()]
    raise TypeError(f"cannot serve {thing!r}: give a protocol factory, a twisted.web resource, "
                    "or the name of a practice server")


def _listen_one(reactor, port: int, factory, host: str, tls):
    if tls is not None:
        return reactor.listenSSL(port, factory, tls, interface=host)
    return reactor.listenTCP(port, factory, interface=host)
