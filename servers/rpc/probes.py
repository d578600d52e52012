"""Probes for the wiki services: each a well-behaved client written with the standard library only.

Promises: ``probe(host, port)`` returns quietly when the server answers correctly and raises AssertionError
saying what came back otherwise (``socket.timeout`` when it does not answer in :data:`servers.probes.TIMEOUT`
seconds). Each probe leaves the wiki as it found it. The PB probe speaks Banana (PB's wire format) by hand:
there is no other implementation of PB to use.
"""

from __future__ import annotations

import socket
from http.client import HTTPConnection
from xmlrpc.client import Fault, ServerProxy

from servers.probes import TIMEOUT
from servers.rpc.data import HOME, HOME_TEXT

__all__ = ["pb", "soap", "wiki", "xmlrpc"]

PROBE_PAGE = "ProbePage"


def _request(host: str, port: int, method: str, path: str, body: bytes | None = None,
             headers: dict | None = None) -> tuple[int, bytes]:
    connection = HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wiki(host: str, port: int) -> None:
    """PUT a page (201), GET it back, DELETE it (200), and GET a missing page (404)."""
    answers = [_request(host, port, "PUT", f"/{PROBE_PAGE}", b"probe text")[0],
               _request(host, port, "GET", f"/api/pages/{PROBE_PAGE}"),
               _request(host, port, "DELETE", f"/{PROBE_PAGE}")[0],
               _request(host, port, "GET", f"/{PROBE_PAGE}")[0]]
    expected = [201, (200, b'{"name": "ProbePage", "text": "probe text"}\n'), 200, 404]
    assert answers == expected, f"the wiki answered {answers!r}, not {expected!r}"


def xmlrpc(host: str, port: int) -> None:
    """``hasPage``, ``getPage`` and a missing page's fault 404 over XML-RPC."""
    with ServerProxy(f"http://{host}:{port}/RPC2", allow_none=True) as proxy:
        assert proxy.hasPage(HOME) is True, "hasPage('WikiHome') was not True"
        try:
            proxy.getPage(PROBE_PAGE)
        except Fault as fault:
            assert fault.faultCode == 404, f"a missing page gave fault {fault.faultCode}, not 404"
        else:
            raise AssertionError("getPage of a missing page did not raise a fault")


def soap(host: str, port: int) -> None:
    """The WSDL names the operations; ``hasPage`` answers ``true`` in a SOAP envelope."""
    status, described = _request(host, port, "GET", "/soap?wsdl")
    assert status == 200 and b'<operation name="getPage">' in described, f"GET /soap?wsdl answered {status}"
    from servers.rpc.soap import ENVELOPE, NAMESPACE

    call = (f'<s:Envelope xmlns:s="{ENVELOPE}"><s:Body><w:hasPage xmlns:w="{NAMESPACE}"><w:name>{HOME}'
            "</w:name></w:hasPage></s:Body></s:Envelope>").encode()
    status, answer = _request(host, port, "POST", "/soap", call, {"Content-Type": "text/xml; charset=utf-8"})
    assert status == 200 and b">true</" in answer, f"hasPage answered {status} {answer[:200]!r}"


# --- Banana, the byte format under Perspective Broker: just what one call needs --------------------------------

def _b128(number: int) -> bytes:
    digits = bytearray()
    while True:
        digits.append(number & 0x7F)
        number >>= 7
        if not number:
            return bytes(digits)


def _banana(value) -> bytes:
    if isinstance(value, list):
        return _b128(len(value)) + b"\x80" + b"".join(_banana(item) for item in value)
    if isinstance(value, int):
        return _b128(value) + b"\x81"
    return _b128(len(value)) + b"\x82" + value


def pb(host: str, port: int) -> None:
    """Choose the ``pb`` dialect and call ``getPage('WikiHome')`` on the root object: its text comes back."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        offered = sock.recv(4096)
        assert b"\x82pb" in offered, f"the server did not offer the pb dialect: {offered!r}"
        call = [b"message", 1, b"root", b"getPage", 1, [b"tuple", [b"unicode", HOME.encode()]], [b"dictionary"]]
        sock.sendall(_banana(b"pb") + _banana(call))
        answer = b""
        while HOME_TEXT.encode() not in answer:
            chunk = sock.recv(4096)
            assert chunk and len(answer) < 65536, f"getPage('WikiHome') answered {answer[:200]!r}"
            answer += chunk
