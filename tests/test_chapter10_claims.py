"""Chapter 10 (SSH): the claims. Each test backs one sentence of the complete notebook that no executed output there
proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the notebook and
the cell. Should the sentence become false, the test fails and names it. The chapter's checks are tested in
tests/test_chapter10.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from twisted.conch.client.knownhosts import KnownHostsFile
from twisted.conch.error import HostKeyChanged
from twisted.conch.interfaces import ISession
from twisted.conch.ssh import keys, userauth
from twisted.python.filepath import FilePath

import labkit


def test_conch_makes_a_refused_password_wait_a_second():
    """10-ssh, cell 8: conch answers a wrong password after a pause of a second, to slow guessing down."""
    assert userauth.SSHUserAuthServer.passwordDelay == 1


def test_isession_asks_for_window_changed_and_eof_received():
    """10-ssh, cell 16: `ISession` has `windowChanged` and `eofReceived` (which the book's avatar lacked), so an
    adapter must have them."""
    assert {"getPty", "openShell", "execCommand", "closed", "windowChanged", "eofReceived"} == set(ISession.names())


def test_conchs_command_client_cannot_take_output_sent_before_the_exec_reply(monkeypatch, logged, tmp_path):
    """10-ssh, cell 16: conch's command client (`SSHCommandClientEndpoint`) cannot take data that arrives before the
    reply to its exec request: its channel has no protocol yet, it raises `AttributeError`, and the command never
    ends for the client. Answered a reactor turn later (as the practice server does), the same command works."""
    import servers.ssh
    from labkit.checks.ssh import known_hosts_file, run_command
    from servers import accounts
    from servers.ssh import session as practice_session
    from servers.ssh.keys import host_key

    password = {account.user: account.password for account in accounts.accounts("ssh")}["learner"]
    served = labkit.serve(servers.ssh.ssh(), name="claims-ssh", show=False)
    try:
        known = known_hosts_file(served.port, host_key(), tmp_path)
        later = run_command(served.port, "learner", "whoami", known_hosts=known, password=password)
        monkeypatch.setattr(practice_session.ShellSession, "execCommand",
                            lambda self, process, command: self._answer(process, command.decode()))
        at_once = run_command(served.port, "learner", "whoami", known_hosts=known, password=password, timeout=2)
    finally:
        served.stop()
    assert (later.output, later.status) == ("learner\n", 0)
    assert at_once.output == "" and at_once.status is None and "no answer" in at_once.error
    raised = [event.get("log_failure") or event.get("failure") for event in logged if event.get("isError")]
    assert any(failure.check(AttributeError) and "_protocol" in str(failure.value) for failure in raised)


def test_the_public_key_checker_answers_a_key_without_a_signature_by_asking_for_one():
    """10-ssh, cell 25: `SSHPublicKeyChecker` verifies the signature, and a key offered without one is answered as
    the protocol asks (`ValidPublicKey`: the server says the key would do, the client then signs), not let in."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
    from twisted.conch.error import ValidPublicKey
    from twisted.cred.credentials import SSHPrivateKey
    from twisted.cred.error import UnauthorizedLogin

    private = keys.Key(ed25519.Ed25519PrivateKey.generate())
    blob = private.public().blob()
    checker = SSHPublicKeyChecker(InMemorySSHKeyDB({b"learner": [private.public()]}))

    def outcome(signature, data=b"session data"):
        results = []
        checker.requestAvatarId(SSHPrivateKey(b"learner", b"ssh-ed25519", blob, data, signature)).addBoth(
            results.append)
        return results[0]

    assert outcome(None).check(ValidPublicKey)
    assert outcome(private.sign(b"session data")) == b"learner"
    assert outcome(private.sign(b"other data")).check(UnauthorizedLogin)


def test_conchs_manhole_factory_ships_no_host_keys():
    """10-ssh, cell 35: `manhole_ssh.ConchFactory` ships no host keys (set them on the factory)."""
    from twisted.conch import manhole_ssh

    assert manhole_ssh.ConchFactory.publicKeys == {} and manhole_ssh.ConchFactory.privateKeys == {}


def test_twistd_manhole_still_exists_and_takes_a_password_file():
    """10-ssh, cell 35: `twistd manhole` still exists, and still takes a password file."""
    twistd = str(pathlib.Path(sys.executable).with_name("twistd"))
    ran = subprocess.run([twistd, "manhole", "--help"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "--passwd=" in ran.stdout, ran.stdout + ran.stderr


def test_known_hosts_has_host_key_says_yes_no_or_raises_host_key_changed(tmp_path):
    """10-ssh, cell 37: `KnownHostsFile.hasHostKey` says yes for the key listed, no for a host not listed, and
    raises `HostKeyChanged` when the file names another key for the host."""
    listed, other = new_public_key(), new_public_key()
    path = tmp_path / "known_hosts"
    path.write_bytes(b"[127.0.0.1]:2222 " + listed.toString("openssh") + b"\n")
    known = KnownHostsFile.fromPath(FilePath(str(path)))
    assert known.hasHostKey(b"[127.0.0.1]:2222", listed) is True
    assert known.hasHostKey(b"[127.0.0.1]:2223", listed) is False
    with pytest.raises(HostKeyChanged):
        known.hasHostKey(b"[127.0.0.1]:2222", other)


def new_public_key() -> keys.Key:
    """The public half of an Ed25519 key made now."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return keys.Key(ed25519.Ed25519PrivateKey.generate()).public()




ASK_OR_NOT = """
import io, os, sys
from twisted.conch.client.knownhosts import KnownHostsFile
from twisted.conch.endpoints import SSHCommandClientEndpoint
from twisted.internet import protocol, task
from twisted.python.filepath import FilePath

def terminal():
    try:
        open("/dev/tty", "r+b", buffering=0).close()
    except OSError:
        return "no /dev/tty"
    try:
        FilePath(b"/dev/tty").open("r+").close()
    except (OSError, io.UnsupportedOperation) as refused:
        return f"/dev/tty opens, but not as conch opens it: {type(refused).__name__}"
    return "/dev/tty opens, as conch opens it too"

async def connect(reactor, port, known_hosts):
    endpoint = SSHCommandClientEndpoint.newConnection(  # no ui: conch's default
        reactor, b"whoami", b"learner", "127.0.0.1", int(port), password=b"unused",
        knownHosts=KnownHostsFile.fromPath(FilePath(known_hosts)))
    try:
        await endpoint.connect(protocol.Factory.forProtocol(protocol.Protocol))
    except Exception as failed:
        return f"refused: {type(failed).__name__}"
    return "connected"

async def main(reactor, port, pty, known_hosts):
    print(terminal(), "->", await connect(reactor, port, known_hosts))
    os.open(pty, os.O_RDWR)  # a session leader's first terminal becomes its controlling terminal
    print(terminal(), "->", await connect(reactor, port, known_hosts))

task.react(main, sys.argv[1:])
"""


def test_conchs_default_ui_means_to_ask_on_the_terminal_but_answers_no_without_asking(tmp_path):
    """10-ssh, cell 41: given no `ui`, `SSHCommandClientEndpoint` means to put the question about a host key it
    does not know to the terminal (`/dev/tty`), but it opens the terminal buffered for reading and writing, which
    Python refuses ("not seekable"), and then answers no by itself. A client in a session of its own without a
    terminal (as a Jupyter kernel runs: jupyter_client starts it with `start_new_session`) refuses the unknown
    host; given a working terminal, it refuses it the same way and writes nothing there."""
    import inspect
    import os
    import select

    import jupyter_client.launcher

    import servers.ssh

    assert "start_new_session" in inspect.getsource(jupyter_client.launcher)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")  # lists no host: the server's key is unknown
    served = labkit.serve(servers.ssh.ssh(), name="claims-ssh-ui", show=False)
    master, slave = os.openpty()
    try:
        ran = subprocess.run([sys.executable, "-c", ASK_OR_NOT, str(served.port), os.ttyname(slave),
                              str(known_hosts)], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=60, start_new_session=True)
        shown = os.read(master, 4096) if select.select([master], [], [], 0)[0] else b""
    finally:
        os.close(master)
        os.close(slave)
        served.stop()
    refused = "-> refused: UserRejectedKey\n"
    assert ran.stdout == (f"no /dev/tty {refused}/dev/tty opens, but not as conch opens it: UnsupportedOperation "
                          f"{refused}"), ran.stdout + ran.stderr
    assert shown == b""  # nothing was asked on the terminal
