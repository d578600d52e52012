"""An NNTP reader server (RFC 3977) on :class:`twisted.protocols.basic.LineReceiver`, over any
:class:`servers.news.storage.INewsStorage`.

Twisted once shipped ``twisted.news``; it was removed and nothing maintained replaces it, so this module is
written here, the way the book builds every other protocol: a LineReceiver, a storage whose methods return
Deferreds, a factory.

Commands: CAPABILITIES, MODE READER, LIST [ACTIVE | NEWSGROUPS | OVERVIEW.FMT], GROUP, LISTGROUP,
ARTICLE / HEAD / BODY / STAT (by number or Message-ID), NEXT, LAST, OVER / XOVER, POST, DATE, HELP, QUIT, and
from :mod:`servers.news.since` NEWGROUPS, NEWNEWS and XHDR. CAPABILITIES names what is here and nothing more.

Promises: commands are answered in the order they arrive (the protocol stops reading while the storage works);
an unknown command gets 500, bad arguments 501, an unknown group 411, a missing article 423 or 430; a POST is
stored whole or not at all (441 says why); a line longer than :attr:`NNTPServer.MAX_LENGTH` gets 501 (or 441
inside a POST) and the connection is closed; a client that leaves mid-article leaves nothing stored; nothing is
written after the connection is gone.
"""

from __future__ import annotations

import inspect
import time

from twisted.internet import defer, protocol
from twisted.logger import Logger
from twisted.protocols import basic

from servers.news.storage import (MAX_ARTICLE, NewsError, NoSuchArticle, PostingRefused,
                                  parse_article)
from servers.news.since import Answer, SinceCommands, wildmat
from servers.news.textformat import CRLF, multiline, parse_range, unstuff

__all__ = ["Answer", "NNTPFactory", "NNTPServer"]

_log = Logger()

CAPABILITIES = [b"VERSION 2", b"READER", b"NEWNEWS", b"POST", b"LIST ACTIVE NEWSGROUPS OVERVIEW.FMT",
                b"OVER MSGID", b"IMPLEMENTATION practice NNTP server on Twisted"]
HELP = [b"ARTICLE|HEAD|BODY|STAT [number|<message-id>]", b"CAPABILITIES", b"DATE", b"GROUP name", b"HELP",
        b"LAST", b"LIST [ACTIVE|NEWSGROUPS|OVERVIEW.FMT] [wildmat]", b"LISTGROUP [name [range]]", b"MODE READER",
        b"NEWGROUPS yyyymmdd hhmmss [GMT]", b"NEWNEWS wildmat yyyymmdd hhmmss [GMT]", b"NEXT",
        b"OVER|XOVER [range|<message-id>]", b"POST", b"QUIT", b"XHDR field [range|<message-id>]"]
# LIST OVERVIEW.FMT as INN spells it, the form newsreaders written against INN look for (RFC 3977 section 8.4.2
# allows "Bytes:" and "Lines:" in place of ":bytes" and ":lines"; nntplib reads either).
OVERVIEW_FMT = [b"Subject:", b"From:", b"Date:", b"Message-ID:", b"References:", b"Bytes:", b"Lines:"]
RETRIEVE = {"ARTICLE": (220, "lines"), "HEAD": (221, "head_lines"), "BODY": (222, "body"), "STAT": (223, None)}


