"""Exercise checks: run the learner's code against a real practice server and say clearly how it went.

Promises:

* A :class:`Check` collects expectations; at its end it shows a pass, or a fail with what was sent, what was
  expected, what came back (the wire transcript when there is one) and one concrete hint.
* A failing check raises :class:`CheckFailed` (an ``AssertionError``), so nbgrader and nbval count it. An
  exception from the learner's code, a time-out or an unwritten stub (``NotImplementedError``) is a fail with
  its own message, never a crash of the kernel or a hang.
"""

from __future__ import annotations

import html
import socket
import time
from dataclasses import dataclass, field

from labkit.bridge import LabTimeout

__all__ = ["Check", "CheckFailed", "closed_port", "converse", "wait_until"]


class CheckFailed(AssertionError):
    """An exercise check did not pass; the message says what to change."""


@dataclass
class Expectation:
    what: str
    expected: object
    got: object
    ok: bool
    sent: object = None


@dataclass
class Check:
    """``with Check("the echo server answers every line", hint="...") as check: ...``"""

    title: str
    hint: str = ""
    expectations: list[Expectation] = field(default_factory=list)
    transcript: object = None
    problem: str = ""

    def __enter__(self) -> Check:
        return self

    def expect(self, what: str, expected, got, *, sent=None, ok: bool | None = None, hint: str = "") -> bool:
        """Record one expectation (equality unless ``ok`` is given). A hint given here replaces the check's when
        this is the first thing that went wrong (later failures often follow from the first)."""
        first_failure = self.passed
        passed = (expected == got) if ok is None else bool(ok)
        self.expectations.append(Expectation(what, expected, got, passed, sent))
        if not passed and hint and first_failure:
            self.hint = hint
        return passed

    def show(self, transcript) -> None:
        """Attach a wire transcript, shown with the result."""
        self.transcript = transcript

    @property
    def passed(self) -> bool:
        return not self.problem and all(e.ok for e in self.expectations)

    def __exit__(self, kind, error, tb) -> bool:
        if error is not None and not isinstance(error, CheckFailed):
            if not isinstance(error, Exception):
                return False  # KeyboardInterrupt and the like pass through
            self.problem = _explain(error)
        if not self.expectations and not self.problem:
            self.problem = "the check verified nothing (a bug in the check itself)"
        _display(self)
        if not self.passed:
            raise CheckFailed(self.text()) from (error if self.problem else None)
        return False

    # --- showing ---------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text())

    def text(self) -> str:
        lines = [("PASS  " if self.passed else "FAIL  ") + self.title]
        if self.problem:
            lines.append(f"  problem:  {self.problem}")
        for e in self.expectations:
            lines.append(f"  [{'ok' if e.ok else 'XX'}] {e.what}")
            if not e.ok:
                if e.sent is not None:
                    lines.append(f"       sent:     {e.sent!r}")
                lines.append(f"       expected: {e.expected!r}")
                lines.append(f"       got:      {e.got!r}")
        if not self.passed:
            if self.transcript is not None:
                lines.append("  on the wire:")
                lines.extend("    " + line for line in str(self.transcript).splitlines())
            if self.hint:
                lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        rows = []
        for e in self.expectations:
            detail = ""
            if not e.ok:
                parts = []
                if e.sent is not None:
                    parts.append(f"<tr><td>sent</td><td><code>{html.escape(repr(e.sent))}</code></td></tr>")
                parts.append(f"<tr><td>expected</td><td><code>{html.escape(repr(e.expected))}</code></td></tr>")
                parts.append(f"<tr><td>got</td><td><code>{html.escape(repr(e.got))}</code></td></tr>")
                detail = f"<table style='margin-left:2em'>{''.join(parts)}</table>"
            mark = "✔" if e.ok else "✘"
            rows.append(f"<div>{mark} {html.escape(e.what)}{detail}</div>")
        problem = f"<div><b>Problem:</b> {html.escape(self.problem)}</div>" if self.problem else ""
        wire = ""
        if not self.passed and self.transcript is not None and hasattr(self.transcript, "_repr_html_"):
            wire = f"<details open><summary>on the wire</summary>{self.transcript._repr_html_()}</details>"
        hint = f"<div><b>Hint:</b> {html.escape(self.hint)}</div>" if self.hint and not self.passed else ""
        verdict = "PASS" if self.passed else "FAIL"
        return (f"<div style='border-left:4px solid {color};padding:4px 10px'>"
                f"<b style='color:{color}'>{verdict}</b> {html.escape(self.title)}{problem}{''.join(rows)}"
                f"{wire}{hint}</div>")


def _explain(error: BaseException) -> str:
    if isinstance(error, NotImplementedError):
        return ("your code is not written yet: it raised NotImplementedError. Replace the "
                "`raise NotImplementedError` in the exercise cell with your solution and run that cell again.")
    if isinstance(error, LabTimeout):
        return f"it did not finish in time: {error}"
    return f"your code raised {type(error).__name__}: {error}"


def _display(check: Check) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(check)
    elif check.passed:
        print(check.text())


def converse(port: int, *chunks: bytes, host: str = "127.0.0.1", timeout: float = 5.0,
             settle: float = 0.3) -> bytes:
    """A scripted client, independent of Twisted: connect, send each chunk, and read until the server closes
    or stays quiet for ``settle`` seconds (all bounded by ``timeout``). Returns everything received."""
    deadline = time.monotonic() + timeout
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, min(settle, deadline - time.monotonic())))
            try:
                data = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    return received


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` where nothing listens right now (the system picked it, then it was let go)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float = 2.0, step: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes; returns its last value. For letting the
    far side of a connection catch up (a server noticing a close) before a check reads its records."""
    deadline = time.monotonic() + timeout
    while not (met := bool(condition())) and time.monotonic() < deadline:
        time.sleep(step)
    return met
