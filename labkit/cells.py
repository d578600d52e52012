"""Cells with top-level ``await``: IPython hands such a cell to labkit, which runs it on the reactor thread.

Promises: the cell's code runs on the reactor thread, each awaited Deferred or coroutine resuming it; the wait is
bounded and interruptible like every wait of :mod:`labkit.bridge`. On time-out or interrupt the awaited Deferred
is cancelled and the line that awaited it raises :class:`labkit.LabTimeout` or ``KeyboardInterrupt`` in the
cell, as a plain cell would.
"""

from __future__ import annotations

import threading

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from labkit import bridge
from labkit.bridge import LabTimeout

__all__ = ["install_in_ipython", "run_cell_coroutine"]

AWAIT_MORE_TIME = ("to allow more time, run labkit.set_timeout(SECONDS) in a cell before this one, or wait without "
                   "await: result = labkit.wait(the_deferred, timeout=SECONDS)")


def install_in_ipython() -> None:
    """Make top-level ``await`` in IPython cells run the cell on the reactor thread (Deferreds and coroutines).
    Done when labkit is imported in IPython; the reactor itself starts on the first wait."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "loop_runner"):
        shell.loop_runner = run_cell_coroutine
        shell.autoawait = True


def run_cell_coroutine(coro):
    """IPython loop runner: run a cell that uses top-level ``await`` on the reactor thread, bounded and
    interruptible like :func:`react`. On interrupt or time-out the awaited Deferred is cancelled and the cell's
    code gets ``KeyboardInterrupt`` or :class:`LabTimeout` at the line that awaited it, as a plain cell would,
    so the cell shows that one error, its traceback pointing at that line."""
    __tracebackhide__ = True
    driver = _CellDriver(coro)
    try:
        return bridge._wait("this cell's await", driver.start, (), {}, None, more_time=AWAIT_MORE_TIME,
                     stopping=driver.stop_with)
    except (KeyboardInterrupt, LabTimeout) as stopped:
        # IPython hands over the whole cell, its error display included: when the cell's code got the error at
        # its await and IPython showed it there, the cell is over; end it quietly.
        if driver.finished.wait(0.3) and driver.failure is None:
            return driver.outcome
        raise stopped.with_traceback(None) from None


class _CellDriver:
    """Drives a cell's coroutine on the reactor thread: each awaited Deferred resumes it with its result.

    Twisted's own driver (``Deferred.fromCoroutine``) would turn an interrupt into ``CancelledError`` inside the
    cell; this one throws the reason the wait stopped (``KeyboardInterrupt`` or :class:`LabTimeout`) there
    instead, as a plain Python cell would get it.
    """

    def __init__(self, coro):
        self.coro = coro
        self.result = Deferred(self._interrupt)
        self.waiting_on: Deferred | None = None
        self.interrupted = False
        self.stopped_by: BaseException | None = None
        self.finished = threading.Event()
        self.outcome = None
        self.failure: Failure | None = None

    def start(self) -> Deferred:
        self._step(None, None)
        return self.result

    def stop_with(self, reason: BaseException) -> None:
        """Called on the cell's thread before the wait is cancelled: what to throw into the cell's code."""
        self.stopped_by = reason if isinstance(reason, LabTimeout) else KeyboardInterrupt()

    def _interrupt(self, _result: Deferred) -> None:
        self.interrupted = True
        if self.waiting_on is not None:
            self.waiting_on.cancel()

    def _step(self, value, failure: Failure | None) -> None:
        bridge._state["cell_code_runs"] = True
        try:
            if self.interrupted:
                awaited = self.coro.throw(self.stopped_by or KeyboardInterrupt())
            elif failure is not None:
                awaited = failure.throwExceptionIntoGenerator(self.coro)
            else:
                awaited = self.coro.send(value)
        except StopIteration as done:
            self._finish(done.value, None)
            return
        except BaseException:
            self._finish(None, Failure())
            return
        finally:
            bridge._state["cell_code_runs"] = False
        if not isinstance(awaited, Deferred):
            self._step(None, Failure(TypeError(
                f"a cell awaited {awaited!r}, which is not a Twisted Deferred. Cells here run on the Twisted "
                "reactor: await Deferreds and coroutines (for asyncio futures use Deferred.fromFuture).")))
            return
        self.waiting_on = awaited
        awaited.addCallbacks(self._resume, self._resume_failed)

    def _resume(self, value):
        self.waiting_on = None
        self._step(value, None)

    def _resume_failed(self, failure: Failure):
        self.waiting_on = None
        self._step(None, failure)

    def _finish(self, value, failure: Failure | None) -> None:
        self.outcome, self.failure = value, failure
        self.finished.set()
        if self.result.called:  # cancelled: the waiting cell has gone already
            return
        if failure is None:
            self.result.callback(value)
        else:
            self.result.errback(failure)
