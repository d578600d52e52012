"""Chapter 8: the labs' mail servers (notebooks/programs/ch08, the reference solutions) with independent clients
(smtplib, poplib, imaplib, curl), run in the test process and as real programs; the reliability the chapter
promises: no message acknowledged with 250 is lost (a server killed right after 250 still serves it when
started again), a connection dropped mid-DATA leaves nothing behind, concurrent deliveries each arrive once,
the limits hold, and POP3 and IMAP see the same Maildir while SMTP delivers into it."""

from __future__ import annotations

import concurrent.futures
import email
import email.policy
import imaplib
import os
import poplib
import signal
import smtplib
import socket
import subprocess
import sys
from hashlib import md5
from pathlib import Path

import pytest
from twisted.internet import defer
from twisted.mail import maildir, smtp

import labkit
import labkit.testing
from labkit.checks import wait_until
from labkit.testing import Mistake, exercise_tests
from servers import accounts
from servers.mail import smtp as practice_smtp
from servers.web.lucky import lucky, page_html
from tests import mail_peers
from tests.mail_peers import imap_login, pop_login
from tests.peers import need

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08-mail-servers.ipynb"


def write_programs() -> Path:
    """The chapter's %%program cells, as the notebook has them, in a folder of their own."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ch08-programs-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    labkit.testing.write_programs(8, folder)
    return folder


PROGRAMS = write_programs()
sys.path.insert(0, str(PROGRAMS))

import imap_maildir  # noqa: E402
import lucky_mail  # noqa: E402
import mail_notify  # noqa: E402
import pop3_maildir  # noqa: E402
import smtp_maildir  # noqa: E402

ACCOUNT = accounts.accounts("mail")[0]
WAIT = 10


def message(number: int, subject: str = "") -> bytes:
    return (f"From: ada@example.test\r\nTo: {ACCOUNT.user}@example.test\r\nSubject: {subject or f'number {number}'}"
            f"\r\nMessage-ID: <m{number}@example.test>\r\n\r\nmessage number {number}\r\n").encode()


def stored(root: Path, user: str = ACCOUNT.user) -> list[bytes]:
    """The messages in a user's Maildir (new/ and cur/), in name order; tmp/ is not mail."""
    folder = root / user
    return [path.read_bytes() for part in ("new", "cur") if (folder / part).exists()
            for path in sorted((folder / part).iterdir())]


def temporary(root: Path, user: str = ACCOUNT.user) -> list[str]:
    folder = root / user / "tmp"
    return sorted(os.listdir(folder)) if folder.exists() else []


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    pop3_maildir.add_users(folder, [(a.user, a.password) for a in accounts.accounts("mail")])
    return folder


@pytest.fixture
def smtp_server(root):
    served = labkit.serve(smtp_maildir.MaildirSMTPFactory(root), name="ch08-smtp", show=False)
    yield served
    served.stop()


def send(port: int, *messages: bytes, recipients=(f"{ACCOUNT.user}@example.test",)) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        for data in messages:
            client.sendmail("ada@example.test", list(recipients), data)


# --- 8-1: delivery into Maildir ----------------------------------------------------------------------------------

def test_a_message_lands_in_new_with_a_received_header_and_nothing_in_tmp(root, smtp_server):
    send(smtp_server.port, message(1))
    [kept] = stored(root)
    assert kept.startswith(b"Received: from ") and b"\r\n" not in kept  # Maildir files end lines with LF
    assert kept.endswith(message(1).replace(b"\r\n", b"\n"))
    assert temporary(root) == []


def test_the_books_str_domains_refuse_every_recipient(root):
    """The book compared bytes (user.dest.domain) with str: on Python 3 nothing is ever in the list."""
    class BookDelivery(smtp_maildir.MaildirDelivery):
        def validateTo(self, user):
            if user.dest.domain not in ["example.test"]:
                raise smtp_maildir.smtp.SMTPBadRcpt(user)
            return super().validateTo(user)

    class BookFactory(smtp_maildir.MaildirSMTPFactory):
        def buildProtocol(self, addr):
            server = super().buildProtocol(addr)
            server.delivery = BookDelivery(self.root)
            return server

    served = labkit.serve(BookFactory(root), name="ch08-book", show=False)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send(served.port, message(1))
    finally:
        served.stop()
    assert stored(root) == []


def test_relaying_is_refused_and_a_path_is_not_a_mailbox_name(root, smtp_server):
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        client.ehlo()
        code, answer = client.docmd("MAIL FROM:<ada@example.test>")
        assert code == 250
        code, answer = client.docmd("RCPT TO:<someone@elsewhere.invalid>")
        assert code == 550 and b"relaying denied" in answer
        code, answer = client.docmd("RCPT TO:<../../etc@example.test>")
        assert code == 550
    assert not (root.parent / "etc").exists() and stored(root) == []


