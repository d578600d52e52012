"""The attacks the robustness suite (tests/test_robustness.py) and its benchmark (tests/benchmarks/robustness.py)
make on a practice server: idle crowds, random and malformed lines, half-closing clients, clients that never read;
and, for a server with practice accounts, sessions logged in as its probe logs in (:func:`logged_in`) to attack
after login."""

from __future__ import annotations

import base64
import contextlib
import os
import random
import resource
import socket
import time

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


# --- after login: a session logged in with the entry's practice account, as its probe logs in ------------------------

def _until(sock, marker: bytes, most: int = 1_000_000) -> bytes:
    """Read from ``sock`` until ``marker`` has arrived (each read waits at most :data:`WAIT`)."""
    seen = b""
    while marker not in seen:
        chunk = sock.recv(65536)
        assert chunk and len(seen) < most, f"the server closed or rambled before {marker!r}: {seen[-200:]!r}"
        seen += chunk
    return seen


def _pop3(sock, user: str, password: str) -> None:
    _until(sock, b"\r\n")
    sock.sendall(f"USER {user}\r\n".encode())
    _until(sock, b"\r\n")
    sock.sendall(f"PASS {password}\r\n".encode())
    assert _until(sock, b"\r\n").startswith(b"+OK"), "POP3 refused the practice account"


def _smtp(sock, user: str, password: str) -> None:
    _until(sock, b"220 ")
    sock.sendall(b"EHLO attacker.test\r\n")
    _until(sock, b"\r\n250 ")
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    sock.sendall(f"AUTH PLAIN {plain}\r\n".encode())
    assert _until(sock, b"\r\n").startswith(b"235"), "SMTP refused the practice account"


def _imap(sock, user: str, password: str) -> None:
    _until(sock, b"\r\n")
    sock.sendall(f'a1 LOGIN "{user}" "{password}"\r\n'.encode())
    assert b"a1 OK" in _until(sock, b"a1 "), "IMAP refused the practice account"


def _basic(user: str, password: str) -> bytes:
    credentials = base64.b64encode(f"{user}:{password}".encode())
    return b"GET /private HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic " + credentials + b"\r\n\r\n"


def _http(sock, user: str, password: str) -> None:
    sock.sendall(_basic(user, password))
    head = _until(sock, b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), f"the practice account got {head[:40]!r}"


LOGINS = {"pop3": _pop3, "smtp": _smtp, "imap": _imap, "http": _http}
"""How a line-based session logs in, by URL scheme (SSH logs in with paramiko, in :func:`logged_in`)."""

NO_SESSION = {"auth": "the login server welcomes or refuses, then hangs up: no session follows a login"}
"""Entries with practice accounts but nothing to attack after login, and why."""


def chatty_request(session, scheme: str, user: str, password: str) -> bytes:
    """A request, after login, whose answer is bigger than itself (for PB, one the server answers): what a
    client that never reads repeats."""
    if isinstance(session, PBSession):
        return session.list_items
    return {"pop3": b"RETR 1\r\n", "imap": b"a2 FETCH 1 BODY.PEEK[]\r\n", "smtp": b"HELP\r\n",
            "http": _basic(user, password), "ssh": b"help\r"}[scheme]


class PBSession:
    """A Perspective Broker connection logged in by Twisted's own client, then handed over: the client stops
    reading, and the attack talks on a copy of its socket. ``list_items`` is a Banana-encoded call of the
    perspective's ``listItems``."""

    def __init__(self, sock: socket.socket, list_items: bytes):
        self.sock, self.list_items = sock, list_items

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def recv(self, size: int) -> bytes:
        return self.sock.recv(size)

    def settimeout(self, seconds: float) -> None:
        self.sock.settimeout(seconds)


