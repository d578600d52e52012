"""XML-RPC from the check's own thread with the standard library's ``xmlrpc.client``: a client that shares
nothing with Twisted (and blocks, so it never runs on the reactor's thread).

Promises: :func:`call` makes one call, bounded by ``timeout``, and never raises for a server that misbehaves: it
returns the value, or a :class:`~labkit.checks.values.Shown` that says how the call failed (``Fault 404: ...``,
``no answer: ...``), which compares well in an expectation.
"""

from __future__ import annotations

import http.client
import xmlrpc.client
from xml.parsers.expat import ExpatError

from labkit.checks import limits
from labkit.checks.values import Shown

__all__ = ["call", "fault"]


class _BoundedTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


def fault(code: int) -> str:
    """The start of how :func:`call` describes a fault with ``code``."""
    return f"Fault {code}:"


def call(port: int, method: str, *args, path: str = "/", timeout: float = limits.REPLY):
    """Call ``method(*args)`` at ``http://127.0.0.1:PORT{path}``; the value, or how the call failed."""
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}{path}", transport=_BoundedTransport(timeout),
                                      allow_none=True)
    try:
        with proxy:
            return getattr(proxy, method)(*args)
    except xmlrpc.client.Fault as failed:
        return Shown(f"{fault(failed.faultCode)} {failed.faultString}")
    except xmlrpc.client.ProtocolError as failed:
        return Shown(f"no answer: HTTP {failed.errcode} {failed.errmsg}")
    except (OSError, http.client.HTTPException, xmlrpc.client.ResponseError, ValueError,
            ExpatError) as failed:
        return Shown(f"no answer: {type(failed).__name__}: {failed}")
