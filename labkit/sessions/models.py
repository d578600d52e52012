"""The protocol models behind :class:`labkit.sessions.SessionPicture`: each protocol's states (POP3, RFC 1939;
SMTP, RFC 5321; IMAP, RFC 3501), how a command and a reply move the server between them, and one step
(:class:`Exchange`) of a session."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from labkit.wire import CLIENT

__all__ = ["IMAP", "POP3", "PROTOCOLS", "SMTP", "TLS_TWINS", "Exchange", "Model"]


@dataclass
class Exchange:
    """One step of a session: the client's lines (none for a greeting), the server's reply lines, the state the
    server was in when it handled them (``state``) and the state it was in afterwards (``after``)."""

    state: str
    command: list[str] = field(default_factory=list)
    reply: list[str] = field(default_factory=list)
    after: str = ""
    note: str = ""  # what the picture says instead of lines: encryption, the connection closing
    tag: str = ""  # IMAP's tag of the command
    complete: bool = False
    message: bool = False  # SMTP's message after DATA: client lines that are content, not a command
    awaiting: bool = False  # the server asked for more (a SASL challenge, an IMAP literal): the client's next line
    turns: list[tuple[str, list[str]]] = field(default_factory=list, repr=False)  # (side, lines) in order

    def add(self, side: str, line: str) -> None:
        """Keep ``line`` as said by ``side`` ("client" or "server"), in order."""
        (self.command if side == CLIENT else self.reply).append(line)
        if self.turns and self.turns[-1][0] == side:
            self.turns[-1][1].append(line)
        else:
            self.turns.append((side, [line]))

    def rows(self) -> list[tuple[list[str], list[str]]]:
        """The step as (client lines, server lines) rows: a command and its reply side by side, a challenge and
        the client's answer on rows of their own."""
        rows: list[tuple[list[str], list[str]]] = []
        for side, lines in self.turns:
            if side == CLIENT or not rows or rows[-1][1]:
                rows.append(([], []))
            rows[-1][(0 if side == CLIENT else 1)].extend(lines)
        return rows

    @property
    def verb(self) -> str:
        """The command word, upper case ("" for a greeting, a note or SMTP's message; IMAP's word after the tag,
        with UID's next)."""
        if not self.command or self.message:
            return ""
        words = self.command[0].split()
        if self.tag:
            words = words[1:]
        if not words:
            return ""
        verb = words[0].upper()
        if verb == "UID" and len(words) > 1:
            verb += " " + words[1].upper()
        return verb


class Model:
    """What a protocol's replies look like and how they move the server's state (one instance per session)."""

    name = ""
    states: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.state = self.states[0]

    def is_challenge(self, line: str) -> bool:
        """Whether a server line asks the client for more of the same command (SASL, IMAP's literals)."""
        return False

    def joins_previous(self, pending: Exchange, line: str) -> bool:
        """Whether a client line continues ``pending`` without the server asking (IMAP's non-waiting literals)."""
        return False

    def tag_of(self, line: str) -> str:
        return ""

    def reply_target(self, pending: deque, line: str) -> Exchange | None:
        return pending[0] if pending else None

    def is_complete(self, exchange: Exchange, line: str) -> bool:
        raise NotImplementedError

    def advance(self, exchange: Exchange) -> str:
        """The state after ``exchange`` (its reply complete); sets ``self.secure_next`` when TLS starts."""
        raise NotImplementedError

    def collects(self) -> bool:
        """Whether client lines are now message content rather than commands (SMTP after 354)."""
        return False

    def content_ended(self, line: str) -> bool:
        return False


