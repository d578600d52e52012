"""Pages that take their time: ``/slow/sized`` and ``/slow/chunked`` arrive in pieces over seconds, ``/never``
never answers.

Promises: :class:`SlowPage` sends the first ``size`` bytes of :func:`~servers.web.pages.text_body` in ``chunks``
pieces over ``duration`` seconds (the first at once, the last after the full duration), with or without
Content-Length; ``?duration=SECONDS`` (0 to :data:`SLOW_MAX_DURATION`) overrides the duration for one request;
the sending stops when the client goes away. The bytes are fixed, so a slow page carries ``Last-Modified`` and
answers a client whose copy is current with 304 at once. :class:`NeverPage` answers nothing and forgets a waiting
request as soon as its client disconnects.
"""

from __future__ import annotations

from twisted.web.server import NOT_DONE_YET

from servers.web.conditional import FIXTURES_MODIFIED, client_copy_is_current, not_modified
from servers.web.pages import TEXT_TYPE, PracticePage, text_body

__all__ = ["SLOW_CHUNKS", "SLOW_DURATION", "SLOW_MAX_DURATION", "SLOW_SIZE", "NeverPage", "SlowPage"]

SLOW_SIZE = 256 * 1024
SLOW_DURATION = 2.0
SLOW_CHUNKS = 16
SLOW_MAX_DURATION = 60.0


def _pieces(body: bytes, count: int) -> list[bytes]:
    count = max(1, min(count, len(body) or 1))
    edges = [len(body) * i // count for i in range(count + 1)]
    return [body[edges[i]:edges[i + 1]] for i in range(count)]


class _SlowSender:
    """Writes the pieces of one response, ``interval`` seconds apart, and stops if the client goes away."""

    def __init__(self, request, pieces: list[bytes], interval: float, reactor):
        self.request = request
        self.pieces = list(pieces)
        self.interval = interval
        self.reactor = reactor
        self.call = None
        request.notifyFinish().addErrback(self.stop)

    def send_next(self) -> None:
        self.call = None
        self.request.write(self.pieces.pop(0))
        if self.pieces:
            self.call = self.reactor.callLater(self.interval, self.send_next)
        else:
            self.request.finish()

    def stop(self, _reason=None) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()
        self.call = None
        self.pieces = []


class SlowPage(PracticePage):
    """``size`` bytes of :func:`text_body` in ``chunks`` pieces over ``duration`` seconds; with ``sized`` the
    response has Content-Length, without it has none (chunked)."""

    def __init__(self, sized: bool, size: int = SLOW_SIZE, duration: float = SLOW_DURATION,
                 chunks: int = SLOW_CHUNKS, reactor=None):
        super().__init__()
        if size < 0 or chunks < 1 or not 0 <= duration <= SLOW_MAX_DURATION:
            raise ValueError(f"need size >= 0, chunks >= 1 and 0 <= duration <= {SLOW_MAX_DURATION:g}")
        self.sized = sized
        self.size = size
        self.duration = duration
        self.chunks = chunks
        self.reactor = reactor

    def render_GET(self, request):
        duration = self.duration
        if b"duration" in request.args:
            try:
                duration = float(request.args[b"duration"][0])
            except ValueError:
                duration = -1.0
            if not 0 <= duration <= SLOW_MAX_DURATION:
                request.setResponseCode(400)
                request.setHeader(b"content-type", TEXT_TYPE)
                return b"duration must be a number of seconds from 0 to %d\n" % SLOW_MAX_DURATION
        if client_copy_is_current(request, FIXTURES_MODIFIED):  # the bytes are fixed; only their pace changes
            return not_modified(request)
        body = text_body(self.size)
        request.setHeader(b"content-type", TEXT_TYPE)
        if self.sized:
            request.setHeader(b"content-length", b"%d" % len(body))
        if request.method == b"HEAD":
            return b""
        pieces = _pieces(body, self.chunks)
        interval = duration / (len(pieces) - 1) if len(pieces) > 1 else 0.0
        reactor = self.reactor
        if reactor is None:
            from twisted.internet import reactor
        sender = _SlowSender(request, pieces, interval, reactor)
        sender.send_next()
        return NOT_DONE_YET


class NeverPage(PracticePage):
    """Never answers; a request is dropped from ``waiting`` when its client disconnects."""

    def __init__(self):
        super().__init__()
        self.waiting: set = set()

    def render(self, request):
        self.waiting.add(request)
        request.notifyFinish().addBoth(lambda _: self.waiting.discard(request))
        return NOT_DONE_YET
