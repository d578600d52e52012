"""The probe for the practice DNS server, written with the standard library alone (it has no DNS client): MX
questions over UDP and TCP, a header and one question each, the header of the answer read back.
"""

from __future__ import annotations

import secrets
import socket
import struct

from servers.probes import TIMEOUT, _read_exactly

__all__ = ["dns", "query"]

A, MX = 1, 15
AA, NOERROR, NXDOMAIN, REFUSED = 0x0400, 0, 3, 5


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


def _exchange_udp(host: str, port: int, message: bytes) -> bytes:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(message, (host, port))
        return sock.recv(65535)


def _ask(exchange, host: str, port: int, name: str, record_type: int) -> tuple[int, int, int, int]:
    """``(flags, answers, authority records, rcode)`` of the answer to one question."""
    sent = query(name, record_type)
    answer = exchange(host, port, sent)
    ident, flags, _, answers, authority, _ = struct.unpack("!HHHHHH", answer[:12])
    assert ident == struct.unpack("!H", sent[:2])[0], f"{name}: the answer's id is not the query's"
    return flags, answers, authority, flags & 0x000F


def dns(host: str, port: int) -> None:
    """Over UDP and TCP: MX example.test, an authoritative answer with three records; a missing name,
    authoritative NXDOMAIN with the zone's SOA; a name outside the zone, REFUSED."""
    for exchange in (_exchange_udp, _exchange_tcp):
        flags, answers, _, rcode = _ask(exchange, host, port, "example.test", MX)
        assert flags & AA and rcode == NOERROR, f"MX example.test: flags {flags:#06x}, not authoritative OK"
        assert answers == 3, f"MX example.test: {answers} answers, not 3"
        flags, _, authority, rcode = _ask(exchange, host, port, "missing.example.test", MX)
        assert rcode == NXDOMAIN, f"a missing name answered rcode {rcode}, not 3 (NXDOMAIN)"
        assert flags & AA and authority == 1, "NXDOMAIN came without AA or without the zone's SOA"
        rcode = _ask(exchange, host, port, "example.com", A)[3]
        assert rcode == REFUSED, f"a name outside the zone answered rcode {rcode}, not 5 (REFUSED)"
