"""Pictures of mail sessions: what the client sent, what the server answered, and the state the server was in.

Promises:

* :meth:`SessionPicture.from_transcript` reads one connection of a recorded conversation
  (:class:`labkit.wire.Transcript`, or anything with a ``.transcript``, such as a served practice server) and
  :meth:`SessionPicture.from_chunks` reads ``(side, bytes)`` pairs in the order they crossed; ``protocol`` is
  ``"pop3"``, ``"smtp"`` or ``"imap"`` (:data:`PROTOCOLS`).
* The picture pairs every command with its whole reply (a greeting is a reply to no command; SMTP's message after
  ``DATA`` is one step; IMAP replies are matched by tag, so pipelined commands pair correctly), and follows the
  server's states as the protocol defines them:

  - POP3 (RFC 1939): AUTHORIZATION, TRANSACTION after a login that succeeds, UPDATE after ``QUIT`` there;
  - SMTP (RFC 5321): connected, greeted, ready (after ``HELO``/``EHLO``), sender given (``MAIL``), recipients given
    (``RCPT``), receiving the message (``DATA`` answered 354), and back to ready once the message is answered;
  - IMAP (RFC 3501): not authenticated, authenticated, selected, logout.

* ``.exchanges`` lists the steps (:class:`Exchange`: the state the server was in, the client's lines, the server's
  lines, the state after); ``.states`` the states in the order the session went through them.
* It shows as HTML in a notebook (one row per step, the state as a coloured band, long replies folded) and as plain
  text everywhere else (``str()``: one block per state, ``C:`` / ``S:`` lines), stable enough to compare in tests.
* After a ``STLS``/``STARTTLS`` the server accepted, and from the first byte when the client opens with a TLS
  handshake (implicit TLS), the bytes are encrypted: the picture says so, and counts them (``.encrypted_bytes``)
  instead of reading them. (A server recording inside its TLS layer, as ``labkit.serve`` does for TLS from the
  first byte, records plain text: that session reads as any other.)
* It never raises on what it reads: a line it does not understand is shown as it came and leaves the state alone.
"""

from __future__ import annotations

import html
from collections import deque
from dataclasses import dataclass, field

from labkit.sessions.models import PROTOCOLS, TLS_TWINS, Exchange, Model
from labkit.wire import CLIENT, NOTE, SERVER

__all__ = ["PROTOCOLS", "Exchange", "SessionPicture"]

FOLD_REPLY = 5  # reply lines shown before folding: the first FOLD_REPLY - 1 and the last
FOLD_CHARS = 120
PALETTE = ["#e8f0fe", "#e6f4ea", "#fef7e0", "#fce8e6", "#f3e8fd", "#e0f7fa", "#f1f3f4"]


def _more(hidden: int) -> str:
    return f"… {hidden} more line{'s' if hidden != 1 else ''} …"


def _text(line: bytes) -> str:
    text = line.decode("utf-8", errors="backslashreplace")
    text = "".join(ch if ch >= " " or ch == "\t" else f"\\x{ord(ch):02x}" for ch in text)
    return text if len(text) <= FOLD_CHARS else text[:FOLD_CHARS] + " …"


def _looks_like_tls(data: bytes) -> bool:
    """A TLS handshake record (what a client opens implicit TLS with): type 22, version 3.x."""
    return len(data) >= 3 and data[0] == 0x16 and data[1] == 0x03


