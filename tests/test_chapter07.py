"""Chapter 7: the labs' clients, written here as the notebook will run them (Twisted's AdvancedPOP3Client,
IMAP4Client, sendmail and ESMTPSenderFactory), against our practice servers and against real, independent mail
servers: Debian's Dovecot (POP3 with APOP, IMAP) and aiosmtpd (SMTP). The same client code gets the same messages
from both, so what the practice servers teach holds on the servers of the real world. (The MX lab's client is
proven against dnsmasq in tests/test_servers_names.py.)"""

from __future__ import annotations

import io
import socket
from email import message_from_bytes

import pytest
from twisted.internet import endpoints
from twisted.mail import imap4, pop3, smtp

import labkit
from labkit.chapters import ch07
from labkit.checks import CheckFailed
from servers import accounts
from servers.mail import imap as imap_module
from servers.mail import pop3 as pop3_module
from servers.mail import smtp as smtp_module
from servers.mail.messages import practice_messages
from tests import mail_peers
from tests.failing import fails

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


# --- exercise 7.1's check: POP3 by hand over a socket ------------------------------------------------------------

def pop3_by_socket(port, user, password, *, line_end=b"\r\n", until_closed=False, quit=True, convert=int):
    """The solution, and with a keyword changed, one of its typical mistakes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:  # no time-out given: the check's default bounds it
        replies = sock.makefile("rb")

        def command(line):
            sock.sendall(line.encode() + line_end)
            answer = replies.readline()
            assert answer.startswith(b"+OK"), answer
            return answer

        replies.readline()
        command(f"USER {user}")
        command(f"PASS {password}")
        command("LIST")
        sizes = {}
        while (line := replies.readline()) not in ((b"",) if until_closed else (b".\r\n", b"")):
            if line != b".\r\n":
                number, size = line.split()
                sizes[convert(number)] = convert(size)
        if quit:
            command("QUIT")
        return sizes


def solution_sizes(port, user, password):
    return pop3_by_socket(port, user, password)


def stub_sizes(port, user, password):
    raise NotImplementedError()


def lf_line_ends(port, user, password):
    return pop3_by_socket(port, user, password, line_end=b"\n")


def reads_until_closed(port, user, password):
    return pop3_by_socket(port, user, password, until_closed=True)


def sizes_as_bytes(port, user, password):
    return pop3_by_socket(port, user, password, convert=bytes)


def sizes_without_quit(port, user, password):
    return pop3_by_socket(port, user, password, quit=False)


def first_line_only(port, user, password):
    """Reads LIST's '+OK' line and no more (the message count taken for the answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        replies = sock.makefile("rb")
        replies.readline()
        for line in (b"USER " + user.encode(), b"PASS " + password.encode(), b"LIST"):
            sock.sendall(line + b"\r\n")
            answer = replies.readline()
        sock.sendall(b"QUIT\r\n")
        return {1: int(answer.split()[1])}


# --- exercise 7.2's check: a right answer passes, the stub and typical mistakes fail with the right hint -----------

async def logged_in(reactor, port: int, user: bytes, password: bytes) -> pop3.AdvancedPOP3Client:
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    client = await endpoints.connectProtocol(endpoint, pop3.AdvancedPOP3Client())
    await client.login(user, password)
    return client


async def solution_download(reactor, port: int, user: bytes, password: bytes) -> list[bytes]:
    client = await logged_in(reactor, port, user, password)
    sizes = await client.listSize()
    messages = [b"\r\n".join(await client.retrieve(index)) + b"\r\n" for index in range(len(sizes))]
    await client.quit()
    return messages


async def stub_download(reactor, port, user, password):
    raise NotImplementedError()


async def lines_not_joined(reactor, port, user, password):
    client = await logged_in(reactor, port, user, password)
    sizes = await client.listSize()
    messages = [await client.retrieve(index) for index in range(len(sizes))]
    await client.quit()
    return messages


async def deletes_what_it_downloads(reactor, port, user, password):
    client = await logged_in(reactor, port, user, password)
    messages = []
    for index in range(len(await client.listSize())):
        messages.append(b"\r\n".join(await client.retrieve(index)) + b"\r\n")
        await client.delete(index)
    await client.quit()
    return messages


