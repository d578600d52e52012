"""Programs from the notebook: a cell that is also a file, run for real in a separate Python process.

Promises:

* The cell magic ``%%program NAME.py`` saves the cell as ``programs/NAME.py`` (beside the notebook; a name that
  leads anywhere else, absolute or with ``..``, is refused before anything is written) and runs it
  in the notebook with ``__name__`` not ``"__main__"``, so its definitions (a ``main(reactor)``, protocols) are
  ready to use in the next cells, while ``python programs/NAME.py`` runs it as a program. As for the program,
  modules saved beside it can be imported. ``%%program NAME.tac`` saves a twistd application file the same way.
* :func:`run_program` runs such a file to the end (bounded: past ``timeout`` it is interrupted, then killed)
  and shows the command, its output and its exit status. :func:`start_program` starts one in the background
  (a server, say) and hands back a :class:`Program` to read from, interrupt with Ctrl-C's signal, and stop.
* Every program binds its sockets on loopback only (``labkit/loopback_site``), and ends within seconds of the
  kernel's end (:mod:`labkit.reaper`), however the kernel ends.
"""

from __future__ import annotations

import html
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["PROGRAMS", "OutsidePrograms", "Program", "program_path", "run_program", "save_program",
           "start_program"]

PROGRAMS = pathlib.Path("programs")
LOOPBACK_ONLY = pathlib.Path(__file__).with_name("loopback_site")  # first on every started program's PYTHONPATH


class OutsidePrograms(ValueError):
    """A program's name would put its file outside ``programs/``."""


def program_path(name: str) -> pathlib.Path:
    """``programs/NAME``; :class:`OutsidePrograms` if the name leads out of ``programs/`` (an absolute path,
    ``..``, a link that points elsewhere)."""
    path = PROGRAMS / name
    if pathlib.PurePath(name).is_absolute() or not path.resolve().is_relative_to(PROGRAMS.resolve()):
        raise OutsidePrograms(f"{name!r} would be a file outside programs/; programs live in programs/ beside the "
                              "notebook: give a relative name such as ch02/echo.py")
    return path


def save_program(name: str, source: str) -> pathlib.Path:
    """Write ``source`` to ``programs/NAME`` atomically (two kernels may write the same file at once)."""
    path = program_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(source)
    os.replace(handle.name, path)
    return path


def _program_magic(line: str, cell: str) -> None:
    from IPython import get_ipython

    name = line.strip()
    if not re.fullmatch(r"[\w./-]+\.(py|tac)", name):
        raise ValueError("usage: %%program NAME.py (a relative file name ending in .py, or .tac for twistd)")
    path = save_program(name, cell)
    shell = get_ipython()
    folder = str(path.parent.resolve())
    if folder not in sys.path:  # as for the program itself: modules beside it can be imported
        sys.path.insert(0, folder)
    code = compile(cell, str(path), "exec")
    namespace = shell.user_ns
    saved = namespace.get("__name__")
    namespace["__name__"] = "__program__"  # so `if __name__ == "__main__":` stays off in the notebook
    try:
        exec(code, namespace)
    finally:
        namespace["__name__"] = saved


def register_magic() -> None:
    """Register ``%%program`` in the running IPython (done when labkit is imported there)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(_program_magic, magic_kind="cell", magic_name="program")


class Program:
    """A program running in its own process, its output collected as it comes."""

    def __init__(self, name: str, args: list[str], input: str | None = None, hold_input_open: bool = False, *,
                 launcher: list[str] | None = None, cwd: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None):
        """``launcher`` (with ``cwd`` and extra ``env``) runs another command than ``python programs/NAME``
        (``labkit.daemons`` runs twistd and twist this way)."""
        self.name = name
        self.args = [str(a) for a in args]
        if launcher is None:
            self.path = program_path(name)
            if not self.path.exists():
                raise FileNotFoundError(f"{self.path} does not exist: run its %%program cell first")
            launcher = [sys.executable, str(self.path)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LOOPBACK_ONLY), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen([*launcher, *self.args], stdin=subprocess.PIPE, cwd=cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if input is not None:
            self.process.stdin.write(input)
            self.process.stdin.flush()
        if not hold_input_open:
            self.process.stdin.close()
        self.interrupted = False

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    @property
    def command(self) -> str:
        return " ".join(["$ python", shlex.quote(str(self.path)), *map(shlex.quote, self.args)])

    def wait_for_line(self, pattern: str, timeout: float = 10) -> re.Match:
        """Wait until a line of output matches ``pattern`` (a regular expression); return the match."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    found = re.search(pattern, line)
                    if found:
                        return found
                seen = len(self._lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise TimeoutError(f"{self.name} printed no line matching {pattern!r} within {timeout:g} s; "
                                       f"its output so far:\n{''.join(self._lines)}")
                self._changed.wait(min(left, 0.1))

    def interrupt(self) -> None:
        """Send SIGINT, as Ctrl-C in a terminal would."""
        if self.process.poll() is None:
            self.interrupted = True
            self.process.send_signal(signal.SIGINT)

    def wait(self, timeout: float = 10) -> int:
        """Wait for the program to end (interrupt, then kill, if it outlives ``timeout``); return its status."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        if not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.interrupt()
            try:
                self.process.wait(2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(2)
        return self.process.returncode

    def stop(self) -> int:
        """Interrupt the program and wait for it."""
        self.interrupt()
        return self.wait(5)

    def __str__(self) -> str:
        status = self.process.poll()
        tail = "(still running)" if status is None else f"(exit status {status})"
        return f"{self.command}\n{self.output}{'^C' + chr(10) if self.interrupted else ''}{tail}"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return (f"<pre style='background:#1e1e1e;color:#ddd;padding:6px'>{html.escape(str(self))}</pre>")


def start_program(name: str, *args, input: str | None = None, hold_input_open: bool = False) -> Program:
    """Start ``programs/NAME`` with ``args`` in the background. Its standard input gets ``input``, then end of
    file, unless ``hold_input_open`` keeps it open (like a terminal nobody types in) until the program ends."""
    return Program(name, list(args), input, hold_input_open)


def run_program(name: str, *args, input: str | None = None, hold_input_open: bool = False,
                interrupt_after: float | None = None, timeout: float = 20) -> Program:
    """Run ``programs/NAME`` with ``args`` to its end and return it (display it to see the run).

    ``interrupt_after`` sends Ctrl-C's signal after that many seconds (for programs that run until stopped);
    ``input`` and ``hold_input_open`` are as for :func:`start_program`.
    """
    program = Program(name, list(args), input, hold_input_open)
    if interrupt_after is not None:
        try:
            program.process.wait(interrupt_after)
        except subprocess.TimeoutExpired:
            program.interrupt()
    program.wait(timeout)
    return program
