"""What a daemon's privileges need: its run folder handed to the user it becomes, a chroot jail furnished, an
ordinary user to run as, a free port below 1024."""

from __future__ import annotations

import errno
import grp
import os
import pathlib
import random
import socket
import stat

from labkit.daemons.process import account
from labkit.reaper import temporary_folder

__all__ = ["furnish_jail", "ordinary_user", "privileged_port", "run_folder"]


def run_folder(folder, owner: str | None = None) -> pathlib.Path:
    """The daemon's run folder (fresh unless given), handed to ``owner`` (a user name or uid) when root starts a
    daemon that will run as that user: its pid file, its ready mark and what it writes live there."""
    if folder is None:
        folder = temporary_folder("daemon-")
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if owner is not None and os.geteuid() == 0:
        entry = account(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def furnish_jail(root: pathlib.Path, user: str | None) -> None:
    """Give a chroot jail what twistd reads inside it: ``/dev/null`` (the reactor opens it, made as ``mknod``
    would) and, for ``--uid USER``, that user's and group's lines of ``/etc/passwd`` and ``/etc/group``."""
    null = root / "dev" / "null"
    if not null.exists():
        null.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.chmod(null, 0o666)
    if user is not None:
        entry = account(user)
        group = grp.getgrgid(entry.pw_gid)
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / "passwd").write_text(f"{entry.pw_name}:x:{entry.pw_uid}:{entry.pw_gid}::/:/nonexistent\n")
        (root / "etc" / "group").write_text(f"{group.gr_name}:x:{group.gr_gid}:\n")


def ordinary_user() -> str | None:
    """Who runs a daemon "as an ordinary user": ``nobody`` when this kernel is root (see ``user=`` of
    :func:`twistd`), else None: the kernel's own user already is one."""
    return "nobody" if os.geteuid() == 0 else None


def privileged_port(host: str = "127.0.0.1") -> int:
    """A port below 1024 that nothing listens on, found by trying to bind ports 600-1023 in a random order.

    Where the kernel may not bind such a port (it is not root) the first one tried is returned: binding it is
    refused whoever else might use it."""
    candidates = list(range(600, 1024))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except PermissionError:
                return port
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    continue
                raise
            return port
    raise OSError(errno.EADDRINUSE, "every port from 600 to 1023 is taken")
