"""Testing an exercise's check the way nbgrader grades it: the complete notebook runs in a real kernel, and the
check cell runs after the solution, after the learner's stub, or after a mistake made from the solution.

This is for tests, like ``treq.testing``: the project's own tests use it, and so can an instructor who writes
extra tests for a class. It imports no Twisted.

Promises:

* ``Workbook("08")`` (a chapter's number or its notebook's path) runs that chapter's complete notebook in a fresh
  kernel, in a folder of its own, cell by cell as far as an exercise asks (never further), so every check runs
  with exactly the state a learner's Run All gives it. ``close()`` (or ``with``) shuts the kernel down.
* ``workbook.exercise("8.3")`` (or the grade id ``"ex8-3-fixed-inbox"``) returns an :class:`Exercise` whose
  :meth:`Exercise.solved`, :meth:`Exercise.unsolved` and :meth:`Exercise.with_mistake` run its check cell after
  the reference solution, after the learner copy's version of the solution cell, or after the solution changed as
  a :class:`Mistake` says, and return a :class:`CheckRun` (PASS or FAIL, the box's text, the error, stderr).
  The solution cell is run again afterwards, so the next exercise finds the notebook as it was.
* A :class:`Mistake` is a solution with a few exact replacements, named after the mistake a learner makes, with
  the words its check's hint must say.
* ``TestExercises = exercise_tests(8, MISTAKES)`` in a test module is the one shape of a chapter's check tests:
  for every exercise, in the notebook's order, the solution passes (nothing on stderr, which nbgrader would score
  0), the learner copy's version fails in a short box (at most :data:`UNSOLVED_LINES` lines, "not written yet"
  for a stub), and each of its mistakes fails with its hint in a box of at most :data:`FAILED_LINES` lines.
* :func:`write_programs` writes a chapter's ``%%program`` cells, as the complete notebook has them, into a folder:
  the way a test runs or imports a lab's program (the notebook's own ``programs/`` folder is made by running it).
* Every wait is bounded: a cell that runs longer than ``cell_timeout`` ends the run with an error naming it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["CheckRun", "Exercise", "Mistake", "MistakeDoesNotRun", "Workbook", "exercise_tests", "fails", "grading",
           "exercise_number", "solution_region", "solution_regions", "write_programs"]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BEGIN, END, LEARNER = "### BEGIN SOLUTION", "### END SOLUTION", "### LEARNER VERSION"
KERNEL_START = 180.0
"""Seconds a kernel may take to start: on a loaded machine a start took over 60 s."""
UNSOLVED_LINES = 15
"""At most this many lines in the output area of a check whose exercise is not written yet."""
FAILED_LINES = 45
"""At most this many lines in the output area of a failing check (the box shows the wire around the difference)."""
CELL_TIMEOUT = 120.0
"""Seconds one cell may run (a check's own waits are much shorter; this only ends a run that hangs)."""


def grading(cell) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_region(source: str) -> str:
    """The part of a solution cell between BEGIN SOLUTION and END SOLUTION (or LEARNER VERSION), the markers
    excluded: the part a learner writes, and the only part a :class:`Mistake` or a mutant may change."""
    start = source.index(BEGIN)
    start = source.index("\n", start) + 1
    stop = source.find(LEARNER, start)
    stop = source.index(END, start) if stop < 0 else stop
    return source[start:source.rindex("\n", start, stop) + 1]


def solution_regions(source: str) -> list[str]:
    """Every region a learner writes in a solution cell, in order (a class may hold one per method)."""
    regions, at = [], source.find(BEGIN)
    while at >= 0:
        regions.append(solution_region(source[at:]))
        at = source.find(BEGIN, source.index(regions[-1], at) + len(regions[-1]))
    return regions


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: the solution with each ``(old, new)`` replacement made once, inside the part the
    learner writes. ``hint`` holds words the failing box must show (the check's hint for this cause)."""

    exercise: str
    name: str
    replace: tuple[tuple[str, str], ...]
    hint: str

    def __init__(self, exercise: str, name: str, replace, hint: str):
        object.__setattr__(self, "exercise", exercise)
        object.__setattr__(self, "name", name)
        pairs = (replace,) if isinstance(replace[0], str) else replace
        object.__setattr__(self, "replace", tuple(tuple(pair) for pair in pairs))
        object.__setattr__(self, "hint", hint)

    def apply(self, source: str) -> str:
        """The solution cell's source with this mistake in it; ValueError if a replacement does not fit the
        solution's regions exactly once (the solution changed: the mistake must be written again)."""
        regions = solution_regions(source)
        changed = list(regions)
        for old, new in self.replace:
            counts = [region.count(old) for region in changed]
            if sum(counts) != 1:
                raise ValueError(f"mistake {self.name!r} of {self.exercise}: {old!r} occurs "
                                 f"{sum(counts)} times in the solution, not once")
            at = counts.index(1)
            changed[at] = changed[at].replace(old, new)
        done, rest = "", source
        for region, new_region in zip(regions, changed):
            before, _, rest = rest.partition(BEGIN)
            opening, _, rest = rest.partition(region)
            done += before + BEGIN + opening + new_region
        return done + rest


@dataclass
class CheckRun:
    """What a check cell showed."""

    passed: bool
    box: str  # the check's box as text (what the learner reads), "" if it showed none
    error: tuple[str, str] | None  # the exception's name and message, None when none was raised
    stderr: str
    traceback: str = ""  # what the output area shows of the error (one line for CheckFailed)
    outputs: list = field(default_factory=list, repr=False)

    @property
    def lines(self) -> int:
        """How many lines the output area shows (box, error and stderr together)."""
        return sum(len(text.splitlines()) for text in (self.box, self.stderr, self.traceback) if text)

    def __str__(self) -> str:
        error = f"\n{self.error[0]}: {self.error[1]}" if self.error else ""
        return f"{self.box}{error}\n{self.stderr}".rstrip()


def _check_run(outputs) -> CheckRun:
    box, stderr, error, traceback = [], "", None, ""
    for output in outputs:
        if output.output_type == "stream":
            if output.name == "stderr":
                stderr += output.text
            else:
                box.append(output.text.rstrip("\n"))
        elif output.output_type in ("display_data", "execute_result"):
            box.append(output.get("data", {}).get("text/plain", ""))
        elif output.output_type == "error":
            error = (output.ename, ANSI.sub("", output.evalue))
            traceback = ANSI.sub("", "\n".join(output.traceback))
    text = "\n".join(part for part in box if part)
    passed = error is None and text.startswith("PASS")
    return CheckRun(passed, text, error, stderr, traceback, list(outputs))


def _notebook_path(chapter) -> Path:
    path = Path(str(chapter))
    if path.suffix == ".ipynb":
        return path
    number = f"{int(str(chapter)):02d}"
    [found] = sorted(NOTEBOOKS.glob(f"{number}-*.ipynb"))
    return found


class MistakeDoesNotRun(ValueError):
    """A changed solution cell raised when it was run, so its check would test the definitions left before it."""


class Exercise:
    """One exercise of a running :class:`Workbook`: its solution cell, its check cell, the learner's version."""

    def __init__(self, workbook: Workbook, grade_id: str):
        self.workbook, self.grade_id = workbook, grade_id
        self.check_id = "check" + grade_id.removeprefix("ex")
        self.solution = workbook.cell(grade_id).source
        self.check = workbook.cell(self.check_id).source
        self.learner = workbook.learner_source(grade_id)

    def run_with(self, solution_source: str) -> CheckRun:
        """Run ``solution_source`` in place of the solution cell, then the check cell; the solution cell is run
        again afterwards (so later exercises find the notebook as it was). A solution cell that itself raises (a
        mistake that does not compile, say) is :class:`MistakeDoesNotRun`: the check would otherwise run against
        the definitions left from before and prove nothing."""
        book = self.workbook
        book.advance_to(self.check_id)
        try:
            defined = book.execute(solution_source, f"{self.grade_id} (changed)")
            raised = [o for o in defined if o.output_type == "error"]
            if raised and solution_source != self.learner:
                raise MistakeDoesNotRun(f"{self.grade_id}: the changed solution cell raised {raised[0].ename}: "
                                        f"{ANSI.sub('', raised[0].evalue)}")
            return _check_run(book.execute(self.check, self.check_id))
        finally:
            book.execute(self.solution, self.grade_id)

    def solved(self) -> CheckRun:
        return self.run_with(self.solution)

    def unsolved(self) -> CheckRun:
        """The check after the learner copy's version of the solution cell (the stub, or the code to fix)."""
        return self.run_with(self.learner)

    def with_mistake(self, mistake: Mistake) -> CheckRun:
        return self.run_with(mistake.apply(self.solution))


class Workbook:
    """A chapter's complete notebook, run in a real kernel as far as its exercises ask."""

    def __init__(self, chapter, *, learner_folder: Path | None = None, cell_timeout: float = CELL_TIMEOUT):
        from nbclient import NotebookClient

        self.path = _notebook_path(chapter)
        self.notebook = nbformat.read(self.path, as_version=4)
        learner_folder = learner_folder or self.path.parent / "learner"
        learner_copy = learner_folder / self.path.name
        self.learner = nbformat.read(learner_copy, as_version=4) if learner_copy.exists() else None
        self.folder = Path(tempfile.mkdtemp(prefix=f"workbook-{self.path.stem[:2]}-"))
        self.client = NotebookClient(self.notebook, timeout=cell_timeout, startup_timeout=KERNEL_START,
                                     kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(self.folder)}})
        self._kernel = self.client.setup_kernel()
        self._kernel.__enter__()
        self.next_cell = 0

    # --- cells ------------------------------------------------------------------------------------------------

    def cell(self, grade_id: str):
        for cell in self.notebook.cells:
            if grading(cell).get("grade_id") == grade_id:
                return cell
        raise KeyError(f"{self.path.name} has no cell with grade id {grade_id!r}")

    def learner_source(self, grade_id: str) -> str:
        if self.learner is None:
            raise FileNotFoundError(f"no learner copy of {self.path.name}: run the learner-copies command")
        for cell in self.learner.cells:
            if grading(cell).get("grade_id") == grade_id:
                return cell.source
        raise KeyError(f"the learner copy of {self.path.name} has no cell {grade_id!r}")

    def exercise(self, name: str) -> Exercise:
        """By grade id (``"ex8-3-fixed-inbox"``) or number (``"8.3"``, ``"5.1a"``)."""
        if name.startswith("ex"):
            return Exercise(self, name)
        wanted = "ex" + name.replace(".", "-") + "-"
        found = [grading(c)["grade_id"] for c in self.notebook.cells
                 if grading(c).get("solution") and grading(c).get("grade_id", "").startswith(wanted)]
        if len(found) != 1:
            raise KeyError(f"exercise {name!r} names {len(found)} solution cells in {self.path.name}: {found}")
        return Exercise(self, found[0])

    # --- running ----------------------------------------------------------------------------------------------

    def advance_to(self, grade_id: str) -> None:
        """Run the notebook's cells in order up to, not including, the cell with this grade id (never back)."""
        target = self.notebook.cells.index(self.cell(grade_id))
        while self.next_cell < target:
            cell = self.notebook.cells[self.next_cell]
            if cell.cell_type == "code":
                self.client.execute_cell(cell, self.next_cell)
                errors = [o for o in cell.outputs if o.output_type == "error"]
                expected = "raises-exception" in cell.metadata.get("tags", [])
                if errors and not expected:
                    raise RuntimeError(f"{self.path.name}, cell {self.next_cell} raised "
                                       f"{errors[0].ename}: {ANSI.sub('', errors[0].evalue)}\n{cell.source[:300]}")
            self.next_cell += 1

    def execute(self, source: str, name: str = "cell") -> list:
        """Run ``source`` as one more cell (it is not added to the notebook); its outputs."""
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["name"] = name
        self.notebook.cells.append(cell)  # nbclient keeps a cell's outputs at its index in the notebook
        try:
            self.client.execute_cell(cell, len(self.notebook.cells) - 1)
        finally:
            self.notebook.cells.pop()
        return cell.outputs

    def close(self) -> None:
        try:
            self._kernel.__exit__(None, None, None)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def exercise_number(grade_id: str) -> str:
    """``ex8-3-fixed-inbox`` -> ``8.3``; ``ex5-1a-note-store`` -> ``5.1a``."""
    chapter, number = grade_id.removeprefix("ex").split("-")[:2]
    return f"{chapter}.{number}"


