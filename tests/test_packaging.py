"""Packaging: Binder's pins match pyproject.toml, and the workbook imports on every supported Python.

tests/test_binder.py builds Binder's environment and runs a chapter in it.
"""

import pathlib
import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pins() -> dict[str, Requirement]:
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {req.name.lower().replace("_", "-"): req for req in reqs}


def test_binder_pins_every_dependency_the_hub_extra_and_the_build_backend_exactly_within_pyproject_ranges():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    needed = project["dependencies"] + project["optional-dependencies"]["hub"] + pyproject["build-system"]["requires"]
    wanted = {Requirement(dep).name.lower(): Requirement(dep) for dep in needed}
    pins = _pins()
    assert set(pins) == set(wanted)
    for name, pin in pins.items():
        (spec,) = pin.specifier
        assert spec.operator == "==", f"{name} is not pinned exactly in binder/requirements.txt"
        assert wanted[name].specifier.contains(spec.version), f"{name}=={spec.version} is outside pyproject's range"
        assert pin.extras == wanted[name].extras


def test_binder_runtime_and_post_build():
    assert re.fullmatch(r"python-3\.1[1-3]\n", (ROOT / "binder" / "runtime.txt").read_text())
    post_build = (ROOT / "binder" / "postBuild").read_text()
    assert "--no-deps" in post_build and "--no-build-isolation" in post_build  # tests/test_binder.py builds it


def test_readme_links_binder_to_the_first_chapter():
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"mybinder\.org/v2/gh/[^)\s]+\?urlpath=lab/tree/notebooks/learner/01-getting-started\.ipynb",
                     readme)
    assert "make lab" in readme and "make test" in readme


@pytest.mark.parametrize("version", ["3.12", "3.13"])
def test_the_workbook_installs_and_runs_on_newer_pythons(version, tmp_path):
    interpreter = None
    if shutil.which("pyenv"):  # pyenv keeps other Pythons under its root (its shims only run the active one)
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        found = sorted(pathlib.Path(root.stdout.strip(), "versions").glob(f"{version}.*/bin/python"))
        interpreter = str(found[-1]) if root.returncode == 0 and found else None
    if interpreter is None:
        candidate = shutil.which(f"python{version}")
        interpreter = candidate if candidate and "/shims/" not in candidate else None
    if interpreter is None:
        pytest.skip(f"Python {version} is not installed here")
    venv = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-2000:]
    code = ("import labkit, servers, authoring.__main__\n"  # the wheel holds all three packages
            "s = labkit.serve('echo')\n"
            "import socket\n"
            "c = socket.create_connection(('127.0.0.1', s.port)); c.sendall(b'hi\\nquit\\n')\n"
            "data = b''\n"
            "while chunk := c.recv(100): data += chunk\n"
            "assert data == b'You said: hi\\r\\nGoodbye.\\r\\n', data\n"
            "print('ok')\n")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.stdout.strip() == "ok", run.stderr[-2000:]
