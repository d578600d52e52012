"""Chapter 6's checks: a right solution passes; the untouched stub fails with "not written yet"; each typical
mistake fails with the hint that names it. Every check logs in over a real protocol (see labkit.chapters.ch06)."""

from __future__ import annotations

import hmac

import pytest
from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer, task, threads
from twisted.spread import pb
from twisted.web import resource
from twisted.web.pages import errorPage
from zope.interface import implementer

from labkit.chapters import ch06
from servers.auth.avatars import INamedUser, INewUser, NamedUser
from servers.auth.passwords import UNKNOWN_USER, verify_password
from servers.auth.pbtodo import AdminPerspective, UserPerspective
from tests.failing import fails

NOT_WRITTEN = "not written yet"


# --- 6.1 ---------------------------------------------------------------------------------------------------------

@implementer(checkers.ICredentialsChecker)
class DictChecker:
    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, passwords):
        self.passwords = passwords

    def requestAvatarId(self, given):
        stored = self.passwords.get(given.username)
        if stored is not None and hmac.compare_digest(stored, given.password):
            return defer.succeed(given.username)
        return defer.fail(error.UnauthorizedLogin("unknown user name or password"))


class DictCheckerStub(DictChecker):
    def requestAvatarId(self, given):
        raise NotImplementedError()


class DictCheckerTellsWhich(DictChecker):
    def requestAvatarId(self, given):
        if given.username not in self.passwords:
            return defer.fail(error.UnauthorizedLogin("No such user"))
        return super().requestAvatarId(given)


class DictCheckerWithEquals(DictChecker):
    def requestAvatarId(self, given):
        if self.passwords.get(given.username) == given.password:
            return defer.succeed(given.username)
        return defer.fail(error.UnauthorizedLogin("unknown user name or password"))


class DictCheckerCheckPassword(DictChecker):
    def requestAvatarId(self, given):  # the book's way: credentials.checkPassword compares with ==
        if given.username in self.passwords and given.checkPassword(self.passwords[given.username]):
            return defer.succeed(given.username)
        return defer.fail(error.UnauthorizedLogin("unknown user name or password"))


class DictCheckerKeyError(DictChecker):
    def requestAvatarId(self, given):
        if hmac.compare_digest(self.passwords[given.username], given.password):
            return defer.succeed(given.username)
        return defer.fail(error.UnauthorizedLogin("unknown user name or password"))


class DictCheckerStrId(DictChecker):
    def requestAvatarId(self, given):
        return super().requestAvatarId(given).addCallback(lambda name: name.decode())


def test_dict_checker_passes():
    ch06.check_dict_checker(DictChecker)


def test_dict_checker_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_dict_checker, DictCheckerStub)


@pytest.mark.parametrize("mistake, words", [
    (DictCheckerTellsWhich, "saying 'bad password' tells a guesser"),
    (DictCheckerWithEquals, "hmac.compare_digest"),
    (DictCheckerCheckPassword, "checkPassword, which uses =="),
    (DictCheckerKeyError, "look the user up with .get()"),
    (DictCheckerStrId, "Avatar ids are bytes"),
])
def test_dict_checker_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_dict_checker, mistake)


# --- 6.2 ---------------------------------------------------------------------------------------------------------

@implementer(checkers.ICredentialsChecker)
class HashedChecker:
    credentialInterfaces = (credentials.IUsernamePassword,)
    query = "SELECT password_hash FROM users WHERE username = ?"

    def __init__(self, pool):
        self.pool = pool

    def requestAvatarId(self, given):
        return defer.ensureDeferred(self.check(given))

    async def check(self, given):
        try:
            name = given.username.decode("utf-8")
        except UnicodeDecodeError:
            raise error.UnauthorizedLogin("unknown user name or password") from None
        rows = await self.rows(name)
        stored = rows[0][0] if rows else UNKNOWN_USER
        matched = await self.verify(given.password, stored)
        if rows and matched:
            return given.username
        raise error.UnauthorizedLogin("unknown user name or password")

    def rows(self, name):
        return self.pool.runQuery(self.query, (name,))

    def verify(self, password, stored):
        return threads.deferToThread(verify_password, password, stored)


class HashedCheckerStub(HashedChecker):
    def requestAvatarId(self, given):
        raise NotImplementedError()


