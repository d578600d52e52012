"""labkit.testing: a check cell runs in a real kernel after the solution, the learner's stub, or a mistake, as
nbgrader would run it; and the boxes a learner reads stay short."""

from __future__ import annotations

import nbformat
import pytest

from labkit.checks import Check, CheckFailed
from labkit.checks.report import UNWRITTEN_LINES, WIRE_LINES, text
from labkit.testing import Mistake, Workbook, fails, solution_region, solution_regions

SOLUTION = '''def double(n):
    ### BEGIN SOLUTION
    return n * 2
    ### END SOLUTION
'''
STUB = '''def double(n):
    raise NotImplementedError()
'''
CHECK = '''from labkit.checks import Check
with Check("double doubles", hint="multiply by two", start="return something made of n") as check:
    check.expect("double(21)", 42, double(BASE))
'''


def grade(cell, grade_id, **more):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "schema_version": 3, "task": False, "locked": False,
                                 "solution": False, "grade": False, **more}
    return cell


def tiny_chapter(folder):
    """A chapter of three cells (a constant, a solution, its check) and its learner copy."""
    cells = [nbformat.v4.new_code_cell("BASE = 21"),
             grade(nbformat.v4.new_code_cell(SOLUTION), "ex0-1-double", solution=True),
             grade(nbformat.v4.new_code_cell(CHECK), "check0-1-double", grade=True, points=1, locked=True)]
    (folder / "learner").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "00-tiny.ipynb")
    learner = [cells[0], grade(nbformat.v4.new_code_cell(STUB), "ex0-1-double", solution=True), cells[2]]
    nbformat.write(nbformat.v4.new_notebook(cells=learner), folder / "learner" / "00-tiny.ipynb")
    return folder / "00-tiny.ipynb"


def test_a_check_cell_runs_after_the_solution_the_stub_and_a_mistake(tmp_path):
    with Workbook(tiny_chapter(tmp_path)) as book:
        exercise = book.exercise("0.1")
        solved = exercise.solved()
        assert solved.passed and solved.box.startswith("PASS") and not solved.stderr
        unsolved = exercise.unsolved()
        assert not unsolved.passed and unsolved.error[0] == "CheckFailed"
        assert "not written yet" in unsolved.box and "start with: return something made of n" in unsolved.box
        assert "multiply by two" not in unsolved.box  # the hint is for written code
        assert unsolved.lines <= UNWRITTEN_LINES
        wrong = exercise.with_mistake(Mistake("0.1", "adds instead", ("n * 2", "n + 2"), hint="multiply"))
        assert not wrong.passed and "got:      23" in wrong.box and "multiply by two" in wrong.box
        assert exercise.solved().passed  # the solution was put back after the mistake


def test_a_mistake_that_no_longer_fits_the_solution_says_so():
    with pytest.raises(ValueError, match="occurs 0 times"):
        Mistake("0.1", "stale", ("n * 3", "n"), hint="").apply(SOLUTION)
    assert solution_region(SOLUTION) == "    return n * 2\n"


TWO_METHODS = """class Status:
    def start(self):
        ### BEGIN SOLUTION
        self.word = "running"
        ### END SOLUTION

    def stop(self):
        ### BEGIN SOLUTION
        self.word = "stopped"
        ### END SOLUTION
"""


def test_a_mistake_may_change_any_region_of_a_cell_with_several():
    assert solution_regions(TWO_METHODS) == ['        self.word = "running"\n', '        self.word = "stopped"\n']
    changed = Mistake("0.2", "stop forgotten", ('self.word = "stopped"', "pass"), hint="").apply(TWO_METHODS)
    assert changed == TWO_METHODS.replace('self.word = "stopped"', "pass")
    with pytest.raises(ValueError, match="occurs 2 times"):
        Mistake("0.2", "ambiguous", ("self.word", "word"), hint="").apply(TWO_METHODS)


def test_a_failing_box_shows_only_the_wire_around_the_first_difference():
    class Transcript:
        def __str__(self):
            return "\n".join(f"C: line {i}" for i in range(200))

    check = Check("long session", hint="h")
    check.expect("the answer", "ok", "line 150 came back", sent="line 150")
    check.show(Transcript())
    box = text(check)
    wire = box.split("on the wire:\n", 1)[1].splitlines()
    assert "line 150" in "\n".join(wire) and len(wire) <= WIRE_LINES + 3
    assert "lines before" in wire[0] and "lines after" in wire[-2]


def test_fails_returns_the_box_of_a_failing_check_and_refuses_a_pass():
    def failing():
        with Check("fails") as check:
            check.expect("x", 1, 2)

    def passing():
        with Check("passes") as check:
            check.expect("x", 1, 1)

    assert fails(failing).startswith("FAIL  fails")
    with pytest.raises(AssertionError, match="passed"):
        fails(passing)
    with pytest.raises(CheckFailed):
        failing()


def test_mutants_change_only_the_learners_part_and_the_runner_tallies_them(tmp_path):
    from authoring.mutants import mutants, run

    made = {m.description: m.source for m in mutants(SOLUTION)}
    assert "line 1: `return n * 2` -> `return n // 2`" in made
    assert "line 1: `return n * 2` -> `return n * 3`" in made
    assert "line 1: `return n * 2` -> `return None`" in made
    assert all(source.startswith("def double(n):\n    ### BEGIN SOLUTION\n") for source in made.values())
    tiny_chapter(tmp_path)
    [tally] = run(tmp_path / "00-tiny.ipynb", out=open("/dev/null", "w"))
    assert tally.made == len(made) and tally.killed == tally.made and tally.score == 100.0


METHOD_THEN_CLASS = """class Page:
    def render(self, request):
        ### BEGIN SOLUTION
        return self.done(request)

    def done(self, request):
        return b"saved"
        ### END SOLUTION
"""


def test_a_region_that_starts_in_a_method_and_goes_on_at_class_level_is_mutated_in_place():
    from authoring.mutants import mutants

    made = {m.description: m.source for m in mutants(METHOD_THEN_CLASS)}
    assert "line 4: `return b'saved'` -> `return b''`" in made
    assert "line 1: `return self.done(request)` -> `return None`" in made
    emptied = made["line 4: `return b'saved'` -> `return b''`"]
    assert emptied.startswith("class Page:\n    def render(self, request):\n        ### BEGIN SOLUTION\n")
    assert "\n    def done(self, request):\n        return b''\n        ### END SOLUTION\n" in emptied
    assert not any("async def _" in source or "class _" in source for source in made.values())
    for source in made.values():
        compile(source, "<mutant>", "exec")


def test_a_chapters_programs_are_written_as_the_notebook_has_them(tmp_path):
    from labkit.testing import write_programs

    written = write_programs(8, tmp_path)
    assert "smtp_maildir.py" in written and "lucky_mail.py" in written
    assert "%%program" not in written["smtp_maildir.py"].read_text()
    compile(written["smtp_maildir.py"].read_text(), "smtp_maildir.py", "exec")


def test_a_mistake_whose_cell_does_not_run_is_refused_not_passed(tmp_path):
    from labkit.testing import MistakeDoesNotRun

    with Workbook(tiny_chapter(tmp_path)) as book:
        broken = Mistake("0.1", "a syntax slip", ("n * 2", "n * (2"), hint="")
        with pytest.raises(MistakeDoesNotRun, match="SyntaxError"):
            book.exercise("0.1").with_mistake(broken)
        assert book.exercise("0.1").solved().passed
