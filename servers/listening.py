"""The one way every practice server is put on a port, in a notebook (``labkit.serve``) and on its own
(``python -m servers``), so a server behaves the same in both.

Promises:

* :func:`plan` turns what is to be served (a catalogue name and its builder's options, or a learner's own
  factory or resource) into a :class:`Plan`, once, before anything listens: the host checked to be loopback
  (:func:`servers.loopback.loopback`), the protocol factory and its ports, the URL scheme, the
  :class:`servers.abuse_guard.Limits` (the catalogue entry's, or the defaults) and what a real client must know.
  What it is told to serve is recognised by the interfaces it provides (:mod:`servers.interfaces`: a DNS server
  on UDP and TCP at one number is an ``IStreamAndDatagrams``); anything else
  is refused with a TypeError naming what would do.
* :meth:`Plan.listen` puts the plan's factory, guarded by its limits, on its ports; every connection accepted is
  TCP_NODELAY (:func:`servers.abuse_guard.guard`). Serving a protocol factory imports nothing of twisted.web.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from twisted.internet.interfaces import IProtocolFactory, IProtocolNegotiationFactory

from servers import catalogue
from servers.abuse_guard import Limits, guard
from servers.interfaces import IMakesSite, IMultiPort, IPracticeDetails, IStreamAndDatagrams
from servers.loopback import loopback

__all__ = ["BACKLOG", "Plan", "plan"]

# Connections the kernel completes before the server accepts them; past it, new clients wait a second (a
# dropped SYN is sent again). Twisted's default, 50, is met by anyone opening connections in a loop.
BACKLOG = 1024


@dataclass(frozen=True)
class Plan:
    """One server, ready to listen: ``factory`` on ``ports`` of ``host``, held to ``limits``.

    ``name`` is the catalogue name, or the class name of a learner's own server; ``built`` is what was built or
    given (the resource or multi-port server itself, for checks to read); ``entry`` is the catalogue entry, if any.
    """

    name: str
    built: object
    factory: IProtocolFactory
    ports: tuple[int, ...]
    host: str
    scheme: str
    limits: Limits
    tls: object = None
    entry: catalogue.Entry | None = field(default=None, repr=False)

    def listen(self, reactor, wrap: Callable = lambda factory: factory, port: int | None = None) -> list:
        """Listen (reactor thread) and return the listening ports.

        ``wrap`` is applied to the protocol factory before it is guarded (labkit uses it to record the wire, so
        the recording sees the protocol's own bytes on the real transport); ``port``, if given, replaces the
        port of a one-port plan (to listen again where an earlier server was).
        """
        guarded = guard(wrap(self.factory), self.limits, clock=reactor)
        ports = (port,) if port is not None and len(self.ports) == 1 else self.ports

        def listen_one(number):
            if self.tls is not None:
                return reactor.listenSSL(number, guarded, self.tls, backlog=BACKLOG, interface=self.host)
            return reactor.listenTCP(number, guarded, backlog=BACKLOG, interface=self.host)

        if IStreamAndDatagrams.providedBy(self.built):  # DNS: UDP beside TCP, at the same number, one port object
            return [self.built.listen_datagrams(reactor, listen_one, self.host, ports[0])]
        return [listen_one(number) for number in ports]

    def details(self) -> list[str]:
        """The ``KEY: VALUE`` lines the built server offers a real client (:class:`IPracticeDetails`), if any."""
        return list(self.built.practice_details()) if IPracticeDetails.providedBy(self.built) else []

    def accounts(self) -> tuple:
        """The practice accounts a client logs in with (the catalogue entry's), if any."""
        return self.entry.practice_accounts() if self.entry is not None else ()


def plan(thing, *, host: str = "127.0.0.1", port: int = 0, tls=None, limits: Limits | None = None,
         **options) -> Plan:
    """The :class:`Plan` for serving ``thing``: a catalogue name (``options`` go to its builder), a protocol
    factory, a twisted.web resource or an :class:`~servers.interfaces.IMultiPort` server.

    ``tls`` is a TLS context factory (served with ``listenSSL``); ``limits`` replaces the server's own.
    Raises :class:`servers.loopback.NotLoopback` for a host other machines could reach, KeyError for an unknown
    name, :class:`servers.catalogue.ServerUnavailable` for a family that cannot load, TypeError for the rest.
    """
    host = loopback(host)
    entry = None
    if isinstance(thing, str):
        entry = catalogue.entry(thing)
        thing = entry.build(**options)
    elif options:
        raise TypeError(f"options {sorted(options)} are only for named practice servers, e.g. serve('echo')")
    factory, ports, speaks_http = _shape(thing, port)
    over_tls = tls is not None
    if entry is not None:
        scheme, limits = entry.url_scheme(over_tls), limits or entry.make_limits()
    else:
        plain = "http" if speaks_http else "tcp"
        scheme, limits = catalogue.TLS_SCHEMES[plain] if over_tls else plain, limits or Limits()
    name = entry.name if entry is not None else type(thing).__name__
    return Plan(name, thing, factory, ports, host, scheme, limits, tls, entry)


def _shape(thing, port: int) -> tuple[IProtocolFactory, tuple[int, ...], bool]:
    """The factory that serves ``thing``, its ports, and whether it speaks HTTP."""
    if IProtocolFactory.providedBy(thing):
        # twisted.web's HTTPFactory (a Site) offers http/1.1 to TLS's protocol negotiation (ALPN).
        negotiates = IProtocolNegotiationFactory.providedBy(thing)
        return thing, (port,), negotiates and b"http/1.1" in thing.acceptableProtocols()
    if IMultiPort.providedBy(thing):
        return thing.factory, tuple(thing.ports()), False
    if IStreamAndDatagrams.providedBy(thing):
        return thing.factory, (port,), False
    from twisted.web.resource import IResource  # only now: serving a factory leaves twisted.web unimported

    if IResource.providedBy(thing):
        if IMakesSite.providedBy(thing):  # the practice web site brings its own Site, to see malformed uploads
            site = thing.make_site()
        else:
            from twisted.web.server import Site

            site = Site(thing)
        site.displayTracebacks = False
        return site, (port,), True
    raise TypeError(f"cannot serve {thing!r}: give a protocol factory, a twisted.web resource, "
                    "or the name of a practice server")
