"""Practice accounts: who may log in to which family of practice servers, and the ``twisted.cred`` checkers made
from them.

Promises:

* :func:`accounts` lists a family's accounts (``accounts("web")`` is ``learner`` / ``twisted``, the fixture of
  the web site's ``/private``). Web, mail, news, PB and SSH servers all take their users from here, so a notebook,
  a check and ``python -m servers`` always agree on them.
* A fixed password is only ever a fixture that grants nothing. A family whose login grants code execution (an SSH
  shell, a manhole) is listed in :data:`PER_SESSION` instead: its passwords are drawn with :mod:`secrets` the first
  time they are asked for and stay the same for the rest of this process, and no other process can know them.
* On a machine whose loopback several people share (a JupyterHub: ``JUPYTERHUB_USER`` is set), the families of
  :data:`PRIVATE_WHEN_SHARED` (a mailbox, a to-do list: what one learner could read or change in another's
  practice server) get passwords of :func:`shared_machine_password` instead of their fixed ones: the same in all of
  one learner's kernels, programs and terminals of one server session, unknown to every other user.
* :func:`checker` is a ``twisted.cred`` credentials checker holding a family's accounts, ready for a ``Portal``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass

__all__ = ["Account", "FIXED", "PER_SESSION", "PRIVATE_WHEN_SHARED", "accounts", "checker", "shared_machine",
           "shared_machine_password"]


@dataclass(frozen=True)
class Account:
    """One practice login."""

    user: str
    password: str

    def line(self) -> str:
        """The line ``python -m servers`` prints for it: ``account: USER PASSWORD``."""
        return f"account: {self.user} {self.password}"


FIXED: dict[str, tuple[Account, ...]] = {
    "web": (Account("learner", "twisted"),),
    "auth": (Account("admin", "admin-practice"), Account("ada", "analytical-engine"),
             Account("guest", "guest-practice")),
    "mail": (Account("learner", "mail-practice"), Account("ada", "analytical-engine")),
}
"""Families whose accounts are fixtures with fixed passwords (they grant nothing but a practice page)."""

PER_SESSION: dict[str, tuple[str, ...]] = {"ssh": ("learner",)}
"""Families whose login grants code execution: their users, whose passwords are random per process."""

PRIVATE_WHEN_SHARED: tuple[str, ...] = ("mail", "auth")
"""Fixed families whose servers hold what a learner reads or writes: private per learner on a shared machine."""

SEED_VARIABLE = "WORKBOOK_PRACTICE_SEED"
"""Where a shared machine's password seed is kept for this process's children when the hub gave no API token."""

_session_passwords: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def _session_password(family: str, user: str) -> str:
    with _lock:
        return _session_passwords.setdefault((family, user), secrets.token_urlsafe(12))


def shared_machine() -> bool:
    """Whether several people share this machine's loopback: a JupyterHub started this server (``JUPYTERHUB_USER``)."""
    return bool(os.environ.get("JUPYTERHUB_USER"))


def shared_machine_password(family: str, user: str) -> str:
    """A practice password for ``user`` of ``family`` that only this learner's server session knows.

    Derived (HMAC-SHA256) from the secret the hub gives each single-user server, ``JUPYTERHUB_API_TOKEN``, which
    its kernels, programs and terminals inherit and no other user can read; without one, from a random seed this
    process draws once and leaves in its environment for the programs it starts."""
    seed = os.environ.get("JUPYTERHUB_API_TOKEN") or os.environ.setdefault(SEED_VARIABLE, secrets.token_urlsafe(24))
    digest = hmac.new(seed.encode(), f"practice:{family}:{user}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def accounts(family: str | None) -> tuple[Account, ...]:
    """The practice accounts of ``family`` (none for a family without logins, or for ``None``)."""
    if family is None:
        return ()
    fixed = FIXED.get(family, ())
    if family in PRIVATE_WHEN_SHARED and shared_machine():
        fixed = tuple(Account(account.user, shared_machine_password(family, account.user)) for account in fixed)
    made = tuple(Account(user, _session_password(family, user)) for user in PER_SESSION.get(family, ()))
    return fixed + made


def checker(family: str):
    """A ``twisted.cred`` checker (username and password) that knows exactly the accounts of ``family``."""
    from twisted.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse

    known = accounts(family)
    if not known:
        raise KeyError(f"the practice family {family!r} has no accounts; families with accounts: "
                       f"{', '.join(sorted({*FIXED, *PER_SESSION}))}")
    made = InMemoryUsernamePasswordDatabaseDontUse()
    for account in known:
        made.addUser(account.user.encode("utf-8"), account.password.encode("utf-8"))
    return made