async def never_quits(reactor, port, user, password):
    client = await logged_in(reactor, port, user, password)
    sizes = await client.listSize()
    messages = [b"\r\n".join(await client.retrieve(index)) + b"\r\n" for index in range(len(sizes))]
    client.transport.loseConnection()
    return messages


# --- exercise 7.3's check --------------------------------------------------------------------------------------------

async def solution_send(reactor, port, user, password, message):
    from twisted.internet import defer

    from servers import tls

    done = defer.Deferred()
    factory = smtp.ESMTPSenderFactory(user, password, message["From"], [message["To"]], io.BytesIO(message.as_bytes()),
                                      done, contextFactory=tls.client_options(), requireTransportSecurity=True)
    await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT).connect(factory)
    return await done


async def send_in_crlf(reactor, port, user, password, message):
    """The mistake: the message handed to Twisted already in CR LF (policy.SMTP)."""
    from email import policy

    return await solution_send(reactor, port, user, password, _CRLFMessage(message, policy.SMTP))


class _CRLFMessage:
    """A message whose as_bytes() gives CR LF line ends, as email.policy.SMTP makes them."""

    def __init__(self, message, smtp_policy):
        self.message, self.smtp_policy = message, smtp_policy

    def __getitem__(self, name):
        return self.message[name]

    def as_bytes(self):
        return self.message.as_bytes(policy=self.smtp_policy)


async def send_unsecured(reactor, port, user, password, message):
    return await smtp.sendmail("127.0.0.1", message["From"], [message["To"]], message.as_bytes(), port=port)


async def stub_send(reactor, port, user, password, message):
    raise NotImplementedError()


# --- exercise 7.4's check: MX lookups against the check's DNS server on UDP --------------------------------------

async def mx_lookup(reactor, port, domain, *, order=True, fallback=True, check_address=True, catch=True,
                    as_text=True):
    """The solution, and with a keyword changed, one of its typical mistakes."""
    from twisted.names import client, dns

    resolver = client.Resolver(servers=[("127.0.0.1", port)], reactor=reactor)
    try:
        answers, _, _ = await resolver.lookupMailExchange(domain, timeout=(2,))
        found = [(a.payload.preference, a.payload.name) for a in answers if a.type == dns.MX]
        if found:
            found = sorted(found) if order else found
            return [str(name) if as_text else name for _, name in found]
        if not fallback:
            return []
        if not check_address:
            return [domain]
        addresses, _, _ = await resolver.lookupAddress(domain, timeout=(2,))
    except dns.DomainError:
        if not catch:
            raise
        return []
    return [domain] if any(a.type == dns.A for a in addresses) else []


async def solution_mail_hosts(reactor, port, domain):
    return await mx_lookup(reactor, port, domain)


async def stub_mail_hosts(reactor, port, domain):
    raise NotImplementedError()


async def mx_in_answer_order(reactor, port, domain):
    return await mx_lookup(reactor, port, domain, order=False)


async def mx_without_fallback(reactor, port, domain):
    return await mx_lookup(reactor, port, domain, fallback=False)


async def mx_fallback_without_asking(reactor, port, domain):
    return await mx_lookup(reactor, port, domain, check_address=False)


async def mx_not_caught(reactor, port, domain):
    return await mx_lookup(reactor, port, domain, catch=False)


async def mx_names_not_text(reactor, port, domain):
    return await mx_lookup(reactor, port, domain, as_text=False)


# --- exercise 7.5's check: folders and their counts -----------------------------------------------------------------

async def counts_of_folders(reactor, port, user, password, *, skip_noselect=True, logout=True, as_text=False):
    """The solution, and with a keyword changed, one of its typical mistakes."""
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
    await client.login(user, password)
    counts = {}
    for flags, delimiter, name in await client.list("", "*"):
        if skip_noselect and "\\Noselect" in flags:
            continue
        exists = (await client.examine(name))["EXISTS"]
        counts[name] = str(exists) if as_text else exists
    if logout:
        await client.logout()
    else:
        client.transport.loseConnection()
    return counts


async def solution_folder_counts(reactor, port, user, password):
    return await counts_of_folders(reactor, port, user, password)


async def stub_folder_counts(reactor, port, user, password):
    raise NotImplementedError()


