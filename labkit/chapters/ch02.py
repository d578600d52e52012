"""Checks for chapter 2, Building Simple Clients and Servers.

Each ``check_*`` function takes what the learner wrote, runs it against a practice server from
``servers.tcp`` (or a ``task.Clock`` / ``MemoryReactor`` where exact timing or counting is the point), and
shows a pass or raises :class:`labkit.checks.CheckFailed`. An unwritten protocol method says so at once. Every
hint is chosen from what happened (what the server received, how the learner's Deferred ended), and the inputs
are picked at random where a fixed one could be answered by heart.
"""

from __future__ import annotations

import contextlib
import gc
import random
import threading

from twisted.internet import defer, error, protocol, task
from twisted.internet.testing import MemoryReactor
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure

from labkit.checks import (Check, Outcome, call_learner, closed_port, limits, logged_error, server_health,
                           unwritten, wait_until)
from labkit.checks.talk import conversation, hold_closed
from labkit.checks.values import Shown

__all__ = ["check_countdown", "check_echo_server", "check_forwarder", "check_hello_client", "check_scan",
           "check_test_connect"]


# --- 2.1 the reactor's clock ------------------------------------------------------------------------------------

def _tick_hint(n: int, ticks: list[tuple[float, int]]) -> str:
    """Which part of the ticks went wrong: their times or their numbers."""
    numbers = [number for _, number in ticks]
    times = [when for when, _ in ticks]
    if numbers != list(range(n, 0, -1)):
        return (f"the ticks counted {numbers}: they count down from n to 1 (n first), one tick per second, "
                "n ticks in all")
    if times != list(range(1, n + 1)):
        return (f"the ticks came at {times} s: the first comes one second after the call, each next one a "
                "second later (callLater's delay counts from now, for every call)")
    return ""


def check_countdown(countdown) -> None:
    """Exercise 2.1: ``countdown(reactor, n, tick)`` calls ``tick(n)``, ``tick(n-1)`` ... ``tick(1)`` one second
    apart (the first after one second) and returns a Deferred that fires with ``"liftoff"`` after n seconds.
    Run on a ``task.Clock`` with n chosen at random, so the times are exact and no answer fits by heart."""
    with Check("countdown(reactor, n, tick) ticks n, n-1 ... 1 a second apart, then fires 'liftoff'",
               start="schedule each tick with reactor.callLater(seconds, tick, number) and return a Deferred "
                     "(task.deferLater makes one)") as check:
        n = random.randint(3, 7)
        clock = task.Clock()
        ticks: list[tuple[float, int]] = []
        d = call_learner(countdown, clock, n, lambda number: ticks.append((clock.seconds(), number)),
                         timeout=limits.QUICK, blocking=True)
        if not check.expect("it returns a Deferred", "a Deferred", Shown(f"a {type(d).__name__}"),
                            ok=isinstance(d, defer.Deferred),
                            hint="countdown must return a Deferred that fires when the countdown is over; "
                                 "task.deferLater returns one"):
            return
        results = []
        d.addBoth(results.append)
        clock.advance(0)  # what is due at once runs now
        check.expect("nothing happens before a second has passed", [], list(ticks),
                     hint="a tick came before any time passed: the first tick comes one second after the call")
        for _ in range(n - 1):
            clock.advance(1)
        check.expect("the Deferred has not fired a second before the end", [], list(results),
                     hint="the Deferred fired before the countdown was over: it fires n seconds after the call")
        clock.advance(1)
        got = [r.getErrorMessage() if isinstance(r, Failure) else r for r in results]
        clock.advance(1)  # a second more: a late tick shows too
        check.expect("ticks (time, number)", [(t, n + 1 - t) for t in range(1, n + 1)], ticks,
                     hint=_tick_hint(n, ticks))
        check.expect("the Deferred's result at n seconds", ["liftoff"], got,
                     hint="the Deferred fires once, with the text 'liftoff', when the last second is over")


# --- 2.2 a client that says hello --------------------------------------------------------------------------------

