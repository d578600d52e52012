"""The ``pop3`` practice server: Twisted's own ``pop3.POP3`` over a Maildir, with two Twisted bugs fixed here.

Promises:

* :func:`pop3` builds a factory whose connections are :class:`PracticePOP3`: a portal holding the ``mail``
  practice accounts (:mod:`servers.accounts`), each with a Maildir of its own holding the practice messages
  (:mod:`servers.mail.messages`), made in a new temporary folder per server. USER/PASS and APOP both log in;
  ``tls=`` (server options) offers STLS; over ``listenSSL`` the same factory serves implicit TLS (port 995 style),
  and then offers no STLS (``-ERR`` if asked). ``factory.practice_details()`` names the practice authority's
  file (``ca: PATH``) while STLS is offered, for a client to verify the server with.
* Deletion follows RFC 1939: DELE only marks a message; QUIT removes what was marked; a session that ends any
  other way (a client that hangs up mid-RETR) removes nothing. A message removed by another session answers
  ``-ERR`` (Twisted says "message deleted"), and the session goes on. A marked message is left out of STAT, LIST
  and UIDL (:class:`ListsOnlyKeptMessages`, which chapter 8's POP3 lab uses too).
* A client that pipelines commands behind a long answer and never reads is held to :data:`MAX_WAITING` waiting
  commands (plus one read's worth): the server stops reading from it until they are answered.

The two bugs of Twisted 26.10 fixed by subclassing (both still in Twisted's own code):

1. APOP never succeeds. ``pop3.APOPCredentials.checkPassword`` compares ``md5(...).hexdigest()`` (a str) with
   the digest the client sent (bytes); in Python 3 a str never equals bytes, so every APOP login is refused.
   :class:`APOPDigest` compares bytes with bytes, in constant time.
2. RETR on a Maildir crashes. ``maildir.MaildirMailbox.getMessage`` opens the file in text mode, and the POP3
   server then calls ``line.replace(b".", ...)`` on str lines: ``TypeError`` in the log and no answer ever (the
   client waits forever). :class:`PracticeMaildir` opens messages in binary mode; its ``getUidl`` also returns
   bytes (Twisted's returns a str hex digest).
"""

from __future__ import annotations

import hmac
import os
from hashlib import md5
from pathlib import Path

from twisted.cred import error as cred_error
from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, protocol
from twisted.internet.interfaces import ISSLTransport
from twisted.mail import maildir
from twisted.mail import pop3 as twisted_pop3
from zope.interface import implementer

from servers import accounts, temporary
from servers.interfaces import IPracticeDetails
from servers.mail.messages import practice_messages

__all__ = ["APOPDigest", "ListsOnlyKeptMessages", "PracticeMaildir", "PracticePOP3", "fill_maildir", "mail_folder",
           "pop3"]

FAMILY = "mail"
MAX_WAITING = 100
"""Commands a client may pipeline behind a long answer before the server stops reading from it."""
NOT_CAPABILITIES = {b"CELERITY", b"AUSPEX", b"POTENCE"}


class APOPDigest(twisted_pop3.APOPCredentials):
    """APOP credentials that compare digests as bytes (Twisted's compare a str with bytes: never equal)."""

    def checkPassword(self, password: bytes) -> bool:
        expected = md5(self.magic + password).hexdigest().encode("ascii")
        return hmac.compare_digest(expected, self.digest)


