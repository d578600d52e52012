"""Probes for chapter 6's practice servers, as :mod:`servers.probes` has for the others.

``login`` talks to the ``auth`` server with a plain socket, as ``nc`` would: a practice account is welcomed by
its full name, and a made-up user is refused with the words every refusal uses. ``todo`` logs in to the PB
server as ``admin`` and as ``guest``, in a process of its own: no implementation of PB's wire format outside
Twisted exists, so Twisted's own client, run apart from the server, is the independent peer.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys

from servers.probes import TIMEOUT, _read_to_close

__all__ = ["login", "todo"]


def _session(host: str, port: int, *lines: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(b"".join(line + b"\r\n" for line in lines))
        return _read_to_close(sock)


def login(host: str, port: int) -> None:
    """Admin is welcomed; an unknown user is refused."""
    from servers import accounts
    from servers.auth import FULL_NAMES
    from servers.auth.line import DENIED

    admin = next(a for a in accounts.accounts("auth") if a.user == "admin")
    welcomed = _session(host, port, admin.user.encode(), admin.password.encode())
    expected = b"User Name: Password: Welcome %s!\r\n" % FULL_NAMES["admin"].encode()
    assert welcomed == expected, f"the admin login got {welcomed!r}"
    stranger = b"nobody-" + secrets.token_hex(4).encode()
    refused = _session(host, port, stranger, b"password")
    assert refused == b"User Name: Password: " + DENIED + b"\r\n", f"an unknown user got {refused!r}"


def todo(host: str, port: int) -> None:
    """Admin lists and adds then deletes an item; guest lists but may not add."""
    done = subprocess.run([sys.executable, "-m", "servers.auth.todo_client", host, str(port)],
                          capture_output=True, text=True, timeout=TIMEOUT * 3)
    assert done.returncode == 0, f"the PB client failed: {done.stdout[-500:]}{done.stderr[-1500:]}"
