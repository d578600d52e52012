"""Checks for chapter 6, Authentication.

Each ``check_*`` function puts what the learner wrote into a ``twisted.cred`` portal behind a real server (the
practice line login server of ``servers.auth.line``, a PB server, or twisted.web's guard), logs in over that
protocol from the check's own client (a plain socket, Twisted's PB client, ``http.client``) and looks at who got
in, who was refused and with which words. The throttle's check drives time with ``task.Clock``. Every wait is
bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import sqlite3
import threading

from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer, task
from zope.interface import implementer

from labkit.bridge import get_reactor, in_reactor_thread, react
from labkit.checks import Check, converse, fetch, limits, server_health, short, unwritten
from labkit.checks.check import NOT_WRITTEN
from labkit.checks.pb import pb_session

from servers.auth.avatars import INamedUser, NamedUser
from servers.auth.line import DENIED, LoginFactory

__all__ = ["FULL_NAMES", "PASSWORDS", "check_dict_checker", "check_hashed_checker", "check_multi_avatar_realm",
           "check_slow_down", "check_todo_realm", "check_web_realm"]

PASSWORDS = {b"ada": b"analytical-engine", b"admin": b"admin-practice", b"grace": b"cobol-1959"}
FULL_NAMES = {b"ada": "Ada Lovelace", b"admin": "Admin User"}

ASKED = b"User Name: Password: "
REFUSED = ASKED + DENIED + b"\r\n"
NOT_COMPLETED = b"could not complete"


def _welcome(full_name: str) -> bytes:
    return ASKED + f"Welcome {full_name}!\r\n".encode("utf-8")


def _login(port: int, user: bytes, password: bytes, *more: bytes) -> bytes:
    """A login over the line protocol, as ``nc`` would do it: every line sent at once, read until the close."""
    lines = [user + b"\r\n", password + b"\r\n", *(line + b"\r\n" for line in more)]
    return converse(port, *lines, settle=limits.REPLY)


def _sent(user: bytes, password: bytes, *more: bytes) -> str:
    return " / ".join(repr(part) for part in (user, password, *more))


@implementer(portal.IRealm)
class _NamedRealm:
    """The checks' realm for checkers: greets by full name, and insists on bytes avatar ids."""

    def __init__(self, full_names: dict):
        self.full_names = full_names

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if not isinstance(avatar_id, bytes):
            raise TypeError(f"the checker gave the avatar id {avatar_id!r}, a {type(avatar_id).__name__}; "
                            "avatar ids are bytes, like credentials.username")
        full_name = self.full_names.get(avatar_id, avatar_id.decode("utf-8", "replace"))
        return INamedUser, NamedUser(avatar_id, full_name), lambda: None


class _Watched(bytes):
    """A password that notices being compared with ``==`` or ``!=`` (hmac.compare_digest reads its bytes)."""

    seen = False

    def __eq__(self, other):
        _Watched.seen = True
        return bytes(self) == other

    def __ne__(self, other):
        _Watched.seen = True
        return bytes(self) != other

    __hash__ = bytes.__hash__


@implementer(checkers.ICredentialsChecker)
class _Watching:
    """Hands the learner's checker each password as a :class:`_Watched`."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, checker):
        self.checker = checker

    def requestAvatarId(self, given):
        return self.checker.requestAvatarId(credentials.UsernamePassword(given.username, _Watched(given.password)))


def _refusal_words(checker, user: bytes, password: bytes) -> str:
    """How ``checker`` answers these credentials, called directly: the refusal's message, or what happened."""
    def attempt(reactor):
        return defer.maybeDeferred(checker.requestAvatarId, credentials.UsernamePassword(user, password))

    try:
        got = react(attempt, timeout=limits.LEARNER_CALL)
    except error.UnauthorizedLogin as refused:
        return str(refused) or "(an empty message)"
    except NotImplementedError:
        raise
    except Exception as failed:  # noqa: BLE001 - any other ending is shown as it is
        return f"{type(failed).__name__}: {failed}"
    return f"it let them in, as {got!r}"


