"""Checks for chapter 7, Mail Clients.

Each ``check_*`` function runs what the learner wrote against a fresh practice mail server of
:mod:`servers.mail` (its own Maildirs, made for the check and removed after it), then looks at what came back
and at what the server holds afterwards. Every wait is bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import os
import random
import socket

from labkit.checks import Check, Outcome, call_learner, limits, server_health, short, wait_until
from labkit.wire import CLIENT

from servers import accounts
from servers.mail.messages import practice_messages

__all__ = ["check_folder_counts", "check_imap_uids", "check_mail_hosts", "check_pop3_download", "check_pop3_sizes",
           "check_send_mail"]


def _stored(folder) -> int:
    return sum(len(os.listdir(folder / part)) for part in ("cur", "new"))


def _note(size: int) -> bytes:
    """A plain message of about ``size`` bytes, so a check's mailbox is never the one the notebook showed."""
    head = (b"From: Ada Lovelace <ada@example.test>\r\nTo: Learner <learner@example.test>\r\n"
            b"Subject: A note of some length\r\nMessage-ID: <check-note@example.test>\r\n\r\n")
    line = b"Notes on the Analytical Engine.\r\n"
    return head + line * max(1, (size - len(head)) // len(line))


def _pop3_served(check: Check, account, messages: list[bytes]):
    """A fresh ``pop3`` server for the check (no STLS), ``account`` holding ``messages``: (served, its folder)."""
    from servers.mail import pop3

    folder = check.temporary_folder("check-pop3-")
    pop3.fill_maildir(folder / account.user, messages)
    return check.serve(pop3.pop3(folder, tls=False), "check-pop3"), folder


def _sent_by_learner(served) -> bytes:
    return served.transcript.sent_by(CLIENT)


def _silent_server_hint(said: bytes) -> str:
    """Why a POP3 server may have stopped answering the learner's socket, read from what the learner sent."""
    if not said:
        return "the server speaks first: read its greeting line, then send USER, PASS, LIST and QUIT"
    if said.replace(b"\r\n", b"").count(b"\n") or not said.endswith(b"\r\n"):
        return ("end every command with b'\\r\\n': the server answers only once a line has ended the way "
                "POP3 ends lines")
    return ("LIST's answer ends with a line holding a single dot: read lines until that one (the server does not "
            "close the connection, so reading until it does waits forever)")


def check_pop3_sizes(message_sizes) -> None:
    """Exercise 7.1: ``message_sizes(port, user, password)`` talks POP3 over a plain socket to ``127.0.0.1:port``:
    reads the greeting, logs in with USER and PASS, sends LIST, returns ``{message number: size}`` (both int),
    and ends with QUIT. Every socket the learner makes without a time-out of its own gets
    :data:`limits.QUICK`, so a client waiting for an answer that never comes ends instead of hanging."""
    account = accounts.accounts("mail")[0]
    messages = random.sample(practice_messages()[:3], random.randint(1, 3)) + [_note(random.randint(600, 4000))]
    # The server gives each message's size as stored: its file, whose lines end with LF alone.
    expected = {number: len(message.replace(b"\r\n", b"\n")) for number, message in enumerate(messages, 1)}
    with Check("your message_sizes logs in over a socket and reads every size from LIST",
               start="connect with socket.create_connection(('127.0.0.1', port)), read the server's greeting line, "
                     "then send b'USER ...\\r\\n' and read its answer") as check:
        served, _ = _pop3_served(check, account, messages)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(limits.QUICK)
        try:
            got = call_learner(message_sizes, served.port, account.user, account.password,
                               timeout=limits.BLOCKING_CLIENT, blocking=True)
        except TimeoutError:  # the learner's socket gave up (socket.timeout is TimeoutError)
            got = TimeoutError
        finally:
            socket.setdefaulttimeout(previous)
        wait_until(lambda: served.open_connections == 0)  # a QUIT sent just before returning has arrived
        check.show(served.transcript)
        said = _sent_by_learner(served)
        if got is TimeoutError:
            check.expect("the server answered everything you waited for", "an answer",
                         f"your socket waited {limits.QUICK:g} s for bytes that never came", ok=False,
                         hint=_silent_server_hint(said))
            return
        whole = isinstance(got, dict) and all(type(k) is int and type(v) is int for k, v in got.items())
        check.expect("what message_sizes returned", "a dict of int: int", type(got).__name__, ok=whole,
                     hint="return {number: size}, both int: int(word) of each 'number size' line of LIST's answer")
        if whole:
            check.expect("the sizes LIST gave", expected, got,
                         hint="LIST answers '+OK', then one 'number size' line per message, then '.': keep every "
                              "line before the dot" if len(got) < len(expected) else
                         "the sizes are right but not their numbers: the message numbers are LIST's own, counting "
                         "from 1" if sorted(got.values()) == sorted(expected.values()) else
                         "take the message lines only: not the '+OK' line, not the final dot")
        check.expect("logged in with USER and PASS", True,
                     b"USER " in said.upper() and b"PASS " in said.upper() or b"APOP " in said.upper(),
                     hint="log in before LIST: b'USER name\\r\\n', then b'PASS password\\r\\n'")
        check.expect("the session ended with QUIT", True, said.upper().rstrip().endswith(b"QUIT"),
                     hint="send b'QUIT\\r\\n' at the end and read its '+OK': the server then ends the session")
        refused = Outcome(message_sizes, served.port, account.user, "not-" + account.password,
                          timeout=limits.BLOCKING_CLIENT, blocking=True)
        waited = isinstance(refused.error, (TimeoutError, str))
        check.expect("with a wrong password", "an exception (PASS was answered -ERR)", refused.described(),
                     ok=not refused.ok and not waited,
                     hint="after a refused PASS the server sends no list, and your code waited for one: when a "
                          "reply starts with -ERR, raise an exception" if waited else
                     "a wrong password is answered -ERR: raise an exception then, instead of returning sizes")
        server_health(check, served)


def check_pop3_download(download) -> None:
    """Exercise 7.2: ``download(reactor, port, user, password)`` logs in to the POP3 server on ``127.0.0.1:port``
    with Twisted's ``AdvancedPOP3Client``, returns every message as bytes (lines joined with CR LF, a CR LF at the
    end) in the server's order, quits, and deletes nothing."""
    account = accounts.accounts("mail")[0]
    expected = practice_messages()
    with Check("your download gets every message of the practice mailbox, byte for byte, and leaves it as it was",
               start="connect a pop3.AdvancedPOP3Client with endpoints.connectProtocol, await client.login(user, "
                     "password), then ask listSize()") as check:
        served, folder = _pop3_served(check, account, expected)
        got = call_learner(download, served.port, account.user.encode(), account.password.encode(),
                           timeout=limits.LEARNER_CALL)
        wait_until(lambda: served.open_connections == 0)  # a QUIT not awaited may still be on its way
        check.show(served.transcript)
        check.expect("what download returned", "a list of bytes", type(got).__name__,
                     ok=isinstance(got, list) and all(isinstance(message, bytes) for message in got),
                     hint="return a list with one bytes object per message: b'\\r\\n'.join(lines) + b'\\r\\n' "
                          "(retrieve gives the message's lines, without their ends)")
        if isinstance(got, list) and all(isinstance(message, bytes) for message in got):
            check.expect("how many messages came back", len(expected), len(got),
                         hint="listSize() gives one size per message, and retrieve counts from 0: every index "
                              "from 0 to len - 1")
            check.expect("the messages, byte for byte", [short(m) for m in expected], [short(m) for m in got],
                         ok=got == expected,
                         hint="retrieve() gives a message's lines without their ends: the message is the lines "
                              "joined with b'\\r\\n', ending with one")
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
               start="make an smtp.ESMTPSenderFactory with a Deferred of yours, connect it to 127.0.0.1:port with "
                     "a TCP4ClientEndpoint, and await that Deferred") as check:
        server = smtp.smtp()
        served = check.serve(server, "check-smtp")
        kept_at_return = []

        async def watched(reactor, *args):  # counts what the server kept at the moment send returned
            result = await send(reactor, *args)
            kept_at_return.append(len(server.outbox))
            return result

        call_learner(watched, served.port, account.user.encode(), account.password.encode(), message,
                     timeout=limits.LEARNER_CALL)
        check.show(served.transcript)
        client_said = served.transcript.sent_by(CLIENT).upper()
        check.expect("messages the server kept when send returned", 1, kept_at_return[0],
                     hint="send returned before the server had the message: await the Deferred you gave "
                          "ESMTPSenderFactory, which fires once the server accepted it")
        check.expect("STARTTLS before anything else", True, b"STARTTLS" in client_said,
                     hint="give ESMTPSenderFactory contextFactory=tls.client_options() and "
                          "requireTransportSecurity=True")
        if server.outbox:
            kept = server.outbox[0]
            check.expect("who the server saw log in", account.user, kept.user,
                         hint="pass the user name and password to ESMTPSenderFactory (AUTH)")
            check.expect("the envelope's sender (MAIL FROM)", message["From"], kept.sender,
                         hint="the sender ESMTPSenderFactory is given is the envelope's: the message's From")
            check.expect("the envelope's recipients (RCPT TO)", [message["To"]], list(kept.recipients),
                         hint="the recipients ESMTPSenderFactory is given are the envelope's: the message's To")
            body = kept.data.split(b"\r\n\r\n", 1)[-1]
            wanted = message.get_content().replace("\n", "\r\n").encode()
            check.expect("the body as it arrived", short(wanted), short(body), ok=body == wanted,
                         hint="give the message with LF line ends (message.as_bytes()): Twisted's client adds "
                              "the CR itself, so CR LF would arrive as CR CR LF")
        server_health(check, served)
        clear = smtp.smtp(tls=False)
        no_tls = check.serve(clear, "check-smtp-no-tls")
        attempt = Outcome(send, no_tls.port, account.user.encode(), account.password.encode(), message)
        check.expect("to a server that offers no STARTTLS", "nothing sent (an error)",
                     f"{len(clear.outbox)} message(s) sent in clear" if clear.outbox else attempt.described(),
                     ok=not attempt.ok and not clear.outbox,
                     hint="the message went out unencrypted: with requireTransportSecurity=True the client "
                          "refuses a server that offers no STARTTLS")


