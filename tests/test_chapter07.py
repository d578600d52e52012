"""Chapter 7: the labs' clients, written here as the notebook will run them (Twisted's AdvancedPOP3Client,
IMAP4Client, sendmail and ESMTPSenderFactory), against our practice servers and against real, independent mail
servers: Debian's Dovecot (POP3 with APOP, IMAP) and aiosmtpd (SMTP). The same client code gets the same messages
from both, so what the practice servers teach holds on the servers of the real world. (The MX lab's client is
proven against dnsmasq in tests/test_servers_names.py.)"""

from __future__ import annotations

import io
from email import message_from_bytes

import pytest
from twisted.internet import endpoints
from twisted.mail import imap4, pop3, smtp

import labkit
from labkit.chapters import ch07
from labkit.checks import CheckFailed
from labkit.testing import Mistake, exercise_tests
from servers import accounts
from servers.mail import imap as imap_module
from servers.mail import pop3 as pop3_module
from servers.mail import smtp as smtp_module
from servers.mail.messages import practice_messages
from tests import mail_peers

ACCOUNT = accounts.accounts("mail")[0]
MESSAGES = practice_messages()
WAIT = 10


@pytest.fixture
def dovecot():
    """Dovecot on two free loopback ports, its one user holding the practice messages in a Maildir."""
    with mail_peers.dovecot(ACCOUNT.user, ACCOUNT.password,
                         lambda mail: pop3_module.fill_maildir(mail / ACCOUNT.user, MESSAGES)) as ports:
        yield ports


@pytest.fixture
def aiosmtpd(tmp_path):
    """aiosmtpd (PyPI), a real SMTP server, on a free loopback port, delivering into a Maildir."""
    with mail_peers.aiosmtpd(tmp_path / "box") as port:
        yield port, tmp_path / "box"


# --- the clients, as the labs write them -----------------------------------------------------------------------------

async def pop3_download(reactor, port: int) -> list[bytes]:
    """AdvancedPOP3Client: log in (APOP when the greeting offers a challenge), list, retrieve every message."""
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    client = await endpoints.connectProtocol(endpoint, pop3.AdvancedPOP3Client())
    await client.login(ACCOUNT.user.encode(), ACCOUNT.password.encode())
    sizes = await client.listSize()
    messages = [b"\r\n".join(await client.retrieve(index)) + b"\r\n" for index in range(len(sizes))]
    await client.quit()
    return messages


async def imap_uids_and_subjects(reactor, port: int) -> tuple[list, list]:
    """IMAP4Client: log in, list, select INBOX, fetch UIDs and the Subject headers."""
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
    await client.login(ACCOUNT.user.encode(), ACCOUNT.password.encode())
    folders = [name for flags, delimiter, name in await client.list("", "*")]
    await client.select("INBOX")
    uids = await client.fetchUID(imap4.MessageSet(1, None))
    headers = await client.fetchSpecific(imap4.MessageSet(1, None), headerType="HEADER.FIELDS",
                                         headerArgs=["SUBJECT"])
    await client.logout()
    subjects = [str(message_from_bytes(headers[number][0][2].encode())["Subject"]) for number in sorted(headers)]
    return folders, [int(uids[number]["UID"]) for number in sorted(uids)], subjects


async def smtp_send(reactor, port: int, message: bytes) -> tuple:
    """smtp.sendmail: plain SMTP (it would try STARTTLS where offered, verifying with the system's authorities)."""
    return await smtp.sendmail("127.0.0.1", "ada@example.test", ["learner@example.test"], message, port=port)


async def smtp_send_secure(reactor, port: int, message: bytes) -> tuple:
    """ESMTPSenderFactory: STARTTLS verified with the practice authority (required), then AUTH."""
    from twisted.internet import defer

    from servers import tls

    done = defer.Deferred()
    factory = smtp.ESMTPSenderFactory(ACCOUNT.user.encode(), ACCOUNT.password.encode(), "ada@example.test",
                                      ["learner@example.test"], io.BytesIO(message), done,
                                      contextFactory=tls.client_options("localhost"),
                                      requireTransportSecurity=True, requireAuthentication=True)
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    await endpoint.connect(factory)
    return await done


