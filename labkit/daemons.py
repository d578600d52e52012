"""Daemons from the notebook: ``twistd`` and ``twist`` run as child processes of the kernel, watched and stopped.

Promises:

* :func:`twistd` runs ``twistd -n -y FILE.tac`` and :func:`twist` runs ``twist PLUGIN ...``, each in a folder of
  its own (a fresh temporary one unless ``folder`` is given), with the folder of the ``.tac`` (or ``programs/``)
  on ``PYTHONPATH``. Each returns a :class:`Daemon` once the daemon's log says it listens, or raises
  :class:`DaemonFailed` with what went wrong, what to do, and the daemon's own log lines; nothing is left running.
* :meth:`Daemon.stop` sends SIGTERM (as a service manager does), waits at most ``timeout`` seconds, kills past
  that, and records whether twistd removed its pid file (``Daemon.pidfile_removed``).
* ``twistd(..., daemonize=True)`` runs a real daemon (no ``-n``): it forks away from the kernel, logs to
  ``twistd.log`` and is known only by its pid file; :meth:`Daemon.stop` stops it through that pid.
* No daemon outlives the kernel: each ``-n`` child asks Linux for SIGTERM when the kernel dies, and every daemon
  still running (real daemons included) is stopped when the kernel's Python exits. :func:`running` lists them,
  :func:`processes` finds every one still alive on the machine, :func:`stop_all` stops them.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from labkit.programs import PROGRAMS, Program

__all__ = ["Daemon", "DaemonFailed", "processes", "running", "stop_all", "twist", "twistd"]

LISTENING = re.compile(r"starting on (\d+)")

# Runs in the child before Twisted: SIGTERM when the kernel dies; a file READY once the reactor runs with every
# service started (a service raising in startService ends twistd before that); then the tool itself.
_LAUNCHER = """
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != int(sys.argv.pop(1)):
    sys.exit("the kernel that started this daemon is gone")
ready = os.path.abspath(sys.argv.pop(1))
sys.argv[0] = tool = sys.argv.pop(1)

def when_running(start):
    def started(*args, **kwargs):
        start(*args, **kwargs)
        from twisted.internet import reactor
        reactor.callWhenRunning(lambda: open(ready, "w").close())
    return started

if tool == "twistd":
    from twisted.application import app
    from twisted.scripts.twistd import run
    app.startApplication = when_running(app.startApplication)
    run()
else:
    from twisted.application.twist._twist import Twist
    Twist.startService = staticmethod(when_running(Twist.startService))
    runpy.run_module("twisted", run_name="__main__")
