"""An NNTP client on LineReceiver, with the method names the book's ``twisted.news`` client had; each returns a
Deferred.

    fetchGroups()            -> [(name, high, low, posting flag)]     LIST
    fetchGroup(name)         -> (count, low, high, name)             GROUP
    fetchArticle(spec)       -> the article's bytes (CR LF lines)    ARTICLE number | <message-id>
    fetchHead(spec), fetchBody(spec)                                 HEAD, BODY
    fetchOverview(span)      -> [{"number": n, "Subject": ..., ...}] OVER (XOVER on old servers)
    fetchNewGroups(since)    -> [(name, high, low, posting flag)]     NEWGROUPS (created after ``since``)
    fetchNewNews(groups, since) -> [message-id, ...]                 NEWNEWS (``groups`` a wildmat)
    postArticle(text)        -> the server's answer line            POST
    quit()                                                           QUIT

Promises: commands may be sent without waiting (they are answered in order); a refusal fails the Deferred with
:class:`NNTPError` carrying the code and the server's text; if the connection ends, every waiting Deferred fails
with the reason; a multi-line answer past :attr:`NNTPClient.MAX_ANSWER` bytes fails with NNTPError and closes.
:func:`connect` fires once the server's greeting has arrived.
"""

from __future__ import annotations

from collections import deque
from datetime import timezone

from twisted.internet import defer, protocol
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.protocols import basic

from servers.news.storage import OVERVIEW_FORMAT
from servers.news.textformat import CRLF, multiline, split_lines, unstuff

__all__ = ["NNTPClient", "NNTPError", "connect"]


class NNTPError(Exception):
    """The server answered with an error (``code``, ``text``), or the answer was unusable."""

    def __init__(self, code: int, text: str):
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text


class _Waiting:
    def __init__(self, expected: int, multi: bool):
        self.expected, self.multi = expected, multi
        self.deferred = defer.Deferred()
        self.status = None
        self.lines: list[bytes] = []
        self.size = 0


