"""TLS on guarded connections, for servers that speak first: switching in the middle of a session (POP3 STLS,
SMTP and IMAP STARTTLS), and greeting over implicit TLS.

Promises: :func:`start_tls` starts TLS on a transport that :func:`servers.limits.guard` holds. The guard hooks
the transport's ``write`` and producer methods on the transport object itself; TLS started under those hooks
would still write plain text through them, and register its producer twice (Twisted raises, and the connection
dies). So the hooks come off first: from then on the connection keeps its idle timer (client bytes still pass
the guard) but no longer counts its writes or applies the guard's backpressure; TLS applies its own.

:class:`GreetAfterHandshake` is for a server that greets first over implicit TLS. Written before the
handshake, the greeting waits in TLS's buffer, which pauses the transport's producer; the guard's producer then
stops reading the socket, so the client's half of the handshake is never read and both sides wait for ever.
Without the guard's hooks TLS buffers the greeting and sends it once the handshake is done.
"""

from __future__ import annotations

from servers.limits import _HOOKED as GUARD_HOOKS  # the transport methods a guard replaces

from twisted.internet.interfaces import ISSLTransport

__all__ = ["GreetAfterHandshake", "start_tls", "unguard"]


def unguard(transport) -> None:
    """Take off the methods a guard put on ``transport`` itself, and the producer it registered."""
    for name in GUARD_HOOKS:
        vars(transport).pop(name, None)
    if getattr(transport, "producer", None) is not None:
        transport.unregisterProducer()


def start_tls(transport, options) -> None:
    """``transport.startTLS(options)``, on a guarded transport too."""
    unguard(transport)
    transport.startTLS(options)



class GreetAfterHandshake:
    """Mix in before a server protocol that greets in ``connectionMade``: on a connection that starts in TLS,
    the guard's hooks come off first (:func:`unguard`), so the greeting cannot stall the handshake."""

    def connectionMade(self):
        if ISSLTransport.providedBy(self.transport):
            unguard(self.transport)
        super().connectionMade()
