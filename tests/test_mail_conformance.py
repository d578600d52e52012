"""What each practice mail server advertises, held against its RFC: POP3 CAPA (RFC 2449, STLS from RFC 2595),
SMTP EHLO keywords (RFC 5321, STARTTLS from RFC 3207, AUTH from RFC 4954) and IMAP CAPABILITY and SEARCH keys
(RFC 3501, NAMESPACE from RFC 2342, IDLE from RFC 2177). Each table maps every advertised item to a check that
it answers as its RFC says; the server must advertise exactly the table's items (nothing it does not do)."""

from __future__ import annotations

import base64
import imaplib
import poplib
import smtplib
import socket
import ssl

import pytest
from twisted.logger import formatEventAsClassicLogText, globalLogPublisher

import labkit
from servers import tls
from servers.mail import search
from servers.mail.messages import practice_messages
from tests.mail_peers import ACCOUNT, imap_login, pop_login

WAIT = 10
MESSAGES = practice_messages()


@pytest.fixture
def servers():  # per test: the suite stops every practice server after each test
    served = {name: labkit.serve(name, name=f"conformance-{name}", show=False) for name in ("pop3", "smtp", "imap")}
    yield {name: server.port for name, server in served.items()}
    for server in served.values():
        server.stop()


def talk(port: int, send: bytes) -> bytes:
    """Send ``send`` in one write (pipelined; it ends the session) and read everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.recv(1000)
        sock.sendall(send)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
    return got


# --- POP3: CAPA (RFC 2449) ------------------------------------------------------------------------------------------

def pop_top(port):
    client = pop_login(port)
    _, lines, _ = client.top(1, 0)  # the header, the blank line, no body line
    client.quit()
    assert b"\r\n".join(lines) + b"\r\n" == MESSAGES[0].split(b"\r\n\r\n")[0] + b"\r\n\r\n"


def pop_user(port):
    pop_login(port).quit()
    client = poplib.POP3("127.0.0.1", port, timeout=WAIT)
    client.user(ACCOUNT.user)
    with pytest.raises(poplib.error_proto, match="^b'-ERR"):
        client.pass_("wrong")
    client.close()


def pop_uidl(port):
    client = pop_login(port)
    uids = [line.split()[1] for line in client.uidl()[1]]
    client.quit()
    assert len(set(uids)) == len(MESSAGES)
    assert all(1 <= len(uid) <= 70 and all(0x21 <= byte <= 0x7E for byte in uid) for uid in uids)  # RFC 1939


def pop_pipelining(port):
    login = f"USER {ACCOUNT.user}\r\nPASS {ACCOUNT.password}\r\n".encode()
    got = talk(port, login + b"STAT\r\nRETR 1\r\nTOP 2 0\r\nNOOP\r\nQUIT\r\n")
    answers = [line for line in got.split(b"\r\n") if line.startswith((b"+OK", b"-ERR"))]
    assert len(answers) == 7 and all(answer.startswith(b"+OK") for answer in answers), got[-500:]
    assert MESSAGES[0].split(b"\r\n")[4] in got and got.index(b"practice-1@") < got.index(b"practice-2@")


def pop_stls(port):
    client = poplib.POP3("127.0.0.1", port, timeout=WAIT)
    client.stls(context=tls.ssl_context())
    assert "STLS" not in client.capa()  # RFC 2595: not offered once TLS is on
    with pytest.raises(poplib.error_proto, match="-ERR"):
        client._shortcmd("STLS")
    client.user(ACCOUNT.user)
    client.pass_(ACCOUNT.password)
    client.quit()
    logged_in = pop_login(port)
    assert "STLS" not in logged_in.capa()  # only in the AUTHORIZATION state
    logged_in.quit()


POP3_CAPA = {"TOP": pop_top, "USER": pop_user, "UIDL": pop_uidl, "PIPELINING": pop_pipelining, "STLS": pop_stls}


def test_pop3_advertises_exactly_what_it_does(servers):
    client = poplib.POP3("127.0.0.1", servers["pop3"], timeout=WAIT)
    assert set(client.capa()) == set(POP3_CAPA)
    client.quit()


@pytest.mark.parametrize("capability", sorted(POP3_CAPA))
def test_pop3_capability_answers_as_its_rfc_says(servers, capability):
    POP3_CAPA[capability](servers["pop3"])


# --- SMTP: EHLO keywords (RFC 5321, 3207, 4954) ---------------------------------------------------------------------

def smtp_auth(port):
    for mechanism in ("PLAIN", "LOGIN"):
        with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
            client.ehlo()
            client.user, client.password = ACCOUNT.user, ACCOUNT.password
            auth = getattr(client, f"auth_{mechanism.lower()}")
            assert client.auth(mechanism, auth)[0] == 235
            assert client.docmd("AUTH", "PLAIN")[0] == 503  # RFC 4954: once authenticated, no second AUTH
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        client.ehlo()
        assert client.docmd("AUTH", "CRAM-MD5")[0] == 504  # a mechanism not offered
        wrong = base64.b64encode(f"\0{ACCOUNT.user}\0wrong".encode()).decode()
        assert client.docmd("AUTH", f"PLAIN {wrong}")[0] == 535


def smtp_starttls(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        assert client.starttls(context=tls.ssl_context())[0] == 220
        client.ehlo()
        assert not client.has_extn("starttls")  # RFC 3207: not offered again
        assert client.docmd("STARTTLS")[0] == 503
    with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())


SMTP_EHLO = {"AUTH": smtp_auth, "STARTTLS": smtp_starttls}
# RFC 5321 section 4.5.1: the commands every server implements, and the answer each gets in a plain session.
SMTP_REQUIRED = [("HELO client.test", 250), ("EHLO client.test", 250), ("NOOP", 250), ("RSET", 250),
                 ("VRFY learner", 252), ("MAIL FROM:<ada@example.test>", 250), ("RCPT TO:<learner@example.test>", 250),
                 ("DATA", 354)]


def test_smtp_advertises_exactly_what_it_does(servers):
    with smtplib.SMTP("127.0.0.1", servers["smtp"], timeout=WAIT) as client:
        client.ehlo()
        assert {keyword.upper() for keyword in client.esmtp_features} == set(SMTP_EHLO)


@pytest.mark.parametrize("keyword", sorted(SMTP_EHLO))
def test_smtp_keyword_answers_as_its_rfc_says(servers, keyword):
    SMTP_EHLO[keyword](servers["smtp"])


def test_smtp_answers_every_command_rfc_5321_requires(servers):
    with smtplib.SMTP("127.0.0.1", servers["smtp"], timeout=WAIT) as client:
        assert [(command, client.docmd(command)[0]) for command, _ in SMTP_REQUIRED] == SMTP_REQUIRED
        client.send(b"Subject: conformance\r\n\r\nx\r\n.\r\n")
        assert client.getreply()[0] == 250
        assert client.docmd("QUIT")[0] == 221


# --- IMAP: CAPABILITY (RFC 3501, 2342, 2177) ------------------------------------------------------------------------

def imap_rev1(port):
    client = imap_login(port)
    assert client.select("INBOX")[0] == "OK"
    assert client.check()[0] == "OK" and client.noop()[0] == "OK"
    assert client.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")[0] == "OK"
    assert client.close()[0] == "OK"
    client.logout()


def imap_auth_plain(port):
    client = imaplib.IMAP4("127.0.0.1", port, timeout=WAIT)
    with pytest.raises(imaplib.IMAP4.error):
        client.authenticate("PLAIN", lambda _: f"\0{ACCOUNT.user}\0wrong".encode())
    assert client.authenticate("PLAIN", lambda _: f"\0{ACCOUNT.user}\0{ACCOUNT.password}".encode())[0] == "OK"
    client.logout()


def imap_starttls(port):
    client = imaplib.IMAP4("127.0.0.1", port, timeout=WAIT)
    client.starttls(ssl_context=tls.ssl_context())
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):  # RFC 3501: TLS is active already
        client.xatom("STARTTLS")
    assert "STARTTLS" not in client.capability()[1][0].decode().split()
    client.logout()


def imap_namespace(port):
    client = imap_login(port)
    assert client.namespace() == ("OK", [b'(("" "/")) NIL NIL'])
    client.logout()


def imap_idle(port):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.recv(1000)
        sock.sendall(f"a LOGIN {ACCOUNT.user} {ACCOUNT.password}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
        got = b""
        while b"\r\n+ " not in got:
            got += sock.recv(4096)
        other = imap_login(port)
        assert other.append("INBOX", None, None, b"Subject: while idle\r\n\r\nx\r\n")[0] == "OK"
        other.logout()
        got = b""
        while b" EXISTS\r\n" not in got:
            got += sock.recv(4096)  # RFC 2177: the idling client hears of the new message
        sock.sendall(b"DONE\r\n")
        while b"c OK" not in got:
            got += sock.recv(4096)


IMAP_CAPABILITY = {"IMAP4REV1": imap_rev1, "AUTH=PLAIN": imap_auth_plain, "STARTTLS": imap_starttls,
                   "NAMESPACE": imap_namespace, "IDLE": imap_idle}


def test_imap_advertises_exactly_what_it_does(servers):
    client = imaplib.IMAP4("127.0.0.1", servers["imap"], timeout=WAIT)
    assert set(client.capabilities) == set(IMAP_CAPABILITY)
    client.logout()


@pytest.mark.parametrize("capability", sorted(IMAP_CAPABILITY))
def test_imap_capability_answers_as_its_rfc_says(servers, capability):
    IMAP_CAPABILITY[capability](servers["imap"])


# --- IMAP SEARCH: every key of RFC 3501 section 6.4.4 --------------------------------------------------------------

RFC_3501_SEARCH_KEYS = {
    "ALL", "ANSWERED", "BCC", "BEFORE", "BODY", "CC", "DELETED", "DRAFT", "FLAGGED", "FROM", "HEADER", "KEYWORD",
    "LARGER", "NEW", "NOT", "OLD", "ON", "OR", "RECENT", "SEEN", "SENTBEFORE", "SENTON", "SENTSINCE", "SINCE",
    "SMALLER", "SUBJECT", "TEXT", "TO", "UID", "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNKEYWORD",
    "UNSEEN"}
# The practice INBOX: 1 plain (Ada, sent 1 Dec), 2 with a picture (2 Dec), 3 from Jürgen (3 Dec, an encoded
# subject), 4 large (4 Dec); all arrived 1 Dec 2025. FLAGS below are stored first.
FLAGS = {1: r"(\Seen \Answered)", 2: r"(\Seen \Flagged)", 3: r"(\Draft \Deleted)", 4: "($Important)"}
SEARCHES = [
    ("ALL", [1, 2, 3, 4]), ("ANSWERED", [1]), ("UNANSWERED", [2, 3, 4]), ("BCC nobody", []), ("CC nobody", []),
    ("BEFORE 1-Dec-2025", []), ("BEFORE 2-Dec-2025", [1, 2, 3, 4]), ("ON 1-Dec-2025", [1, 2, 3, 4]),
    ("SINCE 2-Dec-2025", []), ("BODY picture", [2]), ("TEXT Welcome", [1]), ("TEXT mailbox", [1, 4]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4]), ("DRAFT", [3]), ("UNDRAFT", [1, 2, 4]), ("FLAGGED", [2]),
    ("UNFLAGGED", [1, 3, 4]), ("FROM juergen", [3]), ("FROM ADA", [1, 2, 4]), ("HEADER Message-ID practice-2", [2]),
    ('HEADER Subject ""', [1, 2, 3, 4]), ("KEYWORD $Important", [4]), ("UNKEYWORD $Important", [1, 2, 3]),
    ("LARGER 10000", [4]), ("SMALLER 10000", [1, 2, 3]), ("NEW", []), ("OLD", [1, 2, 3, 4]), ("RECENT", []),
    ("NOT SEEN", [3, 4]), ("OR FROM juergen SUBJECT large", [3, 4]), ("SEEN", [1, 2]), ("UNSEEN", [3, 4]),
    ("SENTBEFORE 2-Dec-2025", [1]), ("SENTON 3-Dec-2025", [3]), ("SENTSINCE 3-Dec-2025", [3, 4]),
    ("SUBJECT picture", [2]), ('SUBJECT "aus K"', [3]), ("TO learner", [1, 2, 3, 4]), ("UID 1002:1005", [2, 3]),
    ("2:*", [2, 3, 4]), ("(FROM ada SEEN)", [1, 2]), ("NOT (OR SEEN DRAFT)", [4]),
]


@pytest.fixture
def flagged():
    served = labkit.serve("imap", name="conformance-search", show=False)
    client = imap_login(served.port)
    client.select("INBOX")
    for number, flags in FLAGS.items():
        assert client.store(str(number), "FLAGS", flags)[0] == "OK"
    yield client
    client.logout()
    served.stop()


def test_the_server_answers_every_search_key_of_rfc_3501():
    assert search.KEYS == RFC_3501_SEARCH_KEYS
    assert {query.split()[0].strip("(") for query, _ in SEARCHES} >= RFC_3501_SEARCH_KEYS


@pytest.mark.parametrize("query, expected", SEARCHES, ids=[query for query, _ in SEARCHES])
def test_imap_search_key_answers_as_rfc_3501_says(flagged, query, expected):
    status, found = flagged.search(None, query)
    assert status == "OK" and [int(number) for number in (found[0] or b"").split()] == expected


def test_uid_search_answers_uids(flagged):
    assert flagged.uid("SEARCH", "SUBJECT large") == ("OK", [b"1010"])


@pytest.mark.parametrize("query", ["(" * 2000 + "ALL" + ")" * 2000, "NOT " * 2000 + "ALL", "NOSUCHKEY", "(ALL",
                                   "BEFORE yesterday", "LARGER big", "UID x:y", "OR SEEN"])
def test_a_malformed_or_deeply_nested_search_gets_bad_and_a_few_log_lines(servers, query):
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        with socket.create_connection(("127.0.0.1", servers["imap"]), timeout=WAIT) as sock:
            sock.recv(1000)
            sock.sendall(f"a LOGIN {ACCOUNT.user} {ACCOUNT.password}\r\nb SELECT INBOX\r\n"
                         f"c SEARCH {query}\r\nd LOGOUT\r\n".encode())
            got = b""
            while b"d OK" not in got:
                chunk = sock.recv(65536)
                assert chunk, got
                got += chunk
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert b"\r\nc BAD " in got
    logged = "".join(formatEventAsClassicLogText(event) or "" for event in events)
    assert logged.count("\n") <= 3 and "Traceback" not in logged, logged[:2000]
