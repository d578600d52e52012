"""Who logs in to a practice SSH server and what their session channel does.

Promises:

* :class:`PracticeRealm` gives every authenticated user a :class:`PracticeUser` (or a subclass): a ``ConchUser``
  that opens ``session`` channels only (any other channel type is refused by conch with "unknown channel"), and
  whose :meth:`PracticeUser.terminal` is what a shell request talks to and :meth:`PracticeUser.run_command`
  what an ``exec`` request answers.
* A session (:class:`ShellSession`, the user's ``ISession``) runs the practice shell
  (:class:`servers.ssh.shell.PracticeShell`) when asked for a shell, and for ``exec`` answers the command from
  :func:`servers.ssh.shell.run`, sends its exit status and closes the channel. It accepts a pty request and
  window changes (the line editor needs them) and starts no process of the machine. A command that raises is
  logged and answered with status 1; the channel still closes.
* The session channel (:class:`PracticeSession`) refuses with ``CHANNEL_FAILURE`` (RFC 4254 section 5.4), and one
  info line in the log, a ``subsystem`` request (``sftp``: there is none), a second shell, exec or subsystem on a
  channel that has one, and a request whose fields cannot be read; conch logs these as errors or tracebacks.
"""

from __future__ import annotations

import struct

from twisted.conch.avatar import ConchUser
from twisted.conch.insults import insults
from twisted.conch.interfaces import IConchUser, ISession
from twisted.conch.ssh import session
from twisted.cred.portal import IRealm
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.logger import Logger
from twisted.python import components
from twisted.python.failure import Failure
from zope.interface import implementer

from servers.ssh import shell

__all__ = ["PracticeRealm", "PracticeSession", "PracticeUser", "ShellSession", "end_session"]

_log = Logger()


PROGRAMS = {b"shell", b"exec", b"subsystem"}  # the requests that give a session what it runs (RFC 4254 6.5)


class PracticeSession(session.SSHSession):
    """Conch's session channel, refusing quietly what the practice servers do not do (see the module)."""

    def requestReceived(self, requestType, data):
        if requestType in PROGRAMS and self.client is not None:
            _log.info("refused {request!r}: this session already runs something", request=requestType)
            return 0
        try:
            return super().requestReceived(requestType, data)
        except struct.error:
            _log.info("refused a {request!r} request whose fields cannot be read", request=requestType)
            return 0

    def request_subsystem(self, data):
        _log.info("refused the subsystem {name!r}: the practice server has none", name=data[4:68])
        return 0


class PracticeUser(ConchUser):
    """A logged-in user of the practice server: session channels only; its shell is :meth:`terminal`."""

    def __init__(self, username: bytes):
        super().__init__()
        self.username = username.decode("utf-8", "replace")
        self.channelLookup[b"session"] = PracticeSession

    def terminal(self, on_exit):
        """The protocol a terminal session talks to; ``on_exit(status)`` ends the session."""
        return insults.ServerProtocol(shell.PracticeShell, self.username, on_exit)

    def run_command(self, command: str) -> tuple[str, int]:
        """What an ``exec`` request answers: output and exit status."""
        return shell.run(self.username, command)


@implementer(IRealm)
class PracticeRealm:
    """Every authenticated user gets a ``user_factory(username)`` (a :class:`PracticeUser` by default)."""

    def __init__(self, user_factory=PracticeUser):
        self.user_factory = user_factory

    def requestAvatar(self, avatarId, mind, *interfaces):
        if IConchUser not in interfaces:
            raise NotImplementedError("the practice SSH realm serves conch users only")
        return IConchUser, self.user_factory(avatarId), lambda: None


def end_session(process_protocol, status: int) -> None:
    """Tell the client the command ended with ``status`` (``exit-status``), then close its channel."""
    reason = ProcessDone(None) if status == 0 else ProcessTerminated(exitCode=status)
    process_protocol.processEnded(Failure(reason))


@implementer(ISession)
class ShellSession:
    """What a practice user's session channel does: the line-editing shell, or one command."""

    def __init__(self, user: PracticeUser):
        self.user = user
        self.terminal = None
        self.window_size = None

    def getPty(self, term, windowSize, modes):
        self.terminal, self.window_size = term, windowSize

    def windowChanged(self, newWindowSize):
        self.window_size = newWindowSize

    def openShell(self, process_protocol):
        protocol = self.user.terminal(lambda status: end_session(process_protocol, status))
        protocol.makeConnection(process_protocol)
        process_protocol.makeConnection(session.wrapProtocol(protocol))

    def execCommand(self, process_protocol, command: bytes):
        from twisted.internet import reactor

        # Answer on the next turn of the reactor: the client is told its exec request succeeded first (conch's
        # own command client raises AttributeError on output that comes before that reply, and the command never
        # ends for it; OpenSSH's does not mind).
        reactor.callLater(0, self._answer, process_protocol, command.decode("utf-8", "replace"))

    def _answer(self, process_protocol, command: str):
        try:
            output, status = self.user.run_command(command)
        except Exception:
            _log.failure("the command {command!r} raised", command=command)
            output, status = "the server could not run this command (its log says why)", 1
        if output:
            process_protocol.write(output.encode("utf-8") + b"\n")
        end_session(process_protocol, status)

    def eofReceived(self):
        pass  # a shell reads until "exit" or the channel closes; a command has already answered

    def closed(self):
        pass


components.registerAdapter(ShellSession, PracticeUser, ISession)
