"""Checks for chapter 2, Building Simple Clients and Servers.

Each ``check_*`` function takes what the learner wrote, runs it against a practice server from
``servers.tcp`` (or a ``task.Clock`` / ``MemoryReactor`` where exact timing or counting is the point), and
shows a pass or raises :class:`labkit.checks.CheckFailed`. An unwritten protocol method says so at once.
"""

from __future__ import annotations

import threading

from twisted.internet import defer, error, protocol, task
from twisted.internet.testing import MemoryReactor

from labkit.bridge import LabTimeout
from labkit.checks import (Check, call_learner, closed_port, converse, limits, server_health, unwritten,
                           wait_until)

__all__ = ["check_countdown", "check_echo_server", "check_forwarder", "check_hello_client", "check_scan",
           "check_test_connect"]


def check_countdown(countdown) -> None:
    """Exercise 2.1: ``countdown(reactor, n, tick)`` calls ``tick(n)``, ``tick(n-1)`` ... ``tick(1)`` one second
    apart (the first after one second) and returns a Deferred that fires with ``"liftoff"`` after n seconds."""
    with Check("countdown(reactor, 3, tick) ticks 3, 2, 1 a second apart, then fires 'liftoff'",
               hint="schedule every tick with reactor.callLater(seconds, tick, number), and fire the Deferred "
                    "with task.deferLater(reactor, n, lambda: 'liftoff') or a callLater that calls "
                    "d.callback('liftoff')") as check:
        clock = task.Clock()
        ticks: list[tuple[float, int]] = []
        d = countdown(clock, 3, lambda number: ticks.append((clock.seconds(), number)))
        check.expect("it returns a Deferred", "Deferred", type(d).__name__, ok=isinstance(d, defer.Deferred))
        results = []
        if isinstance(d, defer.Deferred):
            d.addBoth(results.append)
        check.expect("nothing happens before the clock moves", [], list(ticks))
        for _ in range(4):
            clock.advance(1)
        check.expect("ticks (time, number)", [(1, 3), (2, 2), (3, 1)], ticks)
        check.expect("the Deferred's result at 3 s", ["liftoff"], results)


def check_hello_client(factory_class, server_name: str = "echo") -> None:
    """Exercise 2.1.3: a client factory whose protocol sends ``hello`` and closes at once, and whose
    ``done`` Deferred fires with the reason the connection ended."""
    with Check("the client says hello, hangs up, and reports how the connection ended",
               hint="in connectionMade write b'hello\\r\\n' then call self.transport.loseConnection(); in "
                    "clientConnectionLost fire self.done.callback(reason.getErrorMessage())") as check:
        server = check.serve(server_name, "check-hello")

        def main(reactor):
            factory = factory_class()
            reactor.connectTCP(server.host, server.port, factory)
            return factory.done

        reason = call_learner(main, timeout=limits.LEARNER_CALL)
        wait_until(lambda: server.open_connections == 0)
        check.show(server.transcript)
        check.expect("what the server received", b"hello\r\n", server.transcript.sent_by("client"))
        check.expect("done fired with", "Connection was closed cleanly.", reason)


def check_test_connect(test_connect) -> None:
    """Exercise 2.2: ``test_connect(reactor, host, port)`` returns a Deferred that fires with ``"Connected!"``
    on an open port and fails with the connection error on a closed one, promptly in both cases."""
    with Check("test_connect reports open and closed ports, and never leaves its caller waiting",
               hint="a ClientFactory hears of a failed connection in clientConnectionFailed(connector, reason): "
                    "fire self.deferred.errback(reason) there, or the Deferred never fires") as check:
        server = check.serve("hangup", "check-connect")
        closed = closed_port()
        opened = call_learner(test_connect, server.host, server.port, timeout=limits.LEARNER_CALL)
        check.expect("an open port", "Connected!", opened)
        try:
            outcome = call_learner(test_connect, "127.0.0.1", closed, timeout=limits.QUICK)
        except error.ConnectionRefusedError:
            outcome = "ConnectionRefusedError"
        except NotImplementedError:
            raise
        except Exception as failed:  # noqa: BLE001 - how it failed is what the expectation compares
            outcome = type(failed).__name__
        check.expect("a closed port", "ConnectionRefusedError", outcome)


