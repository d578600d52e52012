"""The chapter notebooks: learner copies in sync, stubs fail their checks helpfully, notebooks re-runnable.

nbval (run by `make test` on the complete notebooks) proves that every solution passes its check and that the
stored outputs are what the code shows today.
"""

from __future__ import annotations

import pathlib
import threading

import nbformat
import pytest
from nbclient import NotebookClient

from labkit.learner import stale

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
CELL_TIMEOUT = 120


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _run(path: pathlib.Path, workdir: pathlib.Path, allow_errors: bool = False) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def test_there_are_chapters():
    assert [p.name[:2] for p in CHAPTERS][:2] == ["01", "02"]


def test_learner_copies_are_in_sync():
    assert stale(NOTEBOOKS) == [], "run `make learner-copies` and commit notebooks/learner/"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_and_a_locked_check_with_points(chapter):
    cells = nbformat.read(chapter, as_version=4).cells
    ids = [_grading(c)["grade_id"] for c in cells if _grading(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    solutions = [c for c in cells if _grading(c).get("solution")]
    checks = [c for c in cells if _grading(c).get("grade")]
    assert solutions and len(checks) >= len(solutions)
    for cell in checks:
        assert _grading(cell)["locked"] and _grading(cell)["points"] > 0
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_untouched_stubs_fail_their_checks_with_a_helpful_message(chapter, tmp_path):
    learner = NOTEBOOKS / "learner" / chapter.name
    notebook = _run(learner, tmp_path, allow_errors=True)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        if _grading(cell).get("grade"):
            assert errors, f"a check passed on an untouched stub:\n{cell.source}"
            (error,) = errors
            assert error.ename == "CheckFailed", f"{error.ename}: {error.evalue}"
            assert "FAIL" in error.evalue and ("NotImplementedError" in error.evalue or "hint:" in error.evalue)
        elif "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, f"cell failed in the learner copy:\n{cell.source}\n{errors[0].evalue}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_running_every_cell_twice_in_one_kernel_passes(chapter, tmp_path):
    notebook = nbformat.read(chapter, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for _ in range(2):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
                    if "raises-exception" not in cell.metadata.get("tags", []):
                        assert not _errors(cell), f"{cell.source}\n{_errors(cell)}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_same_notebook_in_two_kernels_at_once_passes(chapter, tmp_path):
    results: dict[int, object] = {}

    def run(number: int):
        try:
            results[number] = _run(chapter, tmp_path)
        except Exception as error:  # reported below, with the kernel's own message
            results[number] = error

    runs = [threading.Thread(target=run, args=(n,)) for n in (1, 2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(600)
    for number in (1, 2):
        assert isinstance(results.get(number), nbformat.NotebookNode), f"kernel {number}: {results.get(number)}"