def _login_expectations(check, port: int, welcome_user: bytes, full_name: str) -> dict[str, bytes]:
    """The logins every checker must get right; returns what each got."""
    got = {"right": _login(port, welcome_user, PASSWORDS[welcome_user])}
    check.expect(f"{welcome_user.decode()} with the right password", _welcome(full_name), got["right"],
                 sent=_sent(welcome_user, PASSWORDS[welcome_user]),
                 hint=("the server could not complete the login: your checker or the avatar id raised (the "
                       "server's log has it). Avatar ids are bytes: return credentials.username itself"
                       if NOT_COMPLETED in got["right"] else ""))
    for what, user, password in (("a wrong password", welcome_user, b"wrong"),
                                 ("an unknown user", b"nobody", b"anything"),
                                 ("an empty user name and password", b"", b""),
                                 ("a user name that is not UTF-8", b"\xff\xfe", b"x")):
        got[what] = answer = _login(port, user, password)
        check.expect(what, REFUSED, answer, sent=_sent(user, password),
                     hint=("the refusal must be a twisted.cred.error.UnauthorizedLogin (other exceptions are "
                           "errors of the server, and say more than they should): look the user up with "
                           ".get(), and raise UnauthorizedLogin for anything that does not match"
                           if NOT_COMPLETED in answer else
                           "a wrong password and an unknown user must both be refused"))
    return got


# --- 6.1 a checker of your own ------------------------------------------------------------------------------------

def check_dict_checker(checker_class) -> None:
    """Exercise 6.1: ``checker_class(passwords)`` (a dict of bytes user names to bytes passwords) is an
    ``ICredentialsChecker`` for ``IUsernamePassword``: the right password gives the user name (bytes) as avatar
    id; anything else fails with ``UnauthorizedLogin`` whose words do not say which part was wrong; passwords are
    compared with ``hmac.compare_digest``. Checked by logging in to the line server built on it."""
    with Check("your checker lets the right user in over the login server and refuses everyone else alike",
               hint="password = self.passwords.get(credentials.username); if password is not None and "
                    "hmac.compare_digest(password, credentials.password): return defer.succeed(credentials."
                    "username); otherwise return defer.fail(error.UnauthorizedLogin('unknown user name or "
                    "password'))") as check:
        checker = checker_class(dict(PASSWORDS))
        wrong = _refusal_words(checker, b"ada", b"wrong")
        unknown = _refusal_words(checker, b"nobody", b"anything")
        _Watched.seen = False
        served = check.serve(LoginFactory(portal.Portal(_NamedRealm(FULL_NAMES), [_Watching(checker)])),
                             "check-dict-checker")
        _login_expectations(check, served.port, b"ada", FULL_NAMES[b"ada"])
        if unwritten(check, served):
            return
        check.expect("the refusal for a wrong password and for an unknown user say the same",
                     short(wrong), short(unknown), ok=wrong == unknown and not wrong.startswith("it let"),
                     hint="give both refusals the same words, e.g. UnauthorizedLogin('unknown user name or "
                          "password'): saying 'bad password' tells a guesser the user exists")
        check.expect("passwords compared in constant time", "hmac.compare_digest",
                     "== (it stops at the first byte that differs)" if _Watched.seen else "hmac.compare_digest",
                     hint="== stops at the first differing byte, so its time leaks how much of a guess was "
                          "right; compare with hmac.compare_digest(stored, credentials.password) (so does "
                          "credentials.checkPassword, which uses ==)")
        check.show(served.transcript)
        server_health(check, served, expected=("TypeError",))


# --- 6.2 a checker on the hashed table, and a throttle ---------------------------------------------------------------

