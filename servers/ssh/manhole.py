"""A manhole: an SSH server whose shell is a Python prompt inside the running process (example 10-3).

It runs whatever its user types with the process's rights, so it is built to be safe by default:

* key login only: :func:`manhole` takes the one public key allowed in and offers no password method, so there
  is no password to guess or to leak into a notebook; the key is made per session (:func:`new_session`) and
  held in memory, its private half written only to a file readable by its owner if a terminal needs it;
* it is served like every practice server (``labkit.serve``, :func:`servers.listening.plan`), which refuses
  any address but loopback, so other machines cannot even reach the login;
* the namespace is what the caller passes in, nothing more (names the prompt may use).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from twisted.conch.manhole import Manhole
from twisted.conch.insults import insults
from twisted.conch.ssh import keys
from twisted.cred.portal import Portal

from servers import temporary
from servers.ssh import PracticeSSHFactory, key_checker
from servers.ssh.keys import host_key as practice_host_key
from servers.ssh.keys import fingerprint, new_key
from servers.ssh.session import PracticeRealm, PracticeUser

__all__ = ["ManholeSession", "ManholeUser", "manhole", "new_session"]


class ManholeUser(PracticeUser):
    """A manhole's user: the terminal is a Python prompt on the manhole's namespace; exec is refused."""

    namespace: dict = {}

    def terminal(self, on_exit):
        return insults.ServerProtocol(Manhole, self.namespace)

    def run_command(self, command: str) -> tuple[str, int]:
        return "a manhole runs no commands: open a terminal (ssh -t) and type Python", 1


def manhole(namespace: dict, user: str, public_key: keys.Key, host_key: keys.Key | None = None):
    """A manhole factory: ``user`` logs in with ``public_key`` only and gets a Python prompt on ``namespace``."""
    users = type("Manhole", (ManholeUser,), {"namespace": namespace})
    return PracticeSSHFactory(Portal(PracticeRealm(users), [key_checker({user: [public_key]})]),
                              host_key or practice_host_key())


@dataclass
class ManholeSession:
    """This session's manhole login: a user name and a key pair made now, never shown."""

    user: str
    key: keys.Key

    def __repr__(self) -> str:  # keeps the private key out of any output that shows the object
        return f"ManholeSession(user={self.user!r}, key={fingerprint(self.key)})"

    def factory(self, namespace: dict, host_key: keys.Key | None = None):
        """The manhole for this session's key, on ``namespace``."""
        return manhole(namespace, self.user, self.key.public(), host_key)

    def key_file(self, folder: str | os.PathLike | None = None) -> Path:
        """The private key in OpenSSH's format, in a new file only its owner may read (for ``ssh -i``)."""
        folder = Path(folder or temporary.folder("manhole-"))
        path = folder / "manhole_key"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(self.key.toString("openssh"))
        return path


def new_session(user: str = "learner") -> ManholeSession:
    """A manhole login for this session: ``user`` and a fresh Ed25519 key pair."""
    return ManholeSession(user, new_key())