def _mx_hint(domain: str, wanted: list, got) -> str:
    if isinstance(got, str) and ("DNSNameError" in got or "DomainError" in got):
        return ("a name that does not exist fails with DNSNameError (a dns.DomainError): catch it and return [], "
                "no mail can go there")
    if isinstance(got, list) and got and not all(type(host) is str for host in got):
        return "return host names as str: str(answer.payload.name)"
    if isinstance(got, list) and sorted(got) == sorted(wanted) and got != wanted:
        return ("DNS gives MX records in any order: sort them by answer.payload.preference, lowest first (the "
                "most preferred)")
    if wanted == [domain] and got == []:
        return ("no MX record is not the end: a domain with an address (A) record takes mail itself; ask "
                "resolver.lookupAddress(domain) and return [domain] when it answers an A record")
    if wanted == [] and got == [domain]:
        return "fall back to the domain only when lookupAddress answers an A record: this one has none, so []"
    return ""


def check_mail_hosts(mail_hosts) -> None:
    """Exercise 7.4: ``mail_hosts(reactor, port, domain)`` asks the DNS server on ``127.0.0.1:port`` with
    ``twisted.names.client.Resolver`` and returns the domain's mail hosts as str, most preferred first; a domain
    without MX records but with an A record gives ``[domain]``; one with neither, or a name that does not exist,
    gives ``[]``. The check's server answers over UDP and TCP, with preferences of its own, stored out of order."""
    from servers import names

    preferences = sorted(random.sample(range(5, 100, 5), len(names.MX_HOSTS)))
    hosts = [host for _, host in names.MX_HOSTS]
    random.shuffle(hosts)
    ranked = list(zip(preferences, hosts))
    stored = ranked[::-1]  # answered least preferred first: an unsorted answer is visibly wrong
    expected = {names.ZONE: [host for _, host in ranked], f"lists.{names.ZONE}": [f"lists.{names.ZONE}"],
                f"nomail.{names.ZONE}": [], f"missing.{names.ZONE}": []}
    with Check("your mail_hosts finds where mail for a domain goes, in preference order",
               start="make client.Resolver(servers=[('127.0.0.1', port)]) and await its "
                     "lookupMailExchange(domain): (answers, authority, additional)") as check:
        factory = names.dns(stored)
        served = check.serve(factory, "check-dns")
        check.serve_udp(names.listen_udp, factory, served.port)
        for domain, wanted in expected.items():
            outcome = Outcome(mail_hosts, served.port, domain)
            got = outcome.value if outcome.ok else outcome.described()
            check.expect(f"mail hosts of {domain}", wanted, got, sent=domain, hint=_mx_hint(domain, wanted, got))
        server_health(check, served)