def check_scan(scan) -> None:
    """Exercise 2.2.3: ``scan(reactor, host, ports)`` tries every port at once and fires with the sorted list
    of open ones."""
    with Check("scan finds exactly the open ports, trying them all at once",
               hint="start one test_connect per port before waiting for any of them, gather them with "
                    "defer.DeferredList(attempts, consumeErrors=True), and keep the ports whose result was "
                    "(True, ...)") as check:
        target = check.serve("ports", "check-ports", size=20, open_offsets=(2, 7, 13))
        first = target.ports[0] - 2
        ports = list(range(first, first + 20))
        found = call_learner(scan, "127.0.0.1", ports, timeout=limits.SCAN)
        check.expect("open ports found", target.ports, found)
        memory = MemoryReactor()
        scan(memory, "127.0.0.1", [1001, 1002, 1003])
        check.expect("connection attempts started before any answer came", 3, len(memory.tcpClients),
                     hint="a scan that waits for each port before trying the next takes the sum of all the "
                          "waits; start every attempt first, then gather them with DeferredList")


def check_forwarder(forwarder_class) -> None:
    """Exercise 2.3: a protocol that passes everything it receives to ``self.output.write``, turning bare LF
    line ends into CR LF when ``normalize_newlines`` is set."""

    class Collect:
        def __init__(self):
            self.data = b""

        def write(self, data):
            self.data += data

    with Check("the forwarder sends normalised lines and hands the answer to its output",
               hint="in dataReceived: if self.normalize_newlines, data = re.sub(rb'\\r?\\n', b'\\r\\n', data); "
                    "then self.output.write(data)") as check:
        server = check.serve("http", "check-forward")

        def main(reactor):
            answer = Collect()
            done = defer.Deferred()

            class Client(protocol.Protocol):
                def connectionMade(self):
                    outgoing = forwarder_class()
                    outgoing.output, outgoing.normalize_newlines = self.transport, True
                    outgoing.dataReceived(b"HEAD / HTTP/1.0\n")
                    outgoing.dataReceived(b"\n")
                    self.incoming = forwarder_class()
                    self.incoming.output, self.incoming.normalize_newlines = answer, False

                def dataReceived(self, data):
                    self.incoming.dataReceived(data)

                def connectionLost(self, reason):
                    done.callback(answer.data)

            reactor.connectTCP(server.host, server.port, protocol.ClientFactory.forProtocol(Client))
            return done

        try:
            received = call_learner(main, timeout=limits.QUICK)
        except LabTimeout:  # the server never saw the request end: show what it did see
            received = b"(nothing: the server was still waiting for the end of the request)"
        wait_until(lambda: server.open_connections == 0)
        check.show(server.transcript)
        check.expect("the request on the wire", b"HEAD / HTTP/1.0\r\n\r\n", server.transcript.sent_by("client"))
        check.expect("the output got the server's status line", b"HTTP/1.0 200 OK\r\n", received[:17])


def check_echo_server(factory) -> None:
    """Exercise 2.4: the echo server answers ``You said: LINE`` to each of two clients talking at once, and
    ``Goodbye.`` (then hangs up) on ``quit``."""
    with Check("two clients at once each get their own answers",
               hint="lines arrive as bytes: build the answer from bytes (b'You said: ' + line) and compare "
                    "with b'quit'") as check:
        server = check.serve(factory, "check-echo")
        replies: dict[str, bytes] = {}

        def client(name: str, words: list[bytes]):
            replies[name] = converse(server.port, *[w + b"\r\n" for w in words], b"quit\r\n")

        threads = [threading.Thread(target=client, args=("first", [b"hello", b"twisted"])),
                   threading.Thread(target=client, args=("second", [b"hi"]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(limits.CONCURRENT_CLIENTS)
        check.show(server.transcript)
        if unwritten(check, server):
            return
        check.expect("first client got", b"You said: hello\r\nYou said: twisted\r\nGoodbye.\r\n",
                     replies.get("first"), sent=b"hello\r\ntwisted\r\nquit\r\n")
        check.expect("second client got", b"You said: hi\r\nGoodbye.\r\n", replies.get("second"),
                     sent=b"hi\r\nquit\r\n")
        check.expect("two connections were made", 2, server.transcript.connections)
        server_health(check, server)
