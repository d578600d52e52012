"""SSH from a check: run one command over a real SSH connection with conch's command endpoint, bounded.

Promises: :func:`run_command` logs in to ``127.0.0.1:PORT`` with a key or a password, runs one command and
returns an :class:`SSHResult` (what the command printed and its exit status), or says how the session ended
(login refused, host key refused, no answer) without raising for a server that misbehaves. The server's host
key is checked against the one key the caller names (or a ``known_hosts`` file): a server showing any other key
is refused, never accepted silently, and nothing ever prompts. :func:`type_at_shell` types at a terminal
session (a shell, a manhole) and returns what the terminal showed, as text without escape sequences.
:class:`CommandLog` is what a check shows of its SSH sessions in place of a wire transcript (the wire is
encrypted): each command sent and how it was answered.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import defer
from twisted.internet.protocol import Protocol

from labkit.bridge import LabTimeout, react
from labkit.checks import limits
from labkit.output import divert_cell_errors

__all__ = ["Collect", "CommandLog", "RefusingUI", "SSHResult", "known_hosts_file", "run_command", "type_at_shell"]


@dataclass
class SSHResult:
    """How one command went: ``output`` and ``status``, or ``error`` (the words of what went wrong)."""

    output: str = ""
    status: int | None = None
    error: str = ""

    @property
    def ran(self) -> bool:
        return not self.error


class CommandLog:
    """The commands a check ran over SSH and their answers, as a check shows them (``check.show(log)``): one
    ``$ command`` line, then the output's lines, then the exit status or how the session ended."""

    OUTPUT_LINES = 5
    """At most this many lines of one command's output are shown."""

    def __init__(self):
        self.lines: list[str] = []

    def add(self, command: str, answer) -> None:
        """Note ``command`` and its ``answer``: an :class:`SSHResult`, an ``(output, status)`` pair, the text a
        terminal showed (its last lines), any other value the learner's code returned, or an exception it raised."""
        self.lines.append(f"$ {command}")
        if isinstance(answer, SSHResult) and answer.ran:
            answer = (answer.output, answer.status)
        if isinstance(answer, SSHResult):
            self.lines.append(f"  ({answer.error})")
        elif isinstance(answer, str):  # what a terminal showed
            shown = answer.splitlines()
            self.lines += ["  " + line for line in shown[-self.OUTPUT_LINES:]]
        elif isinstance(answer, BaseException):
            self.lines.append(f"  (raised {type(answer).__name__}: {answer})")
        elif isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[0], str):
            output = answer[0].splitlines()
            self.lines += ["  " + line for line in output[:self.OUTPUT_LINES]]
            if len(output) > self.OUTPUT_LINES:
                self.lines.append(f"  ... ({len(output) - self.OUTPUT_LINES} more lines)")
            self.lines.append(f"  (exit status {answer[1]!r})")
        else:
            self.lines.append(f"  (returned {answer!r:.200})")

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def _repr_html_(self) -> str:
        import html

        return f"<pre style='margin:0'>{html.escape(str(self))}</pre>"


class Collect(Protocol):
    """A command's side of the channel: keeps what arrives; ``ended`` fires with why the channel closed
    (``ConnectionDone`` for status 0, ``ProcessTerminated`` with ``exitCode`` for any other)."""

    def __init__(self):
        self.received, self.ended = [], defer.Deferred()

    def dataReceived(self, data):
        self.received.append(data)

    def connectionLost(self, reason):
        self.ended.callback(reason.value)


class RefusingUI:
    """The prompts of conch's host-key check, answered "no" without asking anyone."""

    def prompt(self, text):
        return defer.succeed(False)

    def warn(self, text):
        pass


def known_hosts_file(port: int, host_key, folder: str | Path | None = None) -> Path:
    """A new ``known_hosts`` file naming ``host_key`` (a conch ``Key``) for ``127.0.0.1:PORT``.

    It holds two lines: ``[127.0.0.1]:PORT``, which OpenSSH looks up, and ``127.0.0.1``, which conch's
    ``KnownHostsFile`` looks up (it matches host names without their port)."""
    from servers.ssh.keys import known_hosts_line

    folder = Path(folder or tempfile.mkdtemp(prefix="known-hosts-"))
    path = folder / "known_hosts"
    path.write_text(f"{known_hosts_line(port, host_key)}\n{known_hosts_line(22, host_key)}\n")
    return path


def _words(error: Exception) -> str:
    from twisted.conch.endpoints import AuthenticationFailed
    from twisted.conch.error import HostKeyChanged, UserRejectedKey

    if isinstance(error, (UserRejectedKey, HostKeyChanged)):
        return "host key refused: the server's key is not the one in known_hosts"
    if isinstance(error, AuthenticationFailed):
        return "login refused"
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"


