"""A conversation over a plain socket, independent of Twisted: the client a check uses for line protocols.

Promises:

* :func:`converse` connects, sends, and reads until the server closes or, once it has answered, goes quiet; every
  wait is bounded. A server slow to begin its answer (a loaded machine) is waited for up to the time-out, so a
  late answer is never taken for silence. A server that hangs up early (a crash, a stub) ends the conversation
  with what had arrived, never an exception. :func:`conversation` does the same and also says whether the server
  hung up (or only went quiet).
* :func:`closed_port` names a port where nothing listens, :func:`hold_closed` keeps ports so for a check;
  :func:`wait_until` and :func:`settled` let the far side catch up.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from labkit.checks import limits

__all__ = ["Conversation", "closed_port", "conversation", "converse", "hold_closed", "settled", "wait_until"]


@dataclass(frozen=True)
class Conversation:
    """What a scripted client heard: everything received, and whether the server closed the connection."""

    received: bytes
    hung_up: bool


def conversation(port: int, *chunks: bytes, host: str = "127.0.0.1", timeout: float = limits.REPLY,
                 settle: float = limits.QUIET) -> Conversation:
    """A scripted client: connect, send each chunk, and read until the server closes or, once it has said
    something, stays quiet for ``settle`` seconds (all bounded by ``timeout``). ``hung_up`` is true only when the
    server closed. Where a right server hangs up, pass ``settle=timeout``: its close, not a pause, ends the
    answer."""
    deadline = time.monotonic() + timeout
    received, hung_up = b"", False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the server hung up: what it said is the answer
            pass
        while time.monotonic() < deadline:
            left = deadline - time.monotonic()
            sock.settimeout(max(0.01, min(settle, left) if received else left))
            try:
                data = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                break
            except ConnectionResetError:
                hung_up = True
                break
            if not data:
                hung_up = True
                break
            received += data
    return Conversation(received, hung_up)


def converse(port: int, *chunks: bytes, host: str = "127.0.0.1", timeout: float = limits.REPLY,
             settle: float = limits.QUIET) -> bytes:
    """:func:`conversation`'s bytes received: everything the server said until it closed or went quiet."""
    return conversation(port, *chunks, host=host, timeout=timeout, settle=settle).received


def _bound(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` and never listening (OSError if the port is taken)."""
    holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        holder.bind((host, port))
    except BaseException:
        holder.close()
        raise
    return holder


def closed_port(host: str = "127.0.0.1", held_by=None) -> int:
    """A port on ``host`` where nothing listens right now (the system picked it, then it was let go). Given a
    check (``held_by``), the port stays bound, never listening, until that check ends (see :func:`hold_closed`)."""
    holder = _bound(host, 0)
    port = holder.getsockname()[1]
    if held_by is None:
        holder.close()
    else:
        held_by.on_exit(holder.close)
    return port


def hold_closed(ports, held_by, host: str = "127.0.0.1") -> list[int]:
    """Keep each of ``ports`` bound, never listening, until the check ``held_by`` ends: a connection to it is
    refused, and no server started meanwhile (another test's, on port 0) can be given it. Returns the ports that
    could not be held (something had taken them already)."""
    taken = []
    for port in ports:
        try:
            holder = _bound(host, port)
        except OSError:
            taken.append(port)
            continue
        held_by.on_exit(holder.close)
    return taken


def wait_until(condition, timeout: float = limits.CATCH_UP, step: float = 0.02) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes; returns its last value. For letting the
    far side of a connection catch up (a server noticing a close) before a check reads its records."""
    deadline = time.monotonic() + timeout
    while not (met := bool(condition())) and time.monotonic() < deadline:
        time.sleep(step)
    return met


def settled(read, quiet: float = limits.QUIET, timeout: float = limits.CATCH_UP, step: float = 0.02):
    """``read()`` once it has returned the same value for ``quiet`` seconds (or ``timeout`` passed): for counting
    what a server received when requests the learner's code started may still be on their way, as when the
    callers' Deferreds fired on the first answer while further fetches were under way. A read that itself takes
    over half of ``quiet`` waited on a far side that was held up (a reactor busy on a loaded machine): the quiet
    period starts again after it, since what was due meanwhile has not happened yet."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(step)
        asked = time.monotonic()
        if (now := read()) != value or time.monotonic() - asked > quiet / 2:
            value, since = now, time.monotonic()
    return value