class _ScryptWatch:
    """Counts the scrypt hashes computed while a check runs, and notes any computed in the reactor thread."""

    def __init__(self):
        self.calls = 0
        self.in_reactor = 0
        self._lock = threading.Lock()
        self._real = hashlib.scrypt

    def __enter__(self):
        real = self._real

        def counted(*args, **kwargs):
            with self._lock:
                self.calls += 1
                self.in_reactor += in_reactor_thread()
            return real(*args, **kwargs)

        hashlib.scrypt = counted
        return self

    def __exit__(self, *exc):
        hashlib.scrypt = self._real


def _pool(path):
    from twisted.enterprise import adbapi

    return adbapi.ConnectionPool("sqlite3", str(path), check_same_thread=False, cp_min=1, cp_max=2, cp_noisy=False)


def _close(pool) -> None:
    with contextlib.suppress(Exception):
        react(lambda reactor: pool.close(), timeout=limits.CLEANUP)


def _user_count(path) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=limits.CATCH_UP)) as db:
        return db.execute("SELECT count(*) FROM users").fetchone()[0]


def check_hashed_checker(checker_class) -> None:
    """Exercise 6.2: ``checker_class(pool)`` checks ``IUsernamePassword`` against the table ``users`` (columns
    ``username``, ``password_hash``) of an adbapi pool: one query with the name as a parameter, the password
    verified with ``servers.auth.passwords.verify_password`` in a thread (never in the reactor), an unknown user
    checked against ``UNKNOWN_USER`` so it costs the same hash; the avatar id is the user name (bytes)."""
    from servers import accounts
    from servers.auth import FULL_NAMES as PRACTICE_NAMES
    from servers.auth import user_table
    from servers.auth.avatars import UserRealm
    from servers.auth.userdb import UserDatabase

    with Check("your checker logs users in against the hashed table, safely and evenly",
               hint="rows = await self.pool.runQuery('SELECT password_hash FROM users WHERE username = ?', "
                    "(name,)); stored = rows[0][0] if rows else UNKNOWN_USER; ok = await "
                    "threads.deferToThread(verify_password, credentials.password, stored); refuse unless rows "
                    "and ok") as check:
        folder = check.temporary_folder("check-hashed-")
        path = user_table(folder)
        account = {a.user: a.password for a in accounts.accounts("auth")}
        learner_pool, realm_users = _pool(path), UserDatabase(path)
        check.on_exit(_close, learner_pool)
        check.on_exit(lambda: react(lambda reactor: realm_users.close(), timeout=limits.CLEANUP))
        checker = checker_class(learner_pool)
        served = check.serve(LoginFactory(portal.Portal(UserRealm(realm_users), [checker])), "check-hashed-checker")
        with _ScryptWatch() as hashes:
            ada = _login(served.port, b"ada", account["ada"].encode())
            if unwritten(check, served):
                return
            check.expect("ada with her password", _welcome(PRACTICE_NAMES["ada"]), ada,
                         sent=_sent(b"ada", account["ada"].encode()),
                         hint=("the login could not be completed (the server's log says why): is the avatar id "
                               "the user name as bytes, and is the password checked with verify_password?"
                               if NOT_COMPLETED in ada else ""))
            check.expect("her password was checked with the slow hash", "at least one scrypt hash",
                         f"{hashes.calls} scrypt hashes", ok=hashes.calls >= 1,
                         hint="check the password with servers.auth.passwords.verify_password(password, stored)")
            wrong = _login(served.port, b"ada", b"wrong")
            check.expect("a wrong password", REFUSED, wrong, sent=_sent(b"ada", b"wrong"))
            before = hashes.calls
            unknown = _login(served.port, b"nobody", b"anything")
            check.expect("an unknown user", REFUSED, unknown, sent=_sent(b"nobody", b"anything"),
                         hint="with no row, raise error.UnauthorizedLogin with the same words as for a wrong "
                              "password")
            check.expect("an unknown user costs a hash too (so timing does not tell who exists)",
                         "at least one scrypt hash", f"{hashes.calls - before} scrypt hashes",
                         ok=hashes.calls > before,
                         hint="when no row comes back, verify the password against passwords.UNKNOWN_USER "
                              "anyway, then refuse")
            for user, password in ((b"' OR '1'='1", b"x' OR '1'='1"),
                                   (b"nobody' OR username = 'ada' --", account["ada"].encode())):
                answer = _login(served.port, user, password)
                check.expect(f"SQL in the user name: {user.decode()}", REFUSED, answer, sent=_sent(user, b"..."),
                             hint="pass the name as a parameter: runQuery('... WHERE username = ?', (name,)); "
                                  "never put it into the SQL text (here a made-up name got in with ada's "
                                  "password)")
            odd = _login(served.port, b"\xff\xfe", b"x")
            check.expect("a user name that is not UTF-8", REFUSED, odd, sent=_sent(b"\xff\xfe", b"x"),
                         hint="decode the name with a try/except UnicodeDecodeError and refuse it with "
                              "UnauthorizedLogin")
            check.expect("no hash computed in the reactor thread (it would stop every other connection)",
                         0, hashes.in_reactor,
                         hint="verify_password takes tens of milliseconds of CPU: run it with "
                              "threads.deferToThread(verify_password, password, stored)")
        check.expect("the table still holds every user", len(account), _user_count(path))
        check.show(served.transcript)
        server_health(check, served)


