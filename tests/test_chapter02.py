"""Chapter 2's checks: each passes a right answer and fails a typical wrong one with a helpful message."""

import re

import pytest
from twisted.internet import defer, protocol, task
from twisted.protocols import basic

from labkit.checks import CheckFailed
from labkit.chapters import ch02


def right_countdown(reactor, n, tick):
    for step in range(n):
        reactor.callLater(step + 1, tick, n - step)
    return task.deferLater(reactor, n, lambda: "liftoff")


def test_countdown_passes_and_fails_when_ticks_come_at_once():
    ch02.check_countdown(right_countdown)

    def all_at_once(reactor, n, tick):
        for number in range(n, 0, -1):
            reactor.callLater(1, tick, number)
        return task.deferLater(reactor, n, lambda: "liftoff")

    with pytest.raises(CheckFailed, match=r"ticks \(time, number\)[\s\S]*hint: schedule every tick"):
        ch02.check_countdown(all_at_once)


def test_countdown_stub_says_the_code_is_not_written():
    def stub(reactor, n, tick):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="your code is not written yet"):
        ch02.check_countdown(stub)


class Hello(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(b"hello\r\n")
        self.transport.loseConnection()


def hello_factory(protocol_class):
    class Factory(protocol.ClientFactory):
        protocol = protocol_class

        def __init__(self):
            self.done = defer.Deferred()

        def clientConnectionLost(self, connector, reason):
            self.done.callback(reason.getErrorMessage())

        def clientConnectionFailed(self, connector, reason):
            self.done.errback(reason)

    return Factory


def test_hello_client_passes_and_fails_without_the_crlf():
    ch02.check_hello_client(hello_factory(Hello))

    class NoLineEnd(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"hello")
            self.transport.loseConnection()

    with pytest.raises(CheckFailed) as failed:
        ch02.check_hello_client(hello_factory(NoLineEnd))
    assert "what the server received" in str(failed.value) and "on the wire" in str(failed.value)


class UnwrittenHello(protocol.Protocol):
    def connectionMade(self):
        raise NotImplementedError()


class UnwrittenHelloFactory(protocol.ClientFactory):
    """The learner's copy of exercise 2.2: both methods still stubs."""

    protocol = UnwrittenHello

    def __init__(self):
        self.done = defer.Deferred()

    def clientConnectionLost(self, connector, reason):
        raise NotImplementedError()


def test_hello_client_stub_says_the_code_is_not_written_instead_of_timing_out():
    with pytest.raises(CheckFailed) as failed:
        ch02.check_hello_client(UnwrittenHelloFactory)
    assert "your code is not written yet" in str(failed.value) and "did not finish" not in str(failed.value)


class Connected(protocol.Protocol):
    def connectionMade(self):
        self.factory.deferred.callback("Connected!")
        self.transport.loseConnection()


def connect_with(factory_class):
    def test_connect(reactor, host, port):
        factory = factory_class()
        reactor.connectTCP(host, int(port), factory)
        return factory.deferred

    return test_connect


class RightFactory(protocol.ClientFactory):
    protocol = Connected

    def __init__(self):
        self.deferred = defer.Deferred()

    def clientConnectionFailed(self, connector, reason):
        self.deferred.errback(reason)


class ForgetfulFactory(RightFactory):
    def clientConnectionFailed(self, connector, reason):
        pass


def test_test_connect_passes_and_a_forgotten_errback_times_out_with_the_hint():
    ch02.check_test_connect(connect_with(RightFactory))
    with pytest.raises(CheckFailed, match=r"a closed port[\s\S]*got:      'LabTimeout'[\s\S]*clientConnectionFailed"):
        ch02.check_test_connect(connect_with(ForgetfulFactory))


def test_scan_passes_and_a_one_by_one_scan_fails_the_overlap():
    test_connect = connect_with(RightFactory)

    def scan(reactor, host, ports):
        ports = list(ports)
        attempts = [test_connect(reactor, host, port) for port in ports]
        return defer.DeferredList(attempts, consumeErrors=True).addCallback(
            lambda results: sorted(p for p, (ok, _) in zip(ports, results) if ok))

    ch02.check_scan(scan)

    async def one_by_one(reactor, host, ports):
        found = []
        for port in ports:
            try:
                await test_connect(reactor, host, port)
                found.append(port)
            except Exception:
                pass
        return found

    def sequential(reactor, host, ports):
        return defer.Deferred.fromCoroutine(one_by_one(reactor, host, ports))

    with pytest.raises(CheckFailed, match="connection attempts started before any answer came"):
        ch02.check_scan(sequential)


class Forwarder(protocol.Protocol):
    output = None
    normalize_newlines = False

    def dataReceived(self, data):
        if self.normalize_newlines:
            data = re.sub(rb"\r?\n", b"\r\n", data)
        self.output.write(data)


def test_forwarder_passes_and_fails_when_it_does_not_normalise():
    ch02.check_forwarder(Forwarder)

    class Plain(Forwarder):
        def dataReceived(self, data):
            self.output.write(data)

    with pytest.raises(CheckFailed, match="the request on the wire"):
        ch02.check_forwarder(Plain)


def test_forwarder_stub_says_the_code_is_not_written_instead_of_got_nothing():
    class Unwritten(Forwarder):
        def dataReceived(self, data):
            raise NotImplementedError()

    with pytest.raises(CheckFailed) as failed:
        ch02.check_forwarder(Unwritten)
    assert "your code is not written yet" in str(failed.value) and "got:      b''" not in str(failed.value)


def test_echo_server_stub_says_the_code_is_not_written():
    class Unwritten(basic.LineReceiver):
        def lineReceived(self, line):
            raise NotImplementedError()

    with pytest.raises(CheckFailed, match="your code is not written yet"):
        ch02.check_echo_server(protocol.ServerFactory.forProtocol(Unwritten))


def test_echo_server_passes_and_the_books_str_version_fails():
    class Echo(basic.LineReceiver):
        def lineReceived(self, line):
            if line == b"quit":
                self.sendLine(b"Goodbye.")
                self.transport.loseConnection()
            else:
                self.sendLine(b"You said: " + line)

    class Book(basic.LineReceiver):
        def lineReceived(self, line):
            if line == "quit":
                self.sendLine("Goodbye.")
                self.transport.loseConnection()
            else:
                self.sendLine("You said: " + line)

    ch02.check_echo_server(protocol.ServerFactory.forProtocol(Echo))
    with pytest.raises(CheckFailed, match=r"first client got[\s\S]*TypeError[\s\S]*hint: lines arrive as bytes"):
        ch02.check_echo_server(protocol.ServerFactory.forProtocol(Book))
