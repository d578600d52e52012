"""The practice web site's request log: what each client really sent, kept within a count and a byte budget.

Promises:

* :meth:`RequestLog.log` records a ``twisted.web`` request as it arrives (a :class:`RequestRecord`: method, path,
  query, every header, body size) and fills in the response code, the bytes sent and how the response ended
  when it does. Logging costs a request little: the record keeps the bytes that arrived and decodes them only
  when an attribute is read.
* :func:`refused_record` is the record of a request the channel refused before any resource saw it (413, 414,
  431, 400): what of it was read, and the refusal's code and size.
* :class:`RequestLog` keeps at most ``max_records`` records and about ``max_bytes`` bytes of their text; when
  either is exceeded the oldest records are dropped first, ``dropped`` counts them and the log says so.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from typing import Iterable

from servers.web.bodies import BoundedRequest

__all__ = ["LINE_KEPT", "MAX_LOG_BYTES", "MAX_LOG_RECORDS", "RequestLog", "RequestRecord", "record_of",
           "refused_record"]

MAX_LOG_RECORDS = 10_000
MAX_LOG_BYTES = 4_000_000
LINE_KEPT = 200  # bytes of a refused request's line its record keeps (a 414's line is too long to keep)
RECORD_OVERHEAD = 200  # bytes of bookkeeping counted for every record besides its text
# Every request brings its own copy of these; a record keeps one shared copy instead.
_SHARED = {word: word for word in (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"HTTP/1.0",
                                   b"HTTP/1.1")}


def _header(name: str) -> property:
    return property(lambda record: record.headers.get(name), doc=f"The request's {name} header, or None.")


class RequestRecord:
    """One request as the site saw it. ``code`` is None until the response ends (and stays None when the
    client went away before it started; a refused request's record has its code at once); ``finished`` turns True
    when the response was sent completely; ``disconnected`` when the client went away first. ``headers`` maps
    lower-case names to values (repeated headers joined with ``", "``); ``weight`` is about how many bytes the
    record holds."""

    __slots__ = ("_method", "_uri", "_version", "_headers", "body_size", "weight", "code", "sent", "finished",
                 "disconnected")

    def __init__(self, method: bytes, uri: bytes, version: bytes, headers: Iterable[tuple[bytes, list[bytes]]],
                 body_size: int):
        self._method, self._uri, self._version = _SHARED.get(method, method), uri, _SHARED.get(version, version)
        # One line per header, "name:value, value", in one bytes object: a kept record is three objects.
        self._headers = b"\n".join([name + b":" + b", ".join(values) for name, values in headers])
        self.body_size = body_size
        self.weight = RECORD_OVERHEAD + len(method) + len(uri) + len(version) + len(self._headers)
        self.code: int | None = None
        self.sent = 0
        self.finished = False
        self.disconnected = False

    def end(self, request, disconnected: bool) -> None:
        """Note how the response to ``request`` ended: sent completely, or cut short by the client leaving."""
        self.code = request.code if not disconnected or getattr(request, "startedWriting", False) else None
        self.sent = getattr(request, "sentLength", 0)
        self.finished = not disconnected
        self.disconnected = disconnected

    @property
    def method(self) -> str:
        return self._method.decode("ascii", "replace")

    @property
    def path(self) -> str:
        """The path, without the query."""
        return self._uri.partition(b"?")[0].decode("utf-8", "replace")

    @property
    def query(self) -> str:
        """What follows the first ``?`` of the request's URI ("" when nothing does)."""
        return self._uri.partition(b"?")[2].decode("utf-8", "replace")

    @property
    def version(self) -> str:
        return self._version.decode("ascii", "replace")

    @property
    def headers(self) -> dict[str, str]:
        lines = self._headers.decode("latin-1").split("\n") if self._headers else []
        return {name.lower(): value for name, _, value in (line.partition(":") for line in lines)}

    authorization = _header("authorization")
    if_none_match = _header("if-none-match")
    if_modified_since = _header("if-modified-since")
    content_type = _header("content-type")
    user_agent = _header("user-agent")

    @property
    def basic_credentials(self) -> tuple[str, str] | None:
        """The (user, password) of a ``Basic`` Authorization header, or None."""
        authorization = self.authorization
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        return (user, password) if colon else None

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in (
            "method", "path", "query", "version", "authorization", "if_none_match", "if_modified_since",
            "content_type", "user_agent", "body_size", "code", "sent", "finished", "disconnected"))
        return f"RequestRecord({shown})"


def record_of(request) -> RequestRecord:
    """The record of a ``twisted.web`` request, as it arrived (its bytes kept, not yet decoded)."""
    content = getattr(request, "content", None)
    size = 0
    if content is not None:
        position = content.tell()
        size = content.seek(0, 2)
        content.seek(position)
    return RequestRecord(request.method, request.uri, request.clientproto, request.requestHeaders.getAllRawHeaders(),
                         size)


def refused_record(request_line: bytes, headers: Iterable[tuple[bytes, list[bytes]]], code: int,
                   sent: int) -> RequestRecord:
    """The record of a request refused before any resource saw it: the first :data:`LINE_KEPT` bytes of its
    request line split into method, target and version (empty where that part is missing or was cut off), the
    ``headers`` read before the refusal, no body (none is kept), and the refusal: ``code``, ``sent`` bytes,
    finished (it was written before the connection closed)."""
    method, target, version = (request_line[:LINE_KEPT].split(b" ", 2) + [b"", b""])[:3]
    record = RequestRecord(method, target, version if len(request_line) <= LINE_KEPT else b"", headers, 0)
    record.code, record.sent, record.finished = code, sent, True
    return record


class RequestLog:
    """The newest requests, oldest first, within ``max_records`` records and about ``max_bytes`` bytes."""

    def __init__(self, max_records: int = MAX_LOG_RECORDS, max_bytes: int = MAX_LOG_BYTES):
        if max_records < 1 or max_bytes < 1:
            raise ValueError("a request log needs room for at least one record and one byte")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.dropped = 0
        self._records: deque[RequestRecord] = deque()
        self._bytes = 0

    def log(self, request) -> RequestRecord:
        """Record ``request`` as it arrives; its record learns how the response ended when it does.

        A :class:`~servers.web.bodies.BoundedRequest` tells its record itself as it finishes or loses its
        client; any other request is followed through ``notifyFinish()``.
        """
        record = record_of(request)
        self.append(record)
        if isinstance(request, BoundedRequest):
            request.log_record = record
        else:
            request.notifyFinish().addCallbacks(lambda _: record.end(request, False),
                                                lambda _: record.end(request, True))
        return record

    def append(self, record: RequestRecord) -> None:
        self._records.append(record)
        self._bytes += record.weight
        while len(self._records) > 1 and (len(self._records) > self.max_records or self._bytes > self.max_bytes):
            self._bytes -= self._records.popleft().weight
            self.dropped += 1

    def clear(self) -> None:
        """Forget every record (and that any were dropped)."""
        self._records.clear()
        self._bytes = 0
        self.dropped = 0

    @property
    def note(self) -> str:
        """Empty, or the sentence saying that older records were dropped and why."""
        if not self.dropped:
            return ""
        return (f"{self.dropped} older request(s) were dropped to keep the log within {self.max_records} "
                f"records and {self.max_bytes} bytes")

    def __iter__(self):
        return iter(list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> RequestRecord:
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog of {len(self)} request(s){'; ' + self.note if self.note else ''}>"
