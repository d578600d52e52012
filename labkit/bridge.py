"""The bridge: one Twisted reactor in a background thread, and bounded, interruptible waits for notebook cells.

Promises:

* The reactor starts on first use, in one daemon thread per process, without signal handlers, and stops when
  the process exits (kernel shutdown or restart) through its real ``stop``, so "before shutdown" triggers
  (practice servers register theirs) run and are waited for.
* :func:`react` runs ``main(reactor, *args)`` on the reactor thread, like ``twisted.internet.task.react``, and
  blocks the calling cell until the result is there: a plain value, a Deferred's result or a coroutine's.
  Errors come back as the original exception, with the reactor-side frames attached as a note.
* Every wait ends: on time-out the work is cancelled and :class:`LabTimeout` says what was waited for and how
  to allow more time; on the kernel's interrupt button the work is cancelled and ``KeyboardInterrupt`` is
  raised at once. A reactor thread that stopped answering (code on it blocks) is named as the cause,
  :class:`ReactorBlocked`, with what runs there, rather than blamed on a server.
* A cell with top-level ``await`` runs on the reactor thread, bounded the same way (see :mod:`labkit.cells`).
* Book-style mistakes do not kill the shared reactor: see :mod:`labkit.guards`.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from types import CoroutineType, GeneratorType
from typing import Any, Callable

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from labkit import output
from labkit.blocked import describe, running_on_reactor

__all__ = ["LabTimeout", "ReactorBlocked", "ReactorThreadError", "blocking", "get_reactor", "in_reactor_thread",
           "react", "run_in_reactor", "set_timeout", "shutdown", "wait"]

_settings = {"timeout": 10.0}
_start_lock = threading.Lock()
_state: dict[str, Any] = {"reactor": None, "thread": None, "ident": None, "real_stop": None, "running": False,
                         "cell_code_runs": False}  # the last: a cell with top-level await runs its code now

# What the reactor thread posts to a waiting cell: (_RESULT, value), (_FAILURE, failure), (_CANCELLED, None) once
# a cancel is carried out, or output items from labkit.output, ("write", (stream, text)) and ("flush", event).
_RESULT, _FAILURE, _CANCELLED = object(), object(), object()


class LabTimeout(TimeoutError):
    """A wait ran past its time limit; the work it waited for has been cancelled."""


class ReactorBlocked(LabTimeout):
    """A wait ran past its time limit because the reactor thread was busy running something that blocks it."""


class ReactorThreadError(RuntimeError):
    """A blocking helper was called on the reactor thread, where it would wait for itself forever."""


def set_timeout(seconds: float) -> float:
    """Set the default time limit of every wait (react, blocking helpers, awaited cells); returns the old one."""
    if not seconds > 0:
        raise ValueError(f"the time limit must be a positive number of seconds, not {seconds!r}")
    old, _settings["timeout"] = _settings["timeout"], float(seconds)
    return old


def in_reactor_thread() -> bool:
    """True when called from the reactor's own thread."""
    return threading.get_ident() == _state["ident"]


def get_reactor():
    """Return the shared reactor, starting its background thread on first use."""
    if _state["running"]:  # the hot path: one dict lookup
        return _state["reactor"]
    with _start_lock:
        if _state["reactor"] is None:
            _start()
        elif not _state["thread"].is_alive():
            raise RuntimeError("The shared reactor has stopped (labkit.bridge.shutdown() ran, or the process is "
                               "exiting). Restart the kernel to get a fresh one.")
    return _state["reactor"]


def _start() -> None:
    from twisted.internet import reactor

    from labkit import guards

    if reactor.running:
        raise RuntimeError("A Twisted reactor is already running in this process outside labkit; "
                           "labkit cannot share it. Restart the kernel and import labkit first.")
    running = threading.Event()
    reactor.callWhenRunning(running.set)
    thread = threading.Thread(target=_run_reactor, args=(reactor,), name="labkit-reactor", daemon=True)
    thread.start()
    if not running.wait(10):
        raise RuntimeError("The reactor thread did not start within 10 s.")
    _state.update(reactor=reactor, thread=thread, ident=thread.ident, real_stop=reactor.stop, running=True)
    output.install(in_reactor_thread)
    guards.install(reactor, in_reactor_thread, run_in_reactor)
    _register_exit_hook()


def _run_reactor(reactor) -> None:
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        _state["running"] = False


def _register_exit_hook() -> None:
    # threading._register_atexit runs before the interpreter joins non-daemon threads (Twisted's thread pool),
    # which plain atexit does not: without it a kernel with a busy thread pool could hang on shutdown.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(shutdown)
    else:  # pragma: no cover - every supported Python has it
        import atexit

        atexit.register(shutdown)


