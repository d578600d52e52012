"""Every practice server in the catalogue, attacked, while a well-behaved client (its probe) keeps being answered.

Each server runs as its own process (``python -m servers NAME --port 0``) with short limits, so timeouts and
evictions happen within seconds. Every attack is bounded in bytes, connections and time, and talks to loopback
only. After each one the server's probe must pass and its resident memory must stay within :data:`RSS_GROWTH` of
what it was before the first attack. A server registered tomorrow is covered by the same tests.
"""

from __future__ import annotations

import contextlib
import random
import resource
import socket
import threading
from dataclasses import dataclass

import pytest

import servers
from tests.peers import send_then_drain
from tests.standalone import Standalone, standalone

HOST = "127.0.0.1"
LIMITS = {"max_connections": 100, "idle_timeout": 3, "request_timeout": 2, "max_buffered": 64 * 1024}
RSS_GROWTH = 64 * 1024 * 1024
WAIT = 15.0  # the longest any single socket operation of an attack may block


@dataclass
class Running:
    """A practice server on its own, with its probe and its resident memory before the first attack."""

    server: Standalone
    probe: object
    baseline: int = 0

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def port(self) -> int:
        return self.server.port

    def open_files(self) -> int:
        return self.server.open_files()

    def still_healthy(self, attack: str) -> None:
        process = self.server.process
        assert process.poll() is None, f"{self.name} exited with {process.returncode} after {attack}"
        self.probe(HOST, self.port)
        grown = self.server.rss() - self.baseline
        assert grown < RSS_GROWTH, f"{self.name} grew by {grown / 2**20:.1f} MB after {attack}"


CROWD = 1100  # idle connections opened at once


def allow_open_files(count: int) -> None:
    """Raise this process's soft limit on open files to ``count`` (many desktops start at 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"this system allows {hard} open files; {count} are needed for the crowd of idle clients")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


@pytest.fixture(scope="module", params=sorted(servers.REGISTRY))
def server(request):
    name = request.param
    with standalone(name, "--port", "0", limits=LIMITS) as started:
        running = Running(started, servers.REGISTRY[name].load_probe())
        running.probe(HOST, running.port)
        running.baseline = started.rss()
        yield running


def connect(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=WAIT)


def random_line(chance: random.Random) -> bytes:
    kind = chance.randrange(5)
    if kind == 0:
        return bytes(chance.randrange(256) for _ in range(chance.randrange(1, 200))).replace(b"\n", b"")
    if kind == 1:
        return b"GET " + b"/" * chance.randrange(0, 3000) + b" HTTP/9.9"
    if kind == 2:
        return b":" * chance.randrange(1, 50) + b"\x00\xff" + b"Host: " * chance.randrange(0, 20)
    if kind == 3:
        return "".join(chance.choice("aé字 \t\r%$") for _ in range(chance.randrange(0, 80))).encode()
    return b""


def test_ten_thousand_malformed_and_random_lines(server):
    chance = random.Random(8)
    for _ in range(100):
        lines = b"\n".join(random_line(chance) for _ in range(100)) + b"\n"
        send_then_drain(server.port, lines)
    server.still_healthy("10,000 malformed lines")


def test_a_one_megabyte_line(server):
    send_then_drain(server.port, b"x" * 1_000_000 + b"\r\n")
    server.still_healthy("a 1 MB line")


def test_binary_garbage(server):
    chance = random.Random(9)
    for _ in range(10):
        send_then_drain(server.port, chance.randbytes(100_000))
    server.still_healthy("binary garbage")


# What a client that half-closes sends, and how the answer must begin, by server name or else by URL scheme.
HALF_CLOSE = {"http": (b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1."),
              "echo": (b"one\ntwo", b"You said: one\r\nYou said: two\r\n")}


def half_close_exchange(name: str) -> tuple[bytes, bytes]:
    entry = servers.REGISTRY[name]
    return HALF_CLOSE.get(name, HALF_CLOSE.get(entry.scheme, (b"hello\r\n", b"")))


def test_half_closing_clients_get_their_answers_and_a_close(server):
    request, expected = half_close_exchange(server.name)
    answers = [send_then_drain(server.port, request) for _ in range(20)]
    right = sum(answer.startswith(expected) for answer in answers)
    assert right == 20, f"{right} of 20 half-closing clients got {expected!r}; first: {answers[0][:80]!r}"
    server.still_healthy("half-closing clients")


@contextlib.contextmanager
def never_reading(port: int, scheme: str):
    """A client that sends requests (pipelined ``GET /big`` to HTTP) and never reads, until the server stops
    reading from it (its sends stall for 2 s) or closes, or 100 MB went in. Yields the bytes it sent; it stays
    connected until the block ends."""
    request = b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n" if scheme == "http" else b"x" * 1000 + b"\n"
    chunk = request * (65536 // len(request) + 1)
    with connect(port) as sock:
        sock.settimeout(2)
        sent = 0
        try:
            while sent < 100_000_000:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server stopped reading (send timed out) or closed on us: both are fine
        yield sent


def test_a_client_that_never_reads(server):
    with never_reading(server.port, servers.REGISTRY[server.name].scheme) as sent:
        server.still_healthy(f"a client that sent {sent // 1000} kB and never read")


def test_eleven_hundred_idle_connections_lock_nobody_out(server):
    allow_open_files(CROWD + 100)
    idle = []
    try:
        for _ in range(CROWD):
            idle.append(connect(server.port))
        server.still_healthy("1,100 idle connections")
        held = server.open_files()
        assert held < LIMITS["max_connections"] + 50, f"{server.name} holds {held} files with 1,100 clients"
    finally:
        for sock in idle:
            sock.close()


def test_slowloris_clients_are_cut_off(server):
    trickle_every = 0.25
    most = int(LIMITS["request_timeout"] * 5 / trickle_every)  # bytes in five times the request time limit
    stop = threading.Event()
    sent_before_cut = []

    def trickle():
        with connect(server.port) as sock:
            for sent in range(most):
                try:
                    sock.sendall(b"G")
                except OSError:
                    sent_before_cut.append(sent)
                    return
                if stop.wait(trickle_every):
                    return

    slow = [threading.Thread(target=trickle) for _ in range(10)]
    for thread in slow:
        thread.start()
    try:
        server.still_healthy("slowloris clients")
    finally:
        for thread in slow:
            thread.join(WAIT + most * trickle_every)
        stop.set()
    assert len(sent_before_cut) == len(slow), \
        f"{len(slow) - len(sent_before_cut)} of {len(slow)} clients sending a byte every {trickle_every} s " \
        f"were still connected after {most} bytes"