def run_command(port: int, user: str, command: str, *, known_hosts: str | Path, key=None,
                password: str | None = None, timeout: float = limits.REPLY) -> SSHResult:
    """Run ``command`` as ``user`` on the SSH server at 127.0.0.1:``port``, with ``key`` (a conch private
    ``Key``) or ``password``, trusting only the host keys in the file ``known_hosts``."""
    from twisted.conch.client.knownhosts import KnownHostsFile
    from twisted.conch.endpoints import SSHCommandClientEndpoint
    from twisted.internet import error, protocol
    from twisted.python.filepath import FilePath

    async def session(reactor) -> SSHResult:
        endpoint = SSHCommandClientEndpoint.newConnection(
            reactor, command.encode("utf-8"), user.encode("utf-8"), "127.0.0.1", port,
            keys=[key] if key is not None else None,
            password=password.encode("utf-8") if password is not None else None,
            knownHosts=KnownHostsFile.fromPath(FilePath(str(known_hosts))), ui=RefusingUI())
        try:
            collected = await endpoint.connect(protocol.Factory.forProtocol(Collect))
        except Exception as refused:  # noqa: BLE001 - how the login ended is the answer
            return SSHResult(error=_words(refused))
        ended = await collected.ended
        status = 0 if isinstance(ended, error.ConnectionDone) else getattr(ended, "exitCode", None)
        return SSHResult(b"".join(collected.received).decode("utf-8", "replace"), status)

    try:
        # The client's transport logs a server's disconnect (after a refused login, say) as an error; the
        # result already says how the session ended, so what the reactor reports meanwhile stays out of the cell.
        with divert_cell_errors(lambda text: None):
            return react(lambda reactor: defer.Deferred.fromCoroutine(session(reactor)), timeout=timeout)
    except LabTimeout:
        return SSHResult(error=f"no answer within {timeout:g} s")


def type_at_shell(port: int, user: str, keystrokes: bytes, *, host_key, key, until: bytes,
                  timeout: float = limits.REPLY) -> str:
    """Log in to 127.0.0.1:``port`` with ``key`` (only if the server shows ``host_key``), open a terminal
    session, type ``keystrokes`` and return what the terminal showed once it ends with its prompt ``until``
    for the answer to the last line typed (or when the session closed, or after ``timeout``), escape sequences
    and carriage returns removed."""
    import re

    from twisted.conch.ssh import channel, connection, session, transport, userauth
    from twisted.internet import endpoints, protocol

    shown, finished = [], defer.Deferred()

    def finish():
        if not finished.called:
            finished.callback(re.sub(rb"\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z=>])", b"", b"".join(shown)).replace(b"\r", b"")
                              .decode("utf-8", "replace"))

    class Terminal(channel.SSHChannel):
        name = b"session"

        def channelOpen(self, data):
            self.conn.sendRequest(self, b"pty-req", session.packRequest_pty_req(b"xterm", (24, 200, 0, 0), b""))
            self.conn.sendRequest(self, b"shell", b"")
            self.write(keystrokes)

        def dataReceived(self, data):
            shown.append(data)
            so_far = b"".join(shown)
            if so_far.endswith(until) and so_far.count(until) > keystrokes.count(b"\r"):
                finish()

        def closed(self):
            finish()

    class Connection(connection.SSHConnection):
        def serviceStarted(self):
            super().serviceStarted()
            self.openChannel(Terminal(conn=self))

    class Login(userauth.SSHUserAuthClient):
        def getPublicKey(self):
            if self.lastPublicKey is not None:  # offered once and refused
                return None
            return key.public()

        def getPrivateKey(self):
            return defer.succeed(key)

    class Client(transport.SSHClientTransport):
        def verifyHostKey(self, blob, fingerprint):
            from twisted.conch.ssh import keys

            if keys.Key.fromString(blob) == host_key.public():
                return defer.succeed(True)
            return defer.fail(ValueError("host key refused: not the server's known key"))

        def connectionSecure(self):
            self.requestService(Login(user.encode("utf-8"), Connection()))

        def connectionLost(self, reason):
            super().connectionLost(reason)
            finish()

    async def session_(reactor) -> str:
        client = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=timeout).connect(
            protocol.Factory.forProtocol(Client))
        try:
            return await finished
        finally:
            client.transport.loseConnection()

    try:
        with divert_cell_errors(lambda text: None):
            return react(lambda reactor: defer.Deferred.fromCoroutine(session_(reactor)), timeout=timeout)
    except LabTimeout:
        return "".join(part.decode("utf-8", "replace") for part in shown) + f"\n(no end within {timeout:g} s)"
