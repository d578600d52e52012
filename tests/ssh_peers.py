"""What the SSH tests and benchmarks share: a practice SSH server that knows one user key, that key as OpenSSH
reads it, Debian's ``sshd`` started unprivileged on a loopback port, and a paramiko policy that pins a host key
by its fingerprint."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time

import pytest

import labkit
from servers.ssh import ssh
from servers.ssh.keys import fingerprint, new_key
from tests.peers import need

__all__ = ["SSHD", "openssh_server", "pinned", "private_key_file", "server", "user_key"]

SSHD = "/usr/sbin/sshd"


@pytest.fixture(scope="module")
def user_key():
    return new_key()


@pytest.fixture
def server(user_key):
    return labkit.serve(ssh(authorized_keys={"learner": [user_key]}), name="test-ssh", show=False)


def private_key_file(folder, key):
    """``key``'s private half in OpenSSH's format, in ``folder/id_ed25519`` readable by its owner only."""
    path = folder / "id_ed25519"
    path.write_bytes(key.toString("openssh"))
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def openssh_server(folder, user_key):
    """Debian's sshd, unprivileged, on a free loopback port, accepting ``user_key`` for this user."""
    program = need(SSHD, "openssh-server")
    if os.geteuid() == 0:  # as root (a container), sshd insists on its privilege separation folder
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    daemon_key = new_key()
    (folder / "host_key").write_bytes(daemon_key.toString("openssh"))
    (folder / "host_key").chmod(0o600)
    (folder / "authorized_keys").write_bytes(user_key.public().toString("openssh") + b"\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1:{port}\nHostKey {folder}/host_key\nPidFile {folder}/sshd.pid\n"
        f"AuthorizedKeysFile {folder}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\n")
    process = subprocess.Popen([program, "-D", "-e", "-f", str(folder / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "sshd did not listen within 10 s"
            time.sleep(0.05)
        yield port, daemon_key
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()


def pinned(expected: str):
    """A paramiko host-key policy that accepts only the key whose OpenSSH fingerprint is ``expected``
    (``SHA256:...``, as ``python -m servers ssh`` prints it)."""
    import paramiko
    from twisted.conch.ssh import keys

    class Pinned(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            seen = fingerprint(keys.Key.fromString(key.asbytes()))
            if seen != expected:
                raise paramiko.SSHException(f"{hostname} offered host key {seen}, not {expected}")

    return Pinned()
