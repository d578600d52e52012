"""A picture of one message's journey through a mail system: the protocol lines at each hop, in order.

Promises: :func:`message_journey` takes hops, each a title and either a mail session
(:class:`labkit.sessions.SessionPicture`: each command with the first line of its reply, the message's own text
left out) or a list of lines (what happened elsewhere, such as files in a Maildir), and returns a
:class:`Journey`. It shows as boxes joined by arrows: in a notebook as HTML, and as plain text (``str``) that
tests and nbval can compare. A hop shows at most :data:`MOST_LINES` lines and says how many more there were.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from labkit.sessions import SessionPicture

__all__ = ["Hop", "Journey", "message_journey", "session_lines"]

MOST_LINES = 14  # per hop; the rest is counted, not shown
LINE_CHARS = 72


def _short(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS - 1] + "…"


def session_lines(session: SessionPicture) -> list[str]:
    """Each step of ``session`` as ``C:`` lines (a command; for SMTP's message, a note of its size) and the first
    line of the reply as ``S:``."""
    lines = []
    for step in session.exchanges:
        if step.note:
            continue
        if step.message:
            lines.append(f"C: (the message: {len(step.command)} lines)")
        else:
            lines.extend("C: " + _short(line) for line in step.command)
        lines.extend("S: " + _short(line) for line in step.reply[:1])
    return lines


@dataclass
class Hop:
    title: str
    lines: list[str] = field(default_factory=list)

    def shown(self) -> list[str]:
        if len(self.lines) <= MOST_LINES:
            return self.lines
        return self.lines[:MOST_LINES - 1] + [f"… {len(self.lines) - MOST_LINES + 1} more lines"]


@dataclass
class Journey:
    title: str
    hops: list[Hop]

    def __str__(self) -> str:
        out = [self.title]
        for number, hop in enumerate(self.hops):
            if number:
                out.append("    |\n    v")
            out.append(f"[{hop.title}]")
            out.extend("  " + line for line in hop.shown())
        return "\n".join(out)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        boxes = []
        for hop in self.hops:
            lines = "\n".join(html.escape(line) for line in hop.shown())
            boxes.append(f'<div style="border:1px solid #bbb;border-radius:6px;padding:4px 8px;min-width:14em;'
                         f'max-width:34em"><div style="font-weight:bold;font-family:sans-serif">'
                         f'{html.escape(hop.title)}</div><pre style="margin:2px 0;font-size:85%;'
                         f'white-space:pre-wrap">{lines}</pre></div>')
        arrow = '<div style="font-size:160%;padding:0 6px;align-self:center">&#8594;</div>'
        return (f'<div><div style="font-family:sans-serif;margin-bottom:4px">{html.escape(self.title)}</div>'
                f'<div style="display:flex;flex-wrap:wrap;align-items:stretch;gap:4px">{arrow.join(boxes)}</div></div>')


def message_journey(title: str, *hops) -> Journey:
    """``hops``: ``(title, session)`` with a :class:`~labkit.sessions.SessionPicture`, or ``(title, [lines])``."""
    made = []
    for hop in hops:
        name, what = hop
        made.append(Hop(name, session_lines(what) if isinstance(what, SessionPicture) else list(what)))
    return Journey(title, made)
