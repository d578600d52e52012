"""The ``imap`` practice server: Twisted's ``IMAP4Server`` on an account of fixed folders held in memory.

Promises:

* :func:`imap` builds a factory of ``IMAP4Server`` connections on a portal holding the ``mail`` practice
  accounts. Each account has the folders ``INBOX`` (the practice messages), ``Archive`` (the first two,
  already ``\\Seen``) and ``Lists/Twisted`` (a nested folder, ``/`` the separator, holding the third), made
  afresh for each server. Folder names keep their case; only ``INBOX`` is matched in any case, as RFC 3501 says.
* UIDs are not sequence numbers: ``INBOX`` holds UIDs 1001, 1002, 1005 and 1010 (as if mail in between had been
  deleted), and its UIDVALIDITY is fixed. Flags can be stored and are kept for the life of the server;
  ``\\Deleted`` messages go at EXPUNGE (or CLOSE).
* ``STARTTLS`` with the practice certificate, and LOGIN also before it (loopback only); over implicit TLS
  (``listenSSL``, port 993 style) STARTTLS is not offered. ``factory.practice_details()`` names the practice
  authority's file (``ca: PATH``) while STARTTLS is offered. A wrong password is
  refused with ``NO``, so is selecting a folder that does not exist, and creating, deleting or renaming one
  (the practice folders are fixed). A delivery may add messages (``addMessage``): listeners hear of them.
* SEARCH answers every key of RFC 3501 (:mod:`servers.mail.search`; Twisted's own fails on headers and dates),
  and a malformed or too deeply nested query gets ``BAD`` with nothing logged.
* Bounded: APPEND takes a message of at most ``MAX_APPEND`` octets (``NO [TOOBIG]`` before the client sends
  it) while the account holds under :data:`QUOTA_MESSAGES` messages and :data:`QUOTA_BYTES` octets
  (``NO [OVERQUOTA]``); a literal is spooled and its spool closed if the client leaves
  (:mod:`servers.mail.append`). APPEND without flags works (Twisted's fails).
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import io

from twisted.cred.portal import IRealm, Portal
from twisted.internet import defer, protocol
from twisted.internet.interfaces import ISSLTransport
from twisted.mail import imap4
from zope.interface import implementer

from servers import accounts
from servers.interfaces import IPracticeDetails
from servers.mail import search
from servers.mail.append import MAX_APPEND, BoundedLiterals
from servers.mail.messages import practice_messages

__all__ = ["FOLDERS", "INBOX_UIDS", "PracticeMailbox", "imap"]

FAMILY = "mail"
DELIMITER = "/"
UID_VALIDITY = 20251201
INBOX_UIDS = (1001, 1002, 1005, 1010)
INTERNAL_DATE = "01-Dec-2025 09:00:00 +0000"
FOLDERS = ("INBOX", "Archive", "Lists", "Lists/Twisted")
QUOTA_BYTES = 8 * MAX_APPEND
QUOTA_MESSAGES = 200


@implementer(imap4.IMessagePart)
class Part:
    """One part of a message: its bytes, and its header parsed with the standard library (headers as they came).
    Only the header is kept parsed; the whole is parsed when a client asks for a sub-part."""

    def __init__(self, raw: bytes):
        self.raw = raw
        head, separator, body = raw.partition(b"\r\n\r\n")
        self.headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head + b"\r\n\r\n")
        self.body_start = len(head) + len(separator) if separator else len(raw)

    def getHeaders(self, negate, *names):
        wanted = {(name.decode() if isinstance(name, bytes) else name).lower() for name in names}
        # Lower-case names: Twisted looks them up so (ENVELOPE asks for "from"), and writes them back in title
        # case (a fetched message says "Message-Id" where it was stored as "Message-ID").
        return {key.lower(): value for key, value in self.headers.items()
                if not names or ((key.lower() in wanted) != bool(negate))}

    def getBodyFile(self):
        return io.BytesIO(self.raw[self.body_start:])

    def getSize(self):
        return len(self.raw)

    def isMultipart(self):
        return self.headers.get_content_maintype() == "multipart"

    def getSubPart(self, part):
        if not self.isMultipart():
            raise IndexError(part)
        subparts = email.message_from_bytes(self.raw, policy=email.policy.compat32).get_payload()
        return Part(subparts[part].as_bytes(policy=email.policy.SMTP))


@implementer(imap4.IMessage, imap4.IMessageFile)
class Message(Part):
    """A message in a folder: its UID, flags and arrival date. ``open()`` gives its bytes as stored, which
    Twisted sends for ``BODY[]`` and ``RFC822`` at once (otherwise it rebuilds the message from its parts, a
    reactor turn at a time, with header names in title case)."""

    def open(self):
        return io.BytesIO(self.raw)

    def __init__(self, raw: bytes, uid: int, flags=()):
        super().__init__(raw)
        self.uid, self.flags = uid, set(flags)

    def getUID(self):
        return self.uid

    def getFlags(self):
        return sorted(self.flags)

    def getInternalDate(self):
        return INTERNAL_DATE


@implementer(imap4.IMailbox, imap4.ISearchableMailbox)
class PracticeMailbox:
    """A folder in memory, searched by :mod:`servers.mail.search` (Twisted's own search fails on most keys)."""

    def __init__(self, messages: list[Message], next_uid: int, selectable: bool = True):
        self.messages, self.next_uid, self.selectable = messages, next_uid, selectable
        self.listeners: list = []

    def getFlags(self):
        return [r"\Seen", r"\Answered", r"\Flagged", r"\Deleted", r"\Draft"] if self.selectable else [r"\Noselect"]

    def getHierarchicalDelimiter(self):
        return DELIMITER

    def getUIDValidity(self):
        return UID_VALIDITY

    def getUIDNext(self):
        return self.next_uid

    def getUID(self, message):
        return self.messages[message - 1].uid

    def getMessageCount(self):
        return len(self.messages)

    def getRecentCount(self):
        return 0

    def getUnseenCount(self):
        return sum(r"\Seen" not in message.flags for message in self.messages)

    def isWriteable(self):
        return True

    def destroy(self):
        raise imap4.MailboxException("the practice folders are fixed")

    def requestStatus(self, names):
        return imap4.statusRequestHelper(self, names)

    def addListener(self, listener):
        self.listeners.append(listener)

    def removeListener(self, listener):
        self.listeners.remove(listener)

    def addMessage(self, message, flags=(), date=None):
        """Add ``message`` (bytes, or a file, which is read and closed) with ``flags``."""
        raw = message.read() if hasattr(message, "read") else message
        if hasattr(message, "close"):
            message.close()  # the server's spool of an APPEND literal
        uid, self.next_uid = self.next_uid, self.next_uid + 1
        self.messages.append(Message(raw, uid, flags))
        for listener in self.listeners:
            listener.newMessages(len(self.messages), None)
        return defer.succeed(uid)

    def expunge(self):
        # Sequence numbers, highest first: each stays right as the client removes the ones before it.
        gone = [number for number, m in enumerate(self.messages, 1) if r"\Deleted" in m.flags]
        self.messages = [m for m in self.messages if r"\Deleted" not in m.flags]
        return gone[::-1]

    def _chosen(self, messages, uid):
        if not self.messages:
            return []
        if uid:
            messages.last = self.messages[-1].uid
            return [(number, m) for number, m in enumerate(self.messages, 1) if m.uid in messages]
        messages.last = len(self.messages)
        return [(number, self.messages[number - 1]) for number in messages if 0 < number <= len(self.messages)]

    def fetch(self, messages, uid):
        return self._chosen(messages, uid)

    def search(self, query, uid):
        """The sequence numbers of the messages ``query`` matches (Twisted turns them into UIDs for UID SEARCH);
        ``query`` is a :class:`servers.mail.search.Query`, or Twisted's token list (a server of its own)."""
        compiled = query if isinstance(query, search.Query) else search.compile_tokens(list(query))
        return compiled.matching(self.messages)

    def store(self, messages, flags, mode, uid):
        changed = {}
        for number, message in self._chosen(messages, uid):
            named = {flag.decode() if isinstance(flag, bytes) else flag for flag in flags}
            if mode > 0:
                message.flags |= named
            elif mode < 0:
                message.flags -= named
            else:
                message.flags = named
            changed[number] = message.getFlags()
        return changed


class HierarchyRoot:
    """What ``LIST "" ""`` answers: the root of the folder names, which cannot be selected, and their delimiter."""

    def getFlags(self):
        return [r"\Noselect"]

    def getHierarchicalDelimiter(self):
        return DELIMITER


@implementer(imap4.IAccount, imap4.INamespacePresenter)
class PracticeAccount:
    """One user's fixed folders."""

    def __init__(self, folders: dict[str, PracticeMailbox]):
        self.folders = folders
        self.subscribed = set(folders)

    def room_for(self, size: int) -> bool:
        """Whether one more message of ``size`` octets keeps the account within :data:`QUOTA_BYTES` and
        :data:`QUOTA_MESSAGES` (APPEND is refused ``NO [OVERQUOTA]`` otherwise)."""
        messages = [message for folder in self.folders.values() for message in folder.messages]
        return (len(messages) < QUOTA_MESSAGES
                and sum(message.getSize() for message in messages) + size <= QUOTA_BYTES)

    def _name(self, name) -> str:
        text = name.decode("imap4-utf-7") if isinstance(name, bytes) else name  # the codec Twisted registers
        return "INBOX" if text.upper() == "INBOX" else text

    def select(self, name, rw=True):
        folder = self.folders.get(self._name(name))
        return folder if folder is not None and folder.selectable else None

    examine = select

    def listMailboxes(self, ref, wildcard):
        """The folders whose whole name the pattern matches (Twisted's pattern has no anchors: "INBOX" would also
        match "INBOXES", and "" every folder). An empty pattern asks for the hierarchy's root and delimiter
        (RFC 3501, 6.3.8): one unselectable entry named ""."""
        if not self._name(wildcard):
            return [("", HierarchyRoot())]
        pattern = imap4.wildcardToRegexp(self._name(ref) + self._name(wildcard), DELIMITER)
        return [(name, box) for name, box in self.folders.items() if pattern.fullmatch(name)]

    def _fixed(self, *args):
        raise imap4.MailboxException("the practice folders are fixed: use INBOX, Archive or Lists/Twisted")

    addMailbox = create = delete = rename = _fixed

    def isSubscribed(self, name):
        return self._name(name) in self.subscribed

    def subscribe(self, name):
        self.subscribed.add(self._name(name))

    def unsubscribe(self, name):
        self.subscribed.discard(self._name(name))

    def getPersonalNamespaces(self):
        return [[b"", DELIMITER.encode()]]

    def getSharedNamespaces(self):
        return None

    def getOtherNamespaces(self):
        return None

    def getUserNamespaces(self):
        return None


def practice_account() -> PracticeAccount:
    """A fresh account: INBOX, Archive, Lists (a parent only) and Lists/Twisted."""
    first, second, third, fourth = practice_messages()
    inbox = [Message(raw, uid) for raw, uid in zip((first, second, third, fourth), INBOX_UIDS)]
    archive = [Message(raw, uid, {r"\Seen"}) for raw, uid in zip((first, second), (1, 2))]
    return PracticeAccount({
        "INBOX": PracticeMailbox(inbox, INBOX_UIDS[-1] + 1),
        "Archive": PracticeMailbox(archive, 3),
        "Lists": PracticeMailbox([], 1, selectable=False),
        "Lists/Twisted": PracticeMailbox([Message(third, 1)], 2),
    })


@implementer(IRealm)
class AccountRealm:
    """Each practice user's account, one per user for the life of the server."""

    def __init__(self):
        self.accounts: dict[bytes, PracticeAccount] = {}

    def requestAvatar(self, avatarId, mind, *interfaces):
        if imap4.IAccount not in interfaces:
            raise NotImplementedError("this realm only gives IMAP accounts")
        account = self.accounts.setdefault(avatarId, practice_account())
        return imap4.IAccount, account, lambda: None


class PracticeIMAP4(BoundedLiterals, imap4.IMAP4Server):
    """Twisted's IMAP server, with STARTTLS on a guarded connection, and LOGIN allowed before it.

    Twisted's server announces ``LOGINDISABLED`` until TLS is on whenever it can start TLS. The practice
    server listens on loopback only, which Dovecot too counts as secure enough for a plain login
    (``disable_plaintext_auth`` exempts local connections): so it offers STARTTLS and lets LOGIN through as well,
    as the book's client expects.
    """

    def connectionMade(self):
        self.startedTLS = ISSLTransport.providedBy(self.transport)  # implicit TLS: STARTTLS is not offered
        super().connectionMade()

    def capabilities(self):
        offered = super().capabilities()
        offered.pop(b"LOGINDISABLED", None)
        return offered

    def do_STARTTLS(self, tag):
        if self.ctx and self.canStartTLS and not self.startedTLS:
            self.sendPositiveResponse(tag, b"Begin TLS negotiation now")
            self.transport.startTLS(self.ctx)
            self.startedTLS = True
            return
        if self.startedTLS:  # RFC 3501 gives STARTTLS only OK and BAD (Twisted answers NO)
            self.sendBadResponse(tag, b"TLS is already active")
            return
        super().do_STARTTLS(tag)

    unauth_STARTTLS = (do_STARTTLS,)

    def arg_searchkeys(self, line):
        """The search keys, compiled (:mod:`servers.mail.search`): a malformed or too deeply nested query is
        answered ``BAD`` before any search, and nothing is logged."""
        return search.compile_line(line), b""

    def do_APPEND(self, tag, mailbox, flags, date, message):
        """Twisted's APPEND, which fails (``BAD``, a traceback in the log) when the client gives no flags."""
        super().do_APPEND(tag, mailbox, flags or [], date, message)

    def do_IDLE(self, tag):
        """Twisted's IDLE (RFC 2177), whose continuation is a bare ``+``: RFC 3501 wants ``+ text``."""
        self.sendContinuationRequest(b"idling")
        self.parseTag, self.lastState, self.parseState = tag, self.parseState, "idle"

    # Twisted's command tables hold its own functions: name ours (APPEND's literal, SEARCH's keys) in them.
    auth_IDLE = select_IDLE = (do_IDLE,)
    auth_APPEND = select_APPEND = (do_APPEND, imap4.IMAP4Server.arg_astring,
                                   imap4.IMAP4Server.opt_plist, imap4.IMAP4Server.opt_datetime,
                                   BoundedLiterals.arg_literal)
    select_SEARCH = (imap4.IMAP4Server.do_SEARCH, imap4.IMAP4Server.opt_charset, arg_searchkeys)


@implementer(IPracticeDetails)
class IMAPFactory(protocol.ServerFactory):
    """IMAP connections on one portal; ``tls`` (server options) offers STARTTLS."""

    noisy = False

    def __init__(self, portal: Portal, realm: AccountRealm, tls=None):
        self.portal, self.realm, self.tls = portal, realm, tls

    def practice_details(self) -> list[str]:
        """The ``ca: PATH`` line of the authority that verifies STARTTLS, when it is offered."""
        from servers.tls import ca_details

        return ca_details(self.tls)

    def buildProtocol(self, addr):
        made = PracticeIMAP4({b"PLAIN": imap4.PLAINCredentials}, contextFactory=self.tls)
        made.factory, made.portal = self, self.portal
        return made


def imap(tls=None):
    """The IMAP practice server; ``tls``: server options for STARTTLS (the practice certificate by default;
    ``False`` for none)."""
    if tls is None:
        from servers import tls as practice_tls

        tls = practice_tls.server_options(())
    realm = AccountRealm()
    return IMAPFactory(Portal(realm, [accounts.checker(FAMILY)]), realm, tls or None)
