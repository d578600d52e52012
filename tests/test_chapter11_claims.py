"""Chapter 11 (services, processes and logging): the claims. Each test backs one sentence of the complete notebook that
no executed output there proves, asserted against what is installed (Twisted, and the tools around it); its
docstring names the notebook and the cell. Should the sentence become false, the test fails and names it. The
chapter's checks are tested in tests/test_chapter11.py; the helpers shared by the claims tests are in
tests/claims.py.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

from twisted.application import service
from twisted.internet import protocol

import labkit
from tests.claims import WAIT


def test_twistd_y_does_not_put_the_current_folder_on_sys_path(tmp_path):
    """11-services-processes-and-logging, cell 14: `twistd -y` does not put the current folder on `sys.path`; a
    `.tac` that imports a module beside it needs `PYTHONPATH`."""
    (tmp_path / "beside.py").write_text("VALUE = 1\n")
    (tmp_path / "app.tac").write_text(
        "import beside\nfrom twisted.application import service\nfrom twisted.internet import reactor\n"
        "application = service.Application('claims')\nreactor.callWhenRunning(reactor.stop)\n")
    twistd = [str(pathlib.Path(sys.executable).with_name("twistd")), "-n", "-y", "app.tac",
              "--pidfile", "twistd.pid", "--logfile", "-"]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    alone = subprocess.run(twistd, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    assert "No module named 'beside'" in alone.stdout + alone.stderr
    with_path = subprocess.run(twistd, cwd=tmp_path, env={**environment, "PYTHONPATH": str(tmp_path)},
                               capture_output=True, text=True, timeout=60)
    assert with_path.returncode == 0 and "Main loop terminated" in with_path.stdout, with_path.stdout


def test_twistd_replaces_a_stale_pid_file_and_will_not_start_over_a_live_one(tmp_path):
    """11-services-processes-and-logging, cell 14: the pid file is no lock: a stale one (its process is gone) is
    removed, one naming a live process stops the new start."""
    (tmp_path / "app.tac").write_text(
        "from twisted.application import service\nfrom twisted.internet import reactor\n"
        "application = service.Application('claims')\nreactor.callWhenRunning(reactor.stop)\n")
    twistd = [str(pathlib.Path(sys.executable).with_name("twistd")), "-n", "-y", "app.tac",
              "--pidfile", "twistd.pid", "--logfile", "-"]
    pidfile = tmp_path / "twistd.pid"
    with subprocess.Popen([sys.executable, "-c", "pass"]) as finished:
        finished.wait(timeout=30)
    pidfile.write_text(f"{finished.pid}\n")  # a process that has ended
    stale = subprocess.run(twistd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 0 and "Removing stale pidfile" in stale.stdout, stale.stdout
    pidfile.write_text(f"{os.getpid()}\n")  # this test's own, live process
    live = subprocess.run(twistd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert live.returncode == 1 and "Another twistd server is running" in live.stdout + live.stderr
    assert pidfile.read_text() == f"{os.getpid()}\n"


def test_tcp_server_still_binds_its_port_in_privileged_start_service():
    """11-services-processes-and-logging, cells 14 and 26: `internet.TCPServer(port, factory)` still works, and it
    binds its port in `privilegedStartService`, before twistd gives up root and calls `startService`."""
    from twisted.application import internet

    from tests.peers import free_port

    number = free_port()
    tcp_service = internet.TCPServer(number, protocol.ServerFactory.forProtocol(protocol.Protocol),
                                     interface="127.0.0.1")
    labkit.react(lambda reactor: tcp_service.privilegedStartService(), timeout=WAIT)
    try:
        assert not tcp_service.running
        with socket.create_connection(("127.0.0.1", number), timeout=WAIT):
            pass  # accepted: the port was bound before startService
    finally:
        labkit.react(lambda reactor: tcp_service.stopService(), timeout=WAIT)


def test_an_application_still_takes_a_uid_and_a_gid():
    """11-services-processes-and-logging, cell 32: `Application("name", uid=..., gid=...)` still works."""
    application = service.Application("claims", uid=65534, gid=65534)
    process = service.IProcess(application)
    assert (process.uid, process.gid) == (65534, 65534)


def test_a_multiservice_starts_its_children_in_order_and_stops_them_in_reverse():
    """11-services-processes-and-logging, cell 36: a `MultiService` starts its children in the order they were
    added and stops them in the reverse order."""
    events = []

    class Noted(service.Service):
        def startService(self):
            service.Service.startService(self)
            events.append(f"{self.name} started")

        def stopService(self):
            service.Service.stopService(self)
            events.append(f"{self.name} stopped")

    parent = service.MultiService()
    for name in ("first", "second", "third"):
        child = Noted()
        child.setName(name)
        child.setServiceParent(parent)
    parent.startService()
    parent.stopService()
    assert events == ["first started", "second started", "third started",
                      "third stopped", "second stopped", "first stopped"]


ADOPTED = """
import sys
from twisted.internet import defer, endpoints, protocol, task

