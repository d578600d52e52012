"""Checks for chapter 7, Mail Clients.

Each ``check_*`` function runs what the learner wrote against a fresh practice mail server of
:mod:`servers.mail` (its own Maildirs, made for the check and removed after it), then looks at what came back
and at what the server holds afterwards. Every wait is bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import os

from labkit.bridge import react
from labkit.checks import Check, limits, server_health, short
from labkit.wire import CLIENT

from servers import accounts
from servers.mail.messages import practice_messages

__all__ = ["check_imap_uids", "check_pop3_download", "check_send_mail"]


def _stored(folder) -> int:
    return sum(len(os.listdir(folder / part)) for part in ("cur", "new"))


def check_pop3_download(download) -> None:
    """Exercise 7.2: ``download(reactor, port, user, password)`` logs in to the POP3 server on ``127.0.0.1:port``
    with Twisted's ``AdvancedPOP3Client``, returns every message as bytes (lines joined with CR LF, a CR LF at the
    end) in the server's order, quits, and deletes nothing."""
    from servers.mail import pop3

    account = accounts.accounts("mail")[0]
    expected = practice_messages()
    with Check("your download gets every message of the practice mailbox, byte for byte, and leaves it as it was",
               hint="client = await endpoints.connectProtocol(endpoint, pop3.AdvancedPOP3Client()); await "
                    "client.login(user, password); sizes = await client.listSize(); for each index: lines = await "
                    "client.retrieve(index), b'\\r\\n'.join(lines) + b'\\r\\n'; then await client.quit()") as check:
        folder = check.temporary_folder("check-pop3-")
        pop3.fill_maildir(folder / account.user, expected)
        served = check.serve(pop3.pop3(folder), "check-pop3")
        got = react(download, served.port, account.user.encode(), account.password.encode(),
                    timeout=limits.REPLY * 2)
        check.show(served.transcript)
        check.expect("what download returned", "a list of bytes", type(got).__name__,
                     ok=isinstance(got, list) and all(isinstance(message, bytes) for message in got),
                     hint="return a list with one bytes object per message: b'\\r\\n'.join(lines) + b'\\r\\n' "
                          "(retrieve gives the message's lines, without their ends)")
        if isinstance(got, list) and all(isinstance(message, bytes) for message in got):
            check.expect("how many messages came back", len(expected), len(got),
                         hint="listSize() gives one size per message: retrieve every index from 0 to len - 1")
            check.expect("the messages, byte for byte", [short(m) for m in expected], [short(m) for m in got],
                         ok=got == expected,
                         hint="join the lines of retrieve() with b'\\r\\n' and end with b'\\r\\n'")
        check.expect("messages left in the mailbox", len(expected), _stored(folder / account.user),
                     hint="a download must not delete: no client.delete(...) before quit()")
        check.expect("the session ended with QUIT", True, b"QUIT" in served.transcript.sent_by(CLIENT).upper(),
                     hint="end with await client.quit(), so the server closes the session cleanly")
        server_health(check, served)



def check_send_mail(send) -> None:
    """Exercise 7.3: ``send(reactor, port, user, password, message)`` sends the ``email.message.EmailMessage``
    ``message`` to the SMTP server on ``127.0.0.1:port`` with ``ESMTPSenderFactory``: STARTTLS verified with the
    practice authority (``servers.tls.client_options()``), AUTH with the account, and the message given with LF
    line ends (Twisted's client turns them into CR LF)."""
    from email.message import EmailMessage

    from servers.mail import smtp

    account = accounts.accounts("mail")[0]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "learner@example.test", "ada@example.test", "Grüße"
    message.set_content("Sent over verified TLS.\n.A line that starts with a dot.\n")
    with Check("your send delivers the message over verified STARTTLS, logged in, byte for byte",
               hint="factory = smtp.ESMTPSenderFactory(user, password, message['From'], [message['To']], "
                    "io.BytesIO(message.as_bytes()), done, contextFactory=tls.client_options(), "
                    "requireTransportSecurity=True); connect it, then await done") as check:
        server = smtp.smtp()
        served = check.serve(server, "check-smtp")
        react(send, served.port, account.user.encode(), account.password.encode(), message,
              timeout=limits.REPLY * 2)
        check.show(served.transcript)
        client_said = served.transcript.sent_by(CLIENT).upper()
        check.expect("STARTTLS before anything else", True, b"STARTTLS" in client_said,
                     hint="give ESMTPSenderFactory contextFactory=tls.client_options() and "
                          "requireTransportSecurity=True")
        check.expect("messages the server kept", 1, len(server.outbox),
                     hint="await the Deferred you gave ESMTPSenderFactory: it fires once the server accepted")
        if server.outbox:
            kept = server.outbox[0]
            check.expect("who the server saw log in", account.user, kept.user,
                         hint="pass the user name and password to ESMTPSenderFactory (AUTH)")
            body = kept.data.split(b"\r\n\r\n", 1)[-1]
            wanted = message.get_content().replace("\n", "\r\n").encode()
            check.expect("the body as it arrived", short(wanted), short(body), ok=body == wanted,
                         hint="give the message with LF line ends (message.as_bytes()): Twisted's client adds "
                              "the CR itself, so CR LF would arrive as CR CR LF")
        server_health(check, served)


def check_imap_uids(fetch_uids) -> None:
    """Exercise 7.6: ``fetch_uids(reactor, port, user, password, folder)`` logs in to the IMAP server with
    ``IMAP4Client``, selects ``folder`` and returns the UIDs of its messages, as ints, in order."""
    from servers.mail import imap

    account = accounts.accounts("mail")[0]
    with Check("your fetch_uids returns the UIDs of INBOX, which are not its sequence numbers",
               hint="await client.select(folder); found = await client.fetchUID(imap4.MessageSet(1, None)); "
                    "return [int(found[number]['UID']) for number in sorted(found)]") as check:
        served = check.serve(imap.imap(), "check-imap")
        got = react(fetch_uids, served.port, account.user.encode(), account.password.encode(), "INBOX",
                    timeout=limits.REPLY * 2)
        check.show(served.transcript)
        wanted = list(imap.INBOX_UIDS)
        check.expect("the UIDs", wanted, got, ok=got == wanted,
                     hint="fetchUID gives {sequence number: {'UID': '1001'}}: return the UID values, as int, "
                          "not the sequence numbers (the keys)" if got == list(range(1, len(wanted) + 1)) else
                     "the UIDs come back as str: int(found[number]['UID'])" if got == [str(u) for u in wanted]
                     else "")
        server_health(check, served)
