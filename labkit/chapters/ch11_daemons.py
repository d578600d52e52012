"""Running a learner's program under twistd or twist for a chapter 11 check, and reading what it left.

Promises: :func:`find_program` finds the learner's ``programs/`` file (or says which cell to run); :func:`start` and
:func:`run` start a daemon that is stopped when the check ends, or make the check's problem say why it did not
start (the exception it logged, not its whole log); :func:`daemon_error` names the first exception a daemon's
log holds, whether it logs text (twistd) or JSON (twist, whose output is not a terminal); :func:`no_traceback`
records that it names none; :func:`read` reads a file the daemon wrote.
"""

from __future__ import annotations

import json
import re
import textwrap

from labkit import daemons
from labkit.checks import NOT_WRITTEN, Check, limits, logged_error
from labkit.programs import program_path

__all__ = ["daemon_error", "find_program", "no_traceback", "read", "run", "start"]


def daemon_error(log: str) -> str:
    """The first exception a daemon's log names, as ``Name: message`` (``""`` if none)."""
    lines = []
    for line in log.splitlines():
        try:
            event = json.loads(line) if line.startswith("{") else None
        except ValueError:
            event = None
        lines.append(event.get("log_text") or "" if isinstance(event, dict) else line)
    return logged_error(re.sub(r"(?m)^\S+ \[[^\]\n]*\] ", "", "\n".join(lines)))


def find_program(check: Check, name: str):
    path = program_path(name)
    if not path.exists():
        check.problem = f"programs/{name} does not exist yet: run its %%program cell first"
        return None
    return path.resolve()


def start(check: Check, tac_source: str, *options: str, folder=None):
    """twistd on ``tac_source`` in ``folder`` (the check's own by default, on the daemon's PYTHONPATH); None (the
    check's problem says why) if it failed."""
    folder = folder or check.temporary_folder("check-ch11-")
    tac = folder / "check.tac"
    tac.write_text(textwrap.dedent(tac_source))
    return run(check, daemons.twistd, tac, *options, folder=folder)


def no_traceback(check: Check, daemon) -> None:
    """Record that the daemon's log shows no exception; if it does, the hint names it."""
    error = daemon_error(daemon.log)
    check.expect("the daemon's log shows no exception", "no exception", error or "no exception",
                 hint=f"the daemon logged {error}: its traceback names the line that raised")


def run(check: Check, tool, *args, **options):
    """``tool(*args, **options)`` (:func:`daemons.twistd` or :func:`daemons.twist`), stopped when the check ends;
    None (the check's problem says why) if it did not start."""
    try:
        daemon = tool(*args, timeout=limits.DAEMON_START, **options)
    except daemons.DaemonFailed as failed:
        why, error = str(failed).splitlines()[0], daemon_error(str(failed))
        check.problem = (NOT_WRITTEN if error == "NotImplementedError" else
                         f"{tool.__name__} did not start: {why}" + (f" It logged {error}." if error else ""))
        return None
    check.on_exit(daemon.stop)
    return daemon


def read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return "(no file)"