@contextlib.contextmanager
def _pb_logged_in(port: int, user: str, password: str):
    import labkit
    from twisted.cred.credentials import UsernamePassword
    from twisted.internet import defer, endpoints
    from twisted.spread import banana, pb

    async def login(reactor):
        factory = pb.PBClientFactory()
        await endpoints.TCP4ClientEndpoint(reactor, HOST, port, timeout=WAIT).connect(factory)
        perspective = await factory.login(UsernamePassword(user.encode(), password.encode()))
        broker = perspective.broker
        broker.transport.stopReading()
        call = banana.encode([b"message", 1, perspective.luid, b"listItems", 1, broker.serialize((), perspective),
                              broker.serialize({}, perspective)])
        return factory, perspective, call, os.dup(broker.transport.getHandle().fileno())

    factory, perspective, call, handle = labkit.react(lambda reactor: defer.Deferred.fromCoroutine(login(reactor)),
                                                      timeout=WAIT)
    try:
        with socket.socket(fileno=handle) as sock:
            sock.settimeout(WAIT)
            yield PBSession(sock, call)  # the perspective stays referenced: a dropped one is released remotely
    finally:
        labkit.react(lambda reactor: factory.disconnect(), timeout=WAIT)
        del perspective


@contextlib.contextmanager
def logged_in(scheme: str, port: int, user: str, password: str, host_key: str | None = None):
    """A socket-like session (``sendall``, ``recv``, ``settimeout``) logged in as ``user``: a socket for the line
    protocols, a paramiko channel at the practice shell for SSH (whose ``host_key`` fingerprint is pinned), a
    :class:`PBSession` for Perspective Broker."""
    if scheme == "pb":
        with _pb_logged_in(port, user, password) as session:
            yield session
        return
    if scheme != "ssh":
        with connect(port) as sock:
            LOGINS[scheme](sock, user, password)
            yield sock
        return
    import paramiko

    from tests.ssh_peers import pinned

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(pinned(host_key))
    client.connect(HOST, port, user, password=password, allow_agent=False, look_for_keys=False, timeout=WAIT,
                   banner_timeout=WAIT, auth_timeout=WAIT)
    try:
        channel = client.get_transport().open_session(timeout=WAIT)
        channel.get_pty()
        channel.invoke_shell()
        channel.settimeout(WAIT)
        assert b"$ " in _until(channel, b"$ "), "the practice shell did not prompt"
        yield channel
    finally:
        client.close()


def practice_session(server, scheme: str):
    """A session (:func:`logged_in`) on ``server`` (a ``tests.standalone.Standalone`` speaking ``scheme``) with the
    first practice account it printed, an SSH host key pinned to the fingerprint it printed."""
    user, password = server.accounts[0]
    host_key = server.details["host key"].split()[-1] if "host key" in server.details else None
    return logged_in(scheme, server.port, user, password, host_key)


def flood_then_drain(session, data: bytes, quiet: float = 2.0) -> None:
    """Send ``data`` on ``session``, then read what comes back until the server closes or is quiet for ``quiet``
    seconds (a closed or reset session is fine: a server may hang up on garbage)."""
    try:
        session.sendall(data)
        session.settimeout(quiet)
        while session.recv(65536):
            pass
    except (OSError, EOFError):
        pass


def never_reading_after(session, request: bytes, most_seconds: float = 60.0) -> tuple[int, bool]:
    """Repeat ``request`` on ``session`` without reading, until sends stall for 2 s, the server closes, 100 MB
    went in or ``most_seconds`` passed; the bytes sent, and whether the server stopped taking them (a stall or a
    close) rather than reading on. ``most_seconds`` is generous: a server that answers slowly (the to-do list's
    Perspective Broker takes about 15 s on a quiet machine to fill the buffers, more on a loaded one) must get
    to its stop-reading bound before time runs out; only a server that never stops pays the wait."""
    chunk = request * (65536 // len(request) + 1)
    session.settimeout(2)
    sent, until = 0, time.monotonic() + most_seconds
    try:
        while sent < 100_000_000 and time.monotonic() < until:
            session.sendall(chunk)
            sent += len(chunk)
    except (OSError, EOFError):
        return sent, True  # the server stopped reading (the send timed out) or closed on us: both are fine
    return sent, False


def banana_list_header(length: int) -> bytes:
    """The Banana (Perspective Broker's encoding) header of a list of ``length`` items."""
    from twisted.spread import banana

    header: list[bytes] = []
    banana.int2b128(length, header.append)
    return b"".join(header) + banana.LIST
