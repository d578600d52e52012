"""Chapter 6's checks of credential checkers: 6.1 a checker of your own, 6.2a a checker on the hashed table,
6.2b a wrapper that slows down repeated failures (driven by ``task.Clock``)."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading

from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer, task

from labkit.bridge import get_reactor, in_reactor_thread, run_in_reactor
from labkit.chapters.ch06.common import (FULL_NAMES, NOT_COMPLETED, PASSWORDS, REFUSED, NamedRealm, Watched,
                                         Watching, login, login_expectations, refusal_words, sent, welcome)
from labkit.checks import Check, limits, server_health, short, unwritten

from servers.auth.line import LoginFactory

__all__ = ["check_dict_checker", "check_hashed_checker", "check_slow_down"]


# --- 6.1 a checker of your own ------------------------------------------------------------------------------------

def check_dict_checker(checker_class) -> None:
    """Exercise 6.1: ``checker_class(passwords)`` (a dict of bytes user names to bytes passwords) is an
    ``ICredentialsChecker`` for ``IUsernamePassword``: the right password gives the user name (bytes) as avatar
    id; anything else fails with ``UnauthorizedLogin`` whose words do not say which part was wrong; passwords are
    compared with ``hmac.compare_digest``. Checked by logging in to the line server built on it."""
    with Check("your checker lets the right user in over the login server and refuses everyone else alike",
               start="in requestAvatarId, look creds.username up in self.passwords; return a Deferred that fires "
                     "with the user name, or fails with error.UnauthorizedLogin") as check:
        checker = checker_class(dict(PASSWORDS))
        wrong = refusal_words(checker, b"ada", b"wrong")
        unknown = refusal_words(checker, b"nobody", b"anything")
        Watched.seen = False
        served = check.serve(LoginFactory(portal.Portal(NamedRealm(FULL_NAMES), [Watching(checker)])),
                             "check-dict-checker")
        login_expectations(check, served.port, b"ada", FULL_NAMES[b"ada"])
        if unwritten(check, served):
            return
        check.expect("the refusal for a wrong password and for an unknown user say the same",
                     short(wrong), short(unknown), ok=wrong == unknown and not wrong.startswith("it let"),
                     hint="give both refusals the same words, e.g. UnauthorizedLogin('unknown user name or "
                          "password'): saying 'bad password' tells a guesser the user exists")
        check.expect("passwords compared in constant time", "hmac.compare_digest",
                     "== (it stops at the first byte that differs)" if Watched.seen else "hmac.compare_digest",
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
        run_in_reactor(pool.close, timeout=limits.CLEANUP)


def _user_count(path) -> int:
    with contextlib.closing(sqlite3.connect(path, timeout=limits.CATCH_UP)) as db:
        return db.execute("SELECT count(*) FROM users").fetchone()[0]


def check_hashed_checker(checker_class) -> None:
    """Exercise 6.2a: ``checker_class(pool)`` checks ``IUsernamePassword`` against the table ``users`` (columns
    ``username``, ``password_hash``) of an adbapi pool: one query with the name as a parameter, the password
    verified with ``servers.auth.passwords.verify_password`` in a thread (never in the reactor), an unknown user
    checked against ``UNKNOWN_USER`` so it costs the same hash; the avatar id is the user name (bytes)."""
    from servers import accounts
    from servers.auth import FULL_NAMES as PRACTICE_NAMES
    from servers.auth import user_table
    from servers.auth.avatars import UserRealm
    from servers.auth.userdb import UserDatabase

    with Check("your checker logs users in against the hashed table, safely and evenly",
               start="in check, ask self.pool.runQuery for the user's password_hash, then check the password "
                     "with servers.auth.passwords.verify_password in a thread") as check:
        folder = check.temporary_folder("check-hashed-")
        path = user_table(folder)
        account = {a.user: a.password for a in accounts.accounts("auth")}
        learner_pool, realm_users = _pool(path), UserDatabase(path)
        check.on_exit(_close, learner_pool)
        check.on_exit(run_in_reactor, realm_users.close, timeout=limits.CLEANUP)
        checker = checker_class(learner_pool)
        served = check.serve(LoginFactory(portal.Portal(UserRealm(realm_users), [checker])), "check-hashed-checker")
        with _ScryptWatch() as hashes:
            ada = login(served.port, b"ada", account["ada"].encode())
            if unwritten(check, served):
                return
            check.expect("ada with her password", welcome(PRACTICE_NAMES["ada"]), ada,
                         sent=sent(b"ada", account["ada"].encode()),
                         hint=("the login could not be completed (the server's log says why): is the avatar id "
                               "the user name as bytes, and is the password checked with verify_password?"
                               if NOT_COMPLETED in ada else ""))
            check.expect("her password was checked with the slow hash", "at least one scrypt hash",
                         f"{hashes.calls} scrypt hashes", ok=hashes.calls >= 1,
                         hint="check the password with servers.auth.passwords.verify_password(password, stored)")
            wrong = login(served.port, b"ada", b"wrong")
            check.expect("a wrong password", REFUSED, wrong, sent=sent(b"ada", b"wrong"))
            before = hashes.calls
            unknown = login(served.port, b"nobody", b"anything")
            check.expect("an unknown user", REFUSED, unknown, sent=sent(b"nobody", b"anything"),
                         hint="with no row, raise error.UnauthorizedLogin with the same words as for a wrong "
                              "password")
            check.expect("an unknown user costs a hash too (so timing does not tell who exists)",
                         "at least one scrypt hash", f"{hashes.calls - before} scrypt hashes",
                         ok=hashes.calls > before,
                         hint="when no row comes back, verify the password against passwords.UNKNOWN_USER "
                              "anyway, then refuse")
            for user, password in ((b"' OR '1'='1", b"x' OR '1'='1"),
                                   (b"nobody' OR username = 'ada' --", account["ada"].encode())):
                answer = login(served.port, user, password)
                check.expect(f"SQL in the user name: {user.decode()}", REFUSED, answer, sent=sent(user, b"..."),
                             hint="pass the name as a parameter: runQuery('... WHERE username = ?', (name,)); "
                                  "never put it into the SQL text (here a made-up name got in with ada's "
                                  "password)")
            odd = login(served.port, b"\xff\xfe", b"x")
            check.expect("a user name that is not UTF-8", REFUSED, odd, sent=sent(b"\xff\xfe", b"x"),
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
    """Exercise 6.2b: ``slow_down_class(checker, clock)`` wraps a checker: the first three failures for
    a user name are answered at once, then each further attempt for that name waits 1, 2, 4... seconds on
    ``clock`` before the wrapped checker is asked; a success clears the count; other names are not slowed; the
    refusal stays ``UnauthorizedLogin``. Time is a ``task.Clock``, so the check needs no waiting."""
    with Check("your wrapper slows down repeated failures, one user name at a time",
               start="in requestAvatarId, ask self.checker.requestAvatarId(creds) later with "
                     "task.deferLater(self.clock, seconds, ...), counting each user name's failures") as check:
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
        check.expect("three wrong passwords for ada, each answered at once", ["refused"] * 3, answers,
                     hint="the first three failures of a name wait 0 s: the wrapped checker's refusal is passed "
                          "on at once" if "still waiting" in answers else
                     "a refusal must stay a failure (UnauthorizedLogin): pass the wrapped checker's failure on")
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
                     (early, state(fifth)),
                     hint="each further failure doubles the wait: 1, 2, 4... seconds (2 ** (failures - 3))")
        sixth = attempt(b"ada", b"guess")
        clock.advance(0)
        check.expect("after a success, the count starts again", "refused", state(sixth),
                     hint="clear the user's count when the wrapped checker lets them in")
        check.expect("it declares what it checks", True,
                     credentials.IUsernamePassword in tuple(getattr(slowed, "credentialInterfaces", ())),
                     ok=credentials.IUsernamePassword in tuple(getattr(slowed, "credentialInterfaces", ())),
                     hint="credentialInterfaces = (credentials.IUsernamePassword,): a Portal only hands a checker "
                          "the kinds of credentials it lists")
        served = check.serve(LoginFactory(portal.Portal(NamedRealm({b"ada": "Ada Lovelace"}),
                                                         [slow_down_class(inner, get_reactor())])),
                             "check-slow-down")
        answer = login(served.port, b"ada", b"right")
        check.expect("in a portal, behind the login server: ada logs in", welcome("Ada Lovelace"), answer)
        server_health(check, served)
