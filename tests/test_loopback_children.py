"""Loopback only, in what a notebook starts: a daemon or program listening on no interface listens on 127.0.0.1,
and one asking for every interface is refused with the fix, as the kernel's own reactor refuses it."""

import pathlib

import pytest

import labkit
from labkit import daemons


def _listening_address(port: int) -> str:
    """The local address of the listening TCP socket on ``port``, from the kernel's table (hex, as Linux writes it)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in pathlib.Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == "0A":
                return address
    raise AssertionError(f"nothing listens on port {port}")


def test_a_daemon_told_tcp_0_listens_on_loopback_only():
    daemon = daemons.twist("web", "--listen", "tcp:0", "--path", ".")
    try:
        assert _listening_address(daemon.port) == "0100007F"  # 127.0.0.1, not 00000000 (every interface)
    finally:
        daemon.stop()


def test_a_daemon_asking_for_every_interface_is_refused_and_told_why():
    with pytest.raises(daemons.DaemonFailed) as failure:
        daemons.twist("web", "--listen", "tcp:0:interface=0.0.0.0", "--path", ".")
    assert "listens on this machine only" in str(failure.value)
    assert "'0.0.0.0' means every interface" in str(failure.value)


LISTENER = """
import sys
from twisted.internet import protocol, reactor
port = reactor.listenTCP(0, protocol.Factory(), interface=sys.argv[1])
print("listening", port.getHost().host, port.getHost().port, flush=True)
"""


@pytest.fixture
def listener(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labkit.programs.save_program("listener.py", LISTENER)
    return "listener.py"


def test_a_program_listening_on_no_interface_listens_on_loopback(listener):
    program = labkit.run_program(listener, "")
    assert program.process.returncode == 0, program.output
    _, host, port = program.output.split()
    assert host == "127.0.0.1"


@pytest.mark.parametrize("interface", ["0.0.0.0", "::"])
def test_a_program_asking_for_every_interface_is_refused(listener, interface):
    program = labkit.run_program(listener, interface)
    assert program.process.returncode != 0
    assert "programs started from the notebook listen on this machine only" in program.output
    assert "means every interface" in program.output