class NNTPClient(basic.LineReceiver):
    """One connection to a news server. ``greeting`` fires with the server's first line (200 or 201), which
    is then also ``welcome``."""

    delimiter = b"\n"
    MAX_LENGTH = 64 * 1024
    MAX_ANSWER = 16 * 1024 * 1024

    def __init__(self):
        self.greeting = defer.Deferred()
        self.welcome = ""
        self._waiting: deque[_Waiting] = deque()

    # --- the book's API ----------------------------------------------------------------------------------

    def fetchGroups(self):
        return self._send("LIST ACTIVE", 215, True).addCallback(lambda answer: _active(answer[1]))

    def fetchNewGroups(self, since):
        """The groups created after ``since`` (a datetime; naive means UTC), as :meth:`fetchGroups` gives them."""
        return self._send(f"NEWGROUPS {_when(since)}", 231, True).addCallback(lambda answer: _active(answer[1]))

    def fetchNewNews(self, groups: str, since):
        """The Message-IDs of the articles in ``groups`` (a wildmat: ``practice.*,!practice.announce``) that
        arrived after ``since`` (a datetime; naive means UTC)."""
        return self._send(f"NEWNEWS {groups} {_when(since)}", 230, True).addCallback(
            lambda answer: [line.decode("utf-8", "replace") for line in answer[1]])

    def fetchGroup(self, name: str):
        def parse(answer):
            count, low, high, group = answer[0].split()[:4]
            return int(count), int(low), int(high), group
        return self._send(f"GROUP {name}", 211).addCallback(parse)

    def fetchArticle(self, spec):
        return self._text(f"ARTICLE {spec}", 220)

    def fetchHead(self, spec):
        return self._text(f"HEAD {spec}", 221)

    def fetchBody(self, spec):
        return self._text(f"BODY {spec}", 222)

    def fetchOverview(self, span: str = ""):
        def parse(answer):
            rows = []
            for line in answer[1]:
                fields = line.decode("utf-8", "replace").split("\t")
                row = {"number": int(fields[0])}
                row.update({name.strip(":"): value for name, value in zip(OVERVIEW_FORMAT, fields[1:])})
                rows.append(row)
            return rows
        return self._send(f"OVER {span}".strip(), 224, True).addCallback(parse)

    def postArticle(self, text: bytes):
        """Post ``text`` (headers, a blank line, a body); fires with the server's 240 line."""
        def send(_):
            self.transport.write(multiline(split_lines(text)))
            return self._expect(240)
        return self._send("POST", 340).addCallback(send).addCallback(lambda answer: answer[0])

    def quit(self):
        return self._send("QUIT", 205)

    # --- the machinery -----------------------------------------------------------------------------------

    def _text(self, command: str, code: int):
        return self._send(command, code, True).addCallback(lambda answer: b"".join(l + CRLF for l in answer[1]))

    def _send(self, command: str, code: int, multi: bool = False):
        self.sendLine(command.encode("utf-8"))
        return self._expect(code, multi)

    def _expect(self, code: int, multi: bool = False):
        waiting = _Waiting(code, multi)
        self._waiting.append(waiting)
        return waiting.deferred

    def sendLine(self, line: bytes):
        return self.transport.write(line + CRLF)

    def lineReceived(self, line: bytes):
        line = line[:-1] if line.endswith(b"\r") else line
        if not self.greeting.called:
            return self._greeted(line)
        if not self._waiting:
            return  # nothing asked: ignore
        waiting = self._waiting[0]
        if waiting.status is None:
            return self._status(waiting, line)
        if line == b".":
            self._waiting.popleft()
            return waiting.deferred.callback((waiting.status, waiting.lines))
        waiting.size += len(line)
        if waiting.size > self.MAX_ANSWER:
            self._waiting.popleft()
            waiting.deferred.errback(NNTPError(0, f"the answer is longer than {self.MAX_ANSWER} bytes"))
            return self.transport.loseConnection()
        waiting.lines.append(unstuff(line))

    def _greeted(self, line: bytes):
        code, _, text = line.decode("utf-8", "replace").partition(" ")
        if code in ("200", "201"):
            self.welcome = line.decode("utf-8", "replace")
            self.greeting.callback(self.welcome)
        else:
            self.greeting.errback(NNTPError(int(code) if code.isdigit() else 0, text))
            self.transport.loseConnection()

    def _status(self, waiting: _Waiting, line: bytes):
        text = line.decode("utf-8", "replace")
        code = text[:3]
        if code == str(waiting.expected):
            waiting.status = text[4:]
            if not waiting.multi:
                self._waiting.popleft()
                waiting.deferred.callback((waiting.status, []))
            return
        self._waiting.popleft()
        waiting.deferred.errback(NNTPError(int(code) if code.isdigit() else 0, text[4:] or text))

    def lineLengthExceeded(self, line):
        self.transport.loseConnection()

    def connectionLost(self, reason=protocol.connectionDone):
        if not self.greeting.called:
            self.greeting.errback(reason)
        while self._waiting:
            self._waiting.popleft().deferred.errback(reason)


def _active(lines: list[bytes]) -> list[tuple[str, int, int, str]]:
    """LIST ACTIVE's lines (NEWGROUPS answers the same) as ``(name, high, low, flag)``."""
    groups = []
    for line in lines:
        name, high, low, flag = line.decode("utf-8", "replace").split()[:4]
        groups.append((name, int(high), int(low), flag))
    return groups


def _when(since) -> str:
    """A datetime as NEWGROUPS and NEWNEWS take it: ``yyyymmdd hhmmss GMT``."""
    if since.tzinfo is not None:
        since = since.astimezone(timezone.utc)
    return since.strftime("%Y%m%d %H%M%S") + " GMT"


def connect(reactor, host: str, port: int, timeout: float = 10):
    """Connect an :class:`NNTPClient` to ``host:port``; fires with it once the server has greeted."""
    client = NNTPClient()
    connected = connectProtocol(TCP4ClientEndpoint(reactor, host, port, timeout=timeout), client)
    return connected.addCallback(lambda _: client.greeting).addCallback(lambda _: client)