def shutdown(timeout: float = 1.5) -> bool:
    """Stop the reactor the way a program's reactor stops: its "before shutdown" triggers run first (that is
    where practice servers stop) and are waited for, then the thread ends. Return True if it ended within
    ``timeout`` seconds."""
    reactor, thread = _state["reactor"], _state["thread"]
    if reactor is None or not thread.is_alive():
        return True

    def stop():
        from twisted.internet.error import ReactorNotRunning

        try:
            _state["real_stop"]()
        except ReactorNotRunning:  # stopping already
            pass

    reactor.callFromThread(stop)
    thread.join(timeout)
    return not thread.is_alive()


MORE_TIME = "to allow more time, pass timeout=SECONDS (or set it for every wait with labkit.set_timeout(SECONDS))"
BUSY_PROBE = 0.5  # seconds the reactor gets to answer, once a wait has timed out, before it is called blocked


def _wait(what: str, fn: Callable, args: tuple, kwargs: dict, timeout: float | None, follow: bool = True,
          more_time: str = MORE_TIME, stopping: Callable[[BaseException], None] | None = None):
    """Run ``fn(*args, **kwargs)`` on the reactor thread and block until its result (see the module docstring).

    With ``follow`` the result is followed through Deferreds and coroutines; without, it is returned as is.
    ``what`` names the wait in errors; ``{fn}`` in it is filled in only then (this path is hot). ``more_time``
    says how to allow more time; ``stopping`` is told the exception (time-out or interrupt) before the work is
    cancelled.
    """
    __tracebackhide__ = True
    if threading.get_ident() == _state["ident"]:
        raise ReactorThreadError(_on_reactor_thread(what.format(fn=describe(fn))))
    reactor = _state["reactor"] if _state["running"] else get_reactor()
    limit = _settings["timeout"] if timeout is None else timeout
    inbox = queue.SimpleQueue()
    put = inbox.put
    pending: list[Deferred] = []

    def start():
        try:
            result = fn(*args, **kwargs)
            if follow and result is not None:
                if isinstance(result, (CoroutineType, GeneratorType)):
                    result = Deferred.fromCoroutine(result)
                if isinstance(result, Deferred):
                    pending.append(result)
                    result.addCallbacks(lambda r: put((_RESULT, r)), lambda f: put((_FAILURE, f)))
                    return
            put((_RESULT, result))
        except BaseException:
            put((_FAILURE, Failure()))

    previous = output.begin_wait(put)
    try:
        deadline = time.monotonic() + limit
        reactor.callFromThread(start)
        remaining = limit
        while True:
            if remaining <= 0:
                problem = _timed_out(reactor, what.format(fn=describe(fn)), limit, more_time)
                if stopping is not None:
                    stopping(problem)
                _cancel(reactor, pending, inbox)
                raise problem
            try:
                kind, value = inbox.get(timeout=remaining)
            except queue.Empty:
                remaining = 0
                continue
            if kind is _RESULT:
                return value
            if kind is _FAILURE:
                raise _readable(value)
            output.deliver(kind, value)  # something the reactor printed: show it here, keep waiting
            remaining = deadline - time.monotonic()
    except KeyboardInterrupt as interrupt:
        if stopping is not None:
            stopping(interrupt)
        _cancel(reactor, pending, inbox)
        raise
    finally:
        output.end_wait(previous)


def _on_reactor_thread(what: str) -> str:
    if _state["cell_code_runs"]:
        return (f"{what} was called in a cell that uses top-level `await`: all of such a cell runs on the reactor "
                "thread, where this would wait for itself forever. Call it in a cell of its own, without await "
                "(before this one), or await a Deferred here instead.")
    return (f"{what} was called on the reactor thread, where it would wait for itself forever. Inside reactor "
            "code (a callback, a protocol, an async def run by react), return the Deferred or `await` it instead.")


def _timed_out(reactor, what: str, limit: float, more_time: str) -> LabTimeout:
    """The error for a wait that ran out of time: the reactor named as the cause if it does not answer."""
    if not _state["thread"].is_alive():
        return LabTimeout(f"{what} did not finish: the shared reactor has stopped (labkit.bridge.shutdown() ran, "
                          "or the process is exiting). Restart the kernel to get a fresh one.")
    answered = threading.Event()
    reactor.callFromThread(answered.set)
    if answered.wait(BUSY_PROBE):
        return LabTimeout(f"{what} did not finish within {limit:g} s, so it was cancelled. If it waits on a server, "
                          f"check that the server runs (labkit.running_servers()) and that host and port are right; "
                          f"{more_time}.")
    return ReactorBlocked(
        f"{what} did not finish within {limit:g} s because the reactor thread is busy: code running on it has "
        "not returned, so no server, client or timer in this kernel can run until it does."
        f"{running_on_reactor(_state['ident'])}\n"
        "Code on the reactor thread must never block: use task.deferLater instead "
        "of time.sleep, and Twisted's clients instead of blocking ones. If it never returns, restart the kernel.")