def _hello_hint(sent: bytes, outcome: Outcome, left_open: bool) -> str:
    if isinstance(outcome.error, TypeError):
        return f"connectionMade raised TypeError: {outcome.error}. A transport sends bytes: b'...', not '...'"
    if sent.startswith(b"hello") and not sent.endswith(b"\r\n"):
        return "the server got no line end: a line on the wire ends with CR LF (b'\\r\\n')"
    if isinstance(outcome.error, str) and left_open:  # it never ended, and the connection is still open
        return ("the connection was still open when the time was up: the client must hang up itself after "
                "saying hello (its transport's loseConnection)")
    if not outcome.ok and isinstance(outcome.error, error.ConnectionDone):
        return ("done failed with ConnectionDone (an errback, or a callback given the Failure itself): hanging "
                "up cleanly is how this client is meant to end, so done fires with the reason's words")
    if outcome.ok:
        return "done fired with other words than the reason's own message (what getErrorMessage() says)"
    return ""


def check_hello_client(factory_class, server_name: str = "echo") -> None:
    """Exercise 2.2: a client factory whose protocol sends ``hello`` and closes at once, and whose
    ``done`` Deferred fires with the reason the connection ended, in words."""
    with Check("the client says hello, hangs up, and reports how the connection ended",
               start="in connectionMade write b'hello\\r\\n' to self.transport, then hang up") as check:
        server = check.serve(server_name, "check-hello")

        def main(reactor):
            factory = factory_class()
            reactor.connectTCP(server.host, server.port, factory)
            return factory.done

        outcome = Outcome(main, timeout=limits.LEARNER_CALL)
        left_open = server.open_connections > 0
        wait_until(lambda: server.open_connections == 0)
        check.show(server.transcript)
        sent = server.transcript.sent_by("client")
        hint = _hello_hint(sent, outcome, left_open)
        check.expect("what the server received", b"hello\r\n", sent, hint=hint)
        check.expect("done fired with", "Connection was closed cleanly.",
                     outcome.value if outcome.ok else outcome.described(), hint=hint)


# --- 2.3 a connection that fails ---------------------------------------------------------------------------------

def _closed_port_outcome(outcome: Outcome) -> tuple[object, str]:
    """How test_connect ended on a closed port, and the hint for it when that is wrong."""
    if outcome.ok:
        return (Shown(f"it fired with {outcome.shown()} (a success)"),
                "the refused connection was reported as a success (callback): a failure goes down the errback "
                "chain, so the caller's errback sees it")
    if isinstance(outcome.error, error.ConnectionRefusedError):
        return Shown("ConnectionRefusedError"), ""
    if isinstance(outcome.error, str):  # it never ended
        return (outcome.described(),
                "the Deferred never fired: clientConnectionFailed is where a ClientFactory hears that a "
                "connection failed, and nothing fired the Deferred there")
    return (outcome.described(),
            "it failed with another error than the connection's own: pass on the reason Twisted gave "
            "clientConnectionFailed, so the caller sees why the connection failed")


def check_test_connect(test_connect) -> None:
    """Exercise 2.3: ``test_connect(reactor, host, port)`` returns a Deferred that fires with ``"Connected!"``
    on an open port and fails with the connection error on a closed one, promptly in both cases."""
    with Check("test_connect reports open and closed ports, and never leaves its caller waiting",
               start="in clientConnectionFailed, fire self.deferred with the failure") as check:
        server = check.serve("hangup", "check-connect")
        opened = Outcome(test_connect, server.host, server.port, timeout=limits.LEARNER_CALL)
        check.expect("an open port", "Connected!", opened.value if opened.ok else opened.described(),
                     hint="the open port was not reported: the protocol's connectionMade fires the Deferred")
        closed = Outcome(test_connect, "127.0.0.1", closed_port(held_by=check), timeout=limits.QUICK)
        got, hint = _closed_port_outcome(closed)
        check.expect("a closed port", Shown("ConnectionRefusedError"), got, hint=hint)


# --- 2.4 a port scan ---------------------------------------------------------------------------------------------

def _scan_hint(found, open_ports: list[int], all_ports: list[int]) -> str:
    if not isinstance(found, list):
        return "scan's Deferred must fire with a list of port numbers"
    if found and all(isinstance(item, tuple) for item in found):
        return ("it fired with DeferredList's (success, result) pairs: turn them into the numbers of the ports "
                "whose attempt succeeded")
    if set(found) - set(open_ports):
        return "closed ports are in the list: keep only the ports whose attempt succeeded (success is True)"
    if sorted(found) == open_ports:
        return "the right ports, in the wrong order: the list is sorted (the ports were given in random order)"
    if set(found) < set(open_ports):
        missing = sorted(set(open_ports) - set(found))
        return (f"open ports {missing} are missing: every port of the {len(all_ports)} given must be tried, "
                "and each success kept")
    return ""


