"""Chapter 10's checks: a right solution passes; the untouched stub fails with "not written yet"; each typical
mistake fails with the hint that names it. Every check talks over real SSH connections (see labkit.chapters.ch10)."""

from __future__ import annotations

from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
from twisted.conch.client.knownhosts import KnownHostsFile
from twisted.conch.endpoints import SSHCommandClientEndpoint
from twisted.cred import checkers, credentials, error
from twisted.internet import defer, protocol
from twisted.internet.error import ConnectionDone
from twisted.python.filepath import FilePath
from zope.interface import implementer

from labkit.chapters import ch10
from labkit.checks.ssh import Collect, RefusingUI
from tests.failing import fails

NOT_WRITTEN = "not written yet"


def unwritten(*args):
    raise NotImplementedError()


# --- 10.1 ---------------------------------------------------------------------------------------------------------

def answer(user, line):
    words = line.split()
    if words[:1] == ["greet"]:
        return f"Hello, {' '.join(words[1:])}!", 0
    if words[:1] == ["whoami"]:
        return user, 0
    return f"{words[0]}: command not found", 127


def answer_always_zero(user, line):
    output, _status = answer(user, line)
    return output, 0


def test_shell_command_right_stub_and_mistake():
    ch10.check_shell_command(answer)
    assert NOT_WRITTEN in fails(ch10.check_shell_command, unwritten)
    assert "exits with 127" in fails(ch10.check_shell_command, answer_always_zero)


# --- 10.2 ---------------------------------------------------------------------------------------------------------

def key_checker(authorized):
    return SSHPublicKeyChecker(InMemorySSHKeyDB(authorized))


@implementer(checkers.ICredentialsChecker)
class AnyKnownUser:
    """The mistake: it lets a known user in with any key."""

    credentialInterfaces = (credentials.ISSHPrivateKey,)

    def __init__(self, authorized):
        self.authorized = authorized

    def requestAvatarId(self, given):
        if given.username in self.authorized:
            return defer.succeed(given.username)
        return defer.fail(error.UnauthorizedLogin("unknown user"))


def test_key_checker_right_stub_and_mistakes():
    ch10.check_key_checker(key_checker)
    assert NOT_WRITTEN in fails(ch10.check_key_checker, unwritten)
    assert "a key opens only the account it belongs to" in fails(ch10.check_key_checker, AnyKnownUser)
    passwords = fails(ch10.check_key_checker, lambda authorized: checkers.InMemoryUsernamePasswordDatabaseDontUse(
        learner=b"x"))
    assert "ISSHPrivateKey" in passwords


# --- 10.3 ---------------------------------------------------------------------------------------------------------

def summarize(server):
    return f"{server.name}: {server.open_connections} open connections"


def summarize_printed(server):
    print(summarize(server))


def summarize_fixed(server):
    return f"{server.name}: 0 open connections"


def test_manhole_helper_right_stub_and_mistakes():
    ch10.check_manhole_helper(summarize)
    assert NOT_WRITTEN in fails(ch10.check_manhole_helper, unwritten)
    assert "return the text instead of printing it" in fails(ch10.check_manhole_helper, summarize_printed)
    assert "server.open_connections" in fails(ch10.check_manhole_helper, summarize_fixed)


# --- 10.4 ---------------------------------------------------------------------------------------------------------

async def run_remote(reactor, port, user, key, known_hosts, command, ui=None):
    endpoint = SSHCommandClientEndpoint.newConnection(
        reactor, command.encode(), user.encode(), "127.0.0.1", port, keys=[key],
        knownHosts=KnownHostsFile.fromPath(FilePath(known_hosts)), ui=ui or RefusingUI())
    collected = await endpoint.connect(protocol.Factory.forProtocol(Collect))
    ended = await collected.ended
    status = 0 if isinstance(ended, ConnectionDone) else ended.exitCode
    return b"".join(collected.received).decode(), status


async def run_remote_trusting(reactor, port, user, key, known_hosts, command):
    class Yes(RefusingUI):
        def prompt(self, text):
            return defer.succeed(True)

    empty = FilePath(known_hosts).sibling("empty_known_hosts")
    empty.setContent(b"")
    return await run_remote(reactor, port, user, key, empty.path, command, ui=Yes())


async def run_remote_status_lost(reactor, port, user, key, known_hosts, command):
    output, _status = await run_remote(reactor, port, user, key, known_hosts, command)
    return output, 0


def test_command_runner_right_stub_and_mistakes():
    ch10.check_command_runner(run_remote)
    assert NOT_WRITTEN in fails(ch10.check_command_runner, unwritten)
    assert "never accept an unknown host key" in fails(ch10.check_command_runner, run_remote_trusting)
    assert "ProcessTerminated" in fails(ch10.check_command_runner, run_remote_status_lost)
