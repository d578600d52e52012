"""The commands a newsreader uses to catch up and to fill its article list, beyond reading one article:
NEWGROUPS and NEWNEWS (RFC 3977 sections 7.3 and 7.4) and XHDR (RFC 2980 section 2.6), as a mixin of
:class:`servers.news.server.NNTPServer`. HDR (RFC 3977 section 8.5) is not here: chapter 9's exercise adds it.

Promises:

* ``NEWGROUPS date time [GMT]`` answers 231 and the groups created after that moment, as LIST ACTIVE shows them;
  a group whose storage keeps no creation time counts as old. ``NEWNEWS wildmat date time [GMT]`` answers 230 and
  the Message-IDs of the articles of the matching groups dated after that moment (an article's Date header is its
  arrival here: the server writes it on every post that has none), each once. ``date`` is ``yyyymmdd`` or
  ``yymmdd`` (the nearest century, as RFC 3977 says), ``time`` is ``hhmmss``, both UTC; anything else is 501.
* ``XHDR field [range|<message-id>]`` answers 221 and one line ``number value`` per existing article (the
  Message-ID instead of the number when asked by Message-ID), ``(none)`` for a header the article lacks;
  ``:bytes`` and ``:lines`` (and ``Bytes``/``Lines`` when the article has no such header) give the sizes the
  overview gives. The codes are the reading commands': 412 no group, 420 no current article, 423 an empty range,
  430 an unknown Message-ID.
* Wildmats (RFC 3977 section 4) are comma-separated patterns, the last that matches deciding, ``!`` negating.
"""

from __future__ import annotations

import calendar
import email.utils
import fnmatch
import time

from twisted.internet import defer

__all__ = ["Answer", "SinceCommands", "moment", "wildmat"]


class Answer(Exception):
    """Raised inside a command to answer with ``code`` and ``text`` instead."""

    def __init__(self, code: int, text: str):
        super().__init__(code, text)
        self.code, self.text = code, text


def wildmat(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the wildmat ``pattern`` (RFC 3977 section 4.2)."""
    matched = False
    for part in pattern.split(","):
        negated = part.startswith("!")
        if fnmatch.fnmatchcase(name, part[1:] if negated else part):
            matched = not negated
    return matched


def moment(date: str, clock: str, zone: str | None = None, now: float | None = None) -> float:
    """The Unix time of an RFC 3977 ``date time [GMT]``; :class:`Answer` 501 when it is not one."""
    if not (date.isdigit() and len(date) in (6, 8) and clock.isdigit() and len(clock) == 6) or \
            zone not in (None, "GMT"):
        raise Answer(501, "give the date as yyyymmdd (or yymmdd) and the time as hhmmss, then GMT if you like")
    if len(date) == 6:
        this_year = time.gmtime(now).tm_year
        century = this_year // 100 * 100
        year = century + int(date[:2])
        date = str(year if year <= this_year else year - 100) + date[2:]
    try:
        return calendar.timegm(time.strptime(date + clock, "%Y%m%d%H%M%S"))
    except ValueError:
        raise Answer(501, f"not a date and time: {date} {clock}") from None


def dated(article) -> float:
    """When ``article`` came (its Date header), or 0 when the header cannot be read."""
    try:
        return email.utils.parsedate_to_datetime(article.header("Date")).timestamp()
    except (TypeError, ValueError, IndexError):
        return 0.0


def header_value(article, field: str) -> str | None:
    """``field`` of ``article`` on one line, a size for ``:bytes``/``:lines``; None when it has no such header."""
    name = field.lower()
    value = article.header(field, None)
    if value is None and name in (":bytes", "bytes"):
        value = str(len(article.as_bytes()))
    elif value is None and name in (":lines", "lines"):
        value = str(len(article.body))
    return None if value is None else " ".join(value.split())


class SinceCommands:
    """NEWGROUPS, NEWNEWS and XHDR for an NNTPServer (which gives ``reply``, ``factory.storage``,
    ``selected_group``, ``article_range`` and ``_find``)."""

    @defer.inlineCallbacks
    def do_NEWGROUPS(self, date, clock, zone=None):
        since = moment(date, clock, zone)
        groups = yield self.factory.storage.groups()
        self.reply(231, "list of new newsgroups follows",
                   [f"{g.name} {g.high} {g.low} {'y' if g.posting else 'n'}".encode() for g in groups
                    if g.created > since])

    @defer.inlineCallbacks
    def do_NEWNEWS(self, pattern, date, clock, zone=None):
        since = moment(date, clock, zone)
        groups = yield self.factory.storage.groups()
        found: dict[str, None] = {}
        for group in groups:
            if not wildmat(pattern, group.name):
                continue
            for number in (yield self.factory.storage.numbers(group.name)):
                article = yield self.factory.storage.article(group.name, number)
                if dated(article) > since:
                    found.setdefault(article.message_id)
        self.reply(230, "list of new articles by message-id follows", [key.encode("utf-8") for key in found])

    @defer.inlineCallbacks
    def do_XHDR(self, field, spec=None):
        if spec is not None and spec.startswith("<"):
            _, article = yield self._find(spec)
            rows = [(spec, article)]
        elif spec is None:
            rows = [(yield self._find(None))]
        else:
            name = self.selected_group()
            numbers = yield self.factory.storage.numbers(name)
            low, high = self.article_range(spec, numbers[-1] if numbers else 0)
            rows = []
            for number in (n for n in numbers if low <= n <= high):
                rows.append((number, (yield self.factory.storage.article(name, number))))
            if not rows:
                raise Answer(423, f"no articles in {spec} in {name}")
        lines = []
        for key, article in rows:
            value = header_value(article, field)
            lines.append(f"{key} {'(none)' if value is None else value}".encode("utf-8"))
        self.reply(221, f"{field} fields follow", lines)
