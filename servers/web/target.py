"""The request target of the practice web sites, as RFC 9112 section 3.2 asks a server to take it.

Promises: a request mixing in :class:`RequestTarget` before ``twisted.web.server.Request`` takes the absolute
form (``GET http://host/path HTTP/1.1``, what a client sends to a proxy) as the same request in origin form
(``GET /path``, with ``Host: host``), and answers an ``HTTP/1.1`` request without a ``Host`` header, or any
request with more than one, with ``400 Bad Request`` and an HTML page that says so.
"""

from __future__ import annotations

import re

from servers.web.pages import HTML_TYPE, html_document

__all__ = ["HostMissing", "RequestTarget"]

ABSOLUTE_FORM = re.compile(rb"(?i)https?://([^/?#]*)(.*)")


class RequestTarget:
    """Mix in before ``twisted.web.server.Request`` (see the module)."""

    def requestReceived(self, command, path, version):
        absolute = None if path.startswith(b"/") else ABSOLUTE_FORM.fullmatch(path)
        if absolute is not None:
            authority, rest = absolute.groups()
            path = rest if rest.startswith(b"/") else b"/" + rest
            self.requestHeaders.setRawHeaders(b"host", [authority])  # the target's authority wins over Host
        super().requestReceived(command, path, version)

    def render(self, resource):
        hosts = self.requestHeaders.getRawHeaders(b"host", [])
        if len(hosts) > 1 or (self.clientproto == b"HTTP/1.1" and not hosts):
            resource = HostMissing(len(hosts))
        super().render(resource)


class HostMissing:
    """The 400 page for a request whose ``Host`` header is missing (HTTP/1.1) or repeated."""

    def __init__(self, count: int):
        self.count = count

    def render(self, request):
        request.setResponseCode(400)
        request.setHeader(b"content-type", HTML_TYPE)
        said = "no Host header" if self.count == 0 else f"{self.count} Host headers"
        return html_document("400 Bad Request", "<h1>400 Bad Request</h1>\n<p>An HTTP/1.1 request needs exactly "
                             f"one Host header naming the server (RFC 9112 section 3.2); this one had {said}.</p>")