# Twisted's SMTP client turns local line ends (LF) into the wire's (CR LF): it is given LF, as EmailMessage.as_bytes()
# makes them; a message already in CR LF would arrive with CR CR LF.
MESSAGE = b"From: ada@example.test\nTo: learner@example.test\nSubject: peer test\n\nsent by Twisted\n"


# --- POP3 ------------------------------------------------------------------------------------------------------------

def test_advanced_pop3_client_downloads_the_same_messages_from_ours_and_dovecot(dovecot, tmp_path):
    pop3_module.fill_maildir(tmp_path / "mail" / ACCOUNT.user, MESSAGES)
    ours = labkit.serve(pop3_module.pop3(tmp_path / "mail"), name="peer-pop3", show=False)
    from_ours = labkit.react(pop3_download, ours.port)
    from_dovecot = labkit.react(pop3_download, dovecot["pop3"])
    assert from_ours == MESSAGES  # APOP: the greeting of both carries a challenge
    assert [message_from_bytes(m)["Message-ID"] for m in from_dovecot] == [
        message_from_bytes(m)["Message-ID"] for m in MESSAGES]
    assert [m.split(b"\r\n\r\n", 1)[1] for m in from_dovecot] == [m.split(b"\r\n\r\n", 1)[1] for m in MESSAGES]


# --- IMAP ------------------------------------------------------------------------------------------------------------

def test_imap4_client_reads_folders_uids_and_subjects_from_ours_and_dovecot(dovecot):
    ours = labkit.serve(imap_module.imap(), name="peer-imap", show=False)
    folders, uids, subjects = labkit.react(imap_uids_and_subjects, ours.port)
    assert folders == list(imap_module.FOLDERS)
    assert uids == list(imap_module.INBOX_UIDS)  # UIDs are not sequence numbers
    expected = [str(message_from_bytes(m)["Subject"]) for m in MESSAGES]
    assert subjects == expected
    folders, uids, subjects = labkit.react(imap_uids_and_subjects, dovecot["imap"])
    assert "INBOX" in folders and len(uids) == len(MESSAGES) and subjects == expected


def test_advanced_pop3_client_start_tls_without_a_context_factory_verifies_nothing(tmp_path):
    """The notebook says so (7.2): startTLS() with no context factory takes a certificate signed by an authority
    this process trusts nowhere (the practice one), and the login goes on over it."""
    pop3_module.fill_maildir(tmp_path / "mail" / ACCOUNT.user, MESSAGES)
    ours = labkit.serve(pop3_module.pop3(tmp_path / "mail"), name="peer-pop3-tls", show=False)

    async def unverified(reactor, port):
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
        client = await endpoints.connectProtocol(endpoint, pop3.AdvancedPOP3Client())
        await client.startTLS()
        secure = client.transport.TLS if hasattr(client.transport, "TLS") else None
        await client.login(ACCOUNT.user.encode(), ACCOUNT.password.encode())
        sizes = await client.listSize()
        await client.quit()
        return secure, len(sizes)

    try:
        assert labkit.react(unverified, ours.port) == (True, len(MESSAGES))
    finally:
        ours.stop()


def test_dovecot_marks_a_message_seen_when_fetchSpecific_reads_it_unless_it_peeks(dovecot):
    """What the notebook says of fetchSpecific (7.6): BODY[...] marks \\Seen on a selected folder, BODY.PEEK[...]
    does not (shown on Dovecot; Twisted's own server never marks)."""
    async def read_subject(reactor, port, number, peek):
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
        client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
        await client.login(ACCOUNT.user.encode(), ACCOUNT.password.encode())
        await client.select("INBOX")
        await client.fetchSpecific(imap4.MessageSet(number), headerType="HEADER.FIELDS", headerArgs=["SUBJECT"],
                                   peek=peek)
        flags = await client.fetchFlags(imap4.MessageSet(number))
        await client.logout()
        return flags[number]["FLAGS"]

    assert "\\Seen" not in labkit.react(read_subject, dovecot["imap"], 1, True)
    assert "\\Seen" in labkit.react(read_subject, dovecot["imap"], 2, False)


# --- SMTP ------------------------------------------------------------------------------------------------------------

