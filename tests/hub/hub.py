"""A JupyterHub started as the README's recipe starts it (course/jupyterhub_config.py), on loopback and free
ports, with a service token for driving it through its REST API as an admin would."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import secrets
import subprocess
import time
import urllib.error
import urllib.request

from tests.peers import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
START_LIMIT = 60  # seconds for the hub and its proxy to answer


def _config(recipe: pathlib.Path, port: int, folder: pathlib.Path, proxy: pathlib.Path, token: str,
            users: list[str], instructor: str) -> str:
    return f"""
load_subconfig({str(recipe)!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {free_port()}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [{str(proxy)!r}]
c.ConfigurableHTTPProxy.pid_file = {str(folder / 'proxy.pid')!r}
c.JupyterHub.db_url = "sqlite:///{folder / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(folder / 'cookie_secret')!r}
c.Authenticator.admin_users = {{{instructor!r}}}
c.Authenticator.allowed_users = {set(users)!r}
c.JupyterHub.services.append({{"name": "class-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "class-test", "services": ["class-test"],
                                "scopes": ["admin:users", "admin:servers", "access:servers", "read:users"]}})
"""


class Hub:
    """A running hub: ``api`` calls its REST API, ``server`` a user's single-user server, both with the token."""

    def __init__(self, environment: pathlib.Path, folder: pathlib.Path, proxy: pathlib.Path, users: list[str],
                 instructor: str):
        self.token, self.port = secrets.token_hex(24), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "jupyterhub_config.py"
        config.write_text(_config(ROOT / "course" / "jupyterhub_config.py", self.port, folder, proxy, self.token,
                                  users, instructor))
        self.log = (folder / "jupyterhub.log").open("wb")
        self.process = subprocess.Popen([str(environment / "bin" / "jupyterhub"), "-f", str(config)],
                                        cwd=folder, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.log_path = folder / "jupyterhub.log"

    def wait(self) -> None:
        """Return once the hub answers through its proxy; fail with the end of its log otherwise."""
        deadline = time.monotonic() + START_LIMIT
        while True:
            assert self.process.poll() is None, f"the hub exited:\n{self.tail()}"
            try:
                self.api("GET", "/hub/api/")
                return
            except (OSError, urllib.error.HTTPError):
                assert time.monotonic() < deadline, f"the hub did not answer within {START_LIMIT} s:\n{self.tail()}"
                time.sleep(0.5)

    def tail(self, size: int = 4000) -> str:
        """The end of the hub's log."""
        return self.log_path.read_text(errors="replace")[-size:]

    def api(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        """Call ``path`` (under the hub's URL) with the token; the decoded JSON answer (or ``None`` if empty)."""
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def page(self, path: str, timeout: float = 30) -> str:
        """The body of a GET of ``path`` (under the hub's URL) with the token, as text."""
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.read().decode()

    def status(self, path: str, timeout: float = 30) -> int:
        """The HTTP status of a GET of ``path`` with the token (redirects not followed)."""
        class Stay(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.build_opener(Stay).open(request, timeout=timeout) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def spawn(self, names: list[str], limit: float = 180) -> float:
        """Start the servers of ``names`` at once through the REST API; the seconds until all were ready."""
        started = time.monotonic()
        for name in names:
            self.api("POST", f"/hub/api/users/{name}/server")
        pending = set(names)
        while pending:
            for name in list(pending):
                if self.api("GET", f"/hub/api/users/{name}")["servers"].get("", {}).get("ready"):
                    pending.discard(name)
            assert time.monotonic() - started < limit, f"not ready in {limit} s: {pending}\n{self.tail()}"
            time.sleep(0.5)
        return time.monotonic() - started

    def stop_servers(self, names: list[str], limit: float = 60) -> None:
        """Stop the servers of ``names`` through the REST API and return once the hub says they are gone."""
        for name in names:
            try:
                self.api("DELETE", f"/hub/api/users/{name}/server")
            except urllib.error.HTTPError as error:
                assert error.code in (202, 204, 404), error
        deadline = time.monotonic() + limit
        while any(self.api("GET", f"/hub/api/users/{name}")["servers"] for name in names):
            assert time.monotonic() < deadline, f"servers still running after {limit} s\n{self.tail()}"
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the hub (SIGTERM, then SIGKILL after a bounded wait) and its proxy."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        try:  # the proxy it started, if the hub could not stop it
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()
