"""Where reactor-thread output goes: the waiting cell, else the log of the server whose code printed it.

Promises:

* What reactor-thread code prints (``print``, ``sys.stderr``) or logs (Twisted log events at warning level and
  above, unhandled errors in Deferreds) while a cell waits in :func:`labkit.react` appears in that cell.
* Output that comes later never lands in an unrelated cell: it goes to the :class:`Log` of the practice server
  whose protocol was running (or scheduled the timed call that printed it), else to :data:`background`, the
  reactor's own log.
* Errors are never left where nobody looks: what the reactor thread writes to stderr (unhandled errors,
  exceptions in timed calls, ``sys.exit`` there, a protocol's crash report) goes to the server's log and to the
  cell that waits, else is shown at the end of the cell that runs, else, when no server's log took it, at the
  start of the next cell under a heading that says when it happened.
* Logs are bounded in size (oldest lines dropped first, with a note). Neither logs nor cells are shown
  Jupyter's credentials (cookies, XSRF values, tokens) in what the reactor thread prints.
* Output from any other thread is left alone.
"""

from __future__ import annotations

import contextlib
import functools
import html
import sys
import threading
from collections import deque
from typing import Callable

from labkit.redaction import redact_text
from labkit.tracebacks import failure_text

__all__ = ["Log", "background", "owned", "owner"]

MAX_LOG_CHARS = 200_000  # per log (and per live view of it); past it the oldest lines are dropped
MAX_LIVE_VIEWS = 4  # live views of one log that keep growing (a log displayed again and again)


class Log:
    """A thread-safe text log, bounded in size, that can be shown live in the cell that displays it.

    ``log.text`` is everything kept so far: the newest lines, at most ``MAX_LOG_CHARS`` characters, after a
    note saying how many older lines were dropped, if any were. Jupyter's own cookies and tokens are masked.
    Displaying the log in a notebook shows a live ipywidgets Output that grows as lines arrive (and starts over
    from the kept text when it has grown past the same bound); elsewhere it shows the text.
    """

    def __init__(self, name: str):
        self.name = name
        self._lines: deque[str] = deque()
        self._size = 0  # characters kept in _lines, a newline counted for each
        self._dropped_lines = self._dropped_chars = 0
        self._partial = ""
        self._lock = threading.Lock()
        self._views: list = []
        self._shown = 0  # characters appended to the live views since they last started over
        # False when someone else reports this server's errors (an exercise check, in its box): only the log has them.
        self.errors_shown_in_cell = True

    def write(self, text: str) -> int:
        with self._lock:
            *complete, partial = (self._partial + text).split("\n")
            if len(partial) > MAX_LOG_CHARS:  # a line that never ends still counts
                complete.append(partial)
                partial = ""
            self._partial = partial
            complete = [redact_text(line) for line in complete]
            for line in complete:
                self._lines.append(line)
                self._size += len(line) + 1
            if self._size > MAX_LOG_CHARS:
                self._drop_oldest()
            views, chunk, restart = self._for_views(complete) if self._views and complete else ((), "", False)
        for view in views:
            if restart:
                view.outputs = ()
            view.append_stdout(chunk)
        return len(text)

    def _drop_oldest(self) -> None:
        while self._size > MAX_LOG_CHARS and len(self._lines) > 1:
            line = self._lines.popleft()
            self._size -= len(line) + 1
            self._dropped_lines += 1
            self._dropped_chars += len(line) + 1
        if self._size > MAX_LOG_CHARS:  # one line alone is too long: keep its end
            line = self._lines.pop()
            cut = len(line) - MAX_LOG_CHARS + 100
            self._lines.append(f"[{cut:,} characters cut] " + line[cut:])
            self._size = len(self._lines[0]) + 1
            self._dropped_chars += cut

    def _for_views(self, complete: list[str]):
        """What to append to the live views: the new lines, or all kept text once the views grew too big."""
        chunk = "".join(line + "\n" for line in complete)
        self._shown += len(chunk)
        if self._shown <= MAX_LOG_CHARS:
            return list(self._views), chunk, False
        chunk = "".join(line + "\n" for line in self._kept_lines())
        self._shown = len(chunk)
        return list(self._views), chunk, True

    def _kept_lines(self) -> list[str]:
        note = ([f"[{self._dropped_lines:,} older lines ({self._dropped_chars:,} characters) were dropped to keep "
                 "memory bounded]"] if self._dropped_chars else [])
        return note + list(self._lines)

    def flush(self) -> None:
        pass

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return self._kept_lines() + ([redact_text(self._partial)] if self._partial else [])

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def clear(self) -> None:
        with self._lock:
            self._lines.clear()
            self._partial = ""
            self._size = self._dropped_lines = self._dropped_chars = 0

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
        with self._lock:
            text = "".join(line + "\n" for line in self._kept_lines())
            if text:
                view.append_stdout(text)
            self._views = [*self._views[-(MAX_LIVE_VIEWS - 1):], view]  # older views keep what they show
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
    """Context manager, reactor thread only: output produced inside belongs to ``log`` unless a cell waits
    (errors, written to stderr, go to ``log`` in any case)."""

    __slots__ = ("log", "previous")

    def __init__(self, log: Log):
        self.log = log

    def __enter__(self):
        self.previous, _route["owner"] = _route["owner"], self.log
        return self.log

    def __exit__(self, *exc):
        _route["owner"] = self.previous
        return False


