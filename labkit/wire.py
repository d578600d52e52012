"""Seeing the wire: record what crosses a connection and show it as a conversation.

Promises:

* :class:`RecordingFactory` wraps any protocol factory, client or server side, and records every byte each
  way into a :class:`Transcript`, per connection, in order. The wrapped protocol does not notice.
* A transcript shows as a conversation: client lines on the left, server lines on the right, CR and LF
  visible, other control and non-UTF-8 bytes as ``\\xNN``, long messages folded. ``str(transcript)`` gives
  the same conversation as plain text (``C:`` / ``S:`` lines), stable enough to compare in tests.
* A transcript's memory is bounded in bytes: the oldest events are dropped first, and the conversation then
  starts with a note saying how much was dropped. Jupyter's cookies and tokens are never shown.
"""

from __future__ import annotations

import html
from collections import deque
from dataclasses import dataclass, field

from twisted.internet.interfaces import IHalfCloseableProtocol, IProtocolNegotiationFactory
from twisted.internet.protocol import Protocol
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from zope.interface import alsoProvides, directlyProvides, providedBy

from labkit.redaction import redact_bytes

__all__ = ["Message", "RecordingFactory", "Transcript", "show_bytes"]

CLIENT, SERVER, NOTE = "client", "server", "note"
OPENED, CLOSED = "opened", "closed"  # recorded events that become notes when read
FOLD_LINES = 24
FOLD_LINE_CHARS = 160
MAX_BYTES = 2_000_000  # per transcript, counting EVENT_COST per event; past it the oldest events are dropped
EVENT_COST = 120  # what keeping one event costs besides its bytes (the tuple and the bytes object), measured


def show_bytes(data: bytes) -> str:
    """Bytes as readable text: printable UTF-8 as is, CR and LF as ``\\r`` ``\\n``, other control bytes and
    undecodable bytes as ``\\xNN``. Lines are kept: a ``\\n`` in the data ends a line of the result."""
    text = data.decode("utf-8", errors="backslashreplace")
    out = []
    for ch in text:
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class Message:
    """What one side sent in one write or one read (consecutive chunks of the same side are merged)."""

    connection: int
    side: str
    data: bytearray = field(default_factory=bytearray)
    note: str = ""

    def lines(self) -> list[str]:
        if self.side == NOTE:
            return [self.note]
        return show_bytes(bytes(self.data)).rstrip("\n").split("\n")


