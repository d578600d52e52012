"""Chapter 7's practice mail servers with the standard library's clients (poplib, smtplib, imaplib) as independent
peers, the two Twisted POP3 bugs proven and fixed, and the bad input the chapter names: wrong passwords, missing
folders, a message removed by another session, a client that hangs up mid-RETR, a refused recipient, a message
over the size limit."""

from __future__ import annotations

import contextlib
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
from email.message import EmailMessage
from hashlib import md5

import pytest
from twisted.mail import maildir
from twisted.mail import pop3 as twisted_pop3

import labkit
from servers import accounts, tls
from servers.mail import imap as imap_module
from servers.mail import pop3 as pop3_module
from servers.mail import probes
from servers.mail import smtp as smtp_module
from servers.mail.messages import practice_messages
from servers.mail.smtp import MAX_MESSAGE
from tests.mail_peers import imap_login, pop_login

ACCOUNT = accounts.accounts("mail")[0]
MESSAGES = practice_messages()
WAIT = 10


@pytest.fixture
def pop3_server(tmp_path):
    folder = tmp_path / "mail"
    for account in accounts.accounts("mail"):
        pop3_module.fill_maildir(folder / account.user, MESSAGES)
    served = labkit.serve(pop3_module.pop3(folder), name="test-pop3", show=False)
    served.folder = folder / ACCOUNT.user
    yield served
    served.stop()


@pytest.fixture
def smtp_server():
    factory = smtp_module.smtp()
    served = labkit.serve(factory, name="test-smtp", show=False)
    served.outbox = factory.outbox
    yield served
    served.stop()


@pytest.fixture
def imap_server():
    served = labkit.serve("imap", name="test-imap", show=False)
    yield served
    served.stop()


def stored(folder) -> int:
    return len(os.listdir(folder / "cur")) + len(os.listdir(folder / "new"))


# --- the two Twisted bugs, proven on Twisted's own classes, and fixed in ours ----------------------------------------

def test_twisted_apop_credentials_never_match_and_ours_do():
    magic, password = b"<1.2@localhost>", b"mail-practice"
    digest = md5(magic + password).hexdigest().encode()
    assert not twisted_pop3.APOPCredentials(magic, b"learner", digest).checkPassword(password)
    assert pop3_module.APOPDigest(magic, b"learner", digest).checkPassword(password)
    assert not pop3_module.APOPDigest(magic, b"learner", digest).checkPassword(b"wrong")


def test_twisted_maildir_reads_text_and_ours_reads_bytes(tmp_path):
    pop3_module.fill_maildir(tmp_path / "box", MESSAGES[:1])
    path = os.fsencode(tmp_path / "box")
    with maildir.MaildirMailbox(path).getMessage(0) as theirs:
        assert isinstance(theirs.read(), str)  # what makes Twisted's RETR crash
    with pop3_module.PracticeMaildir(path).getMessage(0) as ours:
        assert ours.read() == MESSAGES[0].replace(b"\r\n", b"\n")
    assert isinstance(pop3_module.PracticeMaildir(path).getUidl(0), bytes)


# --- POP3 ------------------------------------------------------------------------------------------------------------

def test_pop3_user_pass_downloads_every_message_byte_for_byte(pop3_server):
    client = pop_login(pop3_server.port)
    try:
        count, _ = client.stat()
        assert count == len(MESSAGES)
        for number, expected in enumerate(MESSAGES, start=1):
            _, lines, _ = client.retr(number)
            assert b"\r\n".join(lines) + b"\r\n" == expected
        uids = client.uidl()[1]
        assert len({line.split()[1] for line in uids}) == len(MESSAGES)
    finally:
        client.quit()
    assert stored(pop3_server.folder) == len(MESSAGES)


def test_pop3_apop_logs_in_and_a_wrong_digest_is_refused(pop3_server):
    client = poplib.POP3("127.0.0.1", pop3_server.port, timeout=WAIT)
    assert client.apop(ACCOUNT.user, ACCOUNT.password).startswith(b"+OK")
    client.quit()
    client = poplib.POP3("127.0.0.1", pop3_server.port, timeout=WAIT)
    with pytest.raises(poplib.error_proto, match="Authentication failed"):
        client.apop(ACCOUNT.user, "not-the-password")
    client.close()


def test_pop3_wrong_password_is_refused_and_the_server_goes_on(pop3_server):
    client = poplib.POP3("127.0.0.1", pop3_server.port, timeout=WAIT)
    client.user(ACCOUNT.user)
    with pytest.raises(poplib.error_proto, match="-ERR"):
        client.pass_("wrong")
    client.close()
    probes.pop3("127.0.0.1", pop3_server.port)