def test_smtp_sendmail_delivers_to_ours_and_to_aiosmtpd(aiosmtpd):
    factory = smtp_module.smtp()
    ours = labkit.serve(factory, name="peer-smtp", show=False)
    accepted, refused = labkit.react(smtp_send_secure, ours.port, MESSAGE)
    kept = factory.outbox[0]
    assert accepted == 1 and kept.data.endswith(MESSAGE.replace(b"\n", b"\r\n")) and kept.user == ACCOUNT.user
    port, box = aiosmtpd
    accepted, refused = labkit.react(smtp_send, port, MESSAGE)
    assert accepted == 1
    delivered = [path.read_bytes() for path in (box / "new").iterdir()]
    assert len(delivered) == 1 and b"sent by Twisted" in delivered[0] and b"Subject: peer test" in delivered[0]


def test_the_imap_checks_serve_plain_imap_so_a_client_without_a_context_factory_starts_no_unverified_tls():
    """IMAP4Client() takes a STARTTLS it is offered with a context factory that verifies nothing; the exercises
    say plain TCP is fine, so their checks' servers offer none."""
    started_tls = []

    async def noting_tls(reactor, port, user, password, folder=None):
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
        client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
        await client.login(user, password)
        started_tls.append(client.startedTLS)
        listed = await client.list("", "*")
        counts = {name: (await client.examine(name))["EXISTS"] for flags, _, name in listed
                  if "\\Noselect" not in flags}
        await client.logout()
        return counts

    with pytest.raises(CheckFailed):  # the counts are not UIDs; what matters here is how the session went
        ch07.check_imap_uids(noting_tls)
    ch07.check_folder_counts(noting_tls)
    assert started_tls == [False, False]


def test_the_pop3_socket_check_reads_the_transcript_once_the_learners_quit_has_arrived():
    """A client that sends QUIT and hangs up without reading the +OK has still ended with QUIT; on a loaded
    machine the server reads it a moment later (here its reactor is kept busy meanwhile): the check waits for
    the close, and never reports a QUIT that is on its way as missing."""
    import socket
    import time

    from labkit.bridge import get_reactor

    def message_sizes(port, user, password):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            replies = sock.makefile("rb")
            replies.readline()
            sizes = {}
            for line in (f"USER {user}", f"PASS {password}", "LIST"):
                sock.sendall(line.encode() + b"\r\n")
                if not replies.readline().startswith(b"+OK"):
                    raise RuntimeError(f"{line.split()[0]} refused")
            while (line := replies.readline()) not in (b".\r\n", b""):
                number, size = line.split()
                sizes[int(number)] = int(size)
            get_reactor().callFromThread(time.sleep, 0.5)  # the server is busy when QUIT arrives
            sock.sendall(b"QUIT\r\n")
            return sizes

    ch07.check_pop3_sizes(message_sizes)


def test_the_imap_check_counts_a_logout_still_on_its_way_when_the_learners_code_returns():
    """folder_counts that sends LOGOUT without awaiting its answer, the reactor busy before it is written: 7.5's
    check waits for the server to close the session before it looks for LOGOUT."""
    import time

    async def folder_counts(reactor, port, user, password):
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
        client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
        await client.login(user, password)
        listed = await client.list("", "*")
        counts = {name: (await client.examine(name))["EXISTS"] for flags, _, name in listed
                  if "\\Noselect" not in flags}
        client.logout()
        reactor.callLater(0, time.sleep, 0.5)  # before the LOGOUT is written to the socket
        return counts

    ch07.check_folder_counts(folder_counts)


# --- the exercises' checks, as nbgrader runs them: solutions from the notebook, typical mistakes made from them -----

