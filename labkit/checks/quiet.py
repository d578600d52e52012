"""Reactor output without the tracebacks of errors a check reports itself.

When the learner's code raises inside the reactor, Twisted logs the error with a long traceback through its
own plumbing; a check that names the error in its box (see :mod:`labkit.checks.health`) would show it twice,
the second time as twenty lines of noise.

Promise: inside :func:`tracebacks_left_out`, what the reactor prints is held back; at the end it is passed on to
the cell, with every traceback cut out when ``reported()`` is true, untouched otherwise.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys

__all__ = ["tracebacks_left_out"]

_TRACEBACK = re.compile(r"^Unhandled Error\n(?:\t.*(?:\n|$))*"  # Twisted's log.err: every line tab-indented
                        r"|^Traceback \(most recent call last\):\n(?:(?:[ \t].*|--- .* ---)\n)*\S.*(?:\n|$)", re.M)


@contextlib.contextmanager
def tracebacks_left_out(reported):
    """Hold back what is printed inside; pass it on at the end, without tracebacks if ``reported()``."""
    printed, errors = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
            yield
    finally:
        sys.stdout.write(printed.getvalue())
        sys.stderr.write(_TRACEBACK.sub("", errors.getvalue()) if reported() else errors.getvalue())
