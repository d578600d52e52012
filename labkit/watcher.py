"""The watcher: a small program that outlives a kernel by seconds to clean up after it. Never imported.

``python -I -S watcher.py PID MARK SESSION`` (started by :mod:`labkit.reaper`, in a session of its own, so a
signal to the kernel's process group does not reach it) waits for process PID to end, however it ends (SIGKILL
and ``os._exit`` included: Linux tells a pidfd). Meanwhile it reads lines ``folder PATH`` on its standard input:
the folders to remove. Once PID has ended it

1. stops every process that carries ``MARK`` in its environment (every process the kernel started, and their
   children, a daemon that forked away included) or, when SESSION is not 0, belongs to that session (children
   started with an empty environment): SIGTERM first, as a service manager does, SIGKILL after ``GRACE`` seconds;
2. removes the folders it was told about;

then exits. Only the standard library is used, and ``-I`` keeps the labkit folder off ``sys.path``.
"""

import os
import select
import shutil
import signal
import sys
import time

GRACE = 2.0  # seconds a process gets to end after SIGTERM
GIVE_UP = 10.0  # seconds after which processes that still run (unkillable, in the kernel) are left


def wait_for_end(pid: int, folders: list[str]) -> None:
    """Block until ``pid`` (this program's parent) has ended, collecting the folders named on standard input."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # Linux before 5.3: ask for the parent twice a second
        handle = None
    pending = b""
    watched = [0] if handle is None else [0, handle]
    while os.getppid() == pid:
        ready, _, _ = select.select(watched, [], [], 0.5 if handle is None else None)
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:  # the kernel closed its end: only the pidfd (or the parent's pid) tells its end now
                watched.remove(0)
            pending = _take_lines(pending + data, folders)
        if handle is not None and handle in ready:
            break
    os.set_blocking(0, False)  # what the kernel wrote just before its end is still in the pipe
    try:
        while data := os.read(0, 65536):
            pending = _take_lines(pending + data, folders)
    except (BlockingIOError, OSError):
        pass


def _take_lines(data: bytes, folders: list[str]) -> bytes:
    *lines, rest = data.split(b"\n")
    for line in lines:
        kind, _, path = line.decode(errors="surrogateescape").partition(" ")
        if kind == "folder" and path:
            folders.append(path)
    return rest


def left_behind(mark: bytes, session: int) -> list[int]:
    """The processes still alive (zombies aside) that carry ``mark`` in their environment or belong to
    ``session``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
            if fields[0] == b"Z":
                continue
            if session and int(fields[3]) == session:
                found.append(int(entry))
                continue
            with open(f"/proc/{entry}/environ", "rb") as file:
                environment = file.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if mark in environment:
            found.append(int(entry))
    return found


def stop(mark: bytes, session: int) -> None:
    """SIGTERM every process left behind, SIGKILL what still runs ``GRACE`` seconds later, until none is left."""
    started = time.monotonic()
    told: set[int] = set()
    while (alive := left_behind(mark, session)) and time.monotonic() - started < GIVE_UP:
        late = time.monotonic() - started > GRACE
        for pid in alive:
            try:
                if late:
                    os.kill(pid, signal.SIGKILL)
                elif pid not in told:
                    os.kill(pid, signal.SIGTERM)
                    os.kill(pid, signal.SIGCONT)  # a stopped process handles SIGTERM only once continued
                    told.add(pid)
            except OSError:
                pass
        time.sleep(0.05)


def main(argv: list[str]) -> None:
    pid, mark, session = int(argv[1]), argv[2], int(argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    folders: list[str] = []
    wait_for_end(pid, folders)
    stop(mark.encode(), session)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
