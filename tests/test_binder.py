"""Binder builds: the environment repo2docker makes from ``binder/``, built here and used to run chapter 1.

As repo2docker does for a ``requirements.txt`` and a ``postBuild``: a fresh environment, ``pip install -r
binder/requirements.txt``, then ``bash binder/postBuild`` with a copy of the repository as the working directory
and the environment's ``bin`` first on PATH. Then chapter 1 runs in that environment's own kernel, driven by its
own nbclient: the complete notebook without an error, and the learner copy (Binder's launch link) to its last cell,
with labkit imported from the environment, not from the repository's folder.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTER = "01-getting-started.ipynb"
BUILD_LIMIT = 1200  # seconds for pip to install Binder's pins (from a warm cache it takes a minute or two)

# Runs inside the built environment: executes a notebook, reports which cells raised and where labkit came from.
RUNNER = """
import json, pathlib, sys
import nbformat
from nbclient import NotebookClient
path, allow_errors = sys.argv[1], sys.argv[2] == "allow"
notebook = nbformat.read(path, as_version=4)
notebook.cells.append(nbformat.v4.new_code_cell("import labkit, sys; print(sys.prefix); print(labkit.__file__)"))
NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=allow_errors,
               resources={"metadata": {"path": str(pathlib.Path(path).parent)}}).execute()
code = [cell for cell in notebook.cells if cell.cell_type == "code"]
print(json.dumps({
    "errors": [[n, o.ename, set(cell.metadata.get("tags", [])) >= {"raises-exception"}]
               for n, cell in enumerate(code) for o in cell.outputs if o.output_type == "error"],
    "ran": [cell.execution_count is not None for cell in code],
    "probe": "".join(o.get("text", "") for o in code[-1].outputs).split(),
}))
"""


def _repository_copy(target: pathlib.Path) -> pathlib.Path:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    if runtime != f"python-{sys.version_info.major}.{sys.version_info.minor}":
        pytest.skip(f"binder/runtime.txt asks for {runtime}; this is Python {sys.version.split()[0]}")
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the repository as a clone would have it")
    base = tmp_path_factory.mktemp("binder")
    repo, env = _repository_copy(base / "repo"), base / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, timeout=120)
    path = f"{env / 'bin'}{os.pathsep}{os.environ['PATH']}"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")} | {"PATH": path}
    for command in ([str(env / "bin" / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
                    ["bash", "binder/postBuild"]):
        built = subprocess.run(command, cwd=repo, env=environ, capture_output=True, text=True, timeout=BUILD_LIMIT)
        assert built.returncode == 0, f"{' '.join(command)} failed:\n{built.stderr[-3000:]}"
    return repo, env, environ


def _run(binder_env, notebook: str, allow_errors: bool) -> dict:
    repo, env, environ = binder_env
    run = subprocess.run([str(env / "bin" / "python"), "-c", RUNNER, str(repo / "notebooks" / notebook),
                          "allow" if allow_errors else "stop"], cwd=repo, env=environ, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    prefix, labkit_file = result["probe"]
    assert pathlib.Path(prefix) == env and "site-packages" in labkit_file and not labkit_file.startswith(str(repo))
    return result


def test_postbuild_installs_the_workbook_and_the_hub_extensions_without_anything_missing(binder_env):
    repo, env, environ = binder_env
    found = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "check"], env=environ, capture_output=True,
                           text=True)
    assert found.returncode == 0, found.stdout
    assert re.search(r"twisted-workbook\s", subprocess.run(
        [str(env / "bin" / "python"), "-m", "pip", "list"], env=environ, capture_output=True, text=True).stdout)
    extensions = subprocess.run([str(env / "bin" / "jupyter"), "server", "extension", "list"], env=environ,
                                capture_output=True, text=True)
    listed = extensions.stdout + extensions.stderr
    # learners' servers in a browser tab; the learner copies handed out and updated on a hub
    for extension in ("jupyter_server_proxy", "nbgitpuller"):
        assert re.search(rf"{extension}\b.*enabled", listed), listed


def test_the_complete_chapter_runs_without_an_error(binder_env):
    result = _run(binder_env, CHAPTER, allow_errors=True)
    assert result["errors"] == [] and all(result["ran"])


def test_the_learner_copy_runs_to_its_last_cell(binder_env):
    result = _run(binder_env, f"learner/{CHAPTER}", allow_errors=False)
    assert all(result["ran"]), f"Run All stopped: {result['errors']}"
    assert result["errors"] and all(ename == "CheckFailed" and tagged for _, ename, tagged in result["errors"])