class PracticeMaildir(maildir.MaildirMailbox):
    """A Maildir for ``pop3.POP3``: messages read as bytes, UIDs as bytes, deletion only on QUIT (``sync``)."""

    def __init__(self, path: bytes) -> None:
        super().__init__(path)
        self.marked: set[int] = set()

    def listMessages(self, i=None):
        if i is None:
            return [0 if index in self.marked else self._size(index) for index in range(len(self.list))]
        return 0 if i in self.marked else self._size(i)

    def _size(self, i: int) -> int:
        try:
            return os.stat(self.list[i]).st_size
        except FileNotFoundError:
            return 0  # taken by another session since this one listed it

    def getMessage(self, i: int):
        if i in self.marked:
            raise ValueError(f"message {i + 1} is marked as deleted")
        try:
            return open(self.list[i], "rb")  # Twisted's own opens text mode: RETR then crashes
        except FileNotFoundError:
            raise ValueError(f"message {i + 1} was removed by another session") from None

    def getUidl(self, i: int) -> bytes:
        return md5(os.path.basename(self.list[i])).hexdigest().encode("ascii")

    def deleteMessage(self, i: int) -> None:
        self.list[i]  # an IndexError for a message that does not exist, as Twisted's
        self.marked.add(i)

    def undeleteMessages(self) -> None:
        self.marked.clear()

    def sync(self) -> None:
        """Remove the marked messages (QUIT): into ``.Trash``, as Twisted's Maildir does."""
        for index in sorted(self.marked):
            path = self.list[index]
            try:
                os.rename(path, os.path.join(self.path, b".Trash", b"cur", os.path.basename(path)))
            except FileNotFoundError:
                pass  # another session removed it first
        self.marked.clear()


class ListsOnlyKeptMessages:
    """Mix in before ``twisted.mail.pop3.POP3``: STAT, LIST and UIDL leave out the messages marked by DELE, and
    ``LIST n``/``UIDL n`` of one answer ``-ERR``, as RFC 1939 says. Twisted's server counts and lists them with
    size 0, the size its ``IMailbox`` interface gives a deleted message, which is how they are recognised here
    (the mailbox must answer ``listMessages`` at once, not with a Deferred)."""

    def do_STAT(self):
        sizes = self._kept_sizes()
        self.successResponse(b"%d %d" % (len(sizes), sum(sizes.values())))

    def do_LIST(self, i=None):
        self._kept_listing(i, b"%d" % len(self._kept_sizes()), lambda number, size: b"%d %d" % (number, size))

    def do_UIDL(self, i=None):
        self._kept_listing(i, b"", lambda number, size: b"%d %b" % (number, self.mbox.getUidl(number - 1)))

    def _kept_sizes(self) -> dict[int, int]:
        """{message number: size} of the messages not marked deleted (Twisted's mailboxes give those size 0)."""
        return {number: size for number, size in enumerate(self.mbox.listMessages(), start=1) if size}

    def _kept_listing(self, i, first: bytes, line) -> None:
        """One ``line(number, size)`` for message ``i``, or ``first`` then one line per message kept (the same
        first lines as Twisted's)."""
        sizes = self._kept_sizes()
        if i is None:
            self.successResponse(first)
            self.transport.writeSequence([line(number, size) + b"\r\n" for number, size in sizes.items()])
            self.transport.write(b".\r\n")
            return
        number = int(i) if i.isdigit() else 0
        if number in sizes:
            self.successResponse(line(number, sizes[number]))
        else:
            self.failResponse(b"no such message: " + i)


