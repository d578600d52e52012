"""Chapter 6's checks of realms: 6.3 three kinds of avatar over the line server, 6.4 PB perspectives, 6.5 pages
behind twisted.web's guard."""

from __future__ import annotations

import base64
import html

from twisted.cred import checkers, portal
from zope.interface import Interface

from labkit.chapters.ch06.common import (ASKED, NOT_COMPLETED, PASSWORDS, REFUSED, login, sent, welcome)
from labkit.checks import Check, call_learner, fetch, limits, server_health, short, unwritten
from labkit.checks.check import NOT_WRITTEN
from labkit.checks.pb import pb_session

from servers.auth.line import LoginFactory

__all__ = ["check_multi_avatar_realm", "check_todo_realm", "check_web_realm"]


class _IUnasked(Interface):
    """An interface no realm of the chapter provides: what a realm does when asked only for others."""


def _refuses_other_interfaces(check, realm, avatar_id: bytes) -> None:
    """A realm asked only for an interface it does not provide raises NotImplementedError, which the Portal
    passes on as a failed login (returning anything else hands the protocol an avatar it cannot use)."""
    try:
        answer = call_learner(realm.requestAvatar, avatar_id, None, _IUnasked, timeout=limits.QUICK, blocking=True)
        got = f"it returned {short(answer)}"
    except NotImplementedError:
        got = "NotImplementedError"
    except Exception as failed:  # noqa: BLE001 - how the learner's realm ended is what is shown
        got = f"{type(failed).__name__}: {failed}"
    check.expect("asked only for an interface it does not provide", "NotImplementedError", got,
                 hint="when none of the interfaces asked for is one the realm provides, raise NotImplementedError")


# --- 6.3 several kinds of avatar ----------------------------------------------------------------------------------

def check_multi_avatar_realm(realm_class) -> None:
    """Exercise 6.3: ``realm_class(full_names)`` gives an ``INamedUser`` to users with a full name, an
    ``INewUser`` (whose ``set_name`` stores the name in ``full_names`` and returns the ``INamedUser``) to the
    rest, and to anonymous logins (avatar id ``checkers.ANONYMOUS``) an ``INamedUser`` named ``visitor``;
    always as ``(interface, avatar, logout)``. Checked over the line server, which asks new users their name."""
    with Check("your realm greets known users, asks new ones their name once, and lets visitors in",
               start="requestAvatar returns (interface, avatar, logout): start with users who have a full name, "
                     "INamedUser and NamedUser(avatarId, full name)") as check:
        names = {b"ada": "Ada Lovelace"}
        realm = realm_class(names)
        known = checkers.InMemoryUsernamePasswordDatabaseDontUse(**{k.decode(): v for k, v in PASSWORDS.items()})
        served = check.serve(LoginFactory(portal.Portal(realm, [known, checkers.AllowAnonymousAccess()])),
                             "check-multi-avatar")
        ada = login(served.port, b"ada", PASSWORDS[b"ada"])
        if unwritten(check, served):
            return
        order_hint = ("the login could not be completed (the server's log says why). requestAvatar returns "
                      "(interface, avatar, logout) in that order; the book's (avatar, interface, logout) does "
                      "not work")
        check.expect("ada, who has a full name", welcome("Ada Lovelace"), ada, sent=sent(b"ada", b"..."),
                     hint=order_hint if NOT_COMPLETED in ada else
                     "ada has a full name, yet was asked for one: full_names is keyed by the bytes avatar id"
                     if b"full name" in ada else "")
        first = login(served.port, b"grace", PASSWORDS[b"grace"], b"Grace Hopper")
        check.expect("grace, the first time: asked her full name, then welcomed",
                     ASKED + b"What's your full name? Welcome Grace Hopper!\r\n", first,
                     sent=sent(b"grace", b"...", b"Grace Hopper"),
                     hint=order_hint if NOT_COMPLETED in first else
                     "for a user with no full name, return INewUser and an avatar whose set_name(full_name) "
                     "stores it in full_names and returns NamedUser(username, full_name)")
        check.expect("grace's name was stored under her avatar id (bytes)", {b"grace": "Grace Hopper"},
                     {key: value for key, value in names.items() if key != b"ada"},
                     hint="store it as self.full_names[self.username] = full_name, with the bytes avatar id")
        again = login(served.port, b"grace", PASSWORDS[b"grace"])
        check.expect("grace, the second time: welcomed at once", welcome("Grace Hopper"), again)
        visitor = login(served.port, b"anonymous", b"")
        check.expect("an anonymous login", welcome("visitor"), visitor, sent=sent(b"anonymous", b""),
                     hint="anonymous logins reach the realm with avatarId == checkers.ANONYMOUS (an empty tuple, "
                          "not bytes): give them NamedUser(b'', 'visitor')")
        wrong = login(served.port, b"ada", b"wrong")
        check.expect("a wrong password is still refused", REFUSED, wrong)
        check.show(served.transcript)
        _refuses_other_interfaces(check, realm, b"ada")
        server_health(check, served)


# --- 6.4 and 6.5 Perspective Broker -------------------------------------------------------------------------------

