"""Checks for chapter 8, Mail Servers.

Each ``check_*`` function serves what the learner built, on a Maildir folder made for the check (removed after
it), and drives it with the standard library's own clients (:mod:`labkit.checks.mail`), then looks at the answers
and at the files in the Maildir. Every client waits at most :data:`labkit.checks.limits.REPLY` seconds; every
server a check starts is stopped again. A hint names what happened: the server's answer, the command that got
none, the exception in the server's log.
"""

from __future__ import annotations

import os
import socket
from email import message_from_bytes, policy
from pathlib import Path

from labkit.checks import Check, logged_error, server_health, short, unwritten, wait_until
from labkit.checks import mail

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


def _rcpt_hint(recipients: list[str], wanted_codes: dict, answers: dict, log_error: str) -> str:
    """Why the RCPT answers differ, from the answers themselves and the errors the server raised."""
    if log_error:
        return f"the server raised {log_error} while answering RCPT (server.log has the traceback)"
    if "(the session)" in answers and len(answers) <= len(recipients):
        unanswered = recipients[len(answers) - 1]
        refuse = wanted_codes.get(unanswered) != 250
        return (f"RCPT TO:<{unanswered}> never got an answer ({answers['(the session)']})"
                + ("; refusing it failed inside Twisted, whose SMTPBadRcpt(user, code, message) wants the message "
                   "as text (str): given bytes, no answer is sent" if refuse else ""))
    codes = [code for code in answers.values() if isinstance(code, int)]
    if not codes:
        return ""
    if all(code != 250 for code in codes):
        return ("every recipient was refused, even the practice accounts: user.dest.domain is bytes, so compare it "
                "with bytes (self.domains holds bytes)")
    if any(400 <= code < 500 for code in codes):
        return ("a mailbox that does not exist is a permanent refusal, 550; a 4xx code tells the sender to try "
                "again later, for days")
    if answers.get(recipients[3]) == 250:
        return "a domain that is not in self.domains must be refused with 550: taking it makes this an open relay"
    if answers.get(recipients[2]) == 250 or answers.get(recipients[4]) == 250:
        return "refuse a user with no Maildir under self.root, and a local part that is not a folder name"
    if answers.get(recipients[1]) != 250:
        return "ADA@Lists.Example.Test was refused: names are compared lower-cased, the domain and the local part"
    return ""


def check_known_recipients(factory_for) -> None:
    """Exercise 8.1: ``factory_for(root)`` is an SMTP factory whose delivery takes mail only for the practice
    domains and only for users who have a Maildir under ``root`` (refusing the rest at RCPT with 550), and stores
    what it takes in that Maildir."""
    with Check("your delivery takes mail for existing mailboxes of the practice domains and refuses the rest",
               start="in validateTo, raise smtp.SMTPBadRcpt(user, 550, '...') for a recipient you refuse, and "
                     "return super().validateTo(user) for the others") as check:
        root = _mail_folder(check)
        served = check.serve(factory_for(root), "check-smtp")
        recipients = [f"{ACCOUNT.user}@example.test", "ADA@Lists.Example.Test", "nobody@example.test",
                      f"{ACCOUNT.user}@elsewhere.invalid", "../learner@example.test"]
        answers: dict = {}
        try:
            mail.recipient_answers(served.port, SENDER, recipients, _message, answers=answers)
        except mail.MAIL_ERRORS as error:
            answers["(the session)"] = mail.failure(error)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        wanted = {recipients[0]: 250, recipients[1]: 250, recipients[2]: 550, recipients[3]: 550,
                  recipients[4]: 550}
        check.expect("RCPT answers", wanted, answers,
                     hint=_rcpt_hint(recipients, wanted, answers, logged_error(served.log.text)))
        check.expect("messages in learner's Maildir", 1, len(_delivered(root, ACCOUNT.user)))
        check.expect("messages in ada's Maildir", 1, len(_delivered(root, "ada")))
        check.expect("folders made for refused recipients", [], sorted(
            name for name in os.listdir(root) if name not in {"users.db", ACCOUNT.user, "ada"}),
            hint="raise SMTPBadRcpt before anything is created for an unknown user")
        server_health(check, served)


