"""The chapter notebooks: learner copies in sync and clean, Run All reaches their end, notebooks re-runnable.

nbval (run by `make test` on the complete notebooks) proves that every solution passes its check and that the
stored outputs are what the code shows today. The tests of this file run in one test process,
so a learner copy runs once for the tests that read what it showed.
"""

from __future__ import annotations

import configparser
import difflib
import json
import pathlib
import re
import threading

import nbformat
import pytest

from authoring.execution import client, execute
from authoring.learner import stale

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
SANITIZE = configparser.ConfigParser(interpolation=None)
SANITIZE.read(NOTEBOOKS / "sanitize.cfg")


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


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
        stderr = [o for o in cell.outputs if o.get("name") == "stderr"]
        assert not stderr, f"nbgrader scores a check that writes to stderr 0, even on a pass:\n{cell.source}"
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert "check" + _grading(cell)["grade_id"].removeprefix("ex") in ids, "a check is named after its exercise"


def _sanitize(text: str) -> str:
    for rule in SANITIZE.values():
        if "regex" in rule:
            text = re.sub(rule["regex"], rule["replace"], text)
    return text


def _shown(outputs) -> tuple[list[str], dict[str, str]]:
    """What nbval compares, after notebooks/sanitize.cfg: the plain-text views, and each stream's text."""
    views, streams = [], {}
    for output in outputs:
        if output.output_type == "stream":
            streams[output.name] = _sanitize(streams.get(output.name, "") + output.text)
        elif output.output_type in ("display_data", "execute_result"):
            views.append(_sanitize(output.data.get("text/plain", "")))
    return views, streams


def _stale(stored, fresh) -> str:
    """How stored outputs differ from a fresh run's, empty if the run shows each of them again, in order (it may
    show more: live views and links, solved results, checks)."""
    (stored_views, stored_streams), (fresh_views, fresh_streams) = _shown(stored), _shown(fresh)
    remaining = iter(fresh_views)
    streams_hold = all(fresh_streams.get(name) == text for name, text in stored_streams.items())
    if streams_hold and all(view in remaining for view in stored_views):
        return ""
    before, after = stored_views + sorted(stored_streams.items()), fresh_views + sorted(fresh_streams.items())
    return "\n".join(difflib.unified_diff(str(before).split("\\n"), str(after).split("\\n"), "stored", "fresh",
                                          lineterm=""))


@pytest.fixture(scope="module")
def learner_runs(tmp_path_factory):
    """Each learner copy as stored and after Run All in a fresh kernel (which stops at an error no tag allows)."""
    runs = {}

    def run(chapter: pathlib.Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
        if chapter not in runs:
            learner = NOTEBOOKS / "learner" / chapter.name
            stored = nbformat.read(learner, as_version=4)
            runs[chapter] = stored, execute(nbformat.read(learner, as_version=4), tmp_path_factory.mktemp("run"))
        return runs[chapter]
    return run


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_run_all_reaches_the_last_cell_of_every_learner_copy(chapter, learner_runs):
    _, notebook = learner_runs(chapter)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "Run All stopped early"
    for cell in code:
        if _grading(cell).get("grade"):
            assert _errors(cell), f"a check passed on an untouched stub:\n{cell.source}"
            assert [e.ename for e in _errors(cell)] == ["CheckFailed"] and "FAIL" in json.dumps(cell.outputs)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_outputs_a_learner_copy_keeps_are_what_running_it_shows(chapter, learner_runs):
    stored, notebook = learner_runs(chapter)
    for before, cell in zip(stored.cells, notebook.cells):
        if cell.cell_type == "code" and "nbval-ignore-output" not in cell.metadata.get("tags", []):
            difference = _stale(before.outputs, cell.outputs)
            assert not difference, f"stale output under:\n{cell.source}\n{difference}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_learner_copies_start_clean(chapter):
    learner = nbformat.read(NOTEBOOKS / "learner" / chapter.name, as_version=4)
    assert "widgets" not in learner.metadata
    for cell in learner.cells:
        for output in cell.get("outputs", []):
            shown = "\n".join(str(value) for value in output.get("data", {}).values())
            assert "widget-view" not in json.dumps(output) and "Output(layout=" not in shown, cell.source
            assert not re.search(r'href="[^"]*(127\.0\.0\.1:\d|/proxy/\d)|listening on', shown), cell.source
        if _grading(cell):
            assert not cell.outputs and cell.execution_count is None, cell.source


def _run_twice(chapter: pathlib.Path, folder: pathlib.Path) -> str:
    """Run every cell of the chapter twice in one kernel; the first error of a cell not tagged to raise, or ""."""
    notebook = nbformat.read(chapter, as_version=4)
    runner = client(notebook, folder)
    with runner.setup_kernel():
        for time in ("first", "second"):
            for index, cell in enumerate(notebook.cells):
                if cell.cell_type == "code":
                    runner.execute_cell(cell, index)
                    if _errors(cell) and "raises-exception" not in cell.metadata.get("tags", []):
                        return f"{time} run:\n{cell.source}\n{_errors(cell)}"
    return ""


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_cell_runs_twice_in_one_kernel_while_another_kernel_runs_the_notebook(chapter, tmp_path):
    """A learner's second Run All passes in the same kernel, and two kernels running one notebook at once (two
    learners on one machine, in one folder) do not clash over ports, folders or files."""
    results: dict[str, object] = {}

    def run(name: str, job, *args):
        try:
            results[name] = job(*args)
        except Exception as error:  # reported below, with the kernel's own message
            results[name] = error

    runs = [threading.Thread(target=run, args=("twice", _run_twice, chapter, tmp_path)),
            threading.Thread(target=run, args=("beside", execute, nbformat.read(chapter, as_version=4), tmp_path))]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(1200)
    assert results.get("twice") == "", f"the kernel that ran it twice: {results.get('twice')}"
    assert isinstance(results.get("beside"), nbformat.NotebookNode), f"the other kernel: {results.get('beside')}"
