"""Request bodies with a ceiling: the practice web site never holds more than :data:`MAX_BODY` bytes of one.

Promises: a ``Site`` built with ``requestFactory=BoundedRequest`` answers a request whose body is larger than
``max_body`` (by its Content-Length, or counted as chunked data arrives) with ``413 Content Too Large``, an HTML
page that says what to do, and a lingering close (:mod:`servers.web.lingering`: the client reads the 413 even while
it is still sending), and keeps none of that body. Its channel is a :class:`~servers.web.channel.PracticeChannel`
(which refuses, and logs the refusal). Bodies within the ceiling behave as in Twisted's own ``Request``;
the request target is taken as :mod:`servers.web.target` says (absolute form, ``Host``). A request given a
``log_record`` (by :meth:`servers.web.records.RequestLog.log`) tells it how its response ended, as it finishes or
loses its client.
"""

from __future__ import annotations

import html

from twisted.web.server import Request

from servers.web.target import RequestTarget

__all__ = ["BoundedRequest", "MAX_BODY"]

MAX_BODY = 1_000_000


class BoundedRequest(RequestTarget, Request):
    """A ``twisted.web`` request that refuses a body over ``max_body`` bytes instead of storing it."""

    max_body = MAX_BODY
    log_record = None
    refused = False

    def gotLength(self, length):
        self.body_received = 0
        self.refused = False
        if length is not None and length > self.max_body:
            self._refuse(f"Content-Length says {length} bytes")
            return
        super().gotLength(length)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.body_received += len(data)
        if self.body_received > self.max_body:
            self.content.close()
            self._refuse(f"more than {self.max_body} bytes arrived")
            return
        super().handleContentChunk(data)

    def requestReceived(self, command, path, version):
        if not self.refused:  # a refused request's end may still be parsed, in the data that brought the refusal
            super().requestReceived(command, path, version)

    def finish(self):
        super().finish()
        if self.log_record is not None:
            self.log_record.end(self, disconnected=False)

    def connectionLost(self, reason):
        super().connectionLost(reason)
        if self.log_record is not None and not self.finished:
            self.log_record.end(self, disconnected=True)

    def _refuse(self, why: str) -> None:
        self.refused = True
        # Twisted sends "100 Continue" after reading the length unless the request no longer asks for it.
        self.requestHeaders.removeHeader(b"expect")
        self.channel.refuse(413, f"The practice web site takes request bodies of up to {self.max_body} bytes; "
                                 f"{html.escape(why)}. Send a smaller body.")