def _read_at_end_of_data(served, read) -> list:
    """A list that gets ``read()``, called in the reactor thread as the server's answer to the end of a message's
    DATA (its first 250 after a 354) leaves for the client: what that answer meant, however late the check's own
    client thread gets to look (on a loaded machine, long after the server has gone on working)."""
    from labkit.wire import SERVER

    seen, record, after_354 = [], served.transcript.record, [False]

    def noting(connection, side, data):
        record(connection, side, data)
        for line in data.split(b"\r\n") if side == SERVER else ():
            if line.startswith(b"354"):
                after_354[0] = True
            elif after_354[0] and line.startswith(b"250"):
                seen.append(read())
                after_354[0] = False

    served.transcript.record = noting  # taken by each connection as it opens
    return seen


def check_lucky_reply(factory_for) -> None:
    """Exercise 8.2: ``factory_for(search_url, upstream_port)`` is the robot's SMTP factory: mail to
    ``lucky@example.test`` is answered through the SMTP server on ``upstream_port``, and the robot's 250 comes
    only once the answer has been handed on (``eomReceived`` returns the Deferred of the whole job); with the
    search service stopped, the robot answers 451 (a temporary failure: the sender tries again later)."""
    from servers.mail import smtp as practice_smtp
    from servers.web.lucky import lucky

    with Check("your robot answers before it says 250, and says 451 when it cannot answer",
               start="in eomReceived, parse self.lines into a message and return the Deferred of "
                     "self.answer(question) (a coroutine), with self.try_later as its errback") as check:
        service = lucky()
        search = check.serve(service, "check-lucky")
        upstream = practice_smtp.smtp(tls=False)
        relay = check.serve(upstream, "check-upstream")
        robot = check.serve(factory_for(search.url.rstrip("/"), relay.port), "check-robot")
        handed_on = _read_at_end_of_data(robot, lambda: len(upstream.outbox))
        topic = f"twisted deferred {os.urandom(3).hex()}"
        question = (f"From: Ada <{SENDER}>\r\nTo: lucky@example.test\r\nSubject: {topic}\r\n"
                    f"Message-ID: <question@example.test>\r\n\r\nPlease look it up.\r\n").encode()
        outcome = mail.send(robot.port, SENDER, ["lucky@example.test"], question)
        answered_at_250 = handed_on[0] if handed_on else len(upstream.outbox)
        if unwritten(check, robot):
            check.show(robot.transcript)
            return
        wait_until(lambda: upstream.outbox)  # a reply sent after the 250 (the mistake) is let finish
        search.stop()  # the search service is down: no answer can be made now
        later = mail.send(robot.port, SENDER, ["lucky@example.test"],
                          question.replace(topic.encode(), b"smtp relay"))
        check.show(robot.transcript)
        check.expect("the robot's answer to DATA", "250", outcome,
                     hint=_robot_hint(outcome, service.queries, topic,
                                      logged_error(robot.log.text,
                                                   ignore=("SMTPServerError",))))
        check.expect("replies handed on when the robot said 250", 1, answered_at_250,
                     hint="the robot said 250 before its reply had gone out: return the Deferred of the whole "
                          "job from eomReceived, so the client's 250 means the answer is on its way")
        check.expect("the query the search service got", [topic], service.queries[:1])
        if upstream.outbox:
            reply = message_from_bytes(upstream.outbox[0].data, policy=policy.default)
            check.expect("the reply's recipient", SENDER, upstream.outbox[0].recipients[0] if upstream.outbox[0]
                         .recipients else "")
            check.expect("the reply's In-Reply-To", "<question@example.test>", reply["In-Reply-To"])
        check.expect("the robot's answer with the search service stopped", "451 (try again later)", later,
                     ok=later.startswith("451"),
                     hint="with the search service down the robot answered 550, which bounces the question for "
                          "good; a service that is down is a trouble that passes: answer 451 through the errback "
                          "self.try_later" if later.startswith("550") else "")
        check.expect("replies handed on while the search service was down", 1, len(upstream.outbox))
        server_health(check, robot)


def _robot_hint(outcome: str, queries: list, topic: str, error: str) -> str:
    """Why the robot did not say 250 to a question it can answer, from its answer, the search service's queries
    and the errors raised in the server."""
    if outcome == "250":
        return ""
    if error:
        return (f"the server raised {error} at the end of DATA (server.log has the traceback)"
                + ("; a coroutine is not a Deferred until defer.ensureDeferred wraps it" if "coroutine" in error
                   else ""))
    if queries[:1] != [topic]:
        return (f"the robot answered {outcome[:3]} and the search service was asked {queries[:1]} instead of the "
                f"question's Subject: self.lines are the message's lines without their ends, so the message to "
                f"parse is them joined with b'\\n'")
    return f"the robot answered {outcome}: its job failed after the search (server.log has the traceback)"


