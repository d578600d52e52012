"""Learner copies and nbgrader releases, made by one list of nbgrader preprocessors.

nbgrader's ``generate_assignment`` turns a complete notebook into the notebook a learner gets. The workbook's
learner copies (``notebooks/learner/``) come out of the same preprocessors, so a learner copy and an nbgrader
release have identical cells. Three steps are the workbook's own:

* :class:`ClearSolutionsKeepingStartingCode` replaces nbgrader's ``ClearSolutions``: the same stubs, except that a
  solution region ending in a ``### LEARNER VERSION`` part (the buggy starting code of a "fix the bug" exercise,
  commented out) becomes that code, uncommented;
* :class:`StartClean` replaces nbgrader's ``ClearOutput``: no output that would mislead a learner opening the file.
  Solution and check cells, and cells that use what a solution defines (they show solved results), lose their
  outputs; so do widget views (their live state is gone) and outputs that point at a port of the kernel that made
  them (a server "listening", a link). Demonstrations keep theirs;
* :class:`RunAllPastUnsolved` tags check cells and cells that use what a solution defines ``raises-exception``,
  so Run All (JupyterLab, nbclient, nbval) goes on past an exercise not solved yet; nbgrader's autograde still
  scores the failing check 0.

:func:`release_preprocessors` is nbgrader's own list with these in place (a course's ``nbgrader_config.py`` sets
it); :func:`learner_copy` runs that list without the steps that need a course (header and footer files, test
templates, the gradebook). :func:`write_learner_copies` writes ``learner/NAME`` for every complete ``NN-*.ipynb``
of a folder; :func:`stale` lists the copies that differ from what it would write, for CI.
"""

from __future__ import annotations

import ast
import copy
import pathlib
import re

import nbformat
from IPython.core.inputtransformer2 import TransformerManager
from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import (ClearOutput, ClearSolutions, IncludeHeaderFooter, InstantiateTests,
                                    NbGraderPreprocessor, SaveCells)
from nbgrader.utils import is_grade, is_solution

from authoring.workspace import chapters

__all__ = ["LEARNER_VERSION", "ClearSolutionsKeepingStartingCode", "RunAllPastUnsolved", "StartClean",
           "learner_copy", "release_preprocessors", "stale", "uses_a_solution", "write_learner_copies"]

LEARNER_VERSION = "### LEARNER VERSION"
_COMMENT = re.compile(r"^(\s*)# ?")
_LOOPBACK = r"(?:127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+"
_LIVE_PORT = re.compile(rf'(?:href|src)="[^"]*(?://{_LOOPBACK}|/proxy/\d+)|listening on \S*{_LOOPBACK}')
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class ClearSolutionsKeepingStartingCode(ClearSolutions):
    """nbgrader's ClearSolutions, except that a region with a ``### LEARNER VERSION`` part becomes that part."""

    def _replace_solution_region(self, cell, language: str) -> bool:
        lines, region, kept = [], None, False
        for line in cell.source.split("\n"):
            if region is None and self.begin_solution_delimeter in line:
                region = [line]
            elif region is not None:
                region.append(line)
                if self.end_solution_delimeter in line:
                    starting_code = _starting_code(region)
                    kept = kept or starting_code is not None
                    lines.extend(region if starting_code is None else starting_code)
                    region = None
            else:
                lines.append(line)
        cell.source = "\n".join(lines + (region or []))
        return super()._replace_solution_region(cell, language) or kept


def _starting_code(region: list[str]) -> list[str] | None:
    """The uncommented learner version of a solution region (BEGIN to END lines), or None if it has none."""
    marks = [n for n, line in enumerate(region) if LEARNER_VERSION in line]
    if not marks:
        return None
    code = [_COMMENT.sub(r"\1", line).rstrip() for line in region[marks[0] + 1:-1]]
    while code and not code[-1]:
        code.pop()
    return code


def _defined_names(source: str) -> set[str]:
    """The names a cell defines at its top level (functions, classes, assignments)."""
    names = set()
    for node in _parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def uses_a_solution(notebook) -> set[int]:
    """Indexes of the code cells, neither solution nor check, that use a name an earlier solution cell defines."""
    defined: set[str] = set()
    users = set()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or is_grade(cell):
            continue
        if is_solution(cell):
            defined |= _defined_names(cell.source)
        elif defined & {n.id for n in ast.walk(_parse(cell.source)) if isinstance(n, ast.Name)}:
            users.add(index)
    return users


def _misleads(output) -> bool:
    data = output.get("data", {})
    return _WIDGET_VIEW in data or any(isinstance(v, str) and _LIVE_PORT.search(v) for v in data.values())


class StartClean(NbGraderPreprocessor):
    """Outputs a learner can trust on opening the notebook (see the module docstring)."""

    def preprocess(self, nb, resources):
        resources["solution_users"] = uses_a_solution(nb)
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if is_solution(cell) or is_grade(cell) or index in resources["solution_users"]:
            cell.outputs = []
        else:
            cell.outputs = [output for output in cell.outputs if not _misleads(output)]
        if not cell.outputs:
            cell.execution_count = None
        return cell, resources


class RunAllPastUnsolved(NbGraderPreprocessor):
    """Check cells and cells that use a solution may raise: Run All goes on (see the module docstring)."""

    def preprocess(self, nb, resources):
        resources["solution_users"] = uses_a_solution(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags", [])
        if (is_grade(cell) or index in resources["solution_users"]) and "raises-exception" not in tags:
            cell.metadata["tags"] = [*tags, "raises-exception"]
        return cell, resources


def release_preprocessors() -> list[type]:
    """nbgrader's generate_assignment preprocessors, with the workbook's three steps in place."""
    steps = []
    for step in GenerateAssignment.class_traits()["preprocessors"].default():
        if step is ClearSolutions:
            steps += [StartClean, RunAllPastUnsolved, ClearSolutionsKeepingStartingCode]
        elif step is not ClearOutput:
            steps.append(step)
    return steps


def learner_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's version of a complete notebook: its release, without a course (see the module docstring)."""
    copied, resources = copy.deepcopy(notebook), {}
    for step in release_preprocessors():
        if step not in (IncludeHeaderFooter, InstantiateTests, SaveCells):
            copied, resources = step().preprocess(copied, resources)
    return copied


def _pairs(folder: pathlib.Path):
    for source in chapters(folder):
        yield source, folder / "learner" / source.name


def _render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def write_learner_copies(folder: pathlib.Path) -> list[pathlib.Path]:
    """Write ``learner/NAME`` for every complete notebook in ``folder``; returns the files written."""
    written = []
    for source, target in _pairs(folder):
        target.parent.mkdir(exist_ok=True)
        target.write_text(_render(learner_copy(nbformat.read(source, as_version=4))))
        written.append(target)
    return written


def stale(folder: pathlib.Path) -> list[pathlib.Path]:
    """The learner copies that are missing or differ from what :func:`write_learner_copies` would write."""
    out = []
    for source, target in _pairs(folder):
        wanted = _render(learner_copy(nbformat.read(source, as_version=4)))
        if not target.exists() or target.read_text() != wanted:
            out.append(target)
    return out
