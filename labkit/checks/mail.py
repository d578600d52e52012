"""Mail with the standard library's clients (``smtplib``, ``poplib``, ``imaplib``): logged-in sessions and the
small conversations that checks, notebooks and tests have with a mail server on loopback.

Promises:

* :func:`smtp_client`, :func:`pop3_login` and :func:`imap_login` open a session with the server on
  ``127.0.0.1:port``; every read waits at most ``timeout`` seconds (:data:`limits.REPLY` unless told), so a
  server that never answers ends the session with ``TimeoutError`` instead of hanging. The SMTP client introduces
  itself as :data:`CLIENT_NAME` (by default smtplib would say this machine's name, which no output may show).
* :func:`recipient_answers` offers one message per recipient and returns the code each ``RCPT`` got.
* :func:`send` sends one message and returns ``"250"``, or the code and text the server refused the message with,
  or what ended the session: words to compare in an expectation.
* :func:`pop3_download` logs in, asks ``UIDL``, ``STAT``, every ``RETR``, then ``QUIT``, and keeps what it got and
  the command that failed (:class:`Download`), never raising for a server's error or silence.
* :func:`imap_uids` gives the UIDs of the selected folder; :func:`failure` names an exception as ``Name: text``.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
from dataclasses import dataclass, field

from labkit.checks import limits

__all__ = ["CLIENT_NAME", "Download", "MAIL_ERRORS", "failure", "imap_login", "imap_uids", "pop3_download",
           "pop3_login", "recipient_answers", "send", "smtp_client"]

HOST = "127.0.0.1"
CLIENT_NAME = "client.example.test"
"""The name the SMTP client gives in EHLO/HELO."""
MAIL_ERRORS = (smtplib.SMTPException, poplib.error_proto, imaplib.IMAP4.error, OSError, EOFError)
"""What a session with a mail server can end with: the server's refusal, a dropped or silent connection."""


def failure(error: BaseException) -> str:
    """``Name: message`` (just the name when the message is empty)."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def smtp_client(port: int, *, timeout: float = limits.REPLY) -> smtplib.SMTP:
    """An ``smtplib.SMTP`` connected to the server on loopback ``port`` (it has read the greeting)."""
    return smtplib.SMTP(HOST, port, local_hostname=CLIENT_NAME, timeout=timeout)


def pop3_login(port: int, user: str, password: str, *, timeout: float = limits.REPLY) -> poplib.POP3:
    """A ``poplib.POP3`` logged in with USER and PASS."""
    client = poplib.POP3(HOST, port, timeout=timeout)
    try:
        client.user(user)
        client.pass_(password)
    except BaseException:
        client.close()
        raise
    return client


def imap_login(port: int, user: str, password: str, *, timeout: float = limits.REPLY) -> imaplib.IMAP4:
    """An ``imaplib.IMAP4`` logged in with LOGIN."""
    client = imaplib.IMAP4(HOST, port, timeout=timeout)
    try:
        client.login(user, password)
    except BaseException:
        client.shutdown()
        raise
    return client


def imap_uids(client: imaplib.IMAP4) -> list[int]:
    """The UIDs of the selected folder's messages, in order (``UID SEARCH ALL``)."""
    _, [found] = client.uid("SEARCH", "ALL")
    return [int(uid) for uid in found.split()]


def recipient_answers(port: int, sender: str, recipients: list[str], message_for, *,
                      timeout: float = limits.REPLY, answers: dict | None = None) -> dict[str, int]:
    """Offer one message to each recipient in turn, in one session; ``{recipient: the code RCPT got}``. A
    recipient taken (250) gets ``message_for(n)`` (n counts from 1); after a refusal the transaction is reset.
    Pass ``answers`` (a dict) to keep the answers got before a failure that ends the session."""
    answers = {} if answers is None else answers
    with smtp_client(port, timeout=timeout) as client:
        for recipient in recipients:
            client.ehlo_or_helo_if_needed()
            client.mail(sender)
            code, _ = client.rcpt(recipient)
            answers[recipient] = code
            if code == 250:
                client.data(message_for(len(answers)))
            else:
                client.rset()
    return answers


def send(port: int, sender: str, recipients: list[str], message: bytes, *, timeout: float = limits.REPLY) -> str:
    """Send ``message``: ``"250"``; ``"451 text"`` (the code and text DATA was refused with); ``"RCPT 550 text"``
    when every recipient was refused; otherwise the exception that ended the session (:func:`failure`)."""
    try:
        with smtp_client(port, timeout=timeout) as client:
            client.sendmail(sender, recipients, message)
        return "250"
    except smtplib.SMTPDataError as refused:
        return f"{refused.smtp_code} {refused.smtp_error.decode('utf-8', 'replace')}"
    except smtplib.SMTPRecipientsRefused as refused:
        code, text = next(iter(refused.recipients.values()))
        return f"RCPT {code} {text.decode('utf-8', 'replace')}"
    except MAIL_ERRORS as error:
        return failure(error)


@dataclass
class Download:
    """What a POP3 download got: the UIDs and messages (each message's lines joined with LF, an LF at the end),
    and, when the session did not end with QUIT, the command that failed and how (``failed_at``, ``error``)."""

    uids: list[bytes] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    failed_at: str = ""
    error: str = ""

    @property
    def ended(self) -> str:
        """``"ended with QUIT"``, or ``"<COMMAND> failed: <error>"``: words for an expectation."""
        return f"{self.failed_at} failed: {self.error}" if self.failed_at else "ended with QUIT"


def pop3_download(port: int, user: str, password: str, *, timeout: float = limits.QUICK) -> Download:
    """Log in, then UIDL, STAT, RETR of every message and QUIT, stopping at the first command that fails."""
    got = Download()
    step = "the greeting"
    client = None
    try:
        client = poplib.POP3(HOST, port, timeout=timeout)
        step = "USER/PASS"
        client.user(user)
        client.pass_(password)
        step = "UIDL"
        got.uids = [line.split()[1] for line in client.uidl()[1]]
        step = "STAT"
        count = client.stat()[0]
        for number in range(1, count + 1):
            step = f"RETR {number}"
            got.messages.append(b"\n".join(client.retr(number)[1]) + b"\n")
        step = "QUIT"
        client.quit()
    except MAIL_ERRORS as error:
        got.failed_at, got.error = step, failure(error)
    finally:
        if client is not None:
            client.close()
    return got
