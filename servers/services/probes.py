"""The reverse-text service's probe: a well-behaved standard-library client (see :mod:`servers.probes`)."""

from __future__ import annotations

import socket

from servers.probes import TIMEOUT, _read_line, _read_to_close

__all__ = ["reverse"]


def reverse(host: str, port: int) -> None:
    """Two lines come back reversed (CR LF and LF endings, non-ASCII text too), then ``quit`` gets Goodbye."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall("probe one\r\nnaïve\n".encode())
        answers = [_read_line(sock), _read_line(sock)]
        assert answers == [b"eno eborp\r\n", "evïan\r\n".encode()], f"reverse answered {answers!r}"
        sock.sendall(b"quit\n")
        goodbye = _read_to_close(sock)
        assert goodbye == b"Goodbye.\r\n", f"reverse answered quit with {goodbye!r}"
