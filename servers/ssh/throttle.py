"""A per-source throttle on SSH connections that have not logged in yet: what OpenSSH's ``PerSourceMaxStartups``
and ``PerSourcePenalties`` do for ``sshd``.

Every connection costs the server a key exchange (a Curve25519 or ML-KEM computation) before anyone has proved who
they are; without a bound, one address can keep the reactor busy with hundreds of them a second.

Promises:

* :class:`ThrottleLimits` says, for one source address: at most ``unauthenticated`` connections open and not yet
  logged in, and new connections from a token bucket that holds ``burst`` and refills ``per_second``.
* :meth:`SourceThrottle.admit` answers for a new connection from ``host``: None to let it in (it then counts as
  unauthenticated until :meth:`SourceThrottle.done`: logged in or closed), or the line to refuse it
  with. A login frees the source's place at once, so a real user who gets in is never held back by the bound.
* A refusal is one text line before any version line (RFC 4253 section 4.2 allows lines before the version), then
  the connection closes: no key exchange, no cryptography. The line begins with OpenSSH's own words,
  ``Exceeded MaxStartups`` or ``Not allowed at this time``, so tools that know sshd (ssh-audit's rate test) count
  it as a refusal; the rest says what to do.
* The log gets one line per burst: the first refusal from a source after ``quiet`` seconds without one.
* Memory is bounded: at most ``remember`` sources are kept, plus those with connections open before login (which
  the server holds anyway); past that, the longest-unused sources with nothing open are forgotten (a forgotten
  source starts again with a full bucket).
* Time comes from the clock it is given (the reactor, or ``twisted.internet.task.Clock`` in a test).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from twisted.internet.protocol import Protocol
from twisted.logger import Logger

from servers.abuse_guard import all_positive

__all__ = ["Refusal", "SourceThrottle", "ThrottleLimits"]

_log = Logger()


@dataclass(frozen=True)
class ThrottleLimits:
    """Per source address: connections open and not yet logged in, and the bucket new connections come from."""

    unauthenticated: int = 10
    burst: int = 30
    per_second: float = 10.0
    quiet: float = 10.0
    remember: int = 10_000

    def __post_init__(self):
        all_positive(self)


@dataclass
class _Source:
    tokens: float
    at: float
    unauthenticated: int = 0
    last_refusal: float = float("-inf")


class SourceThrottle:
    """The bounds of :class:`ThrottleLimits`, kept for every source address that connects."""

    def __init__(self, limits: ThrottleLimits = ThrottleLimits(), clock=None):
        self.limits = limits
        self.clock = clock
        self.refused = 0
        self._sources: OrderedDict[str, _Source] = OrderedDict()

    def admit(self, host: str) -> bytes | None:
        """None when a new connection from ``host`` may go ahead (it is then counted); else the refusal line."""
        if self.clock is None:  # the reactor, once it serves (building a server must not install one)
            from twisted.internet import reactor

            self.clock = reactor
        limits, now = self.limits, self.clock.seconds()
        source = self._source(host, now)
        source.tokens = min(limits.burst, source.tokens + (now - source.at) * limits.per_second)
        source.at = now
        if source.unauthenticated >= limits.unauthenticated:
            why = (f"Exceeded MaxStartups: {limits.unauthenticated} connections from {host} have not logged in "
                   "yet; log in or close one, then try again")
        elif source.tokens < 1:
            why = (f"Not allowed at this time: more than {limits.burst} new connections from {host} in a burst "
                   f"(then {limits.per_second:g} a second); wait a few seconds and try again")
        else:
            source.tokens -= 1
            source.unauthenticated += 1
            return None
        self.refused += 1
        if now - source.last_refusal >= limits.quiet:
            _log.info("refusing SSH connections from {host}: {why} (one line per burst; {refused} refused so far)",
                      host=host, why=why, refused=self.refused)
        source.last_refusal = now
        return why.encode("ascii", "replace") + b"\r\n"

    def done(self, host: str) -> None:
        """A connection from ``host`` has logged in, or closed before it did: it no longer counts."""
        source = self._sources.get(host)
        if source is not None and source.unauthenticated > 0:
            source.unauthenticated -= 1

    def open_unauthenticated(self, host: str) -> int:
        """How many connections from ``host`` are open and not logged in."""
        source = self._sources.get(host)
        return 0 if source is None else source.unauthenticated

    def __len__(self) -> int:
        """How many sources it remembers."""
        return len(self._sources)

    def _source(self, host: str, now: float) -> _Source:
        source = self._sources.get(host)
        if source is None:
            self._forget_beyond(self.limits.remember - 1)
            source = self._sources[host] = _Source(tokens=self.limits.burst, at=now)
        self._sources.move_to_end(host)
        return source

    def _forget_beyond(self, most: int) -> None:
        if len(self._sources) <= most:
            return
        idle = [host for host, source in self._sources.items() if source.unauthenticated == 0]
        for host in idle[:len(self._sources) - most]:
            del self._sources[host]


class Refusal(Protocol):
    """Sends ``line`` and closes: what a refused connection gets instead of an SSH transport."""

    def __init__(self, line: bytes):
        self.line = line

    def connectionMade(self):
        self.transport.write(self.line)
        self.transport.loseConnection()
