"""``python -m servers NAME``: the lines it prints, the accounts it names, ``--tls`` with the practice CA, ``--limit``,
each tried with real, independent clients (http.client, ssl, sockets, curl)."""

from __future__ import annotations

import base64
import http.client
import shutil
import socket
import ssl
import subprocess
import sys

import pytest

from servers import catalogue
from servers.web import HELLO_HTML, PRIVATE_HTML
from tests.standalone import ROOT, standalone


def get(connection: http.client.HTTPConnection, path: str, account: tuple[str, str] | None = None):
    headers = {}
    if account is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(account).encode()).decode()
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servers", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_the_listing_names_every_server_and_which_speak_tls():
    listing = run().stdout.splitlines()
    assert [line.split()[0] for line in listing] == sorted(catalogue.CATALOGUE)
    assert [line.split()[0] for line in listing if line.endswith("(--tls)")] == \
        sorted(name for name, entry in catalogue.CATALOGUE.items() if entry.tls)


def test_the_account_line_logs_in_to_the_private_page():
    with standalone("web") as server:
        assert server.accounts == [("learner", "twisted")]
        assert server.ca is None
        assert get(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10), "/private",
                   server.accounts[0]) == (200, PRIVATE_HTML)
        status, _ = get(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10), "/private",
                        ("learner", "wrong"))
        assert status == 401


def test_a_server_without_accounts_prints_only_its_listening_line():
    with standalone("echo") as server:
        assert server.accounts == [] and server.ca is None
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"hi\n")
            assert sock.recv(100) == b"You said: hi\r\n"


def test_tls_serves_with_the_printed_ca_and_verifies():
    with standalone("web", "--tls") as server:
        assert server.ca is not None and server.accounts == [("learner", "twisted")]
        trusting = ssl.create_default_context(cafile=server.ca)
        assert trusting.verify_mode == ssl.CERT_REQUIRED and trusting.check_hostname
        for host in ("127.0.0.1", "localhost"):
            secure = http.client.HTTPSConnection(host, server.port, timeout=10, context=trusting)
            assert get(secure, "/hello") == (200, HELLO_HTML)
        secure = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=trusting)
        assert get(secure, "/private", server.accounts[0]) == (200, PRIVATE_HTML)
        untrusting = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                                 context=ssl.create_default_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            get(untrusting, "/hello")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_verifies_tls_with_the_ca_file_and_logs_in_with_the_account():
    with standalone("web", "--tls") as server:
        user, password = server.accounts[0]
        url = f"https://localhost:{server.port}/private"
        done = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", "--cacert", server.ca,
                               "--user", f"{user}:{password}", url], capture_output=True, timeout=60)
        assert (done.returncode, done.stdout) == (0, PRIVATE_HTML), done.stderr
        unverified = subprocess.run(["curl", "--silent", "--max-time", "20", url], capture_output=True, timeout=60)
        assert unverified.returncode == 60  # curl: the peer's certificate could not be verified


def test_tls_is_refused_for_a_server_that_does_not_speak_it():
    refused = run("echo", "--tls")
    assert refused.returncode == 2 and "does not speak TLS" in refused.stderr


def closed(sock: socket.socket) -> bool:
    """True once the server has closed ``sock`` (cleanly or by a reset)."""
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def test_a_limit_reaches_the_listening_server():
    def answered(sock: socket.socket, line: bytes) -> bytes:
        sock.sendall(line + b"\n")
        return sock.recv(100)

    with standalone("echo", "--limit", "max_connections=1") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as first:
            assert answered(first, b"one") == b"You said: one\r\n"
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as second:
                assert answered(second, b"two") == b"You said: two\r\n"
                assert closed(first)  # to make room: one connection at a time
    with standalone("echo") as server:  # the control: without the limit both stay open
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as first:
            assert answered(first, b"one") == b"You said: one\r\n"
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as second:
                assert answered(second, b"two") == b"You said: two\r\n"
                assert answered(first, b"three") == b"You said: three\r\n"


@pytest.mark.parametrize("limit, message", [("speed=3", "KEY one of max_connections"),
                                            ("idle_timeout", "give KEY=VALUE"),
                                            ("max_connections=many", "max_connections takes a whole number"),
                                            ("idle_timeout=0", "idle_timeout must be more than 0")])
def test_a_wrong_limit_is_refused_saying_what_to_give(limit, message):
    refused = run("echo", "--limit", limit)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr


@pytest.mark.parametrize("host", ["0", "0x0", "::0", "0.0.0.0", "192.168.1.1"])
def test_hosts_beyond_loopback_are_refused(host):
    refused = run("echo", "--host", host)
    assert refused.returncode == 2 and "this machine only" in refused.stderr


def test_localhost_is_served_on_127_0_0_1():
    with standalone("echo", "--host", "localhost") as server:
        assert " on 127.0.0.1 port " in server.listening
