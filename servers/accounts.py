"""Practice accounts: who may log in to which family of practice servers, and the ``twisted.cred`` checkers made
from them.

Promises:

* :func:`accounts` lists a family's accounts (``accounts("web")`` is ``learner`` / ``twisted``, the fixture of
  the web site's ``/private``). Web, mail, news, PB and SSH servers all take their users from here, so a notebook,
  a check and ``python -m servers`` always agree on them.
* A fixed password is only ever a fixture that grants nothing. A family whose login grants code execution (an SSH
  shell, a manhole) is listed in :data:`PER_SESSION` instead: its passwords are drawn with :mod:`secrets` the first
  time they are asked for and stay the same for the rest of this process, and no other process can know them.
* :func:`checker` is a ``twisted.cred`` credentials checker holding a family's accounts, ready for a ``Portal``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

__all__ = ["Account", "FIXED", "PER_SESSION", "accounts", "checker"]


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

_session_passwords: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def _session_password(family: str, user: str) -> str:
    with _lock:
        return _session_passwords.setdefault((family, user), secrets.token_urlsafe(12))


def accounts(family: str | None) -> tuple[Account, ...]:
    """The practice accounts of ``family`` (none for a family without logins, or for ``None``)."""
    if family is None:
        return ()
    made = tuple(Account(user, _session_password(family, user)) for user in PER_SESSION.get(family, ()))
    return FIXED.get(family, ()) + made


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
