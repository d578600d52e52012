"""The Perspective Broker to-do list with ``twisted.cred`` (the book's examples 6-4 and 6-5, as they work today).

Every user who logs in (``pb.PBClientFactory().login(UsernamePassword(...))``) gets a perspective:
``listItems`` for everyone; ``addItem(text)`` and ``deleteItem(index)`` only for the avatar id ``b"admin"``
(avatar ids are bytes: the book's ``avatarId == "admin"`` is never true on Python 3). A guest calling
``addItem`` gets a ``pb.RemoteError`` naming the missing ``perspective_addItem`` in the caller's Deferred.

Promises: the list is bounded (:data:`MAX_ITEMS` items of at most :data:`MAX_ITEM_CHARS` characters; more, or
an item that is not text, or an index out of range, is refused with ``pb.Error`` saying why, and the server goes
on). PB's login is a challenge-response: the client proves it knows the password without sending it, so the
server must hold the password itself (not a slow hash of it); the practice server uses
:func:`servers.accounts.checker` for that (a fixture), throttled like the line server.
"""

from __future__ import annotations

from twisted.cred.portal import IRealm, Portal
from twisted.spread import pb
from zope.interface import implementer

from servers import accounts
from servers.auth.throttle import Throttle, ThrottledChecker

__all__ = ["AdminPerspective", "MAX_ITEMS", "MAX_ITEM_CHARS", "TodoList", "TodoRealm", "UserPerspective", "todo"]

MAX_ITEMS = 100
MAX_ITEM_CHARS = 200


class TodoList:
    """The book's to-do list (same method names), bounded."""

    def __init__(self, items=()):
        self.items: list[str] = list(items)

    def listItems(self) -> list[str]:
        return list(self.items)

    def addItem(self, item) -> int:
        if not isinstance(item, str) or not 0 < len(item) <= MAX_ITEM_CHARS:
            raise pb.Error(f"an item is text of 1 to {MAX_ITEM_CHARS} characters")
        if len(self.items) >= MAX_ITEMS:
            raise pb.Error(f"the list is full ({MAX_ITEMS} items): delete one first")
        self.items.append(item)
        return len(self.items) - 1

    def deleteItem(self, index) -> None:
        if not isinstance(index, int) or not 0 <= index < len(self.items):
            raise pb.Error(f"no item number {index!r}; there are {len(self.items)}")
        del self.items[index]


class UserPerspective(pb.Avatar):
    def __init__(self, todo: TodoList):
        self.todo = todo

    def perspective_listItems(self):
        return self.todo.listItems()


class AdminPerspective(UserPerspective):
    def perspective_addItem(self, item):
        return self.todo.addItem(item)

    def perspective_deleteItem(self, index):
        return self.todo.deleteItem(index)


@implementer(IRealm)
class TodoRealm:
    """``b"admin"`` gets an :class:`AdminPerspective`, everybody else a :class:`UserPerspective`."""

    def __init__(self, todo: TodoList):
        self.todo = todo

    def requestAvatar(self, avatarId, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("the to-do realm gives PB perspectives only")
        kind = AdminPerspective if avatarId == b"admin" else UserPerspective
        return pb.IPerspective, kind(self.todo), lambda: None


def todo():
    """The practice PB server: a to-do list with one item, the ``auth`` family's accounts."""
    checker = ThrottledChecker(accounts.checker("auth"), Throttle())
    factory = pb.PBServerFactory(Portal(TodoRealm(TodoList(["Read chapter 6"])), [checker]))
    factory.noisy = False
    return factory
