"""One thread for slow password hashes, so the reactor never waits for them and memory stays bounded.

Promises: :func:`verify_later` runs :func:`servers.auth.passwords.verify_password` in a thread of its own and
returns a Deferred that fires (in the reactor thread) with True or False. Hashes run one at a time: a flood of
logins queues up instead of taking every core and 16 MiB per hash at once. The thread starts on first use and
stops when the reactor shuts down.
"""

from __future__ import annotations

import threading

from twisted.internet import threads
from twisted.python.threadpool import ThreadPool

from servers.auth.passwords import verify_password

__all__ = ["verify_later"]

_pool: ThreadPool | None = None
_lock = threading.Lock()


def _started(reactor) -> ThreadPool:
    global _pool
    with _lock:
        if _pool is None:
            pool = ThreadPool(minthreads=1, maxthreads=1, name="password-hashing")
            pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", _stop, pool)
            _pool = pool
        return _pool


def _stop(pool: ThreadPool) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.stop()


def verify_later(password: bytes, stored: str, reactor=None):
    """A Deferred firing with whether ``password`` matches ``stored``, hashed in the hashing thread."""
    if reactor is None:
        from twisted.internet import reactor
    return threads.deferToThreadPool(reactor, _started(reactor), verify_password, password, stored)
