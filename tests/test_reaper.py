"""Nothing outlives its kernel: a real kernel makes folders, a real daemon, a program and a stray child, then dies
by SIGKILL or os._exit; within a bounded wait no process and no folder of it is left."""

import json
import os
import pathlib
import signal
import textwrap
import time

import pytest

from tests.kernel import Kernel

REVERSE_TAC = pathlib.Path(__file__).parent.parent / "servers" / "services" / "reverse.tac"
BOUND = 30  # seconds: the watcher needs a few; a loaded machine gets more


def _gone(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def _wait_until_nothing_left(pids: list[int], folders: list[str]) -> tuple[list[int], list[str]]:
    deadline = time.monotonic() + BOUND
    while True:
        alive = [pid for pid in pids if not _gone(pid)]
        present = [folder for folder in folders if os.path.exists(folder)]
        if not (alive or present) or time.monotonic() > deadline:
            return alive, present
        time.sleep(0.1)


MAKE_EVERYTHING = """
import json, os, pathlib, subprocess, sys
import labkit
from labkit import daemons
from servers.auth import user_table

os.chdir({tmp!r})
folder = labkit.temporary_folder("reaper-test-")
(folder / "private_key").write_text("secret")
table = user_table()  # the practice login server's database, in a folder of its own
real_daemon = daemons.twistd({tac!r}, daemonize=True)
child_daemon = daemons.twistd({tac!r})
pathlib.Path("programs").mkdir(exist_ok=True)
pathlib.Path("programs/sleeper.py").write_text("import time\\nprint('ready', flush=True)\\ntime.sleep(300)\\n")
program = labkit.start_program("sleeper.py")
program.wait_for_line("ready")
# a child started with an empty environment (as reactor.spawnProcess does by default): found by the session
stray = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], env={{}})
print(json.dumps({{
    "kernel": os.getpid(),
    "pids": [real_daemon.pid, child_daemon.pid, program.process.pid, stray.pid],
    "folders": [str(folder), str(table.parent), str(real_daemon.folder), str(child_daemon.folder)],
}}))
"""


@pytest.mark.parametrize("death", ["SIGKILL", "os._exit"])
def test_a_dead_kernel_leaves_no_process_and_no_folder(tmp_path, death):
    kernel = Kernel()
    try:
        run = kernel.run(textwrap.dedent(MAKE_EVERYTHING.format(tmp=str(tmp_path), tac=str(REVERSE_TAC))),
                         timeout=120)
        assert run.error is None, run.error
        made = json.loads(run.stdout.strip().splitlines()[-1])
        assert not any(_gone(pid) for pid in made["pids"]) and all(map(os.path.exists, made["folders"]))
        if death == "SIGKILL":
            os.kill(made["kernel"], signal.SIGKILL)
        else:
            kernel.start("import os; os._exit(0)")
        alive, present = _wait_until_nothing_left([made["kernel"], *made["pids"]], made["folders"])
        assert alive == [] and present == [], f"left after the kernel's {death}: processes {alive}, folders {present}"
    finally:
        kernel.client.stop_channels()
        kernel.manager.cleanup_resources()


def test_a_folder_made_before_the_watcher_knew_is_removed_too(tmp_path):
    """A practice server's folder made before labkit was imported is handed to the watcher once it is."""
    kernel = Kernel()
    try:
        run = kernel.run(textwrap.dedent("""
            import os
            from servers.mail.pop3 import mail_folder
            early = mail_folder()
            import labkit
            print(os.getpid(), early)
        """), timeout=120)
        assert run.error is None, run.error
        pid, folder = run.stdout.split()
        os.kill(int(pid), signal.SIGKILL)
        assert _wait_until_nothing_left([int(pid)], [folder]) == ([], [])
    finally:
        kernel.client.stop_channels()
        kernel.manager.cleanup_resources()
