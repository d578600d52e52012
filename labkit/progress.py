"""Download progress: a live bar in JupyterLab, a few lines of text anywhere else.

Promises:

* :class:`Progress` counts bytes: ``bar = Progress(total=None or N, label="...")``, then ``bar.update(nbytes)``
  for every piece, and ``bar.done()`` or ``bar.fail(reason)`` at the end. Every method may be called from any
  thread, the reactor's included.
* In a Jupyter kernel it shows an ipywidgets progress bar with a label (bytes so far, the total when it is known,
  the rate), redrawn at most about ten times a second and always at the end. With no known total the bar is
  drawn full in the "info" style and the byte counter grows; at the end it turns green (done) or red (failed).
* Anywhere else (a program in a terminal, a test) it prints lines of text: one each time another tenth of a
  known total has arrived, or, with no known total, each time the count passes 64 KiB, 128 KiB, 256 KiB ...;
  and one at the end. No cursor tricks, so the lines read the same in a terminal, a log or a notebook.
* What it prints and its plain-text form depend only on byte counts, never on timing: at the end
  ``str(bar)`` is, for example, ``download: downloaded 262,144 of 262,144 bytes``. The rate is shown only in
  the live bar (and in :attr:`Progress.rate`).
* :class:`ProgressProtocol` is a body consumer for ``response.deliverBody``; :func:`collect` wraps it for an
  ``IResponse`` from ``Agent`` or treq and fires with the :class:`Progress` when the body is complete.
"""

from __future__ import annotations

import html
import sys
import threading
import time

from twisted.internet import defer, protocol
from twisted.python.failure import Failure

__all__ = ["Progress", "ProgressProtocol", "collect"]

#: Seconds between two redraws of the live bar (the last one is always drawn).
REDRAW_INTERVAL = 0.1
#: With no known total, text lines are printed when the count passes this many bytes, then twice as many, ...
FIRST_MILESTONE = 64 * 1024


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        return False
    return True


def _rate(nbytes: float, seconds: float) -> str:
    if seconds <= 0:
        return ""
    speed = nbytes / seconds
    for unit in ("B/s", "KB/s", "MB/s", "GB/s"):
        if speed < 1000 or unit == "GB/s":
            return f"{speed:,.0f} {unit}" if unit == "B/s" else f"{speed:,.1f} {unit}"
        speed /= 1000
    return ""  # pragma: no cover


def describe(reason) -> str:
    """A short readable reason: the exception's type and message, with the inner reasons of Twisted's
    ``ResponseFailed`` and ``ResponseNeverReceived`` spelled out."""
    if isinstance(reason, Failure):
        reason = reason.value
    if isinstance(reason, str):
        return reason
    inner = getattr(reason, "reasons", None)
    if inner:
        return f"{type(reason).__name__} ({'; '.join(describe(r) for r in inner)})"
    message = str(reason)
    return f"{type(reason).__name__}: {message}" if message else type(reason).__name__


