"""A real Jupyter server and headless Chromium for the browser tests (what several test files share).

``jupyter`` starts a Jupyter server on 127.0.0.1 with a random token and the base URL :data:`BASE`, configured
only by the installed packages (so jupyter-server-proxy runs because its package enables itself); ``chromium``
is the browser's binary, or the test is skipped naming how to install it; ``plain_environment`` (autouse where
imported) clears what would make labkit find another Jupyter server or a hub.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from labkit import browser
from tests.chromium import find_chromium

BASE = "/wb/"  # a Jupyter base URL that is not "/", as on a hub (/user/NAME/)

ENV_VARS = ("JUPYTERHUB_SERVICE_PREFIX", browser.VIA_ENV, "JPY_PARENT_PID")


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch, tmp_path):
    """No hub, no forced choice, no Jupyter server to be found: each test sets what it needs."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "runtime"
    empty.mkdir()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(empty))


def _wait_for(condition, what: str, limit: float, process: subprocess.Popen, log) -> object:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Jupyter server exited ({process.returncode}) before {what}:\n"
                               f"{log.read_text()[-3000:]}")
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise TimeoutError(f"no {what} within {limit:g} s:\n{log.read_text()[-3000:]}")


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@pytest.fixture(scope="module")
def chromium():
    from tests.peers import missing

    binary = find_chromium()
    if binary is None:
        missing("chromium not installed: apt-get install chromium")
    return binary


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """A real Jupyter server on 127.0.0.1, a free port, a random token, base URL BASE, configured only by the
    installed packages (so jupyter-server-proxy runs because its package enables itself)."""
    home = tmp_path_factory.mktemp("jupyter")
    dirs = {name: home / name for name in ("runtime", "config", "data", "root")}
    for path in dirs.values():
        path.mkdir()
    token = secrets.token_hex(16)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTERHUB_", "JUPYTER_", "JPY_")) and key != browser.VIA_ENV}
    env.update(JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_CONFIG_DIR=str(dirs["config"]),
               JUPYTER_DATA_DIR=str(dirs["data"]))
    command = [sys.executable, "-m", "jupyter_server", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=0",
               "--ServerApp.port_retries=0", "--ServerApp.open_browser=False", f"--IdentityProvider.token={token}",
               f"--ServerApp.base_url={BASE}", f"--ServerApp.root_dir={dirs['root']}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, cwd=dirs["root"], start_new_session=True)
    try:
        info_file = dirs["runtime"] / f"jpserver-{process.pid}.json"

        def info():
            try:
                return json.loads(info_file.read_text())
            except (OSError, ValueError):
                return None

        details = _wait_for(info, "server info file", 30, process, log)
        status = f"{details['url']}api/status?token={token}"
        _wait_for(lambda: _get(status)[0] == 200, "answer from /api/status", 30, process, log)
        yield {**details, "token": token, "runtime_dir": str(dirs["runtime"]), "log": log}
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _with_token(url: str, token: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}token={token}"