def check_folder_counts(folder_counts) -> None:
    """Exercise 7.5: ``folder_counts(reactor, port, user, password)`` logs in to the IMAP server on
    ``127.0.0.1:port`` with ``IMAP4Client``, lists every folder and returns ``{name: number of messages}`` for
    those that can be selected (not ``\\Noselect``), then logs out. The check's account holds mail of its own."""
    from twisted.mail import imap4

    from servers.mail import imap

    account = accounts.accounts("mail")[0]
    with Check("your folder_counts counts the messages of every folder that holds any",
               start="connect an imap4.IMAP4Client with endpoints.connectProtocol, await client.login(user, "
                     "password), then await client.list('', '*')") as check:
        factory = imap.imap(tls=False)
        mailboxes = factory.realm.requestAvatar(account.user.encode(), None, imap4.IAccount)[1].folders
        for name, box in mailboxes.items():
            for _ in range(random.randint(0, 2) if box.selectable else 0):
                box.addMessage(_note(random.randint(600, 2000)))
        expected = {name: len(box.messages) for name, box in mailboxes.items() if box.selectable}
        served = check.serve(factory, "check-imap")
        outcome = Outcome(folder_counts, served.port, account.user.encode(), account.password.encode())
        got = outcome.value if outcome.ok else outcome.described()
        wait_until(lambda: served.open_connections == 0)  # a LOGOUT not awaited may still be on its way
        check.show(served.transcript)
        said = _sent_by_learner(served).upper()
        noselect = [name for name, box in mailboxes.items() if not box.selectable]
        tried = any(f" {name}\r\n".upper().encode() in said or f' "{name}"\r\n'.upper().encode() in said
                    for name in noselect)
        hint = (f"{' and '.join(noselect)} holds only other folders (its flags include \\Noselect): skip it, "
                f"selecting it fails" if tried or isinstance(got, dict) and set(noselect) & set(got) else
                "examine(name) answers a dict: its 'EXISTS' is the number of messages, an int"
                if isinstance(got, dict) and set(got) == set(expected) else "")
        check.expect("the folders and their counts", expected, got, hint=hint)
        check.expect("the session ended with LOGOUT", True, b" LOGOUT\r\n" in said,
                     hint="end with await client.logout(), so the server ends the session cleanly")
        server_health(check, served)