def check_slow_down(slow_down_class) -> None:
    """Exercise 6.2 (continued): ``slow_down_class(checker, clock)`` wraps a checker: the first three failures for
    a user name are answered at once, then each further attempt for that name waits 1, 2, 4... seconds on
    ``clock`` before the wrapped checker is asked; a success clears the count; other names are not slowed; the
    refusal stays ``UnauthorizedLogin``. Time is a ``task.Clock``, so the check needs no waiting."""
    with Check("your wrapper slows down repeated failures, one user name at a time",
               hint="count failures per credentials.username; wait = 0 if failures < 3 else 2 ** (failures - 3); "
                    "return task.deferLater(self.clock, wait, self.checker.requestAvatarId, credentials) with "
                    "callbacks that clear the count on success and add one on UnauthorizedLogin") as check:
        clock = task.Clock()
        inner = checkers.InMemoryUsernamePasswordDatabaseDontUse(ada=b"right", grace=b"hopper")
        slowed = slow_down_class(inner, clock)

        def attempt(user: bytes, password: bytes) -> defer.Deferred:
            d = defer.maybeDeferred(slowed.requestAvatarId, credentials.UsernamePassword(user, password))
            ended = []
            d.addBoth(ended.append)
            d.ended = ended
            return d

        def state(d) -> str:
            if not d.ended:
                return "still waiting"
            result = d.ended[0]
            if hasattr(result, "check"):
                if result.check(NotImplementedError):
                    raise NotImplementedError()
                return "refused" if result.check(error.UnauthorizedLogin) else f"failed with {result.type.__name__}"
            return f"let in as {result!r}"

        answers = []
        for _ in range(3):
            d = attempt(b"ada", b"guess")
            clock.advance(0)
            answers.append(state(d))
        check.expect("three wrong passwords for ada, each answered at once", ["refused"] * 3, answers)
        fourth = attempt(b"ada", b"guess")
        clock.advance(0.99)
        early = state(fourth)
        clock.advance(0.01)
        check.expect("the fourth: still waiting after 0.99 s, refused at 1 s", ("still waiting", "refused"),
                     (early, state(fourth)),
                     hint="after three failures the next attempt waits 2 ** (failures - 3) seconds: "
                          "task.deferLater(self.clock, wait, ...)")
        other = attempt(b"grace", b"hopper")
        clock.advance(0)
        check.expect("meanwhile another user is not slowed by ada's failures", "let in as b'grace'", state(other),
                     hint="keep the count per user name (credentials.username), not one for everybody")
        clock.advance(10)  # whatever still waits (if grace was held back) is answered now
        fifth = attempt(b"ada", b"right")
        clock.advance(1.99)
        early = state(fifth)
        clock.advance(0.01)
        check.expect("the fifth (right password): waits 2 s, then lets ada in", ("still waiting", "let in as b'ada'"),
                     (early, state(fifth)))
        sixth = attempt(b"ada", b"guess")
        clock.advance(0)
        check.expect("after a success, the count starts again", "refused", state(sixth),
                     hint="clear the user's count when the wrapped checker lets them in")
        check.expect("it declares what it checks", True,
                     credentials.IUsernamePassword in tuple(getattr(slowed, "credentialInterfaces", ())),
                     ok=credentials.IUsernamePassword in tuple(getattr(slowed, "credentialInterfaces", ())),
                     hint="credentialInterfaces = (credentials.IUsernamePassword,): a Portal only hands a checker "
                          "the kinds of credentials it lists")
        served = check.serve(LoginFactory(portal.Portal(_NamedRealm({b"ada": "Ada Lovelace"}),
                                                         [slow_down_class(inner, get_reactor())])),
                             "check-slow-down")
        answer = _login(served.port, b"ada", b"right")
        check.expect("in a portal, behind the login server: ada logs in", _welcome("Ada Lovelace"), answer)
        server_health(check, served)


