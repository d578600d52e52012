"""SSH keys for the practice servers and the chapter's clients, made with ``cryptography``.

Promises:

* :func:`host_key` is this process's Ed25519 host key: drawn the first time it is asked for, the same for the
  rest of the process, never written to disk. :func:`new_key` draws a fresh Ed25519 key pair (a learner's key,
  a manhole's key), as a ``twisted.conch.ssh.keys.Key``.
* :func:`fingerprint` is a public key's ``SHA256:...`` fingerprint, as OpenSSH prints it.
* :func:`known_hosts_line` is the line an OpenSSH ``known_hosts`` file holds for a server on a loopback port.
"""

from __future__ import annotations

import threading

from cryptography.hazmat.primitives.asymmetric import ed25519
from twisted.conch.ssh import keys

__all__ = ["fingerprint", "host_key", "known_hosts_line", "new_key"]

_lock = threading.Lock()
_host_key: list[keys.Key] = []


def new_key() -> keys.Key:
    """A new Ed25519 private key (its ``public()`` is what a server is told to accept)."""
    return keys.Key(ed25519.Ed25519PrivateKey.generate())


def host_key() -> keys.Key:
    """This process's practice host key (private): one per process, made on first use."""
    with _lock:
        if not _host_key:
            _host_key.append(new_key())
        return _host_key[0]


def fingerprint(key: keys.Key) -> str:
    """``SHA256:...``, the fingerprint OpenSSH shows for ``key``'s public half."""
    return "SHA256:" + key.fingerprint(keys.FingerprintFormats.SHA256_BASE64).rstrip("=")


def known_hosts_line(port: int, key: keys.Key, host: str = "127.0.0.1") -> str:
    """The ``known_hosts`` line for a server on ``host:port`` whose host key is ``key``."""
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key.public().toString('openssh').decode('ascii')}"
