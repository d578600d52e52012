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