def check_scan(scan) -> None:
    """Exercise 2.4: ``scan(reactor, host, ports)`` tries every port at once and fires with the sorted list
    of open ones. The open ports are chosen at random and the ports are given in random order."""
    with Check("scan finds exactly the open ports, trying them all at once",
               start="start one test_connect per port, then gather them with defer.DeferredList") as check:
        offsets = sorted(random.sample(range(20), 3))
        target = check.serve("ports", "check-ports", size=20, open_offsets=tuple(offsets))
        first = target.ports[0] - offsets[0]
        hold_closed(sorted(set(range(first, first + 20)) - set(target.ports)), check)  # no other server takes one
        ports = random.sample(range(first, first + 20), 20)
        given = [port for port in ports if port in target.ports]
        if given == sorted(given):  # open ports given in order: a scan that keeps the given order would pass
            low, high = ports.index(given[0]), ports.index(given[-1])
            ports[low], ports[high] = ports[high], ports[low]
        memory = MemoryReactor()
        call_learner(scan, memory, "127.0.0.1", ports, timeout=limits.QUICK, blocking=True)
        started = len(memory.tcpClients)
        check.expect("connection attempts started before any answer came", len(ports), started,
                     hint="a scan that waits for each port before trying the next takes the sum of all the "
                          "waits: start every attempt first, then wait for them together" if started == 1 else
                          f"only {started} of the {len(ports)} ports given were tried: try every one")
        with _unhandled_failures() as unhandled:
            outcome = Outcome(scan, "127.0.0.1", iter(ports), timeout=limits.SCAN)  # any iterable of ports
        found = outcome.value if outcome.ok else outcome.described()
        hint = _scan_hint(found, target.ports, ports)
        if found == [] and started == len(ports):
            hint = ("no port was kept although every attempt started: ports may be any iterable, such as an "
                    "iterator that runs out after one pass, so make a list of it before using it twice")
        check.expect("open ports found", target.ports, found, hint=hint)
        check.expect("no failed attempt left unhandled (Twisted logs 'Unhandled error in Deferred')", 0,
                     len(unhandled), hint="the refused attempts' failures were left unhandled: DeferredList "
                                          "takes them over only with consumeErrors=True")


@contextlib.contextmanager
def _unhandled_failures():
    """The failures Twisted logs as "Unhandled error in Deferred" while the block runs, and when the garbage it
    left is collected at its end."""
    seen: list = []

    def observe(event):
        if "Unhandled error in Deferred" in (event.get("log_format") or ""):
            seen.append(event.get("log_failure"))

    globalLogPublisher.addObserver(observe)
    try:
        yield seen
        gc.collect()
    finally:
        globalLogPublisher.removeObserver(observe)


# --- 2.5 a forwarder ---------------------------------------------------------------------------------------------

class _Collect:
    def __init__(self):
        self.data = b""

    def write(self, data):
        self.data += data


def _forwarded_hint(wire: bytes, outcome: Outcome) -> str:
    if isinstance(outcome.error, Exception) and not isinstance(outcome.error, error.ConnectionDone):
        return f"your forwarder raised {type(outcome.error).__name__}: {outcome.error}"
    if not wire:
        return "the server received nothing: dataReceived must hand what it got to self.output.write"
    if b"\r\r\n" in wire:
        return ("a line that already ended in CR LF went out as CR CR LF: turn a bare LF into CR LF, and leave "
                "a CR LF as it is")
    if b"\n" in wire.replace(b"\r\n", b""):
        return "lines went out with bare LF ends: with normalize_newlines set, every line end goes out as CR LF"
    return ""


