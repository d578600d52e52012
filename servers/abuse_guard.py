"""The abuse guard: the limits every practice server keeps, whatever protocol it speaks.

Promises:

* :func:`guard` wraps a protocol factory so each of its connections is held to a :class:`Limits`:

  - at most ``max_connections`` at once; a new client past the cap is let in by closing the connection that
    has been idle longest, so idle connections can never lock a well-behaved client out;
  - a connection with no bytes either way for ``idle_timeout`` seconds is closed (after sending what it can);
  - client bytes left unanswered for ``request_timeout`` seconds (a request trickled a byte at a time) close
    the connection;
  - once ``max_buffered`` bytes wait to be sent to a client that does not read, the server stops reading from
    that client until they drain (backpressure, through a push producer registered on the transport; a
    producer the wrapped protocol registers itself, such as twisted.web's, is kept informed and takes over);
  - when a client half-closes (``shutdown(SHUT_WR)``, ``nc -N``), a protocol that handles half-close is told;
    any other protocol gets its answers to what it already received sent, then the connection closes;
  - TLS works under the guard, from the first byte (``listenSSL``) or started in the middle of a session
    (``transport.startTLS``, for POP3 STLS and SMTP/IMAP STARTTLS): the limits then apply to what the server
    writes above TLS, and a server that greets first does not stall the handshake.

  - every connection is TCP_NODELAY: a small answer goes out at once instead of waiting, under Nagle's
    algorithm, for the client's delayed ACK of the one before (about 40 ms on Linux loopback, every POP3 RETR
    and IMAP FETCH of a body paid it).

  A connection closed for the cap or the request time limit is dropped at once (what waits to be sent is
  discarded); the reason goes to the Twisted log. The wrapper stays out of the way: the wrapped protocol sees the
  real transport (so a recording wrapper inside still sees the socket), and it costs a clock read per read and per
  write.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from twisted.internet.interfaces import (IHalfCloseableProtocol, IHandshakeListener, IProtocolFactory,
                                         IProtocolNegotiationFactory, IPushProducer, ISSLTransport, ITCPTransport)
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory
from zope.interface import alsoProvides, implementer

__all__ = ["GuardedConnection", "GuardedFactory", "Limits", "all_positive", "guard"]

_log = Logger()


@dataclass(frozen=True)
class Limits:
    """What one listening practice server allows; the defaults suit a learner poking at it by hand."""

    max_connections: int = 256
    idle_timeout: float = 300.0
    request_timeout: float = 60.0
    max_buffered: int = 256 * 1024

    def __post_init__(self):
        all_positive(self)


def all_positive(limits) -> None:
    """Raise ValueError naming the first field of the dataclass ``limits`` that is not more than 0."""
    for item in fields(limits):
        value = getattr(limits, item.name)
        if not value > 0:
            raise ValueError(f"{type(limits).__name__}.{item.name} must be more than 0, not {value!r}")


def guard(factory, limits: Limits, *, clock=None) -> IProtocolFactory:
    """Wrap the protocol factory ``factory`` so its connections keep to ``limits`` (``clock``: for tests)."""
    if clock is None:
        from twisted.internet import reactor as clock
    return GuardedFactory(factory, limits, clock)


class GuardedFactory(WrappingFactory):
    """Builds a :class:`GuardedConnection` around each protocol of the wrapped factory; enforces the cap."""

    def __init__(self, factory, limits: Limits, clock):
        super().__init__(factory)
        if IProtocolNegotiationFactory.providedBy(factory):
            alsoProvides(self, IProtocolNegotiationFactory)
        self.limits = limits
        self.clock = clock
        self.evicted = 0

    def buildProtocol(self, addr):
        inner = self.wrappedFactory.buildProtocol(addr)
        return None if inner is None else GuardedConnection(self, inner)

    def acceptableProtocols(self):
        """The wrapped factory's protocols for TLS negotiation (ALPN)."""
        return self.wrappedFactory.acceptableProtocols()

    def admit(self, newcomer: GuardedConnection) -> None:
        """Make room for ``newcomer``: past the cap, close the connections idle longest."""
        while len(self.protocols) > self.limits.max_connections:
            oldest = min((c for c in self.protocols if c is not newcomer), key=lambda c: c.last_active)
            self.unregisterProtocol(oldest)
            self.evicted += 1
            oldest.close(f"{self.limits.max_connections} connections were open (Limits.max_connections) "
                         "and this one had been idle longest")

    def unregisterProtocol(self, connection) -> None:
        self.protocols.pop(connection, None)