MISTAKES = [
    # 7.1 message_sizes(port, user, password), POP3 by hand over a socket
    Mistake("7.1", "commands end with LF alone", ('line.encode() + b"\\r\\n"', 'line.encode() + b"\\n"'),
            hint="end every command with b'\\r\\n'"),
    Mistake("7.1", "reads LIST until the server closes, skipping the dot",
            ('not in (b".\\r\\n", b""):', 'not in (b"",):\n            if line == b".\\r\\n":\n                continue'),
            hint="read lines until that one"),
    Mistake("7.1", "sizes kept as bytes", ("sizes[int(number)] = int(size)", "sizes[number] = size"),
            hint="both int"),
    Mistake("7.1", "no QUIT", ('command("QUIT")', "pass"), hint="send b'QUIT\\r\\n' at the end"),
    Mistake("7.1", "message numbers counted from 0", ("sizes[int(number)]", "sizes[int(number) - 1]"),
            hint="counting from 1"),
    # 7.2 download(reactor, port, user, password) with AdvancedPOP3Client
    Mistake("7.2", "the lines not joined", ('b"\\r\\n".join(await client.retrieve(index)) + b"\\r\\n"',
                                            "await client.retrieve(index)"),
            hint="a list with one bytes object per message"),
    Mistake("7.2", "deletes what it downloads", ("    await client.quit()",
                                                 "    for index in range(len(sizes)):\n"
                                                 "        await client.delete(index)\n    await client.quit()"),
            hint="a download must not delete"),
    Mistake("7.2", "never quits", ("    await client.quit()\n", ""), hint="await client.quit()"),
    Mistake("7.2", "counts messages from 1", ("range(len(sizes))", "range(1, len(sizes))"),
            hint="retrieve counts from 0"),
    Mistake("7.2", "no line end after the last line", (' + b"\\r\\n" for index', " for index"),
            hint="ending with one"),
    # 7.3 send(reactor, port, user, password, message) with ESMTPSenderFactory
    Mistake("7.3", "the message given with CR LF", ("io.BytesIO(message.as_bytes())",
                                                    'io.BytesIO(message.as_bytes().replace(b"\\n", b"\\r\\n"))'),
            hint="CR CR LF"),
    Mistake("7.3", "TLS not required", (("contextFactory=tls.client_options(),", ""),
                                        ("requireTransportSecurity=True", "requireTransportSecurity=False")),
            hint="requireTransportSecurity=True"),
    Mistake("7.3", "returns before the server accepted", ("return await done", "return None"),
            hint="send returned before the server had the message"),
    Mistake("7.3", "the sender as recipient", ('[message["To"]]', '[message["From"]]'),
            hint="the message's To"),
    # 7.4 mail_hosts(reactor, port, domain)
    Mistake("7.4", "MX records in answer order", ("exchangers = sorted(", "exchangers = list("),
            hint="sort them by answer.payload.preference"),
    Mistake("7.4", "no fallback to an A record", ("if exchangers:\n            return [host for preference, host in exchangers]",
                                                  "return [host for preference, host in exchangers]"),
            hint="resolver.lookupAddress(domain)"),
    Mistake("7.4", "falls back without asking", ("return [domain] if any(a.type == dns.A for a in addresses) else []",
                                                 "return [domain]"),
            hint="this one has none, so []"),
    Mistake("7.4", "a missing name not caught", ("except dns.DomainError:", "except dns.AuthoritativeDomainError:"),
            hint="catch it and return []"),
    Mistake("7.4", "host names as bytes", ("str(a.payload.name)", "a.payload.name.name"),
            hint="str(answer.payload.name)"),
    # 7.5 folder_counts(reactor, port, user, password) with IMAP4Client
    Mistake("7.5", "selects every folder", ('if "\\\\Noselect" not in flags:', "if flags is not None:"),
            hint="its flags include \\Noselect"),
    Mistake("7.5", "counts as text", ('(await client.examine(name))["EXISTS"]', 'str((await client.examine(name))["EXISTS"])'),
            hint="its 'EXISTS' is the number of messages, an int"),
    Mistake("7.5", "no LOGOUT", ("    await client.logout()\n", ""), hint="await client.logout()"),
    # 7.6 fetch_uids(reactor, port, user, password, folder)
    Mistake("7.6", "sequence numbers instead of UIDs", ('int(found[number]["UID"])', "number"),
            hint="not the sequence numbers"),
    Mistake("7.6", "UIDs as text", ('int(found[number]["UID"])', 'found[number]["UID"]'),
            hint="the UIDs come back as str"),
    Mistake("7.6", "no folder selected", ("    await client.select(folder)\n", ""),
            hint="a folder must be selected"),
    Mistake("7.6", "no LOGOUT", ("    await client.logout()\n", ""), hint="await client.logout()"),
]

TestChapter07 = exercise_tests(7, MISTAKES)
