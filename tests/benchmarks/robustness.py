"""Robustness figures for every catalogued practice server: what each attack of the robustness suite costs the
server in memory, and how long the limits take to act.

Each server runs as its own process (``python -m servers NAME``) with the file limit most desktops give a
process (1,024 open files), the default limits except shorter time limits (:data:`LIMITS`), and is attacked the
way ``tests/test_robustness.py`` attacks it. Printed per server: RSS growth after each attack (MB, against the
RSS after a first probe), half-closing clients answered, how many bytes a client that never reads got in, whether
the probe was answered with 1,100 idle connections open, the time from one connection past the cap to the
longest-idle one being closed, and the time until a slowloris client is cut off. A Perspective Broker server also
gets 4 MB of Banana before login, lists nested in lists and lists of small ints one after the other, with the CPU
time each cost it per MB. A server with
practice accounts is also attacked after login (``tests.attacks.practice_session``): a 1 MB line, garbage, and a client that never
reads, with RSS growth and whether the server stopped reading.
"""

from __future__ import annotations

import os
import random
import socket
import sys
import time

import servers
from tests.standalone import standalone
from tests.attacks import (CROWD, HOST, NO_SESSION, allow_open_files, banana_list_header, chatty_request, connect,
                           flood_then_drain, half_close_exchange, never_reading, never_reading_after,
                           practice_session, random_line)
from tests.peers import send_then_drain

LIMITS = {"idle_timeout": 10, "request_timeout": 5}
OPEN_FILES = 1024
SLOWLORIS_WAIT = 20.0


def _answered(probe, port: int) -> bool:
    try:
        probe(HOST, port)
        return True
    except (AssertionError, OSError):
        return False


def _closed(sock: socket.socket, within: float) -> float | None:
    """Seconds until the server closed ``sock`` (None if it did not within ``within`` s)."""
    start = time.perf_counter()
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.perf_counter() - start


def _random_lines(port, chance, entry, probe, peak):
    for _ in range(100):
        send_then_drain(port, b"\n".join(random_line(chance) for _ in range(100)) + b"\n")
    return ""


def _long_line(port, chance, entry, probe, peak):
    send_then_drain(port, b"x" * 1_000_000 + b"\r\n")
    return ""


def _garbage(port, chance, entry, probe, peak):
    for _ in range(10):
        send_then_drain(port, chance.randbytes(100_000))
    return ""


def _half_close(port, chance, entry, probe, peak):
    request, expected = half_close_exchange(entry.name)
    answered = sum(send_then_drain(port, request).startswith(expected) for _ in range(20))
    return f"{answered}/20 answered"


def _never_reads(port, chance, entry, probe, peak):
    with never_reading(port, entry.scheme) as sent:
        peak()
    return f"{sent / 2**20:.1f} MB sent before the server stopped reading"


def _idle_crowd(port, chance, entry, probe, peak):
    cap = entry.make_limits().max_connections
    idle = []
    try:
        for _ in range(cap):
            idle.append(connect(port))
        time.sleep(0.2)  # let the server take them all in, so the first is the longest idle
        start = time.perf_counter()
        idle.append(connect(port))
        evicted = _closed(idle[0], 5.0)
        evict = ("longest idle not closed in 5 s" if evicted is None else
                 f"connection {cap + 1} closed the longest idle in {(time.perf_counter() - start) * 1000:.1f} ms")
        while len(idle) < CROWD:
            try:
                idle.append(connect(port))
            except OSError:
                break
        peak()
        answered = _answered(probe, port)
        return f"{len(idle)} open, probe {'answered' if answered else 'LOCKED OUT'}; {evict}"
    finally:
        for sock in idle:
            sock.close()


def _slowloris(port, chance, entry, probe, peak):
    with connect(port) as sock:
        start = time.perf_counter()
        while time.perf_counter() - start < SLOWLORIS_WAIT:
            try:
                sock.sendall(b"G")
            except OSError:
                return f"cut off after {time.perf_counter() - start:.1f} s"
            time.sleep(0.25)
    return f"still connected after {SLOWLORIS_WAIT:g} s"


