"""What the reactor thread runs while it does not answer: named in the error of a wait that timed out
(:class:`labkit.bridge.ReactorBlocked`), so a learner sees which of their lines blocks it."""

from __future__ import annotations

import sys
import traceback

from labkit.compat import call_the_reactor_loop_makes

__all__ = ["describe", "running_on_reactor"]


def describe(fn) -> str:
    """A function's name as a learner wrote it (its qualified name), or its repr."""
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _plumbing(filename: str) -> bool:
    path = filename.replace("\\", "/")
    return "/twisted/" in path or path.endswith(("/labkit/bridge.py", "/labkit/guards.py", "/labkit/output.py",
                                                 "/threading.py"))


def running_on_reactor(ident: int | None) -> str:
    """What the thread ``ident`` (the reactor's) runs now: its own code's innermost frames, and the call Twisted
    made into it; empty if the thread is gone."""
    frame = sys._current_frames().get(ident)
    if frame is None:
        return ""
    lines = []
    for entry in [f for f in traceback.extract_stack(frame) if not _plumbing(f.filename)][-3:]:
        lines.append(f'  File "{entry.filename}", line {entry.lineno}, in {entry.name}')
        if entry.line:
            lines.append(f"    {entry.line}")
    called = call_the_reactor_loop_makes(frame)
    if called:
        fn, args = called
        shown = ", ".join(repr(arg) for arg in args)
        shown = shown if len(shown) <= 80 else shown[:80] + "..."
        lines.append(f"  Twisted is running the call {describe(fn)}({shown})")
    return "\nRunning there now:\n" + "\n".join(lines) if lines else ""
