"""Every practice server in the catalogue, attacked, while a well-behaved client (its probe) keeps being answered.

Each server runs as its own process (``python -m servers NAME --port 0``) with short limits, so timeouts and
evictions happen within seconds. Every attack is bounded in bytes, connections and time, and talks to loopback
only. After each one the server's probe must pass and its resident memory must stay within :data:`RSS_GROWTH` of
what it was before the first attack. A server registered tomorrow is covered by the same tests.

Every entry with practice accounts is attacked after login too: logged in with its account as its probe logs in,
a client sends a 1 MB line, binary garbage, and requests it never reads the answers to; the same health and memory
checks follow each. An entry with accounts but no session after login says why in ``tests.attacks.NO_SESSION``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import pytest

import servers
from tests.attacks import (CROWD, HOST, NO_SESSION, WAIT, allow_open_files, chatty_request, connect,
                           flood_then_drain, half_close_exchange, never_reading, never_reading_after, practice_session,
                           random_line)
from tests.peers import send_then_drain
from tests.standalone import Standalone, standalone

LIMITS = {"max_connections": 100, "idle_timeout": 3, "request_timeout": 2, "max_buffered": 64 * 1024}
RSS_GROWTH = 64 * 1024 * 1024


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


@pytest.fixture(scope="module", params=sorted(servers.REGISTRY))
def server(request):
    name = request.param
    with standalone(name, "--port", "0", limits=LIMITS) as started:
        running = Running(started, servers.REGISTRY[name].load_probe())
        running.probe(HOST, running.port)
        running.baseline = started.rss()
        yield running


WITH_SESSIONS = sorted(name for name, entry in servers.REGISTRY.items() if entry.accounts and name not in NO_SESSION)
after_login = pytest.mark.parametrize("server", WITH_SESSIONS, indirect=True, scope="module")


def session_on(server):
    """A session logged in with the server's first practice account (as printed when it started)."""
    return practice_session(server.server, servers.REGISTRY[server.name].scheme)


def test_every_entry_with_accounts_is_attacked_after_login_or_says_why_not():
    with_accounts = {name for name, entry in servers.REGISTRY.items() if entry.accounts}
    assert set(NO_SESSION) <= with_accounts and len(WITH_SESSIONS) + len(NO_SESSION) == len(with_accounts)
    assert {"ssh", "pop3", "smtp", "imap", "web", "todo"} <= set(WITH_SESSIONS)


@after_login
def test_a_one_megabyte_line_after_login(server):
    with session_on(server) as session:
        flood_then_drain(session, b"x" * 1_000_000 + b"\r\n")
    server.still_healthy("a 1 MB line after login")


@after_login
def test_binary_garbage_after_login(server):
    chance = random.Random(10)
    with session_on(server) as session:
        for _ in range(3):
            flood_then_drain(session, chance.randbytes(100_000), quiet=0.5)
    server.still_healthy("binary garbage after login")


@after_login
def test_a_client_that_never_reads_after_login(server):
    user, password = server.server.accounts[0]
    with session_on(server) as session:
        request = chatty_request(session, servers.REGISTRY[server.name].scheme, user, password)
        sent, stopped = never_reading_after(session, request)
        assert stopped, f"{server.name} kept reading a logged-in client that never reads ({sent // 1000} kB)"
        server.still_healthy(f"a logged-in client that sent {sent // 1000} kB and never read")


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


def test_half_closing_clients_get_their_answers_and_a_close(server):
    request, expected = half_close_exchange(server.name)
    answers = [send_then_drain(server.port, request) for _ in range(20)]
    right = sum(answer.startswith(expected) for answer in answers)
    assert right == 20, f"{right} of 20 half-closing clients got {expected!r}; first: {answers[0][:80]!r}"
    server.still_healthy("half-closing clients")


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