@dataclass
class Transcript:
    """The conversations recorded on one server or client, in order, numbered by connection (1, 2, ...).

    Recording is an append of the raw chunk (it runs on every read and write of a live server); merging chunks
    into messages happens only when the transcript is read. Memory is bounded: each recorded event costs its
    bytes plus :data:`EVENT_COST`, and past :data:`MAX_BYTES` the oldest events are dropped, with a note at the
    top saying how much went. Jupyter's own cookies and tokens are masked whenever the transcript is read
    (:mod:`labkit.redaction`).
    """

    name: str = "connection"
    connections: int = 0
    kept_bytes: int = 0
    dropped_bytes: int = 0
    dropped_events: int = 0
    _events: deque = field(default_factory=deque, repr=False)

    def open(self, peer: str) -> int:
        self.connections += 1
        number = self.connections
        self._keep((number, OPENED, peer), len(peer))
        return number

    def record(self, connection: int, side: str, data: bytes) -> None:
        """Keep ``data`` as sent by ``side`` on ``connection`` (this runs on every read and write: keep it lean)."""
        self._events.append((connection, side, data))
        self.kept_bytes += len(data) + EVENT_COST
        if self.kept_bytes > MAX_BYTES:
            self._drop_oldest()

    def close(self, connection: int, why: str) -> None:
        self._keep((connection, CLOSED, why), len(why))

    def _keep(self, event: tuple, size: int) -> None:
        self._events.append(event)
        self.kept_bytes += size + EVENT_COST
        if self.kept_bytes > MAX_BYTES:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Drop the oldest events until what is kept fits in :data:`MAX_BYTES` (the newest event always stays)."""
        events = self._events
        while self.kept_bytes > MAX_BYTES and len(events) > 1:
            _, _, payload = events.popleft()
            cost = len(payload) + EVENT_COST
            self.kept_bytes -= cost
            self.dropped_bytes += cost
            self.dropped_events += 1

    def clear(self) -> None:
        self._events.clear()
        self.connections = self.kept_bytes = self.dropped_bytes = self.dropped_events = 0

    def dropped_note(self) -> str:
        """The note shown first when old events were dropped ("" when nothing was)."""
        if not self.dropped_events:
            return ""
        return (f"{self.dropped_events:,} older events ({self.dropped_bytes:,} bytes) were dropped to keep "
                f"memory bounded; the newest are kept")

    def sent_by(self, side: str, connection: int | None = None) -> bytes:
        """Everything ``side`` ("client" or "server") sent, on one connection or all, joined."""
        return b"".join(bytes(m.data) for m in self.snapshot()
                        if m.side == side and connection in (None, m.connection))

    @property
    def messages(self) -> list[Message]:
        return self.snapshot()

    def snapshot(self) -> list[Message]:
        """The conversation so far as messages: consecutive chunks from one side of one connection merged,
        Jupyter's credentials masked, and a first note if old events were dropped."""
        merged: list[Message] = []
        note = self.dropped_note()
        if note:
            merged.append(Message(0, NOTE, note=note))
        for connection, side, payload in list(self._events):
            if side == OPENED:
                merged.append(Message(connection, NOTE, note=f"connection {connection} opened ({payload})"))
                continue
            if side == CLOSED:
                merged.append(Message(connection, NOTE, note=f"connection {connection} closed ({payload})"))
                continue
            if not payload:
                continue
            if not isinstance(payload, bytes):  # a wrong write (a str, say) is shown, not hidden
                payload = payload.encode() if isinstance(payload, str) else bytes(payload)
            last = merged[-1] if merged else None
            if last is not None and last.connection == connection and last.side == side:
                last.data += payload
            else:
                merged.append(Message(connection, side, bytearray(payload)))
        for message in merged:
            if message.side != NOTE:
                message.data = bytearray(redact_bytes(bytes(message.data)))
        return merged

    def only(self, connection: int) -> Transcript:
        """The conversation of one connection."""
        kept = Transcript(f"{self.name}, connection {connection}")
        kept._events = deque(event for event in list(self._events) if event[0] == connection)
        kept.connections = 1
        return kept

    # --- showing ---------------------------------------------------------------------------------------------

    def _folded(self, message: Message) -> tuple[list[str], int]:
        lines = [line if len(line) <= FOLD_LINE_CHARS else line[:FOLD_LINE_CHARS] + " …"
                 for line in message.lines()]
        if len(lines) <= FOLD_LINES:
            return lines, 0
        return lines[: FOLD_LINES - 4] + lines[-3:], len(lines) - (FOLD_LINES - 1)

    def __str__(self) -> str:
        messages = self.snapshot()
        many = self.connections > 1
        out = []
        for m in messages:
            if m.side == NOTE:
                out.append(f"-- {m.note}")
                continue
            tag = ("C" if m.side == CLIENT else "S") + (f"{m.connection}" if many else "") + ": "
            lines, hidden = self._folded(m)
            if hidden:
                lines = lines[:-3] + [f"… {hidden} more lines …"] + lines[-3:]
            out.extend(tag + line for line in lines)
        return "\n".join(out) if out else f"({self.name}: nothing recorded yet)"

    def __repr__(self) -> str:
        return f"<Transcript {self.name!r}: {self.connections} connections, {len(self.messages)} messages>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        messages = self.snapshot()
        many = self.connections > 1
        rows = []
        for m in messages:
            if m.side == NOTE:
                rows.append(f'<tr><td colspan="2" style="text-align:center;color:#888;font-size:85%">'
                            f"{html.escape(m.note)}</td></tr>")
                continue
            lines, hidden = self._folded(m)
            body = "\n".join(html.escape(line) for line in lines[: len(lines) - 3 if hidden else None])
            if hidden:
                rest = "\n".join(html.escape(line) for line in lines[-3:])
                body += f"\n<i>… {hidden} more lines …</i>\n{rest}"
            label = f"#{m.connection} " if many else ""
            who = "client" if m.side == CLIENT else "server"
            cell = (f'<div style="font-size:75%;color:#666">{label}{who}</div>'
                    f'<pre style="margin:0;white-space:pre-wrap;background:{"#eef5ff" if m.side == CLIENT else "#f0fbef"};'
                    f'padding:3px 6px;border-radius:4px">{body}</pre>')
            left, right = (cell, "") if m.side == CLIENT else ("", cell)
            rows.append(f'<tr><td style="vertical-align:top;width:50%;text-align:left">{left}</td>'
                        f'<td style="vertical-align:top;width:50%;text-align:left">{right}</td></tr>')
        if not rows:
            return f"<i>{html.escape(self.name)}: nothing recorded yet</i>"
        head = ('<tr><th style="text-align:left">client</th><th style="text-align:left">server</th></tr>')
        return (f'<table style="width:100%;border-collapse:separate;border-spacing:0 2px;font-family:monospace">'
                f'<caption style="text-align:left">{html.escape(self.name)}</caption>{head}{"".join(rows)}</table>')


