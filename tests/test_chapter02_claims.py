"""Chapter 2 (simple clients and servers): the claims. Each test backs one sentence of the complete notebook that no
executed output there proves, asserted against what is installed (Twisted, and the tools around it); its docstring
names the notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks
are tested in tests/test_chapter02.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys

from twisted.internet import defer, protocol
from twisted.internet.testing import StringTransport
from twisted.protocols import basic

from tests.claims import WAIT, listen, run_python, stop_listening


def test_ctrl_c_before_the_reactor_runs_is_a_keyboard_interrupt_and_after_it_a_clean_stop():
    """02-simple-clients-and-servers, cell 4: Ctrl-C's signal while the reactor runs stops it and the program ends
    normally; one that comes before (while Python still imports or sets up) ends it with a `KeyboardInterrupt`
    traceback."""
    import signal

    code = """
import sys, time
from twisted.internet import reactor
print("setting up", flush=True)
if sys.argv[1] == "before":
    time.sleep(30)
reactor.callWhenRunning(print, "running", flush=True)
reactor.run()
print("stopped", flush=True)
"""
    endings = {}
    for when, line in (("before", "setting up"), ("while running", "running")):
        with subprocess.Popen([sys.executable, "-c", code, when.split()[0]], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as program:
            while program.stdout.readline().strip() != line:
                pass
            program.send_signal(signal.SIGINT)
            out, err = program.communicate(timeout=30)
            endings[when] = (program.returncode, "KeyboardInterrupt" in err, "stopped" in out)
    assert endings == {"before": (-signal.SIGINT, True, False), "while running": (0, False, True)}


def test_get_peer_address_is_gone_and_get_peer_gives_host_and_port():
    """02-simple-clients-and-servers, cell 25: `transport.getPeerAddress()` is gone; `getPeer()` returns an address
    with `.host` and `.port`."""
    peers = []

    class Note(protocol.Protocol):
        def connectionMade(self):
            peers.append(self.transport)
            self.transport.loseConnection()

    port = listen(protocol.ServerFactory.forProtocol(Note))
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
            assert client_socket.recv(10) == b""
            own_port = client_socket.getsockname()[1]
        transport = peers[0]
        assert not hasattr(transport, "getPeerAddress")
        assert (transport.getPeer().host, transport.getPeer().port) == ("127.0.0.1", own_port)
    finally:
        stop_listening(port)


def test_a_callback_that_returns_a_deferred_makes_the_chain_wait_for_it():
    """02-simple-clients-and-servers, cell 38 (and 03-web-clients, cells 10 and 33): a callback that returns a
    Deferred makes its chain wait for that Deferred, and the next step gets what it fired with."""
    inner, seen = defer.Deferred(), []
    outer = defer.succeed("first")
    outer.addCallback(lambda _: inner)
    outer.addCallback(seen.append)
    assert seen == []  # the first step ran; the next waits for inner
    inner.callback("second")
    assert seen == ["second"]


def test_deferred_list_gives_success_result_pairs_in_the_order_given_not_the_order_fired():
    """02-simple-clients-and-servers, cell 42: `DeferredList` fires with `(success, result)` pairs in the order
    of its list."""
    first, second = defer.Deferred(), defer.Deferred()
    results = []
    defer.DeferredList([first, second], consumeErrors=True).addCallback(results.append)
    second.errback(ValueError("refused"))
    first.callback("open")
    (pairs,) = results
    assert pairs[0] == (True, "open")
    assert pairs[1][0] is False and pairs[1][1].check(ValueError)


def test_standard_io_hangs_up_at_the_end_of_its_input():
    """02-simple-clients-and-servers, cell 57: at the end of its input `StandardIO` hangs up (the protocol loses
    its connection), which is why the program's input is held open."""
    code = """
import sys
from twisted.internet import defer, protocol, stdio, task

class Ends(protocol.Protocol):
    def __init__(self):
        self.ended = defer.Deferred()

    def connectionLost(self, reason):
        print("connection lost:", type(reason.value).__name__, file=sys.stderr)
        self.ended.callback(None)

def main(reactor):
    listener = Ends()
    stdio.StandardIO(listener)
    return listener.ended

task.react(main)
"""
    ran = run_python(code, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0 and "connection lost: ConnectionDone" in ran.stderr, ran.stderr


def test_an_exception_in_line_received_is_logged_and_drops_that_connection_only(logged):
    """02-simple-clients-and-servers, cell 69: an exception that escapes `lineReceived` is logged and that
    connection is dropped (the client reads b''); the server goes on accepting clients."""

    class Broken(basic.LineReceiver):
        def lineReceived(self, line):
            self.sendLine("You said: " + line)

    port = listen(protocol.ServerFactory.forProtocol(Broken))
    try:
        for _ in range(2):
            with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
                client_socket.sendall(b"hello\r\n")
                assert client_socket.recv(100) == b""
        failures = [event.get("log_failure") or event.get("failure") for event in logged if event.get("isError")]
        assert len([failure for failure in failures if failure and failure.check(TypeError)]) == 2
    finally:
        stop_listening(port)


def test_a_reactor_with_nothing_to_do_waits_without_using_the_cpu():
    """02-simple-clients-and-servers, cell 2: until something happens, the reactor just waits, using no CPU. A
    reactor left a second with nothing to do (in a process of its own, so no other thread counts) spends a small
    fraction of that second on the CPU: it sleeps in the kernel's wait for events, it does not poll."""
    code = """
import time
from twisted.internet import reactor
reactor.callLater(1.0, reactor.stop)
wall, cpu = time.monotonic(), time.process_time()
reactor.run()
print(time.process_time() - cpu, time.monotonic() - wall)
"""
    ran = run_python(code)
    cpu, wall = (float(number) for number in ran.stdout.split())
    assert wall >= 0.9, ran.stdout  # it did wait its second
    assert cpu < 0.25 * wall, f"the idle reactor used {cpu:.3f} s of CPU in {wall:.3f} s"


class Lines(basic.LineReceiver):
    """Keeps every piece `dataReceived` was given and every line `lineReceived` made of them."""

    MAX_LENGTH = 1_000_000

    def connectionMade(self):
        self.pieces, self.lines = [], []
        self.factory.made.append(self)
        if self.factory.paused:
            self.transport.pauseProducing()  # nothing is read until the test resumes it

    def dataReceived(self, data):
        self.pieces.append(data)
        super().dataReceived(data)

    def lineReceived(self, line):
        self.lines.append(line)


def test_a_line_receiver_fed_one_byte_at_a_time_still_gets_whole_lines():
    """02-simple-clients-and-servers, cells 55 and 66: TCP delivers a stream, so a line may come in any number of
    pieces; `LineReceiver` splits the stream into lines whatever the pieces: fed one byte at a time, it gets each
    line whole, once."""
    receiver = Lines()
    receiver.factory = protocol.Factory()
    receiver.factory.made, receiver.factory.paused = [], False
    receiver.makeConnection(StringTransport())
    for byte in b"first line\r\nsecond\r\nthird, not ended":
        receiver.dataReceived(bytes([byte]))
    assert receiver.lines == [b"first line", b"second"]
    assert len(receiver.pieces) == len(b"first line\r\nsecond\r\nthird, not ended")


def test_tcp_may_split_one_write_and_join_several():
    """02-simple-clients-and-servers, cell 55: one `write` on one side may arrive as several `dataReceived` calls on
    the other, or several writes as one. Over a real loopback connection: one write of 300 kB reaches the server in
    several pieces (Twisted reads at most 64 KiB at a time); four small writes that wait in the socket while the
    server is paused reach it in one piece; and the `LineReceiver` gets its lines whole either way."""
    import fcntl
    import struct
    import termios

    import labkit
    from labkit.checks import wait_until

    factory = protocol.ServerFactory.forProtocol(Lines)
    factory.made, factory.paused = [], True
    port = listen(factory)
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
            writes = [b"one\r\n", b"tw", b"o\r\nthr", b"ee\r\n"]
            for piece in writes:
                client_socket.sendall(piece)
            assert wait_until(lambda: factory.made, timeout=WAIT)
            server = factory.made[0]

            def waiting() -> int:
                """How many bytes wait, unread, in the server's socket."""
                held = fcntl.ioctl(server.transport.getHandle().fileno(), termios.FIONREAD, b"\0" * 4)
                return struct.unpack("i", held)[0]

            assert wait_until(lambda: waiting() == len(b"".join(writes)), timeout=WAIT)
            labkit.react(lambda reactor: server.transport.resumeProducing(), timeout=WAIT)
            assert wait_until(lambda: len(server.lines) == 3, timeout=WAIT)
            joined = list(server.pieces)
            big = b"x" * 300_000
            client_socket.sendall(big + b"\r\n")
            assert wait_until(lambda: len(server.lines) == 4, timeout=WAIT)
    finally:
        stop_listening(port)
    assert server.lines == [b"one", b"two", b"three", big]
    assert joined == [b"".join(writes)]  # four writes, one dataReceived
    assert len(server.pieces) - len(joined) > 1  # one write, several dataReceived