def check_imap_uids(fetch_uids) -> None:
    """Exercise 7.6: ``fetch_uids(reactor, port, user, password, folder)`` logs in to the IMAP server with
    ``IMAP4Client``, selects ``folder`` and returns the UIDs of its messages, as ints, in order."""
    from servers.mail import imap

    account = accounts.accounts("mail")[0]
    with Check("your fetch_uids returns the UIDs of INBOX, which are not its sequence numbers",
               start="log in with an imap4.IMAP4Client, await client.select(folder), then ask "
                     "client.fetchUID(imap4.MessageSet(1, None))") as check:
        # Plain, as the exercise says: offered STARTTLS, an IMAP4Client given no context factory would take it
        # with one that verifies nothing.
        served = check.serve(imap.imap(tls=False), "check-imap")
        outcome = Outcome(fetch_uids, served.port, account.user.encode(), account.password.encode(), "INBOX")
        got = outcome.value if outcome.ok else outcome.described()
        wait_until(lambda: served.open_connections == 0)  # a LOGOUT not awaited may still be on its way
        check.show(served.transcript)
        said = _sent_by_learner(served).upper()
        wanted = list(imap.INBOX_UIDS)
        check.expect("the UIDs", wanted, got, ok=got == wanted,
                     hint="fetchUID gives {sequence number: {'UID': '1001'}}: return the UID values, as int, "
                          "not the sequence numbers (the keys)" if got == list(range(1, len(wanted) + 1)) else
                     "the UIDs come back as str: int(found[number]['UID'])" if got == [str(u) for u in wanted]
                     else f"the server refused a command ({outcome.error}): a folder must be selected before "
                          "its messages can be fetched" if not outcome.ok and b" SELECT " not in said
                     else "")
        check.expect("the session ended with LOGOUT", True, b" LOGOUT\r\n" in said,
                     hint="end with await client.logout(), so the server ends the session cleanly")
        server_health(check, served)
