"""Independent peers for the tests (Debian's and PyPI's programs): found, or the test is skipped naming how to
install them; under ``CI=true`` (where .ci/run installs every peer) a missing peer fails its test instead."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest


def missing(message: str):
    """Skip the running test with ``message`` (how to install what is missing); fail it under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def need(program: str, package: str) -> str:
    """The path of ``program`` (a name on PATH or an absolute path), or :func:`missing` naming its package."""
    found = shutil.which(program) or (program if os.path.exists(program) else None)
    if found is None:
        missing(f"{program} is missing: sudo apt-get install {package}")
    return found


def free_port() -> int:
    """A loopback port free right now, for a peer that must be told its port (it cannot take port 0 and say which
    one it got)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, limit: float = 10) -> None:
    """Return once ``process`` (a peer started with stdout piped) accepts connections on loopback ``port``; fail the
    test with the end of its output if it exits first, or naming the port if ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while True:
        assert process.poll() is None, f"{what} exited: {process.stdout.read().decode()[-800:]}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"{what} did not listen on port {port}"
            time.sleep(0.1)


def send_then_drain(port: int, data: bytes, wait: float = 15.0) -> bytes:
    """Send ``data`` to the server on loopback ``port``, half-close, and read until the server closes: what it
    answered (a reset counts as closed). Fails the test if the server neither answers nor closes within ``wait``."""
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            raise AssertionError(f"the server neither answered nor closed within {wait} s") from None
        except OSError:
            pass  # the server closed first (reset, broken pipe, not connected)
    return answer
