"""IMAP SEARCH for the practice folders: every search key of RFC 3501 (section 6.4.4), compiled once per command.

Twisted's server searches a mailbox that is not an ``ISearchableMailbox`` with its own ``search_*`` methods,
which in Twisted 26.10 mix bytes and str: every key that reads a header (``FROM``, ``TO``, ``CC``, ``BCC``,
``SUBJECT``, ``HEADER``) compares the client's bytes with a str and fails, every date key (``SINCE``,
``BEFORE``, ``ON``, ``SENTSINCE``, ``SENTBEFORE``, ``SENTON``) parses bytes with a str pattern and fails, so
the client gets ``BAD``; ``TEXT`` looks at the body only, and ``UNKEYWORD`` never matches. Its query parser
also recurses once per parenthesis, so one line of a few thousand ``(`` ends in a ``RecursionError`` whose
traceback fills the log. The practice folders are therefore searchable mailboxes, and the server compiles the
query itself.

Promises:

* :func:`compile_line` turns the rest of a ``SEARCH`` command into a :class:`Query`, or raises
  ``imap4.IllegalClientResponse`` (the server answers ``BAD`` and logs nothing) for an unknown key, a missing or
  malformed argument, unbalanced parentheses, or nesting (parentheses, ``NOT``, ``OR``) deeper than
  :data:`MAX_DEPTH`. :func:`compile_tokens` does the same from Twisted's parsed token list.
* ``Query.matching(messages)`` gives the sequence numbers (from 1) of the messages that match: headers are
  compared case-insensitively as substrings, after decoding RFC 2047 encoded words; ``TEXT`` searches the
  headers and the body; dates compare the day only (the internal date for ``SINCE``/``BEFORE``/``ON``, the
  ``Date:`` header for the ``SENT`` keys); flags and keywords are compared without regard to case.
"""

from __future__ import annotations

import datetime
import email.header
import email.utils
from collections import deque
from typing import Callable

from twisted.mail import imap4

__all__ = ["MAX_DEPTH", "Query", "compile_line", "compile_tokens"]

MAX_DEPTH = 32

FLAG_KEYS = {"ANSWERED": (r"\Answered", True), "DELETED": (r"\Deleted", True), "DRAFT": (r"\Draft", True),
             "FLAGGED": (r"\Flagged", True), "RECENT": (r"\Recent", True), "SEEN": (r"\Seen", True),
             "OLD": (r"\Recent", False), "UNANSWERED": (r"\Answered", False), "UNDELETED": (r"\Deleted", False),
             "UNDRAFT": (r"\Draft", False), "UNFLAGGED": (r"\Flagged", False), "UNSEEN": (r"\Seen", False)}
HEADER_KEYS = {"BCC": "bcc", "CC": "cc", "FROM": "from", "SUBJECT": "subject", "TO": "to"}
DATE_KEYS = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"}
# Every key this module answers, for the server's tests to hold against RFC 3501.
KEYS = (set(FLAG_KEYS) | set(HEADER_KEYS) | DATE_KEYS
        | {"ALL", "NEW", "BODY", "TEXT", "HEADER", "KEYWORD", "UNKEYWORD", "LARGER", "SMALLER", "NOT", "OR", "UID"})

Test = Callable[[int, object, tuple[int, int]], bool]  # (sequence number, message, (last number, last UID))


class Query:
    """A compiled search."""

    def __init__(self, test: Test):
        self.test = test

    def matching(self, messages) -> list[int]:
        """The sequence numbers of ``messages`` (``IMessage`` providers, in folder order) that match."""
        last = (len(messages), messages[-1].getUID() if messages else 0)
        return [number for number, message in enumerate(messages, 1) if self.test(number, message, last)]


def _refuse(why: str):
    raise imap4.IllegalClientResponse(why)


def _depth(line: bytes) -> int:
    """The deepest nesting of parentheses (or brackets, which Twisted's parser nests too) outside quotes."""
    depth = deepest = 0
    quoted = escaped = False
    for byte in line:
        if quoted:
            escaped, quoted = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            quoted = True
        elif byte in b"([":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b")]":
            depth -= 1
    return deepest


def compile_line(line: bytes) -> Query:
    """The query in ``line`` (what follows ``SEARCH [CHARSET x]``)."""
    if _depth(line) > MAX_DEPTH:
        _refuse(f"search keys nested deeper than {MAX_DEPTH}")
    try:
        tokens = imap4.parseNestedParens(line)
    except (imap4.MismatchedNesting, ValueError):
        _refuse("unbalanced parentheses or a malformed literal in the search keys")
    return compile_tokens(tokens)


def compile_tokens(tokens: list) -> Query:
    """The query of Twisted's parsed tokens (bytes, and lists for parenthesised keys)."""
    pending = deque(tokens)
    if not pending:
        _refuse("SEARCH needs at least one search key")
    test = _all_of(pending, 0)
    return Query(test)


def _all_of(tokens: deque, depth: int) -> Test:
    tests = []
    while tokens:
        tests.append(_key(tokens, depth))
    return lambda number, message, last: all(test(number, message, last) for test in tests)