async def selects_every_folder(reactor, port, user, password):
    return await counts_of_folders(reactor, port, user, password, skip_noselect=False)


async def counts_as_text(reactor, port, user, password):
    return await counts_of_folders(reactor, port, user, password, as_text=True)


async def counts_without_logout(reactor, port, user, password):
    return await counts_of_folders(reactor, port, user, password, logout=False)


# --- exercise 7.6's check --------------------------------------------------------------------------------------------

async def solution_fetch_uids(reactor, port, user, password, folder):
    found = await _uid_map(reactor, port, user, password, folder)
    return [int(found[number]["UID"]) for number in sorted(found)]


async def sequence_numbers(reactor, port, user, password, folder):
    return sorted(int(number) for number in await _uid_map(reactor, port, user, password, folder))


async def uids_as_text(reactor, port, user, password, folder):
    found = await _uid_map(reactor, port, user, password, folder)
    return [found[number]["UID"] for number in sorted(found)]


async def _uid_map(reactor, port, user, password, folder):
    """IMAP4Client: log in, select the folder, fetchUID of every message: {sequence number: {"UID": "1001"}}."""
    endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
    client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
    await client.login(user, password)
    await client.select(folder)
    found = await client.fetchUID(imap4.MessageSet(1, None))
    await client.logout()
    return found


async def stub_fetch_uids(reactor, port, user, password, folder):
    raise NotImplementedError()


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


# --- every check: its solution passes; the stub and the typical mistakes fail, each with its hint -------------------

SOLUTIONS = {"check_pop3_sizes": solution_sizes, "check_pop3_download": solution_download,
             "check_send_mail": solution_send, "check_mail_hosts": solution_mail_hosts,
             "check_folder_counts": solution_folder_counts, "check_imap_uids": solution_fetch_uids}
MISTAKES = [
    ("check_pop3_sizes", stub_sizes, "not written yet"),
    ("check_pop3_sizes", lf_line_ends, "end every command with b'\\r\\n'"),
    ("check_pop3_sizes", reads_until_closed, "read lines until that one"),
    ("check_pop3_sizes", sizes_as_bytes, "both int"),
    ("check_pop3_sizes", sizes_without_quit, "send b'QUIT\\r\\n' at the end"),
    ("check_pop3_sizes", first_line_only, "keep every line before the dot"),
    ("check_pop3_download", stub_download, "not written yet"),
    ("check_pop3_download", lines_not_joined, "a list with one bytes object per message"),
    ("check_pop3_download", deletes_what_it_downloads, "a download must not delete"),
    ("check_pop3_download", never_quits, "await client.quit()"),
    ("check_send_mail", stub_send, "not written yet"),
    ("check_send_mail", send_in_crlf, "CR CR LF"),
    ("check_send_mail", send_unsecured, "requireTransportSecurity=True"),
    ("check_mail_hosts", stub_mail_hosts, "not written yet"),
    ("check_mail_hosts", mx_in_answer_order, "sort them by answer.payload.preference"),
    ("check_mail_hosts", mx_without_fallback, "resolver.lookupAddress(domain)"),
    ("check_mail_hosts", mx_fallback_without_asking, "this one has none, so []"),
    ("check_mail_hosts", mx_not_caught, "catch it and return []"),
    ("check_mail_hosts", mx_names_not_text, "str(answer.payload.name)"),
    ("check_folder_counts", stub_folder_counts, "not written yet"),
    ("check_folder_counts", selects_every_folder, "its flags include \\Noselect"),
    ("check_folder_counts", counts_as_text, "its 'EXISTS' is the number of messages, an int"),
    ("check_folder_counts", counts_without_logout, "await client.logout()"),
    ("check_imap_uids", stub_fetch_uids, "not written yet"),
    ("check_imap_uids", sequence_numbers, "not the sequence numbers"),
    ("check_imap_uids", uids_as_text, "the UIDs come back as str"),
]


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_each_check_passes_its_solution(name):
    getattr(ch07, name)(SOLUTIONS[name])


@pytest.mark.parametrize("name, mistake, words", MISTAKES, ids=[f"{n}-{m.__name__}" for n, m, _ in MISTAKES])
def test_each_check_fails_the_stub_and_typical_mistakes_with_the_right_hint(name, mistake, words):
    assert words in fails(getattr(ch07, name), mistake)
