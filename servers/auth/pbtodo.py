"""The Perspective Broker to-do list with ``twisted.cred`` (the book's examples 6-4 and 6-5, as they work today).

Every user who logs in (``pb.PBClientFactory().login(UsernamePassword(...))``) gets a perspective:
``listItems`` for everyone; ``addItem(text)`` and ``deleteItem(index)`` only for the avatar id ``b"admin"``
(avatar ids are bytes: the book's ``avatarId == "admin"`` is never true on Python 3). A guest calling
``addItem`` gets a ``pb.RemoteError`` (:class:`NotAllowed`) saying what this account may call; a wrong password a
``RemoteError`` (:class:`LoginRefused`) saying "unknown user name or password". Neither is logged as an error.
Input is bounded per connection (:mod:`servers.rpc.pbguard`).

Promises: the list is bounded (:data:`MAX_ITEMS` items of at most :data:`MAX_ITEM_CHARS` characters; more, or
an item that is not text, or an index out of range, is refused with ``pb.Error`` saying why, and the server goes
on). PB's login is a challenge-response: the client proves it knows the password without sending it, so the
server must hold the password itself (not a slow hash of it); the practice server uses
:func:`servers.accounts.checker` for that (a fixture), throttled like the line server.
"""

from __future__ import annotations

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer
from twisted.spread import pb
from zope.interface import implementer

from servers import accounts
from servers.auth.throttle import Throttle, ThrottledChecker
from servers.auth.userdb import REFUSAL
from servers.rpc.pbguard import bounded

__all__ = ["AdminPerspective", "ExplainedRefusals", "LoginRefused", "MAX_ITEMS", "MAX_ITEM_CHARS", "NotAllowed",
           "TodoList", "TodoRealm", "UserPerspective", "todo"]

MAX_ITEMS = 100
MAX_ITEM_CHARS = 200


class NotAllowed(pb.Error):
    """The perspective does not offer that call (a guest adding an item, say)."""


class LoginRefused(pb.Error, UnauthorizedLogin):
    """A refused login, sent to the client with its reason (a plain ``UnauthorizedLogin`` arrives as an empty
    ``RemoteError('')`` and is logged as an unhandled error)."""


@implementer(ICredentialsChecker)
class ExplainedRefusals:
    """``checker``, whose refusals reach a PB client as :class:`LoginRefused` with the words of :data:`REFUSAL`."""

    def __init__(self, checker):
        self.checker = checker
        self.credentialInterfaces = tuple(checker.credentialInterfaces)

    def requestAvatarId(self, credentials):
        def explained(failure):
            failure.trap(UnauthorizedLogin)
            raise LoginRefused(REFUSAL)

        return defer.maybeDeferred(self.checker.requestAvatarId, credentials).addErrback(explained)


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

    def perspectiveMessageReceived(self, broker, message, args, kw):
        """A call this perspective does not offer is refused with a ``pb.Error`` that says so (sent to the caller,
        not logged), instead of an AttributeError logged as an unhandled error."""
        name = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        if not callable(getattr(self, f"perspective_{name}", None)):
            offered = sorted(a[len("perspective_"):] for a in dir(self) if a.startswith("perspective_"))
            raise NotAllowed(f"this account may not call {name!r} (its perspective has no perspective_{name}); "
                             f"it may call {', '.join(offered)}")
        return super().perspectiveMessageReceived(broker, message, args, kw)

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
    checker = ExplainedRefusals(ThrottledChecker(accounts.checker("auth"), Throttle()))
    factory = bounded(Portal(TodoRealm(TodoList(["Read chapter 6"])), [checker]))
    factory.noisy = False
    return factory
