"""Chapter 6's practice servers: logins through ``twisted.cred``.

``auth``
    The line-protocol login server (:mod:`servers.auth.line`) on a portal whose checker reads an SQLite user
    table of slow, salted hashes (:mod:`servers.auth.userdb`, :mod:`servers.auth.passwords`), throttled after
    repeated failures (:mod:`servers.auth.throttle`). Its users are the ``auth`` accounts of
    :mod:`servers.accounts`, with the full names in :data:`FULL_NAMES` (``guest`` has none yet: logging in as
    guest asks for it, as example 6-3 does). Each server gets a table of its own in a new temporary file.
``todo``
    The Perspective Broker to-do list with cred (:mod:`servers.auth.pbtodo`): ``admin`` may add and delete, the
    others only list.

Promises: building either imports nothing of the web; the table's file is removed when the process exits.
"""

from __future__ import annotations

from pathlib import Path

from twisted.cred.portal import Portal

from servers import accounts, temporary

__all__ = ["FULL_NAMES", "auth", "user_table"]

FAMILY = "auth"
FULL_NAMES = {"admin": "Admin User", "ada": "Ada Lovelace", "guest": ""}


def user_table(folder=None) -> Path:
    """A new SQLite file holding the ``auth`` accounts, hashed, in ``folder`` (a new temporary one by default,
    removed when the process exits)."""
    from servers.auth.userdb import create_user_table

    if folder is None:
        folder = temporary.folder("practice-auth-")
    path = Path(folder) / "users.db"
    create_user_table(path, [(account.user, account.password, FULL_NAMES.get(account.user, ""))
                             for account in accounts.accounts(FAMILY)])
    return path


def auth(database=None, throttle=None):
    """The login server on the user table in ``database`` (a new one by default); ``throttle``: a
    :class:`servers.auth.throttle.Throttle` (one on the reactor's clock by default)."""
    from servers.auth.avatars import UserRealm
    from servers.auth.line import LoginFactory
    from servers.auth.throttle import HeldRefusals, Throttle
    from servers.auth.userdb import DatabaseChecker, UserDatabase

    users = UserDatabase(user_table() if database is None else database)
    checker = HeldRefusals(DatabaseChecker(users), throttle or Throttle())
    factory = LoginFactory(Portal(UserRealm(users), [checker]), on_stop=users.close)
    factory.users = users
    return factory
