"""Seeing the wire: record what crosses a connection and show it as a conversation.

Promises:

* :class:`RecordingFactory` wraps any protocol factory, client or server side, and records every byte each
  way into a :class:`Transcript`, per connection, in order. The wrapped protocol does not notice.
* A transcript shows as a conversation: client lines on the left, server lines on the right, CR and LF
  visible, other control and non-UTF-8 bytes as ``\\xNN``, long messages folded. ``str(transcript)`` gives
  the same conversation as plain text (``C:`` / ``S:`` lines), stable enough to compare in tests.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass, field

from twisted.protocols.policies import ProtocolWrapper, WrappingFactory

__all__ = ["Message", "RecordingFactory", "Transcript", "show_bytes"]

CLIENT, SERVER, NOTE = "client", "server", "note"
FOLD_LINES = 24
FOLD_LINE_CHARS = 160


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
    data: bytes = b""
    note: str = ""

    def lines(self) -> list[str]:
        if self.side == NOTE:
            return [self.note]
        return show_bytes(self.data).rstrip("\n").split("\n")


@dataclass
class Transcript:
    """The conversations recorded on one server or client, in order, numbered by connection (1, 2, ...)."""

    name: str = "connection"
    messages: list[Message] = field(default_factory=list)
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open(self, peer: str) -> int:
        with self._lock:
            self.connections += 1
            number = self.connections
            self.messages.append(Message(number, NOTE, note=f"connection {number} opened ({peer})"))
        return number

    def record(self, connection: int, side: str, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            last = self.messages[-1] if self.messages else None
            if last is not None and last.connection == connection and last.side == side:
                last.data += data
            else:
                self.messages.append(Message(connection, side, bytes(data)))

    def close(self, connection: int, why: str) -> None:
        with self._lock:
            self.messages.append(Message(connection, NOTE, note=f"connection {connection} closed ({why})"))

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.connections = 0

    def sent_by(self, side: str, connection: int | None = None) -> bytes:
        """Everything ``side`` ("client" or "server") sent, on one connection or all, joined."""
        return b"".join(m.data for m in self.snapshot() if m.side == side and connection in (None, m.connection))

    def snapshot(self) -> list[Message]:
        with self._lock:
            return [Message(m.connection, m.side, m.data, m.note) for m in self.messages]

    def only(self, connection: int) -> Transcript:
        """The conversation of one connection."""
        kept = Transcript(f"{self.name}, connection {connection}")
        kept.messages = [m for m in self.snapshot() if m.connection == connection]
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
    """Passes everything through to the wrapped protocol and records it on the way."""

    def makeConnection(self, transport):
        peer = transport.getPeer()
        self.connection_number = self.factory.transcript.open(f"{getattr(peer, 'host', '?')}:{getattr(peer, 'port', '?')}")
        super().makeConnection(transport)

    def write(self, data):
        self.factory.transcript.record(self.connection_number, self.factory.writes_as, data)
        super().write(data)

    def writeSequence(self, data):
        self.factory.transcript.record(self.connection_number, self.factory.writes_as, b"".join(data))
        super().writeSequence(data)

    def dataReceived(self, data):
        self.factory.transcript.record(self.connection_number, self.factory.reads_as, data)
        super().dataReceived(data)

    def connectionLost(self, reason):
        self.factory.transcript.close(self.connection_number, reason.getErrorMessage())
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
        self.transcript = transcript if transcript is not None else Transcript()
        self.writes_as = side
        self.reads_as = CLIENT if side == SERVER else SERVER

    def buildProtocol(self, addr):
        wrapped = self.wrappedFactory.buildProtocol(addr)
        return None if wrapped is None else self.protocol(self, wrapped)
