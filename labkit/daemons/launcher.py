"""The program a daemon starts as: its source is handed to ``python -c`` by :mod:`labkit.daemons`. Never imported.

``python -c SOURCE KERNEL_PID READY_FILE TREE TOOL ARGS...``: opens the ready file (before twistd may chroot or
drop root), has the reactor write ``ready PORT...`` to it once it runs (which it does only after every service
started: a service raising in ``startService`` ends the tool before that), reads the plugins of the notebook's
tree from a copy in the run folder, then runs the tool itself. The kernel's pid stays on the command line, so
``labkit.daemons.processes`` finds the kernel's daemons among the machine's processes.
"""

import os
import runpy
import shutil
import sys

sys.argv.pop(1)  # the kernel's pid: read from /proc, not here
ready = os.open(sys.argv.pop(1), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
tree = sys.argv.pop(1)
sys.argv[0] = tool = sys.argv.pop(1)

# Plugins of the notebook's tree are read from a copy in this run's folder, so their dropin.cache (written by
# every twistd and twist that scans them) goes there, never into programs/, which other kernels share.
import twisted.plugins  # noqa: E402

own = os.path.join(os.getcwd(), "plugins-of-this-run", "twisted", "plugins")
for index, folder in enumerate(twisted.plugins.__path__):
    if os.path.isdir(folder) and os.path.realpath(folder).startswith(os.path.realpath(tree) + os.sep):
        shutil.copytree(folder, own, ignore=shutil.ignore_patterns("dropin.cache", "__pycache__", "*.tmp"),
                        dirs_exist_ok=True)
        twisted.plugins.__path__[index] = own


def mark_ready():
    """Write the TCP ports the reactor listens on: the daemon's log, read by another thread, may lag behind."""
    from twisted.internet import reactor, tcp

    hosts = [reader.getHost() for reader in reactor.getReaders() if isinstance(reader, tcp.Port)]
    ports = [str(host.port) for host in hosts if hasattr(host, "port")]  # not a Unix socket's
    os.write(ready, (" ".join(["ready", *ports]) + "\n").encode())


# Every reactor's install() goes through this public function (twistd and twist pick and install theirs while
# reading their options); both start the application's services before they run the reactor.
from twisted.internet import main  # noqa: E402

plain_install = main.installReactor


def install_and_watch(reactor):
    plain_install(reactor)
    reactor.callWhenRunning(mark_ready)


main.installReactor = install_and_watch
if tool == "twistd":
    from twisted.scripts.twistd import run

    run()
else:
    runpy.run_module("twisted", run_name="__main__")
