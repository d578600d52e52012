"""The attacks the robustness suite (tests/test_robustness.py) and its benchmark (tests/benchmarks/robustness.py)
make on a practice server: idle crowds, random and malformed lines, half-closing clients, clients that never read."""

from __future__ import annotations

import contextlib
import random
import resource
import socket

import pytest

import servers

HOST = "127.0.0.1"
WAIT = 15.0  # the longest any single socket operation of an attack may block
CROWD = 1100  # idle connections opened at once


def allow_open_files(count: int) -> None:
    """Raise this process's soft limit on open files to ``count`` (many desktops start at 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        if hard != resource.RLIM_INFINITY and hard < count:
            pytest.skip(f"this system allows {hard} open files; {count} are needed for the crowd of idle clients")
        resource.setrlimit(resource.RLIMIT_NOFILE, (count, hard))


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


# What a client that half-closes sends, and how the answer must begin, by server name or else by URL scheme.
HALF_CLOSE = {"http": (b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1."),
              "echo": (b"one\ntwo", b"You said: one\r\nYou said: two\r\n")}


def half_close_exchange(name: str) -> tuple[bytes, bytes]:
    entry = servers.REGISTRY[name]
    return HALF_CLOSE.get(name, HALF_CLOSE.get(entry.scheme, (b"hello\r\n", b"")))


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