def _cancel(reactor, pending: list[Deferred], inbox: queue.SimpleQueue) -> None:
    """Cancel the Deferred being waited for and let its outcome land, so no 'Unhandled error' shows up later."""

    def cancel():
        try:
            for d in pending:
                d.addErrback(lambda f: f.trap(CancelledError))
                d.cancel()
        finally:
            inbox.put((_CANCELLED, None))

    reactor.callFromThread(cancel)
    # Keep showing what the reactor prints while it cancels (and answer its flushes, which wait for this
    # thread), until the cancel is done or a short limit passes; then drop the outcome.
    deadline = time.monotonic() + 0.3
    while (left := deadline - time.monotonic()) > 0:
        try:
            kind, value = inbox.get(timeout=left)
        except queue.Empty:
            return
        if kind is _CANCELLED:
            break
        if kind is not _RESULT and kind is not _FAILURE:
            output.deliver(kind, value)
    while True:
        try:
            kind, value = inbox.get_nowait()
        except queue.Empty:
            return
        if kind is not _RESULT and kind is not _FAILURE and kind is not _CANCELLED:
            output.deliver(kind, value)


_INTERNAL = ("/twisted/internet/defer.py", "/twisted/python/failure.py", "/twisted/internet/base.py",
             "/twisted/python/context.py", "/twisted/python/log.py", "/labkit/bridge.py", "/labkit/guards.py")


def _readable(failure: Failure) -> BaseException:
    """The failure's exception, with the reactor-side frames (Twisted's plumbing left out) as a note."""
    exc = failure.value
    frames = [f for f in failure.frames if not f[1].replace("\\", "/").endswith(_INTERNAL)]
    if frames and not getattr(exc, "_labkit_noted", False):
        import linecache

        lines = ["Raised on the reactor thread (Twisted's own frames left out):"]
        for name, filename, lineno, *_ in frames:
            lines.append(f'  File "{filename}", line {lineno}, in {name}')
            source = linecache.getline(filename, lineno).strip()
            if source:
                lines.append(f"    {source}")
        exc.add_note("\n".join(lines))
        try:
            exc._labkit_noted = True
        except AttributeError:
            pass
    return exc.with_traceback(None)


def react(main: Callable, *args, timeout: float | None = None):
    """Run ``main(reactor, *args)`` on the reactor thread and return its result: the notebook twin of
    ``twisted.internet.task.react``.

    ``main`` may return a plain value, a Deferred or a coroutine. The cell blocks until the result is there,
    at most ``timeout`` seconds (default: :func:`set_timeout`); the exception ``main`` ended with is re-raised.
    """
    __tracebackhide__ = True
    return _wait("react({fn})", main, (get_reactor(), *args), {}, timeout)


def run_in_reactor(fn: Callable, *args, timeout: float | None = None, **kwargs):
    """Call ``fn(*args, **kwargs)`` on the reactor thread and return exactly what it returned (no following of
    Deferreds): the way reactor methods called from a cell are carried over to the reactor thread."""
    __tracebackhide__ = True
    if threading.get_ident() == _state["ident"]:
        return fn(*args, **kwargs)
    return _wait("{fn}", fn, args, kwargs, timeout, follow=False)


def blocking(fn: Callable | None = None, *, timeout: float | None = None):
    """Decorator: calling the function from a cell runs it on the reactor thread and blocks for its result.

    The decorated function may return a value, a Deferred or a coroutine (so ``async def`` works). Use it for
    helpers that cells call like ordinary functions (the role of crochet's ``wait_for``)::

        @labkit.blocking(timeout=5)
        def fetch(url):
            return treq.get(url).addCallback(treq.text_content)
    """
    if fn is None:
        return functools.partial(blocking, timeout=timeout)

    what = describe(fn).replace("{", "{{").replace("}", "}}") + "()"

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        __tracebackhide__ = True
        return _wait(what, fn, args, kwargs, timeout)

    wrapper.run_in_reactor = fn
    return wrapper


def wait(deferred_or_coroutine, *, timeout: float | None = None):
    """Block this cell until a Deferred fires (or a coroutine ends) and return its result, at most ``timeout``
    seconds (default: :func:`set_timeout`): ``labkit.wait(d, timeout=30)`` is ``await d`` with a time limit of
    its own. Like every wait here it is interruptible, and on time-out the work is cancelled."""
    __tracebackhide__ = True
    thing = deferred_or_coroutine
    if not isinstance(thing, (Deferred, CoroutineType, GeneratorType)):
        raise TypeError(f"labkit.wait() waits for a Deferred or a coroutine, not {thing!r}. To run a function "
                        "on the reactor and wait for what it returns, use labkit.react(main).")
    what = f"labkit.wait({describe(thing)})".replace("{", "{{").replace("}", "}}")
    return _wait(what, lambda: thing, (), {}, timeout)