def owned(fn: Callable) -> Callable:
    """Reactor thread: ``fn`` wrapped to run later as part of the current owner's work (a timed call that a
    server's protocol scheduled), so its output and errors reach that server's log; ``fn`` itself if no owner."""
    log = _route["owner"]
    if log is None:
        return fn

    @functools.wraps(fn)
    def run_owned(*args, **kwargs):
        with owner(log):
            try:
                return fn(*args, **kwargs)
            except BaseException:
                from twisted.logger import Logger

                Logger().failure("while handling a timed call")

    return run_owned


def route(stream: str, text: str) -> None:
    """Send reactor-thread output where it belongs (see the module docstring), Jupyter's credentials masked."""
    text = redact_text(text)
    sink, log = _route["wait"], _route["owner"]
    if stream == "stderr":  # errors and warnings: the server's log, and a cell someone looks at
        if log is not None:
            log.write(text)
            if not log.errors_shown_in_cell:  # a check serves this server and reports its errors itself
                return
        if sink is not None:
            sink(("write", (stream, text)))
            return
        if log is None:
            background.write(text)
        _cells.hold(text, log is None)
    elif sink is not None:
        sink(("write", (stream, text)))
    else:
        (log or background).write(text)


class _CellWatch:
    """Errors that happen while no cell waits: shown at the end of the cell that runs, or, when no cell ran
    and no server's log took them, at the start of the next cell, under a heading that says so."""

    DURING = "The reactor thread reported this while the cell ran:\n"
    BETWEEN = "The reactor thread reported this after the previous cell had finished:\n"

    def __init__(self):
        self.watching = False
        self.running = False
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._size = 0
        self.diverted: Callable[[str], None] | None = None  # see divert_cell_errors

    def watch(self) -> None:
        """Follow IPython's cells (a no-op outside IPython)."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        shell = get_ipython()
        if shell is None or self.watching:
            return
        shell.events.register("pre_run_cell", self._cell_starts)
        shell.events.register("post_run_cell", self._cell_ends)
        self.watching = True
        self.running = True  # the reactor starts on a cell's first wait: that cell runs now

    def hold(self, text: str, unseen: bool) -> None:
        if self.diverted is not None and self.running:
            self.diverted(text)
            return
        if not self.watching or not (self.running or unseen):
            return
        with self._lock:
            if self._size > MAX_LOG_CHARS:  # bounded: the log keeps the rest
                return
            self._pending.append((self.DURING if self.running else self.BETWEEN, text))
            self._size += len(text)

    def _cell_starts(self, *_) -> None:
        self._show()
        self.running = True

    def _cell_ends(self, *_) -> None:
        self.running = False
        self._show()

    def _show(self) -> None:
        with self._lock:
            pending, self._pending, self._size = self._pending, [], 0
        heading = None
        for this_heading, text in pending:
            if this_heading != heading:
                heading = this_heading
                sys.stderr.write(heading)
            sys.stderr.write(text)


_cells = _CellWatch()


@contextlib.contextmanager
def divert_cell_errors(collect: Callable[[str], None]):
    """While inside, errors the reactor thread reports during the running cell go to ``collect`` instead of under
    the cell (an exercise check decides what of them to show: a graded cell that prints to stderr scores nothing).
    The logs still get them."""
    previous, _cells.diverted = _cells.diverted, collect
    try:
        yield
    finally:
        _cells.diverted = previous


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
    from twisted.logger import LogLevel, formatEvent, formatEventAsClassicLogText

    text = formatEventAsClassicLogText(event, formatTime=lambda _: "")
    if not text:
        return
    text = text.lstrip()
    if text.startswith("[") and "] " in text:  # drop the "[system#level]" prefix; keep the message
        text = text.split("] ", 1)[1]
    failure = event.get("log_failure")
    if failure is not None:  # Twisted's own traceback runs through its plumbing and this machine's folders
        text = failure_text(failure, formatEvent(event))
    elif event.get("failure") is not None:  # the same, logged the old way (twisted.python.log.err)
        failure = event["failure"]
        text = failure_text(failure, event.get("why") or "Unhandled Error")
    serious = event.get("log_level", LogLevel.info) >= LogLevel.warn or failure is not None
    if not _installed["in_reactor"]():
        if serious:
            sys.stderr.write(redact_text(text))
        return
    if failure is not None and failure.check(SystemExit):
        text += ("sys.exit() was called on the reactor thread. In a notebook it ends nothing: the reactor and "
                 "the kernel go on. To end a main(), return from it; to stop a server, call its .stop().\n")
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
    _cells.watch()
    from twisted.logger import globalLogBeginner

    globalLogBeginner.beginLoggingTo([_log_observer], discardBuffer=True, redirectStandardIO=False)
