"""Learner copies: the complete notebooks with the solutions taken out.

Promises, for every ``NN-*.ipynb`` in a folder, written to ``learner/`` beside it:

* solution regions (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) become a stub that raises
  ``NotImplementedError`` (nbgrader's convention), indented like the region; whole-cell solutions too;
* a region that ends in a ``### LEARNER VERSION`` part (commented-out code, for "fix the bug" exercises) becomes
  that code, uncommented, instead of the stub (nbgrader itself would put its stub there);
* hidden tests (``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``) are removed from check cells;
* outputs of solution and check cells are cleared; every other output (the demonstrations) is kept;
* :func:`stale` lists the learner copies that differ from what would be generated, for CI.
"""

from __future__ import annotations

import copy
import pathlib
import re

import nbformat

__all__ = ["STUB", "learner_copy", "stale", "write_learner_copies"]

STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.M | re.S)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n.*?^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)", re.M | re.S)


def _stub(match: re.Match) -> str:
    indent, region = match.group(1), match.group(0)
    lines = STUB.splitlines()
    if "### LEARNER VERSION" in region:
        learner = region.split("### LEARNER VERSION", 1)[1].split("\n")[1:]
        learner = [line for line in learner if "### END SOLUTION" not in line]
        lines = [re.sub(r"^(\s*)# ?", r"\1", line)[len(indent):] if line.strip() else "" for line in learner]
        while lines and not lines[-1]:
            lines.pop()
    ending = "\n" if match.group(2) else ""
    return "\n".join(f"{indent}{line}" if line else "" for line in lines) + ending


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def learner_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner's version of a complete notebook (see the module docstring)."""
    copied = copy.deepcopy(notebook)
    for cell in copied.cells:
        grading = _grading(cell)
        if cell.cell_type != "code":
            continue
        if grading.get("solution"):
            source = cell.source
            cell.source = _SOLUTION.sub(_stub, source) if "### BEGIN SOLUTION" in source else STUB
        if grading.get("grade"):
            cell.source = _HIDDEN.sub("", cell.source)
        if grading.get("solution") or grading.get("grade"):
            cell.outputs = []
            cell.execution_count = None
    return copied


def _pairs(folder: pathlib.Path):
    for source in sorted(folder.glob("[0-9][0-9]-*.ipynb")):
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