def _cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _banana_before_login(server, flood: bytes) -> str:
    before = _cpu_seconds(server.process.pid)
    answer = send_then_drain(server.port, flood)
    used = _cpu_seconds(server.process.pid) - before
    return f"{used / (len(flood) / 2**20) * 1000:.0f} ms of CPU per MB sent, {len(answer)} bytes answered"


def _nested_lists_before_login(server, chance, entry, peak):
    return _banana_before_login(server, banana_list_header(2) * 2_000_000)  # 4 MB of lists inside lists


def _flat_lists_before_login(server, chance, entry, peak):
    message = banana_list_header(5000) + b"\x01\x81" * 5000  # 5,000 small ints: 10 kB, within every bound
    return _banana_before_login(server, message * 400)  # 4 MB of such messages, one after the other


def _long_line_after_login(server, chance, entry, peak):
    with practice_session(server, entry.scheme) as session:
        flood_then_drain(session, b"x" * 1_000_000 + b"\r\n")
    return ""


def _garbage_after_login(server, chance, entry, peak):
    with practice_session(server, entry.scheme) as session:
        for _ in range(3):
            flood_then_drain(session, chance.randbytes(100_000), quiet=0.5)
    return ""


def _never_reads_after_login(server, chance, entry, peak):
    with practice_session(server, entry.scheme) as session:
        sent, stopped = never_reading_after(session, chatty_request(session, entry.scheme, *server.accounts[0]))
        peak()
    return f"{sent / 2**20:.1f} MB sent, then the server {'stopped reading' if stopped else 'READ ON'}"


BEFORE_LOGIN = {"4 MB nested lists": _nested_lists_before_login, "4 MB of 10 kB lists": _flat_lists_before_login}

AFTER_LOGIN = {"1 MB line, logged in": _long_line_after_login, "garbage, logged in": _garbage_after_login,
               "non-reader, logged in": _never_reads_after_login}

ATTACKS = {"10,000 random lines": _random_lines, "1 MB line": _long_line, "binary garbage": _garbage,
           "half-close": _half_close, "non-reading client": _never_reads, "1,100 idle connections": _idle_crowd,
           "slowloris": _slowloris}


def measure(name: str) -> list[tuple[str, float, str]]:
    """(attack, most RSS growth in MB, note) for the practice server ``name``."""
    entry = servers.REGISTRY[name]
    probe = entry.load_probe()
    rows = []
    with standalone(name, "--port", "0", limits=LIMITS, open_files=OPEN_FILES) as server:
        probe(HOST, server.port)
        baseline = server.rss()
        chance = random.Random(8)

        def record(attack: str, run) -> None:
            samples = []
            note = run(lambda: samples.append(server.rss()))
            samples.append(server.rss())
            if not _answered(probe, server.port):
                note += "; probe NOT answered afterwards"
            rows.append((attack, (max(samples) - baseline) / 2**20, note))

        for attack, run in ATTACKS.items():
            record(attack, lambda peak: run(server.port, chance, entry, probe, peak))
        if entry.scheme == "pb":
            for attack, run in BEFORE_LOGIN.items():
                record(attack, lambda peak: run(server, chance, entry, peak))
        if entry.accounts and name not in NO_SESSION:
            for attack, run in AFTER_LOGIN.items():
                record(attack, lambda peak: run(server, chance, entry, peak))
    return rows


def report() -> bool:
    allow_open_files(CROWD + 100)
    print(f"robustness, each server in its own process with {OPEN_FILES} open files at most and limits {LIMITS}:")
    healthy = True
    for name in sorted(servers.REGISTRY):
        for attack, grown, note in measure(name):
            print(f"  {name:7} {attack:24} RSS {grown:+7.1f} MB  {note}")
            healthy = healthy and grown < 64 and not any(word in note for word in ("NOT", "LOCKED", "READ ON"))
    return healthy


if __name__ == "__main__":
    sys.exit(0 if report() else 1)
