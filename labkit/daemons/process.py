"""A daemon as a process: started through the launcher, watched until it is ready, explained when it fails, stopped."""

from __future__ import annotations

import grp
import os
import pathlib
import pwd
import re
import shlex
import signal
import sys
import time

from labkit.daemons.reach import account, needed_folders, started_as
from labkit.programs import LOOPBACK_ONLY, Program

__all__ = ["READY", "Daemon", "DaemonFailed", "LAUNCHER", "account", "daemons_started"]

LISTENING = re.compile(r"starting on (\d+)")
LAUNCHER = pathlib.Path(__file__).with_name("launcher.py").read_text()  # handed to python -c: see launcher.py

READY = ".daemon-ready"

_HINTS = [
    (r"\(exit status -15\)", "something sent it SIGTERM before it had started (a service manager, kill, or a "
                              "stop from the notebook): start it again once that is sorted out"),
    (r"SyntaxError", "the .tac file does not compile: fix the line the traceback names, then start it again"),
    (r"\[Errno 13\] Permission denied\.", "only root may listen on a port below 1024: listen on a higher port "
                                           "(a proxy or the service manager can hand the low one over), or start "
                                           "twistd as root with --uid and --gid"),
    (r"are you root\?", "only root can switch to another user: leave out --uid and --gid (you already are an "
                        "ordinary user), or start twistd as root"),
    (r"os\.chroot", "only root can chroot: leave out --chroot (--rundir changes the folder without confining "
                    "the daemon), or start twistd as root"),
    (r"listen on this machine only", "a daemon started from the notebook listens on this machine only: leave out "
                                     "the interface (it listens on 127.0.0.1) or give interface=127.0.0.1"),
    (r"Address already in use|CannotListenError", "the port is taken by another server: listen on port 0 and "
                                                   "read the port from the log, or stop the other server"),
    (r"Another twistd server is running", "a pid file names a process that still runs: stop that daemon "
                                          "(its pid is in the pid file), or start this one in another folder"),
    (r"Permission denied|Read-only file system|Not a directory", "the daemon may not open a file the log names: "
                                                                 "for a log or pid file, twistd cannot write there "
                                                                 "(give one in a folder you can write); a file a "
                                                                 "service opens after twistd dropped root must be "
                                                                 "open to the user it became"),
    (r"cannot start this kernel's Python|error while loading shared libraries",
     "the user it starts as cannot start this kernel's Python (see below for the folder in the way, and what "
     "to do)"),
    (r"No variable named 'application'", "a .tac file must define a module-level name `application` "
                                        "(service.Application(...))"),
    (r"in startService", "a service raised in its startService, so twistd stopped: fix what the traceback "
                         "names"),
    (r"Unknown command|is not a valid|No such plugin", "twist knows no such plugin: check that the plugin file "
                                                       "is in a twisted/plugins folder on PYTHONPATH"),
]

daemons_started: set[Daemon] = set()  # the daemons this kernel started and has not stopped


class DaemonFailed(RuntimeError):
    """A daemon ended, or never said it listened; the message holds its own log lines."""


