"""Requests per second: the practice web site (``python -m servers web``: its Site, request log and the
listening guard) against a bare twisted.web ``Site`` serving the same bytes, in one run.

Each server is its own process pinned to one core; the load comes from this process on another core: CONNECTIONS
keep-alive connections, each sending ``GET /hello`` as soon as the previous answer is complete. The servers
take turns, ROUNDS times, for SECONDS each. Two figures per server: the median rate (requests per wall-clock
second, which other work on the machine disturbs) and requests per second of the server process's own CPU time
(read from /proc, steady under load from elsewhere). The ratio that is held to the target, >= 0.95x, is the
second; both are printed.

The practice site writes no access log line (its request log holds every request), which a bare Site does, at a
quarter of its time per small page. So a third server, a bare Site without the access log, is measured too, for
the record: against it the ratio is what the guard, the request log and the practice tree cost.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import socket
import statistics
import sys
import time

from tests.standalone import serving, standalone

CONNECTIONS = 50
SECONDS = 3.0
ROUNDS = 5
PATH = "/hello"
TARGET = 0.95
QUIET_BARE = "bare, no access log"

# The bare server: a Site with one static resource holding the practice page's bytes, listening as twisted does.
BARE = """
import sys
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site
from twisted.web.static import Data
from servers.web.practice_site import HELLO_HTML
root = Resource()
root.putChild(b"hello", Data(HELLO_HTML, "text/html; charset=utf-8"))
site = Site(root)
site.displayTracebacks = False
if "--no-access-log" in sys.argv:
    site.log = lambda request: None
port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
print(f"bare listening on 127.0.0.1 port {port.getHost().port}; Ctrl-C stops it", flush=True)
reactor.run()
"""


class _Client:
    """One keep-alive connection that asks again as soon as an answer is complete."""

    def __init__(self, port: int, request: bytes):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.request = request
        self.buffer = b""
        self.answers = 0
        self.sock.send(request)

    def readable(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed a keep-alive connection")
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end]
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:80]!r}")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            self.answers += 1
            self.sock.send(self.request)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def load(port: int, seconds: float = SECONDS) -> tuple[int, float]:
    """Keep CONNECTIONS clients asking for ``seconds``: (answers, elapsed seconds)."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    clients = [_Client(port, request) for _ in range(CONNECTIONS)]
    with selectors.DefaultSelector() as selector:
        for client in clients:
            selector.register(client.sock, selectors.EVENT_READ, client)
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            for key, _ in selector.select(timeout=1.0):
                key.data.readable()
        elapsed = time.perf_counter() - start
    for client in clients:
        client.sock.close()
    return sum(client.answers for client in clients), elapsed


def compare(rounds: int = ROUNDS) -> dict[str, tuple[float, float]]:
    """Per server: (median requests per second, requests per CPU-second of the server) over alternating runs."""
    cores = sorted(os.sched_getaffinity(0))
    server_core, client_core = (cores[0], cores[1]) if len(cores) > 1 else (None, None)
    mine = os.sched_getaffinity(0)
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    with contextlib.ExitStack() as running:
        started = {"practice site": running.enter_context(standalone("web", "--port", "0")),
                   "bare Site": running.enter_context(serving([sys.executable, "-c", BARE], "bare")),
                   QUIET_BARE: running.enter_context(serving([sys.executable, "-c", BARE, "--no-access-log"], "bare"))}
        rates: dict[str, list[float]] = {name: [] for name in started}
        answered = dict.fromkeys(started, 0)
        cpu = dict.fromkeys(started, 0.0)
        try:
            for server in started.values():
                if server_core is not None:
                    os.sched_setaffinity(server.process.pid, {server_core})
                load(server.port, 0.5)  # warm up
            for _ in range(rounds):
                for name, server in started.items():
                    before = _cpu_seconds(server.process.pid)
                    answers, elapsed = load(server.port)
                    cpu[name] += _cpu_seconds(server.process.pid) - before
                    answered[name] += answers
                    rates[name].append(answers / elapsed)
        finally:
            os.sched_setaffinity(0, mine)
    return {name: (statistics.median(rates[name]), answered[name] / cpu[name]) for name in started}


def report() -> bool:
    figures = compare()
    practice, bare = figures["practice site"], figures["bare Site"]
    print(f"web, GET {PATH}, {CONNECTIONS} keep-alive connections, {ROUNDS} alternating runs of {SECONDS:g} s:")
    print(f"  {'':20} {'requests/s':>12} {'per CPU-second':>15}")
    for name, (rate, per_cpu) in figures.items():
        print(f"  {name:20} {rate:12,.0f} {per_cpu:15,.0f}")
    ratio = practice[1] / bare[1]
    print(f"  practice / bare = {ratio:.2f} per CPU-second, {practice[0] / bare[0]:.2f} per second "
          f"(target >= {TARGET})")
    quiet = figures[QUIET_BARE]
    print(f"  practice / bare without its access log = {practice[1] / quiet[1]:.2f} per CPU-second, "
          f"{practice[0] / quiet[0]:.2f} per second (for the record)")
    return ratio >= TARGET


if __name__ == "__main__":
    sys.exit(0 if report() else 1)
