"""The practice web site's request log: what each client really sent, kept within a count and a byte budget.

Promises:

* :func:`record_of` turns a ``twisted.web`` request into a :class:`RequestRecord` (method, path, query, the
  headers checks look at, body size); the site fills in the response code and bytes sent when it finishes.
* :class:`RequestLog` keeps at most ``max_records`` records and about ``max_bytes`` bytes of their text; when
  either is exceeded the oldest records are dropped first, ``dropped`` counts them and the log says so.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from dataclasses import dataclass, field

__all__ = ["MAX_LOG_BYTES", "MAX_LOG_RECORDS", "RequestLog", "RequestRecord", "record_of"]

MAX_LOG_RECORDS = 10_000
MAX_LOG_BYTES = 4_000_000
RECORD_OVERHEAD = 200  # bytes of bookkeeping counted for every record besides its text


@dataclass
class RequestRecord:
    """One request as the site saw it. ``code`` is None until the response starts; ``finished`` turns True when
    the response was sent completely; ``disconnected`` when the client went away first."""

    method: str
    path: str
    query: str
    version: str
    authorization: str | None
    if_none_match: str | None
    if_modified_since: str | None
    content_type: str | None
    user_agent: str | None
    body_size: int
    code: int | None = None
    sent: int = 0
    finished: bool = False
    disconnected: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def basic_credentials(self) -> tuple[str, str] | None:
        """The (user, password) of a ``Basic`` Authorization header, or None."""
        if not self.authorization or not self.authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(self.authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, colon, password = decoded.partition(":")
        return (user, password) if colon else None

    @property
    def weight(self) -> int:
        """About how many bytes this record holds (its text plus a fixed overhead)."""
        text = len(self.method) + len(self.path) + len(self.query) + len(self.version)
        return RECORD_OVERHEAD + text + sum(len(name) + len(value) for name, value in self.headers.items())


def record_of(request) -> RequestRecord:
    """The record of a ``twisted.web`` request, as it arrived."""
    headers = {name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
               for name, values in request.requestHeaders.getAllRawHeaders()}
    content = getattr(request, "content", None)
    size = 0
    if content is not None:
        position = content.tell()
        size = content.seek(0, 2)
        content.seek(position)
    uri = request.uri.decode("utf-8", "replace")
    return RequestRecord(
        method=request.method.decode("ascii", "replace"),
        path=request.path.decode("utf-8", "replace"),
        query=uri.partition("?")[2],
        version=request.clientproto.decode("ascii", "replace"),
        authorization=headers.get("authorization"),
        if_none_match=headers.get("if-none-match"),
        if_modified_since=headers.get("if-modified-since"),
        content_type=headers.get("content-type"),
        user_agent=headers.get("user-agent"),
        body_size=size,
        headers=headers,
    )


class RequestLog:
    """The newest requests, oldest first, within ``max_records`` records and about ``max_bytes`` bytes."""

    def __init__(self, max_records: int = MAX_LOG_RECORDS, max_bytes: int = MAX_LOG_BYTES):
        if max_records < 1 or max_bytes < 1:
            raise ValueError("a request log needs room for at least one record and one byte")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.dropped = 0
        self._records: deque[tuple[RequestRecord, int]] = deque()
        self._bytes = 0

    def append(self, record: RequestRecord) -> None:
        weight = record.weight
        self._records.append((record, weight))
        self._bytes += weight
        while len(self._records) > 1 and (len(self._records) > self.max_records or self._bytes > self.max_bytes):
            _, oldest = self._records.popleft()
            self._bytes -= oldest
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
        return (record for record, _ in list(self._records))

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: int) -> RequestRecord:
        return self._records[index][0]

    def __repr__(self) -> str:
        return f"<RequestLog of {len(self)} request(s){'; ' + self.note if self.note else ''}>"
