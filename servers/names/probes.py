"""The probe for the practice DNS server: an MX query over TCP, written with the standard library alone (it has
no DNS client): a header, one question, and the answer count read back.
"""

from __future__ import annotations

import secrets
import socket
import struct

from servers.probes import TIMEOUT, _read_exactly

__all__ = ["dns", "query"]

MX = 15


def query(name: str, record_type: int) -> bytes:
    """A DNS query message (RFC 1035 section 4.1) for ``name``, recursion not asked for."""
    header = struct.pack("!HHHHHH", secrets.randbelow(1 << 16), 0, 1, 0, 0, 0)
    labels = b"".join(bytes([len(part)]) + part.encode("ascii") for part in name.rstrip(".").split("."))
    return header + labels + b"\0" + struct.pack("!HH", record_type, 1)


def _exchange_tcp(host: str, port: int, message: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall(struct.pack("!H", len(message)) + message)
        size = struct.unpack("!H", _read_exactly(sock, 2))[0]
        return _read_exactly(sock, size)


def dns(host: str, port: int) -> None:
    """MX example.test: an authoritative answer with three records; a missing name: NXDOMAIN."""
    sent = query("example.test", MX)
    answer = _exchange_tcp(host, port, sent)
    ident, flags, _, answers, _, _ = struct.unpack("!HHHHHH", answer[:12])
    assert ident == struct.unpack("!H", sent[:2])[0], "the answer's id is not the query's"
    assert flags & 0x0400 and flags & 0x000F == 0, f"MX example.test: flags {flags:#06x}, not authoritative OK"
    assert answers == 3, f"MX example.test: {answers} answers, not 3"
    missing = _exchange_tcp(host, port, query("missing.example.test", MX))
    rcode = struct.unpack("!H", missing[2:4])[0] & 0x000F
    assert rcode == 3, f"a missing name answered rcode {rcode}, not 3 (NXDOMAIN)"