class PracticePOP3(ListsOnlyKeptMessages, twisted_pop3.POP3):
    """Twisted's POP3 server with APOP that works (see :class:`APOPDigest`) and STLS (RFC 2595), which
    Twisted's server lacks: offered in CAPA before login while ``tls`` (server options) is set."""

    AUTH_CMDS = twisted_pop3.POP3.AUTH_CMDS + [b"STLS"]
    tls = None
    secured = False
    reading_paused = False

    def processCommand(self, command, *args):
        """Twisted's dispatch, with a bound on commands pipelined behind a long answer (RETR, TOP): past
        :data:`MAX_WAITING` of them, the server stops reading from the client until they have been answered.
        (Twisted queues every one, so a client that repeats ``RETR 1`` and never reads grew the server by
        hundreds of MB a minute.)"""
        answer = super().processCommand(command, *args)
        if self.blocked is not None and len(self.blocked) >= MAX_WAITING and not self.reading_paused:
            self.reading_paused = True
            self.transport.pauseProducing()
        if isinstance(answer, defer.Deferred):
            answer.addBoth(self._caught_up)
        return answer

    def _caught_up(self, outcome):
        if self.reading_paused and (self.blocked is None or len(self.blocked) < MAX_WAITING):
            self.reading_paused = False
            self.transport.resumeProducing()
        return outcome

    def connectionMade(self):
        self.secured = ISSLTransport.providedBy(self.transport)  # implicit TLS: nothing to start
        super().connectionMade()

    def listCapabilities(self):
        """RFC 2449's names for what this server does: Twisted's list adds three capabilities no RFC defines
        (CELERITY, AUSPEX, POTENCE) and spells PIPELINING as PIPELINE."""
        offered = [b"PIPELINING" if capability == b"PIPELINE" else capability
                   for capability in super().listCapabilities() if capability not in NOT_CAPABILITIES]
        return offered + [b"STLS"] if self._can_start_tls() else offered

    def _can_start_tls(self) -> bool:
        return self.tls is not None and not self.secured and not self.mbox

    def do_STLS(self):
        if not self._can_start_tls():
            self.failResponse(b"STLS is not available now (not offered, already secure, or logged in)")
            return
        self.successResponse(b"Begin TLS negotiation")
        self.secured = True
        self.transport.startTLS(self.tls)

    def authenticateUserAPOP(self, user, digest):
        if self.portal is None:
            raise cred_error.UnauthorizedLogin()
        return self.portal.login(APOPDigest(self.magic, user, digest), None, twisted_pop3.IMailbox)


@implementer(IRealm)
class MaildirRealm:
    """Each practice user's Maildir, ``ROOT/USER``."""

    def __init__(self, root: Path):
        self.root = root

    def requestAvatar(self, avatarId, mind, *interfaces):
        if twisted_pop3.IMailbox not in interfaces:
            raise NotImplementedError("this realm only gives POP3 mailboxes")
        mailbox = PracticeMaildir(os.fsencode(self.root / avatarId.decode("utf-8")))
        return twisted_pop3.IMailbox, mailbox, lambda: None


def fill_maildir(path: Path, messages: list[bytes]) -> None:
    """Make a Maildir at ``path`` holding ``messages``, named so they list in the order given. Maildir files end
    lines with LF alone (POP3 and IMAP servers put CR LF back on the wire)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    maildir.initializeMaildir(os.fsencode(path))
    for number, message in enumerate(messages, start=1):
        name = f"{1764579600 + number}.practice{number}.example:2,"
        (path / "cur" / name).write_bytes(message.replace(b"\r\n", b"\n"))


def mail_folder() -> Path:
    """A new temporary folder with one Maildir per practice account (removed when the process exits)."""
    root = temporary.folder("practice-mail-")
    for account in accounts.accounts(FAMILY):
        fill_maildir(root / account.user, practice_messages())
    return root


@implementer(IPracticeDetails)
class POP3Factory(protocol.ServerFactory):
    """POP3 connections on one portal; ``tls`` (server options) makes STLS available."""

    protocol = PracticePOP3
    noisy = False

    def __init__(self, portal: Portal, root: Path, tls=None):
        self.portal, self.root, self.tls = portal, root, tls

    def practice_details(self) -> list[str]:
        """The ``ca: PATH`` line of the authority that verifies STLS, when it is offered."""
        from servers.tls import ca_details

        return ca_details(self.tls)

    def buildProtocol(self, addr):
        made = self.protocol()
        made.factory, made.portal, made.tls = self, self.portal, self.tls
        return made


def pop3(folder=None, tls=None):
    """The POP3 practice server on the Maildirs in ``folder`` (new ones by default); ``tls``: server options for
    STLS (the practice certificate by default; ``False`` for none)."""
    root = mail_folder() if folder is None else Path(folder)
    checker = accounts.checker(FAMILY)
    if tls is None:
        from servers import tls as practice_tls

        tls = practice_tls.server_options(())
    return POP3Factory(Portal(MaildirRealm(root), [checker]), root, tls or None)
