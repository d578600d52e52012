"""Checks for chapter 8, Mail Servers.

Each ``check_*`` function serves what the learner built, on a Maildir folder made for the check (removed after
it), and drives it with the standard library's own clients (``smtplib``, ``poplib``, ``imaplib``), then looks at
the answers and at the files in the Maildir. Every client waits at most :data:`labkit.checks.limits.REPLY`
seconds; every server a check starts is stopped again.
"""

from __future__ import annotations

import imaplib
import os
import poplib
import smtplib
import socket
from email import message_from_bytes, policy
from pathlib import Path

from labkit.checks import Check, limits, server_health, short, unwritten, wait_until

from servers import accounts

__all__ = ["check_expunge", "check_fixed_inbox", "check_known_recipients", "check_lucky_reply",
           "check_new_mail_pushed"]

ACCOUNT = accounts.accounts("mail")[0]
SENDER = "ada@example.test"


def _message(number: int) -> bytes:
    return (f"From: {SENDER}\r\nTo: {ACCOUNT.user}@example.test\r\nSubject: check {number}\r\n"
            f"Message-ID: <check-{number}@example.test>\r\n\r\nmessage number {number}\r\n").encode()


def _mail_folder(check: Check) -> Path:
    """A folder for the check: the practice accounts in users.db (scrypt hashes, as chapter 6 stores them) and
    an empty Maildir for each."""
    from twisted.mail import maildir

    from servers.auth.userdb import create_user_table

    root = check.temporary_folder("check-ch08-")
    known = accounts.accounts("mail")
    create_user_table(root / "users.db", [(account.user, account.password, "") for account in known])
    for account in known:
        maildir.initializeMaildir(os.fsencode(root / account.user))
    return root


def _files(root: Path, user: str, part: str) -> list[str]:
    folder = root / user / part
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def _delivered(root: Path, user: str) -> list[bytes]:
    return [(root / user / part / name).read_bytes() for part in ("new", "cur") for name in _files(root, user, part)]


def _recipient_answers(port: int, recipients: list[str]) -> dict[str, int]:
    """Offer one message to each recipient in turn; the code RCPT got for each (a message goes to those taken)."""
    answers = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=limits.REPLY) as client:
        for recipient in recipients:
            client.ehlo_or_helo_if_needed()
            client.mail(SENDER)
            code, _ = client.rcpt(recipient)
            answers[recipient] = code
            if code == 250:
                client.data(_message(len(answers)))
            else:
                client.rset()
    return answers


def check_known_recipients(factory_for) -> None:
    """Exercise 8.1: ``factory_for(root)`` is an SMTP factory whose delivery takes mail only for the practice
    domains and only for users who have a Maildir under ``root`` (refusing the rest at RCPT with 550), and stores
    what it takes in that Maildir."""
    with Check("your delivery takes mail for existing mailboxes of the practice domains and refuses the rest",
               hint="in validateTo: domain = user.dest.domain.lower() (bytes) must be in self.domains; "
                    "local = user.dest.local.lower() must match LOCAL_PART and os.path.isdir(os.path.join("
                    "self.root, local)); else raise smtp.SMTPBadRcpt(user, 550, '...'); then return "
                    "super().validateTo(user)") as check:
        root = _mail_folder(check)
        served = check.serve(factory_for(root), "check-smtp")
        recipients = [f"{ACCOUNT.user}@example.test", "ADA@Lists.Example.Test", "nobody@example.test",
                      f"{ACCOUNT.user}@elsewhere.invalid", "../learner@example.test"]
        try:
            answers = _recipient_answers(served.port, recipients)
        except (smtplib.SMTPException, OSError) as error:
            answers = {"(the session)": f"{type(error).__name__}: {error}"}
        check.show(served.transcript)
        if unwritten(check, served):
            return
        wanted = {recipients[0]: 250, recipients[1]: 250, recipients[2]: 550, recipients[3]: 550,
                  recipients[4]: 550}
        refused_all = all(code != 250 for code in answers.values())
        check.expect("RCPT answers", wanted, answers,
                     hint="user.dest.domain is bytes: compare it with bytes (b'example.test'), or every recipient "
                          "is refused" if refused_all else
                     "refuse a user with no Maildir under root: os.path.isdir(os.path.join(self.root, local))"
                     if answers.get(recipients[2]) == 250 else
                     "refuse other domains with 550: taking them would make this an open relay"
                     if answers.get(recipients[3]) == 250 else
                     "compare lower-cased names: user.dest.domain.lower(), user.dest.local.lower()"
                     if answers.get(recipients[1]) != 250 else "")
        check.expect("messages in learner's Maildir", 1, len(_delivered(root, ACCOUNT.user)))
        check.expect("messages in ada's Maildir", 1, len(_delivered(root, "ada")))
        check.expect("folders made for refused recipients", [], sorted(
            name for name in os.listdir(root) if name not in {"users.db", ACCOUNT.user, "ada"}),
            hint="raise SMTPBadRcpt before anything is created for an unknown user")
        server_health(check, served)


