"""HTTP from the check's own thread with ``http.client``: a client that shares nothing with Twisted.

Promises:

* :func:`fetch` sends one request and reads the whole response, bounded; it never raises for a server that
  misbehaves: a missing or cut response is a :class:`Reply` whose ``status`` is None and whose ``error`` says
  what happened.
* :meth:`Reply.gist` is the first lines of a body as text, tags left out: what a 500 page says, for a hint.
* :func:`form` encodes form fields as a browser does (with :data:`FORM_HEADERS`); :func:`http_factory` serves
  a learner's ``http.Request`` subclass.
"""

from __future__ import annotations

import html
import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from labkit.checks import limits

__all__ = ["FORM_HEADERS", "Reply", "fetch", "form", "http_factory"]

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Reply:
    """One HTTP response as a client saw it; ``status`` is None when no complete response came (``error``)."""

    status: int | None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def summary(self) -> str:
        return f"{self.status} {self.reason}".strip() if self.status is not None else f"no response ({self.error})"

    @property
    def outcome(self) -> int | str:
        """The status code, or what went wrong when no response came: compares well with an expected code."""
        return self.status if self.status is not None else self.summary

    def has(self, *pieces: bytes) -> bool:
        """A response came and its body holds every piece."""
        return self.status is not None and all(piece in self.body for piece in pieces)

    def gist(self, lines: int = 3) -> str:
        """The body's first ``lines`` lines of text, tags left out and lines joined with " / " (a 500 page's
        "Request did not return bytes", say)."""
        text = html.unescape(_TAGS.sub("\n", self.body.decode("utf-8", "replace")))
        kept = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
        return " / ".join(kept[:lines])

    def answered_500(self) -> str:
        """When the server answered 500: what its page says (for a hint); else ""."""
        return f"the server answered 500: {self.gist()}" if self.status == 500 else ""


_TAGS = re.compile(r"<[^>]*>")


def fetch(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
          timeout: float = limits.REPLY) -> Reply:
    """Send one request to 127.0.0.1:``port`` and read the whole response (bounded by ``timeout``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        names: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            names[key] = f"{names[key]}, {value}" if key in names else value
        return Reply(response.status, response.reason, names, data)
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            return Reply(None, error=f"no complete response within {timeout:g} s (did the server finish the "
                                     "request?)")
        if isinstance(exc, http.client.RemoteDisconnected):
            return Reply(None, error="the server closed the connection without answering")
        return Reply(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def form(**fields: str) -> bytes:
    """``application/x-www-form-urlencoded`` bytes of ``fields``, in order."""
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in fields.items()).encode("ascii")


def http_factory(request_class):
    """An HTTP factory whose requests are ``request_class`` (a subclass of ``twisted.web.http.Request``)."""
    from twisted.web import http as web_http

    class Channel(web_http.HTTPChannel):
        requestFactory = request_class

    factory = web_http.HTTPFactory()
    factory.protocol = Channel
    return factory
