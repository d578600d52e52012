"""Chapter 10's practice SSH servers, built on ``twisted.conch``.

``ssh``
    An SSH server (:func:`ssh`) with a practice shell (:mod:`servers.ssh.shell`: fixed commands, fixed
    answers, nothing of the machine) for a terminal and for ``exec``. Users log in with the ``ssh`` accounts of
    :mod:`servers.accounts` (passwords drawn per process) and with any public key given in ``authorized_keys``.
    Its host key is this process's (:func:`servers.ssh.keys.host_key`) unless another is given.

The manhole (:mod:`servers.ssh.manhole`) is not in the catalogue: it runs code, so only a learner's own kernel
makes one, with its own key.

Promises: building a server imports nothing of the web; a server offers only Ed25519 host keys, the password
and public-key methods its portal has checkers for, three failed login attempts per connection, at most
:data:`servers.ssh.connection.MAX_CHANNELS` channels per connection, and per source address a bounded number of
connections not yet logged in, whose key exchanges start at a bounded rate (:mod:`servers.ssh.throttle`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
from twisted.conch.ssh import factory, keys, userauth
from twisted.cred.portal import Portal
from zope.interface import implementer

from servers import accounts
from servers.interfaces import IPracticeDetails
from servers.ssh.connection import BoundedConnection
from servers.ssh.keys import fingerprint
from servers.ssh.keys import host_key as practice_host_key
from servers.ssh.session import PracticeRealm
from servers.ssh.throttle import SourceThrottle, ThrottleLimits
from servers.ssh.transport import GoodbyeTransport

__all__ = ["FAMILY", "PracticeSSHFactory", "PracticeUserAuth", "key_checker", "ssh"]

FAMILY = "ssh"


class PracticeUserAuth(userauth.SSHUserAuthServer):
    """Conch's user authentication, with three failed attempts per connection instead of twenty: a guesser
    reconnects every third try (each failed password already costs a second)."""

    attemptsBeforeDisconnect = 3


@implementer(IPracticeDetails)
class PracticeSSHFactory(factory.SSHFactory):
    """An ``SSHFactory`` on ``portal`` with one host key, the bounded connection service, a transport that
    logs a client's goodbye as news (:class:`servers.ssh.transport.GoodbyeTransport`), and a per-source throttle
    on connections that have not logged in (:mod:`servers.ssh.throttle`)."""

    protocol = GoodbyeTransport
    services = {b"ssh-userauth": PracticeUserAuth, b"ssh-connection": BoundedConnection}

    def __init__(self, portal: Portal, host_key: keys.Key, throttle: ThrottleLimits = ThrottleLimits()):
        self.throttle = SourceThrottle(throttle)
        self.portal = portal
        self.host_key = host_key
        self.publicKeys = {host_key.sshType(): host_key.public()}
        self.privateKeys = {host_key.sshType(): host_key}

    def practice_details(self) -> list[str]:
        """What ``python -m servers ssh`` prints for a real client: the host key's fingerprint, to compare with
        what ``ssh`` shows on first contact."""
        return [f"host key: {self.host_key.sshType().decode()} {fingerprint(self.host_key)}"]


def key_checker(authorized_keys: Mapping[str, Iterable[keys.Key]]) -> SSHPublicKeyChecker:
    """A checker that lets ``user`` in with any of the public keys ``authorized_keys[user]``."""
    return SSHPublicKeyChecker(InMemorySSHKeyDB(
        {user.encode("utf-8"): [key.public() for key in user_keys] for user, user_keys in authorized_keys.items()}))


def ssh(authorized_keys: Mapping[str, Iterable[keys.Key]] | None = None, host_key: keys.Key | None = None,
        passwords: bool = True, throttle: ThrottleLimits = ThrottleLimits()) -> PracticeSSHFactory:
    """The practice SSH server: the ``ssh`` accounts by password (unless ``passwords`` is false) and
    ``authorized_keys`` (user -> keys) by public key; ``throttle`` bounds each source's connections before
    login."""
    checkers = [accounts.checker(FAMILY)] if passwords else []
    if authorized_keys:
        checkers.append(key_checker(authorized_keys))
    if not checkers:
        raise ValueError("an SSH server needs a way in: allow passwords or give authorized_keys")
    return PracticeSSHFactory(Portal(PracticeRealm(), checkers), host_key or practice_host_key(), throttle)