class RecordingProtocol(ProtocolWrapper):
    """Passes everything through to the wrapped protocol and records it on the way.

    Reads are recorded as they arrive. Writes are recorded where the bytes leave: on a socket transport, when
    the transport hands them to the socket (so a busy server pays per send, not per write, and what was never
    sent is not shown as sent); on any other transport (TLS from the first byte, test transports), as they are
    written, before encryption. A wrapped
    protocol that handles half-closed connections (``IHalfCloseableProtocol``) is told of them through this one.
    """

    def makeConnection(self, transport):
        peer = transport.getPeer()
        transcript = self.factory.transcript
        self._number = transcript.open(f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}")
        self._record = transcript.record
        self._writes_as = self.factory.writes_as
        # Only a socket transport's own writeSomeData: a wrapper (TLS from the first byte) would hand on its
        # transport's, below the encryption, and this protocol's writes would never be recorded.
        send = getattr(transport, "writeSomeData", None) if hasattr(type(transport), "writeSomeData") else None
        if send is None:
            super().makeConnection(transport)
        else:
            transport.writeSomeData = self._recording_send(send)
            # The wrapped protocol writes straight to the socket transport; this wrapper still sees every read.
            directlyProvides(self, providedBy(transport))
            Protocol.makeConnection(self, transport)
            self.factory.registerProtocol(self)
            self.wrappedProtocol.makeConnection(transport)
        if IHalfCloseableProtocol.providedBy(self.wrappedProtocol):
            alsoProvides(self, IHalfCloseableProtocol)

    def _recording_send(self, send):
        record, number, side = self._record, self._number, self._writes_as

        def write_some_data(data):
            sent = send(data)
            if isinstance(sent, int) and sent > 0:
                record(number, side, bytes(data[:sent]))
            return sent

        return write_some_data

    def write(self, data):
        self._record(self._number, self._writes_as, data)
        self.transport.write(data)

    def writeSequence(self, data):
        self._record(self._number, self._writes_as, b"".join(data))
        self.transport.writeSequence(data)

    def dataReceived(self, data):
        self._record(self._number, self.factory.reads_as, data)
        self.wrappedProtocol.dataReceived(data)

    def readConnectionLost(self):
        self.wrappedProtocol.readConnectionLost()

    def writeConnectionLost(self):
        self.wrappedProtocol.writeConnectionLost()

    def connectionLost(self, reason):
        self.factory.transcript.close(self._number, reason.getErrorMessage())
        super().connectionLost(reason)


class RecordingFactory(WrappingFactory):
    """Wrap ``factory`` so every connection it makes is recorded into ``transcript``.

    ``side`` is the side the wrapped factory plays: ``"server"`` (default) or ``"client"``.
    """

    protocol = RecordingProtocol

    def __init__(self, factory, transcript: Transcript | None = None, side: str = SERVER):
        if side not in (CLIENT, SERVER):
            raise ValueError(f'side must be "client" or "server", not {side!r}')
        super().__init__(factory)
        if IProtocolNegotiationFactory.providedBy(factory):
            directlyProvides(self, IProtocolNegotiationFactory)
        self.transcript = transcript if transcript is not None else Transcript()
        self.writes_as = side
        self.reads_as = CLIENT if side == SERVER else SERVER

    def buildProtocol(self, addr):
        wrapped = self.wrappedFactory.buildProtocol(addr)
        return None if wrapped is None else self.protocol(self, wrapped)

    def acceptableProtocols(self):
        """The wrapped factory's protocols for TLS negotiation (ALPN), so HTTPS clients still agree on HTTP."""
        return self.wrappedFactory.acceptableProtocols()