def exercise_tests(chapter, mistakes: list[Mistake], *, least_mistakes: int = 3):
    """A pytest test class for a chapter's checks (assign it to a ``Test...`` name in the chapter's test module).

    Its cases run in the notebook's order, each exercise's together: ``8.3 solution``, ``8.3 learner copy``, then
    ``8.3 <mistake>`` for each of its mistakes. Every exercise must have at least ``least_mistakes`` mistakes."""
    import pytest

    notebook = nbformat.read(_notebook_path(chapter), as_version=4)
    numbers = [exercise_number(grading(c)["grade_id"]) for c in notebook.cells if grading(c).get("solution")]
    unknown = sorted({m.exercise for m in mistakes} - set(numbers))
    if unknown:
        raise ValueError(f"mistakes name exercises that chapter {chapter} does not have: {unknown}")
    cases = []
    for number in numbers:
        cases.append(pytest.param(number, "solution", id=f"{number} solution"))
        cases.append(pytest.param(number, "learner copy", id=f"{number} learner copy"))
        cases += [pytest.param(number, m, id=f"{number} {m.name}") for m in mistakes if m.exercise == number]

    class ExerciseTests:
        @pytest.fixture(scope="class")
        @classmethod
        def book(cls):
            with Workbook(chapter) as running:
                yield running

        @pytest.mark.parametrize("number", numbers)
        def test_every_exercise_has_its_mistakes(self, number):
            named = [m.name for m in mistakes if m.exercise == number]
            assert len(named) >= least_mistakes, f"exercise {number} lists {len(named)} mistakes: {named}"

        @pytest.mark.parametrize(("number", "case"), cases)
        def test_check(self, book, number, case):
            exercise = book.exercise(number)
            if case == "solution":
                run = exercise.solved()
                assert run.passed, str(run)
                assert not run.stderr, f"the check printed to stderr on a pass (nbgrader scores that 0):\n{run}"
            elif case == "learner copy":
                run = exercise.unsolved()
                assert not run.passed, f"the learner copy's version passes its check:\n{run}"
                if "raise NotImplementedError" in exercise.learner:
                    assert "not written yet" in run.box, str(run)
                    assert run.lines <= UNSOLVED_LINES, f"{run.lines} lines for a stub:\n{run}"
                else:
                    assert run.lines <= FAILED_LINES, f"{run.lines} lines:\n{run}"
            else:
                run = exercise.with_mistake(case)
                assert not run.passed, f"the mistake {case.name!r} passes its check:\n{run}"
                assert case.hint in run.box, f"the box does not say {case.hint!r}:\n{run}"
                assert run.lines <= FAILED_LINES, f"{run.lines} lines:\n{run}"

    ExerciseTests.__name__ = ExerciseTests.__qualname__ = f"TestChapter{int(_notebook_path(chapter).name[:2]):02d}"
    return ExerciseTests


def write_programs(chapter, folder: Path) -> dict[str, Path]:
    """Write every ``%%program chNN/NAME.py`` cell of the chapter's complete notebook to ``folder/NAME.py``;
    {NAME.py: its path}."""
    written = {}
    for cell in nbformat.read(_notebook_path(chapter), as_version=4).cells:
        first, _, source = cell.source.partition("\n")
        if cell.cell_type == "code" and first.startswith("%%program "):
            name = first.split(None, 1)[1].strip().rsplit("/", 1)[-1]
            written[name] = Path(folder) / name
            written[name].write_text(source + "\n")
    return written


def fails(check, *args) -> str:
    """Run ``check(*args)`` in this process; it must fail. Returns the text of its FAIL box."""
    from labkit.checks import CheckFailed

    try:
        check(*args)
    except CheckFailed as failed:
        message = str(failed)
        assert message.startswith("FAIL"), message
        return message
    raise AssertionError(f"{getattr(check, '__name__', check)} passed; it should have failed")
