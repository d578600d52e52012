"""labkit.daemons: twistd and twist as managed child processes; each way a start can fail, and no strays."""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import threading
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
    daemons.stop_daemons()
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


# --- plugins: the dropin.cache Twisted writes stays out of the shared programs/ folder ----------------------------

def plugin_tree(tree: pathlib.Path) -> pathlib.Path:
    plugins = tree / "twisted" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "reverse_plugin.py").write_text(textwrap.dedent("""
        from twisted.application.service import ServiceMaker
        reverse = ServiceMaker("reverse", "servers.services.tap", "reverse text", "reverse")
    """))
    return plugins


def test_two_twists_at_once_on_one_plugin_folder_write_no_cache_into_it(tmp_path):
    plugins = plugin_tree(tmp_path / "programs")
    (plugins / "dropin.cache").write_bytes(b"left by an older Twisted, not a pickle")
    started = [daemons.twist("reverse", "--port", "tcp:0:interface=127.0.0.1", plugins=tmp_path / "programs")
               for _ in range(2)]
    for daemon in started:
        probe_reverse("127.0.0.1", daemon.port)
        daemon.stop()
    assert (plugins / "dropin.cache").read_bytes() == b"left by an older Twisted, not a pickle"
    assert sorted(path.name for path in plugins.iterdir()) == ["dropin.cache", "reverse_plugin.py"]
    assert all((daemon.folder / "plugins-of-this-run" / "twisted" / "plugins" / "dropin.cache").exists()
               for daemon in started)


def test_twistd_scanning_the_plugins_beside_its_tac_writes_no_cache_there(tmp_path):
    plugins = plugin_tree(tmp_path)
    app = tac(tmp_path, """
        from twisted.application import service
        from servers.services import reverse_service
        application = service.Application("reverse")
        reverse_service().setServiceParent(application)
    """)
    daemon = daemons.twistd(app)  # twistd lists the plugins of every twisted/plugins folder on its path
    daemon.stop()
    assert sorted(path.name for path in plugins.iterdir()) == ["reverse_plugin.py"]


# --- privileges: root drops them for real; an ordinary user is refused, and told why ------------------------------

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="dropping root needs a root process (CI runs as root)")

CATSERVER = """
    import os
    from twisted.application import service, strports
    from twisted.internet import protocol
    from twisted.protocols import basic

    class Cat(basic.LineReceiver):
        delimiter = b"\\n"

        def lineReceived(self, line):
            try:
                with open(line.rstrip(b"\\r"), "rb") as opened:
                    self.sendLine(opened.read().rstrip(b"\\n"))
            except OSError as error:
                self.sendLine(f"ERROR: {error.strerror}".encode())

    class StartedFile(service.Service):
        def startService(self):
            service.Service.startService(self)
            with open("started.txt", "w") as started:
                started.write(f"{os.getuid()} {os.getgid()}\\n")

    application = service.Application("cat")
    port = os.environ.get("CAT_PORT", "0")
    strports.service(f"tcp:{port}:interface=127.0.0.1",
                     protocol.ServerFactory.forProtocol(Cat)).setServiceParent(application)
    StartedFile().setServiceParent(application)
"""


