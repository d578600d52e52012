"""What the SSH tests share: a practice SSH server that knows one user key, and that key as OpenSSH reads it."""

from __future__ import annotations

import pytest

import labkit
from servers.ssh import ssh
from servers.ssh.keys import new_key

__all__ = ["private_key_file", "server", "user_key"]


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
