"""Logins across learners: code a learner's kernel runs to serve chapter 10's practice SSH server and a manhole
and chapter 6's auth server, and code any kernel runs to try logging in to them with the password and keys that
kernel has. The test compares what the owner's kernel and another learner's kernel get."""

from __future__ import annotations

import json

SERVE = """
import json as _json
import labkit
from servers.ssh import ssh as _ssh
from servers.ssh.keys import host_key as _host_key, new_key as _new_key
from servers.ssh.manhole import new_session as _new_session
hub_test_key = _new_key()
hub_test_hatch = _new_session()
hub_test_servers = [labkit.serve(_ssh({"learner": [hub_test_key]}), name="hub-test-ssh", show=False),
                    labkit.serve(hub_test_hatch.factory({}), name="hub-test-manhole", show=False),
                    labkit.serve("auth", show=False)]
print(_json.dumps({"ssh_port": hub_test_servers[0].port, "manhole_port": hub_test_servers[1].port,
                   "auth_port": hub_test_servers[2].port,
                   "host": _host_key().public().toString("openssh").decode()}))
"""
"""Serves the three in the owner's kernel (SSH by password or by the kernel's key ``hub_test_key``, the manhole by
``hub_test_hatch``'s key only; each named, since a server replaces the kernel's server of the same name) and
prints their ports and host key as JSON."""

ATTEMPT = """
import json as _json, os as _os, socket as _socket, tempfile as _tempfile
from labkit.checks.ssh import known_hosts_file as _known_hosts_file, run_command as _run_command
from servers.accounts import accounts as _accounts
from servers.ssh.keys import new_key as _new_key
from servers.ssh.manhole import new_session as _new_session
from twisted.conch.ssh import keys as _conch_keys

def hub_test_logins(ssh_port, manhole_port, auth_port, host, ssh_key, manhole_key):
    host_key = _conch_keys.Key.fromString(host.encode())
    admin = next(account for account in _accounts("auth") if account.user == "admin")
    with _tempfile.TemporaryDirectory() as folder:
        for name, port in (("ssh", ssh_port), ("manhole", manhole_port)):
            _os.mkdir(f"{folder}/{name}")
            _known_hosts_file(port, host_key, f"{folder}/{name}")
        results = {
            "ssh password": _run_command(ssh_port, "learner", "whoami", known_hosts=f"{folder}/ssh/known_hosts",
                                         password=_accounts("ssh")[0].password),
            "ssh key": _run_command(ssh_port, "learner", "whoami", known_hosts=f"{folder}/ssh/known_hosts",
                                    key=ssh_key),
            "manhole key": _run_command(manhole_port, "learner", "1", known_hosts=f"{folder}/manhole/known_hosts",
                                        key=manhole_key)}
    outcomes = {what: result.error or f"logged in, exit status {result.status}" for what, result in results.items()}
    with _socket.create_connection(("127.0.0.1", auth_port), timeout=10) as sock:
        sock.sendall(f"{admin.user}\\r\\n{admin.password}\\r\\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    outcomes["auth password"] = answer.decode(errors="replace")
    return outcomes
"""
"""Defines ``hub_test_logins(...)``: tries SSH with this kernel's ``ssh`` password and ``ssh_key``, the manhole
with ``manhole_key``, and the auth server as ``admin`` with this kernel's ``auth`` password; what each login got."""

OWN_KEYS = "ssh_key=hub_test_key, manhole_key=hub_test_hatch.key"
"""The owner's own keys (the kernel that ran :data:`SERVE`)."""

OTHER_KEYS = "ssh_key=_new_key(), manhole_key=_new_session().key"
"""Keys of another learner's kernel: its own, made there."""

STOP = "for _server in hub_test_servers:\n    _server.stop()\n"
"""Stops the three servers in the owner's kernel."""


def attempt(served: dict, keys: str) -> str:
    """Code that defines ``hub_test_logins`` and prints, as JSON, what logging in to ``served`` with ``keys`` got."""
    arguments = ", ".join(f"{name}={value!r}" for name, value in served.items())
    return f"{ATTEMPT}\nprint(_json.dumps(hub_test_logins({arguments}, {keys})))\n"


def outcome(text: str) -> dict:
    """The JSON a kernel printed last (its other output, such as a server's log line, ignored)."""
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
