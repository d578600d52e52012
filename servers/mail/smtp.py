"""The ``smtp`` practice server: Twisted's ESMTP server that keeps every message it accepts, for checks to read.

Promises:

* :func:`smtp` builds a factory of :class:`PracticeESMTP` connections. It accepts mail for the practice domains
  (:data:`servers.mail.messages.DOMAINS`), any local part, and refuses every other domain with ``550`` (it
  relays nothing). Every accepted message is appended to ``factory.outbox`` as a :class:`Received` (sender,
  recipients, the authenticated user if any, the message bytes as they arrived, dot-unstuffed). The outbox is
  an :class:`Outbox`: a list that keeps only the newest :data:`KEEP_MESSAGES` messages and
  :data:`KEEP_BYTES` bytes of them, so a client sending without end costs the server a bounded amount of memory.
* ESMTP with ``STARTTLS`` (practice certificate) and ``AUTH PLAIN`` / ``AUTH LOGIN`` against the ``mail``
  practice accounts; a wrong password gets ``535``. Logging in is optional: the server is the practice
  domains' own MX, which takes mail from anyone. Over implicit TLS (``listenSSL``, port 465 style) STARTTLS is
  neither offered nor accepted (``503``). ``factory.practice_details()`` names the practice authority's file
  (``ca: PATH``) while STARTTLS is offered, for a client to verify the server with.
* A message larger than :data:`MAX_MESSAGE` bytes is refused with ``552`` after its end, and nothing of it is
  kept; the session goes on. A line over 16 kB (or bytes without CR LF) gets ``500`` and the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, protocol
from twisted.internet.interfaces import ISSLTransport
from twisted.mail import imap4
from twisted.mail import smtp as twisted_smtp
from zope.interface import implementer

from servers import accounts
from servers.compat import EndOfDataReply
from servers.mail.messages import DOMAINS

__all__ = ["KEEP_BYTES", "KEEP_MESSAGES", "MAX_MESSAGE", "MessageTooLarge", "Outbox", "PracticeESMTP", "Received",
           "smtp"]

FAMILY = "mail"
MAX_MESSAGE = 1024 * 1024
KEEP_MESSAGES = 100
KEEP_BYTES = 8 * MAX_MESSAGE
SERVER_NAME = b"mail.example.test"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    user: str | None = None


class Outbox(list):
    """The messages a server accepted, oldest first: a list that forgets its oldest messages once it holds more
    than ``keep_messages`` of them or more than ``keep_bytes`` bytes of message data (the newest is always kept)."""

    def __init__(self, keep_messages: int = KEEP_MESSAGES, keep_bytes: int = KEEP_BYTES):
        super().__init__()
        self.keep_messages, self.keep_bytes = keep_messages, keep_bytes
        self.forgotten = 0  # how many messages were dropped to stay within the bounds

    def append(self, received: Received) -> None:
        super().append(received)
        kept = sum(len(message.data) for message in self)
        while len(self) > 1 and (len(self) > self.keep_messages or kept > self.keep_bytes):
            kept -= len(self.pop(0).data)
            self.forgotten += 1


class MessageTooLarge(Exception):
    """A message passed :data:`MAX_MESSAGE` bytes."""


@implementer(twisted_smtp.IMessage)
class _Incoming:
    """One message on its way in, for one recipient. Twisted makes one per recipient and gives each every line;
    only the first recipient's one ``keeps`` the message (for all its recipients), up to the size limit."""

    def __init__(self, delivery: "Delivery", sender: str, recipients: list[str], keeps: bool):
        self.delivery, self.sender, self.recipients, self.keeps = delivery, sender, recipients, keeps
        self.lines: list[bytes] = []
        self.size = 0

    def lineReceived(self, line: bytes) -> None:
        self.size += len(line) + 2
        if self.keeps and self.size <= MAX_MESSAGE:
            self.lines.append(line)
        else:
            self.lines.clear()  # keep nothing of a message that will be refused

    def eomReceived(self):
        if self.size > MAX_MESSAGE:
            return defer.fail(MessageTooLarge(f"{self.size} bytes, more than the {MAX_MESSAGE} allowed"))
        if self.keeps:
            data = b"".join(line + b"\r\n" for line in self.lines)
            self.delivery.outbox.append(Received(self.sender, tuple(self.recipients), data, self.delivery.user))
        return defer.succeed(None)

    def connectionLost(self) -> None:
        self.lines.clear()


