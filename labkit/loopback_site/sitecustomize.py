"""Loopback only, in every program and daemon a notebook starts: Python runs this at start-up because labkit
puts this folder first on their ``PYTHONPATH`` (it is not a package and is never imported by labkit itself).

An Internet socket bound to no address (``""``: Twisted's ``listenTCP(port, factory)``, ``twistd --port tcp:0``)
is bound to 127.0.0.1 (``::1`` for IPv6) instead; one bound to an address other machines could reach (every
interface however it is spelled, a LAN address) is refused with ``OSError(EADDRNOTAVAIL)`` naming the fix, as the
kernel's own reactor refuses it (``servers.loopback.loopback``). Unix sockets and the rest are left alone.
"""

import errno
import socket

_LOCAL = {"127.0.0.1": "127.0.0.1", "::1": "::1", "localhost": "127.0.0.1"}


def _loopback(host, family):
    if host == "" or host in _LOCAL:
        address = _LOCAL.get(host, "127.0.0.1")
        return "::1" if family == socket.AF_INET6 and address == "127.0.0.1" else address
    try:
        from servers.loopback import NotLoopback, loopback
    except ImportError:  # the workbook is not importable here (a daemon that became another user): refuse
        raise OSError(errno.EADDRNOTAVAIL, f"{host!r} is not 127.0.0.1: programs started from the notebook "
                                           "listen on this machine only (use 127.0.0.1)") from None
    try:
        return loopback(host)
    except NotLoopback as refused:
        raise OSError(errno.EADDRNOTAVAIL, f"programs started from the notebook listen on this machine only: "
                                           f"{refused}") from None


def _guard():
    plain_bind = socket.socket.bind
    if getattr(plain_bind, "loopback_only", False):
        return

    def bind(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
            address = (_loopback(address[0], self.family), *address[1:])
        return plain_bind(self, address)

    bind.loopback_only = True
    socket.socket.bind = bind


_guard()
