"""The user table in SQLite, with slow salted hashes, and the ``twisted.cred`` checker that reads it.

Promises:

* :func:`create_user_table` writes a table ``users (user_id, username, password_hash, full_name)`` with the
  given accounts, each password stored only as :func:`servers.auth.passwords.hash_password` made it: the file
  never holds a password in clear.
* :class:`UserDatabase` reads that table through a ``twisted.enterprise.adbapi`` pool (made in the reactor
  thread on first use, closed by :meth:`UserDatabase.close`); every query binds its values as parameters, so
  quotes and SQL in a user name are only characters of a name.
* :class:`DatabaseChecker` checks ``IUsernamePassword`` credentials against it and fires with the user name
  (bytes) as the avatar id, or fails with ``UnauthorizedLogin(`` :data:`REFUSAL` ``)``: the same words for an
  unknown user, a wrong password, an empty, overlong or non-UTF-8 name and an overlong password. An unknown user
  costs the same slow hash as a known one. Hashes run in :mod:`servers.auth.worker`, never in the reactor.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterable

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer
from zope.interface import implementer

from servers.auth.passwords import UNKNOWN_USER, hash_password
from servers.auth.worker import verify_later

__all__ = ["DatabaseChecker", "MAX_NAME_BYTES", "MAX_PASSWORD_BYTES", "REFUSAL", "SCHEMA", "UserDatabase",
           "create_user_table"]

SCHEMA = ("CREATE TABLE IF NOT EXISTS users (user_id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL, "
          "password_hash TEXT NOT NULL, full_name TEXT NOT NULL DEFAULT '')")
REFUSAL = "unknown user name or password"
MAX_NAME_BYTES = 64
MAX_PASSWORD_BYTES = 1024


def create_user_table(path, users: Iterable[tuple[str, str, str]]) -> None:
    """Create the table in the SQLite file ``path`` with ``(username, password, full name)`` rows, hashed."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(SCHEMA)
        db.executemany("INSERT INTO users (username, password_hash, full_name) VALUES (?, ?, ?)",
                       [(name, hash_password(password.encode("utf-8")), full) for name, password, full in users])
        db.commit()


class UserDatabase:
    """The user table of one SQLite file, read through an adbapi pool."""

    def __init__(self, path):
        self.path = str(path)
        self._pool = None

    @property
    def pool(self):
        if self._pool is None:
            from twisted.enterprise import adbapi

            self._pool = adbapi.ConnectionPool("sqlite3", self.path, check_same_thread=False, cp_min=1, cp_max=2,
                                               cp_noisy=False)
        return self._pool

    async def password_hash(self, username: str) -> str | None:
        rows = await self.pool.runQuery("SELECT password_hash FROM users WHERE username = ?", (username,))
        return rows[0][0] if rows else None

    async def full_name(self, username: str) -> str | None:
        rows = await self.pool.runQuery("SELECT full_name FROM users WHERE username = ?", (username,))
        return rows[0][0] if rows else None

    async def set_full_name(self, username: str, full_name: str) -> None:
        await self.pool.runOperation("UPDATE users SET full_name = ? WHERE username = ?", (full_name, username))

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()


def user_name(raw) -> str | None:
    """The name in ``raw`` (bytes) as text, or None when it cannot be anyone's: empty, too long, not UTF-8."""
    if not isinstance(raw, bytes) or not 0 < len(raw) <= MAX_NAME_BYTES:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


@implementer(ICredentialsChecker)
class DatabaseChecker:
    """User names and passwords checked against the hashed table of a :class:`UserDatabase`."""

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, database: UserDatabase):
        self.database = database

    def requestAvatarId(self, credentials):
        return defer.ensureDeferred(self._check(credentials.username, credentials.password))

    async def _check(self, raw_name, password) -> bytes:
        name = user_name(raw_name)
        if name is None or not isinstance(password, bytes) or len(password) > MAX_PASSWORD_BYTES:
            raise UnauthorizedLogin(REFUSAL)
        stored = await self.database.password_hash(name)
        matched = await verify_later(password, UNKNOWN_USER if stored is None else stored)
        if stored is None or not matched:
            raise UnauthorizedLogin(REFUSAL)
        return raw_name
