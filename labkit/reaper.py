"""Nothing outlives the kernel: its temporary folders and every process it started end with it, however it ends.

Promises (from the moment ``labkit`` is imported):

* A watcher process (:mod:`labkit.watcher`) waits for this process to end, by ``SIGKILL`` or ``os._exit`` as
  well as normally, without relying on ``atexit``. Within seconds it stops every process this one started
  (programs, ``twistd`` and ``twist``, a daemon that forked away, and their children: each carries this
  process's mark, the environment variable :data:`MARK`, or belongs to the kernel's session) and then removes
  every folder made by :func:`temporary_folder` or by ``servers.temporary.folder``.
* :func:`temporary_folder` is the one way a notebook or a practice server makes a temporary folder: a fresh
  private one in the system's temporary folder, named ``PREFIX...``.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import subprocess
import sys
import threading

from servers import temporary

__all__ = ["MARK", "remove_at_end", "start", "temporary_folder"]

MARK = "LABKIT_OWNER"  # in the environment of every process started from here: the watcher finds them by it
WATCHER = pathlib.Path(__file__).with_name("watcher.py")

_lock = threading.Lock()
_state: dict = {}


def start() -> None:
    """Start this process's watcher (once; again if it was killed) and mark the processes this one will start.
    Done when labkit is imported."""
    with _lock:
        if _state.get("pid") == os.getpid() and _state["watcher"].poll() is None:
            return
        if _state.get("pid") != os.getpid():  # first time here (or a forked child): a mark of its own
            _state.update(pid=os.getpid(), token=secrets.token_hex(8), folders=[])
        session = os.getpid() if os.getsid(0) == os.getpid() else 0  # a Jupyter kernel leads a session of its own
        _state["watcher"] = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WATCHER), str(os.getpid()), f"{MARK}={_state['token']}", str(session)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.environ[MARK] = _state["token"]  # after the watcher started: it must not carry the mark it looks for
        for folder in _state["folders"]:  # a watcher started again is told what the last one knew
            _tell(folder)
    temporary.on_new_folder(remove_at_end)


def _tell(folder: str) -> None:
    pipe = _state["watcher"].stdin
    pipe.write(f"folder {folder}\n".encode(errors="surrogateescape"))
    pipe.flush()


def remove_at_end(path: str | os.PathLike) -> None:
    """Have the watcher remove ``path`` (a folder) once this process has ended."""
    start()
    folder = os.path.abspath(path)
    with _lock:
        if folder in _state["folders"]:
            return
        _state["folders"].append(folder)
        try:
            _tell(folder)
        except OSError:  # the watcher was killed: the next start() starts another and tells it every folder
            pass
    start()


def temporary_folder(prefix: str = "labkit-") -> pathlib.Path:
    """A new private folder (mode 0700) named ``PREFIX...`` in the system's temporary folder, removed within
    seconds of this kernel's end however it ends (and at a normal exit). Use it instead of
    ``tempfile.mkdtemp`` for keys, mailboxes, databases: nothing of a learner's stays in ``/tmp``."""
    start()
    return temporary.folder(prefix)
