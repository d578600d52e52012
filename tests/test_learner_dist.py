"""The learner-only distribution (``course/learner_dist.py``): a ``learner`` branch with the learner copies and the
packages, never a complete notebook, a test or a solution; it only moves forward and stays in step with its source."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "course" / "learner_dist.py"
IDENTITY = ["-c", "user.name=Workbook Tests", "-c", "user.email=tests@example.test"]


def _git(repository: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repository), *IDENTITY, *args], capture_output=True, text=True,
                          check=True, timeout=120).stdout


def _build(repository: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--repository", str(repository)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def clone(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and the repository's history")
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(target)], check=True, timeout=300)
    return target


def _tree(repository: pathlib.Path, revision: str) -> dict[str, str]:
    listed = _git(repository, "ls-tree", "-r", "--full-tree", revision)
    return {line.split("\t", 1)[1]: line.split()[2] for line in listed.splitlines()}


def test_the_learner_branch_has_the_learner_copies_and_packages_and_nothing_with_solutions(clone):
    built = _build(clone)
    assert built.returncode == 0, built.stderr
    learner, source = _tree(clone, "learner"), _tree(clone, "HEAD")
    copies = {path: blob for path, blob in source.items() if path.startswith("notebooks/learner/")}
    assert copies and {p: b for p, b in learner.items() if p.endswith(".ipynb")} == copies
    for package in ("labkit/__init__.py", "servers/__init__.py", "pyproject.toml", "binder/requirements.txt"):
        assert learner[package] == source[package]
    assert not [p for p in learner if p.startswith(("tests/", "authoring/", "course/", ".ci/"))]
    for path in copies:
        cells = json.loads(_git(clone, "show", f"learner:{path}"))["cells"]
        assert not any("### BEGIN SOLUTION" in "".join(cell["source"]) for cell in cells), path


def test_a_build_that_changes_nothing_adds_nothing_and_a_change_moves_the_branch_forward(clone):
    assert _build(clone).returncode == 0
    first = _git(clone, "rev-parse", "learner").strip()
    again = _build(clone)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert _git(clone, "rev-parse", "learner").strip() == first
    readme = clone / "README.md"
    readme.write_text(readme.read_text() + "\nA note for this class.\n")
    _git(clone, "commit", "-q", "-am", "a note")
    assert _build(clone).returncode == 0
    second = _git(clone, "rev-parse", "learner").strip()
    assert second != first and _git(clone, "rev-parse", "learner^").strip() == first  # a fast-forward for pulls
    assert "A note for this class." in _git(clone, "show", "learner:README.md")


def test_a_learner_copy_that_still_holds_a_solution_stops_the_build(clone):
    copy = sorted((clone / "notebooks" / "learner").glob("*.ipynb"))[0]
    notebook = json.loads(copy.read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": ["### BEGIN SOLUTION\n", "answer = 42\n", "### END SOLUTION\n"]})
    copy.write_text(json.dumps(notebook))
    _git(clone, "commit", "-q", "-am", "a solution slipped in")
    built = _build(clone)
    assert built.returncode != 0 and copy.name in built.stderr and "learner-copies" in built.stderr
    assert subprocess.run(["git", "-C", str(clone), "rev-parse", "--verify", "-q", "learner"],
                          capture_output=True).returncode != 0
