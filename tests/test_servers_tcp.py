"""Chapter 2's practice servers, checked with independent peers (plain sockets, http.client)."""

import http.client
import socket
import subprocess
import sys

import pytest

import labkit
from labkit.checks import converse
import servers
from servers.abuse_guard import Limits
from servers.tcp import HTTP_BODY, PortField


def _half_closed(port: int, data: bytes) -> bytes:
    """What a client that sends ``data`` and then shuts down its sending side (``nc -N``) gets back."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_every_registered_server_builds_and_has_a_summary():
    assert {"echo", "hangup", "ports", "http"} <= set(servers.REGISTRY)
    for entry in servers.REGISTRY.values():
        assert entry.summary
        assert servers.build(entry.name) is not None


def test_echo_accepts_lf_and_crlf_lines():
    server = labkit.serve("echo")
    reply = converse(server.port, b"one\ntwo\r\nquit\n", settle=5)
    assert reply == b"You said: one\r\nYou said: two\r\nGoodbye.\r\n"


def test_echo_answers_clients_that_half_close_then_closes():
    server = labkit.serve("echo")
    answers = [_half_closed(server.port, b"line %d\nand %d\n" % (n, n)) for n in range(20)]
    assert answers == [b"You said: line %d\r\nYou said: and %d\r\n" % (n, n) for n in range(20)]


def test_an_idle_connection_is_closed_and_the_server_keeps_serving():
    server = labkit.serve("echo", limits=Limits(idle_timeout=0.5))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert idle.recv(10) == b""  # closed by the server, not by the 10 s socket timeout
    assert converse(server.port, b"after\nquit\n", settle=5) == b"You said: after\r\nGoodbye.\r\n"


def test_hangup_closes_cleanly_at_once():
    server = labkit.serve("hangup")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert sock.recv(10) == b""


def test_tiny_http_answers_get_and_head_with_the_fixed_page():
    server = labkit.serve("http")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/anything")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, HTTP_BODY)
    connection.close()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("HEAD", "/")
    response = connection.getresponse()
    assert response.status == 200 and int(response.getheader("Content-Length")) == len(HTTP_BODY)
    assert response.read() == b""


def test_port_fields_describe_their_open_and_closed_ports():
    field = PortField(size=10, open_offsets=(0, 9), first=30000)
    assert field.open_ports == [30000, 30009]
    assert field.closed_ports == list(range(30001, 30009))
    with pytest.raises(ValueError):
        PortField(size=5, open_offsets=(5,))


def test_python_m_servers_lists_and_runs_a_server():
    listing = subprocess.run([sys.executable, "-m", "servers"], capture_output=True, text=True, timeout=60)
    assert "echo" in listing.stdout and "ports" in listing.stdout
    process = subprocess.Popen([sys.executable, "-m", "servers", "echo"], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("echo listening on 127.0.0.1 port ")
        port = int(line.split("port ")[1].split(";")[0])
        reply = converse(port, b"standalone\nquit\n", settle=5)
        assert reply == b"You said: standalone\r\nGoodbye.\r\n"
        assert _half_closed(port, b"nc -N\nunfinished") == b"You said: nc -N\r\nYou said: unfinished\r\n"
    finally:
        process.terminate()
        process.wait(10)


def test_python_m_servers_refuses_unknown_names_and_other_hosts():
    unknown = subprocess.run([sys.executable, "-m", "servers", "nope"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "no practice server named 'nope'" in unknown.stderr
    for host in ("0.0.0.0", "0", "0x0", "::0", "192.168.1.20"):
        public = subprocess.run([sys.executable, "-m", "servers", "echo", "--host", host],
                                capture_output=True, text=True, timeout=60)
        assert public.returncode != 0 and "127.0.0.1" in public.stderr, (host, public.stderr)