@implementer(IPushProducer)
class _Backpressure:
    """The push producer on a guarded transport: the transport pauses it when ``max_buffered`` bytes wait.

    Paused, it stops reading the client, or passes the pause on to the wrapped protocol's own producer.

    While a TLS handshake is under way (``handshaking``) a pause is only noted: TLS pauses its writer when the
    server writes before the handshake is done (a greeting), and resumes it once it is done; stopping reading then
    would leave the client's half of the handshake unread, and both sides would wait for ever.
    """

    def __init__(self, transport):
        self.transport = transport
        self.inner = None
        self.paused = False
        self.registered = False
        self.handshaking = False

    def pauseProducing(self):
        self.paused = True
        if not self.handshaking:
            (self.inner or self.transport).pauseProducing()

    def resumeProducing(self):
        self.paused = False
        (self.inner or self.transport).resumeProducing()

    def stopProducing(self):
        if self.inner is not None:
            self.inner.stopProducing()


_HOOKED = ("write", "writeSequence", "registerProducer", "unregisterProducer", "loseConnection", "startTLS")


@implementer(IHalfCloseableProtocol, IHandshakeListener)
class GuardedConnection(Protocol):
    """Sits between the transport and the wrapped protocol, which still talks to the transport directly.

    It hooks the transport's ``write``, ``writeSequence``, ``registerProducer``, ``unregisterProducer``,
    ``loseConnection`` and ``startTLS`` on this one transport object, to note activity and keep its producer
    registered, above TLS once TLS has started.
    """

    def __init__(self, factory: GuardedFactory, inner):
        self.factory = factory
        self.inner = inner
        self.last_active = 0.0
        self._unanswered_since = None
        self._timer = None
        self._backpressure = None

    def logPrefix(self):
        prefix = getattr(self.inner, "logPrefix", None)
        return prefix() if prefix is not None else self.inner.__class__.__name__

    def makeConnection(self, transport):
        now = self.factory.clock.seconds()
        self.last_active = now
        self.factory.registerProtocol(self)
        tcp = ITCPTransport(transport, None)  # under listenSSL, TLS passes the socket's methods on
        if tcp is not None:
            tcp.setTcpNoDelay(True)
        self._hook(transport)
        Protocol.makeConnection(self, transport)
        self.factory.admit(self)
        self._timer = self.factory.clock.callLater(self.factory.limits.idle_timeout, self._check)
        self.inner.makeConnection(transport)

    def _hook(self, transport) -> None:
        limits = self.factory.limits
        if hasattr(transport, "bufferSize"):
            transport.bufferSize = limits.max_buffered
        write, write_sequence = transport.write, transport.writeSequence
        register, unregister, lose = transport.registerProducer, transport.unregisterProducer, \
            transport.loseConnection
        start_tls = getattr(transport, "startTLS", None)
        now = self.factory.clock.seconds
        backpressure = self._backpressure = _Backpressure(transport)
        backpressure.handshaking = ISSLTransport.providedBy(transport)  # listenSSL: TLS from the first byte

        def answered():
            self._unanswered_since = None
            if not backpressure.paused:
                self.last_active = now()

        def guarded_write(data):
            answered()
            write(data)

        def guarded_write_sequence(data):
            answered()
            write_sequence(data)

        def take_over(producer, streaming):
            if backpressure.registered:
                unregister()
            backpressure.inner = producer
            register(backpressure, streaming)
            backpressure.registered = True

        def register_producer(producer, streaming):
            if backpressure.inner is not None:
                raise RuntimeError(f"cannot register producer {producer!r}: {backpressure.inner!r} is registered "
                                   "and was never unregistered")
            take_over(producer, streaming)

        def unregister_producer():
            if backpressure.inner is None:
                return
            if getattr(transport, "disconnecting", False):
                unregister()
                backpressure.inner, backpressure.registered = None, False
                return
            take_over(None, True)
            if backpressure.paused:
                transport.pauseProducing()

        def lose_connection(*args, **kwargs):
            if backpressure.registered and backpressure.inner is None:
                unregister()  # a transport with a producer waits for it before closing
                backpressure.registered = False
            return lose(*args, **kwargs)

        def start_tls_under_guard(*args, **kwargs):
            # Twisted moves a registered producer under the new TLS layer by unregistering it and registering it
            # again through the transport's methods, which are the hooks above: the guard's producer comes off the
            # plain transport first, and goes back on once TLS is in place, above it.
            if backpressure.registered:
                unregister()
                backpressure.registered = False
            backpressure.handshaking = True
            start_tls(*args, **kwargs)
            register(backpressure, True)
            backpressure.registered = True

        hooks = dict(zip(_HOOKED, (guarded_write, guarded_write_sequence, register_producer, unregister_producer,
                                   lose_connection, start_tls_under_guard)))
        if start_tls is None:
            del hooks["startTLS"]
        vars(transport).update(hooks)
        take_over(None, True)

    def dataReceived(self, data):
        now = self.factory.clock.seconds()
        self.last_active = now
        if self._unanswered_since is None:
            self._unanswered_since = now
            if self._timer is not None and self._timer.getTime() > now + self.factory.limits.request_timeout:
                self._timer.reset(self.factory.limits.request_timeout)
        self.inner.dataReceived(data)

    def _check(self) -> None:
        """Close the connection if a time limit has passed; otherwise look again when the next one could."""
        self._timer = None
        limits, now = self.factory.limits, self.factory.clock.seconds()
        request_due = (float("inf") if self._unanswered_since is None
                       else self._unanswered_since + limits.request_timeout)
        idle_due = self.last_active + limits.idle_timeout
        if now >= request_due:
            self.close(f"the client's bytes went unanswered for {limits.request_timeout:g} s "
                       "(Limits.request_timeout)")
        elif now >= idle_due:
            self.close_gently(f"no bytes either way for {limits.idle_timeout:g} s (Limits.idle_timeout)")
        else:
            self._timer = self.factory.clock.callLater(min(request_due, idle_due) - now, self._check)

    def close_gently(self, why: str) -> None:
        """Close after sending what waits to be sent; drop the connection if that has not happened in a while."""
        _log.info("closing {peer}: {why}", peer=self.transport.getPeer(), why=why)
        self.transport.loseConnection()
        grace = min(self.factory.limits.idle_timeout, 5.0)
        self._timer = self.factory.clock.callLater(grace, self.close, f"{why}, and it did not close in {grace:g} s")

    def close(self, why: str) -> None:
        """Drop the connection at once (what waits to be sent is discarded), and say why in the log."""
        if not self.connected:
            return
        _log.info("closing {peer}: {why}", peer=self.transport.getPeer(), why=why)
        self.transport.abortConnection()

    def readConnectionLost(self):
        """The client half-closed: tell a protocol that understands it; otherwise answer, then close."""
        half_closeable = IHalfCloseableProtocol(self.inner, None)
        if half_closeable is not None:
            half_closeable.readConnectionLost()
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self):
        half_closeable = IHalfCloseableProtocol(self.inner, None)
        if half_closeable is not None:
            half_closeable.writeConnectionLost()
        else:
            self.transport.loseConnection()

    def handshakeCompleted(self):
        self._backpressure.handshaking = False
        if IHandshakeListener.providedBy(self.inner):
            self.inner.handshakeCompleted()

    def connectionLost(self, reason):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self.factory.unregisterProtocol(self)
        self.connected = 0
        try:
            self.inner.connectionLost(reason)
        finally:
            for name in _HOOKED:  # the transport's own methods again, and no cycle through the hooks
                vars(self.transport).pop(name, None)