class HashedCheckerFormatted(HashedChecker):
    def rows(self, name):
        return self.pool.runQuery("SELECT password_hash FROM users WHERE username = '%s'" % name)


class HashedCheckerSkipsUnknown(HashedChecker):
    async def check(self, given):
        rows = await self.rows(given.username.decode("utf-8", "replace"))
        if not rows or not await self.verify(given.password, rows[0][0]):
            raise error.UnauthorizedLogin("unknown user name or password")
        return given.username


class HashedCheckerInReactor(HashedChecker):
    def verify(self, password, stored):
        return defer.succeed(verify_password(password, stored))


class HashedCheckerStrictDecode(HashedChecker):
    async def check(self, given):
        given.username.decode("utf-8")  # raises for names that are not UTF-8
        return await super().check(given)


def test_hashed_checker_passes():
    ch06.check_hashed_checker(HashedChecker)


def test_hashed_checker_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_hashed_checker, HashedCheckerStub)


@pytest.mark.parametrize("mistake, words", [
    (HashedCheckerFormatted, "pass the name as a parameter"),
    (HashedCheckerSkipsUnknown, "passwords.UNKNOWN_USER"),
    (HashedCheckerInReactor, "threads.deferToThread(verify_password"),
    (HashedCheckerStrictDecode, "UnicodeDecodeError"),
])
def test_hashed_checker_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_hashed_checker, mistake)


@implementer(checkers.ICredentialsChecker)
class SlowDown:
    credentialInterfaces = (credentials.IUsernamePassword,)
    free = 3

    def __init__(self, checker, clock):
        self.checker, self.clock, self.failures = checker, clock, {}

    def key(self, given):
        return given.username

    def requestAvatarId(self, given):
        key = self.key(given)
        extra = self.failures.get(key, 0) - self.free
        waited = task.deferLater(self.clock, 0 if extra < 0 else 2 ** extra, self.checker.requestAvatarId, given)
        return waited.addCallbacks(self.succeeded, self.failed, callbackArgs=(key,), errbackArgs=(key,))

    def succeeded(self, avatar_id, key):
        self.failures.pop(key, None)
        return avatar_id

    def failed(self, failure, key):
        if failure.check(error.UnauthorizedLogin):
            self.failures[key] = self.failures.get(key, 0) + 1
        return failure


class SlowDownStub(SlowDown):
    def requestAvatarId(self, given):
        raise NotImplementedError()


class SlowDownForEverybody(SlowDown):
    def key(self, given):
        return "everybody"


class SlowDownNeverForgets(SlowDown):
    def succeeded(self, avatar_id, key):
        return avatar_id


class SlowDownOneSecond(SlowDown):
    def requestAvatarId(self, given):
        key = self.key(given)
        wait = 1 if self.failures.get(key, 0) >= self.free else 0
        waited = task.deferLater(self.clock, wait, self.checker.requestAvatarId, given)
        return waited.addCallbacks(self.succeeded, self.failed, callbackArgs=(key,), errbackArgs=(key,))


def test_slow_down_passes():
    ch06.check_slow_down(SlowDown)


def test_slow_down_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_slow_down, SlowDownStub)


@pytest.mark.parametrize("mistake, words", [
    (SlowDownForEverybody, "per user name"),
    (SlowDownNeverForgets, "clear the user's count"),
    (SlowDownOneSecond, "the fifth (right password)"),
])
def test_slow_down_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_slow_down, mistake)


# --- 6.3 ---------------------------------------------------------------------------------------------------------

@implementer(INewUser)
class NewVisitor:
    def __init__(self, username, full_names):
        self.username, self.full_names = username, full_names

    def set_name(self, full_name):
        self.full_names[self.username] = full_name
        return NamedUser(self.username, full_name)


@implementer(portal.IRealm)
class MultiRealm:
    def __init__(self, full_names):
        self.full_names = full_names

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if avatar_id == checkers.ANONYMOUS and INamedUser in interfaces:
            return INamedUser, NamedUser(b"", "visitor"), lambda: None
        if avatar_id in self.full_names and INamedUser in interfaces:
            return INamedUser, NamedUser(avatar_id, self.full_names[avatar_id]), lambda: None
        if INewUser in interfaces:
            return INewUser, NewVisitor(avatar_id, self.full_names), lambda: None
        raise NotImplementedError("no avatar for these interfaces")


