"""labkit.learner: learner copies come out of nbgrader's preprocessors, with the workbook's three steps; a learner's
workspace gets new chapters and keeps their own files (``python -m labkit workspace``, run by ``make lab``)."""

import pathlib
import re
import shutil
import subprocess

import nbformat
import pytest
from nbgrader.preprocessors import ClearOutput, ClearSolutions, LockCells, SaveCells

from labkit.learner import (ClearSolutionsKeepingStartingCode, RunAllPastUnsolved, StartClean, learner_copy,
                            release_preprocessors, stale, write_learner_copies)
from labkit.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[1]

STUB = ClearSolutions().code_stub["python"]


def _cell(source, *outputs, **grading):
    cell = nbformat.v4.new_code_cell(source)
    if grading:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "task": False, "grade": False,
                                     "solution": False, "grade_id": f"id-{abs(hash(source))}", **grading}
    cell.outputs = list(outputs) or [nbformat.v4.new_output("stream", text="shown\n")]
    cell.execution_count = 1
    return cell


def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def _rich(text, html=None, **more):
    return nbformat.v4.new_output("display_data", data={"text/plain": text, "text/html": html or text, **more})


def test_solution_regions_become_indented_stubs_and_outputs_are_cleared():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n\n\ny = 1"
    (cell,) = learner_copy(_notebook(_cell(source, solution=True))).cells
    stub = "\n".join("    " + line for line in STUB.splitlines())
    assert cell.source == f"def f(x):\n{stub}\n\n\ny = 1"
    assert cell.outputs == [] and cell.execution_count is None


def test_a_whole_cell_solution_without_markers_becomes_the_stub():
    (cell,) = learner_copy(_notebook(_cell("x = 42", solution=True))).cells
    assert cell.source == STUB


def test_learner_versions_replace_the_fix_with_the_buggy_code_even_in_a_class_body():
    source = ("class P:\n    ### BEGIN SOLUTION\n    pages = {b'/': b'home'}\n    ### LEARNER VERSION\n"
              "    # pages = {'/': b'home'}\n    #\n    # def m(self):\n    #     return 'ok'\n"
              "    ### END SOLUTION\n")
    (cell,) = learner_copy(_notebook(_cell(source, solution=True))).cells
    assert cell.source == "class P:\n    pages = {'/': b'home'}\n\n    def m(self):\n        return 'ok'\n"
    namespace = {}
    exec(cell.source, namespace)
    assert namespace["P"].pages == {"/": b"home"}


def test_a_cell_can_mix_a_learner_version_and_a_stub():
    source = ("def a():\n    ### BEGIN SOLUTION\n    return 1\n    ### LEARNER VERSION\n    # return '1'\n"
              "    ### END SOLUTION\n\ndef b():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION")
    (cell,) = learner_copy(_notebook(_cell(source, solution=True))).cells
    stub = "\n".join("    " + line for line in STUB.splitlines())
    assert cell.source == f"def a():\n    return '1'\n\ndef b():\n{stub}"


def test_hidden_tests_are_removed_check_cells_locked_and_demo_outputs_kept():
    check = _cell("check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n", grade=True,
                  points=1, locked=True)
    demo = _cell("print('shown')")
    copied_check, copied_demo = learner_copy(_notebook(check, demo)).cells
    assert copied_check.source == "check(f)\n" and copied_check.outputs == []
    assert copied_check.metadata["editable"] is False
    assert copied_demo.outputs == demo.outputs and copied_demo.execution_count == 1


def test_check_cells_and_cells_using_a_solution_let_run_all_go_on():
    solution = _cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", solution=True)
    check = _cell("check(f)", grade=True, points=1, locked=True)
    user = _cell("print(f(2))")
    bystander = _cell("print(g(2))")
    copied = learner_copy(_notebook(solution, check, user, bystander)).cells
    assert [c.metadata.get("tags", []) for c in copied] == [[], ["raises-exception"], ["raises-exception"], []]
    assert copied[2].outputs == [] and copied[3].outputs == bystander.outputs


def test_stale_outputs_go_true_demonstrations_stay():
    widget = _rich("Output(layout=Layout(border='1px'))", **{
        "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0}})
    listening = _rich("<Server echo: listening on tcp://127.0.0.1:44929/>")
    link = _rich("Open it: http://127.0.0.1:4000/", '<a href="http://127.0.0.1:4000/">Open it</a>')
    proxied = _rich("Open it", '<a href="/user/ada/proxy/4000/">Open it</a>')
    transcript = _rich("-- connection 1 opened (127.0.0.1:43900)\nC: GET http://127.0.0.1:4000/ HTTP/1.1")
    printed = nbformat.v4.new_output("stream", text="listening on tcp://127.0.0.1:44929/\n")
    notebook = _notebook(_cell("serve()", widget, listening, link, proxied, transcript, printed),
                         _cell("labkit.open_link(server)", link))
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    copied = learner_copy(notebook)
    assert copied.cells[0].outputs == [transcript, printed] and copied.cells[0].execution_count == 1
    assert copied.cells[1].outputs == [] and copied.cells[1].execution_count is None
    assert "widgets" not in copied.metadata


def test_the_release_list_is_nbgraders_with_the_workbooks_steps_in_place():
    steps = release_preprocessors()
    assert ClearSolutions not in steps and ClearOutput not in steps
    assert steps.index(StartClean) < steps.index(ClearSolutionsKeepingStartingCode)
    assert steps.index(RunAllPastUnsolved) < steps.index(ClearSolutionsKeepingStartingCode)
    assert steps.index(LockCells) < steps.index(StartClean) and SaveCells in steps


def test_stale_reports_missing_and_outdated_copies(tmp_path):
    nbformat.write(_notebook(_cell("x = 1")), tmp_path / "01-a.ipynb")
    assert [p.name for p in stale(tmp_path)] == ["01-a.ipynb"]
    write_learner_copies(tmp_path)
    assert stale(tmp_path) == []
    nbformat.write(_notebook(_cell("x = 2")), tmp_path / "01-a.ipynb")
    assert [p.name for p in stale(tmp_path)] == ["01-a.ipynb"]


def test_the_workspace_gets_new_chapters_and_never_overwrites_a_learners_file(tmp_path, capsys):
    copies, workspace = tmp_path / "learner", tmp_path / "workspace"
    copies.mkdir()
    (copies / "01-a.ipynb").write_text("chapter 1, first release")
    assert main(["workspace", str(copies), str(workspace)]) == 0
    assert (workspace / "01-a.ipynb").read_text() == "chapter 1, first release"
    (workspace / "01-a.ipynb").write_text("chapter 1, my answers")
    (copies / "01-a.ipynb").write_text("chapter 1, updated")
    (copies / "02-b.ipynb").write_text("chapter 2")
    capsys.readouterr()
    assert main(["workspace", str(copies), str(workspace)]) == 0
    assert (workspace / "01-a.ipynb").read_text() == "chapter 1, my answers"
    assert (workspace / "02-b.ipynb").read_text() == "chapter 2"
    told = capsys.readouterr().out
    assert "added" in told and "02-b.ipynb" in told and "kept your 1 notebook" in told


def test_make_lab_opens_the_gitignored_workspace_it_fills(tmp_path):
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed")
    planned = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    fill = next(n for n, line in enumerate(planned) if "-m labkit workspace notebooks/learner workspace" in line)
    assert re.search(r"jupyter lab workspace/", planned[fill + 1])
    ignored = subprocess.run(["git", "check-ignore", "-q", "workspace/01-getting-started.ipynb"], cwd=ROOT)
    assert ignored.returncode == 0
