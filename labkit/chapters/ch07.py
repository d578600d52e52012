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

__all__ = ["check_pop3_download"]


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

