"""Refusing a request without losing the refusal: the answer is written, then the connection closes the way HTTP
asks (RFC 9112 section 9.6, "tear-down"), so the client reads it even while it is still sending.

Closing a socket at once, with the client's body still arriving, makes the kernel answer with a reset, and a reset
can throw away the answer before the client reads it (wget then says "Connection reset by peer", never "413").

Promises: :func:`refusal` is a complete ``HTTP/1.1`` response (``Date``, an HTML page, ``Content-Length``,
``Connection: close``). :func:`answer_and_linger` writes one on an ``HTTPChannel``'s transport, stops parsing what
the client sends, closes the sending half (where the transport can), and reads and throws away whatever still
arrives: at most :data:`LINGER_BYTES` bytes and for at most :data:`LINGER_SECONDS` seconds, then it closes. Nothing
the client sends after the refusal is kept or handled, and a connection gets one refusal at most.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableDescriptor, ISSLTransport
from twisted.web.http import datetimeToString

from servers.web.pages import HTML_TYPE, html_document

__all__ = ["LINGER_BYTES", "LINGER_SECONDS", "REASONS", "answer_and_linger", "refusal"]

LINGER_BYTES = 16_000_000
LINGER_SECONDS = 5.0
# The reason phrases of RFC 9110 (Twisted's are RFC 2616's) and RFC 6585's 431, which Twisted does not name.
REASONS = {400: "Bad Request", 413: "Content Too Large", 414: "URI Too Long", 431: "Request Header Fields Too Large"}


def refusal(code: int, explanation: str) -> bytes:
    """A whole ``HTTP/1.1`` response with status ``code`` (one of :data:`REASONS`): ``Date``, an HTML page titled
    after the status that says ``explanation`` (HTML already), ``Content-Length`` and ``Connection: close``."""
    title = f"{code} {REASONS[code]}"
    status = title.encode("ascii")
    page = html_document(title, f"<h1>{title}</h1>\n<p>{explanation}</p>")
    return (b"HTTP/1.1 " + status + b"\r\nDate: " + datetimeToString() + b"\r\nContent-Type: " + HTML_TYPE
            + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(page) + page)


class _Discard:
    """Counts and drops what arrives; closes the connection once ``limit`` bytes came or ``seconds`` passed."""

    def __init__(self, transport, limit: int, seconds: float, call_later):
        self.transport = transport
        self.left = limit
        self.timer = call_later(seconds, self.close)

    def received(self, data: bytes) -> None:
        self.left -= len(data)
        if self.left < 0:
            self.close()

    def close(self) -> None:
        if self.timer.active():
            self.timer.cancel()
        self.transport.loseConnection()


def answer_and_linger(channel, response: bytes, *, limit: int = LINGER_BYTES,
                      seconds: float = LINGER_SECONDS) -> bool:
    """Send ``response`` on ``channel`` (a ``twisted.web.http.HTTPChannel``) and end the connection with a lingering
    close: nothing more is parsed, the sending half closes once the answer is out, and what the client still sends
    is read and dropped until it closes, ``limit`` bytes have come or ``seconds`` have passed. A channel already
    lingering answers nothing more (the rest of the data that brought the first refusal may hold a second).
    Returns whether ``response`` was sent."""
    if isinstance(getattr(channel.dataReceived, "__self__", None), _Discard):
        return False
    transport = channel.transport
    discard = _Discard(transport, limit, seconds, channel.callLater)
    channel.setTimeout(None)
    # What the transport delivers from now on is dropped; `paused` ends the line parser's loop over what it holds.
    channel.dataReceived = discard.received
    channel.paused = True
    transport.write(response)
    transport.unregisterProducer()
    transport.resumeProducing()  # the channel may have paused reading while a request was being handled
    # Under TLS the half-close would reach the socket beneath it, past TLS: there the client closes, or the limits.
    if IHalfCloseableDescriptor.providedBy(transport) and not ISSLTransport.providedBy(transport):
        transport.loseWriteConnection()
    return True
