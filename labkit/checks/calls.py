"""How a check calls the learner's code: one way, bounded, watched.

Every chapter's checks call the learner's functions through :func:`call_learner` (or :class:`Outcome`, which
keeps how the call ended instead of raising), never through a bare ``labkit.react`` or a thread of their own.

Promises:

* ``call_learner(main, *args, timeout=limits.X)`` runs the learner's ``main(reactor, *args)`` like
  :func:`labkit.react`, bounded by ``timeout``; it returns the value or raises the learner's exception.
  An exception the learner's code raises inside the reactor that Twisted only logs (a client protocol's
  ``connectionMade``, say) ends the wait at once and is raised from here, so an unwritten stub says "not written
  yet" at once. Its logged traceback stays out of the cell; anything else printed meanwhile is passed on.
  Garbage is collected first, so a Deferred some earlier code left failed is not blamed on this call.
* ``call_learner(fn, *args, timeout=..., blocking=True)`` runs a blocking function (one that uses a blocking
  client such as zeep, and never the reactor) in a worker thread, bounded the same way: :class:`LabTimeout`
  when it does not return in time (the thread is left to finish on its own; it is a daemon thread).
"""

from __future__ import annotations

import gc
import os
import sysconfig
import threading

from twisted.internet import defer
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from labkit.bridge import LabTimeout, in_reactor_thread, react
from labkit.checks.quiet import tracebacks_left_out

__all__ = ["call_learner"]


def call_learner(fn, *args, timeout: float, blocking: bool = False):
    """The learner's ``fn(reactor, *args)`` (or, ``blocking``, ``fn(*args)`` in a worker thread), bounded by
    ``timeout`` seconds: its value, or its exception raised here."""
    gc.collect()
    if blocking:
        return _in_thread(fn, *args, timeout=timeout)
    return _watched(fn, *args, timeout=timeout)


def _in_thread(fn, *args, timeout: float):
    done: list = []

    def run():
        try:
            done.append((True, fn(*args)))
        except BaseException as failed:  # noqa: BLE001 - raised in the caller's thread below
            done.append((False, failed))

    worker = threading.Thread(target=run, daemon=True, name="check-learner-call")
    worker.start()
    worker.join(timeout)
    if not done:
        raise LabTimeout(f"your function did not return within {timeout:g} s")
    returned, value = done[0]
    if returned:
        return value
    raise value


def _library_folders() -> tuple[str, ...]:
    import twisted

    import labkit
    import servers

    paths = sysconfig.get_paths()
    folders = {os.path.dirname(twisted.__file__), os.path.dirname(labkit.__file__),
               os.path.dirname(servers.__file__), paths["stdlib"], paths["purelib"], paths["platlib"]}
    return tuple(os.path.realpath(folder) + os.sep for folder in folders)


def _raised_by_learner(failure: Failure) -> bool:
    """The traceback passes through code that belongs to no library: the learner's (a cell, a test)."""
    libraries = _library_folders()
    return any(not os.path.realpath(frame[1]).startswith(libraries) for frame in failure.frames)


def _watched(main, *args, timeout: float):
    """``labkit.react(main, *args, timeout=timeout)``, but an exception that the learner's code raises inside
    the reactor and Twisted only logs ends the wait at once and is raised here."""
    caught: list[Failure] = []

    def watched(reactor, *args):
        result = defer.maybeDeferred(main, reactor, *args)
        ended = defer.Deferred(lambda _: result.cancel())

        def observe(event):
            failure = event.get("log_failure") or event.get("failure")  # new-style, or legacy log.err
            if (isinstance(failure, Failure) and in_reactor_thread() and not ended.called
                    and isinstance(failure.value, Exception) and _raised_by_learner(failure)):
                caught.append(failure)
                ended.errback(failure)
                result.cancel()  # finish() sees that the wait has ended and drops the cancellation

        def finish(outcome):
            if not ended.called:
                (ended.errback if isinstance(outcome, Failure) else ended.callback)(outcome)

        def stop_watching(outcome):
            globalLogPublisher.removeObserver(observe)
            return outcome

        globalLogPublisher.addObserver(observe)
        result.addBoth(finish)
        return ended.addBoth(stop_watching)

    with tracebacks_left_out(lambda: bool(caught)):
        return react(watched, *args, timeout=timeout)
