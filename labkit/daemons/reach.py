"""Starting this kernel's Python as another user: the command that does it, and what stands in the way.

A Python built with a shared ``libpython`` (pyenv builds one, for instance) loads that library and its standard
library from its own prefix when it starts. Where that prefix lies in a folder the other user may not enter (pyenv
under ``/root``, mode 0700), that user cannot start it at all: the loader stops at ``libpython3.X.so``. Root then
starts the daemon in a private mount namespace where such a folder is an empty one anyone may enter, holding only
the Python's own prefix and the folders the daemon imports from (the workbook's own code, its ``PYTHONPATH``):
the daemon sees nothing else of it, and nothing changes for any other process. A needed folder that the user may
not read itself (a checkout of mode 0700) is refused before anything starts, with what to do.
"""

from __future__ import annotations

import os
import pathlib
import pwd
import shlex
import shutil
import stat
import sys

__all__ = ["account", "blocking_folders", "needed_folders", "started_as"]


def account(user) -> pwd.struct_passwd:
    """The password-file entry of ``user``, a name or a uid (as ``--uid`` takes either)."""
    return pwd.getpwuid(int(user)) if str(user).isdigit() else pwd.getpwnam(user)


def _may_enter(folder: pathlib.Path, uid: int, gid: int) -> bool:
    mode = folder.stat()
    if uid == mode.st_uid:
        return bool(mode.st_mode & stat.S_IXUSR)
    if gid == mode.st_gid:
        return bool(mode.st_mode & stat.S_IXGRP)
    return bool(mode.st_mode & stat.S_IXOTH)


def _may_read(folder: pathlib.Path, uid: int, gid: int) -> bool:
    mode = folder.stat()
    bits = ((stat.S_IRUSR | stat.S_IXUSR) if uid == mode.st_uid else
            (stat.S_IRGRP | stat.S_IXGRP) if gid == mode.st_gid else stat.S_IROTH | stat.S_IXOTH)
    return mode.st_mode & bits == bits


def needed_folders(*python_path: str) -> list[pathlib.Path]:
    """The folders a daemon on this kernel's Python imports from: this Python's prefixes (its own and its virtual
    environment's), the folders holding ``labkit`` and ``servers`` (a checkout, or site-packages), and each
    existing entry of ``python_path``; real paths, none inside another."""
    import labkit
    import servers

    found = {pathlib.Path(os.path.realpath(path)) for path in (sys.base_prefix, sys.prefix, *python_path) if path}
    found |= {pathlib.Path(os.path.realpath(package.__file__)).parent.parent for package in (labkit, servers)}
    found = {path for path in found if path.is_dir()}
    return sorted(path for path in found if not any(other in path.parents for other in found))


def blocking_folders(user, needed=None) -> dict[pathlib.Path, list[pathlib.Path]]:
    """For each folder ``user`` may not enter on the way to one of ``needed`` (by default this Python's prefixes,
    its own and its virtual environment's), the needed folders behind it. Empty when the user reaches them all."""
    entry = account(user)
    needed = needed or sorted({pathlib.Path(os.path.realpath(prefix)) for prefix in (sys.base_prefix, sys.prefix)})
    blocked: dict[pathlib.Path, list[pathlib.Path]] = {}
    for path in needed:
        for folder in reversed(path.parents):  # "/" first: the outermost folder that stops the user
            if not _may_enter(folder, entry.pw_uid, entry.pw_gid):
                blocked.setdefault(folder, []).append(path)
                break
    return blocked


def started_as(user, command: list[str], staging: pathlib.Path, needed=None) -> list[str]:
    """``command`` run as ``user`` (real and effective ids, no supplementary groups), as ``setpriv`` does. Where
    a folder the user may not enter holds this Python, in a private mount namespace that opens the way: each
    needed prefix is bound to a folder under ``staging`` (which must not exist yet; it is removed before the
    command runs), an empty folder covers the blocking one, and the prefix is bound back at its own path.
    ``needed`` is as for :func:`blocking_folders`.

    Raises PermissionError, naming the folder and what to do, where ``unshare`` is missing; where the namespace
    cannot be made, the command ends with status 126 and says the same on its stderr."""
    switch = ["setpriv", f"--reuid={user}", f"--regid={account(user).pw_gid}", "--clear-groups", *command]
    entry = account(user)
    unreadable = [path for path in (needed or []) if not _may_read(path, entry.pw_uid, entry.pw_gid)]
    if unreadable:
        folders = ", ".join(f"{path} (mode {stat.filemode(path.stat().st_mode)})" for path in unreadable)
        raise PermissionError(f"{user} may not read {folders}, which the daemon imports from: let every user read "
                              f"it (chmod -R o+rX on that folder), or leave out user=")
    blocked = blocking_folders(user, needed)
    if not blocked:
        return switch
    if shutil.which("unshare") is None:
        raise PermissionError(_cannot(user, blocked, "util-linux's unshare is not installed"))
    steps = [["mkdir", str(staging)]]
    for index, (folder, paths) in enumerate(blocked.items()):
        stages = [str(staging / f"{index}-{number}") for number in range(len(paths))]
        for path, stage in zip(paths, stages):
            steps += [["mkdir", stage], ["mount", "--bind", str(path), stage]]
        steps.append(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "labkit-open", str(folder)])
        for path, stage in zip(paths, stages):
            steps += [["mkdir", "-p", str(path)], ["mount", "--bind", stage, str(path)], ["umount", stage],
                      ["rmdir", stage]]
    steps.append(["rmdir", str(staging)])
    failed = shlex.quote(_cannot(user, blocked, "a private mount namespace could not be made"))
    script = " && ".join(shlex.join(step) for step in steps) + f' && exec "$@" || {{ echo {failed} >&2; exit 126; }}'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *switch]


def _cannot(user, blocked, why: str) -> str:
    folders = ", ".join(f"{folder} (mode {stat.filemode(folder.stat().st_mode)})" for folder in blocked)
    return (f"{user} cannot start this kernel's Python: it lies in {folders}, which {user} may not enter, and "
            f"{why}. Start the kernel from a Python every user can read (installed under /usr/local or /opt, or "
            f"a virtual environment made from Debian's python3), or leave out user=")
