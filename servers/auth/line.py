"""The line-protocol login server (the book's example 6-1, as it works today), on a ``twisted.cred`` portal.

The conversation, one line each way, lines ending in LF or CR LF (``nc`` and ``telnet`` both work)::

    server: User Name:            client: ada
    server: Password:             client: analytical-engine
    server: Welcome Ada Lovelace!            (and the server closes)

A user the server knows no full name for is asked ``What's your full name?`` first (example 6-3). The user
name ``anonymous`` logs in with ``twisted.cred``'s anonymous credentials (its password line is ignored); a
portal without an anonymous checker refuses it like any failure. A failed login gets
``Denied: unknown user name or password.`` whatever was wrong; a line longer than
:data:`LoginProtocol.MAX_LENGTH` gets the same refusal at once. The avatar's logout is called as soon as the
greeting is sent (or when the client leaves after logging in). A client that half-closes after its password
still gets its answer.

Promises: :class:`LoginFactory` takes any portal whose realm gives :class:`servers.auth.avatars.INamedUser` or
``INewUser`` avatars; :class:`LoginProtocol` never writes after the connection is gone and never leaves an
avatar logged in.
"""

from __future__ import annotations

from twisted.cred.credentials import Anonymous, UsernamePassword
from twisted.cred.error import LoginFailed
from twisted.internet import defer, protocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.logger import Logger
from twisted.protocols import basic
from zope.interface import implementer

from servers.auth.avatars import INamedUser, INewUser
from servers.auth.userdb import REFUSAL
from servers.auth.worker import Busy

__all__ = ["ANONYMOUS_NAME", "DENIED", "LoginFactory", "LoginProtocol"]

ANONYMOUS_NAME = b"anonymous"
DENIED = f"Denied: {REFUSAL}.".encode("ascii")
BUSY = b"Denied: the server is busy checking other logins; try again in a moment."
_log = Logger()


@implementer(IHalfCloseableProtocol)
class LoginProtocol(basic.LineReceiver):
    """Asks for a user name and a password, logs in through ``factory.portal``, greets or refuses, hangs up."""

    delimiter = b"\n"
    MAX_LENGTH = 1024

    half_closed = False
    MAX_HELD = 64 * 1024
    """Bytes a client may send while its login is checked (kept for after it); more ends the connection."""
    held = 0

    pending = None

    def connectionMade(self):
        self.state = "user"
        self.username = b""
        self.avatar = None
        self.logout = None
        self.transport.write(b"User Name: ")

    def lineReceived(self, line: bytes):
        line = line.rstrip(b"\r")
        if self.state == "user":
            self.username, self.state = line, "password"
            self.transport.write(b"Password: ")
        elif self.state == "password":
            self.state = "checking"
            self.hold_lines()
            credentials = Anonymous() if self.username == ANONYMOUS_NAME else UsernamePassword(self.username, line)
            credentials.source = self.transport.getPeer().host  # for a throttle that keys on where logins come from
            self.pending = self.factory.portal.login(credentials, None, INamedUser, INewUser)
            self.pending.addCallbacks(self.logged_in, self.refused).addErrback(self.broken)
        elif self.state == "full name":
            self.state = "checking"
            self.hold_lines()
            named = defer.maybeDeferred(self.avatar.set_name, line.decode("utf-8", "replace").strip())
            named.addCallbacks(self.greet, self.bad_name).addErrback(self.broken)
        # lines after that (while checking, or after the answer) are ignored

    def hold_lines(self) -> None:
        """Lines typed ahead wait until the login is decided; the socket is still read, so a client that hangs up
        meanwhile is noticed at once (and its login withdrawn from the hashing queue)."""
        self.pauseProducing()
        self.transport.resumeProducing()
        self.held = 0

    def dataReceived(self, data: bytes):
        if self.paused:
            self.held += len(data)
            if self.held > self.MAX_HELD:
                self.transport.abortConnection()
                return
        super().dataReceived(data)

    def lineLengthExceeded(self, line):
        self.state = "done"
        self.answer(DENIED)

    def logged_in(self, triple):
        interface, self.avatar, self.logout = triple
        if not self.connected:
            self.log_out()
        elif interface is INewUser:
            self.state = "full name"
            self.transport.write(b"What's your full name? ")
            self.resumeProducing()
            if self.half_closed and self.state == "full name":
                self.answer(b"")
        else:
            self.greet(self.avatar)

    def greet(self, avatar):
        self.answer(f"Welcome {avatar.full_name}!".encode("utf-8"))

    def bad_name(self, failure):
        failure.trap(ValueError)
        self.answer(f"Denied: {failure.getErrorMessage()}.".encode("utf-8"))

    def refused(self, failure):
        if failure.check(defer.CancelledError):  # the client left before its login was decided
            return
        if failure.check(Busy):
            return self.answer(BUSY)
        failure.trap(LoginFailed)
        self.answer(DENIED)

    def broken(self, failure):
        """Anything else that went wrong (in a checker, a realm or an avatar): logged, and the client told."""
        _log.failure("the login could not be completed", failure)
        self.answer(b"Denied: the server could not complete your login; try again later.")

    def answer(self, line: bytes):
        self.state = "done"
        if self.connected:
            if line:
                self.sendLine(line)
            self.transport.loseConnection()
        self.log_out()

    def sendLine(self, line: bytes):
        return self.transport.write(line + b"\r\n")

    def log_out(self):
        logout, self.logout = self.logout, None
        if logout is not None:
            logout()

    def readConnectionLost(self):
        self.half_closed = True
        if self.state != "checking":  # nothing more will come, and nothing is waiting for an answer
            self.answer(b"")

    def writeConnectionLost(self):
        self.transport.loseConnection()

    def connectionLost(self, reason=protocol.connectionDone):
        checking, self.state = self.state == "checking", "done"
        if checking and self.pending is not None:
            self.pending.cancel()  # a login sent and abandoned: its hash leaves the queue
        self.log_out()


class LoginFactory(protocol.ServerFactory):
    """Serves :class:`LoginProtocol` on ``portal``; ``on_stop`` (if given) is called when it stops listening."""

    protocol = LoginProtocol
    noisy = False

    def __init__(self, portal, on_stop=None):
        self.portal = portal
        self.on_stop = on_stop

    def stopFactory(self):
        if self.on_stop is not None:
            self.on_stop()
