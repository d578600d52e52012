"""A practice server run on its own (``python -m servers NAME ...``) for tests: what it printed, and its memory.

``with standalone("web", "--tls") as server:`` starts it, reads the lines it prints before serving (the listening
line, ``account:`` lines, ``ca:``), and stops it at the end. ``server.rss()`` and ``server.peak_rss()`` read the
server process's resident memory from /proc.
"""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from servers import catalogue

ROOT = Path(__file__).resolve().parents[1]
STARTUP = 60.0


@dataclass
class Standalone:
    process: subprocess.Popen
    listening: str
    ports: list[int]
    accounts: list[tuple[str, str]] = field(default_factory=list)
    ca: str | None = None

    @property
    def port(self) -> int:
        return self.ports[0]

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise AssertionError(f"no {key} for pid {self.process.pid}: did the server exit?")

    def rss(self) -> int:
        """Resident memory now, in bytes."""
        return self._status("VmRSS")

    def peak_rss(self) -> int:
        """The most resident memory the server has had so far, in bytes."""
        return self._status("VmHWM")


def _read_line(process: subprocess.Popen) -> str:
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"the server printed nothing more and exited with {process.wait(STARTUP)}: "
                             f"{process.stderr.read()}")
    return line.rstrip("\n")


@contextmanager
def standalone(name: str, *arguments: str):
    """Run ``python -m servers NAME ARGUMENTS`` until the block ends; yield a :class:`Standalone`."""
    process = subprocess.Popen([sys.executable, "-m", "servers", name, *arguments], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        listening = _read_line(process)
        found = re.fullmatch(rf"{re.escape(name)} listening on \S+ port ([\d, ]+); Ctrl-C stops it", listening)
        assert found, f"python -m servers {name} printed {listening!r}"
        server = Standalone(process, listening, [int(port) for port in found.group(1).split(",")])
        # The lines that follow: one per practice account of the server, then the CA's with --tls.
        following = len(catalogue.entry(name).practice_accounts()) + ("--tls" in arguments)
        for _ in range(following):
            line = _read_line(process)
            kind, _, rest = line.partition(": ")
            if kind == "account":
                user, password = rest.split(" ")
                server.accounts.append((user, password))
            elif kind == "ca":
                server.ca = rest
            else:
                raise AssertionError(f"unexpected line from python -m servers {name}: {line!r}")
        yield server
    finally:
        process.terminate()
        process.wait(STARTUP)
        process.stdout.close()
        process.stderr.close()