def check_forwarder(forwarder_class) -> None:
    """Exercise 2.5: a protocol that passes everything it receives to ``self.output.write``, turning bare LF
    line ends into CR LF when ``normalize_newlines`` is set, and changing nothing when it is not."""
    with Check("the forwarder sends normalised lines and hands the answer to its output",
               start="in dataReceived, hand data to self.output.write (normalised first when "
                     "self.normalize_newlines is set)") as check:
        server = check.serve("http", "check-forward")
        token = b"%08x" % random.getrandbits(32)
        answer = _Collect()

        def main(reactor):
            done = defer.Deferred()

            class Client(protocol.Protocol):
                def connectionMade(self):
                    outgoing = forwarder_class()
                    outgoing.output, outgoing.normalize_newlines = self.transport, True
                    outgoing.dataReceived(b"HEAD / HTTP/1.0\r\n")
                    outgoing.dataReceived(b"X-Check: " + token + b"\n")
                    outgoing.dataReceived(b"\n")
                    self.incoming = forwarder_class()
                    self.incoming.output, self.incoming.normalize_newlines = answer, False

                def dataReceived(self, data):
                    self.incoming.dataReceived(data)

                def connectionLost(self, reason):
                    done.callback(answer.data)

            reactor.connectTCP(server.host, server.port, protocol.ClientFactory.forProtocol(Client))
            return done

        outcome = Outcome(main, timeout=limits.QUICK)
        wait_until(lambda: server.open_connections == 0)
        check.show(server.transcript)
        wire = server.transcript.sent_by("client")
        check.expect("the request on the wire", b"HEAD / HTTP/1.0\r\nX-Check: " + token + b"\r\n\r\n", wire,
                     hint=_forwarded_hint(wire, outcome))
        received = outcome.value if outcome.ok else b""
        check.expect("the output got the server's status line", b"HTTP/1.0 200 OK\r\n", received[:17],
                     hint="what the server answered must reach the output: self.output.write(data)")

        def unchanged():
            plain = forwarder_class()
            plain.output, plain.normalize_newlines = _Collect(), False
            plain.dataReceived(b"one\ntwo\r\n" + token)
            return plain.output.data

        check.expect("with normalize_newlines False, the data passes unchanged", b"one\ntwo\r\n" + token,
                     call_learner(unchanged, timeout=limits.QUICK, blocking=True),
                     hint="the data changed although normalize_newlines was False: normalise only when it is set")


# --- 2.6 an echo server with manners -----------------------------------------------------------------------------

def _echo_hint(server, replies: dict) -> str:
    raised = logged_error(server.log.text)
    if raised.startswith("TypeError"):
        return f"the server raised {raised}: lines arrive as bytes, so build the answer from bytes"
    if any(b"You said: quit" in heard.received for heard in replies.values()):
        return "the server answered quit like any other line: the line is bytes, so compare it with b'quit'"
    if any(b"Goodbye." in heard.received and not heard.hung_up for heard in replies.values()):
        return "the server said Goodbye. but kept the connection open: it must hang up after saying it"
    return "each answer is 'You said: ' followed by the line the client sent"


def check_echo_server(factory) -> None:
    """Exercise 2.6: the echo server answers ``You said: LINE`` to each of two clients talking at once, and
    ``Goodbye.`` (then hangs up) on ``quit``. The words are chosen at random."""
    with Check("two clients at once each get their own answers, and quit says goodbye and hangs up",
               start="in lineReceived, answer with self.sendLine(...); the line arrives as bytes") as check:
        server = check.serve(factory, "check-echo")
        words = random.sample([b"hello", b"twisted", b"reactor", b"deferred", b"factory", b"protocol"], 3)
        replies: dict = {}

        def client(name: str, lines: list[bytes]):
            replies[name] = conversation(server.port, *[w + b"\r\n" for w in lines], b"quit\r\n",
                                         settle=limits.REPLY)  # ended by the hang-up after quit

        threads = [threading.Thread(target=client, args=("first", words[:2])),
                   threading.Thread(target=client, args=("second", words[2:]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(limits.CONCURRENT_CLIENTS)
        check.show(server.transcript)
        if unwritten(check, server):
            return
        hint = _echo_hint(server, replies)
        for name, said in (("first", words[:2]), ("second", words[2:])):
            heard = replies.get(name)
            check.expect(f"the {name} client got", b"".join(b"You said: " + w + b"\r\n" for w in said)
                         + b"Goodbye.\r\n", heard.received if heard else None,
                         sent=b"".join(w + b"\r\n" for w in said) + b"quit\r\n", hint=hint)
            check.expect(f"the server hung up on the {name} client after Goodbye.", True,
                         bool(heard and heard.hung_up), hint=hint)
        check.expect("two connections were made", 2, server.transcript.connections)
        server_health(check, server)
