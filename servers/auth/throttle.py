"""Slowing down guessers: after a few failed logins for one user name, every further attempt waits, longer each
time.

Promises:

* :class:`Throttle` counts failures per key (a user name). The first :attr:`Throttle.free` failures cost
  nothing; after that, an attempt waits ``first * 2**(failures - free)`` seconds, at most ``most``. A success
  clears the count; a count left alone for ``forget_after`` seconds is forgotten. It remembers at most
  ``remember`` keys (the oldest go first), so a flood of made-up names cannot fill the memory.
* Time comes from the clock it is given (the reactor, or a ``twisted.internet.task.Clock`` in a test, which
  makes the delays exact and instant).
* :class:`ThrottledChecker` wraps any ``twisted.cred`` checker: each attempt first waits what the throttle says
  for its user name, then asks the wrapped checker; an ``UnauthorizedLogin`` counts as a failure, a success
  clears the count. The refusal itself is unchanged, so it still does not say what was wrong.
* :class:`HeldRefusals` (the practice servers' policy) asks the wrapped checker at once and holds back only its
  refusals, by what the throttle says for the attempt's source and user name (``credentials.source``, which the
  login server sets to the client's address): the real user's correct password gets in at once, however many
  wrong guesses someone else made, and a guesser waits longer for each refusal. Attempts for one source and name
  are checked one at a time, so parallel guesses queue behind each other.
"""

from __future__ import annotations

from collections import OrderedDict

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import defer, task
from zope.interface import implementer

__all__ = ["HeldRefusals", "Throttle", "ThrottledChecker"]


class Throttle:
    """Failures per key, and how long the next attempt for that key must wait."""

    def __init__(self, clock=None, *, free: int = 3, first: float = 1.0, most: float = 16.0,
                 forget_after: float = 900.0, remember: int = 10_000):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.free, self.first, self.most = free, first, most
        self.forget_after, self.remember = forget_after, remember
        self._failures: OrderedDict[object, tuple[int, float]] = OrderedDict()

    def failures(self, key) -> int:
        """Failures counted for ``key`` now (0 once forgotten)."""
        count, last = self._failures.get(key, (0, 0.0))
        if count and self.clock.seconds() - last >= self.forget_after:
            del self._failures[key]
            return 0
        return count

    def delay(self, key) -> float:
        """Seconds the next attempt for ``key`` waits."""
        extra = self.failures(key) - self.free
        return 0.0 if extra < 0 else min(self.most, self.first * 2 ** extra)

    def wait(self, key) -> defer.Deferred:
        """A Deferred that fires once the next attempt for ``key`` may go ahead (at once when it need not wait)."""
        seconds = self.delay(key)
        return defer.succeed(None) if seconds == 0 else task.deferLater(self.clock, seconds, lambda: None)

    def failed(self, key) -> None:
        self._failures[key] = (self.failures(key) + 1, self.clock.seconds())
        self._failures.move_to_end(key)
        while len(self._failures) > self.remember:
            self._failures.popitem(last=False)

    def succeeded(self, key) -> None:
        self._failures.pop(key, None)


@implementer(ICredentialsChecker)
class ThrottledChecker:
    """``checker``, with each attempt held back by ``throttle`` for its user name."""

    def __init__(self, checker, throttle: Throttle):
        self.checker = checker
        self.throttle = throttle
        self.credentialInterfaces = tuple(checker.credentialInterfaces)

    def requestAvatarId(self, credentials):
        key = getattr(credentials, "username", None)
        waited = self.throttle.wait(key)
        waited.addCallback(lambda _: self.checker.requestAvatarId(credentials))
        return waited.addCallbacks(self._succeeded, self._failed, callbackArgs=(key,), errbackArgs=(key,))

    def _succeeded(self, avatar_id, key):
        self.throttle.succeeded(key)
        return avatar_id

    def _failed(self, failure, key):
        if failure.check(UnauthorizedLogin):
            self.throttle.failed(key)
        return failure


@implementer(ICredentialsChecker)
class HeldRefusals:
    """``checker``, whose refusals are held back by ``throttle`` per source and user name; successes are not."""

    def __init__(self, checker, throttle: Throttle):
        self.checker = checker
        self.throttle = throttle
        self.credentialInterfaces = tuple(checker.credentialInterfaces)
        self._one_at_a_time: dict[object, defer.DeferredLock] = {}

    def requestAvatarId(self, credentials):
        key = (getattr(credentials, "source", None), getattr(credentials, "username", None))
        lock = self._one_at_a_time.setdefault(key, defer.DeferredLock())
        attempt = lock.run(defer.maybeDeferred, self.checker.requestAvatarId, credentials)
        attempt.addBoth(self._unlocked, key, lock)
        return attempt.addCallbacks(self._succeeded, self._refused, callbackArgs=(key,), errbackArgs=(key,))

    def _unlocked(self, outcome, key, lock):
        if not lock.locked and not lock.waiting:
            self._one_at_a_time.pop(key, None)
        return outcome

    def _succeeded(self, avatar_id, key):
        self.throttle.succeeded(key)
        return avatar_id

    def _refused(self, failure, key):
        if not failure.check(UnauthorizedLogin):
            return failure
        held = self.throttle.wait(key)
        self.throttle.failed(key)
        return held.addCallback(lambda _: failure)
