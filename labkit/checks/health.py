"""Did the learner's code raise where no caller sees it, and is it written yet?

A protocol's methods run inside the reactor: an exception there closes the connection and is only logged, so
the code that waits sees an empty answer or nothing at all. This module reads a served server's log for such
exceptions and turns them into a check's verdict (:mod:`labkit.checks.calls` does the same for the learner's own
call, at once).

Promises:

* :func:`unwritten` and :func:`server_health` read a served server's log (and other captured output) for an
  exception: an unwritten stub becomes the check's problem, any other exception a failed expectation with a
  hint; :func:`logged_error` names the first exception in such text.
"""

from __future__ import annotations

import re

from labkit.checks.check import NOT_WRITTEN

__all__ = ["logged_error", "server_health", "unwritten"]

_ERROR_LINE = re.compile(r"(?:raised |^\s*(?:builtins\.)?)([A-Za-z_][\w.]*(?:Error|Exception))(?::\s*(.*))?$", re.M)


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