def _ask_robot(port: int, question: bytes) -> str:
    """The robot's answer to the end of DATA: ``"250"``, the code and text it refused with, or what went wrong."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=limits.REPLY) as client:
            client.sendmail(SENDER, ["lucky@example.test"], question)
        return "250"
    except smtplib.SMTPDataError as refused:
        return f"{refused.smtp_code} {refused.smtp_error.decode('utf-8', 'replace')}"
    except (smtplib.SMTPException, OSError) as error:
        return f"{type(error).__name__}: {error}"


def check_lucky_reply(factory_for) -> None:
    """Exercise 8.2: ``factory_for(search_url, upstream_port)`` is the robot's SMTP factory: mail to
    ``lucky@example.test`` is answered through the SMTP server on ``upstream_port``, and the robot's 250 comes
    only once the answer has been handed on (``eomReceived`` returns the Deferred of the whole job); with the
    search service stopped, the robot answers 451 (a temporary failure: the sender tries again later)."""
    from servers.mail import smtp as practice_smtp
    from servers.web.lucky import lucky

    with Check("your robot answers before it says 250, and says 451 when it cannot answer",
               hint="in eomReceived: question = email.message_from_bytes(b'\\n'.join(self.lines), "
                    "policy=email.policy.default); return defer.ensureDeferred(self.answer(question))"
                    ".addErrback(self.try_later)") as check:
        service = lucky()
        search = check.serve(service, "check-lucky")
        upstream = practice_smtp.smtp(tls=False)
        relay = check.serve(upstream, "check-upstream")
        robot = check.serve(factory_for(search.url.rstrip("/"), relay.port), "check-robot")
        question = (f"From: Ada <{SENDER}>\r\nTo: lucky@example.test\r\nSubject: twisted deferred\r\n"
                    f"Message-ID: <question@example.test>\r\n\r\nPlease look it up.\r\n").encode()
        outcome = _ask_robot(robot.port, question)
        answered_at_250 = len(upstream.outbox)
        if unwritten(check, robot):
            check.show(robot.transcript)
            return
        wait_until(lambda: upstream.outbox)  # a reply sent after the 250 (the mistake) is let finish
        search.stop()  # the search service is down: no answer can be made now
        later = _ask_robot(robot.port, question.replace(b"twisted deferred", b"smtp relay"))
        check.show(robot.transcript)
        check.expect("the robot's answer to DATA", "250", outcome,
                     hint="eomReceived must return a Deferred (defer.ensureDeferred(...)), not a coroutine or None")
        check.expect("replies handed on when the robot said 250", 1, answered_at_250,
                     hint="return the Deferred of the whole job from eomReceived: the client's 250 must mean "
                          "the answer has gone out")
        check.expect("the query the search service got", ["twisted deferred"], service.queries[:1])
        if upstream.outbox:
            reply = message_from_bytes(upstream.outbox[0].data, policy=policy.default)
            check.expect("the reply's recipient", SENDER, upstream.outbox[0].recipients[0] if upstream.outbox[0]
                         .recipients else "")
            check.expect("the reply's In-Reply-To", "<question@example.test>", reply["In-Reply-To"])
        check.expect("the robot's answer with the search service stopped", "451 (try again later)", later,
                     ok=later.startswith("451"),
                     hint="a search service that is down is a trouble that passes: answer 451 (the sender tries "
                          "again later), not 550 (it bounces the question): .addErrback(self.try_later)"
                     if later.startswith("550") else "")
        check.expect("replies handed on while the search service was down", 1, len(upstream.outbox))
        server_health(check, robot)


def _pop3_session(port: int) -> tuple[list[bytes], list[bytes]]:
    client = poplib.POP3("127.0.0.1", port, timeout=limits.QUICK)
    try:
        client.user(ACCOUNT.user)
        client.pass_(ACCOUNT.password)
        uids = [line.split()[1] for line in client.uidl()[1]]
        count = client.stat()[0]
        messages = [b"\n".join(client.retr(number)[1]) + b"\n" for number in range(1, count + 1)]
        client.quit()
        return uids, messages
    finally:
        client.close()


def check_fixed_inbox(factory_for) -> None:
    """Exercise 8.3: ``factory_for(root)`` is a POP3 factory whose mailbox (a ``maildir.MaildirMailbox``
    subclass) reads messages as bytes (RETR answers) and gives each message its own UID (UIDL)."""
    with Check("UIDL and RETR answer from your Maildir mailbox",
               hint="def getMessage(self, i): return open(self.list[i], 'rb'); def getUidl(self, i): return "
                    "md5(os.path.basename(self.list[i])).hexdigest().encode('ascii')") as check:
        root = _mail_folder(check)
        expected = [_message(number).replace(b"\r\n", b"\n") for number in (1, 2)]
        for number, data in enumerate(expected, 1):
            (root / ACCOUNT.user / "new" / f"17645796{number:02d}.check{number}.example").write_bytes(data)
        served = check.serve(factory_for(root), "check-pop3")
        uids, messages, problem = [], [], ""  # a server that never answers costs the check limits.QUICK
        try:
            uids, messages = _pop3_session(served.port)
        except (poplib.error_proto, OSError, EOFError) as error:
            problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        check.show(served.transcript)
        if unwritten(check, served):
            return
        check.expect("the session", "ended with QUIT", problem or "ended with QUIT",
                     hint="RETR got no answer: getMessage must open the file in binary mode ('rb'), the server "
                          "works in bytes")
        check.expect("UIDs", "two different ones", uids, ok=len(set(uids)) == 2)
        check.expect("messages, byte for byte", [short(m) for m in expected], [short(m) for m in messages],
                     ok=messages == expected)
        server_health(check, served, hint="the server works in bytes: getMessage must open the file with 'rb', "
                                          "and getUidl must return bytes (md5(...).hexdigest().encode('ascii'))")


def _imap_login(port: int) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=limits.REPLY)
    client.login(ACCOUNT.user, ACCOUNT.password)
    return client


def _uids(client: imaplib.IMAP4) -> list[int]:
    _, [found] = client.uid("SEARCH", "ALL")
    return [int(uid) for uid in found.split()]


def check_expunge(factory_for) -> None:
    """Exercise 8.4: ``factory_for(root)`` is an IMAP factory whose folder's ``expunge`` removes the files of
    the messages flagged ``\\Deleted`` and returns their sequence numbers, highest first; the other messages
    keep their UIDs, also after a restart."""
    with Check("EXPUNGE removes exactly the \\Deleted messages and reports them highest first",
               hint="gone = [number for number, m in enumerate(self.messages, 1) if '\\\\Deleted' in "
                    "m.getFlags()]; os.remove each one's path; self.rescan(); return gone[::-1]") as check:
        root = _mail_folder(check)
        for number in range(1, 5):
            (root / ACCOUNT.user / "new" / f"17645796{number:02d}.check{number}.example").write_bytes(
                _message(number).replace(b"\r\n", b"\n"))
        served = check.serve(factory_for(root), "check-imap")
        reported, before, after, problem = [], [], [], ""
        try:
            with _imap_login(served.port) as client:
                client.select("INBOX")
                before = _uids(client)
                client.store("2,3", "+FLAGS", "(\\Deleted)")
                _, reported = client.expunge()
                reported = [int(number) for number in reported if number]
                client.logout()
        except (imaplib.IMAP4.error, OSError) as error:
            problem = f"{type(error).__name__}: {error}"
        check.show(served.transcript)
        if unwritten(check, served):
            return
        served.stop()
        again = check.serve(factory_for(root), "check-imap-again")  # a restart on the same folder
        try:
            with _imap_login(again.port) as client:
                client.select("INBOX", readonly=True)
                after = _uids(client)
                client.logout()
        except (imaplib.IMAP4.error, OSError) as error:
            problem = problem or f"after a restart: {type(error).__name__}: {error}"
        check.expect("the session", "no error", problem or "no error")
        check.expect("EXPUNGE responses", [3, 2], reported,
                     hint="return the sequence numbers highest first (gone[::-1]): each EXPUNGE renumbers the "
                          "messages after it" if reported == [2, 3] else "")
        check.expect("UIDs after a restart", [before[0], before[3]] if len(before) == 4 else "four UIDs", after,
                     hint="remove the files (os.remove(message.path)): what stays in new/ or cur/ is still mail")
        check.expect("message files left", 2, len(_delivered(root, ACCOUNT.user)))
        server_health(check, again)


def check_new_mail_pushed(system_for) -> None:
    """Exercise 8.5: ``system_for(root)`` is ``(smtp_factory, imap_factory)`` on the same Maildirs; a client
    that selected INBOX hears ``* N EXISTS`` (N: every message now in the folder) as soon as SMTP has
    delivered, without sending a command."""
    with Check("a selected IMAP client hears of new mail at once",
               hint="in notify: for listener in list(self.listeners): listener.newMessages(len(self.messages), "
                    "None)") as check:
        root = _mail_folder(check)
        (root / ACCOUNT.user / "new" / "1764579601.check1.example").write_bytes(_message(1).replace(b"\r\n",
                                                                                                     b"\n"))
        smtp_factory, imap_factory = system_for(root)
        smtp = check.serve(smtp_factory, "check-smtp")
        imap = check.serve(imap_factory, "check-imap")
        heard, problem = b"", ""
        try:
            client = _imap_login(imap.port)
            try:
                client.select("INBOX")
                with smtplib.SMTP("127.0.0.1", smtp.port, timeout=limits.REPLY) as sender:
                    sender.sendmail(SENDER, [f"{ACCOUNT.user}@example.test"], _message(2))
                try:
                    heard = client.readline()  # no command sent: only an unsolicited line can come
                except (socket.timeout, TimeoutError):
                    heard = b"(nothing)"
            finally:
                client.shutdown()
        except (imaplib.IMAP4.error, smtplib.SMTPException, OSError) as error:
            problem = f"{type(error).__name__}: {error}"
        check.show(imap.transcript)
        if unwritten(check, imap) or unwritten(check, smtp):
            return
        check.expect("the session", "no error", problem or "no error")
        check.expect("what the client heard, unasked", "* 2 EXISTS", heard.decode("ascii", "replace").strip(),
                     hint="EXISTS is how many messages the folder holds now, not how many are new: "
                          "len(self.messages)" if heard.startswith(b"* 1 EXISTS") else
                     "call every listener's newMessages(count, None) after the rescan")
        server_health(check, imap)
        server_health(check, smtp)
