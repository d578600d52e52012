"""The check object: one exercise's expectations, what it served, and how it ended.

Promises:

* ``with Check(title, hint=...) as check:`` collects expectations (:meth:`Check.expect`); at its end it shows a
  pass, or a fail with what was sent, what was expected, what came back (the wire transcript when there is
  one) and one concrete hint (see :mod:`labkit.checks.report`).
* Errors a served server raises are the check's to report (in its box), never printed under it: a graded cell
  that prints to stderr scores nothing in nbgrader, even on a pass. They stay in the server's log. Other errors
  the reactor reports during a check are shown under a failing check only.
* What a check starts through it (:meth:`Check.serve`, :meth:`Check.serve_udp`, :meth:`Check.temporary_folder`,
  :meth:`Check.on_exit`) is stopped or removed when the check ends, however it ends: a pass, a fail, an exception
  from the learner's code, or an interrupt.
* A failing check raises :class:`CheckFailed` (an ``AssertionError``), so nbgrader and nbval count it. An
  exception from the learner's code, a time-out or an unwritten stub (``NotImplementedError``) is a fail with
  its own message, never a crash of the kernel or a hang. In a notebook the failure shows once, as the check's
  box, followed by one line naming the exception.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from labkit import output
from labkit.bridge import LabTimeout
from labkit.checks import limits, report
from labkit.checks.quiet import tracebacks_left_out

__all__ = ["Check", "CheckFailed", "Expectation", "NOT_WRITTEN"]

NOT_WRITTEN = ("your code is not written yet: it raised NotImplementedError. Replace the "
               "`raise NotImplementedError()` in the exercise cell with your solution and run that cell again.")


class CheckFailed(AssertionError):
    """An exercise check did not pass; the message says what to change.

    In IPython it renders as one line (the check's box, shown just before, has the details)."""

    def __init__(self, message: str, title: str = ""):
        super().__init__(message)
        self.title = title

    def _render_traceback_(self) -> list[str]:
        what = f"the check {self.title!r} did not pass" if self.title else "the check did not pass"
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {what}; the box above says what to change."]


@dataclass
class Expectation:
    what: str
    expected: object
    got: object
    ok: bool
    sent: object = None


@dataclass
class Check:
    """``with Check("the echo server answers every line", hint="...", start="...") as check: ...``"""

    title: str
    hint: str = ""
    start: str = ""
    """Where to start, for a learner who has not written anything yet (shown instead of the hint then)."""
    expectations: list[Expectation] = field(default_factory=list)
    transcript: object = None
    problem: str = ""
    _on_exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, init=False, repr=False,
                                           compare=False)
    _reactor_errors: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def __enter__(self) -> Check:
        self._on_exit.enter_context(output.divert_cell_errors(self._reactor_errors.append))
        return self

    # --- what the check verifies ------------------------------------------------------------------------------

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

    # --- what the check starts, stopped when it ends ------------------------------------------------------------

    def serve(self, thing, name: str, **options):
        """Serve ``thing`` as :func:`labkit.serve` does (a factory, a resource or a practice server's name), not
        shown in the cell; it is stopped when the check ends."""
        from labkit.serving import serve

        server = serve(thing, name=name, show=False, **options)
        server.log.errors_shown_in_cell = False  # the box reports them (health), the log keeps them
        self.on_exit(server.stop, timeout=limits.CLEANUP)
        return server

    def serve_udp(self, listen, *args):
        """Start a UDP listener for the check: ``listen(reactor, *args)`` runs on the reactor thread and returns
        its listening port (``servers.names.listen_udp`` is one). It stops listening when the check ends."""
        from labkit.bridge import get_reactor, run_in_reactor

        port = run_in_reactor(listen, get_reactor(), *args)
        self.on_exit(run_in_reactor, port.stopListening, timeout=limits.CLEANUP)
        return port

    def temporary_folder(self, prefix: str) -> Path:
        """A new empty folder, removed with everything in it when the check ends."""
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.on_exit(shutil.rmtree, folder, ignore_errors=True)
        return folder

    def on_exit(self, fn, *args, **kwargs) -> None:
        """Call ``fn(*args, **kwargs)`` when the check ends, however it ends (last registered, first called)."""
        self._on_exit.callback(fn, *args, **kwargs)

    # --- the end ----------------------------------------------------------------------------------------------

    def __exit__(self, kind, error, tb) -> bool:
        try:
            with tracebacks_left_out(lambda: error is not None or not self.passed):
                self._on_exit.close()
        except Exception as failed:  # noqa: BLE001 - a check that cannot clean up says so instead of crashing
            self.problem = self.problem or (f"the check could not clean up after itself: "
                                            f"{type(failed).__name__}: {failed}")
        if error is not None and not isinstance(error, CheckFailed):
            if not isinstance(error, Exception):
                return False  # KeyboardInterrupt and the like pass through
            self.problem = _explain(error)
        if not self.expectations and not self.problem:
            self.problem = "the check verified nothing (a bug in the check itself)"
        report.display(self)
        if not self.passed and self._reactor_errors:  # what no served server's log took: it may say why
            sys.stderr.write("The reactor thread reported this during the check:\n" + "".join(self._reactor_errors))
        if not self.passed:
            raise CheckFailed(self.text(), self.title) from None
        return False

    # --- showing ----------------------------------------------------------------------------------------------

    def text(self) -> str:
        return report.text(self)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return report.html_box(self)


def _explain(error: BaseException) -> str:
    if isinstance(error, NotImplementedError):
        return NOT_WRITTEN
    if isinstance(error, LabTimeout):
        return f"it did not finish in time: {error}"
    return f"your code raised {type(error).__name__}: {error}"