class Progress:
    """Bytes received so far, shown live (see the module docstring).

    ``total`` is the expected size in bytes, or None when the server did not say (``response.length`` is
    ``UNKNOWN_LENGTH``). ``mode`` is ``"widget"``, ``"text"`` or ``"quiet"``; by default a widget in a Jupyter
    kernel and text elsewhere. Text goes to ``stream`` (standard output by default).
    """

    def __init__(self, total: int | None = None, label: str = "download", *, mode: str | None = None,
                 stream=None, show: bool = True):
        if total is not None and (not isinstance(total, int) or total < 0):
            raise ValueError(f"total must be a number of bytes (an int >= 0) or None, not {total!r}; "
                             "for a response, pass None when response.length is UNKNOWN_LENGTH")
        if mode is None:
            mode = "widget" if _in_kernel() else "text"
        if mode not in ("widget", "text", "quiet"):
            raise ValueError(f"mode must be 'widget', 'text' or 'quiet', not {mode!r}")
        self.total = total
        self.label = label
        self.mode = mode
        self.stream = stream
        self.received = 0
        self.updates = 0
        self.finished = False
        self.failed: str | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._printed_tenths = 0
        self._next_milestone = FIRST_MILESTONE
        self._widget = None
        if mode == "widget":
            self._make_widget()
            if show:
                self.show()

    # --- counting ------------------------------------------------------------------------------------------

    def update(self, nbytes: int) -> None:
        """Count ``nbytes`` more bytes received."""
        lines = []
        with self._lock:
            if self.finished:
                return
            self.received += nbytes
            self.updates += 1
            if self.mode == "text":
                lines = self._milestones()
            now = time.monotonic()
            draw = self._widget is not None and now - self._last_draw >= REDRAW_INTERVAL
            if draw:
                self._last_draw = now
        for line in lines:
            self._print(line)
        if draw:
            self._draw()

    def done(self) -> Progress:
        """The body is complete: show the final count. Returns the Progress."""
        return self._end(None)

    def fail(self, reason) -> Progress:
        """The body did not arrive completely (``reason``: a Failure, an exception or a string)."""
        return self._end(describe(reason))

    def _end(self, failed: str | None) -> Progress:
        with self._lock:
            if self.finished:
                return self
            self.finished = True
            self.failed = failed
            self.ended = time.monotonic()
        if self.mode == "text":
            self._print(str(self))
        self._draw()
        return self

    def _milestones(self) -> list[str]:
        lines = []
        if self.total:
            tenths = min(9, self.received * 10 // self.total)  # 100% is the final line's
            while self._printed_tenths < tenths:
                self._printed_tenths += 1
                lines.append(self._prefix(f"{self._printed_tenths * 10}% of {self.total:,} bytes"))
        elif self.total is None:
            while self.received >= self._next_milestone:
                lines.append(self._prefix(f"at least {self._next_milestone:,} bytes so far"))
                self._next_milestone *= 2
        return lines

    # --- what it says -------------------------------------------------------------------------------------

    @property
    def elapsed(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        """Bytes per second so far (timing-dependent: for showing, not for comparing)."""
        elapsed = self.elapsed
        return self.received / elapsed if elapsed > 0 else 0.0

    @property
    def summary(self) -> str:
        """Byte counts only, so it reads the same on every run with the same data."""
        of = f" of {self.total:,}" if self.total is not None else ""
        if self.failed is not None:
            return f"failed after {self.received:,}{of} bytes: {self.failed}"
        if self.finished:
            return f"downloaded {self.received:,}{of} bytes"
        return f"{self.received:,}{of} bytes so far"

    def _prefix(self, text: str) -> str:
        return f"{self.label}: {text}" if self.label else text

    def __str__(self) -> str:
        return self._prefix(self.summary)

    def __repr__(self) -> str:
        return f"<Progress {self}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        color = "#cf222e" if self.failed is not None else "#1a7f37" if self.finished else "#0969da"
        return f"<span style='color:{color}'>{html.escape(str(self))}</span>"

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stdout, flush=True)

    # --- the live bar -------------------------------------------------------------------------------------

    def _make_widget(self) -> None:
        import ipywidgets

        known = self.total is not None
        self._bar = ipywidgets.IntProgress(value=0 if known else 1, min=0, max=max(1, self.total or 1),
                                           bar_style="" if known else "info",
                                           layout=ipywidgets.Layout(width="40%"))
        self._text = ipywidgets.Label(value=self._prefix(self.summary))
        self._widget = ipywidgets.HBox([self._bar, self._text])

    def _draw(self) -> None:
        if self._widget is None:
            return
        with self._lock:
            received, finished, failed = self.received, self.finished, self.failed
        text = self.summary
        if self.total:
            self._bar.value = min(received, self._bar.max)
            if not finished:
                text += f" ({min(100, received * 100 // self.total)}%)"
        elif self.total == 0:
            self._bar.value = self._bar.max if finished else 0
        rate = _rate(received, self.elapsed)
        if rate and failed is None:
            text += f", {rate}"
        if finished:
            self._bar.bar_style = "danger" if failed is not None else "success"
            if failed is None and self.total is None:
                self._bar.value = self._bar.max
        self._text.value = self._prefix(text)

    def show(self):
        """Display the live bar in the current cell (done when the Progress is made in a kernel)."""
        if self._widget is None:
            return None
        from IPython.display import display

        display(_LiveView(self))
        return None

    @property
    def widget(self):
        """The ipywidgets box (progress bar and label), or None outside a kernel."""
        return self._widget


class _LiveView:
    """Displays the live widget; its plain-text form never changes, so saved notebooks compare equal."""

    def __init__(self, progress: Progress):
        self.progress = progress

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.progress._widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle = dict(bundle)
        bundle["text/plain"] = f"[live progress bar] {self.progress.label}"
        return bundle


class ProgressProtocol(protocol.Protocol):
    """A body consumer for ``response.deliverBody``: each piece goes to ``write`` (when given) and is counted
    on ``progress``; at the end ``progress.done()`` or ``progress.fail(reason)``, and ``finished`` (a Deferred)
    fires with the Progress or fails with the reason. If ``write`` raises, the download is stopped."""

    def __init__(self, progress: Progress, write=None, finished: defer.Deferred | None = None):
        self.progress = progress
        self.write = write
        self.finished = finished if finished is not None else defer.Deferred()
        self._error: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        if self._error is not None:
            return
        try:
            if self.write is not None:
                self.write(data)
        except Exception:
            self._error = Failure()
            self.transport.stopProducing()
            return
        self.progress.update(len(data))

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        from twisted.web.client import ResponseDone
        from twisted.web.http import PotentialDataLoss

        if self._error is None and reason.check(ResponseDone, PotentialDataLoss):
            # PotentialDataLoss: an HTTP/1.0 body without a length ends when the server closes; that is its end.
            self.finished.callback(self.progress.done())
        else:
            failure = self._error or reason
            self.progress.fail(failure)
            self.finished.errback(failure)


def collect(response, write=None, *, label: str = "download", progress: Progress | None = None,
            mode: str | None = None) -> defer.Deferred:
    """Read the body of ``response`` (from ``Agent`` or treq; with treq pass ``unbuffered=True`` so the body
    is not also kept in memory), giving each piece to ``write`` and showing progress. Fires with the
    :class:`Progress` when the body is complete, or fails with why it is not."""
    from twisted.web.iweb import UNKNOWN_LENGTH

    if progress is None:
        total = None if response.length is UNKNOWN_LENGTH else response.length
        progress = Progress(total, label, mode=mode)
    if response.length == 0:
        return defer.succeed(progress.done())
    consumer = ProgressProtocol(progress, write)
    response.deliverBody(consumer)
    return consumer.finished
