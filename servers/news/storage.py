"""What a news server stores, and the interface it asks for it through: every method returns a Deferred.

Promises:

* :class:`INewsStorage` is all the NNTP server (:mod:`servers.news.server`) uses; an implementation may answer at
  once (:class:`MemoryStorage`) or later (the SQLite one, :mod:`servers.news.sqlstore`, the RSS gateway).
* A failure is one of the exceptions below, each carrying the NNTP response it stands for.
* :func:`parse_article` accepts an article only when it is whole (a header block, a blank line, a body; From,
  Newsgroups and Subject present; at most :data:`MAX_ARTICLE` bytes) and adds a Message-ID, Date and Path when
  missing; posting stores all of it or nothing.
* A group keeps at most :data:`MAX_PER_GROUP` articles: past that the oldest expires, so memory stays bounded.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field

from twisted.internet import defer
from zope.interface import Interface, implementer

from servers.news.textformat import CRLF, split_lines

__all__ = ["Article", "BadArticle", "Group", "GroupInfo", "INewsStorage", "MAX_ARTICLE", "MAX_PER_GROUP",
           "MemoryStorage", "NewsError", "NoSuchArticle", "NoSuchGroup", "OVERVIEW_FORMAT", "PostingRefused",
           "newsgroups", "parse_article"]

MAX_ARTICLE = 64 * 1024
MAX_PER_GROUP = 500
DOMAIN = "practice.invalid"
OVERVIEW_FORMAT = ("Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines")


class NewsError(Exception):
    """A request the storage cannot satisfy; ``code`` is the NNTP response code the server answers with."""

    code = 403


class NoSuchGroup(NewsError):
    code = 411


class NoSuchArticle(NewsError):
    code = 423


class PostingRefused(NewsError):
    code = 441


class BadArticle(PostingRefused):
    """An article without its headers, too big, or otherwise not whole."""


@dataclass(frozen=True)
class Article:
    """One article: its header fields in order (names as sent) and its body lines (no line ends)."""

    headers: tuple[tuple[str, str], ...]
    body: tuple[bytes, ...]

    def header(self, name: str, default: str = "") -> str:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), default)

    @property
    def message_id(self) -> str:
        return self.header("Message-ID")

    def head_lines(self) -> list[bytes]:
        return [f"{name}: {value}".encode("utf-8") for name, value in self.headers]

    def lines(self) -> list[bytes]:
        return [*self.head_lines(), b"", *self.body]

    def as_bytes(self) -> bytes:
        return b"".join(line + CRLF for line in self.lines())

    def overview(self, number: int) -> bytes:
        """The OVER line for this article as ``number``: tab-separated, tabs and line ends inside made spaces."""
        fields = [str(number), *(self.header(name[:-1]) for name in OVERVIEW_FORMAT[:5]),
                  str(len(self.as_bytes())), str(len(self.body))]
        return "\t".join(f.replace("\t", " ").replace("\r", " ").replace("\n", " ") for f in fields).encode("utf-8")


@dataclass(frozen=True)
class GroupInfo:
    """What LIST and GROUP tell about a group."""

    name: str
    description: str
    posting: bool
    low: int
    high: int
    count: int
    created: float = 0.0  # Unix time; 0 for a storage that does not keep it (the group counts as old)


@dataclass
class Group:
    """A newsgroup: its articles by number, whether posting is allowed, a line describing it."""

    name: str
    description: str = ""
    posting: bool = True
    articles: dict[int, Article] = field(default_factory=dict)
    next_number: int = 1
    created: float = 0.0

    @property
    def low(self) -> int:
        return min(self.articles) if self.articles else self.next_number

    @property
    def high(self) -> int:
        return max(self.articles) if self.articles else self.next_number - 1

    def info(self) -> GroupInfo:
        return GroupInfo(self.name, self.description, self.posting, self.low, self.high, len(self.articles),
                         self.created)


def parse_article(text: bytes, now: float | None = None) -> Article:
    """The article a client posted (``text``, dot-stuffing already undone), completed; BadArticle if not whole."""
    if len(text) > MAX_ARTICLE:
        raise BadArticle(f"the article is over {MAX_ARTICLE} bytes")
    lines = split_lines(text)
    if b"" not in lines:
        raise BadArticle("no blank line between the headers and the body")
    blank = lines.index(b"")
    headers: list[list[str]] = []
    for raw in lines[:blank]:
        line = raw.decode("utf-8", "replace")
        if line[:1] in (" ", "\t") and headers:
            headers[-1][1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or " " in name:
            raise BadArticle(f"not a header line: {line[:60]!r}")
        headers.append([name, value.strip()])
    present = {name.lower() for name, _ in headers}
    missing = [name for name in ("From", "Newsgroups", "Subject") if name.lower() not in present]
    if missing:
        raise BadArticle(f"the article has no {', '.join(missing)} header")
    if "message-id" not in present:
        headers.append(["Message-ID", email.utils.make_msgid(domain=DOMAIN)])
    if "date" not in present:
        headers.append(["Date", email.utils.formatdate(now, usegmt=True)])
    if "path" not in present:
        headers.insert(0, ["Path", "practice!not-for-mail"])
    return Article(tuple((name, value) for name, value in headers), tuple(lines[blank + 1:]))


class INewsStorage(Interface):
    """Where a news server's groups and articles live. Every method returns a Deferred."""

    def groups():
        """Fires with a list of :class:`GroupInfo`, sorted by name."""

    def group(name):
        """Fires with the :class:`GroupInfo` of ``name``, or fails with NoSuchGroup."""

    def numbers(name):
        """Fires with the sorted article numbers of group ``name``, or fails with NoSuchGroup."""

    def article(name, number):
        """Fires with the :class:`Article` ``number`` of group ``name``; NoSuchGroup or NoSuchArticle."""

    def find(message_id):
        """Fires with ``(group name, number, Article)`` for ``message_id``, or fails with NoSuchArticle."""

    def post(article):
        """Store the parsed :class:`Article` in every group its Newsgroups header names; fires with its
        Message-ID, or fails with PostingRefused (nothing stored)."""