def test_pop3_stls_is_verified_with_the_practice_authority(pop3_server):
    client = poplib.POP3("127.0.0.1", pop3_server.port, timeout=WAIT)
    assert "STLS" in client.capa()
    client.stls(context=tls.ssl_context())
    client.user(ACCOUNT.user)
    client.pass_(ACCOUNT.password)
    assert client.stat()[0] == len(MESSAGES)
    assert "STLS" not in client.capa()  # secure already
    client.quit()
    stranger = poplib.POP3("127.0.0.1", pop3_server.port, timeout=WAIT)
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.stls(context=ssl.create_default_context())  # the system's authorities do not know ours
    with contextlib.suppress(OSError):
        stranger.close()


def test_pop3_over_implicit_tls():
    served = labkit.serve("pop3", name="test-pop3s", tls=tls.server_options(()), show=False)
    try:
        client = poplib.POP3_SSL("127.0.0.1", served.port, context=tls.ssl_context(), timeout=WAIT)
        client.user(ACCOUNT.user)
        client.pass_(ACCOUNT.password)
        assert client.stat()[0] == len(MESSAGES)
        client.quit()
    finally:
        served.stop()


def test_pop3_deletes_only_at_quit(pop3_server):
    client = pop_login(pop3_server.port)
    client.dele(1)
    client.close()  # hung up without QUIT: nothing is deleted
    assert stored(pop3_server.folder) == len(MESSAGES)
    client = pop_login(pop3_server.port)
    client.dele(1)
    client.quit()
    assert stored(pop3_server.folder) == len(MESSAGES) - 1


def test_pop3_a_marked_message_is_left_out_of_stat_list_and_uidl_until_rset(pop3_server):
    """RFC 1939: messages marked as deleted are not counted by STAT nor listed by LIST and UIDL (Twisted's own
    server counts them with size 0)."""
    client = pop_login(pop3_server.port)
    count, total = client.stat()
    sizes = {int(number): int(size) for number, size in (entry.split() for entry in client.list()[1])}
    client.dele(1)
    assert client.stat() == (count - 1, total - sizes[1])
    assert [int(entry.split()[0]) for entry in client.list()[1]] == list(range(2, count + 1))
    assert [int(entry.split()[0]) for entry in client.uidl()[1]] == list(range(2, count + 1))
    for command in (client.list, client.uidl):
        with pytest.raises(poplib.error_proto, match="-ERR no such message: 1"):
            command(1)
    assert client.list(2).split()[1:] == [b"2", str(sizes[2]).encode()]
    client.rset()
    assert client.stat() == (count, total)
    client.quit()
    assert stored(pop3_server.folder) == len(MESSAGES)


def test_pop3_a_message_removed_by_another_session_is_an_error_and_the_session_goes_on(pop3_server):
    first = pop_login(pop3_server.port)
    second = pop_login(pop3_server.port)
    second.dele(2)
    second.quit()
    with pytest.raises(poplib.error_proto, match="-ERR message deleted"):
        first.retr(2)
    assert b"\r\n".join(first.retr(1)[1]) + b"\r\n" == MESSAGES[0]
    first.quit()


def test_pop3_a_client_hanging_up_mid_retr_loses_no_mail(pop3_server):
    with socket.create_connection(("127.0.0.1", pop3_server.port), timeout=WAIT) as sock:
        sock.sendall(f"USER {ACCOUNT.user}\r\nPASS {ACCOUNT.password}\r\nDELE 4\r\nRETR 3\r\nRETR 4\r\n".encode())
        sock.recv(100)
    probes.pop3("127.0.0.1", pop3_server.port)
    assert stored(pop3_server.folder) == len(MESSAGES)


# --- SMTP ------------------------------------------------------------------------------------------------------------

def practice_message(to: str = "learner@example.test") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ada@example.test", to, "Grüße"
    message.set_content(".a line that starts with a dot\nnaïve\n")
    return message


def test_smtp_starttls_auth_and_the_message_kept_as_sent(smtp_server):
    message = practice_message()
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        client.starttls(context=tls.ssl_context())
        client.login(ACCOUNT.user, ACCOUNT.password)
        assert client.send_message(message, to_addrs=["learner@example.test", "ada@lists.example.test"]) == {}
    outbox = smtp_server.outbox
    assert len(outbox) == 1
    kept = outbox[0]
    assert (kept.sender, kept.recipients, kept.user) == (
        "ada@example.test", ("learner@example.test", "ada@lists.example.test"), ACCOUNT.user)
    assert kept.data.endswith(message.as_bytes(policy=message.policy.clone(linesep="\r\n")).split(b"\r\n\r\n", 1)[1])


def test_smtp_refuses_relaying_and_wrong_passwords(smtp_server):
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("ada@example.test", ["someone@elsewhere.invalid"], b"Subject: x\r\n\r\nx\r\n")
        assert refused.value.recipients["someone@elsewhere.invalid"][0] == 550
        with pytest.raises(smtplib.SMTPAuthenticationError) as denied:
            client.login(ACCOUNT.user, "wrong")
        assert denied.value.smtp_code == 535
        assert client.noop()[0] == 250
    assert smtp_server.outbox == []


