"""IMAP APPEND within bounds: a message's size is capped before any of it is read, the literal is spooled where
memory stays small, and the spool is closed the moment the client leaves.

Twisted's server answers ``+`` to any literal size the client names, keeps a literal of up to 10 MB in memory
and a larger one in a temporary file, and that file stays open after a client that vanished mid-literal until
the garbage collector happens to break the protocol's reference cycle; the mailbox then keeps what it is given.

Promises, for a class mixed in before ``imap4.IMAP4Server`` whose ``account`` has ``room_for(size)``:

* An ``APPEND`` whose literal is larger than :data:`MAX_APPEND` octets is answered ``NO [TOOBIG]`` (RFC 5530)
  before the client sends it; one the account has no room for, ``NO [OVERQUOTA]``. The client, which waits
  for ``+`` before sending a synchronizing literal, sends nothing more of it; the session goes on.
* A literal being received is held in a spool of at most :data:`IN_MEMORY` octets in memory, then in an
  unnamed temporary file; :meth:`BoundedLiterals.connectionLost` closes it, so a client that leaves
  mid-literal leaves no open file and no buffer behind.
"""

from __future__ import annotations

import tempfile

from twisted.internet import defer

__all__ = ["IN_MEMORY", "MAX_APPEND", "BoundedLiterals", "Spool"]

MAX_APPEND = 1024 * 1024
IN_MEMORY = 64 * 1024


class Spool:
    """One literal on its way in: ``write`` takes bytes and returns what follows the literal (``None`` while
    more is expected); ``callback(rest_of_line)`` hands the spooled file (at its start) to ``deferred``."""

    def __init__(self, size: int, deferred: defer.Deferred):
        self.remaining, self.deferred = size, deferred
        self.file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)

    def write(self, data: bytes):
        taken, rest = data[:self.remaining], data[self.remaining:]
        self.file.write(taken)
        self.remaining -= len(taken)
        return rest if self.remaining == 0 else None

    def callback(self, line: bytes) -> None:
        self.file.seek(0)
        self.deferred.callback((self.file, line))

    def close(self) -> None:
        self.file.close()


def literal_size(line: bytes) -> int | None:
    """The size of the synchronizing literal ``{N}`` that ends ``line``, if it ends with one."""
    start = line.rfind(b"{")
    digits = line[start + 1:-1]
    return int(digits) if line.endswith(b"}") and start >= 0 and digits.isdigit() else None


class BoundedLiterals:
    """Mix in before ``imap4.IMAP4Server``: APPEND capped and answered per RFC 5530, literals spooled and freed."""

    spool: Spool | None = None

    def parse_command(self, line):
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[1].upper() == b"APPEND" and self.state in ("auth", "select"):
            size = literal_size(parts[2])
            if size is not None and size > MAX_APPEND:
                self.sendNegativeResponse(parts[0], b"[TOOBIG] %d octets: a message may have at most %d"
                                          % (size, MAX_APPEND))
                return None
            if size is not None and not self.account.room_for(size):
                self.sendNegativeResponse(parts[0], b"[OVERQUOTA] the practice account is full: delete and "
                                          b"EXPUNGE messages first")
                return None
        return super().parse_command(line)

    def arg_literal(self, line):
        """Twisted's ``arg_literal``, spooling into a :class:`Spool` (see the module's docstring)."""
        size = literal_size(line.strip())
        if size is None:
            return super().arg_literal(line)  # its own refusal of a malformed literal
        deferred = defer.Deferred()
        self.spool = Spool(size, deferred)
        self.parseState = "pending"
        self.sendContinuationRequest(b"Ready for %d octets of data" % size)
        self.setRawMode()
        return deferred

    def rawDataReceived(self, data):
        if self.spool is None:
            return super().rawDataReceived(data)
        self.resetTimeout()
        rest = self.spool.write(data)
        if rest is not None:
            self.setLineMode(rest)

    def parse_pending(self, line):
        spool, self.spool = self.spool, None
        if spool is None:
            return super().parse_pending(line)  # AUTHENTICATE's continuation
        self.parseState = "command"
        spool.callback(line)

    def connectionLost(self, reason):
        spool, self.spool = self.spool, None
        if spool is not None:
            spool.close()
        super().connectionLost(reason)