# --- 6.3 several kinds of avatar ----------------------------------------------------------------------------------

def check_multi_avatar_realm(realm_class) -> None:
    """Exercise 6.3: ``realm_class(full_names)`` gives an ``INamedUser`` to users with a full name, an
    ``INewUser`` (whose ``set_name`` stores the name in ``full_names`` and returns the ``INamedUser``) to the
    rest, and to anonymous logins (avatar id ``checkers.ANONYMOUS``) an ``INamedUser`` named ``visitor``;
    always as ``(interface, avatar, logout)``. Checked over the line server, which asks new users their name."""
    with Check("your realm greets known users, asks new ones their name once, and lets visitors in",
               hint="if avatarId == checkers.ANONYMOUS: return INamedUser, NamedUser(b'', 'visitor'), logout; "
                    "if avatarId in self.full_names: return INamedUser, NamedUser(avatarId, ...), logout; "
                    "else return INewUser, NewVisitor(avatarId, self.full_names), logout") as check:
        names = {b"ada": "Ada Lovelace"}
        realm = realm_class(names)
        known = checkers.InMemoryUsernamePasswordDatabaseDontUse(**{k.decode(): v for k, v in PASSWORDS.items()})
        served = check.serve(LoginFactory(portal.Portal(realm, [known, checkers.AllowAnonymousAccess()])),
                             "check-multi-avatar")
        ada = _login(served.port, b"ada", PASSWORDS[b"ada"])
        if unwritten(check, served):
            return
        order_hint = ("the login could not be completed (the server's log says why). requestAvatar returns "
                      "(interface, avatar, logout) in that order; the book's (avatar, interface, logout) does "
                      "not work")
        check.expect("ada, who has a full name", _welcome("Ada Lovelace"), ada, sent=_sent(b"ada", b"..."),
                     hint=order_hint if NOT_COMPLETED in ada else "")
        first = _login(served.port, b"grace", PASSWORDS[b"grace"], b"Grace Hopper")
        check.expect("grace, the first time: asked her full name, then welcomed",
                     ASKED + b"What's your full name? Welcome Grace Hopper!\r\n", first,
                     sent=_sent(b"grace", b"...", b"Grace Hopper"),
                     hint=order_hint if NOT_COMPLETED in first else
                     "for a user with no full name, return INewUser and an avatar whose set_name(full_name) "
                     "stores it in full_names and returns NamedUser(username, full_name)")
        check.expect("grace's name was stored under her avatar id (bytes)", {b"grace": "Grace Hopper"},
                     {key: value for key, value in names.items() if key != b"ada"},
                     hint="store it as self.full_names[self.username] = full_name, with the bytes avatar id")
        again = _login(served.port, b"grace", PASSWORDS[b"grace"])
        check.expect("grace, the second time: welcomed at once", _welcome("Grace Hopper"), again)
        visitor = _login(served.port, b"anonymous", b"")
        check.expect("an anonymous login", _welcome("visitor"), visitor, sent=_sent(b"anonymous", b""),
                     hint="anonymous logins reach the realm with avatarId == checkers.ANONYMOUS (an empty tuple, "
                          "not bytes): give them NamedUser(b'', 'visitor')")
        wrong = _login(served.port, b"ada", b"wrong")
        check.expect("a wrong password is still refused", REFUSED, wrong)
        check.show(served.transcript)
        server_health(check, served)


