"""One thread for slow password hashes, with a bounded queue, so the reactor never waits for them, memory stays
bounded, and a flood of logins cannot push a real user's login far back.

Promises: :func:`verify_later` runs :func:`servers.auth.passwords.verify_password` in the hashing thread and
returns a Deferred that fires (in the reactor thread) with True or False. Hashes run one at a time, in the order
asked: a flood queues instead of taking every core and 16 MiB per hash at once. At most :data:`MAX_WAITING` hashes
wait; one more fails at once with :class:`Busy` (the client is told to try again), so a flood of 300 logins costs
at most that many hashes before a new one runs. Cancelling the Deferred (the login server does when its client
hangs up) takes a hash that has not started out of the queue: logins sent and abandoned cost nothing. The thread
starts on first use and stops when the reactor shuts down.
"""

from __future__ import annotations

import threading
from collections import deque

from twisted.internet import defer

from servers.auth.passwords import verify_password

__all__ = ["Busy", "MAX_WAITING", "verify_later"]

MAX_WAITING = 16
"""Hashes that may wait for the hashing thread; more are refused at once."""


class Busy(Exception):
    """The hashing queue is full: the login is refused now, and the client may try again in a moment."""


class _HashQueue:
    def __init__(self, reactor):
        self.reactor = reactor
        self.waiting: deque[tuple[bytes, str, defer.Deferred]] = deque()
        self.wakeup = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="password-hashing", daemon=True)
        self.thread.start()

    def submit(self, password: bytes, stored: str) -> defer.Deferred:
        job: list = []
        result = defer.Deferred(lambda _: self._withdraw(job))
        with self.wakeup:
            if len(self.waiting) >= MAX_WAITING:
                return defer.fail(Busy(f"{MAX_WAITING} logins are waiting to be checked; try again in a moment"))
            job.append((password, stored, result))
            self.waiting.append(job[0])
            self.wakeup.notify()
        return result

    def _withdraw(self, job: list) -> None:
        with self.wakeup:
            if job and job[0] in self.waiting:
                self.waiting.remove(job[0])

    def _run(self) -> None:
        while True:
            with self.wakeup:
                while not self.waiting and not self.stopped:
                    self.wakeup.wait()
                if self.stopped:
                    return
                password, stored, result = self.waiting.popleft()
            matched = verify_password(password, stored)
            self.reactor.callFromThread(self._deliver, result, matched)

    @staticmethod
    def _deliver(result: defer.Deferred, matched: bool) -> None:
        if not result.called:  # a cancelled login's hash had already started: its answer is dropped
            result.callback(matched)

    def stop(self) -> None:
        with self.wakeup:
            self.stopped = True
            self.wakeup.notify()


_queues: dict[int, _HashQueue] = {}
_lock = threading.Lock()


def _queue(reactor) -> _HashQueue:
    with _lock:
        queue = _queues.get(id(reactor))
        if queue is None or queue.stopped:
            queue = _queues[id(reactor)] = _HashQueue(reactor)
            reactor.addSystemEventTrigger("during", "shutdown", queue.stop)
        return queue


def verify_later(password: bytes, stored: str, reactor=None) -> defer.Deferred:
    """A Deferred firing with whether ``password`` matches ``stored``, hashed in the hashing thread; it fails
    with :class:`Busy` at once when the queue is full."""
    if reactor is None:
        from twisted.internet import reactor
    return _queue(reactor).submit(password, stored)
