"""labkit.learner: how learner copies are made from complete notebooks."""

import nbformat

from labkit.learner import STUB, learner_copy, stale, write_learner_copies


def _cell(source, **grading):
    cell = nbformat.v4.new_code_cell(source)
    if grading:
        cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "task": False, "grade": False,
                                     "solution": False, "grade_id": "x", **grading}
    cell.outputs = [nbformat.v4.new_output("stream", text="shown\n")]
    cell.execution_count = 1
    return cell


def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = list(cells)
    return notebook


def test_solution_regions_become_indented_stubs_and_outputs_are_cleared():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION\n\n\ny = 1"
    (cell,) = learner_copy(_notebook(_cell(source, solution=True))).cells
    assert cell.source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n\ny = 1"
    assert cell.outputs == [] and cell.execution_count is None


def test_a_whole_cell_solution_without_markers_becomes_the_stub():
    (cell,) = learner_copy(_notebook(_cell("x = 42", solution=True))).cells
    assert cell.source == STUB


def test_learner_versions_replace_the_fix_with_the_buggy_code():
    source = ("class P:\n    def m(self, line):\n        ### BEGIN SOLUTION\n        return b'ok ' + line\n"
              "        ### LEARNER VERSION\n        # return 'ok ' + line\n        ### END SOLUTION\n")
    (cell,) = learner_copy(_notebook(_cell(source, solution=True))).cells
    assert cell.source == "class P:\n    def m(self, line):\n        return 'ok ' + line\n"


def test_hidden_tests_are_removed_and_demo_outputs_kept():
    check = _cell("check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\n", grade=True,
                  points=1)
    demo = _cell("print('shown')")
    copied_check, copied_demo = learner_copy(_notebook(check, demo)).cells
    assert copied_check.source == "check(f)\n" and copied_check.outputs == []
    assert copied_demo.outputs == demo.outputs and copied_demo.execution_count == 1


def test_stale_reports_missing_and_outdated_copies(tmp_path):
    nbformat.write(_notebook(_cell("x = 1")), tmp_path / "01-a.ipynb")
    assert [p.name for p in stale(tmp_path)] == ["01-a.ipynb"]
    write_learner_copies(tmp_path)
    assert stale(tmp_path) == []
    nbformat.write(_notebook(_cell("x = 2")), tmp_path / "01-a.ipynb")
    assert [p.name for p in stale(tmp_path)] == ["01-a.ipynb"]