def _argument(tokens: deque, key: str) -> str:
    if not tokens or isinstance(tokens[0], list):
        _refuse(f"{key} needs an argument")
    value = tokens.popleft()
    value = value[0] if isinstance(value, tuple) else value  # a literal
    return value.decode("utf-8", "replace")


def _key(tokens: deque, depth: int) -> Test:
    if depth > MAX_DEPTH:
        _refuse(f"search keys nested deeper than {MAX_DEPTH}")
    token = tokens.popleft()
    if isinstance(token, list):
        if not token:
            _refuse("an empty parenthesised search key")
        return _all_of(deque(token), depth + 1)
    key = token.decode("ascii", "replace").upper()
    if key[:1].isdigit() or key[:1] == "*":
        return _in_set(token, 0)
    if key in FLAG_KEYS:
        flag, present = FLAG_KEYS[key]
        return lambda number, message, last: _has_flag(message, flag) == present
    if key == "ALL":
        return lambda number, message, last: True
    if key == "NEW":
        return lambda number, message, last: _has_flag(message, r"\Recent") and not _has_flag(message, r"\Seen")
    if key in ("KEYWORD", "UNKEYWORD"):
        flag, present = _argument(tokens, key), key == "KEYWORD"
        return lambda number, message, last: _has_flag(message, flag) == present
    if key in HEADER_KEYS or key == "HEADER":
        name = HEADER_KEYS.get(key) or _argument(tokens, key).lower()
        return _header_contains(name, _argument(tokens, key).lower())
    if key in ("BODY", "TEXT"):
        wanted = _argument(tokens, key).lower()
        return lambda number, message, last: wanted in _body(message) or (
            key == "TEXT" and wanted in _all_headers(message))
    if key in DATE_KEYS:
        return _on_date(key, _date(_argument(tokens, key)))
    if key in ("LARGER", "SMALLER"):
        size = _argument(tokens, key)
        if not size.isdigit():
            _refuse(f"{key} takes a number of octets, not {size!r}")
        bigger = key == "LARGER"
        return lambda number, message, last: (message.getSize() > int(size)) == bigger
    if key == "NOT":
        if not tokens:
            _refuse("NOT needs a search key")
        inner = _key(tokens, depth + 1)
        return lambda number, message, last: not inner(number, message, last)
    if key == "OR":
        if len(tokens) < 2:
            _refuse("OR needs two search keys")
        first, second = _key(tokens, depth + 1), _key(tokens, depth + 1)
        return lambda number, message, last: first(number, message, last) or second(number, message, last)
    if key == "UID":
        return _in_set(_argument(tokens, key).encode("ascii", "replace"), 1)
    _refuse(f"unknown search key {key!r}")


def _in_set(text: bytes, which: int) -> Test:
    """Sequence numbers (``which`` 0) or UIDs (1) in the set ``text``, ``*`` the last one."""
    try:
        imap4.parseIdList(text, 1)
    except (imap4.IllegalIdentifierError, ValueError):
        _refuse(f"{text.decode('ascii', 'replace')!r} is not a sequence set")

    def test(number, message, last):
        found = number if which == 0 else message.getUID()
        return found in imap4.parseIdList(text, last[which] or 1)

    return test


def _has_flag(message, flag: str) -> bool:
    wanted = flag.lower()
    return any((held.decode() if isinstance(held, bytes) else held).lower() == wanted for held in message.getFlags())


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, UnicodeError):
        return value


def _header_contains(name: str, wanted: str) -> Test:
    def test(number, message, last):
        values = message.getHeaders(False, name)
        return any(wanted in _decoded(value).lower() for key, value in values.items() if key.lower() == name)

    return test


def _all_headers(message) -> str:
    return "\n".join(f"{key}: {_decoded(value)}" for key, value in message.getHeaders(True).items()).lower()


def _body(message) -> str:
    return message.getBodyFile().read().decode("utf-8", "replace").lower()


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _date(text: str) -> datetime.date:
    """An RFC 3501 date, ``1-Dec-2025`` or ``01-Dec-2025``."""
    day, _, rest = text.partition("-")
    month, _, year = rest.partition("-")
    if not (day.isdigit() and year.isdigit() and month.lower() in MONTHS):
        _refuse(f"{text!r} is not a date like 1-Dec-2025")
    try:
        return datetime.date(int(year), MONTHS.index(month.lower()) + 1, int(day))
    except ValueError:
        _refuse(f"{text!r} is not a date like 1-Dec-2025")


def _internal_day(message) -> datetime.date:
    return datetime.datetime.strptime(message.getInternalDate(), "%d-%b-%Y %H:%M:%S %z").date()


def _sent_day(message) -> datetime.date | None:
    value = message.getHeaders(False, "date").get("date")
    try:
        return email.utils.parsedate_to_datetime(value).date() if value else None
    except (TypeError, ValueError):
        return None


def _on_date(key: str, wanted: datetime.date) -> Test:
    day_of = _sent_day if key.startswith("SENT") else _internal_day
    compare = {"BEFORE": lambda day: day < wanted, "ON": lambda day: day == wanted,
               "SINCE": lambda day: day >= wanted}[key.removeprefix("SENT")]

    def test(number, message, last):
        day = day_of(message)
        return day is not None and compare(day)

    return test