class MultiRealmStub(MultiRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        raise NotImplementedError()


class MultiRealmBookOrder(MultiRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        interface, avatar, logout = super().requestAvatar(avatar_id, mind, *interfaces)
        return avatar, interface, logout


class MultiRealmNoAnonymous(MultiRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if avatar_id == checkers.ANONYMOUS:
            return INewUser, NewVisitor(avatar_id, self.full_names), lambda: None
        return super().requestAvatar(avatar_id, mind, *interfaces)


def test_multi_avatar_realm_passes():
    ch06.check_multi_avatar_realm(MultiRealm)


def test_multi_avatar_realm_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_multi_avatar_realm, MultiRealmStub)


@pytest.mark.parametrize("mistake, words", [
    (MultiRealmBookOrder, "(interface, avatar, logout) in that order"),
    (MultiRealmNoAnonymous, "checkers.ANONYMOUS"),
])
def test_multi_avatar_realm_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_multi_avatar_realm, mistake)


# --- 6.4 ---------------------------------------------------------------------------------------------------------

@implementer(portal.IRealm)
class TodoRealm:
    admin = b"admin"

    def __init__(self, todo):
        self.todo = todo

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("PB perspectives only")
        kind = AdminPerspective if avatar_id == self.admin else UserPerspective
        return pb.IPerspective, kind(self.todo), lambda: None


class TodoRealmStub(TodoRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        raise NotImplementedError()


class TodoRealmBookCompare(TodoRealm):
    admin = "admin"


class TodoRealmEveryoneAdmin(TodoRealm):
    admin = property(lambda self: self._current)

    def requestAvatar(self, avatar_id, mind, *interfaces):
        self._current = avatar_id
        return super().requestAvatar(avatar_id, mind, *interfaces)


def test_todo_realm_passes():
    ch06.check_todo_realm(TodoRealm)


def test_todo_realm_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_todo_realm, TodoRealmStub)


@pytest.mark.parametrize("mistake, words", [
    (TodoRealmBookCompare, "avatarId == b'admin'"),
    (TodoRealmEveryoneAdmin, "without perspective_addItem"),
])
def test_todo_realm_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_todo_realm, mistake)


# --- 6.5 ---------------------------------------------------------------------------------------------------------

class Greeting(resource.Resource):
    isLeaf = True

    def __init__(self, name, escape=True):
        super().__init__()
        self.name = name
        self.escape = escape

    def render_GET(self, request):
        import html

        shown = html.escape(self.name) if self.escape else self.name
        return f"<!DOCTYPE html><h1>Hello, {shown}</h1>".encode("utf-8")


@implementer(portal.IRealm)
class WebRealm:
    escape = True

    def __init__(self, full_names):
        self.full_names = full_names

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if resource.IResource not in interfaces:
            raise NotImplementedError("web pages only")
        name = self.full_names.get(avatar_id, avatar_id.decode("utf-8"))
        return resource.IResource, Greeting(name, self.escape), lambda: None


class WebRealmStub(WebRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        raise NotImplementedError()


class WebRealmUnescaped(WebRealm):
    escape = False


class WebRealmStrKeys(WebRealm):
    def requestAvatar(self, avatar_id, mind, *interfaces):
        if avatar_id.decode() not in self.full_names:
            return resource.IResource, errorPage(404, "Unknown", "no such user"), lambda: None
        return super().requestAvatar(avatar_id, mind, *interfaces)


def test_web_realm_passes():
    ch06.check_web_realm(WebRealm)


def test_web_realm_stub_is_not_written_yet():
    assert NOT_WRITTEN in fails(ch06.check_web_realm, WebRealmStub)


@pytest.mark.parametrize("mistake, words", [
    (WebRealmUnescaped, "html.escape(full_name)"),
    (WebRealmStrKeys, "GET / as ada"),
])
def test_web_realm_mistakes_get_their_hint(mistake, words):
    assert words in fails(ch06.check_web_realm, mistake)


# --- the kit's PB client ----------------------------------------------------------------------------------------

def test_pb_session_reports_a_closed_port_instead_of_raising():
    from labkit.checks import closed_port
    from labkit.checks.pb import pb_session

    session = pb_session(closed_port(), b"admin", b"x", ("listItems",))
    assert not session.logged_in and "ConnectionRefused" in session.login and session.results == []
