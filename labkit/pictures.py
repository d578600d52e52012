"""Pictures where people would rather look than read: a Deferred's callback chain, and a timeline of operations.

Promises:

* :func:`trace_chain` wraps a Deferred; callbacks added through it are traced, and once the Deferred has fired
  the :class:`CallbackChain` shows each step (callback and errback side by side), which side ran, and what it
  got and gave.
* :class:`Timeline` records when each tracked Deferred started and finished and draws the bars (SVG), so it is
  plain to see whether operations overlapped and how long the whole took. :meth:`Timeline.add` places what was
  timed elsewhere (a log's events, each an instant), with a legend of the caller's.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from labkit.blocked import describe

__all__ = ["CallbackChain", "Timeline", "trace_chain"]


PASS = "(pass through)"


def _show(value) -> str:
    if isinstance(value, Failure):
        return f"Failure({value.type.__name__}: {value.getErrorMessage()})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _same(result):
    return result


@dataclass
class Step:
    callback: str
    errback: str
    ran: str = ""  # "callback", "errback" or "" (not reached)
    got: str = ""
    gave: str = ""


@dataclass
class CallbackChain:
    """A Deferred whose callbacks are traced: add them through this object (same methods as a Deferred), let
    the Deferred fire, then display this object to see the path the result took. ``.deferred`` is the
    Deferred itself (return it from ``main``, or add more callbacks to it)."""

    deferred: Deferred
    name: str = "the Deferred"
    steps: list[Step] = field(default_factory=list)

    def _traced(self, index: int, side: str, fn, args=(), kwargs=None):
        kwargs = kwargs or {}

        def traced(result):
            step = self.steps[index]
            step.ran, step.got = side, _show(result)
            try:
                out = fn(result, *args, **kwargs)
            except BaseException as error:
                step.gave = f"raised {type(error).__name__}: {error}"
                raise
            step.gave = _show(out)
            return out

        return traced

    def addCallbacks(self, callback, errback=None, callbackArgs=(), callbackKeywords=None, errbackArgs=(),
                     errbackKeywords=None) -> CallbackChain:
        index = len(self.steps)
        self.steps.append(Step(describe(callback) if callback is not _same else PASS,
                               describe(errback) if errback not in (None, _same) else PASS))
        self.deferred.addCallbacks(
            self._traced(index, "callback", callback, callbackArgs, callbackKeywords),
            self._traced(index, "errback", errback or _same, errbackArgs, errbackKeywords))
        return self

    def addCallback(self, callback, *args, **kwargs) -> CallbackChain:
        return self.addCallbacks(callback, None, callbackArgs=args, callbackKeywords=kwargs)

    def addErrback(self, errback, *args, **kwargs) -> CallbackChain:
        return self.addCallbacks(_same, errback, errbackArgs=args, errbackKeywords=kwargs)

    def addBoth(self, callback, *args, **kwargs) -> CallbackChain:
        return self.addCallbacks(callback, callback, callbackArgs=args, callbackKeywords=kwargs,
                                 errbackArgs=args, errbackKeywords=kwargs)

    def __str__(self) -> str:
        lines = [f"callback chain of {self.name}:"]
        for number, step in enumerate(self.steps, 1):
            if step.ran:
                fn = step.callback if step.ran == "callback" else step.errback
                lines.append(f"  {number}. {step.ran:8} {fn}: got {step.got}, gave {step.gave}")
            else:
                lines.append(f"  {number}. (not reached) {step.callback} / {step.errback}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        rows = []
        for number, step in enumerate(self.steps, 1):
            cells = []
            for side, fn in (("callback", step.callback), ("errback", step.errback)):
                ran = step.ran == side
                color = "#d8f5dd" if ran and side == "callback" else "#fbdada" if ran else "#f6f6f6"
                detail = (f"<div style='font-size:80%'>got {html.escape(step.got)}<br>"
                          f"gave {html.escape(step.gave)}</div>") if ran else ""
                weight = "bold" if ran else "normal"
                cells.append(f"<td style='text-align:left;background:{color};padding:4px 8px;font-weight:{weight};"
                             f"color:{'#000' if ran else '#999'}'><code>{html.escape(fn)}</code>{detail}</td>")
            rows.append(f"<tr><td style='color:#888'>{number}</td>{''.join(cells)}</tr>")
        return (f"<table style='border-collapse:separate;border-spacing:2px'><caption style='text-align:left'>"
                f"callback chain of {html.escape(self.name)} (in each row, the shaded side ran)</caption>"
                f"<tr><th></th><th style='text-align:left'>callback</th><th style='text-align:left'>errback</th></tr>"
                f"{''.join(rows)}</table>")


def trace_chain(d: Deferred, name: str = "the Deferred") -> CallbackChain:
    """Wrap ``d`` so that the callbacks added through the result are traced (see :class:`CallbackChain`)."""
    return CallbackChain(d, name)


@dataclass
class Span:
    label: str
    start: float
    end: float | None = None
    ok: bool | None = None


LABEL_CHARS = 40
"""A timeline shows at most this many characters of a label; the whole label is its tooltip."""


def _shortened(label: str) -> str:
    """``label``, or its words up to :data:`LABEL_CHARS` characters and an ellipsis."""
    if len(label) <= LABEL_CHARS:
        return label
    words = label[:LABEL_CHARS].rsplit(" ", 1)[0] if " " in label[:LABEL_CHARS] else label[:LABEL_CHARS - 1]
    return words.rstrip(" ,.:;") + "…"


@dataclass
class Timeline:
    """When tracked operations started and ended. ``track(label, d)`` returns ``d`` unchanged."""

    title: str = "timeline"
    spans: list[Span] = field(default_factory=list)
    origin: float = field(default_factory=time.perf_counter)
    legend: str = "green: succeeded, grey: failed, yellow: still running."

    def add(self, label: str, start: float, end: float | None = None, ok: bool = True) -> Span:
        """Place something timed elsewhere: ``start`` and ``end`` on the same clock as ``origin`` (a log's
        ``log_time`` with ``origin`` the first event's, say); no ``end`` makes it an instant. ``ok`` picks green
        or grey (say what they mean in ``legend``)."""
        span = Span(label, start - self.origin, (start if end is None else end) - self.origin, ok)
        self.spans.append(span)
        return span

    def track(self, label: str, d: Deferred) -> Deferred:
        span = Span(label, time.perf_counter() - self.origin)
        self.spans.append(span)

        def finished(result):
            span.end, span.ok = time.perf_counter() - self.origin, not isinstance(result, Failure)
            return result

        return d.addBoth(finished)

    @property
    def duration(self) -> float:
        """From the first start to the last end, in seconds."""
        ends = [s.end for s in self.spans if s.end is not None]
        return max(ends) - min(s.start for s in self.spans) if ends else 0.0

    @property
    def most_at_once(self) -> int:
        """The largest number of operations that were under way at the same moment."""
        # at one moment: ends of spans first, then starts, then ends of instants (which count while they happen)
        edges = sorted([(s.start, 1, 1) for s in self.spans] +
                       [(s.end, 2 if s.end == s.start else 0, -1) for s in self.spans if s.end is not None])
        busy = best = 0
        for _, _, change in edges:
            busy += change
            best = max(best, busy)
        return best

    def __str__(self) -> str:
        return (f"{self.title}: {len(self.spans)} operations in {self.duration * 1000:.1f} ms, "
                f"at most {self.most_at_once} at once")

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        if not self.spans:
            return f"<i>{html.escape(self.title)}: nothing tracked</i>"
        first = min(s.start for s in self.spans)
        total = max(self.duration, 1e-6)
        shown = [_shortened(span.label) for span in self.spans]
        label_w, row_h = max(90, 10 + round(5.5 * max(len(label) for label in shown))), 12
        width = label_w + 550
        bars = []
        for row, span in enumerate(self.spans):
            x = label_w + (span.start - first) / total * (width - label_w - 10)
            end = span.end if span.end is not None else first + total
            w = max(1.5, (end - span.start) / total * (width - label_w - 10))
            color = "#2da44e" if span.ok else "#8c959f" if span.ok is False else "#d4a72c"
            y = 20 + row * row_h
            bars.append(f"<text x='{label_w - 4}' y='{y + 9}' font-size='9' text-anchor='end'>"
                        f"<title>{html.escape(span.label)}</title>{html.escape(shown[row])}</text>"
                        f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{row_h - 3}' fill='{color}'/>")
        height = 30 + len(self.spans) * row_h
        axis = (f"<text x='{label_w}' y='12' font-size='10'>0 ms</text>"
                f"<text x='{width - 10}' y='12' font-size='10' text-anchor='end'>{total * 1000:.1f} ms</text>")
        legend = f"<div style='font-size:80%'>{html.escape(self.legend)} {html.escape(str(self))}</div>"
        return (f"<div><b>{html.escape(self.title)}</b><br><svg width='{width}' height='{height}' "
                f"style='font-family:monospace'>{axis}{''.join(bars)}</svg>{legend}</div>")
