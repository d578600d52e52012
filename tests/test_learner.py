"""authoring.learner: learner copies come out of nbgrader's preprocessors, with the workbook's three steps, and
nbgrader loads the course configuration without Twisted; a learner's workspace gets new chapters and keeps their own
files (``python -m authoring workspace``, run by ``make lab``), and ``make lab`` installs no instructor tools."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.preprocessors import ClearOutput, ClearSolutions, LockCells, SaveCells

from authoring.__main__ import main
from authoring.execution import KERNEL_STARTUP
from authoring.learner import (ClearSolutionsKeepingStartingCode, RunAllPastUnsolved, StartClean, learner_copy,
                               release_preprocessors, stale, write_learner_copies)

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


def _make(*args: str, **options) -> subprocess.CompletedProcess:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.skip("make and git are needed")
    return subprocess.run(["make", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, **options)


def test_make_lab_installs_no_instructor_tools_and_opens_the_gitignored_workspace_it_fills():
    planned = _make("-n", "-B", "lab").stdout.splitlines()  # -B: the set-up steps too, as on first use
    installs = [line for line in planned if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv-lab/bin/python -m pip install --quiet -e ."], planned
    fill = next(n for n, line in enumerate(planned) if "-m authoring workspace notebooks/learner workspace" in line)
    assert re.search(r"jupyter lab workspace/", planned[fill + 1])
    tested = [line for line in _make("-n", "-B", "test").stdout.splitlines() if "pip install" in line]
    assert any("-e '.[test]'" in line and line.startswith(".venv/bin/") for line in tested), tested
    for ignored in ("workspace/01-getting-started.ipynb", ".venv-lab/bin/python"):
        assert subprocess.run(["git", "check-ignore", "-q", ignored], cwd=ROOT).returncode == 0, ignored


def test_make_lab_puts_the_lab_environments_tools_first_on_the_labs_path(tmp_path):
    """The lab's terminals inherit JupyterLab's PATH: twistd, ckeygen and trial come from the lab's environment."""
    venv, workspace, told = tmp_path / "venv", tmp_path / "workspace", tmp_path / "told"
    (venv / "bin").mkdir(parents=True)
    fakes = {"python": f'#!/bin/sh\nexec {sys.executable} "$@"\n',
             "jupyter": f'#!/bin/sh\necho "$PATH" > {told}\necho "$@" >> {told}\n'}
    for name, script in fakes.items():
        (venv / "bin" / name).write_text(script)
        (venv / "bin" / name).chmod(0o755)
    (venv / ".installed").touch()  # set up already: newer than pyproject.toml
    made = _make("lab", f"LAB_VENV={venv}", f"WORKSPACE={workspace}")
    assert made.returncode == 0, made.stderr
    path, arguments = told.read_text().splitlines()
    assert path.split(":")[0] == str(venv / "bin") and arguments.startswith(f"lab {workspace}/")
    assert (workspace / "01-getting-started.ipynb").exists()


# Loads the course configuration as nbgrader does (from the working folder), then reports what it set and whether
# anything of Twisted or of the kernel's runtime came along.
LOAD_CONFIG = """
import json, sys, threading
from nbgrader.apps import NbGraderApp
app = NbGraderApp()
app.initialize([])
print(json.dumps({
    "steps": [step.__name__ for step in app.config.GenerateAssignment.preprocessors],
    "startup": app.config.Execute.startup_timeout,
    "imported": sorted(name for name in sys.modules if name.split(".")[0] in ("twisted", "labkit")),
    "threads": [thread.name for thread in threading.enumerate()],
}))
"""


def test_loading_the_nbgrader_configuration_imports_no_twisted_and_starts_no_reactor(tmp_path):
    shutil.copy(ROOT / "course" / "nbgrader_config.py", tmp_path)
    loaded = subprocess.run([sys.executable, "-c", LOAD_CONFIG], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    told = json.loads(loaded.stdout.splitlines()[-1])
    assert told["steps"] == [step.__name__ for step in release_preprocessors()]
    assert "StartClean" in told["steps"] and told["startup"] == KERNEL_STARTUP
    assert told["imported"] == [] and told["threads"] == ["MainThread"]