"""

READY = ".daemon-ready"

_HINTS = [
    (r"SyntaxError", "the .tac file does not compile: fix the line the traceback names, then start it again"),
    (r"Address already in use|CannotListenError", "the port is taken by another server: listen on port 0 and "
                                                   "read the port from the log, or stop the other server"),
    (r"Another twistd server is running", "a pid file names a process that still runs: stop that daemon "
                                          "(its pid is in the pid file), or start this one in another folder"),
    (r"Permission denied|Read-only file system|Not a directory", "twistd cannot write there: give a log file or "
                                                                 "pid file in a folder you can write"),
    (r"No variable named 'application'", "a .tac file must define a module-level name `application` "
                                        "(service.Application(...))"),
    (r"in startService", "a service raised in its startService, so twistd stopped: fix what the traceback "
                         "names"),
    (r"Unknown command|is not a valid|No such plugin", "twist knows no such plugin: check that the plugin file "
                                                       "is in a twisted/plugins folder on PYTHONPATH"),
]

_running: set[Daemon] = set()


class DaemonFailed(RuntimeError):
    """A daemon ended, or never said it listened; the message holds its own log lines."""


class Daemon(Program):
    """A twistd or twist process: its folder, pid file, log and listening port."""

    def __init__(self, tool: str, args: list[str], folder: pathlib.Path, path_entry: pathlib.Path,
                 logfile: pathlib.Path | None = None, pidfile: pathlib.Path | None = None, detaches: bool = False,
                 shown: list[str] | None = None):
        self.shown = shown or args  # the command as the notebook gave it (no absolute path of this machine)
        self.tool, self.folder, self.logfile, self.pidfile, self.detaches = tool, folder, logfile, pidfile, detaches
        self.port: int | None = None
        self.pidfile_removed: bool | None = None
        (folder / READY).unlink(missing_ok=True)  # a folder used before holds the last run's
        python_path = os.pathsep.join(filter(None, [str(path_entry.resolve()), os.environ.get("PYTHONPATH")]))
        super().__init__(tool, args, launcher=[sys.executable, "-c", _LAUNCHER, str(os.getpid()), READY, tool],
                         cwd=folder, env={"PYTHONPATH": python_path})
        _running.add(self)

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
        while not ready.exists():
            failed = self.process.poll() not in (None, 0) or (self.process.poll() == 0 and not self.alive())
            if failed or time.monotonic() > deadline:
                why = (f"{self.tool} ended (exit status {self.process.returncode})" if failed
                       else f"{self.tool} did not finish starting within {timeout:g} s")
                self.stop()
                raise DaemonFailed(self.explain(why))
            time.sleep(0.05)
        if self.detaches:  # twistd's first process ends once the daemon has started
            self.process.wait(timeout)
        found = LISTENING.search(self.log)
        self.port = int(found.group(1)) if found else None
        return self.port

    def explain(self, why: str) -> str:
        log = self.log
        hint = next((fix for pattern, fix in _HINTS if re.search(pattern, log)),
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
        _running.discard(self)
        return status

    def __str__(self) -> str:
        state = "running" if self.alive() else f"stopped (exit status {self.process.returncode})"
        return f"{self.command}\n{self.log}({state})"


def _folder(folder) -> pathlib.Path:
    if folder is None:
        return pathlib.Path(tempfile.mkdtemp(prefix="daemon-"))
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _started(daemon: Daemon, timeout: float) -> Daemon:
    try:
        daemon.wait_ready(timeout)
    except BaseException:  # an interrupt included: never leave the child behind
        if daemon.alive():
            daemon.stop()
        raise
    return daemon


def twistd(tac, *options: str, folder=None, daemonize: bool = False, timeout: float = 10) -> Daemon:
    """Run ``twistd -n -y TAC OPTIONS`` in ``folder`` (fresh by default) until it listens; ``daemonize`` leaves
    out ``-n``. The pid file is ``twistd.pid`` and the log goes to the output (``twistd.log`` for a real daemon)
    unless ``options`` say otherwise (``--pidfile``, ``--logfile``)."""
    given, tac = str(tac), pathlib.Path(tac).resolve()
    if not tac.exists():
        raise FileNotFoundError(f"{tac.name} does not exist: run its %%program cell first")
    folder = _folder(folder)
    named = {option.split("=")[0] for option in options}
    options = list(options)
    if "--pidfile" not in named:
        options += ["--pidfile", "twistd.pid"]
    if "--logfile" not in named:
        options += ["--logfile", "twistd.log" if daemonize else "-"]
    logfile = _option(options, "--logfile")
    pidfile = folder / _option(options, "--pidfile")
    mode = [] if daemonize else ["-n"]
    daemon = Daemon("twistd", [*mode, "-y", str(tac), *options], folder, tac.parent,
                    None if logfile == "-" else folder / logfile, pidfile, detaches=daemonize,
                    shown=[*mode, "-y", given, *options])
    return _started(daemon, timeout)


def twist(plugin: str, *options: str, folder=None, plugins=PROGRAMS, timeout: float = 10) -> Daemon:
    """Run ``twist PLUGIN OPTIONS`` (its plugin found in ``PLUGINS/twisted/plugins/``) until it listens."""
    folder = _folder(folder)
    return _started(Daemon("twist", [plugin, *options], folder, pathlib.Path(plugins)), timeout)


def _option(options: list[str], name: str) -> str:
    for index, option in enumerate(options):
        if option == name:
            return options[index + 1]
        if option.startswith(name + "="):
            return option.partition("=")[2]
    raise ValueError(name)


def processes() -> list[int]:
    """The pids of every twistd or twist process this kernel started that is still alive, found among all the
    machine's processes (real daemons, which left the kernel, included)."""
    mark = b"PR_SET_PDEATHSIG\n", str(os.getpid()).encode()
    found = []
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            zombie = (entry / "stat").read_text().rsplit(") ", 1)[1].startswith("Z")
        except (OSError, IndexError):
            continue
        if not zombie and len(words) > 3 and mark[0] in words[2] and words[3] == mark[1]:
            found.append(int(entry.name))
    return sorted(found)


def running() -> list[Daemon]:
    """The daemons this kernel started that still run."""
    return [daemon for daemon in _running if daemon.alive()]


def stop_all() -> None:
    """Stop every daemon this kernel started."""
    for daemon in list(_running):
        daemon.stop()


atexit.register(stop_all)
