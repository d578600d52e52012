"""The text format NNTP's client and server share (RFC 3977, section 3.1.1): CR LF lines, dot-stuffing, ranges.

Promises: :func:`multiline` and :func:`unstuff` are inverses for any list of lines; :func:`parse_range` reads
``N``, ``N-`` and ``N-M`` and raises ValueError on anything else; nothing here touches a socket.
"""

from __future__ import annotations

__all__ = ["CRLF", "multiline", "parse_range", "split_lines", "unstuff"]

CRLF = b"\r\n"


def split_lines(text: bytes) -> list[bytes]:
    """``text`` as lines, with LF or CR LF endings removed (a last line without an end counts)."""
    lines = text.replace(CRLF, b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def multiline(lines: list[bytes]) -> bytes:
    """``lines`` as the body of a multi-line block: each line that starts with a dot gets one more, then ``.``."""
    return b"".join((b"." + line if line.startswith(b".") else line) + CRLF for line in lines) + b"." + CRLF


def unstuff(line: bytes) -> bytes:
    """One received line of a multi-line block without the dot a sender doubled (call it after the terminator
    test: the terminator is the line ``.`` alone)."""
    return line[1:] if line.startswith(b"..") else line


def parse_range(text: str, high: int) -> tuple[int, int]:
    """An article range ``N``, ``N-`` (to ``high``) or ``N-M`` as ``(low, high)``; ValueError otherwise."""
    first, dash, last = text.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise ValueError(f"not an article range: {text!r}")
    low = int(first)
    return (low, int(last) if last else high) if dash else (low, low)
