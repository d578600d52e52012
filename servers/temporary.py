"""Temporary folders of the practice servers (keys, Maildirs, databases): made in one place, removed at the end.

Promises:

* :func:`folder` makes a new private folder (mode 0700) named ``PREFIX...`` in the system's temporary folder and
  removes it when the process exits normally.
* A process that must also clean up after a death without ``atexit`` (a notebook kernel killed by SIGKILL)
  registers a hook with :func:`on_new_folder`; every folder made here, before or after, is handed to it.
  ``labkit`` does so when it is imported, so servers in a kernel need not know about ``labkit``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["folder", "on_new_folder"]

_made: list[Path] = []
_hooks: list[Callable[[Path], None]] = []


def folder(prefix: str) -> Path:
    """A new empty folder only this user may enter, removed when the process exits (and by every hook's
    owner when the process dies without exiting)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    _made.append(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    for hook in _hooks:
        hook(path)
    return path


def on_new_folder(hook: Callable[[Path], None]) -> None:
    """Call ``hook(path)`` for every folder :func:`folder` has made and will make (once, however often the same
    hook is given)."""
    if hook in _hooks:
        return
    _hooks.append(hook)
    for path in _made:
        hook(path)
