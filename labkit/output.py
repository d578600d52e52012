"""Where reactor-thread output goes: the waiting cell, else the log of the server whose code printed it.

Promises:

* What reactor-thread code prints (``print``, ``sys.stderr``) or logs (Twisted log events at warning level and
  above, unhandled errors in Deferreds) while a cell waits in :func:`labkit.react` appears in that cell.
* Output that comes later never lands in an unrelated cell: it goes to the :class:`Log` of the practice server
  whose protocol was running, else to :data:`background`, the reactor's own log.
* Output from any other thread is left alone.
"""

from __future__ import annotations

import html
import sys
import threading
from collections import deque
from typing import Callable

__all__ = ["Log", "background", "owner"]

MAX_LOG_LINES = 2000


class Log:
    """A bounded, thread-safe text log that can be shown live in the cell that displays it.

    ``log.text`` is everything kept so far (the last ``MAX_LOG_LINES`` lines). Displaying the log in a
    notebook shows a live ipywidgets Output that grows as lines arrive; elsewhere it shows the text.
    """

    def __init__(self, name: str):
        self.name = name
        self._lines: deque[str] = deque(maxlen=MAX_LOG_LINES)
        self._partial = ""
        self._lock = threading.Lock()
        self._views: list = []

    def write(self, text: str) -> int:
        with self._lock:
            text = self._partial + text
            *complete, self._partial = text.split("\n")
            self._lines.extend(complete)
            views = list(self._views)
        for view in views:
            view.append_stdout("".join(line + "\n" for line in complete))
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines) + ([self._partial] if self._partial else [])

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
            self._partial = ""

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Log {self.name!r}: {len(self.lines)} lines>"

    def live_view(self):
        """An ipywidgets Output showing this log, updated as lines arrive (None without ipywidgets)."""
        try:
            import ipywidgets
        except ImportError:  # pragma: no cover - ipywidgets is a dependency
            return None
        view = ipywidgets.Output(layout={"max_height": "16em", "overflow": "auto", "border": "1px solid #ddd"})
        text = "".join(line + "\n" for line in self.lines)
        if text:
            view.append_stdout(text)
        with self._lock:
            self._views.append(view)
        return view

    def _repr_html_(self) -> str:
        body = html.escape(self.text) or "(empty)"
        return f"<details><summary>log of {html.escape(self.name)}</summary><pre>{body}</pre></details>"


background = Log("the reactor")
"""Reactor-thread output that belongs to no waiting cell and no practice server."""

_route = {"wait": None, "owner": None}
_installed = {"done": False, "in_reactor": lambda: False}


def begin_wait(sink: Callable[[tuple], None]):
    """A cell starts waiting: reactor-thread output goes to ``sink(item)``, to be handed to :func:`deliver` on
    the cell's thread. Returns what to restore with :func:`end_wait`."""
    _wrap_standard_streams()
    previous, _route["wait"] = _route["wait"], sink
    return previous


def end_wait(previous) -> None:
    _route["wait"] = previous


def deliver(kind: str, value) -> None:
    """On the cell's thread: write what the reactor thread printed to this thread's ``sys.stdout`` or
    ``sys.stderr`` (so redirections in the cell apply), or answer a flush."""
    if kind == "write":
        stream, text = value
        getattr(sys, stream).write(text)
    else:
        sys.stdout.flush()
        sys.stderr.flush()
        value.set()


def _sync_flush(sink: Callable[[tuple], None]) -> None:
    # A flush on the reactor thread waits until the cell's thread has written everything queued before it, so
    # output and results published right after (IPython's display hook flushes first) keep their order.
    flushed = threading.Event()
    sink(("flush", flushed))
    flushed.wait(1.0)


class owner:
    """Context manager, reactor thread only: output produced inside belongs to ``log`` unless a cell waits."""

    __slots__ = ("log", "previous")

    def __init__(self, log: Log):
        self.log = log

    def __enter__(self):
        self.previous, _route["owner"] = _route["owner"], self.log
        return self.log

    def __exit__(self, *exc):
        _route["owner"] = self.previous
        return False


def route(stream: str, text: str) -> None:
    """Send reactor-thread output where it belongs (see the module docstring)."""
    sink = _route["wait"]
    if sink is not None:
        sink(("write", (stream, text)))
    else:
        (_route["owner"] or background).write(text)


class _ReactorThreadStream:
    """Stands in for sys.stdout / sys.stderr: the reactor thread's writes are routed, others pass through."""

    def __init__(self, name: str, inner):
        self._name = name
        self._inner = inner

    def write(self, text: str) -> int:
        if _installed["in_reactor"]():
            route(self._name, text)
            return len(text)
        return self._inner.write(text)

    def flush(self) -> None:
        if not _installed["in_reactor"]():
            self._inner.flush()
        elif _route["wait"] is not None:
            _sync_flush(_route["wait"])

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _log_observer(event: dict) -> None:
    """Show Twisted log events: warnings and errors where they belong (see :func:`route`), the rest in
    :data:`background`."""
    from twisted.logger import LogLevel, formatEventAsClassicLogText

    text = formatEventAsClassicLogText(event, formatTime=lambda _: "")
    if not text:
        return
    text = text.lstrip()
    if text.startswith("[") and "] " in text:  # drop the "[system#level]" prefix; keep the message
        text = text.split("] ", 1)[1]
    serious = event.get("log_level", LogLevel.info) >= LogLevel.warn or "log_failure" in event
    if not _installed["in_reactor"]():
        if serious:
            sys.stderr.write(text)
        return
    if serious:
        route("stderr", text)
    else:  # Twisted's chatter ("... starting on 8080") stays out of cells and server logs
        background.write(text)


def _wrap_standard_streams() -> None:
    """Put the router in front of sys.stdout and sys.stderr, again if something replaced them since."""
    if not isinstance(sys.stdout, _ReactorThreadStream):
        sys.stdout = _ReactorThreadStream("stdout", sys.stdout)
    if not isinstance(sys.stderr, _ReactorThreadStream):
        sys.stderr = _ReactorThreadStream("stderr", sys.stderr)


def install(in_reactor: Callable[[], bool]) -> None:
    """Route the reactor thread's prints and Twisted's log events (called once, when the reactor starts)."""
    if _installed["done"]:
        return
    _installed.update(done=True, in_reactor=in_reactor)
    _wrap_standard_streams()
    from twisted.logger import globalLogBeginner

    globalLogBeginner.beginLoggingTo([_log_observer], discardBuffer=True, redirectStandardIO=False)