async def main(reactor):
    answered = defer.Deferred()

    class Hello(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"served on the socket the manager passed\\r\\n")
            self.transport.loseConnection()

        def connectionLost(self, reason):
            answered.callback(None)

    port = await endpoints.serverFromString(reactor, "systemd:domain=INET:name=lab").listen(
        protocol.Factory.forProtocol(Hello))
    print("listening on", port.getHost().port, flush=True)
    await answered

task.react(main)
"""


def test_the_systemd_endpoint_serves_on_a_socket_passed_to_it():
    """11-services-processes-and-logging, cell 32: with socket activation the service manager opens the socket and
    passes it on, and Twisted's `systemd:` endpoint receives it. Here a test plays systemd: it binds a port, passes
    the socket as descriptor 3 with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` set as systemd sets them, and a
    program listening on `systemd:domain=INET:name=lab` answers on that port without binding one."""
    manager = socket.create_server(("127.0.0.1", 0))
    number = manager.getsockname()[1]
    # sh moves the socket from its input to descriptor 3, then becomes Python under the same process id.
    hand_over = ('exec 3<&0 </dev/null; LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=lab exec "$0" -c "$1"')
    with manager, subprocess.Popen(["sh", "-c", hand_over, sys.executable, ADOPTED], stdin=manager,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as program:
        manager.close()  # the program holds the only copy now
        try:
            said = program.stdout.readline()
            with socket.create_connection(("127.0.0.1", number), timeout=WAIT) as client_socket:
                answer = client_socket.makefile("rb").readline()
            out, err = program.communicate(timeout=60)
        finally:
            program.kill()
    assert said == f"listening on {number}\n", said + err
    assert answer == b"served on the socket the manager passed\r\n"
    assert program.returncode == 0, err


def test_an_ordinary_user_may_bind_a_port_only_from_the_kernels_unprivileged_port_start():
    """11-services-processes-and-logging, cell 32: which ports an ordinary user may bind is a setting of Linux,
    `net.ipv4.ip_unprivileged_port_start`: a port below it is refused (the last refusal of cell 31), one from it on
    is not; where a system sets it to 0, no port is refused."""
    from labkit.daemons import ordinary_user, privileged_port

    start = int(pathlib.Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    low = privileged_port()
    code = ("import socket, sys\ntry:\n    socket.socket().bind(('127.0.0.1', int(sys.argv[1])))\n"
            "except PermissionError:\n    print('refused')\nelse:\n    print('allowed')")
    user = ordinary_user()
    # nobody may not enter a virtual environment kept in root's folders: Debian's own python3 runs as it
    interpreter = sys.executable if user is None else "/usr/bin/python3"
    ran = subprocess.run([interpreter, "-c", code, str(low)], capture_output=True, text=True, timeout=60, user=user)
    assert ran.stdout == ("refused\n" if low < start else "allowed\n"), ran.stdout + ran.stderr
