"""Where labkit leans on how Twisted is built rather than on its public API: each use here, with what it works
around; ``tests/test_labkit_compat.py`` fails, naming the function, when a Twisted release changes it.

Nothing else in ``labkit`` (``labkit.chapters`` and ``labkit.checks`` included) may use a private Twisted name
or read Twisted's own frames.
"""

from __future__ import annotations

from types import FrameType
from typing import Any, Callable

__all__ = ["call_the_reactor_loop_makes"]


def call_the_reactor_loop_makes(frame: FrameType) -> tuple[Callable, tuple[Any, ...]] | None:
    """The function and arguments the reactor's loop is calling, when ``frame`` (the reactor thread's innermost)
    is that loop; None otherwise.

    Works around: a function without Python frames of its own (``time.sleep``, a C call) that blocks the reactor
    leaves ``ReactorBase.runUntilCurrent`` in ``twisted/internet/base.py`` as the innermost frame, and Twisted
    offers no way to ask which call it runs. This reads that frame's locals by the source line it stops at: a
    timed call (``call.func(*call.args, **call.kw)``, the local ``call`` a ``DelayedCall``) or a call carried over
    from another thread (``f(*a, **kw)``, the locals ``f`` and ``a``). No Twisted ticket asks for such an API.
    """
    if not frame.f_code.co_filename.replace("\\", "/").endswith("/twisted/internet/base.py"):
        return None
    import linecache

    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
    names = frame.f_locals
    if "call.func(" in line and "call" in names:
        return names["call"].func, tuple(names["call"].args)
    if "f(*a" in line and "f" in names:
        return names["f"], tuple(names.get("a", ()))
    return None
