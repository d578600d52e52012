"""The workbook on the learner's own Python: the notebooks' checked outputs hold on 3.12 and 3.13 too.

For each Python found (``python3.X`` on PATH, else under pyenv), a virtual environment with the workbook installed
(``pip install -e '.[test]'``) is built once and kept in ``build/pythons/`` under a name made of pyproject.toml's
hash, so it is rebuilt only when the dependencies change. Then nbval runs the notebooks in it, two at a time, with
the kernel of that environment. To keep ``make test`` bounded, these are the notebooks whose outputs differed
between versions: chapter 1 (a docstring, which 3.13 dedents), chapter 4 (a traceback's carets, which 3.13 draws
differently under a call), chapter 8 (smtplib's verbs, lower case since 3.13) and chapter 11 (daemons started as
an ordinary user, who must reach the interpreter's shared libpython). ``make test`` runs every notebook on the
Python of ``.venv``.

A Python that is not installed is skipped, naming how to install it. One that is installed but whose environment
cannot be built, or whose notebooks fail, fails the test.
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "pythons"
NOTEBOOKS = ["01-getting-started.ipynb", "04-web-servers.ipynb", "08-mail-servers.ipynb",
             "11-services-processes-and-logging.ipynb"]
BUILD_LIMIT = 1200  # seconds for pip to build one environment (a minute or two from a warm cache)
NOTEBOOK_LIMIT = 900  # seconds for one notebook, every cell included


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` ("3.13"): ``python3.13`` on PATH, else the newest one under pyenv's root.
    Only one that runs and says it is that version counts (a pyenv shim of an uninstalled version does not)."""
    pyenv = pathlib.Path(os.environ.get("PYENV_ROOT", pathlib.Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}"),
                  *sorted(glob.glob(str(pyenv / "versions" / f"{version}.*" / "bin" / f"python{version}")),
                          reverse=True)]
    for candidate in filter(None, candidates):
        try:
            said = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if said.returncode == 0 and said.stdout.strip() == version:
            return candidate
    return None


def environment(python: str, version: str) -> pathlib.Path:
    """The virtual environment of ``python`` with the workbook installed, built unless the one for this
    pyproject.toml is already there; environments of older pyproject.toml files are removed."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    folder = BUILD / key / f"python{version}"
    for old in BUILD.glob("*"):
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    if (folder / ".installed").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # a build that stopped half way
    for step in ([python, "-m", "venv", str(folder)],
                 [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"]):
        built = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_LIMIT)
        assert built.returncode == 0, f"{' '.join(step)} failed:\n{built.stdout[-3000:]}{built.stderr[-3000:]}"
    (folder / ".installed").touch()
    return folder


def run_notebook(folder: pathlib.Path, notebook: str) -> tuple[str, int, str]:
    """nbval on one notebook with the environment's own kernel (``--nbval-current-env``) and its tools first on
    PATH, as ``make test`` runs them: the notebook, pytest's exit status and the end of its report."""
    command = [str(folder / "bin" / "python"), "-m", "pytest", "--nbval", "--nbval-current-env",
               f"notebooks/{notebook}", "--nbval-sanitize-with", "notebooks/sanitize.cfg",
               "--nbval-cell-timeout", "120", "-p", "no:cacheprovider", "-q"]
    env = {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    try:
        ran = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=NOTEBOOK_LIMIT)
    except subprocess.TimeoutExpired as late:
        return notebook, -1, f"took longer than {NOTEBOOK_LIMIT} s\n{(late.stdout or b'')[-3000:]!r}"
    return notebook, ran.returncode, (ran.stdout + ran.stderr)[-6000:]


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_the_notebooks_outputs_hold_on_this_python(version):
    python = find_python(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed: `pyenv install {version}` (or `uv python install "
                    f"{version}`), or your distribution's python{version} package, then run the tests again")
    folder = environment(python, version)
    probe = subprocess.run([str(folder / "bin" / "python"), "-c",
                            "import sys, labkit; print('%d.%d' % sys.version_info[:2], labkit.__file__)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == [version, str(ROOT / "labkit" / "__init__.py")], probe.stderr
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda notebook: run_notebook(folder, notebook), NOTEBOOKS))
    failed = [f"== {notebook} (exit status {status}) ==\n{report}" for notebook, status, report in results
              if status != 0]
    assert not failed, f"on Python {version}:\n" + "\n".join(failed)
