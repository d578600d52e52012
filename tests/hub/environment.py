"""The class's shared environment as the README's recipe builds it (binder/requirements.txt, course/hub-requirements
.txt, the workbook itself, configurable-http-proxy from npm), in a folder of its own that every user may read.

The dependencies are kept between runs under a folder named after what they were built from, so a second run only
reinstalls the workbook; a build that did not finish is never reused."""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path("/var/cache/twisted-workbook-hub-test")
PROXY = "configurable-http-proxy@5.3.0"
BUILD_LIMIT = 1200  # seconds for pip or npm from a cold cache
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, as the recipe uses: every user may run it (a pyenv under /root not)


class BuildFailed(AssertionError):
    """A step of the build failed; the message has the end of its output."""


def _run(command: list[str], **options) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_LIMIT, **options)
    if done.returncode != 0:
        raise BuildFailed(f"{' '.join(command)} failed:\n{(done.stdout + done.stderr)[-3000:]}")


def _key() -> str:
    made_from = [ROOT / "binder" / "requirements.txt", ROOT / "course" / "hub-requirements.txt"]
    version = subprocess.run([SYSTEM_PYTHON, "--version"], capture_output=True, text=True, timeout=30).stdout
    digest = hashlib.sha256(version.encode() + PROXY.encode())
    for path in made_from:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build(npm: str) -> pathlib.Path:
    """The environment's folder (``bin/jupyterhub``, ``bin/python`` with the workbook, ``proxy/`` with
    ``node_modules/.bin/configurable-http-proxy``), built now or reused; readable by every user."""
    folder = CACHE / _key()
    if not (folder / ".complete").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        _run([SYSTEM_PYTHON, "-m", "venv", str(folder)])
        _run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(ROOT / "binder" /
              "requirements.txt"), "-r", str(ROOT / "course" / "hub-requirements.txt")])
        _run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder / "proxy"), PROXY])
        (folder / ".complete").touch()
    # the workbook as binder/postBuild installs it: not editable, without resolving anything again
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
          "--force-reinstall", str(ROOT)], env=environment, cwd=str(folder))
    for path in (CACHE, folder):
        path.chmod(0o755)
    return folder


def proxy(folder: pathlib.Path) -> pathlib.Path:
    """configurable-http-proxy as npm installed it into the environment's folder."""
    return folder / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
