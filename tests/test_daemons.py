"""labkit.daemons: twistd and twist as managed child processes; each way a start can fail, and no strays."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from labkit import daemons
from servers.services.probes import reverse as probe_reverse

REVERSE_TAC = pathlib.Path(__file__).parent.parent / "servers" / "services" / "reverse.tac"


def gone(pid: int, within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return False


def tac(tmp_path, source: str) -> pathlib.Path:
    path = tmp_path / "app.tac"
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture(autouse=True)
def _no_daemon_left():
    yield
    left = daemons.running()
    daemons.stop_all()
    assert left == [] and daemons.processes() == []


def test_twistd_runs_the_tac_serves_a_real_client_and_stops_on_sigterm(tmp_path):
    daemon = daemons.twistd(REVERSE_TAC, folder=tmp_path)
    assert daemon.command == f"$ twistd -n -y {REVERSE_TAC} --pidfile twistd.pid --logfile -" and daemon.port
    assert (tmp_path / "twistd.pid").read_text().strip() == str(daemon.pid)
    probe_reverse("127.0.0.1", daemon.port)
    assert daemons.running() == [daemon] and daemons.processes() == [daemon.pid]
    assert daemon.stop() == -signal.SIGTERM
    assert daemon.pidfile_removed and gone(daemon.pid)
    assert "Received SIGTERM, shutting down." in daemon.log and "reversed 9 characters" in daemon.log


def test_a_tac_with_a_syntax_error_is_reported_with_the_daemons_own_lines(tmp_path):
    broken = tac(tmp_path, "from twisted.application import service\napplication = service.Application('x'\n")
    with pytest.raises(daemons.DaemonFailed, match="does not compile") as failure:
        daemons.twistd(broken)
    assert "SyntaxError" in str(failure.value) and "$ twistd -n -y" in str(failure.value)


def test_a_port_already_in_use_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = tac(tmp_path, f"""
            from twisted.application import service, strports
            from servers.services import reverse
            application = service.Application("busy")
            strports.service("tcp:{port}:interface=127.0.0.1", reverse()).setServiceParent(application)
        """)
        with pytest.raises(daemons.DaemonFailed, match="port is taken") as failure:
            daemons.twistd(busy)
    assert "Address already in use" in str(failure.value)


def test_a_pid_file_of_a_crashed_run_is_replaced_and_one_of_a_live_process_refused(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "twistd.pid").write_text(str(dead.pid))
    daemon = daemons.twistd(REVERSE_TAC, folder=tmp_path)
    assert (tmp_path / "twistd.pid").read_text().strip() == str(daemon.pid)
    daemon.stop()
    (tmp_path / "twistd.pid").write_text(str(os.getpid()))
    with pytest.raises(daemons.DaemonFailed, match="names a process that still runs"):
        daemons.twistd(REVERSE_TAC, folder=tmp_path)


def test_a_service_raising_in_start_service_ends_twistd_and_says_so(tmp_path):
    broken = tac(tmp_path, """
        from twisted.application import service
        from servers.services import reverse_service
        class NoDatabase(service.Service):
            def startService(self):
                raise RuntimeError("the database is missing")
        application = service.Application("broken")
        reverse_service().setServiceParent(application)
        NoDatabase().setServiceParent(application)
    """)
    with pytest.raises(daemons.DaemonFailed, match="raised in its startService") as failure:
        daemons.twistd(broken)
    assert "RuntimeError: the database is missing" in str(failure.value)


def test_a_daemon_stopped_while_it_starts_leaves_nothing(tmp_path):
    slow = tac(tmp_path, """
        import time
        from twisted.application import service
        time.sleep(30)
        application = service.Application("slow")
    """)
    with pytest.raises(daemons.DaemonFailed, match="did not finish starting within 0.5 s"):
        daemons.twistd(slow, timeout=0.5)


def test_a_log_file_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(daemons.DaemonFailed, match="cannot write there") as failure:
        daemons.twistd(REVERSE_TAC, "--logfile", str(tmp_path / "file" / "twistd.log"))
    assert "Not a directory" in str(failure.value)


def test_twist_runs_a_plugin(tmp_path):
    plugins = tmp_path / "twisted" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "reverse_plugin.py").write_text(textwrap.dedent("""
        from twisted.application.service import ServiceMaker
        reverse = ServiceMaker("reverse", "servers.services.tap", "reverse text", "reverse")
    """))
    daemon = daemons.twist("reverse", "--port", "tcp:0:interface=127.0.0.1", plugins=tmp_path)
    probe_reverse("127.0.0.1", daemon.port)
    assert daemon.command == "$ twist reverse --port tcp:0:interface=127.0.0.1"
    daemon.stop()
    assert gone(daemon.pid)


def test_an_unknown_plugin_is_named(tmp_path):
    with pytest.raises(daemons.DaemonFailed, match="no such plugin"):
        daemons.twist("nosuchplugin", plugins=tmp_path)


def test_a_real_daemon_detaches_and_is_stopped_through_its_pid_file(tmp_path):
    daemon = daemons.twistd(REVERSE_TAC, folder=tmp_path, daemonize=True)
    assert daemon.pid != daemon.process.pid and daemon.process.poll() == 0
    assert daemons.processes() == [daemon.pid]
    probe_reverse("127.0.0.1", daemon.port)
    pid = daemon.pid
    daemon.stop()
    assert gone(pid) and daemon.pidfile_removed


def test_no_daemon_outlives_a_kernel_that_is_killed(tmp_path):
    kernel = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from labkit import daemons
        daemon = daemons.twistd({str(REVERSE_TAC)!r})
        print(daemon.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(kernel.stdout.readline())
        os.kill(pid, 0)
        kernel.kill()
        assert gone(pid), "the daemon outlived the process that started it"
    finally:
        kernel.kill()
        kernel.wait()
        kernel.stdout.close()


def test_a_missing_tac_says_to_run_its_cell(tmp_path):
    with pytest.raises(FileNotFoundError, match="run its %%program cell first"):
        daemons.twistd(tmp_path / "missing.tac")
