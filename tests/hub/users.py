"""Unix users for a class, made as the README says (``useradd``, a private home of mode 0700), with a random
suffix so that nothing of the machine's is touched, and removed with everything they own in /tmp."""

from __future__ import annotations

import os
import pathlib
import pwd
import secrets
import signal
import subprocess
import time


def create(role: str, suffix: str) -> str:
    """A new Unix user ``{role}-{suffix}`` with a private home; its name."""
    name = f"{role}-{suffix}"
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True, capture_output=True,
                   timeout=60)
    pathlib.Path(pwd.getpwnam(name).pw_dir).chmod(0o700)
    return name


def suffix() -> str:
    """A random suffix for one run's user names."""
    return secrets.token_hex(3)


def run_as(name: str, command: list[str], environment: dict[str, str] | None = None, cwd: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``command`` as ``name`` (in its home unless ``cwd``), as its terminal would; output captured as text."""
    home = pwd.getpwnam(name).pw_dir
    settings = [f"{k}={v}" for k, v in ({"HOME": home, "USER": name} | (environment or {})).items()]
    return subprocess.run(["runuser", "-u", name, "--", "env", *settings, *command], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or home)


def processes(name: str) -> list[int]:
    """The ids of the processes running as ``name`` now."""
    uid, found = pwd.getpwnam(name).pw_uid, []
    for entry in pathlib.Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                found.append(int(entry.name))
        except FileNotFoundError:
            continue
    return found


def in_tmp(name: str) -> list[pathlib.Path]:
    """The entries directly under /tmp that ``name`` owns (one another process removes meanwhile is not)."""
    uid = pwd.getpwnam(name).pw_uid
    found = []
    for entry in pathlib.Path("/tmp").iterdir():
        try:
            if entry.lstat().st_uid == uid:
                found.append(entry)
        except FileNotFoundError:  # another test's pip or kernel removed it between the listing and the look
            continue
    return found


def wait_until(condition, limit: float) -> bool:
    """Whether ``condition()`` became true within ``limit`` seconds (polled)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def remove(name: str) -> None:
    """Kill what ``name`` still runs (each process by its id), delete its /tmp entries, the user and its home."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    for _ in range(3):
        for pid in processes(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if wait_until(lambda: not processes(name), 5):
            break
    for entry in in_tmp(name):
        subprocess.run(["rm", "-rf", "--one-file-system", str(entry)], timeout=60)
    subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=60)


def memory(name: str) -> int:
    """The resident memory (MB) of all of ``name``'s processes now."""
    total = 0
    for pid in processes(name):
        try:
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total // 1024
