"""TLS on guarded connections (servers.abuse_guard.guard), over real sockets: started in the middle of a session and
from the first byte, with a server that greets first, and backpressure kept above TLS."""

import socket
import ssl
import time

import pytest
from twisted.internet import protocol

import labkit
from servers import tls
from servers.abuse_guard import Limits

WAIT = 10


class StartTLSEcho(protocol.Protocol):
    """Greets, switches to TLS on ``STARTTLS``, then echoes everything."""

    def connectionMade(self):
        self.transport.write(b"hello\r\n")
        self.secured = False

    def dataReceived(self, data):
        if not self.secured and data == b"STARTTLS\r\n":
            self.transport.write(b"go ahead\r\n")
            self.transport.startTLS(tls.server_options(()))
            self.secured = True
            return
        self.transport.write(data)


@pytest.fixture
def starttls_echo():
    served = labkit.serve(protocol.ServerFactory.forProtocol(StartTLSEcho), name="starttls-echo", show=False,
                          limits=Limits(max_buffered=64 * 1024))
    yield served
    served.stop()


def _read_line(sock) -> bytes:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


def _secured(port: int) -> ssl.SSLSocket:
    plain = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    assert _read_line(plain) == b"hello\r\n"
    plain.sendall(b"STARTTLS\r\n")
    assert _read_line(plain) == b"go ahead\r\n"
    return tls.ssl_context().wrap_socket(plain, server_hostname="localhost")


def test_a_session_switched_to_tls_under_the_guard_keeps_working(starttls_echo):
    with _secured(starttls_echo.port) as client:
        for line in (b"one\r\n", b"two\r\n" * 1000):
            client.sendall(line)
            echoed = b""
            while len(echoed) < len(line):
                echoed += client.recv(65536)
            assert echoed == line


def test_after_starttls_a_client_that_never_reads_is_held_back(starttls_echo):
    """Above TLS the guard still stops reading a client that does not read its answers. Without it the server
    would read (and echo into memory) everything the client sends; with it the client's sending blocks."""
    sent, chunk = 0, b"x" * 65536
    with _secured(starttls_echo.port) as client:
        client.settimeout(1.0)
        deadline = time.monotonic() + WAIT
        try:
            while sent < 64 * 1024 * 1024 and time.monotonic() < deadline:
                sent += client.send(chunk)
        except (TimeoutError, socket.timeout, ssl.SSLWantWriteError):
            pass
    assert sent < 64 * 1024 * 1024, "the server kept reading a client that never read its answers"
    with _secured(starttls_echo.port) as other:  # and it still serves others
        other.sendall(b"still here\r\n")
        assert _read_line(other) == b"still here\r\n"


class Greeter(protocol.Protocol):
    """Speaks first, as POP3, SMTP and IMAP servers do."""

    def connectionMade(self):
        self.transport.write(b"+OK ready\r\n")

    def dataReceived(self, data):
        self.transport.write(b"+OK " + data)


def test_a_server_that_greets_first_over_tls_from_the_first_byte_completes_the_handshake():
    served = labkit.serve(protocol.ServerFactory.forProtocol(Greeter), name="tls-greeter", show=False,
                          tls=tls.server_options(()))
    try:
        plain = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
        with tls.ssl_context().wrap_socket(plain, server_hostname="localhost") as client:
            assert _read_line(client) == b"+OK ready\r\n"
            client.sendall(b"NOOP\r\n")
            assert _read_line(client) == b"+OK NOOP\r\n"
    finally:
        served.stop()


def test_over_https_a_client_that_pipelines_and_never_reads_is_held_back():
    """twisted.web registers its own producer; over TLS from the first byte the guard still stops reading a client
    that asks for /big again and again without reading, and the site keeps serving others."""
    served = labkit.serve("web", name="https-web", show=False, tls=tls.server_options())
    request = b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n"
    chunk = request * (65536 // len(request) + 1)
    sent = 0
    try:
        plain = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
        with tls.ssl_context().wrap_socket(plain, server_hostname="localhost") as client:
            client.settimeout(2.0)
            try:
                while sent < 64 * 1024 * 1024:
                    client.sendall(chunk)
                    sent += len(chunk)
            except (TimeoutError, socket.timeout, ssl.SSLWantWriteError):
                pass
            assert sent < 64 * 1024 * 1024, "the server kept reading a client that never read its answers"
            plain_other = socket.create_connection(("127.0.0.1", served.port), timeout=WAIT)
            with tls.ssl_context().wrap_socket(plain_other, server_hostname="localhost") as other:
                other.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                assert other.recv(12) == b"HTTP/1.1 200"
    finally:
        served.stop()