class Daemon(Program):
    """A twistd or twist process: its folder, pid file, log and listening port."""

    def __init__(self, tool: str, args: list[str], folder: pathlib.Path, path_entry: pathlib.Path,
                 logfile: pathlib.Path | None = None, pidfile: pathlib.Path | None = None, detaches: bool = False,
                 shown: list[str] | None = None, env: dict[str, str] | None = None, user: str | None = None):
        self.shown = shown or args  # the command as the notebook gave it (no absolute path of this machine)
        self.tool, self.folder, self.logfile, self.pidfile, self.detaches = tool, folder, logfile, pidfile, detaches
        self.user = user
        self.port: int | None = None
        self.pidfile_removed: bool | None = None
        (folder / READY).unlink(missing_ok=True)  # a folder used before holds the last run's
        python_path = os.pathsep.join(filter(None, [str(path_entry.resolve()), os.environ.get("PYTHONPATH")]))
        launcher = [sys.executable, "-c", LAUNCHER, str(os.getpid()), READY, str(path_entry.resolve()), tool]
        if user is not None:  # setpriv replaces itself with the launcher: the kernel stays its parent
            launcher = started_as(user, launcher, folder / ".python-of-the-kernel",
                                  needed=needed_folders(str(LOOPBACK_ONLY), *python_path.split(os.pathsep)))
        # A log is text read back, never a terminal: no colours, though the kernel sets FORCE_COLOR (3.13's
        # tracebacks obey it; PYTHON_COLORS overrides it).
        super().__init__(tool, args, launcher=launcher, cwd=folder,
                         env={"PYTHONPATH": python_path, "PYTHON_COLORS": "0", **(env or {})})
        daemons_started.add(self)

    @property
    def command(self) -> str:
        return " ".join(["$", self.tool, *map(shlex.quote, self.shown)])

    @property
    def log(self) -> str:
        """What the daemon logged so far: its output, then its log file if it writes one."""
        text = self.output
        if self.logfile is not None and self.logfile.exists():
            text += self.logfile.read_text(errors="replace")
        return text

    @property
    def identity(self) -> tuple[str, str]:
        """The user and group the daemon runs as now (its real ids, read from /proc), by name."""
        status = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        gid = int(re.search(r"^Gid:\s+(\d+)", status, re.M).group(1))
        return pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name

    @property
    def pid(self) -> int | None:
        """The daemon's pid: the child's own, or for a real daemon the one in its pid file."""
        if not self.detaches:
            return self.process.pid
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        if not self.detaches:
            return self.process.poll() is None
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def wait_ready(self, timeout: float) -> int | None:
        """Wait until the daemon's reactor runs with every service started; return the port its log says it
        listens on (:class:`DaemonFailed` if it ends first or takes longer than ``timeout``)."""
        deadline = time.monotonic() + timeout
        ready = self.folder / READY
        while not _written(ready):
            failed = self.process.poll() not in (None, 0) or (self.process.poll() == 0 and not self.alive())
            if failed or time.monotonic() > deadline:
                why = (f"{self.tool} ended (exit status {self.process.returncode})" if failed
                       else f"{self.tool} did not finish starting within {timeout:g} s")
                self.stop()
                raise DaemonFailed(self.explain(why))
            time.sleep(0.05)
        if self.detaches:  # twistd's first process ends once the daemon has started
            self.process.wait(timeout)
        ports = [int(port) for port in ready.read_text().split()[1:]]
        while len(ports) > 1 and not LISTENING.search(self.log) and time.monotonic() < deadline:
            time.sleep(0.05)  # which one is "the" port: the first its log names
        found = LISTENING.search(self.log)
        self.port = int(found.group(1)) if found and int(found.group(1)) in ports else min(ports, default=None)
        return self.port

    def explain(self, why: str) -> str:
        log = self.log
        hint = next((fix for pattern, fix in _HINTS if re.search(pattern, f"{why}\n{log}")),
                    "read the daemon's log below for the first error")
        return f"{why}: {hint}.\n{self.command}\n{log.rstrip()}"

    def stop(self, timeout: float = 5) -> int | None:
        """SIGTERM, then SIGKILL past ``timeout``; return the child's exit status."""
        pid = self.pid if self.detaches else None
        if not self.detaches and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        elif pid is not None and self.alive():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        status = self.wait(timeout)
        if self.pidfile is not None:
            self.pidfile_removed = not self.pidfile.exists()
        daemons_started.discard(self)
        return status

    def __str__(self) -> str:
        state = "running" if self.alive() else f"stopped (exit status {self.process.returncode})"
        return f"{self.command}\n{self.log}({state})"


def _written(path: pathlib.Path) -> bool:
    try:
        return path.read_text().endswith("\n")
    except FileNotFoundError:
        return False