def newsgroups(article: Article) -> list[str]:
    """The groups an article is posted to (its Newsgroups header)."""
    return [name.strip() for name in article.header("Newsgroups").split(",") if name.strip()]


@implementer(INewsStorage)
class MemoryStorage:
    """Groups and articles in a dict: gone when the process ends."""

    def __init__(self, groups=()):
        self._groups = {group.name: group for group in groups}
        self._ids: dict[str, tuple[str, int]] = {}
        for group in self._groups.values():
            for number, article in group.articles.items():
                self._ids[article.message_id] = (group.name, number)

    def _group(self, name) -> Group:
        try:
            return self._groups[name]
        except KeyError:
            raise NoSuchGroup(f"no such newsgroup: {name}") from None

    def groups(self):
        return defer.succeed([self._groups[name].info() for name in sorted(self._groups)])

    def group(self, name):
        return defer.maybeDeferred(lambda: self._group(name).info())

    def numbers(self, name):
        return defer.maybeDeferred(lambda: sorted(self._group(name).articles))

    def article(self, name, number):
        def look():
            try:
                return self._group(name).articles[number]
            except KeyError:
                raise NoSuchArticle(f"no article {number} in {name}") from None
        return defer.maybeDeferred(look)

    def find(self, message_id):
        def look():
            try:
                name, number = self._ids[message_id]
            except KeyError:
                raise NoSuchArticle(f"no article with Message-ID {message_id}") from None
            return name, number, self._groups[name].articles[number]
        return defer.maybeDeferred(look)

    def post(self, article):
        return defer.maybeDeferred(self._post, article)

    def _post(self, article: Article) -> str:
        names = newsgroups(article)
        targets = [self._group(name) for name in names]  # NoSuchGroup for any unknown: nothing stored
        refused = [group.name for group in targets if not group.posting]
        if refused:
            raise PostingRefused(f"posting to {', '.join(refused)} is not allowed")
        if article.message_id in self._ids:
            raise PostingRefused(f"an article with Message-ID {article.message_id} is already stored")
        for group in targets:
            number = group.next_number
            group.articles[number] = article
            group.next_number += 1
            while len(group.articles) > MAX_PER_GROUP:
                expired = group.articles.pop(min(group.articles))
                self._ids.pop(expired.message_id, None)
            self._ids.setdefault(article.message_id, (group.name, number))
        return article.message_id