class POP3(Model):
    name = "POP3"
    states = ("AUTHORIZATION", "TRANSACTION", "UPDATE")
    MULTI_LINE = {"CAPA", "RETR", "TOP"}

    def is_challenge(self, line):
        return line == "+" or line.startswith("+ ")

    def _multi_line(self, exchange: Exchange) -> bool:
        words = exchange.command[0].upper().split() if exchange.command else []
        return bool(words) and (words[0] in self.MULTI_LINE or words in (["LIST"], ["UIDL"]))

    def is_complete(self, exchange, line):
        statuses = [number for number, said in enumerate(exchange.reply) if said.startswith(("+OK", "-ERR"))]
        if not statuses or statuses[0] == len(exchange.reply) - 1:  # this line is the status (or not POP3 at all)
            return not (line.startswith("+OK") and self._multi_line(exchange))
        return line == "."

    def advance(self, exchange):
        statuses = [line for line in exchange.reply if not self.is_challenge(line)]
        ok = bool(statuses) and statuses[0].startswith("+OK")
        verb = exchange.verb
        if not exchange.command:
            return self.state  # the greeting
        if verb in ("PASS", "APOP", "AUTH") and ok:
            return "TRANSACTION"
        if verb == "STLS" and ok:
            self.secure_next = True
        if verb == "QUIT" and ok and self.state == "TRANSACTION":
            return "UPDATE"
        return self.state


class SMTP(Model):
    name = "SMTP"
    states = ("connected", "greeted", "ready", "sender given", "recipients given", "receiving the message", "closing")
    FINAL = re.compile(r"^\d{3}(?: |$)")

    def is_challenge(self, line):
        return line.startswith("334")

    def is_complete(self, exchange, line):
        return bool(self.FINAL.match(line))

    def collects(self):
        return self.state == "receiving the message"

    def content_ended(self, line):
        return line == "."

    def advance(self, exchange):
        code = exchange.reply[-1][:3] if exchange.reply else ""
        good = code[:1] == "2"
        verb = exchange.verb
        if code == "421":
            return "closing"
        if self.state == "receiving the message":
            return "ready"  # the message was answered, accepted or not: the transaction is over
        if not exchange.command:
            return "greeted" if code == "220" else "closing"
        if verb in ("HELO", "EHLO") and good:
            return "ready"
        if verb == "STARTTLS" and code == "220":
            self.secure_next = True
            return "greeted"  # after the handshake the client introduces itself again
        if verb == "RSET" and good:
            return "ready" if self.state != "greeted" else self.state
        if verb == "MAIL" and good:
            return "sender given"
        if verb == "RCPT" and good:
            return "recipients given"
        if verb == "DATA" and code == "354":
            return "receiving the message"
        if verb == "QUIT":
            return "closing"
        return self.state


class IMAP(Model):
    name = "IMAP"
    states = ("not authenticated", "authenticated", "selected", "logout")
    TAG = re.compile(r"^([A-Za-z0-9.]+) ")
    LITERAL = re.compile(r"\{\d+\+?\}$")

    def tag_of(self, line):
        found = self.TAG.match(line)
        return found.group(1) if found and found.group(1) not in ("*", "+") else ""

    def is_challenge(self, line):
        return line == "+" or line.startswith("+ ")

    def joins_previous(self, pending, line):
        return bool(self.LITERAL.search(pending.command[-1]))

    def reply_target(self, pending, line):
        if not pending:
            return None
        tag = self.tag_of(line)
        if tag:
            for exchange in pending:
                if exchange.tag == tag:
                    return exchange
        return pending[0]

    def is_complete(self, exchange, line):
        if not exchange.command:
            return True  # the greeting is one untagged line
        return bool(exchange.tag) and line.startswith(exchange.tag + " ")

    def advance(self, exchange):
        if not exchange.command:
            first = exchange.reply[0].upper() if exchange.reply else ""
            if first.startswith("* PREAUTH"):
                return "authenticated"
            if first.startswith("* BYE"):
                return "logout"
            return self.state
        words = exchange.reply[-1].split() if exchange.reply else []
        ok = len(words) > 1 and words[1].upper() == "OK"
        verb = exchange.verb
        if verb == "LOGOUT" or any(line.upper().startswith("* BYE") for line in exchange.reply):
            return "logout"
        if verb in ("LOGIN", "AUTHENTICATE") and ok:
            return "authenticated"
        if verb in ("SELECT", "EXAMINE"):
            return "selected" if ok else "authenticated"
        if verb in ("CLOSE", "UNSELECT") and ok:
            return "authenticated"
        if verb == "STARTTLS" and ok:
            self.secure_next = True
        return self.state


PROTOCOLS = {"pop3": POP3, "smtp": SMTP, "imap": IMAP}
TLS_TWINS = {"pop3s": "pop3", "smtps": "smtp", "imaps": "imap"}  # the same protocols over TLS from the first byte
