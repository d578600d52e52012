"""The practice mail servers stay bounded however much a client sends: the smtp server's outbox keeps a bounded
number of messages and bytes, IMAP APPEND refuses a message over its cap before reading it (``NO [TOOBIG]``)
and one the account has no room for (``NO [OVERQUOTA]``), and a client that vanishes mid-literal leaves no
spool file open. Sizes are small (a few MB) so the tests stay quick; the caps they prove are the servers'."""

from __future__ import annotations

import gc
import imaplib
import os
import smtplib
import socket
import time
import tracemalloc

import pytest

import labkit
from servers.mail import imap as imap_module
from servers.mail import smtp as smtp_module
from servers.mail.append import IN_MEMORY, MAX_APPEND
from tests.mail_peers import imap_login

WAIT = 10
SLACK = 3 * 1024 * 1024  # what the server, the clients and tracemalloc itself allocate besides the messages


def traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@pytest.fixture
def tracing():
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def spool_files() -> set[str]:
    """This process's open files that have no name any more (unnamed temporary files, as a spool is)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed meanwhile (listdir's own)
        if target.endswith("(deleted)"):
            found.add(fd)
    return found


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def megabyte_message(number: int) -> bytes:
    return b"Subject: big %d\r\n\r\n" % number + (b"z" * 998 + b"\r\n") * (MAX_APPEND // 1000 - 2)


# --- SMTP ------------------------------------------------------------------------------------------------------------

def test_smtp_memory_stays_bounded_after_many_one_megabyte_messages(tracing):
    factory = smtp_module.smtp()
    served = labkit.serve(factory, name="test-smtp-bounds", show=False)
    try:
        before = traced()
        count = 2 * smtp_module.KEEP_BYTES // MAX_APPEND
        with smtplib.SMTP("127.0.0.1", served.port, timeout=WAIT) as client:
            for number in range(count):
                assert client.sendmail("ada@example.test", ["learner@example.test"], megabyte_message(number)) == {}
        grown = traced() - before
    finally:
        served.stop()
    outbox = factory.outbox
    assert grown < smtp_module.KEEP_BYTES + SLACK, f"{grown / 2**20:.1f} MB kept after {count} messages of 1 MB"
    assert sum(len(kept.data) for kept in outbox) <= smtp_module.KEEP_BYTES
    assert b"Subject: big %d\r\n" % (count - 1) in outbox[-1].data  # the newest is kept
    assert outbox.forgotten == count - len(outbox) > 0


def test_the_outbox_keeps_the_newest_messages_within_its_count():
    outbox = smtp_module.Outbox(keep_messages=3)
    for number in range(5):
        outbox.append(smtp_module.Received("a@example.test", ("b@example.test",), b"%d" % number))
    assert [kept.data for kept in outbox] == [b"2", b"3", b"4"] and outbox.forgotten == 2
    assert smtp_module.Outbox() == []  # still a list to those who read it


# --- IMAP APPEND -----------------------------------------------------------------------------------------------------

@pytest.fixture
def imap_server():
    served = labkit.serve("imap", name="test-imap-bounds", show=False)
    yield served
    served.stop()


def connected(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.recv(1000)
    sock.sendall(b"a LOGIN learner mail-practice\r\n")
    assert sock.recv(1000).startswith(b"a OK")
    return sock


def answer(sock: socket.socket, ending: bytes) -> bytes:
    got = b""
    while not got.endswith(ending):
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection; it had said {got!r}"
        got += chunk
    return got


def test_imap_append_of_two_gigabytes_is_refused_before_any_of_it_is_sent(imap_server):
    files = spool_files()
    with connected(imap_server.port) as sock:
        sock.sendall(b"b APPEND INBOX (\\Seen) {2147483648}\r\n")
        refused = answer(sock, b"\r\n")
        assert refused.startswith(b"b NO [TOOBIG] "), refused  # no "+": the client sends none of it
        assert spool_files() == files
        sock.sendall(b"c NOOP\r\n")
        assert answer(sock, b"\r\n").startswith(b"c OK")
    client = imap_login(imap_server.port)
    status, why = client.append("INBOX", None, None, b"x" * (MAX_APPEND + 1))
    assert (status, why[0][:8]) == ("NO", b"[TOOBIG]")
    client.logout()


def test_imap_append_stops_at_the_account_quota_and_memory_with_it(imap_server, tracing):
    client = imap_login(imap_server.port)
    before = traced()
    answers = [client.append("INBOX", None, None, megabyte_message(number))
               for number in range(imap_module.QUOTA_BYTES // MAX_APPEND + 4)]
    grown = traced() - before
    assert answers[0][0] == "OK"
    assert [(status, why[0][:11]) for status, why in answers[-4:]] == [("NO", b"[OVERQUOTA]")] * 4
    assert grown < imap_module.QUOTA_BYTES + SLACK, f"{grown / 2**20:.1f} MB kept"
    client.select("INBOX")
    client.store("1:*", "+FLAGS", r"(\Deleted)")
    client.expunge()
    assert client.append("INBOX", None, None, b"Subject: room again\r\n\r\nx\r\n")[0] == "OK"
    client.logout()


def test_imap_a_client_vanishing_mid_literal_leaves_no_spool_open(imap_server):
    files = spool_files()
    sock = connected(imap_server.port)
    sock.sendall(b"b APPEND INBOX {%d}\r\n" % MAX_APPEND)
    assert answer(sock, b"\r\n").startswith(b"+ ")
    sock.sendall(b"y" * (4 * IN_MEMORY))  # past what is held in memory: the spool is a file now
    wait_until(lambda: len(spool_files() - files) == 1, "no spool file was opened for the literal")
    sock.close()
    wait_until(lambda: spool_files() - files == set(), "the spool file stayed open after the client left")
    imap_login(imap_server.port).logout()  # and the server goes on