def _download_hint(got: mail.Download, log_error: str) -> str:
    """Why the POP3 session did not end with QUIT, from the command that failed and the server's log."""
    if not got.failed_at:
        return ""
    said = f"{got.failed_at} got no answer" + (f": the server raised {log_error}" if log_error else "")
    if got.failed_at == "UIDL":
        return f"{said}; the server formats each UID into its answer as bytes: getUidl must return bytes"
    if got.failed_at.startswith("RETR"):
        return (f"{said}; the server sends the message's lines as bytes: getMessage must give a file that reads "
                "bytes")
    return said


def check_fixed_inbox(factory_for) -> None:
    """Exercise 8.3: ``factory_for(root)`` is a POP3 factory whose mailbox (a ``maildir.MaildirMailbox``
    subclass) reads messages as bytes (RETR answers) and gives each message its own UID (UIDL)."""
    with Check("UIDL and RETR answer from your Maildir mailbox",
               start="getMessage(i) returns an open file of message i (self.list[i] is its path); getUidl(i) "
                     "returns the MD5 of the file's base name") as check:
        root = _mail_folder(check)
        count = 3
        expected = [_message(number).replace(b"\r\n", b"\n") + os.urandom(4).hex().encode() + b"\n"
                    for number in range(1, count + 1)]
        names = [f"17645796{number:02d}.check{number}.example" for number in range(1, count + 1)]
        for name, data in zip(names, expected):
            (root / ACCOUNT.user / "new" / name).write_bytes(data)
        served = check.serve(factory_for(root), "check-pop3")
        got = mail.pop3_download(served.port, ACCOUNT.user, ACCOUNT.password)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        error = logged_error(served.log.text)
        check.expect("the session", "ended with QUIT", got.ended, hint=_download_hint(got, error))
        from hashlib import md5

        wanted = sorted(md5(name.encode()).hexdigest().encode() for name in names)
        check.expect("UIDs (sorted)", wanted, sorted(got.uids),
                     hint="each message's UID is the MD5 of its own file's base name, as bytes: "
                          "os.path.basename(self.list[i])")
        check.expect("messages, byte for byte", [short(m) for m in expected], [short(m) for m in got.messages],
                     ok=got.messages == expected,
                     hint="RETR n asks for getMessage(n - 1): the file of self.list[i], the whole file")
        server_health(check, served)


def _expunge_hint(reported: list, wanted: list) -> str:
    if sorted(reported) == sorted(wanted):
        return "each EXPUNGE response renumbers the messages after it: report the numbers highest first"
    if reported and sorted(number + 1 for number in reported) == sorted(wanted):
        return "sequence numbers count from 1 (enumerate(self.messages, 1)), not from 0"
    return "report the sequence number of every message whose flags hold \\Deleted, and only those"


