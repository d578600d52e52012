"""The probe of the practice SSH server, with the standard library only (no SSH implementation is in it).

``banner`` does what every SSH client does first: it reads the server's version line, sends its own, and
reads the server's first binary packet, which must be a ``KEXINIT`` offering ``curve25519-sha256`` and an
``ssh-ed25519`` host key. :func:`kexinit` is that first packet's name-lists, by their names in RFC 4253 section
7.1. A logged-in session needs OpenSSH or conch; the tests run those.
"""

from __future__ import annotations

import socket
import struct

from servers.probes import TIMEOUT, _read_exactly, _read_line

__all__ = ["NAME_LISTS", "banner", "kexinit"]

MSG_KEXINIT = 20
NAME_LISTS = ("kex_algorithms", "server_host_key_algorithms", "encryption_algorithms_client_to_server",
              "encryption_algorithms_server_to_client", "mac_algorithms_client_to_server",
              "mac_algorithms_server_to_client", "compression_algorithms_client_to_server",
              "compression_algorithms_server_to_client", "languages_client_to_server", "languages_server_to_client")


def _name_lists(payload: bytes, count: int) -> list[list[bytes]]:
    lists, offset = [], 17  # message number and 16 bytes of cookie
    for _ in range(count):
        (length,) = struct.unpack(">L", payload[offset:offset + 4])
        lists.append(payload[offset + 4:offset + 4 + length].split(b","))
        offset += 4 + length
    return lists


def kexinit(host: str, port: int) -> dict[str, list[bytes]]:
    """The server's ``KEXINIT`` name-lists (:data:`NAME_LISTS`), after checking its version line."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        version = _read_line(sock, 255)
        assert version.startswith(b"SSH-2.0-"), f"the server's first line is {version[:80]!r}"
        sock.sendall(b"SSH-2.0-PracticeProbe_1.0\r\n")
        length, padding = struct.unpack(">LB", _read_exactly(sock, 5))
        assert 12 <= length <= 35000, f"the first packet claims {length} bytes"
        payload = _read_exactly(sock, length - 1)[:length - 1 - padding]
        assert payload[0] == MSG_KEXINIT, f"the first packet is message {payload[0]}, not KEXINIT"
        return dict(zip(NAME_LISTS, _name_lists(payload, len(NAME_LISTS))))


def banner(host: str, port: int) -> None:
    """The server says ``SSH-2.0-...`` and opens key exchange with curve25519 and an Ed25519 host key."""
    offered = kexinit(host, port)
    kex, host_keys = offered["kex_algorithms"], offered["server_host_key_algorithms"]
    assert b"curve25519-sha256" in kex, f"key exchange offered: {kex}"
    assert host_keys == [b"ssh-ed25519"], f"host keys offered: {host_keys}"