@implementer(twisted_smtp.IMessageDelivery)
class Delivery:
    """Accepts the practice domains, refuses the rest, records into ``outbox``; ``user`` is who logged in."""

    def __init__(self, outbox: list, user: str | None = None):
        self.outbox, self.user = outbox, user
        self.sender, self.recipients = "", []

    def receivedHeader(self, helo, origin, recipients) -> bytes:
        return b"Received: from " + (helo[0] or b"unknown") + b" by " + SERVER_NAME + b" (practice ESMTP)"

    def validateFrom(self, helo, origin):
        self.sender, self.recipients = str(origin), []  # a new transaction
        return origin

    def validateTo(self, user):
        domain = user.dest.domain.decode("ascii", "replace").lower()
        if domain not in DOMAINS:
            raise twisted_smtp.SMTPBadRcpt(user, 550, f"relaying denied: this server only takes mail for "
                                                      f"{', '.join(DOMAINS)}")
        sender, recipients = self.sender, self.recipients
        recipients.append(str(user.dest))
        keeps = len(recipients) == 1
        return lambda: _Incoming(self, sender, recipients, keeps)


@implementer(IRealm)
class DeliveryRealm:
    """A logged-in user's delivery: the same outbox, with the user's name on what they send."""

    def __init__(self, outbox: list):
        self.outbox = outbox

    def requestAvatar(self, avatarId, mind, *interfaces):
        if twisted_smtp.IMessageDelivery not in interfaces:
            raise NotImplementedError("this realm only gives SMTP deliveries")
        return twisted_smtp.IMessageDelivery, Delivery(self.outbox, avatarId.decode("utf-8")), lambda: None


class PracticeESMTP(EndOfDataReply, twisted_smtp.ESMTP):
    """Twisted's ESMTP: STARTTLS on a guarded connection, ``552`` for a message over the size limit, NOOP and
    VRFY answered, and a line too long ends the session.

    Twisted's own server answers a line longer than ``MAX_LENGTH`` with ``500 Line too long`` and then keeps the
    line's bytes and every byte after it (lines ended by a bare LF never end for it): a client sending without
    CR LF grows the server without bound. Here the server answers ``500``, then closes.
    """

    def connectionMade(self):
        super().connectionMade()
        if ISSLTransport.providedBy(self.transport):
            self.startedTLS = True  # implicit TLS: STARTTLS is not offered, and answered 503

    def lineLengthExceeded(self, line):
        super().lineLengthExceeded(line)
        self.transport.loseConnection()

    def do_NOOP(self, rest):
        self.sendCode(250, b"OK")

    def do_VRFY(self, rest):
        """RFC 5321 asks every server for VRFY (Twisted's answers 500); 252 is its answer for "not checked"."""
        self.sendCode(252, b"Cannot VRFY the user, but will accept mail for the practice domains")

    def ext_STARTTLS(self, rest):
        if self.ctx and self.canStartTLS and not self.startedTLS:
            self.sendCode(220, b"Begin TLS negotiation now")
            self.transport.startTLS(self.ctx)
            self.startedTLS = True
            return
        super().ext_STARTTLS(rest)

    def end_of_data_reply(self, failure):
        if failure.check(MessageTooLarge):
            return 552, f"5.3.4 message refused: {failure.getErrorMessage()}".encode()
        return None


class SMTPFactory(protocol.ServerFactory):
    """ESMTP connections sharing one ``outbox``; ``tls`` (server options) offers STARTTLS."""

    noisy = False

    def __init__(self, portal: Portal, outbox: list, tls=None):
        self.portal, self.outbox, self.tls = portal, outbox, tls

    def practice_details(self) -> list[str]:
        """The ``ca: PATH`` line of the authority that verifies STARTTLS, when it is offered."""
        from servers.tls import ca_details

        return ca_details(self.tls)

    def buildProtocol(self, addr):
        made = PracticeESMTP({b"PLAIN": imap4.PLAINCredentials, b"LOGIN": imap4.LOGINCredentials}, self.tls)
        made.factory, made.portal, made.host = self, self.portal, SERVER_NAME
        made.delivery = Delivery(self.outbox)
        return made


def smtp(tls=None):
    """The SMTP practice server, its ``outbox`` empty; ``tls``: server options for STARTTLS (the practice
    certificate by default; ``False`` for none)."""
    outbox = Outbox()
    if tls is None:
        from servers import tls as practice_tls

        tls = practice_tls.server_options(())
    return SMTPFactory(Portal(DeliveryRealm(outbox), [accounts.checker(FAMILY)]), outbox, tls or None)
