"""A per-source throttle on SSH connections that have not logged in yet: what OpenSSH's ``MaxStartups`` and
``PerSourcePenalties`` do for ``sshd``, bounded without locking a patient client out.

Every connection costs the server a key exchange (a Curve25519 or ML-KEM computation) before anyone has proved who
they are; without a bound, one address can keep the reactor busy with hundreds of them a second.

Promises:

* :class:`ThrottleLimits` says, for one source address: at most ``unauthenticated`` connections open and not yet
  logged in, and key exchanges started from a token bucket that holds ``burst`` and refills ``per_second``.
* :meth:`SourceThrottle.arrive` takes a new connection (a :class:`Turn`): with a token in the bucket it starts
  at once (:meth:`Turn.start`: the server sends its version and opens key exchange); otherwise it waits, costing
  a socket and nothing else, and starts as soon as a token comes back, longest-waiting first.
* Past ``unauthenticated`` connections from one source, the oldest of them (waiting or not yet logged in) is
  turned away (:meth:`Turn.turn_away`) with a line that begins with OpenSSH's own words, ``Exceeded MaxStartups``,
  so tools that know sshd (ssh-audit's rate test) count it as a refusal, and says what to do. The newest always
  gets its place: a crowd of idle connections can never lock a well-behaved client out, it only waits its turn.
* A connection counts until :meth:`SourceThrottle.done`: logged in (which also gives its token back, so only
  connections that never log in use up the bucket: a script logging in again and again is never held back) or
  closed.
* The log gets one line per burst: the first connection turned away from a source after ``quiet`` seconds
  without one.
* Memory is bounded: at most ``remember`` sources are kept, plus those with connections open before login;
  past that, the longest-unused sources with nothing open are forgotten (a forgotten source starts again with a
  full bucket). What a waiting client sends is the transport's to bound (:mod:`servers.ssh.transport`).
* Time comes from the clock it is given (the reactor, or ``twisted.internet.task.Clock`` in a test).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from twisted.logger import Logger

from servers.abuse_guard import all_positive

__all__ = ["SourceThrottle", "ThrottleLimits", "Turn"]

_log = Logger()


@dataclass(frozen=True)
class ThrottleLimits:
    """Per source address: connections open and not yet logged in, and the bucket key exchanges come from."""

    unauthenticated: int = 10
    burst: int = 30
    per_second: float = 10.0
    quiet: float = 10.0
    remember: int = 10_000

    def __post_init__(self):
        all_positive(self)


class Turn(Protocol):
    """A connection as the throttle sees it."""

    def start(self) -> None:
        """Begin the SSH conversation now."""

    def turn_away(self, line: bytes) -> None:
        """Close, telling the client ``line``."""


@dataclass
class _Source:
    tokens: float
    at: float
    open: OrderedDict = field(default_factory=OrderedDict)  # every counted connection, oldest first: started?
    timer: object = None
    last_refusal: float = float("-inf")


class SourceThrottle:
    """The bounds of :class:`ThrottleLimits`, kept for every source address that connects."""

    def __init__(self, limits: ThrottleLimits = ThrottleLimits(), clock=None):
        self.limits = limits
        self.clock = clock
        self.turned_away = 0
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def arrive(self, host: str, turn: Turn) -> None:
        """A new connection from ``host``: start it, or let it wait for a token; make room past the bound."""
        if self.clock is None:  # the reactor, once it serves (building a server must not install one)
            from twisted.internet import reactor

            self.clock = reactor
        source = self._source(host)
        while len(source.open) >= self.limits.unauthenticated:
            oldest, _ = source.open.popitem(last=False)
            self._turn_away(host, source, oldest)
        source.open[turn] = False
        self._start_waiting(source)

    def done(self, host: str, turn: Turn, logged_in: bool) -> None:
        """``turn`` from ``host`` has logged in, or closed before it did: it no longer counts; a login also gives
        its token back to the bucket."""
        source = self._sources.get(host)
        if source is None or source.open.pop(turn, None) is None:
            return
        if logged_in:
            self._refill(source)
            source.tokens = min(self.limits.burst, source.tokens + 1)
        self._start_waiting(source)

    def open_unauthenticated(self, host: str) -> int:
        """How many connections from ``host`` are open (or waiting) and not logged in."""
        source = self._sources.get(host)
        return 0 if source is None else len(source.open)

    def waiting(self, host: str) -> int:
        """How many connections from ``host`` wait for a token."""
        source = self._sources.get(host)
        return 0 if source is None else sum(not started for started in source.open.values())

    def __len__(self) -> int:
        """How many sources it remembers."""
        return len(self._sources)

    def _refill(self, source: _Source) -> None:
        now = self.clock.seconds()
        source.tokens = min(self.limits.burst, source.tokens + (now - source.at) * self.limits.per_second)
        source.at = now

    def _start_waiting(self, source: _Source) -> None:
        """Start the waiting connections the bucket has tokens for, oldest first; look again when one is due."""
        self._refill(source)
        waiting = [turn for turn, started in source.open.items() if not started]
        for turn in waiting:
            if source.tokens < 1:
                break
            source.tokens -= 1
            source.open[turn] = True
            turn.start()
        still = any(not started for started in source.open.values())
        if source.timer is not None and source.timer.active():
            if still:
                return
            source.timer.cancel()
        source.timer = None
        if still:
            due = (1 - source.tokens) / self.limits.per_second
            source.timer = self.clock.callLater(due, self._start_waiting, source)

    def _turn_away(self, host: str, source: _Source, turn: Turn) -> None:
        limits, now = self.limits, self.clock.seconds()
        why = (f"Exceeded MaxStartups: {limits.unauthenticated} newer connections from {host} have not logged in "
               "yet; log in sooner, or open fewer at once")
        self.turned_away += 1
        if now - source.last_refusal >= limits.quiet:
            _log.info("turning SSH connections from {host} away: {why} (one line per burst; {count} so far)",
                      host=host, why=why, count=self.turned_away)
        source.last_refusal = now
        turn.turn_away(why.encode("ascii", "replace") + b"\r\n")

    def _source(self, host: str) -> _Source:
        source = self._sources.get(host)
        if source is None:
            self._forget_beyond(self.limits.remember - 1)
            source = self._sources[host] = _Source(tokens=self.limits.burst, at=self.clock.seconds())
        self._sources.move_to_end(host)
        return source

    def _forget_beyond(self, most: int) -> None:
        if len(self._sources) <= most:
            return
        idle = [host for host, source in self._sources.items() if not source.open]
        for host in idle[:len(self._sources) - most]:
            del self._sources[host]
