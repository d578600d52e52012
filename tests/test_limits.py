"""servers.abuse_guard, servers.loopback and servers.listening without sockets: Twisted's Clock, StringTransport and MemoryReactor."""

import pytest
from twisted.internet import protocol
from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor, StringTransport
from zope.interface import implementer

from servers.abuse_guard import Limits, guard
from servers.listening import plan
from servers.loopback import NotLoopback, loopback
from servers.tcp import EchoProtocol


@pytest.mark.parametrize("given, expected", [
    ("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("LocalHost.", "127.0.0.1"), ("127.0.0.2", "127.0.0.2"),
    ("127.1", "127.0.0.1"), ("::1", "::1"), ("[::1]", "::1"), ("0:0:0:0:0:0:0:1", "::1"),
    ("::ffff:127.0.0.1", "127.0.0.1"),
])
def test_loopback_spellings_are_normalised(given, expected):
    assert loopback(given) == expected


@pytest.mark.parametrize("given", ["", " ", "0", "0x0", "0.0.0.0", "::", "::0", "::ffff:0.0.0.0"])
def test_every_interface_spelling_is_refused_naming_the_fix(given):
    with pytest.raises(NotLoopback, match="every interface") as refused:
        loopback(given)
    assert "host='127.0.0.1'" in str(refused.value)


@pytest.mark.parametrize("given", ["192.168.1.20", "10.0.0.1", "8.8.8.8", "fe80::1%eth0", "2001:db8::1",
                                   "example.com", "localhost.example.com", None, 2130706433])
def test_other_hosts_are_refused(given):
    with pytest.raises(NotLoopback, match="host='127.0.0.1'"):
        loopback(given)


def test_not_loopback_is_a_value_error():
    assert issubclass(NotLoopback, ValueError)


@pytest.mark.parametrize("field", ["max_connections", "idle_timeout", "request_timeout", "max_buffered"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


class Silent(protocol.Protocol):
    """Receives and never answers."""

    def dataReceived(self, data):
        self.received = getattr(self, "received", b"") + data


def _guarded(protocol_class, clock, **limits):
    return guard(protocol.ServerFactory.forProtocol(protocol_class), Limits(**limits), clock=clock)


def _connect(factory):
    connection = factory.buildProtocol(None)
    transport = StringTransport()
    connection.makeConnection(transport)
    return connection, transport


def test_past_the_cap_the_longest_idle_connection_makes_room():
    clock = Clock()
    factory = _guarded(EchoProtocol, clock, max_connections=2)
    first_connection, first = _connect(factory)
    clock.advance(1)
    _, second = _connect(factory)
    clock.advance(1)
    first_connection.dataReceived(b"hi\n")  # the first talks again, so the second is now idle longest
    clock.advance(1)
    _, third = _connect(factory)
    assert (first.disconnecting, second.disconnected, third.disconnecting) == (False, True, False)
    assert len(factory.protocols) == 2 and factory.evicted == 1


def test_an_idle_connection_is_closed_and_talk_keeps_it_open():
    clock = Clock()
    factory = _guarded(EchoProtocol, clock, idle_timeout=10, request_timeout=5)
    connection, transport = _connect(factory)
    for _ in range(5):
        clock.advance(4)
        connection.dataReceived(b"still here\n")
    assert not transport.disconnecting
    assert transport.value().count(b"You said: still here\r\n") == 5
    clock.advance(9.5)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting and not transport.disconnected  # closed in order, answers sent first


def test_an_idle_connection_that_cannot_send_what_waits_is_dropped_after_a_grace():
    clock = Clock()
    factory = _guarded(EchoProtocol, clock, idle_timeout=10)
    _, transport = _connect(factory)
    clock.advance(10)
    assert transport.disconnecting and not transport.disconnected
    clock.advance(5)  # a StringTransport never finishes closing, like a socket whose client does not read
    assert transport.disconnected


def test_a_trickled_request_is_closed_at_the_request_timeout():
    clock = Clock()
    factory = _guarded(Silent, clock, idle_timeout=100, request_timeout=3)
    connection, transport = _connect(factory)
    for byte in b"GET / HTTP/1.1\r\n":
        connection.dataReceived(bytes([byte]))
        clock.advance(0.5)
        if transport.disconnecting:
            break
    assert transport.disconnected  # dropped at once, not closed in order
    assert clock.seconds() == pytest.approx(3.0)


def test_an_answered_request_does_not_count_against_the_request_timeout():
    clock = Clock()
    factory = _guarded(EchoProtocol, clock, idle_timeout=100, request_timeout=3)
    connection, transport = _connect(factory)
    for _ in range(10):
        connection.dataReceived(b"line\n")
        clock.advance(1)
    assert not transport.disconnecting


def test_a_full_send_buffer_stops_reading_until_it_drains():
    factory = _guarded(EchoProtocol, Clock(), max_buffered=1000)
    connection, transport = _connect(factory)
    assert transport.streaming and IPushProducer.providedBy(transport.producer)
    transport.producer.pauseProducing()  # what a socket transport does past bufferSize
    assert transport.producerState == "paused"
    transport.producer.resumeProducing()
    assert transport.producerState == "producing"


@implementer(IPushProducer)
class Producer:
    state = "producing"

    def pauseProducing(self):
        self.state = "paused"

    def resumeProducing(self):
        self.state = "producing"

    def stopProducing(self):
        self.state = "stopped"


class Streaming(protocol.Protocol):
    def connectionMade(self):
        self.producer = Producer()
        self.transport.registerProducer(self.producer, True)


def test_a_protocols_own_producer_takes_the_pauses_and_gives_them_back_when_unregistered():
    factory = _guarded(Streaming, Clock())
    connection, transport = _connect(factory)
    inner = connection.inner
    transport.producer.pauseProducing()
    assert (inner.producer.state, transport.producerState) == ("paused", "producing")
    transport.producer.resumeProducing()
    assert inner.producer.state == "producing"
    with pytest.raises(RuntimeError, match="never unregistered"):
        transport.registerProducer(Producer(), True)
    transport.unregisterProducer()
    transport.producer.pauseProducing()
    assert (inner.producer.state, transport.producerState) == ("producing", "paused")


def test_closing_unregisters_the_guards_producer_so_the_close_is_not_held_back():
    factory = _guarded(EchoProtocol, Clock())
    connection, transport = _connect(factory)
    connection.dataReceived(b"quit\n")
    assert transport.value() == b"Goodbye.\r\n" and transport.disconnecting and transport.producer is None


def test_after_a_half_close_a_plain_protocol_answers_then_closes():
    factory = _guarded(Silent, Clock())
    connection, transport = _connect(factory)
    assert IHalfCloseableProtocol.providedBy(connection)
    connection.dataReceived(b"last words")
    connection.readConnectionLost()
    assert transport.disconnecting


def test_after_a_half_close_echo_answers_every_line_even_an_unfinished_one():
    factory = _guarded(EchoProtocol, Clock())
    connection, transport = _connect(factory)
    connection.dataReceived(b"one\ntwo\r\nthree")
    connection.readConnectionLost()
    assert transport.value() == b"You said: one\r\nYou said: two\r\nYou said: three\r\n"
    assert transport.disconnecting


def test_a_closed_connection_stops_its_timer_leaves_the_count_and_unhooks_its_transport():
    clock = Clock()
    factory = _guarded(EchoProtocol, clock)
    connection, transport = _connect(factory)
    assert "write" in vars(transport)
    connection.connectionLost(None)
    assert clock.getDelayedCalls() == [] and len(factory.protocols) == 0
    hooks = {"write", "writeSequence", "registerProducer", "unregisterProducer", "loseConnection"}
    assert not hooks & set(vars(transport))


@pytest.mark.parametrize("host", ["0", "0x0", "::0", "", "192.168.1.20"])
def test_listen_refuses_beyond_loopback_before_listening(host):
    reactor = MemoryReactor()
    with pytest.raises(NotLoopback):
        plan(protocol.ServerFactory.forProtocol(EchoProtocol), host=host).listen(reactor)
    assert reactor.tcpServers == []


def test_listen_guards_inside_nothing_and_wraps_inside_the_guard():
    reactor = MemoryReactor()
    wrapped = []

    def wrap(factory):
        wrapped.append(factory)
        return factory

    echo = protocol.ServerFactory.forProtocol(EchoProtocol)
    plan(echo, host="localhost", limits=Limits(max_connections=3)).listen(reactor, wrap)
    [(port, factory, backlog, interface)] = reactor.tcpServers
    assert (port, interface, wrapped) == (0, "127.0.0.1", [echo])
    assert factory.wrappedFactory is echo and factory.limits == Limits(max_connections=3)
