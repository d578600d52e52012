"""Chapter 8 (mail servers): the claims. Each test backs one sentence of the complete notebook that no executed output
there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter08.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations


import pytest
from twisted.internet import defer, protocol
from twisted.mail import pop3

import labkit
from tests.claims import WAIT, listen, stop_listening


def test_twisteds_pop3_counts_and_lists_a_message_marked_deleted_with_size_0():
    """08-mail-servers, cell 28: Twisted's `POP3` still counts a marked message (size 0, as `IMailbox.listMessages`
    gives it) in `STAT`, and lists it in `LIST` and `UIDL`."""
    sizes = [0, 20]  # message 1 marked deleted
    assert b"".join(filter(None, pop3.formatStatResponse(sizes))) == b"+OK 2 20\r\n"
    assert b"".join(filter(None, pop3.formatListResponse(sizes))) == b"+OK 2\r\n1 0\r\n2 20\r\n.\r\n"
    listed = b"".join(filter(None, pop3.formatUIDListResponse(sizes, lambda index: b"uid%d" % index)))
    assert listed.endswith(b"1 uid0\r\n2 uid1\r\n.\r\n")


def test_twisteds_smtp_server_answers_550_to_a_failed_eom_received_whatever_its_code():
    """08-mail-servers, cell 24: Twisted's SMTP server answers `550` to every failed `eomReceived`, even to an
    `SMTPServerError` that names another code (451 here)."""
    import smtplib

    from twisted.mail import smtp
    from zope.interface import implementer

    @implementer(smtp.IMessage)
    class Later:
        def lineReceived(self, line):
            pass

        def eomReceived(self):
            return defer.fail(smtp.SMTPServerError(451, b"try again later"))

        def connectionLost(self):
            pass

    @implementer(smtp.IMessageDelivery)
    class Delivery:
        def receivedHeader(self, helo, origin, recipients):
            return b"Received: by the test"

        def validateFrom(self, helo, origin):
            return origin

        def validateTo(self, user):
            return Later

    class Factory(protocol.ServerFactory):
        def buildProtocol(self, addr):
            server = smtp.ESMTP()
            server.delivery, server.factory = Delivery(), self
            return server

    port = listen(Factory())
    try:
        with smtplib.SMTP("127.0.0.1", port.getHost().port, timeout=WAIT) as sender:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                sender.sendmail("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\nbody\r\n")
    finally:
        stop_listening(port)
    assert refused.value.smtp_code == 550


def test_twisteds_imap_server_asks_get_headers_with_bytes_text_or_no_names(monkeypatch):
    """08-mail-servers, cell 51: Twisted's IMAP server calls `getHeaders(negate, *names)` with bytes names for
    `BODY[HEADER.FIELDS]`, with text names for `SEARCH`, and with no names at all (every header) for `ENVELOPE`."""
    from servers import accounts
    from servers.mail import imap as practice_imap
    from labkit.checks import mail

    calls = []
    original = practice_imap.Part.getHeaders

    def recording(self, negate, *names):
        calls.append((bool(negate), names))
        return original(self, negate, *names)

    monkeypatch.setattr(practice_imap.Part, "getHeaders", recording)
    served = labkit.serve("imap", name="claims-imap", show=False)
    account = accounts.accounts("mail")[0]
    try:
        client = mail.imap_login(served.port, account.user, account.password, timeout=WAIT)
        client.select("INBOX")
        asked = {}
        for what, command in (("fields", lambda: client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")),
                              ("envelope", lambda: client.fetch("1", "(ENVELOPE)")),
                              ("search", lambda: client.search(None, "SUBJECT", "twisted"))):
            calls.clear()
            assert command()[0] == "OK"
            asked[what] = list(calls)
        client.logout()
    finally:
        served.stop()
    assert asked["fields"] == [(False, (b"SUBJECT",))]
    assert asked["envelope"] == [(True, ())]
    assert asked["search"] and all(names and all(isinstance(name, str) for name in names)
                                   for _, names in asked["search"])


def test_twisteds_imap_server_speaks_idle():
    """08-mail-servers, cell 61: Twisted's IMAP server speaks `IDLE` (RFC 2177): it names it among its
    capabilities, answers `+` and ends the wait at `DONE`."""
    from labkit.checks import mail
    from servers import accounts

    served = labkit.serve("imap", name="claims-idle", show=False)
    account = accounts.accounts("mail")[0]
    try:
        client = mail.imap_login(served.port, account.user, account.password, timeout=WAIT)
        assert "IDLE" in client.capabilities
        client.select("INBOX")
        client.send(b"W1 IDLE\r\n")
        waiting = client.readline()
        client.send(b"DONE\r\n")
        ended = client.readline()
        client.logout()
    finally:
        served.stop()
    assert waiting.startswith(b"+ ") and ended.startswith(b"W1 OK")