def test_limits_size_recipients_and_line_length(root, smtp_server):
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == smtp_maildir.MAX_MESSAGE
        big = message(1) + b"x" * 1000 + b"\r\n"
        big *= 2 * smtp_maildir.MAX_MESSAGE // len(big)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # smtplib declares SIZE=: refused at MAIL
            client.sendmail("ada@example.test", [f"{ACCOUNT.user}@example.test"], big)
        assert refused.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        client.helo()  # no SIZE declared: the server counts the lines and refuses after DATA
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("ada@example.test", [f"{ACCOUNT.user}@example.test"], big)
        assert refused.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        client.ehlo()
        many = [f"user{n}@example.test" for n in range(smtp_maildir.MAX_RECIPIENTS + 5)]
        client.sendmail("ada@example.test", many, message(2))  # the first MAX_RECIPIENTS get it
        client.mail("ada@example.test")
        for n in range(smtp_maildir.MAX_RECIPIENTS):
            assert client.rcpt(f"r{n}@example.test")[0] == 250
        assert client.rcpt("one-too-many@example.test")[0] == 452
        client.rset()
    assert sum(len(stored(root, f"user{n}")) for n in range(smtp_maildir.MAX_RECIPIENTS + 5)) == \
        smtp_maildir.MAX_RECIPIENTS
    assert all(temporary(root, name) == [] for name in os.listdir(root) if (root / name).is_dir())
    with socket.create_connection(("127.0.0.1", smtp_server.port), timeout=WAIT) as sock:
        sock.recv(1024)
        sock.sendall(b"EHLO " + b"x" * (smtp_maildir.MAX_LINE + 10) + b"\r\n")
        answer = b""
        while chunk := sock.recv(1024):
            answer += chunk
        assert answer.startswith(b"500")  # and the server hung up (recv returned b"")
    assert stored(root) == []


def test_a_connection_dropped_mid_data_leaves_nothing(root, smtp_server):
    with socket.create_connection(("127.0.0.1", smtp_server.port), timeout=WAIT) as sock:
        replies = sock.makefile("rb")
        replies.readline()
        for command in (b"HELO test", b"MAIL FROM:<ada@example.test>", f"RCPT TO:<{ACCOUNT.user}@example.test>"
                        .encode(), b"DATA"):
            sock.sendall(command + b"\r\n")
            assert replies.readline()[:1] in b"23"
        sock.sendall(b"Subject: half\r\n\r\nthe first half of a message")
        assert wait_until(lambda: len(temporary(root)) == 1)  # being written
        replies.close()  # the socket closes only once its file is closed too
    assert wait_until(lambda: temporary(root) == [])
    assert stored(root) == []
    send(smtp_server.port, message(2))  # and the server takes the next one
    assert len(stored(root)) == 1


def test_garbage_and_a_stalled_client_do_not_hold_up_others(root, smtp_server):
    stalled = socket.create_connection(("127.0.0.1", smtp_server.port), timeout=WAIT)
    garbage = socket.create_connection(("127.0.0.1", smtp_server.port), timeout=WAIT)
    try:
        stalled.sendall(b"HELO stall\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<learner@example.test>\r\nDATA\r\n"
                        b"Subject: never ends")
        garbage.sendall(bytes(range(256)) * 8 + b"\r\n\x00\xff\r\n")
        send(smtp_server.port, message(1))
        assert len(stored(root)) == 1
    finally:
        stalled.close()
        garbage.close()


def test_twenty_concurrent_deliveries_each_arrive_once(root, smtp_server):
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda number: send(smtp_server.port, message(number)), range(20)))
    ids = sorted(email.message_from_bytes(kept)["Message-ID"] for kept in stored(root))
    assert ids == sorted(f"<m{number}@example.test>" for number in range(20))
    assert temporary(root) == []


# --- as real programs: killed right after 250, started again --------------------------------------------------------

