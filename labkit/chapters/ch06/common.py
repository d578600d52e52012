"""What chapter 6's checks share: the practice passwords, logins over the line server as ``nc`` would make them,
the realm the checker checks use, and a password that notices being compared with ``==``.

Promises: :func:`login` sends a user name, a password (and more lines) at once and returns all the server said
until it closed (bounded); :func:`login_expectations` records the logins every checker must get right;
:func:`refusal_words` calls the learner's checker through :func:`labkit.checks.call_learner` and says how it
answered.
"""

from __future__ import annotations

from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer
from zope.interface import implementer

from labkit.checks import call_learner, converse, limits

from servers.auth.avatars import INamedUser, NamedUser
from servers.auth.line import DENIED

__all__ = ["ASKED", "FULL_NAMES", "NOT_COMPLETED", "NamedRealm", "PASSWORDS", "REFUSED", "Watched", "Watching",
           "login", "login_expectations", "refusal_words", "sent", "welcome"]

PASSWORDS = {b"ada": b"analytical-engine", b"admin": b"admin-practice", b"grace": b"cobol-1959"}
FULL_NAMES = {b"ada": "Ada Lovelace", b"admin": "Admin User"}

ASKED = b"User Name: Password: "
REFUSED = ASKED + DENIED + b"\r\n"
NOT_COMPLETED = b"could not complete"


def welcome(full_name: str) -> bytes:
    return ASKED + f"Welcome {full_name}!\r\n".encode("utf-8")


def login(port: int, user: bytes, password: bytes, *more: bytes) -> bytes:
    """A login over the line protocol, as ``nc`` would do it: every line sent at once, read until the close."""
    lines = [user + b"\r\n", password + b"\r\n", *(line + b"\r\n" for line in more)]
    return converse(port, *lines, settle=limits.REPLY)


def sent(user: bytes, password: bytes, *more: bytes) -> str:
    return " / ".join(repr(part) for part in (user, password, *more))


@implementer(portal.IRealm)
class NamedRealm:
    """The checks' realm for checkers: greets by full name, and insists on bytes avatar ids."""

    def __init__(self, full_names: dict):
        self.full_names = full_names

    def requestAvatar(self, avatar_id, mind, *interfaces):
        if not isinstance(avatar_id, bytes):
            raise TypeError(f"the checker gave the avatar id {avatar_id!r}, a {type(avatar_id).__name__}; "
                            "avatar ids are bytes, like credentials.username")
        full_name = self.full_names.get(avatar_id, avatar_id.decode("utf-8", "replace"))
        return INamedUser, NamedUser(avatar_id, full_name), lambda: None


class Watched(bytes):
    """A password that notices being compared with ``==`` or ``!=`` (hmac.compare_digest reads its bytes)."""

    seen = False

    def __eq__(self, other):
        Watched.seen = True
        return bytes(self) == other

    def __ne__(self, other):
        Watched.seen = True
        return bytes(self) != other

    __hash__ = bytes.__hash__


@implementer(checkers.ICredentialsChecker)
class Watching:
    """Hands the learner's checker each password as a :class:`Watched`."""

    credentialInterfaces = (credentials.IUsernamePassword,)

    def __init__(self, checker):
        self.checker = checker

    def requestAvatarId(self, given):
        return self.checker.requestAvatarId(credentials.UsernamePassword(given.username, Watched(given.password)))


def refusal_words(checker, user: bytes, password: bytes) -> str:
    """How ``checker`` answers these credentials, called directly: the refusal's message, or what happened."""
    def attempt(reactor):
        return defer.maybeDeferred(checker.requestAvatarId, credentials.UsernamePassword(user, password))

    try:
        got = call_learner(attempt, timeout=limits.LEARNER_CALL)
    except error.UnauthorizedLogin as refused:
        return str(refused) or "(an empty message)"
    except NotImplementedError:
        raise
    except Exception as failed:  # noqa: BLE001 - any other ending is shown as it is
        return f"{type(failed).__name__}: {failed}"
    return f"it let them in, as {got!r}"


def login_expectations(check, port: int, welcome_user: bytes, full_name: str) -> dict[str, bytes]:
    """The logins every checker must get right; returns what each got."""
    got = {"right": login(port, welcome_user, PASSWORDS[welcome_user])}
    check.expect(f"{welcome_user.decode()} with the right password", welcome(full_name), got["right"],
                 sent=sent(welcome_user, PASSWORDS[welcome_user]),
                 hint=("the server could not complete the login: your checker or the avatar id raised (the "
                       "server's log has it). Avatar ids are bytes: return credentials.username itself"
                       if NOT_COMPLETED in got["right"] else ""))
    for what, user, password in (("a wrong password", welcome_user, b"wrong"),
                                 ("an unknown user", b"nobody", b"anything"),
                                 ("an empty user name and password", b"", b""),
                                 ("a user name that is not UTF-8", b"\xff\xfe", b"x")):
        got[what] = answer = login(port, user, password)
        check.expect(what, REFUSED, answer, sent=sent(user, password),
                     hint=("the refusal must be a twisted.cred.error.UnauthorizedLogin (other exceptions are "
                           "errors of the server, and say more than they should): look the user up with "
                           ".get(), and raise UnauthorizedLogin for anything that does not match"
                           if NOT_COMPLETED in answer else
                           "a wrong password and an unknown user must both be refused"))
    return got
