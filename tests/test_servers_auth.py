"""Chapter 6's practice servers: the line login server on hashed SQLite users, the throttle, the PB to-do list.

Clients are plain sockets (as ``nc`` would talk) and, for PB, Twisted's own client; the throttle and the line
protocol are also driven without sockets (``task.Clock``, ``StringTransport``)."""

from __future__ import annotations

import hashlib
import select
import socket
import struct
import sqlite3
import threading
import time

import pytest
from twisted.cred import checkers, credentials, error, portal
from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.spread import pb
from zope.interface import implementer

import labkit
from labkit.checks import wait_until
from servers import accounts
from servers.auth import FULL_NAMES, auth, avatars, passwords, probes, user_table
from servers.auth.line import DENIED, LoginFactory
from servers.auth.throttle import Throttle, ThrottledChecker
from servers.auth.userdb import MAX_NAME_BYTES, DatabaseChecker, UserDatabase

ACCOUNTS = {account.user: account.password for account in accounts.accounts("auth")}
REFUSED = b"User Name: Password: " + DENIED + b"\r\n"


def talk(port: int, *lines: bytes, source: str = "127.0.0.1") -> bytes:
    """Send the lines at once from the loopback address ``source``, then read until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        sock.sendall(b"".join(line + b"\r\n" for line in lines))
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.fixture
def login_server(tmp_path):
    database = user_table(tmp_path)
    served = labkit.serve(auth(database), name="test-auth", show=False)
    served.database = database
    return served


# --- passwords ---------------------------------------------------------------------------------------------------

def test_hashes_are_salted_and_verified_and_malformed_lines_match_nothing():
    one, two = passwords.hash_password(b"secret"), passwords.hash_password(b"secret")
    assert one != two and one.startswith("scrypt$16384$8$1$")
    assert passwords.verify_password(b"secret", one) and passwords.verify_password(b"secret", two)
    assert not passwords.verify_password(b"Secret", one)
    for bad in ("", "plain-text", "scrypt$3$8$1$AAAA$AAAA", "scrypt$16384$8$1$!!$AAAA",
                "scrypt$1048576$64$1$AAAA$AAAA", one.rsplit("$", 1)[0]):
        assert not passwords.verify_password(b"secret", bad), bad
    assert not passwords.verify_password(b"", passwords.UNKNOWN_USER)
    with pytest.raises(TypeError, match="encode"):
        passwords.hash_password("text")


def test_the_database_file_never_holds_a_password_in_clear(tmp_path):
    path = user_table(tmp_path)
    stored = path.read_bytes()
    for password in ACCOUNTS.values():
        assert password.encode() not in stored
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT username, password_hash FROM users"))
    assert set(rows) == set(ACCOUNTS)
    assert all(passwords.verify_password(ACCOUNTS[name].encode(), line) for name, line in rows.items())


# --- the line server over real sockets ------------------------------------------------------------------------------

def test_probe_passes_and_each_account_is_welcomed(login_server):
    probes.login("127.0.0.1", login_server.port)
    answer = talk(login_server.port, b"ada", ACCOUNTS["ada"].encode())
    assert answer == b"User Name: Password: Welcome Ada Lovelace!\r\n"


def test_wrong_password_and_unknown_user_get_the_same_refusal(login_server):
    assert talk(login_server.port, b"ada", b"wrong") == REFUSED
    assert talk(login_server.port, b"nobody", ACCOUNTS["ada"].encode()) == REFUSED


@pytest.mark.parametrize("lines", [
    (b"", b""),
    (b"ada", b""),
    (b"admin' --", b"anything"),
    (b"' OR '1'='1", b"' OR '1'='1"),
    (b"\xff\xfe\x00", b"\x80"),
    (b"ada", b"\xff" + ACCOUNTS["ada"].encode()),
    (b"a" * (MAX_NAME_BYTES + 1), b"x"),
], ids=["empty", "empty password", "sql comment", "sql or", "not utf-8", "not utf-8 password", "long name"])
def test_bad_input_is_refused_like_a_wrong_password_and_the_server_goes_on(login_server, lines):
    assert talk(login_server.port, *lines) == REFUSED
    assert talk(login_server.port, b"admin", ACCOUNTS["admin"].encode()).endswith(b"Welcome Admin User!\r\n")


def test_a_100_kb_line_is_refused_at_once(login_server):
    assert talk(login_server.port, b"x" * 100_000) == b"User Name: " + DENIED + b"\r\n"
    assert talk(login_server.port, b"ada", b"p" * 100_000) == REFUSED
    probes.login("127.0.0.1", login_server.port)


def test_sql_in_a_user_name_changes_nothing_in_the_table(login_server):
    talk(login_server.port, b"x'; DROP TABLE users; --", b"x")
    with sqlite3.connect(login_server.database) as db:
        assert db.execute("SELECT count(*) FROM users").fetchone() == (len(ACCOUNTS),)


def test_a_new_user_is_asked_for_a_full_name_once(login_server):
    assert FULL_NAMES["guest"] == ""
    first = talk(login_server.port, b"guest", ACCOUNTS["guest"].encode(), b"Grace Hopper")
    assert first == b"User Name: Password: What's your full name? Welcome Grace Hopper!\r\n"
    again = talk(login_server.port, b"guest", ACCOUNTS["guest"].encode())
    assert again == b"User Name: Password: Welcome Grace Hopper!\r\n"


def test_a_guessers_refusals_are_held_back_but_the_right_password_gets_in_at_once(tmp_path):
    clock = task.Clock()
    served = labkit.serve(auth(user_table(tmp_path), throttle=Throttle(clock, free=3, first=1.0)),
                          name="test-auth-throttled", show=False)
    welcome = b"User Name: Password: Welcome Ada Lovelace!\r\n"
    for _ in range(3):
        assert talk(served.port, b"ada", b"guess") == REFUSED
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as guesser:
        guesser.sendall(b"ada\r\nguess\r\n")
        guesser.settimeout(0.5)
        held = b""
        with pytest.raises(TimeoutError):
            while chunk := guesser.recv(100):
                held += chunk
        assert held == b"User Name: Password: "  # the fourth wrong guess waits while the clock stands still
        assert talk(served.port, b"ada", ACCOUNTS["ada"].encode()) == welcome  # the real Ada gets in at once
        assert talk(served.port, b"ada", b"guess", source="127.0.0.2") == REFUSED  # another source: its own count
        labkit.react(lambda reactor: clock.advance(1.0))
        guesser.settimeout(10)
        rest = b""
        while chunk := guesser.recv(100):
            rest += chunk
    assert rest == DENIED + b"\r\n"


def test_a_flood_of_logins_is_refused_at_once_past_the_queue_and_vanished_clients_leave_it(tmp_path, monkeypatch):
    """At most MAX_WAITING logins wait for the hashing thread; one more is told at once that the server is busy.
    A client that vanishes (its connection reset) takes its login out of the queue: a real login after a flood of
    vanished ones is checked at once."""
    from servers.auth import worker
    from servers.auth.line import BUSY

    started = []
    real = worker.verify_password
    gate = threading.Event()

    def gated_verify(password, stored):
        started.append(password)
        gate.wait(10)  # hashes wait here until the test lets them go
        return real(password, stored)

    monkeypatch.setattr(worker, "verify_password", gated_verify)
    served = labkit.serve(auth(user_table(tmp_path)), name="test-auth-flood", show=False)
    sockets = []
    try:
        for number in range(worker.MAX_WAITING + 2):  # one hashing, MAX_WAITING waiting, one refused as busy
            sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = reset
            sock.sendall(b"stranger%d\r\nguess\r\n" % number)  # a name each: no throttle holds them back
            sockets.append(sock)
        for sock in sockets:  # the prompts come first
            prompts = b""
            while not prompts.endswith(b"Password: "):
                prompts += sock.recv(100)
        answered = []  # the logins the server refused at once: those that found the queue full
        deadline = time.monotonic() + 10
        while not answered and time.monotonic() < deadline:
            readable, _, _ = select.select(sockets, [], [], 0.2)
            answered = [sock.recv(300) for sock in readable]
        assert answered and set(answered) == {BUSY + b"\r\n"}
        assert len(answered) <= 2  # one hashing and MAX_WAITING waiting: the rest, at most two
        for sock in sockets:  # every client vanishes before its answer
            sock.close()
        assert wait_until(lambda: not any(q.waiting for q in worker._queues.values()), timeout=5)
        gate.set()
        assert talk(served.port, b"ada", ACCOUNTS["ada"].encode()) == b"User Name: Password: Welcome Ada Lovelace!\r\n"
        assert 1 <= len(started) <= 2  # Ada's, and the one hashing when they vanished if the thread had taken it
        # (under load it may not have: that one left the queue too); the waiting ones never ran
    finally:
        gate.set()
        for sock in sockets:
            sock.close()


# --- the throttle, without sockets -------------------------------------------------------------------------------

def test_the_throttle_doubles_the_wait_after_the_free_failures_and_forgets():
    clock = task.Clock()
    throttle = Throttle(clock, free=3, first=1.0, most=8.0, forget_after=60.0)
    delays = []
    for _ in range(8):
        delays.append(throttle.delay(b"ada"))
        throttle.failed(b"ada")
    assert delays == [0, 0, 0, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert throttle.delay(b"grace") == 0
    clock.advance(60.0)
    assert throttle.delay(b"ada") == 0
    for _ in range(5):
        throttle.failed(b"ada")
    throttle.succeeded(b"ada")
    assert throttle.delay(b"ada") == 0


def test_the_throttle_remembers_a_bounded_number_of_names():
    throttle = Throttle(task.Clock(), remember=100)
    for number in range(10_000):
        throttle.failed(b"user%d" % number)
    assert len(throttle._failures) == 100
    assert throttle.failures(b"user9999") == 1 and throttle.failures(b"user0") == 0


def test_a_throttled_checker_answers_only_when_the_clock_has_moved():
    clock = task.Clock()
    inner = checkers.InMemoryUsernamePasswordDatabaseDontUse(ada=b"right")
    checker = ThrottledChecker(inner, Throttle(clock, free=1, first=2.0))
    first = checker.requestAvatarId(credentials.UsernamePassword(b"ada", b"wrong"))
    assert first.result.check(error.UnauthorizedLogin)
    first.addErrback(lambda _: None)
    second = checker.requestAvatarId(credentials.UsernamePassword(b"ada", b"right"))
    assert not second.called
    clock.advance(1.9)
    assert not second.called
    clock.advance(0.1)
    assert second.result == b"ada"
    assert checker.throttle.delay(b"ada") == 0


# --- the line protocol, without sockets -------------------------------------------------------------------------

@implementer(portal.IRealm)
class CountingRealm:
    def __init__(self):
        self.logouts = 0

    def requestAvatar(self, avatar_id, mind, *interfaces):
        assert avatars.INamedUser in interfaces
        return avatars.INamedUser, avatars.NamedUser(avatar_id, "Ada"), self.logged_out

    def logged_out(self):
        self.logouts += 1


def in_memory_login(*lines):
    realm = CountingRealm()
    factory = LoginFactory(portal.Portal(realm, [checkers.InMemoryUsernamePasswordDatabaseDontUse(ada=b"pw")]))
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    for line in lines:
        protocol.dataReceived(line + b"\n")
    return protocol, transport, realm


def test_logout_is_called_once_after_the_greeting():
    protocol, transport, realm = in_memory_login(b"ada", b"pw")
    assert transport.value() == b"User Name: Password: Welcome Ada!\r\n"
    assert transport.disconnecting and realm.logouts == 1
    protocol.connectionLost(None)
    assert realm.logouts == 1


def test_a_refusal_logs_nobody_in_and_lines_after_it_are_ignored():
    protocol, transport, realm = in_memory_login(b"ada", b"nope", b"more", b"lines")
    assert transport.value() == REFUSED
    assert realm.logouts == 0


def test_an_unknown_user_costs_a_hash_like_a_known_one_and_no_hash_runs_in_the_reactor(tmp_path, monkeypatch):
    from labkit.bridge import in_reactor_thread

    threads_used = []
    real = hashlib.scrypt

    def counted(*args, **kwargs):
        threads_used.append("reactor" if in_reactor_thread() else threading.current_thread().name)
        return real(*args, **kwargs)

    users = UserDatabase(user_table(tmp_path))
    monkeypatch.setattr(hashlib, "scrypt", counted)
    try:
        for name in (b"ada", b"nobody"):
            with pytest.raises(error.UnauthorizedLogin, match="^unknown user name or password"):
                labkit.wait(DatabaseChecker(users).requestAvatarId(credentials.UsernamePassword(name, b"wrong")))
    finally:
        labkit.react(lambda reactor: users.close())
    assert len(threads_used) == 2 and "reactor" not in threads_used


def test_the_database_checker_fires_with_the_name_as_bytes(tmp_path):
    users = UserDatabase(user_table(tmp_path))
    checker = DatabaseChecker(users)
    try:
        got = labkit.wait(checker.requestAvatarId(credentials.UsernamePassword(b"ada", ACCOUNTS["ada"].encode())))
        assert got == b"ada"
        with pytest.raises(error.UnauthorizedLogin, match="unknown user name or password"):
            labkit.wait(checker.requestAvatarId(credentials.UsernamePassword(b"ada", b"wrong")))
    finally:
        labkit.react(lambda reactor: users.close())


# --- the PB to-do list ----------------------------------------------------------------------------------------

def test_todo_probe_passes():
    served = labkit.serve("todo", name="test-todo", show=False)
    probes.todo("127.0.0.1", served.port)


async def login_and(reactor, port, user, password, *calls):
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    try:
        perspective = await factory.login(credentials.UsernamePassword(user, password))
        results = []
        for call in calls:
            try:
                results.append(await perspective.callRemote(*call))
            except pb.RemoteError as refused:
                results.append(f"Error: {refused}")
        return results
    finally:
        factory.disconnect()


def test_todo_gives_admin_and_guest_different_perspectives_and_refuses_bad_items():
    served = labkit.serve("todo", name="test-todo", show=False)
    admin = ACCOUNTS["admin"].encode()
    got = labkit.react(login_and, served.port, b"admin", admin, ("addItem", "milk"), ("addItem", "x" * 201),
                       ("addItem", 42), ("deleteItem", 99), ("listItems",), ("deleteItem", 1))
    assert got[0] == 1 and got[4] == ["Read chapter 6", "milk"] and got[5] is None
    assert [text.split(":")[0] for text in got[1:4]] == ["Error"] * 3
    guest = labkit.react(login_and, served.port, b"guest", ACCOUNTS["guest"].encode(), ("listItems",),
                         ("addItem", "no"))
    assert guest[0] == ["Read chapter 6"] and "perspective_addItem" in guest[1]
    with pytest.raises(pb.RemoteError) as refused:
        labkit.react(login_and, served.port, b"admin", b"wrong", ("listItems",))
    assert refused.value.remoteType == b"servers.auth.pbtodo.LoginRefused"  # an UnauthorizedLogin, and a pb.Error
    assert str(refused.value) == "unknown user name or password"


def test_anonymous_is_refused_where_the_portal_has_no_anonymous_checker(login_server):
    assert talk(login_server.port, b"anonymous", b"") == REFUSED


@implementer(portal.IRealm)
class BrokenRealm:
    def requestAvatar(self, avatar_id, mind, *interfaces):
        raise RuntimeError("the realm's database is gone")


def test_a_broken_realm_is_reported_to_the_client_and_logged_and_the_server_goes_on():
    checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(ada=b"pw")
    served = labkit.serve(LoginFactory(portal.Portal(BrokenRealm(), [checker])), name="test-auth-broken",
                          show=False)
    answer = talk(served.port, b"ada", b"pw")
    assert answer == b"User Name: Password: Denied: the server could not complete your login; try again later.\r\n"
    assert "the realm's database is gone" in served.log.text
    assert talk(served.port, b"ada", b"wrong") == REFUSED
