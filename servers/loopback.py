"""Practice servers listen on this machine only.

Promise: :func:`loopback` turns a host a learner or a program gives into a loopback address to listen on, or raises
:class:`NotLoopback` naming the fix. Only ``127.0.0.0/8``, ``::1`` and the name ``localhost`` pass; the wildcard
spellings (``""``, ``"0"``, ``"0x0"``, ``"0.0.0.0"``, ``"::"``, ``"::0"``), LAN addresses and other names are
refused.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["NotLoopback", "loopback"]


class NotLoopback(ValueError):
    """A practice server was asked to listen somewhere other machines could reach."""


_FIX = "Practice servers listen on this machine only: use host='127.0.0.1' (or '::1', 'localhost')."


def loopback(host: str) -> str:
    """``host`` as the loopback address to listen on (``"localhost"`` is ``"127.0.0.1"``), or NotLoopback."""
    if not isinstance(host, str):
        raise NotLoopback(f"the host to listen on must be a string like '127.0.0.1', not {host!r}. {_FIX}")
    text = host.strip().strip("[]").rstrip(".")
    if not text:
        raise NotLoopback(f"{host!r} means every interface, so other machines could connect. {_FIX}")
    if text.lower() == "localhost":
        return "127.0.0.1"
    address = _parse_address(text)
    if address is None:
        raise NotLoopback(f"{host!r} is not an address; the only name allowed is 'localhost'. {_FIX}")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        raise NotLoopback(f"{host!r} means every interface, so other machines could connect. {_FIX}")
    if not address.is_loopback:
        raise NotLoopback(f"{host!r} is not a loopback address, so other machines could connect. {_FIX}")
    return str(address)


def _parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` spells, counting the old forms the socket layer accepts ("0", "0x0", "127.1")."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None