def test_smtp_refuses_a_ten_megabyte_message_keeps_nothing_and_goes_on(smtp_server):
    huge = b"Subject: huge\r\n\r\n" + (b"y" * 998 + b"\r\n") * (10 * 1024 * 1024 // 1000 + 1)
    assert len(huge) > 10 * 1024 * 1024 > MAX_MESSAGE
    with smtplib.SMTP("127.0.0.1", smtp_server.port, timeout=WAIT) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("ada@example.test", ["learner@example.test"], huge)
        assert refused.value.smtp_code == 552
        assert client.sendmail("ada@example.test", ["learner@example.test"], b"Subject: small\r\n\r\nok\r\n") == {}
    assert [mail.data.count(b"Subject: small") for mail in smtp_server.outbox] == [1]


def test_smtp_ends_a_session_whose_line_never_ends(smtp_server):
    with socket.create_connection(("127.0.0.1", smtp_server.port), timeout=WAIT) as sock:
        sock.recv(1000)
        try:
            sock.sendall(b"x" * 100_000 + b"\n")
        except OSError:
            pass
        answer = b""
        while chunk := sock.recv(1000):
            answer += chunk
    assert answer.startswith(b"500 Line too long")
    probes.smtp("127.0.0.1", smtp_server.port)


# --- IMAP ------------------------------------------------------------------------------------------------------------


def test_imap_folders_uids_and_messages(imap_server):
    client = imap_login(imap_server.port)
    try:
        status, listed = client.list()
        assert status == "OK"
        names = [line.rsplit(b' "/" ', 1)[1].strip(b'"').decode() for line in listed]
        assert names == list(imap_module.FOLDERS)
        assert client.select("INBOX") == ("OK", [str(len(MESSAGES)).encode()])
        status, found = client.uid("SEARCH", "ALL")
        assert [int(uid) for uid in found[0].split()] == list(imap_module.INBOX_UIDS)
        status, fetched = client.uid("FETCH", str(imap_module.INBOX_UIDS[-1]), "(RFC822)")
        assert fetched[0][1].lower() == MESSAGES[-1].lower()  # Twisted title-cases header names: Message-Id
        assert client.select("Lists/Twisted")[0] == "OK"
        status, fetched = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b"=?utf-8?" in fetched[0][1]
    finally:
        client.logout()


def test_imap_flags_persist_and_expunge_removes(imap_server):
    client = imap_login(imap_server.port)
    client.select("INBOX")
    client.store("2", "+FLAGS", r"(\Flagged)")
    client.logout()
    client = imap_login(imap_server.port)
    client.select("INBOX")
    status, fetched = client.uid("FETCH", "1002", "(FLAGS)")
    assert rb"\Flagged" in fetched[0]
    client.store("1", "+FLAGS", r"(\Deleted)")
    assert client.expunge() == ("OK", [b"1"])
    status, found = client.uid("SEARCH", "ALL")
    assert [int(uid) for uid in found[0].split()] == list(imap_module.INBOX_UIDS[1:])
    client.logout()


def test_imap_refuses_wrong_passwords_missing_and_new_folders(imap_server):
    client = imaplib.IMAP4("127.0.0.1", imap_server.port, timeout=WAIT)
    with pytest.raises(imaplib.IMAP4.error):
        client.login(ACCOUNT.user, "wrong")
    client.login(ACCOUNT.user, ACCOUNT.password)
    assert client.select("No/Such/Folder")[0] == "NO"
    assert client.select("Lists")[0] == "NO"  # a parent only (\Noselect)
    assert client.create("New")[0] == "NO"
    assert client.select("inbox")[0] == "OK"  # INBOX in any case
    client.logout()


def test_imap_starttls_is_verified_with_the_practice_authority(imap_server):
    client = imaplib.IMAP4("127.0.0.1", imap_server.port, timeout=WAIT)
    assert "STARTTLS" in client.capabilities
    client.starttls(ssl_context=tls.ssl_context())
    client.login(ACCOUNT.user, ACCOUNT.password)
    assert client.select("INBOX")[0] == "OK"
    client.logout()


# --- probes ----------------------------------------------------------------------------------------------------------

def test_the_probes_pass_on_the_practice_servers(pop3_server, smtp_server, imap_server):
    probes.pop3("127.0.0.1", pop3_server.port)
    probes.smtp("127.0.0.1", smtp_server.port)
    probes.imap("127.0.0.1", imap_server.port)


def test_imap_list_matches_whole_names_and_an_empty_pattern_gives_the_root_only():
    from labkit.checks import mail

    server = labkit.serve("imap", name="test-imap-list", show=False)
    try:
        client = mail.imap_login(server.port, ACCOUNT.user, ACCOUNT.password)
        try:
            # imaplib sends its arguments as given: '""' is the empty string on the wire
            assert client.list('""', '""')[1] == [b'(\\Noselect) "/" ""']  # RFC 3501 6.3.8: root and delimiter
            assert client.list('""', "INBO")[1] == [None]  # a pattern matches a whole name, not a prefix
            assert len(client.list('""', "INBOX")[1]) == 1
        finally:
            client.logout()
    finally:
        server.stop()