def ask(port: int, *names: str) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        answers = []
        for name in names:
            sock.sendall(name.encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                answer += sock.recv(4096)
            answers.append(answer.decode().rstrip("\r\n"))
    return answers


@root_only
def test_root_binds_a_port_below_1024_then_runs_as_nobody_with_its_umask(tmp_path):
    port = daemons.privileged_port()
    daemon = daemons.twistd(tac(tmp_path, CATSERVER), "--uid", "nobody", "--gid", "nogroup", "--umask", "027",
                            env={"CAT_PORT": str(port)})
    assert daemon.port == port < 1024 and daemon.identity == ("nobody", "nogroup")
    assert daemon.wait_for_line("set uid/gid 65534/65534")  # the line may still be in the pipe when it is ready
    assert ask(daemon.port, "/etc/shadow", "started.txt") == ["ERROR: Permission denied", "65534 65534"]
    started = (daemon.folder / "started.txt").stat()
    assert (started.st_uid, started.st_gid, started.st_mode & 0o777) == (65534, 65534, 0o640)
    pidfile = daemon.pidfile.stat()
    assert (pidfile.st_uid, pidfile.st_mode & 0o777) == (0, 0o640)  # written by root, after the umask
    assert daemon.stop() == -signal.SIGTERM and daemon.pidfile_removed  # by nobody, in the folder it was given


@root_only
def test_root_chroots_the_daemon_into_its_folder_before_it_drops_root(tmp_path):
    daemon = daemons.twistd(tac(tmp_path, CATSERVER), "--uid", "nobody", "--gid", "nogroup", "--chroot", ".")
    assert daemon.identity == ("nobody", "nogroup") and daemon.pidfile is None
    passwd, shadow, started = ask(daemon.port, "/etc/passwd", "/etc/shadow", "/started.txt")
    assert passwd.startswith("nobody:x:65534:65534:") and "root" not in passwd  # the jail's own /etc/passwd
    assert shadow == "ERROR: No such file or directory" and started == "65534 65534"
    assert daemon.stop() == -signal.SIGTERM and "Server Shut Down." in daemon.log


@root_only
def test_a_daemon_that_dropped_root_still_dies_with_its_kernel(tmp_path):
    app = tac(tmp_path, CATSERVER)
    kernel = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from labkit import daemons
        daemon = daemons.twistd({str(app)!r}, "--uid", "nobody", "--gid", "nogroup")
        print(daemon.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(kernel.stdout.readline())
        assert pathlib.Path(f"/proc/{pid}/status").read_text().count("65534") >= 2
        kernel.kill()
        assert gone(pid), "a daemon that switched to nobody outlived the kernel (the uid change cleared its signal)"
    finally:
        kernel.kill()
        kernel.wait()
        kernel.stdout.close()


@root_only
@pytest.mark.parametrize("options, port, refusal, hint", [
    (["--uid", "root", "--gid", "root"], "0",
     "failed to set uid/gid 0/0: [Errno 1] Operation not permitted (are you root?) -- exiting.",
     "only root can switch to another user"),
    (["--chroot", "."], "0", "PermissionError: [Errno 1] Operation not permitted: '.'", "only root can chroot"),
    ([], "LOW", "Couldn't listen on 127.0.0.1:LOW: [Errno 13] Permission denied.",
     "only root may listen on a port below 1024"),
], ids=["uid", "chroot", "low-port"])
def test_an_ordinary_user_is_refused_with_twistds_own_words_and_told_why(tmp_path, options, port, refusal, hint):
    low = str(daemons.privileged_port())
    with pytest.raises(daemons.DaemonFailed) as failure:
        daemons.twistd(tac(tmp_path, CATSERVER), *options, env={"CAT_PORT": port.replace("LOW", low)},
                       user=daemons.ordinary_user())
    message = str(failure.value)
    assert message.startswith(f"twistd ended (exit status 1): {hint}")
    assert refusal.replace("LOW", low) in message


@root_only
def test_an_ordinary_user_whose_log_folder_is_not_writable_is_told_so(tmp_path):
    closed = tmp_path / "logs"
    closed.mkdir(mode=0o755)  # root's: others may look, not write
    with pytest.raises(daemons.DaemonFailed, match="cannot write there") as failure:
        daemons.twistd(REVERSE_TAC, "--logfile", str(closed / "twistd.log"), user="nobody")
    assert "Permission denied" in str(failure.value)


def test_an_ordinary_kernel_cannot_start_a_daemon_as_someone_else(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert daemons.ordinary_user() is None
    with pytest.raises(PermissionError, match="leave out user="):
        daemons.twistd(REVERSE_TAC, user="nobody")


@root_only
def test_a_privileged_port_is_free_and_below_1024():
    port = daemons.privileged_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert 600 <= port < 1024


def test_the_port_is_known_even_when_the_log_does_not_say_it(tmp_path):
    """The port comes from the daemon itself, not only from its log, which another thread reads and may not have
    read yet when the daemon is ready (here a --logger that keeps nothing: the log never names the port)."""
    (tmp_path / "quiet.py").write_text("def observer():\n    return lambda event: None\n")
    daemon = daemons.twistd(REVERSE_TAC, "--logger", "quiet.observer", folder=tmp_path)
    assert "starting on" not in daemon.log
    probe_reverse("127.0.0.1", daemon.port)
    daemon.stop()


def test_sigterm_from_outside_while_the_tac_loads_is_reported_and_leaves_nothing(tmp_path):
    """A service manager (or a person with kill) stops the daemon before it has started."""
    loading = tac(tmp_path, f"""
        import os, time
        from twisted.application import service
        open({str(tmp_path / "loading")!r}, "w").write(str(os.getpid()))
        time.sleep(30)
        application = service.Application("slow")
    """)

    def terminate_once_loading():
        deadline = time.monotonic() + 10
        while not (tmp_path / "loading").exists() or not (tmp_path / "loading").read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(int((tmp_path / "loading").read_text()), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_loading)
    killer.start()
    try:
        with pytest.raises(daemons.DaemonFailed, match=r"twistd ended \(exit status -15\)") as failure:
            daemons.twistd(loading, timeout=20)
    finally:
        killer.join()
    assert "something sent it SIGTERM before it had started" in str(failure.value)
    assert "$ twistd -n -y" in str(failure.value)


def test_the_run_folders_a_kernel_made_are_removed_when_it_exits():
    ran = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from labkit import daemons
        daemon = daemons.twistd({str(REVERSE_TAC)!r})
        print(daemon.folder, flush=True)
    """)], capture_output=True, text=True, timeout=60)
    folder = pathlib.Path(ran.stdout.strip())
    assert ran.returncode == 0 and folder.name.startswith("daemon-"), ran.stderr
    deadline = time.monotonic() + 15  # the watcher removes it once the process has ended
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not folder.exists()