class NNTPServer(SinceCommands, basic.LineReceiver):
    """One reader connection: the current group and article, and a POST being received."""

    delimiter = b"\n"
    MAX_LENGTH = 4096

    def connectionMade(self):
        self.group_name = None
        self.current = None  # the current article number in the current group
        self.posting = None  # the lines of an article being received, or None
        self.posted_bytes = 0
        self.reply(200, "practice news server ready, posting allowed")

    # --- writing -----------------------------------------------------------------------------------------

    def reply(self, code: int, text: str, lines: list[bytes] | None = None) -> None:
        if not self.connected or self.transport.disconnecting:
            return
        data = f"{code} {text}".encode("utf-8") + CRLF
        self.transport.write(data if lines is None else data + multiline(lines))

    # --- reading -----------------------------------------------------------------------------------------

    def lineReceived(self, line: bytes):
        line = line[:-1] if line.endswith(b"\r") else line
        if self.posting is not None:
            return self.article_line(line)
        words = line.decode("utf-8", "replace").split()
        if not words:
            return self.reply(501, "empty command")
        command, arguments = words[0].upper(), words[1:]
        handler = getattr(self, "do_" + command.replace(".", "_"), None)
        if handler is None:
            return self.reply(500, f"unknown command {command[:40]}; HELP lists the ones this server knows")
        self.pauseProducing()  # the next command waits until this one is answered
        answered = defer.maybeDeferred(handler, *arguments) if self._fits(handler, arguments) else \
            defer.fail(Answer(501, f"wrong arguments for {command}"))
        answered.addErrback(self.failed).addBoth(self.next_command)

    @staticmethod
    def _fits(handler, arguments) -> bool:
        try:
            inspect.signature(handler).bind(*arguments)
        except TypeError:
            return False
        return True

    def failed(self, failure):
        if failure.check(Answer):
            self.reply(failure.value.code, failure.value.text)
        elif failure.check(NewsError):
            self.reply(failure.value.code, str(failure.value))
        else:
            _log.failure("an NNTP command failed", failure)
            self.reply(403, "the server could not do that; try again later")

    def next_command(self, _):
        if self.connected and not self.transport.disconnecting:
            self.resumeProducing()

    def lineLengthExceeded(self, line):
        if self.posting is not None:
            self.posting = None
            self.reply(441, f"posting failed: a line is longer than {self.MAX_LENGTH} bytes; nothing was stored")
        else:
            self.reply(501, f"command line longer than {self.MAX_LENGTH} bytes")
        self.transport.loseConnection()

    def connectionLost(self, reason=protocol.connectionDone):
        self.posting = None  # an article cut off is dropped

    # --- session -----------------------------------------------------------------------------------------

    def do_CAPABILITIES(self, keyword=None):
        self.reply(101, "capability list follows", CAPABILITIES)

    def do_MODE(self, mode):
        if mode.upper() != "READER":
            raise Answer(501, f"unknown mode {mode[:20]}")
        self.reply(200, "reader mode, posting allowed")

    def do_DATE(self):
        self.reply(111, time.strftime("%Y%m%d%H%M%S", time.gmtime()))

    def do_HELP(self):
        self.reply(100, "help text follows", HELP)

    def do_QUIT(self):
        self.reply(205, "closing connection")
        self.transport.loseConnection()

    # --- groups ------------------------------------------------------------------------------------------

    @defer.inlineCallbacks
    def do_LIST(self, keyword="ACTIVE", pattern=None):
        keyword = keyword.upper()
        if keyword == "OVERVIEW.FMT":
            return self.reply(215, "order of fields in overview database", OVERVIEW_FMT)
        if keyword not in ("ACTIVE", "NEWSGROUPS"):
            raise Answer(501, f"LIST {keyword[:20]} is not supported; try ACTIVE, NEWSGROUPS or OVERVIEW.FMT")
        groups = yield self.factory.storage.groups()
        if pattern is not None:
            groups = [g for g in groups if wildmat(pattern, g.name)]
        if keyword == "ACTIVE":
            lines = [f"{g.name} {g.high} {g.low} {'y' if g.posting else 'n'}".encode() for g in groups]
            return self.reply(215, "list of newsgroups follows", lines)
        self.reply(215, "list of newsgroups follows", [f"{g.name}\t{g.description}".encode() for g in groups])

    @defer.inlineCallbacks
    def do_GROUP(self, name):
        group = yield self.factory.storage.group(name)
        self.group_name, self.current = name, (group.low if group.count else None)
        self.reply(211, f"{group.count} {group.low} {group.high} {name}")

    @defer.inlineCallbacks
    def do_LISTGROUP(self, name=None, span=None):
        name = name or self.selected_group()
        group = yield self.factory.storage.group(name)
        numbers = yield self.factory.storage.numbers(name)
        low, high = self.article_range(span, group.high) if span else (group.low, group.high)
        self.group_name, self.current = name, (numbers[0] if numbers else None)
        self.reply(211, f"{len(numbers)} {group.low} {group.high} {name} list follows",
                   [str(n).encode() for n in numbers if low <= n <= high])

    # --- articles ----------------------------------------------------------------------------------------

    def selected_group(self) -> str:
        if self.group_name is None:
            raise Answer(412, "no newsgroup selected; send GROUP first")
        return self.group_name

    @staticmethod
    def article_range(span: str, high: int) -> tuple[int, int]:
        try:
            return parse_range(span, high)
        except ValueError:
            raise Answer(501, f"not an article number or range: {span[:40]}") from None

    @defer.inlineCallbacks
    def _find(self, spec):
        """``(number, article)`` for a command's argument: a Message-ID, a number, or the current article."""
        if spec is not None and spec.startswith("<"):
            try:
                _, _, article = yield self.factory.storage.find(spec)
            except NoSuchArticle:
                raise Answer(430, f"no article with Message-ID {spec[:80]}") from None
            return 0, article
        name = self.selected_group()
        if spec is None:
            if self.current is None:
                raise Answer(420, "the current article number is invalid (the group is empty)")
            number = self.current
        else:
            if not spec.isdigit():
                raise Answer(501, f"not an article number or Message-ID: {spec[:40]}")
            number = int(spec)
        try:
            article = yield self.factory.storage.article(name, number)
        except NoSuchArticle:
            raise Answer(423, f"no article {number} in {name}") from None
        if spec is not None:
            self.current = number
        return number, article

    @defer.inlineCallbacks
    def _retrieve(self, command, spec):
        code, part = RETRIEVE[command]
        number, article = yield self._find(spec)
        text = f"{number} {article.message_id}"
        if part is None:
            return self.reply(code, text)
        lines = getattr(article, part)
        self.reply(code, text, lines() if callable(lines) else list(lines))

    def do_ARTICLE(self, spec=None):
        return self._retrieve("ARTICLE", spec)

    def do_HEAD(self, spec=None):
        return self._retrieve("HEAD", spec)

    def do_BODY(self, spec=None):
        return self._retrieve("BODY", spec)

    def do_STAT(self, spec=None):
        return self._retrieve("STAT", spec)

    @defer.inlineCallbacks
    def _step(self, forward: bool):
        name = self.selected_group()
        if self.current is None:
            raise Answer(420, "the current article number is invalid")
        numbers = yield self.factory.storage.numbers(name)
        candidates = [n for n in numbers if (n > self.current if forward else n < self.current)]
        if not candidates:
            raise Answer(421, "no next article in this group") if forward else \
                Answer(422, "no previous article in this group")
        self.current = candidates[0] if forward else candidates[-1]
        article = yield self.factory.storage.article(name, self.current)
        self.reply(223, f"{self.current} {article.message_id}")

    def do_NEXT(self):
        return self._step(True)

    def do_LAST(self):
        return self._step(False)

    @defer.inlineCallbacks
    def do_OVER(self, span=None):
        if span is not None and span.startswith("<"):
            _, article = yield self._find(span)
            return self.reply(224, "overview information follows", [article.overview(0)])
        name = self.selected_group()
        if span is None:
            number, article = yield self._find(None)
            return self.reply(224, "overview information follows", [article.overview(number)])
        numbers = yield self.factory.storage.numbers(name)
        low, high = self.article_range(span, numbers[-1] if numbers else 0)
        wanted = [n for n in numbers if low <= n <= high]
        if not wanted:
            raise Answer(423, f"no articles in {span} in {name}")
        lines = []
        for number in wanted:
            article = yield self.factory.storage.article(name, number)
            lines.append(article.overview(number))
        self.reply(224, "overview information follows", lines)

    do_XOVER = do_OVER

    # --- posting -----------------------------------------------------------------------------------------

    def do_POST(self):
        self.posting, self.posted_bytes = [], 0
        self.reply(340, "send the article; end it with a line holding a single dot")

    def article_line(self, line: bytes):
        if line == b".":
            lines, self.posting = self.posting, None
            self.pauseProducing()
            stored = defer.maybeDeferred(self._store, lines)
            stored.addCallback(lambda message_id: self.reply(240, f"article received {message_id}"))
            stored.addErrback(self._refused).addBoth(self.next_command)
            return
        self.posted_bytes += len(line) + 2
        if self.posted_bytes <= MAX_ARTICLE + 2:
            self.posting.append(unstuff(line))
        elif self.posting:
            self.posting = []  # too big: keep reading to the dot, store nothing

    def _store(self, lines):
        if self.posted_bytes > MAX_ARTICLE:
            raise PostingRefused(f"the article is over {MAX_ARTICLE} bytes")
        return self.factory.storage.post(parse_article(b"".join(line + CRLF for line in lines)))

    def _refused(self, failure):
        if failure.check(NewsError):
            return self.reply(441, f"posting failed: {failure.value}")
        _log.failure("storing a posted article failed", failure)
        self.reply(441, "posting failed: the server could not store it; nothing was stored")


class NNTPFactory(protocol.ServerFactory):
    """Serves :class:`NNTPServer` over ``storage`` (an INewsStorage); closes it (if it has ``close``) on stop."""

    protocol = NNTPServer
    noisy = False

    def __init__(self, storage):
        self.storage = storage

    def stopFactory(self):
        """Stopped listening: a storage that holds a resource (the SQLite one's pool) lets it go."""
        close = getattr(self.storage, "close", None)
        if close is not None:
            close()