# --- 6.4 and 6.5 Perspective Broker -------------------------------------------------------------------------------

def check_todo_realm(realm_class) -> None:
    """Exercise 6.4: ``realm_class(todo_list)`` gives PB perspectives: ``b"admin"`` one that can ``addItem`` and
    ``deleteItem``, everybody else one that can only ``listItems``. Checked by logging in with PB."""
    from servers import accounts
    from servers.auth.pbtodo import TodoList

    with Check("admin may change the list over PB, other users may only read it",
               hint="avatar ids are bytes: compare avatarId == b'admin' (the book's == 'admin' is never true), "
                    "and return (pb.IPerspective, perspective, logout)") as check:
        account = {a.user: a.password.encode() for a in accounts.accounts("auth")}
        todo = TodoList(["water the plants"])
        from twisted.spread import pb

        factory = pb.PBServerFactory(portal.Portal(realm_class(todo), [accounts.checker("auth")]))
        served = check.serve(factory, "check-todo-realm")
        admin = pb_session(served.port, b"admin", account["admin"], ("listItems",), ("addItem", "check"),
                           ("listItems",))
        if admin.unwritten:
            check.problem = NOT_WRITTEN
            return
        check.expect("admin logs in", "logged in", admin.login)
        check.expect("admin: listItems, addItem('check'), listItems",
                     [["water the plants"], 1, ["water the plants", "check"]], admin.results)
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
               hint="if resource.IResource in interfaces: name = self.full_names.get(avatarId, avatarId.decode()); "
                    "return resource.IResource, a page with html.escape(name) in it, logout") as check:
        names = {b"ada": "Ada Lovelace", b"admin": "<Admin & Co>"}
        known = checkers.InMemoryUsernamePasswordDatabaseDontUse(**{k.decode(): v for k, v in PASSWORDS.items()})
        guarded = HTTPAuthSessionWrapper(portal.Portal(realm_class(names), [known]),
                                         [BasicCredentialFactory(b"chapter 6")])
        served = check.serve(guarded, "check-web-realm")
        ada = fetch(served.port, "GET", "/", headers=_basic(b"ada", PASSWORDS[b"ada"]))
        if unwritten(check, served):
            return
        check.expect("GET / as ada", (200, True), (ada.outcome, ada.has(b"Ada Lovelace")), sent="Basic ada:...")
        admin = fetch(served.port, "GET", "/", headers=_basic(b"admin", PASSWORDS[b"admin"]))
        escaped = html.escape("<Admin & Co>").encode()
        check.expect("a full name with < and & is escaped", escaped, short(admin.body, 200),
                     ok=admin.has(escaped) and b"<Admin" not in admin.body,
                     hint="html.escape(full_name) before putting it into the page")
        grace = fetch(served.port, "GET", "/", headers=_basic(b"grace", PASSWORDS[b"grace"]))
        check.expect("grace, who has no full name, is greeted by her user name", (200, True),
                     (grace.outcome, grace.has(b"grace")),
                     hint="use self.full_names.get(avatarId, avatarId.decode('utf-8'))")
        nobody = fetch(served.port, "GET", "/")
        wrong = fetch(served.port, "GET", "/", headers=_basic(b"ada", b"wrong"))
        check.expect("no credentials, and a wrong password", (401, 401), (nobody.outcome, wrong.outcome))
        server_health(check, served)
