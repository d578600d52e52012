"""Probes for the practice mail servers: the standard library's own clients, as :mod:`servers.probes` has for
the others. Each logs in with a practice account, does one ordinary thing, and checks the answer. They stay in
plain text (the server may run in another process, whose practice authority this one does not know); checking
STARTTLS is for the family's tests.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib

from servers.probes import TIMEOUT

__all__ = ["imap", "pop3", "smtp"]


def _account():
    from servers import accounts

    return accounts.accounts("mail")[0]


def pop3(host: str, port: int) -> None:
    """USER/PASS, the message count and the first message's Message-ID; QUIT deletes nothing."""
    account = _account()
    client = poplib.POP3(host, port, timeout=TIMEOUT)
    try:
        client.user(account.user)
        client.pass_(account.password)
        count, _ = client.stat()
        assert count == 4, f"the practice mailbox holds {count} messages, not 4"
        _, lines, _ = client.top(1, 0)
        assert b"Message-ID: <practice-1@example.test>" in lines, f"TOP 1 0 answered {lines!r}"
    finally:
        client.quit()


def smtp(host: str, port: int) -> None:
    """AUTH, a message accepted for the practice domain, a recipient elsewhere refused."""
    account = _account()
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as client:
        client.login(account.user, account.password)
        refused = client.sendmail("probe@example.test", ["learner@example.test"],
                                  b"Subject: probe\r\n\r\nprobe\r\n")
        assert refused == {}, f"the practice server refused {refused!r}"
        try:
            client.sendmail("probe@example.test", ["someone@elsewhere.invalid"], b"Subject: relay\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as error:
            code = error.recipients["someone@elsewhere.invalid"][0]
            assert code == 550, f"relaying was refused with {code}, not 550"
        else:
            raise AssertionError("the practice server relayed to another domain")


def imap(host: str, port: int) -> None:
    """LOGIN, SELECT INBOX and the UIDs of its messages."""
    account = _account()
    client = imaplib.IMAP4(host, port, timeout=TIMEOUT)
    try:
        client.login(account.user, account.password)
        status, count = client.select("INBOX", readonly=True)
        assert status == "OK", f"SELECT INBOX answered {status} {count!r}"
        status, found = client.uid("SEARCH", "ALL")
        assert found and found[0].split()[:2] == [b"1001", b"1002"], f"UID SEARCH ALL answered {found!r}"
    finally:
        client.logout()