def start(program: str, *args) -> tuple[subprocess.Popen, list[int]]:
    process = subprocess.Popen([sys.executable, str(PROGRAMS / program), *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    assert "port" in line, f"{program} said {line!r}: {process.stdout.read() if process.poll() is not None else ''}"
    import re

    ports = [int(port) for port in re.findall(r"port (\d+)", line)]
    for port in ports:  # greeted: the reactor runs, with its Ctrl-C handler in place
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
            assert sock.recv(1024), f"{program} did not greet on port {port}"
    return process, ports


def stop(process: subprocess.Popen, how=signal.SIGINT) -> int:
    """Ctrl-C's signal, and the exit status; a program that outlives it is killed and the test fails."""
    process.send_signal(how)
    try:
        return process.wait(WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"{process.args[1]} went on after signal {how}: {process.stdout.read()}") from None
    finally:
        process.stdout.close()


FIGURES: dict[str, int] = {}


def test_acknowledged_mail_survives_a_kill_and_a_restart_served_by_pop3_and_imap(root):
    """The reliability figures of the chapter's closing note: sent, acknowledged, found after a restart."""
    smtp, [port] = start("smtp_maildir.py", root)
    sent = acknowledged = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
            for number in range(10):
                sent += 1
                client.sendmail("ada@example.test", [f"{ACCOUNT.user}@example.test"], message(number))
                acknowledged += 1  # sendmail returned: the server said 250
            os.kill(smtp.pid, signal.SIGKILL)  # no goodbye, no chance to tidy up
    except smtplib.SMTPServerDisconnected:
        pass
    finally:
        smtp.wait(WAIT)
        smtp.stdout.close()
    smtp, [port] = start("smtp_maildir.py", root)  # started again on the same folder
    stop(smtp)
    pop, [pop_port] = start("pop3_maildir.py", root)
    imap, [imap_port] = start("imap_maildir.py", root)
    try:
        client = poplib.POP3("127.0.0.1", pop_port, timeout=WAIT)
        client.user(ACCOUNT.user)
        client.pass_(ACCOUNT.password)
        found = [b"\r\n".join(client.retr(n)[1]) for n in range(1, client.stat()[0] + 1)]
        client.quit()
        with imaplib.IMAP4("127.0.0.1", imap_port, timeout=WAIT) as reader:
            reader.login(ACCOUNT.user, ACCOUNT.password)
            reader.select("INBOX", readonly=True)
            _, [numbers] = reader.search(None, "ALL")
    finally:
        assert stop(pop) is not None and stop(imap) is not None
    FIGURES.update(sent=sent, acknowledged=acknowledged, found_by_pop3=len(found),
                   found_by_imap=len(numbers.split()))
    print("reliability figures:", FIGURES)
    assert sent == acknowledged == len(found) == len(numbers.split()) == 10
    assert sorted(email.message_from_bytes(m)["Message-ID"] for m in found) == sorted(
        f"<m{n}@example.test>" for n in range(10))


def test_a_program_stops_on_ctrl_c(root):
    for program in ("smtp_maildir.py", "pop3_maildir.py", "imap_maildir.py"):
        process, _ = start(program, root)
        assert stop(process) in (0, 1)


# --- 8-3: POP3 over the same Maildir, with chapter 6's hashed passwords ---------------------------------------------

def fill(root: Path, count: int = 3, user: str = ACCOUNT.user) -> None:
    """Deliver ``count`` messages through the lab's own SMTP server (the way mail gets there)."""
    served = labkit.serve(smtp_maildir.MaildirSMTPFactory(root), name="ch08-fill", show=False)
    try:
        send(served.port, *(message(n) for n in range(count)), recipients=(f"{user}@example.test",))
    finally:
        served.stop()


def test_pop3_serves_what_smtp_delivered_and_refuses_a_wrong_password(root):
    fill(root)
    served = labkit.serve(pop3_maildir.POP3Factory(root), name="ch08-pop3", show=False)
    try:
        client = pop_login(served.port)
        assert client.stat()[0] == 3
        uidls = [line.split()[1] for line in client.uidl()[1]]
        assert len(set(uidls)) == 3 and all(len(uid) == 32 for uid in uidls)
        bodies = [b"\r\n".join(client.retr(n)[1]) + b"\r\n" for n in (1, 2, 3)]
        client.quit()
        assert [m.split(b"\r\n", 2)[2] for m in bodies] == [message(n) for n in range(3)]  # after Received
        with pytest.raises(poplib.error_proto):
            pop_login(served.port, "wrong")
    finally:
        served.stop()


def test_twisteds_own_maildir_mailbox_never_answers_retr_and_the_subclass_does(root):
    fill(root, 1)
    from twisted.mail import maildir

    served = labkit.serve(pop3_maildir.POP3Factory(root, maildir.MaildirMailbox), name="ch08-pop3-bug", show=False)
    served.log.errors_shown_in_cell = False  # its TypeError is expected
    try:
        client = poplib.POP3("127.0.0.1", served.port, timeout=2)
        client.user(ACCOUNT.user)
        client.pass_(ACCOUNT.password)
        with pytest.raises((TimeoutError, socket.timeout)):
            client.retr(1)  # Twisted logs a TypeError and never answers
        client.close()
    finally:
        served.stop()


def test_twisteds_own_maildir_mailbox_drops_the_connection_at_dele(root):
    fill(root, 1)
    from twisted.mail import maildir

    served = labkit.serve(pop3_maildir.POP3Factory(root, maildir.MaildirMailbox), name="ch08-pop3-bug", show=False)
    served.log.errors_shown_in_cell = False  # its TypeError is expected
    try:
        client = pop_login(served.port)
        with pytest.raises(poplib.error_proto, match="EOF"):
            client.dele(1)  # a str and a bytes path joined: TypeError, and another in the error's own answer
        client.close()
        assert wait_until(lambda: "TypeError" in served.log.text)
    finally:
        served.stop()
    assert len(stored(root)) == 1


def test_dele_only_marks_until_quit_and_rset_unmarks(root):
    """RFC 1939: messages marked with DELE are removed in the UPDATE state, after QUIT, and only then."""
    fill(root, 3)
    trash = root / ACCOUNT.user / ".Trash" / "cur"
    served = labkit.serve(pop3_maildir.POP3Factory(root), name="ch08-pop3", show=False)
    try:
        client = pop_login(served.port)
        client.dele(1)
        with pytest.raises(poplib.error_proto, match="already deleted"):
            client.dele(1)
        with pytest.raises(poplib.error_proto):
            client.retr(1)  # a marked message is gone for the rest of the session
        client.close()  # the session breaks off: nothing is removed
        assert wait_until(lambda: "closed (" in str(served.transcript).rsplit("\n", 1)[-1])
        assert len(stored(root)) == 3 and os.listdir(trash) == []

        client = pop_login(served.port)
        client.dele(2)
        assert client.stat()[0] == 2  # RFC 1939: a marked message is not counted, nor listed
        assert [entry.split()[0] for entry in client.list()[1]] == [b"1", b"3"]
        assert [entry.split()[0] for entry in client.uidl()[1]] == [b"1", b"3"]
        client.rset()  # unmarked
        assert client.stat()[0] == 3
        client.quit()
        assert len(stored(root)) == 3 and os.listdir(trash) == []

        client = pop_login(served.port)
        client.dele(2)
        client.quit()  # UPDATE: message 2 moves to .Trash/
        assert len(stored(root)) == 2 and len(os.listdir(trash)) == 1
        assert b"message number 1" in (trash / os.listdir(trash)[0]).read_bytes()

        client = pop_login(served.port)
        subjects = [email.message_from_bytes(b"\r\n".join(client.retr(n)[1]))["Subject"] for n in (1, 2)]
        client.quit()
        assert subjects == ["number 0", "number 2"]
    finally:
        served.stop()


def test_twisteds_apop_check_refuses_the_right_digest():
    from hashlib import md5

    from twisted.mail import pop3

    magic, password = b"<1.2@test>", ACCOUNT.password.encode()
    digest = md5(magic + password).hexdigest().encode()
    assert not pop3.APOPCredentials(magic, b"learner", digest).checkPassword(password)


# --- 8-4: IMAP on the same Maildir -----------------------------------------------------------------------------------


def uids(client: imaplib.IMAP4) -> list[int]:
    _, [found] = client.uid("SEARCH", "ALL")
    return [int(uid) for uid in found.split()]


def test_imap_uids_stay_across_restarts_flags_live_in_file_names_and_expunge_removes(root):
    fill(root, 3)
    served = labkit.serve(imap_maildir.IMAPFactory(root), name="ch08-imap", show=False)
    try:
        with imap_login(served.port) as client:
            client.select("INBOX")
            first = uids(client)
            assert first == [1, 2, 3]
            client.store("2", "+FLAGS", r"(\Deleted \Flagged)")
            client.store("1", "+FLAGS", r"(\Seen)")
            _, flags = client.fetch("1:3", "(UID FLAGS)")
            assert [b"\\Seen" in f for f in flags] == [True, False, False]
            _, gone = client.expunge()
            assert gone == [b"2"]
            assert uids(client) == [1, 3]
            client.logout()
    finally:
        served.stop()
    names = sorted(os.listdir(root / ACCOUNT.user / "cur")) + sorted(os.listdir(root / ACCOUNT.user / "new"))
    assert len(names) == 2 and names[0].endswith(":2,S")
    fill(root, 1)
    again = labkit.serve(imap_maildir.IMAPFactory(root), name="ch08-imap", show=False)  # a restart
    try:
        with imap_login(again.port) as client:
            status, [validity] = client.select("INBOX")
            assert uids(client) == [1, 3, 4]  # the old ones kept theirs; the new one got the next
            _, [answer] = client.fetch("1", "(FLAGS)")
            assert b"\\Seen" in answer
            client.logout()
    finally:
        again.stop()


def test_pop3_and_imap_see_the_same_maildir_while_smtp_delivers(root):
    smtp = labkit.serve(smtp_maildir.MaildirSMTPFactory(root), name="ch08-smtp", show=False)
    pop = labkit.serve(pop3_maildir.POP3Factory(root), name="ch08-pop3", show=False)
    imap = labkit.serve(imap_maildir.IMAPFactory(root), name="ch08-imap", show=False)
    try:
        def look() -> tuple[int, int]:
            reader = pop_login(pop.port)
            count = reader.stat()[0]
            whole = [email.message_from_bytes(b"\r\n".join(reader.retr(n)[1])) for n in range(1, count + 1)]
            reader.quit()
            assert all(m["Message-ID"] and m.get_payload().startswith("message number") for m in whole)
            with imap_login(imap.port) as client:
                client.select("INBOX", readonly=True)
                found = uids(client)
                client.logout()
            assert found == sorted(set(found)) and len(found) >= count  # never a half message, never less
            return count, len(found)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            sending = pool.submit(lambda: [send(smtp.port, message(n)) for n in range(30)])
            seen = [look()]
            while not sending.done():
                seen.append(look())
            sending.result()
        seen.append(look())  # every delivery has been answered: both must now see all thirty
    finally:
        for served in (smtp, pop, imap):
            served.stop()
    assert seen[-1] == (30, 30)


# --- 8-5: a delivery announced to a connected IMAP client ------------------------------------------------------------

def test_a_delivery_is_announced_as_exists_to_a_selected_client_without_asking(root):
    smtp_factory, imap_factory = mail_notify.mail_system(root)
    smtp = labkit.serve(smtp_factory, name="ch08-notify-smtp", show=False)
    imap = labkit.serve(imap_factory, name="ch08-notify-imap", show=False)
    try:
        with imap_login(imap.port) as client:
            client.select("INBOX")
            send(smtp.port, message(1))
            client.sock.settimeout(WAIT)
            assert client.readline() == b"* 1 EXISTS\r\n"  # unsolicited: no command was sent
            client.logout()
    finally:
        smtp.stop()
        imap.stop()


@pytest.fixture
def aiosmtpd(tmp_path):
    """aiosmtpd (PyPI), a real SMTP server, on a free loopback port, delivering into a Maildir."""
    with mail_peers.aiosmtpd(tmp_path / "box") as port:
        yield port, tmp_path / "box"


# --- 8-2: mail as a user interface ---------------------------------------------------------------------------------

def ask(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        client.sendmail("ada@example.test", ["lucky@example.test"],
                        f"From: Ada <ada@example.test>\r\nTo: lucky@example.test\r\nSubject: {subject}\r\n"
                        f"Message-ID: <q1@example.test>\r\n\r\n?\r\n".encode())


def test_the_robot_answers_through_the_practice_smtp_server_before_its_250():
    service = lucky()
    search = labkit.serve(service, name="ch08-lucky", show=False)
    upstream = practice_smtp.smtp(tls=False)
    relay = labkit.serve(upstream, name="ch08-upstream", show=False)
    robot = labkit.serve(lucky_mail.LuckySMTPFactory(labkit.get_reactor(), "lucky@example.test", search.url.rstrip("/"),
                                                     relay.port), name="ch08-robot", show=False)
    try:
        ask(robot.port, "How does a Maildir work?")
        assert len(upstream.outbox) == 1  # sent on before the robot said 250
        reply = email.message_from_bytes(upstream.outbox[0].data, policy=email.policy.default)
        assert reply["To"].addresses[0].addr_spec == "ada@example.test" and reply["In-Reply-To"] == "<q1@example.test>"
        text, page = [part.get_content() for part in reply.iter_parts()]
        assert text.rstrip().endswith("/pages/maildir")
        assert page.encode() == page_html("maildir")
        ask(robot.port, "nothing matches this")
        nothing = email.message_from_bytes(upstream.outbox[1].data, policy=email.policy.default)
        assert "Nothing was found" in nothing.get_content()
        assert service.queries == ["How does a Maildir work?", "nothing matches this"]
    finally:
        for served in (search, relay, robot):
            served.stop()


def test_the_robot_answers_451_while_the_search_service_or_the_relay_is_down():
    """A failure that passes gets 4xx (RFC 5321: the sender keeps the question and offers it again later)."""
    service = lucky()
    search = labkit.serve(service, name="ch08-lucky", show=False)
    upstream = practice_smtp.smtp(tls=False)
    relay = labkit.serve(upstream, name="ch08-upstream", show=False)
    robot = labkit.serve(lucky_mail.LuckySMTPFactory(labkit.get_reactor(), "lucky@example.test",
                                                     search.url.rstrip("/"), relay.port), name="ch08-robot", show=False)
    try:
        relay.stop()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            ask(robot.port, "smtp relay")
        assert refused.value.smtp_code == 451 and b"ConnectionRefusedError" in refused.value.smtp_error
        assert service.queries == ["smtp relay"]  # the search was made; the hand-over failed
        search.stop()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            ask(robot.port, "twisted")
        assert refused.value.smtp_code == 451 and service.queries == ["smtp relay"]
        assert upstream.outbox == []
        assert "Traceback" not in robot.log.text  # a refusal the robot chose is no error
    finally:
        for served in (search, relay, robot):
            served.stop()


def test_a_failure_that_is_not_an_smtp_error_still_gets_twisteds_550_and_is_logged():
    class Broken(lucky_mail.Question):
        async def answer(self, question):
            raise ValueError("a bug in the robot")

        def eomReceived(self):
            return defer.ensureDeferred(self.answer(None))  # no try_later: the bug reaches the protocol

    robot = labkit.serve(lucky_mail.LuckySMTPFactory(labkit.get_reactor(), "lucky@example.test", "http://127.0.0.1:9",
                                                     9, Broken), name="ch08-robot", show=False)
    robot.log.errors_shown_in_cell = False  # its ValueError is expected
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            ask(robot.port, "anything")
        assert refused.value.smtp_code == 550
        assert wait_until(lambda: "a bug in the robot" in robot.log.text)
    finally:
        robot.stop()


def test_the_robot_check_reads_what_was_handed_on_when_the_robot_said_250_not_when_its_client_looks(monkeypatch):
    """A robot that says 250 before its reply is out (8.2's mistake) still finishes the reply a moment later; on a
    loaded machine the check's client thread looked only after that and the mistake lost its hint. Here that
    thread is 0.3 s late: the check still sees that nothing had been handed on at the 250."""
    import time

    from labkit.chapters import ch08
    from labkit.testing import fails

    class EarlyQuestion(lucky_mail.Question):
        def eomReceived(self):
            question = email.message_from_bytes(b"\n".join(self.lines), policy=email.policy.default)
            defer.ensureDeferred(self.answer(question)).addErrback(self.try_later)
            return defer.succeed(None)

    def factory_for(search_url, upstream_port):
        return lucky_mail.LuckySMTPFactory(labkit.get_reactor(), "lucky@example.test", search_url, upstream_port,
                                           EarlyQuestion)

    send = ch08.mail.send

    def late_send(*args, **kwargs):
        answer = send(*args, **kwargs)
        time.sleep(0.3)
        return answer

    monkeypatch.setattr(ch08.mail, "send", late_send)
    assert "the robot said 250 before its reply had gone out" in fails(ch08.check_lucky_reply, factory_for)


def test_twisted_still_answers_the_end_of_data_through_its_private_messageHandled(root):
    """The robot of 8.2 (RobotSMTP) overrides Twisted's private ESMTP._messageHandled to answer 451. Should Twisted
    rename it or change what it is given, the override would silently never run (the robot would answer 550
    again): this fails first, naming the method."""
    assert callable(getattr(smtp.ESMTP, "_messageHandled", None)), (
        "Twisted's ESMTP has no _messageHandled any more: RobotSMTP's override in notebook 08 (8.2) never runs")
    given = []

    class Recording(smtp_maildir.MaildirSMTP):
        def _messageHandled(self, results):
            given.append(list(results))
            super()._messageHandled(results)

    class Factory(smtp_maildir.MaildirSMTPFactory):
        def buildProtocol(self, addr):
            server = super().buildProtocol(addr)
            server.__class__ = Recording
            return server

    served = labkit.serve(Factory(root), name="ch08-recording", show=False)
    try:
        send(served.port, message(1), recipients=(f"{ACCOUNT.user}@example.test", "ada@example.test"))
    finally:
        served.stop()
    assert given == [[(True, None), (True, None)]], (
        f"Twisted called ESMTP._messageHandled with {given!r}, not one (success, result) pair per recipient: "
        "RobotSMTP's override in notebook 08 (8.2) must follow")


def test_the_robots_reply_reaches_aiosmtpd_a_real_smtp_server(aiosmtpd):
    port, box = aiosmtpd
    search = labkit.serve(lucky(), name="ch08-lucky", show=False)
    robot = labkit.serve(lucky_mail.LuckySMTPFactory(labkit.get_reactor(), "lucky@example.test",
                                                     search.url.rstrip("/"), port), name="ch08-robot", show=False)
    try:
        ask(robot.port, "twisted")
        [delivered] = [path.read_bytes() for path in (box / "new").iterdir()]
    finally:
        search.stop()
        robot.stop()
    reply = email.message_from_bytes(delivered, policy=email.policy.default)
    assert reply["Subject"] == "Re: twisted" and reply["To"].addresses[0].addr_spec == "ada@example.test"
    assert [part.get_content_type() for part in reply.iter_parts()] == ["text/plain", "text/html"]


# --- curl, an independent client of all three protocols ------------------------------------------------------------

def curl(*args: str) -> str:
    program = need("curl", "curl")
    done = subprocess.run([program, "--silent", "--show-error", "--max-time", str(WAIT), *args], capture_output=True,
                          text=True, timeout=WAIT * 2)
    assert done.returncode == 0, f"curl {' '.join(args)} failed: {done.stderr}"
    return done.stdout


def test_curl_sends_with_smtp_and_reads_with_pop3_and_imap(root, tmp_path):
    smtp = labkit.serve(smtp_maildir.MaildirSMTPFactory(root), name="ch08-smtp", show=False)
    pop = labkit.serve(pop3_maildir.POP3Factory(root), name="ch08-pop3", show=False)
    imap = labkit.serve(imap_maildir.IMAPFactory(root), name="ch08-imap", show=False)
    (tmp_path / "mail.txt").write_bytes(message(7, "sent by curl"))
    login = f"{ACCOUNT.user}:{ACCOUNT.password}"
    try:
        curl(f"smtp://127.0.0.1:{smtp.port}", "--mail-from", "ada@example.test", "--mail-rcpt",
             f"{ACCOUNT.user}@example.test", "-T", str(tmp_path / "mail.txt"))
        assert len(stored(root)) == 1
        by_pop3 = curl(f"pop3://{login}@127.0.0.1:{pop.port}/1")
        by_imap = curl(f"imap://{login}@127.0.0.1:{imap.port}/INBOX;UID=1")
    finally:
        for served in (smtp, pop, imap):
            served.stop()
    for got in (by_pop3, by_imap):
        assert "Subject: sent by curl" in got and "message number 7" in got


# --- the exercises' checks, as nbgrader runs them: solutions from the notebook, typical mistakes made from them -----

MISTAKES = [
    # 8.1 KnownRecipients.validateTo
    Mistake("8.1", "compares the bytes domain with text", ("user.dest.domain.lower()", "user.dest.domain.decode().lower()"),
            hint="compare it with bytes"),
    Mistake("8.1", "any local part gets a Maildir", (" or not os.path.isdir(os.path.join(self.root, local))", ""),
            hint="refuse a user with no Maildir"),
    Mistake("8.1", "the domain is not checked, and no base class (open relay)",
            (("domain not in self.domains or ", ""),
             ("return super().validateTo(user)", "return lambda: MaildirWriter(os.path.join(self.root, local))")),
            hint="open relay"),
    Mistake("8.1", "names compared as the client wrote them", ("user.dest.local.lower()", "user.dest.local"),
            hint="lower-cased"),
    Mistake("8.1", "a temporary refusal for a missing mailbox", ("user, 550,", "user, 450,"),
            hint="permanent refusal, 550"),
    Mistake("8.1", "SMTPBadRcpt given bytes", ('"5.1.1 no such mailbox here"', 'b"5.1.1 no such mailbox here"'),
            hint="wants the message as text"),
    # 8.2 PromptQuestion.eomReceived
    Mistake("8.2", "no errback: a failed search answers 550", (".addErrback(self.try_later)", ""),
            hint="answer 451"),
    Mistake("8.2", "250 before the answer is out",
            ("return defer.ensureDeferred(self.answer(question)).addErrback(self.try_later)",
             "defer.ensureDeferred(self.answer(question)).addErrback(self.try_later)\n"
             "        return defer.succeed(None)"),
            hint="before its reply had gone out"),
    Mistake("8.2", "the coroutine returned as it is",
            ("return defer.ensureDeferred(self.answer(question)).addErrback(self.try_later)",
             "return self.answer(question)"),
            hint="not a Deferred until defer.ensureDeferred"),
    Mistake("8.2", "lines joined without their ends", ('b"\\n".join(self.lines)', 'b"".join(self.lines)'),
            hint="joined with b'\\n'"),
    # 8.3 FixedInbox.getMessage, getUidl
    Mistake("8.3", "the message file opened in text mode", ('open(self.list[i], "rb")', 'open(self.list[i])'),
            hint="RETR 1 got no answer"),
    Mistake("8.3", "the UID given as text", ('.hexdigest().encode("ascii")', ".hexdigest()"),
            hint="getUidl must return bytes"),
    Mistake("8.3", "every message gets the first one's UID",
            ("md5(os.path.basename(self.list[i]))", "md5(os.path.basename(self.list[0]))"),
            hint="its own file's base name"),
    Mistake("8.3", "message numbers off by one", ('open(self.list[i], "rb")', 'open(self.list[i - 1], "rb")'),
            hint="RETR n asks for getMessage(n - 1)"),
    # 8.4 ExpungingFolder.expunge
    Mistake("8.4", "lowest first", ("return gone[::-1]", "return gone"), hint="highest first"),
    Mistake("8.4", "the files stay", ("os.remove(self.messages[number - 1].path)", "pass"),
            hint="files are still in new/ or cur/"),
    Mistake("8.4", "the folder not read again", ("self.rescan()", "pass"), hint="self.rescan()"),
    Mistake("8.4", "numbers counted from 0",
            ("enumerate(self.messages, 1)", "enumerate(self.messages)"), hint="count from 1"),
    # 8.5 NotifyingFolder.notify
    Mistake("8.5", "counts only the new message", ("newMessages(len(self.messages), None)", "newMessages(1, None)"),
            hint="not how many are new"),
    Mistake("8.5", "tells nobody", ("listener.newMessages(len(self.messages), None)", "pass"),
            hint="heard nothing"),
    Mistake("8.5", "arguments in the wrong order",
            ("newMessages(len(self.messages), None)", "newMessages(None, len(self.messages))"),
            hint="number of messages first"),
    Mistake("8.5", "only the first listener told",
            ("for listener in list(self.listeners):", "for listener in list(self.listeners)[:1]:"),
            hint="heard nothing"),
]

TestChapter08 = exercise_tests(8, MISTAKES)


# --- the journey picture ---------------------------------------------------------------------------------------------

def test_the_journey_shows_each_hops_commands_and_first_reply_lines_and_leaves_the_message_out(root, smtp_server):
    from labkit.journey import MOST_LINES, message_journey
    from labkit.sessions import SessionPicture

    send(smtp_server.port, message(1))
    assert wait_until(lambda: "closed (" in str(smtp_server.transcript).rsplit("\n", 1)[-1])
    journey = message_journey("one message", ("SMTP in", SessionPicture.from_transcript(smtp_server, "smtp")),
                              ("Maildir", ["renamed into new/"]), ("many", [f"line {n}" for n in range(40)]))
    text = str(journey)
    assert text.splitlines()[:2] == ["one message", "[SMTP in]"]
    assert "  C: rcpt TO:<learner@example.test>" in text and "  S: 250 Recipient address accepted" in text
    assert "  C: (the message: 7 lines)" in text  # four headers, a blank line, the body, the dot
    assert "message number 1" not in text
    assert "[Maildir]\n  renamed into new/" in text
    assert f"… {40 - MOST_LINES + 1} more lines" in text
    page = journey._repr_html_()
    assert page.count("&#8594;") == 2 and "rcpt TO:&lt;learner@example.test&gt;" in page


def test_the_robot_and_the_notifying_mail_system_run_as_programs(root):
    service = lucky()
    search = labkit.serve(service, name="ch08-lucky", show=False)
    upstream = practice_smtp.smtp(tls=False)
    relay = labkit.serve(upstream, name="ch08-upstream", show=False)
    robot, [robot_port] = start("lucky_mail.py", "lucky@example.test", search.url.rstrip("/"), relay.port)
    system, [smtp_port, imap_port] = start("mail_notify.py", root)
    try:
        ask(robot_port, "smtp relay")
        assert len(upstream.outbox) == 1 and service.queries == ["smtp relay"]
        with imap_login(imap_port) as client:
            client.select("INBOX")
            send(smtp_port, message(1))
            client.sock.settimeout(WAIT)
            assert client.readline() == b"* 1 EXISTS\r\n"
            client.logout()
    finally:
        search.stop()
        relay.stop()
        assert stop(robot) == 0 and stop(system) == 0


# --- Dovecot, an independent IMAP server, reads the Maildir these servers wrote --------------------------------------

def test_dovecot_reads_the_maildir_our_smtp_wrote_with_the_flags_our_imap_set():
    """The Maildir is the standard one: Dovecot finds every message and the \\Seen flag kept in a file's name."""
    def fill_through_our_servers(root):
        pop3_maildir.add_users(root, [(ACCOUNT.user, ACCOUNT.password)])
        fill(root, 3)
        ours = labkit.serve(imap_maildir.IMAPFactory(root), name="ch08-imap", show=False)
        try:
            with imap_login(ours.port) as client:
                client.select("INBOX")
                client.store("2", "+FLAGS", r"(\Seen)")
                client.logout()
        finally:
            ours.stop()

    with mail_peers.dovecot(ACCOUNT.user, ACCOUNT.password, fill_through_our_servers) as ports:
        with imap_login(ports["imap"]) as client:
            client.select("INBOX", readonly=True)
            _, found = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            client.logout()
    fetched = [item for item in found if isinstance(item, tuple)]
    ids = [email.message_from_bytes(item[1])["Message-ID"] for item in fetched]
    assert ids == [f"<m{n}@example.test>" for n in range(3)]
    assert [b"\\Seen" in item[0] for item in fetched] == [False, True, False]