def check_expunge(factory_for) -> None:
    """Exercise 8.4: ``factory_for(root)`` is an IMAP factory whose folder's ``expunge`` removes the files of
    the messages flagged ``\\Deleted`` and returns their sequence numbers, highest first; the other messages
    keep their UIDs, in the same session and after a restart."""
    import random

    with Check("EXPUNGE removes exactly the \\Deleted messages and reports them highest first",
               start="in expunge, find the sequence numbers (from 1) of the messages flagged \\Deleted, remove "
                     "their files, read the folder again and return the numbers") as check:
        root = _mail_folder(check)
        total = 5
        for number in range(1, total + 1):
            (root / ACCOUNT.user / "new" / f"17645796{number:02d}.check{number}.example").write_bytes(
                _message(number).replace(b"\r\n", b"\n"))
        deleted = sorted(random.sample(range(2, total + 1), 2))
        served = check.serve(factory_for(root), "check-imap")
        reported, before, left, after, problem = [], [], [], [], ""
        try:
            with mail.imap_login(served.port, ACCOUNT.user, ACCOUNT.password) as client:
                client.select("INBOX")
                before = mail.imap_uids(client)
                client.store(",".join(map(str, deleted)), "+FLAGS", "(\\Deleted)")
                _, reported = client.expunge()
                reported = [int(number) for number in reported if number]
                left = mail.imap_uids(client)
                client.logout()
        except mail.MAIL_ERRORS as error:
            problem = mail.failure(error)
        check.show(served.transcript)
        if unwritten(check, served):
            return
        served.stop()
        again = check.serve(factory_for(root), "check-imap-again")  # a restart on the same folder
        try:
            with mail.imap_login(again.port, ACCOUNT.user, ACCOUNT.password) as client:
                client.select("INBOX", readonly=True)
                after = mail.imap_uids(client)
                client.logout()
        except mail.MAIL_ERRORS as error:
            problem = problem or f"after a restart: {mail.failure(error)}"
        error = logged_error(served.log.text)
        check.expect("the session", "no error", problem or "no error",
                     hint=f"the server raised {error} (server.log has the traceback)" if error else "")
        wanted = deleted[::-1]
        check.expect("EXPUNGE responses", wanted, reported, sent=f"STORE {','.join(map(str, deleted))} "
                     "+FLAGS (\\Deleted), then EXPUNGE",
                     hint=_expunge_hint(reported, wanted))
        kept = [uid for number, uid in enumerate(before, 1) if number not in deleted]
        check.expect("message files left", total - len(deleted), len(_delivered(root, ACCOUNT.user)),
                     hint="the \\Deleted messages' files are still in new/ or cur/, where they are still mail: "
                          "remove them (os.remove(message.path))")
        check.expect("UIDs in the same session, after EXPUNGE", kept, left,
                     hint="the folder still lists the removed messages: read the folder again after removing "
                          "their files (self.rescan())")
        check.expect("UIDs after a restart", kept, after)
        server_health(check, again)


def _heard_hint(heard: bytes, error: str) -> str:
    if error:
        return f"the server raised {error} while telling the client (server.log has the traceback)"
    if heard.startswith(b"* 1 EXISTS"):
        return "EXISTS is how many messages the folder holds now, not how many are new: len(self.messages)"
    if heard == b"(nothing)":
        return "the client heard nothing: call every listener's newMessages after the folder has been read again"
    return "newMessages(exists, recent) takes the number of messages first, then the recent count (None)"


def check_new_mail_pushed(system_for) -> None:
    """Exercise 8.5: ``system_for(root)`` is ``(smtp_factory, imap_factory)`` on the same Maildirs; every
    client that selected INBOX hears ``* N EXISTS`` (N: every message now in the folder) as soon as SMTP has
    delivered, without sending a command."""
    import random

    with Check("a selected IMAP client hears of new mail at once",
               start="in notify, tell each of self.listeners how many messages the folder holds now "
                     "(IMailboxListener.newMessages)") as check:
        root = _mail_folder(check)
        present = random.randint(1, 3)
        for number in range(1, present + 1):
            (root / ACCOUNT.user / "new" / f"17645796{number:02d}.check{number}.example").write_bytes(
                _message(number).replace(b"\r\n", b"\n"))
        smtp_factory, imap_factory = system_for(root)
        smtp = check.serve(smtp_factory, "check-smtp")
        imap = check.serve(imap_factory, "check-imap")
        heard, problem = [], ""
        try:
            watchers = [mail.imap_login(imap.port, ACCOUNT.user, ACCOUNT.password) for _ in range(2)]
            try:
                for watcher in watchers:
                    watcher.select("INBOX")
                sent = mail.send(smtp.port, SENDER, [f"{ACCOUNT.user}@example.test"], _message(present + 1))
                problem = "" if sent == "250" else f"sending: {sent}"
                for watcher in watchers:
                    try:
                        heard.append(watcher.readline())  # no command sent: only an unsolicited line can come
                    except (socket.timeout, TimeoutError):
                        heard.append(b"(nothing)")
            finally:
                for watcher in watchers:
                    watcher.shutdown()
        except mail.MAIL_ERRORS as error:
            problem = mail.failure(error)
        check.show(imap.transcript)
        if unwritten(check, imap) or unwritten(check, smtp):
            return
        check.expect("the session", "no error", problem or "no error")
        lines = [line.decode("ascii", "replace").strip() for line in heard]
        first_wrong = next((line for line in heard if not line.startswith(b"* %d EXISTS" % (present + 1))), b"")
        check.expect("what each of two selected clients heard, unasked", [f"* {present + 1} EXISTS"] * 2, lines,
                     hint=_heard_hint(first_wrong, logged_error(imap.log.text)))
        server_health(check, imap)
        server_health(check, smtp)
