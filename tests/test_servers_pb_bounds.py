"""Perspective Broker practice servers (``pb``, ``todo``) under abuse and refusal: huge or deeply nested input
is refused in bounded work before and after login, and refusals reach the client with their reason instead of
being logged as unhandled errors. Clients: Twisted's own PB client (no other exists) and raw sockets."""

from __future__ import annotations

import socket
import time

import pytest
from twisted.cred.credentials import UsernamePassword
from twisted.internet.testing import StringTransport
from twisted.spread import banana, pb

import labkit
from servers import accounts
from servers.rpc import pbguard
from servers.rpc.pbguard import MAX_DEPTH, MAX_ITEMS, MAX_MESSAGE, SLICE, BoundedBroker
from tests.attacks import banana_list_header


def connected_broker() -> tuple[BoundedBroker, StringTransport]:
    broker = BoundedBroker(isClient=False)
    transport = StringTransport()
    broker.makeConnection(transport)
    return broker, transport


def string(data: bytes) -> bytes:
    out: list[bytes] = []
    banana.int2b128(len(data), out.append)
    return b"".join(out) + banana.STRING + data


def test_lists_nested_too_deep_close_the_connection():
    broker, transport = connected_broker()
    broker.dataReceived(banana_list_header(1) * (MAX_DEPTH + 1))
    assert transport.disconnecting and broker.refused


def test_a_list_too_long_closes_the_connection():
    broker, transport = connected_broker()
    broker.dataReceived(banana_list_header(MAX_ITEMS + 1))
    assert transport.disconnecting


def test_a_message_too_large_closes_the_connection_before_it_is_all_kept():
    broker, transport = connected_broker()
    piece = string(b"x" * 400_000)
    broker.dataReceived(banana_list_header(3) + piece + piece)
    assert not transport.disconnecting  # 800 kB so far: still within the bound
    broker.dataReceived(piece)
    assert transport.disconnecting and len(broker.buffer) <= MAX_MESSAGE


def test_input_is_decoded_a_slice_at_a_time(monkeypatch):
    """Banana copies the rest of what it was given for each token: given slices, that copy stays small."""
    sizes = []
    real = banana.Banana.dataReceived
    monkeypatch.setattr(banana.Banana, "dataReceived", lambda self, chunk: (sizes.append(len(chunk)),
                                                                            real(self, chunk))[1])
    broker, transport = connected_broker()
    message = banana_list_header(5000) + b"\x01\x81" * 5000  # 5,000 small ints in one read
    broker.dataReceived(message)
    assert max(sizes) <= SLICE and sum(sizes) == len(message) and len(sizes) > 1


def test_the_pb_server_drops_a_flood_of_nested_lists_and_keeps_serving():
    served = labkit.serve("pb", name="pb-flood", show=False)
    try:
        flood = banana_list_header(2) * 2_000_000  # 4 MB of lists inside lists, before any call
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            try:
                for start in range(0, len(flood), 65536):
                    sock.sendall(flood[start:start + 65536])
            except OSError:
                pass  # the server closed the connection
            sock.settimeout(5)
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass

        async def pages(reactor):
            factory = pb.PBClientFactory()
            reactor.connectTCP("127.0.0.1", served.port, factory)
            root = await factory.getRootObject()
            try:
                return await root.callRemote("listPages")
            finally:
                factory.disconnect()

        assert "WikiHome" in labkit.react(pages, timeout=10)
        assert "refused: lists nested deeper than" in served.log.text
        assert "Traceback" not in served.log.text and "Unhandled" not in served.log.text
    finally:
        served.stop()


@pytest.fixture
def todo_server():
    served = labkit.serve("todo", name="todo-refusals", show=False)
    yield served
    served.stop()


def login_and_call(port, user, password, *call):
    async def go(reactor):
        factory = pb.PBClientFactory()
        reactor.connectTCP("127.0.0.1", port, factory)
        try:
            perspective = await factory.login(UsernamePassword(user.encode(), password.encode()))
            return await perspective.callRemote(*call)
        except pb.RemoteError as failed:
            return f"RemoteError: {failed}"
        finally:
            factory.disconnect()

    return labkit.react(go, timeout=10)


def test_a_wrong_pb_password_says_why_and_is_not_logged_as_an_error(todo_server):
    got = login_and_call(todo_server.port, "admin", "not the password", "listItems")
    assert got == "RemoteError: unknown user name or password"
    time.sleep(0.2)
    assert "Unhandled" not in todo_server.log.text and "Traceback" not in todo_server.log.text


def test_a_refused_pb_call_says_what_the_account_may_call_and_is_not_logged(todo_server):
    guest = {a.user: a for a in accounts.accounts("auth")}["guest"]
    got = login_and_call(todo_server.port, "guest", guest.password, "addItem", "sneak")
    assert got == ("RemoteError: this account may not call 'addItem' (its perspective has no perspective_addItem); "
                   "it may call listItems")
    assert login_and_call(todo_server.port, "guest", guest.password, "listItems") == ["Read chapter 6"]
    time.sleep(0.2)
    assert "Unhandled" not in todo_server.log.text and "Traceback" not in todo_server.log.text


def test_the_bounds_leave_room_for_the_largest_page():
    from servers.rpc.data import MAX_TEXT

    assert MAX_TEXT * 4 < MAX_MESSAGE and pbguard.MAX_DEPTH >= 8
