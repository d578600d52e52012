"""What a logged-in user of the line server is: the avatar interfaces and the realm that makes them.

Promises:

* :class:`INamedUser` (a user name, bytes, and a full name to greet) and :class:`INewUser` (a user the server
  knows no full name for yet, who can give one with ``set_name``) are the two kinds of avatar.
* :class:`UserRealm` makes them from a :class:`servers.auth.userdb.UserDatabase`: a user with a full name gets an
  ``INamedUser`` when asked for one; a user without, an ``INewUser`` when the caller accepts one. It returns
  the ``(interface, avatar, logout)`` triple, and counts logins and logouts (``logins``, ``logouts``) so the
  logout call can be seen happening.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.cred.portal import IRealm
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import Attribute, Interface, implementer

__all__ = ["INamedUser", "INewUser", "MAX_FULL_NAME", "NamedUser", "NewUser", "UserRealm"]

MAX_FULL_NAME = 100
_log = Logger()


class INamedUser(Interface):
    username = Attribute("the user name, bytes (the avatar id)")
    full_name = Attribute("the name to greet the user with, text")


class INewUser(Interface):
    username = Attribute("the user name, bytes (the avatar id)")

    def set_name(full_name):
        """Store ``full_name`` for this user; a Deferred firing with the user's ``INamedUser`` avatar."""


@implementer(INamedUser)
@dataclass(frozen=True)
class NamedUser:
    username: bytes
    full_name: str


@implementer(INewUser)
class NewUser:
    def __init__(self, username: bytes, database):
        self.username = username
        self.database = database

    def set_name(self, full_name: str):
        return defer.ensureDeferred(self._set_name(full_name))

    async def _set_name(self, full_name: str) -> NamedUser:
        if not 0 < len(full_name) <= MAX_FULL_NAME or not full_name.isprintable():
            raise ValueError(f"a full name has 1 to {MAX_FULL_NAME} printable characters")
        await self.database.set_full_name(self.username.decode("utf-8"), full_name)
        return NamedUser(self.username, full_name)


@implementer(IRealm)
class UserRealm:
    """Named users for those with a full name, new users for the rest."""

    def __init__(self, database):
        self.database = database
        self.logins = 0
        self.logouts = 0

    def requestAvatar(self, avatarId, mind, *interfaces):
        return defer.ensureDeferred(self._avatar(avatarId, interfaces))

    async def _avatar(self, avatar_id: bytes, interfaces):
        full_name = await self.database.full_name(avatar_id.decode("utf-8"))
        if full_name and INamedUser in interfaces:
            avatar, interface = NamedUser(avatar_id, full_name), INamedUser
        elif INewUser in interfaces:
            avatar, interface = NewUser(avatar_id, self.database), INewUser
        else:
            raise NotImplementedError(f"this realm gives INamedUser or INewUser avatars, not {interfaces}")
        self.logins += 1
        _log.info("{user} logged in", user=avatar_id.decode("utf-8"))
        return interface, avatar, lambda: self._logout(avatar_id)

    def _logout(self, avatar_id: bytes) -> None:
        self.logouts += 1
        _log.info("{user} logged out", user=avatar_id.decode("utf-8"))
