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
* Privileges: with ``--uid``/``--gid`` in a root kernel, the run folder is handed to that user first (the pid
  file, the ready mark and the daemon's own files stay writable once it has dropped root); ``--chroot .`` confines
  it to that folder. ``user=`` starts twistd as an ordinary user from a root kernel, to see what such a user
  gets; :func:`ordinary_user` names one (None where the kernel is not root), :func:`privileged_port` finds a free
  port below 1024, :attr:`Daemon.identity` is who the daemon runs as. Refusals (a port below 1024, another user,
  chroot, for a user who is not root) are explained like every other failure.
* Plugins found under the folder on the daemon's ``PYTHONPATH`` (``programs/...``) are read from a copy in its
  run folder, so the ``dropin.cache`` Twisted writes never lands in ``programs/``, which kernels share.
* No daemon outlives the kernel: :mod:`labkit.reaper`'s watcher stops every one still running (a real daemon,
  which left the kernel, included) within seconds of the kernel's end, however it ends, and removes the fresh run
  folders. Every socket a daemon binds is on loopback (``labkit/loopback_site``). :func:`running` lists the
  daemons, :func:`processes` finds every one still alive on the machine, :func:`stop_daemons` stops them.
"""

from __future__ import annotations

import os
import pathlib
import shutil

from labkit.daemons.privileges import furnish_jail, ordinary_user, privileged_port, run_folder
from labkit.daemons.process import LAUNCHER, Daemon, DaemonFailed, account, daemons_started
from labkit.programs import PROGRAMS

__all__ = ["Daemon", "DaemonFailed", "ordinary_user", "privileged_port", "processes", "running", "stop_daemons", "twist",
           "twistd"]


def _started(daemon: Daemon, timeout: float) -> Daemon:
    try:
        daemon.wait_ready(timeout)
    except BaseException:  # an interrupt included: never leave the child behind
        if daemon.alive():
            daemon.stop()
        raise
    return daemon


def twistd(tac, *options: str, folder=None, daemonize: bool = False, timeout: float = 10,
           env: dict[str, str] | None = None, user: str | None = None) -> Daemon:
    """Run ``twistd -n -y TAC OPTIONS`` in ``folder`` (fresh by default) until it listens; ``daemonize`` leaves
    out ``-n``. The pid file is ``twistd.pid`` and the log goes to the output (``twistd.log`` for a real daemon)
    unless ``options`` say otherwise (``--pidfile``, ``--logfile``); with ``--chroot`` there is no pid file (twistd
    would look for it outside the new root). ``env`` adds environment variables.

    With ``--uid USER`` among the options and a root kernel, the folder is handed to USER, so the daemon can
    still write there once twistd has dropped root. ``user`` (root only) starts twistd itself as that ordinary
    user, as ``setpriv`` does: the ``.tac`` is copied into the folder, which the user gets."""
    given, tac = str(tac), pathlib.Path(tac).resolve()
    if not tac.exists():
        raise FileNotFoundError(f"{tac.name} does not exist: run its %%program cell first")
    named = {option.split("=")[0] for option in options}
    options = list(options)
    if user is not None:
        if os.geteuid() != 0:
            raise PermissionError("only a root kernel can start a daemon as another user; you already are an "
                                  "ordinary user: leave out user=")
        folder = run_folder(folder, user)
        tac = pathlib.Path(shutil.copy(tac, folder))
        entry = account(user)
        os.chown(tac, entry.pw_uid, entry.pw_gid)
    else:
        folder = run_folder(folder, _option(options, "--uid") if "--uid" in named else None)
    if "--chroot" in named and os.geteuid() == 0:
        furnish_jail(folder / _option(options, "--chroot"), _option(options, "--uid") if "--uid" in named else None)
    if "--pidfile" not in named:  # twistd makes the path absolute before it chroots: then none
        options += ["--pidfile", "" if "--chroot" in named else "twistd.pid"]
    if "--logfile" not in named:
        options += ["--logfile", "twistd.log" if daemonize else "-"]
    logfile = _option(options, "--logfile")
    pidfile = folder / _option(options, "--pidfile") if _option(options, "--pidfile") else None
    mode = [] if daemonize else ["-n"]
    daemon = Daemon("twistd", [*mode, "-y", str(tac), *options], folder, tac.parent,
                    None if logfile == "-" else folder / logfile, pidfile, detaches=daemonize,
                    shown=[*mode, "-y", given, *options], env=env, user=user)
    return _started(daemon, timeout)


def twist(plugin: str, *options: str, folder=None, plugins=PROGRAMS, timeout: float = 10) -> Daemon:
    """Run ``twist PLUGIN OPTIONS`` (its plugin found in ``PLUGINS/twisted/plugins/``) until it listens."""
    folder = run_folder(folder)
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
    launcher, kernel = LAUNCHER.encode(), str(os.getpid()).encode()
    found = []
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            zombie = (entry / "stat").read_text().rsplit(") ", 1)[1].startswith("Z")
        except (OSError, IndexError):
            continue
        if not zombie and launcher in words[:-1] and words[words.index(launcher) + 1] == kernel:
            found.append(int(entry.name))
    return sorted(found)


def running() -> list[Daemon]:
    """The daemons this kernel started that still run."""
    return [daemon for daemon in daemons_started if daemon.alive()]


def stop_daemons() -> None:
    """Stop every daemon this kernel started."""
    for daemon in list(daemons_started):
        daemon.stop()
