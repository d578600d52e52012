"""Chapter 11's practice server, the reverse-text service: a real socket client, bad input, and the protocol
driven without sockets (``StringTransport``)."""

from __future__ import annotations

import socket

from twisted.internet.testing import StringTransport

import labkit
from servers.services import MAX_LINE, reverse
from servers.services.probes import reverse as probe_reverse


def talk(port: int, data: bytes) -> bytes:
    """Send ``data``, half-close, read until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_a_stdlib_client_gets_each_line_reversed_and_a_goodbye():
    served = labkit.serve("reverse", show=False)
    probe_reverse("127.0.0.1", served.port)
    assert talk(served.port, "stressed\r\n字 ok\nquit\n".encode()) == "desserts\r\nko 字\r\nGoodbye.\r\n".encode()


def test_a_line_that_is_not_utf8_is_refused_and_the_talk_goes_on():
    served = labkit.serve("reverse", show=False)
    assert talk(served.port, b"\xff\xfe\nabc\nquit\n") == b"error: send UTF-8 text\r\ncba\r\nGoodbye.\r\n"


def test_a_line_past_the_limit_closes_that_connection_only():
    served = labkit.serve("reverse", show=False)
    answer = talk(served.port, b"x" * (MAX_LINE + 10) + b"\n")
    assert answer == b"error: line too long\r\n"
    probe_reverse("127.0.0.1", served.port)


def test_the_protocol_without_sockets():
    protocol = reverse().buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"drawer\r\nquit\r\n")
    assert transport.value() == b"reward\r\nGoodbye.\r\n" and transport.disconnecting