def check_todo_realm(realm_class) -> None:
    """Exercise 6.4: ``realm_class(todo_list)`` gives PB perspectives: ``b"admin"`` one that can ``addItem`` and
    ``deleteItem``, everybody else one that can only ``listItems``. Checked by logging in with PB."""
    from servers import accounts
    from servers.auth.pbtodo import TodoList

    with Check("admin may change the list over PB, other users may only read it",
               start="requestAvatar returns (pb.IPerspective, a perspective, logout): an AdminPerspective for "
                     "b'admin', a UserPerspective for the others") as check:
        account = {a.user: a.password.encode() for a in accounts.accounts("auth")}
        todo = TodoList(["water the plants"])
        from twisted.spread import pb

        realm = realm_class(todo)
        factory = pb.PBServerFactory(portal.Portal(realm, [accounts.checker("auth")]))
        served = check.serve(factory, "check-todo-realm")
        admin = pb_session(served.port, b"admin", account["admin"], ("listItems",), ("addItem", "check"),
                           ("listItems",))
        if admin.unwritten:
            check.problem = NOT_WRITTEN
            return
        check.expect("admin logs in", "logged in", admin.login,
                     hint="the login could not be completed: requestAvatar returns (interface, avatar, logout) "
                          "in that order, (pb.IPerspective, perspective, logout)")
        check.expect("admin: listItems, addItem('check'), listItems",
                     [["water the plants"], 1, ["water the plants", "check"]], admin.results,
                     hint="admin got a perspective without perspective_addItem: avatar ids are bytes, so is "
                          "avatarId compared with b'admin'? (the book's 'admin' is never equal)"
                     if "perspective_addItem" in str(admin.results) else "")
        guest = pb_session(served.port, b"guest", account["guest"], ("listItems",), ("addItem", "sneaky"))
        check.expect("guest logs in", "logged in", guest.login)
        listed = guest.results[:1]
        refused = bool(guest.results[1:]) and "perspective_addItem" in str(guest.results[1])
        check.expect("guest: listItems works", [["water the plants", "check"]], listed)
        check.expect("guest: addItem is refused (no perspective_addItem)", "refused", short(guest.results[1:]),
                     ok=refused, hint="give users other than b'admin' a perspective without perspective_addItem")
        check.expect("nothing the guest sent reached the list", ["water the plants", "check"], todo.items)
        wrong = pb_session(served.port, b"admin", b"wrong")
        check.expect("a wrong password", "refused (UnauthorizedLogin)", wrong.login,
                     ok="UnauthorizedLogin" in wrong.login)
        _refuses_other_interfaces(check, realm, b"admin")
        server_health(check, served, expected=("AttributeError",))  # the guest's refused addItem is logged


# --- the same realm behind twisted.web --------------------------------------------------------------------------

def _basic(user: bytes, password: bytes) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(user + b":" + password).decode("ascii")}


def check_web_realm(realm_class) -> None:
    """Exercise 6.5: ``realm_class(full_names)`` gives ``IResource`` avatars: a page greeting the user by full
    name (HTML-escaped; the user name for someone without one). Served behind ``guard.HTTPAuthSessionWrapper``
    with HTTP Basic, and fetched with ``http.client``."""
    from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper

    with Check("your realm's pages greet each user by name behind HTTP Basic authentication",
               start="requestAvatar returns (resource.IResource, a page greeting the user, logout)") as check:
        names = {b"ada": "Ada Lovelace", b"admin": "<Admin & Co>"}
        known = checkers.InMemoryUsernamePasswordDatabaseDontUse(**{k.decode(): v for k, v in PASSWORDS.items()})
        realm = realm_class(names)
        guarded = HTTPAuthSessionWrapper(portal.Portal(realm, [known]),
                                         [BasicCredentialFactory(b"chapter 6")])
        served = check.serve(guarded, "check-web-realm")
        ada = fetch(served.port, "GET", "/", headers=_basic(b"ada", PASSWORDS[b"ada"]))
        if unwritten(check, served):
            return
        check.expect("GET / as ada", (200, True), (ada.outcome, ada.has(b"Ada Lovelace")), sent="Basic ada:...",
                     hint="ada was greeted by her user name: full_names is keyed by the bytes avatar id"
                     if ada.has(b"ada") else
                     "the server answered 500: requestAvatar returns (interface, avatar, logout) in that order, "
                     "(resource.IResource, page, logout)" if ada.status == 500 else "")
        admin = fetch(served.port, "GET", "/", headers=_basic(b"admin", PASSWORDS[b"admin"]))
        escaped = html.escape("<Admin & Co>").encode()
        check.expect("a full name with < and & is escaped", escaped, short(admin.body, 200),
                     ok=admin.has(escaped) and b"<Admin" not in admin.body,
                     hint="html.escape(full_name) before putting it into the page")
        grace = fetch(served.port, "GET", "/", headers=_basic(b"grace", PASSWORDS[b"grace"]))
        check.expect("grace, who has no full name, is greeted by her user name", (200, True),
                     (grace.outcome, grace.has(b"grace")),
                     hint="grace has no full name: greet her by her user name, the avatar id decoded (the server "
                          f"answered {grace.outcome})")
        nobody = fetch(served.port, "GET", "/")
        wrong = fetch(served.port, "GET", "/", headers=_basic(b"ada", b"wrong"))
        check.expect("no credentials, and a wrong password", (401, 401), (nobody.outcome, wrong.outcome))
        _refuses_other_interfaces(check, realm, b"ada")
        server_health(check, served)
