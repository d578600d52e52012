"""A practice server run on its own (``python -m servers NAME ...``) for tests and benchmarks: what it printed,
and what the process uses.

``with standalone("web", "--tls") as server:`` starts it, reads the lines it prints before serving (the listening
line, ``account:`` lines, ``ca:``), and stops it at the end; ``limits={"idle_timeout": 3}`` adds ``--limit``
options, ``open_files=1024`` caps the process's open files. ``serving(command, name)`` does the same for any
program that prints the same listening line (a benchmark's bare server, say). ``server.rss()``,
``server.peak_rss()`` and ``server.open_files()`` read the process's resident memory and open files from /proc.
"""

from __future__ import annotations

import os
import queue
import re
import resource
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from servers.listening import plan

ROOT = Path(__file__).resolve().parents[1]
STARTUP = 60.0


@dataclass
class Standalone:
    name: str
    process: subprocess.Popen
    listening: str
    ports: list[int]
    accounts: list[tuple[str, str]] = field(default_factory=list)
    ca: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # other "KEY: VALUE" lines, such as an SSH host key

    @property
    def port(self) -> int:
        return self.ports[0]

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {key} for {self.name} (pid {self.process.pid}): did the server exit?")

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        """The most resident memory the server has had so far, in bytes."""
        return self._status("VmHWM")

    def open_files(self) -> int:
        """How many files (sockets included) the server holds open now."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))


def _read_line(process: subprocess.Popen, errors) -> str:
    """The server's next line, waiting at most :data:`STARTUP` seconds for it."""
    arrived = queue.Queue()
    threading.Thread(target=lambda: arrived.put(process.stdout.readline()), daemon=True).start()
    try:
        line = arrived.get(timeout=STARTUP)
    except queue.Empty:
        raise AssertionError(f"the server printed no further line within {STARTUP:g} s") from None
    if not line:
        errors.seek(0)
        raise AssertionError(f"the server printed nothing more and exited with {process.wait(STARTUP)}: "
                             f"{errors.read()}")
    return line.rstrip("\n")


@contextmanager
def serving(command: list[str], name: str, *, following: int = 0, open_files: int | None = None):
    """Run ``command``, a server that first prints ``NAME listening on HOST port PORT[, PORT...]; Ctrl-C stops
    it`` and then ``following`` lines (``account: USER PASSWORD``, ``ca: PATH``), until the block ends; yield a
    :class:`Standalone`. ``open_files`` caps the number of files the server may open."""

    def cap_open_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    # What the server says on stderr goes to a file: a pipe nobody reads would stall a chatty server.
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True,
                                   preexec_fn=None if open_files is None else cap_open_files)
        try:
            listening = _read_line(process, errors)
            found = re.fullmatch(rf"{re.escape(name)} listening on \S+ port ([\d, ]+); Ctrl-C stops it", listening)
            assert found, f"{name} printed {listening!r}"
            server = Standalone(name, process, listening, [int(port) for port in found.group(1).split(",")])
            for _ in range(following):
                line = _read_line(process, errors)
                kind, _, rest = line.partition(": ")
                if kind == "account":
                    user, password = rest.split(" ")
                    server.accounts.append((user, password))
                elif kind == "ca":
                    server.ca = rest
                elif rest:
                    server.details[kind] = rest
                else:
                    raise AssertionError(f"unexpected line from {name}: {line!r}")
            yield server
        finally:
            process.terminate()
            process.wait(STARTUP)
            process.stdout.close()


@contextmanager
def standalone(name: str, *arguments: str, limits: Mapping[str, float] | None = None,
               open_files: int | None = None):
    """Run ``python -m servers NAME ARGUMENTS`` (plus ``--limit KEY=VALUE`` for each of ``limits``) until the
    block ends; yield a :class:`Standalone`."""
    options = [option for key, value in (limits or {}).items() for option in ("--limit", f"{key}={value}")]
    # The lines that follow the listening line: one per practice account of the server, then the CA's with --tls.
    served = plan(name)
    following = len(served.accounts()) + len(served.details()) + ("--tls" in arguments)
    with serving([sys.executable, "-m", "servers", name, *arguments, *options], name, following=following,
                 open_files=open_files) as server:
        yield server
