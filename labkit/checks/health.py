"""Did the learner's code raise where no caller sees it, and is it written yet?

A protocol's methods run inside the reactor: an exception there closes the connection and is only logged, so
the code that waits sees an empty answer or nothing at all. This module turns those exceptions into a check's
verdict, at once, without raw tracebacks in the cell.

Promises:

* :func:`run_watched` runs the learner's ``main(reactor, ...)`` like :func:`labkit.react`, bounded; an exception
  the learner's code raises inside the reactor that Twisted only logs (a client protocol's ``connectionMade``,
  say) ends the wait at once and is raised from here, so an unwritten stub says "not written yet" at once.
  Its logged traceback stays out of the cell; anything else printed meanwhile is passed on.
* :func:`unwritten` and :func:`server_health` read a served server's log (and other captured output) for an
  exception: an unwritten stub becomes the check's problem, any other exception a failed expectation with a
  hint; :func:`logged_error` names the first exception in such text.
"""

from __future__ import annotations

import gc
import os
import re
import sysconfig

from twisted.internet import defer
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from labkit.bridge import in_reactor_thread, react
from labkit.checks.check import NOT_WRITTEN
from labkit.checks.quiet import tracebacks_left_out

__all__ = ["logged_error", "run_watched", "server_health", "unwritten"]

_ERROR_LINE = re.compile(r"(?:raised |^\s*(?:builtins\.)?)([A-Za-z_][\w.]*(?:Error|Exception))(?::\s*(.*))?$", re.M)


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


def run_watched(main, *args, timeout: float):
    """``labkit.react(main, *args, timeout=timeout)``, but an exception that the learner's code raises inside
    the reactor and Twisted only logs ends the wait at once and is raised here.

    Garbage is collected first: a Deferred that failed earlier with nobody to handle it is reported when it is
    collected, which could otherwise happen during this call, and its error be taken for this call's."""
    caught: list[Failure] = []
    gc.collect()

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


def logged_error(*texts: str, ignore: tuple[str, ...] = ()) -> str:
    """The first exception named in a server's log (or other captured output), as ``Name: message``; kinds in
    ``ignore`` (errors the check provoked on purpose) do not count."""
    for text in texts:
        if "NotImplementedError" in text:
            return "NotImplementedError"
        for found in _ERROR_LINE.finditer(text):
            name = found.group(1).rsplit(".", 1)[-1]
            if name not in ignore:
                return f"{name}: {found.group(2)}" if found.group(2) else name
    return ""


def unwritten(check, server, *captured: str) -> bool:
    """True (and the check's problem says so) when the learner's stub raised NotImplementedError in the server
    or in ``captured`` output: the rest of the check would only repeat it."""
    if "NotImplementedError" in server.log.text or any("NotImplementedError" in text for text in captured):
        check.problem = NOT_WRITTEN
        return True
    return False


def server_health(check, server, *captured: str, hint: str = "", expected: tuple[str, ...] = ()) -> str:
    """Record that the server's log shows no exception (other than the ``expected`` kinds); an unwritten stub
    becomes the check's problem. Returns the exception found, as ``Name: message``, or ``""``."""
    error = logged_error(server.log.text, *captured, ignore=expected)
    if error == "NotImplementedError":
        check.problem = NOT_WRITTEN
        return error
    if "has no attribute 'children'" in error:
        hint = ("a Resource subclass with its own __init__ must call super().__init__(), which makes its "
                "children dictionary")
    hint = hint or f"the server raised {error}; its log (server.log) has the traceback"
    check.expect("the server's log shows no exception", "no exception", error or "no exception", hint=hint)
    return error