@dataclass
class SessionPicture:
    """One mail session as steps, each with the server's state; see the module's promises."""

    protocol: str
    title: str
    exchanges: list[Exchange] = field(default_factory=list)
    encrypted_bytes: dict = field(default_factory=lambda: {CLIENT: 0, SERVER: 0})

    # --- reading ------------------------------------------------------------------------------------------------

    @classmethod
    def from_transcript(cls, source, protocol: str | None = None, connection: int | None = None,
                        title: str | None = None) -> SessionPicture:
        """The session on ``connection`` (by default the last one) of ``source``: a Transcript, or an object with a
        ``.transcript`` (a served practice server). ``protocol`` defaults to the source's URL scheme or name when
        that is one of :data:`PROTOCOLS` (or its TLS twin: ``pop3s``, ``smtps``, ``imaps``)."""
        transcript = getattr(source, "transcript", source)
        if protocol is None:
            said = [str(getattr(source, "scheme", "")), str(getattr(source, "name", "")),
                    str(getattr(transcript, "name", ""))]
            known = [TLS_TWINS.get(word.lower(), word.lower()) for word in said]
            protocol = next((word for word in known if word in PROTOCOLS), None)
            if protocol is None:
                raise ValueError(f"say which protocol the session speaks: one of {', '.join(PROTOCOLS)}")
        messages = transcript.snapshot()
        numbers = [m.connection for m in messages if m.connection]
        if connection is None:
            connection = max(numbers, default=0)
        chunks = []
        for message in messages:
            if message.connection != connection:
                continue
            if message.side == NOTE:
                if " closed (" in message.note:
                    chunks.append((NOTE, message.note.split(" closed (", 1)[1].rstrip(")")))
                continue
            chunks.append((message.side, bytes(message.data)))
        name = getattr(transcript, "name", "") or protocol
        if title is None:
            title = f"{PROTOCOLS[protocol.lower()].name} session ({name}, connection {connection})" if numbers \
                else f"{PROTOCOLS[protocol.lower()].name} session ({name}: nothing recorded yet)"
        return cls.from_chunks(protocol, chunks, title=title)

    @classmethod
    def from_chunks(cls, protocol: str, chunks, title: str | None = None) -> SessionPicture:
        """The session made of ``chunks``: ``(side, bytes)`` pairs in the order they crossed, side ``"client"`` or
        ``"server"`` (``("note", reason)`` marks the connection closing)."""
        try:
            model = PROTOCOLS[protocol.lower()]()
        except KeyError:
            raise ValueError(f"no session picture for {protocol!r}; there are: {', '.join(PROTOCOLS)}") from None
        picture = cls(protocol.lower(), title or f"{model.name} session")
        picture._read(model, chunks)
        return picture

    def _read(self, model: Model, chunks) -> None:
        model.secure_next = False
        greeting = Exchange(model.state)
        self.exchanges.append(greeting)
        pending: deque[Exchange] = deque([greeting])
        buffers = {CLIENT: b"", SERVER: b""}
        content: Exchange | None = None
        secure = False
        started = False
        for side, data in chunks:
            if side == NOTE:
                self.exchanges.append(Exchange(model.state, after=model.state, note=f"connection closed ({data})",
                                               complete=True))
                continue
            if not started and side == CLIENT and _looks_like_tls(data):
                self.exchanges.remove(greeting)  # implicit TLS: the client's first bytes are a handshake
                pending.clear()
                secure = True
                self.exchanges.append(Exchange(model.state, after=model.state, complete=True,
                                               note="TLS from the first byte (implicit TLS): everything is encrypted"))
            started = True
            if secure:
                self.encrypted_bytes[side] += len(data)
                continue
            buffer = buffers[side] + data
            while not secure and b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = _text(raw.rstrip(b"\r"))
                if side == CLIENT:
                    content = self._client_line(model, pending, content, line)
                else:
                    self._server_line(model, pending, line)
                if model.secure_next:
                    secure = True
                    self.exchanges.append(Exchange(model.state, after=model.state, complete=True,
                                                   note="TLS handshake: from here on the session is encrypted"))
            if secure:
                self.encrypted_bytes[side] += len(buffer)
                buffer = b""
            buffers[side] = buffer
        for side, rest in buffers.items():  # an unfinished last line is still shown
            if rest and not secure:
                if side == CLIENT:
                    self._client_line(model, pending, content, _text(rest) + " (no line end)")
                else:
                    self._server_line(model, pending, _text(rest) + " (no line end)")

    def _client_line(self, model: Model, pending: deque, content: Exchange | None, line: str) -> Exchange | None:
        if model.collects():
            if content is None:
                content = Exchange(model.state, message=True)
                self.exchanges.append(content)
            content.add(CLIENT, line)
            if model.content_ended(line):
                pending.append(content)
                return None
            return content
        last = pending[-1] if pending else None
        if last is not None and last.command and (last.awaiting or model.joins_previous(last, line)):
            last.add(CLIENT, line)
            last.awaiting = False
            return content
        exchange = Exchange(model.state, tag=model.tag_of(line))
        exchange.add(CLIENT, line)
        self.exchanges.append(exchange)
        pending.append(exchange)
        return content

    def _server_line(self, model: Model, pending: deque, line: str) -> None:
        target = model.reply_target(pending, line)
        if target is None:  # said unasked (a server closing on a time-out, say): a step of its own
            target = Exchange(model.state)
            self.exchanges.append(target)
            pending.append(target)
        target.add(SERVER, line)
        if target.command and model.is_challenge(line):
            target.awaiting = True  # the client answers on this same step
        elif model.is_complete(target, line):
            target.state = model.state
            model.state = model.advance(target)
            target.after = model.state
            target.complete = True
            pending.remove(target)

    # --- what it found ------------------------------------------------------------------------------------------

    @property
    def states(self) -> list[str]:
        """The server's states in the order the session went through them (each once per visit)."""
        seen: list[str] = []
        for exchange in self.exchanges:
            for state in (exchange.state, exchange.after):
                if state and (not seen or seen[-1] != state):
                    seen.append(state)
        return seen

    def _steps(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.command or e.reply or e.note]

    def _groups(self) -> list[tuple[str, list[Exchange]]]:
        groups: list[tuple[str, list[Exchange]]] = []
        for exchange in self._steps():
            if groups and groups[-1][0] == exchange.state:
                groups[-1][1].append(exchange)
            else:
                groups.append((exchange.state, [exchange]))
        return groups

    @staticmethod
    def _fold(lines: list[str]) -> tuple[list[str], int]:
        if len(lines) <= FOLD_REPLY:
            return lines, 0
        return lines[: FOLD_REPLY - 1] + lines[-1:], len(lines) - FOLD_REPLY

    # --- showing ------------------------------------------------------------------------------------------------

    def __str__(self) -> str:
        out = [f"{self.title}: {' -> '.join(self.states)}"]
        for state, exchanges in self._groups():
            out.append(f"[{state}]")
            for exchange in exchanges:
                if exchange.note:
                    out.append(f"  -- {exchange.note}")
                    continue
                for side, lines in exchange.turns:
                    tag = "C" if side == CLIENT else "S"
                    shown, hidden = self._fold(lines)
                    for number, line in enumerate(shown):
                        if hidden and number == len(shown) - 1:
                            out.append(f"  {tag}: {_more(hidden)}")
                        out.append(f"  {tag}: {line}")
                if not exchange.reply and not exchange.complete:
                    out.append("  S: (no reply yet)")
                if exchange.after and exchange.after != exchange.state:
                    out.append(f"  => {exchange.after}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return f"<SessionPicture {self.title!r}: {len(self._steps())} steps, {' -> '.join(self.states)}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _colour(self, state: str) -> str:
        order = list(PROTOCOLS[self.protocol].states)
        index = order.index(state) if state in order else len(order)
        return PALETTE[index % len(PALETTE)]

    def _lines_html(self, lines: list[str]) -> str:
        shown, hidden = self._fold(lines)
        escaped = [html.escape(line) for line in shown]
        if hidden:
            escaped.insert(len(escaped) - 1, f"<i>{_more(hidden)}</i>")
        return "\n".join(escaped)

    def _repr_html_(self) -> str:
        strip = " <span style='color:#888'>&rarr;</span> ".join(
            f"<span style='background:{self._colour(state)};padding:1px 6px;border-radius:8px'>"
            f"{html.escape(state)}</span>" for state in self.states)
        pre = "margin:0;white-space:pre-wrap;font-family:monospace;font-size:90%"
        rows = []
        for state, exchanges in self._groups():
            cells = []
            for exchange in exchanges:
                if exchange.note:
                    cells.append(f"<td colspan='2' style='text-align:center;color:#777;font-size:90%'>"
                                 f"{html.escape(exchange.note)}</td>")
                    continue
                step = exchange.rows()
                for number, (said, answered) in enumerate(step):
                    client = f"<pre style='{pre}'>{self._lines_html(said)}</pre>" if said else ""
                    reply = (self._lines_html(answered) if answered
                             else "<i>(no reply yet)</i>" if not exchange.complete else "")
                    last = number == len(step) - 1
                    moved = (f"<div style='font-size:85%;color:#555'>&rArr; {html.escape(exchange.after)}</div>"
                             if last and exchange.after and exchange.after != exchange.state else "")
                    cells.append(f"<td style='vertical-align:top;text-align:left;background:#eef5ff'>{client}</td>"
                                 f"<td style='vertical-align:top;text-align:left;background:#f0fbef'>"
                                 f"<pre style='{pre}'>{reply}</pre>{moved}</td>")
            band = (f"<td rowspan='{len(cells)}' style='vertical-align:top;text-align:left;"
                    f"background:{self._colour(state)};font-weight:bold;padding:3px 8px'>{html.escape(state)}</td>")
            rows.extend(f"<tr>{band if number == 0 else ''}{cell}</tr>" for number, cell in enumerate(cells))
        head = ("<tr><th style='text-align:left'>server state</th><th style='text-align:left'>client</th>"
                "<th style='text-align:left'>server</th></tr>")
        return (f"<div><div style='margin-bottom:4px'><b>{html.escape(self.title)}</b>: {strip}</div>"
                f"<table style='border-collapse:separate;border-spacing:2px'>{head}{''.join(rows)}</table></div>")
