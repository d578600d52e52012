"""labkit.wire: recording connections and showing them as conversations (test transports, and one real socket)."""

from hypothesis import given, strategies as st
from twisted.internet import protocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.testing import StringTransport
from twisted.protocols import basic

import labkit
from labkit.wire import CLIENT, SERVER, RecordingFactory, Transcript, show_bytes
from servers.tcp import EchoProtocol
from tests.peers import send_then_drain


def connect(factory, transcript_side=SERVER):
    transcript = Transcript("test")
    recording = RecordingFactory(factory, transcript, side=transcript_side)
    proto = recording.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, transcript


def test_server_side_recording_shows_both_directions_in_order():
    proto, transport, transcript = connect(protocol.ServerFactory.forProtocol(EchoProtocol))
    proto.dataReceived(b"hello\r\n")
    proto.dataReceived(b"quit\r\n")
    assert transport.value() == b"You said: hello\r\nGoodbye.\r\n"
    text = str(transcript)
    assert text.splitlines() == [
        "-- connection 1 opened (192.168.1.1:54321)",
        "C: hello\\r\\n",
        "S: You said: hello\\r\\n",
        "C: quit\\r\\n",
        "S: Goodbye.\\r\\n",
    ]
    assert transcript.sent_by(CLIENT) == b"hello\r\nquit\r\n"


def test_client_side_recording_swaps_the_sides():
    class Hello(basic.LineReceiver):
        def connectionMade(self):
            self.sendLine(b"HELO")

        def lineReceived(self, line):
            self.last = line

    proto, transport, transcript = connect(protocol.ClientFactory.forProtocol(Hello), CLIENT)
    proto.dataReceived(b"250 ok\r\n")
    assert transcript.sent_by(CLIENT) == b"HELO\r\n"
    assert transcript.sent_by(SERVER) == b"250 ok\r\n"


def test_closing_is_noted_with_the_reason():
    proto, transport, transcript = connect(protocol.ServerFactory.forProtocol(protocol.Protocol))
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    proto.connectionLost(Failure(ConnectionDone()))
    assert str(transcript).splitlines()[-1] == "-- connection 1 closed (Connection was closed cleanly.)"


def test_a_half_close_reaches_a_wrapped_protocol_that_handles_it():
    proto, transport, transcript = connect(protocol.ServerFactory.forProtocol(EchoProtocol))
    assert IHalfCloseableProtocol.providedBy(proto)
    proto.dataReceived(b"one\nunfinished")
    IHalfCloseableProtocol(proto).readConnectionLost()
    assert transport.value() == b"You said: one\r\nYou said: unfinished\r\n" and transport.disconnecting
    assert transcript.sent_by(SERVER) == transport.value()
    plain, _, _ = connect(protocol.ServerFactory.forProtocol(protocol.Protocol))
    assert not IHalfCloseableProtocol.providedBy(plain)  # the transport then closes at a half-close, as usual


def test_echo_served_by_labkit_answers_an_unfinished_line_after_a_half_close():
    server = labkit.serve("echo", show=False)
    assert send_then_drain(server.port, b"nc -N\nunfinished") == b"You said: nc -N\r\nYou said: unfinished\r\n"
    assert server.transcript.sent_by(CLIENT) == b"nc -N\nunfinished"


def test_a_server_over_tls_from_the_first_byte_has_both_sides_recorded_in_plain_text():
    import socket
    import ssl

    from servers import tls

    server = labkit.serve("echo", name="wire-tls", tls=tls.server_options(), show=False)
    try:
        context = ssl.create_default_context(cadata=tls.ca_pem().decode())
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as sock:
                sock.sendall(b"hello\r\n")
                assert sock.recv(100) == b"You said: hello\r\n"
        assert server.transcript.sent_by(CLIENT) == b"hello\r\n"
        assert server.transcript.sent_by(SERVER) == b"You said: hello\r\n"
    finally:
        server.stop()


def test_binary_and_control_bytes_are_shown_safely():
    assert show_bytes(b"a\tb\x00\xff\r\n") == "a\\tb\\x00\\xff\\r\\n\n"
    assert show_bytes("café".encode()) == "café"


@given(st.binary(max_size=200))
def test_shown_bytes_never_contain_raw_control_characters(data):
    shown = show_bytes(data)
    assert all(ch == "\n" or ch >= " " for ch in shown)
    assert shown.count("\n") == data.count(b"\n")


def test_long_messages_are_folded_in_text_and_html():
    transcript = Transcript("big")
    transcript.open("peer")
    transcript.record(1, SERVER, b"".join(b"line %d\r\n" % i for i in range(200)))
    text = str(transcript)
    assert "line 0" in text and "line 199" in text and "line 100" not in text
    assert "more lines" in text
    assert "more lines" in transcript._repr_html_()


def test_two_connections_are_labelled_and_separable():
    transcript = Transcript("two")
    one, two = transcript.open("a"), transcript.open("b")
    transcript.record(one, CLIENT, b"first\n")
    transcript.record(two, CLIENT, b"second\n")
    text = str(transcript)
    assert "C1: first\\n" in text and "C2: second\\n" in text
    assert str(transcript.only(two)).splitlines()[-1] == "C: second\\n"


def test_html_puts_client_left_and_server_right_and_escapes():
    transcript = Transcript("html")
    transcript.open("peer")
    transcript.record(1, CLIENT, b"<script>\n")
    transcript.record(1, SERVER, b"ok\n")
    page = transcript._repr_html_()
    assert "&lt;script&gt;" in page and "<script>" not in page
    client_row, server_row = [row for row in page.split("<tr>") if "pre" in row]
    assert client_row.index("<pre") < client_row.index("</td>")  # first column
    assert server_row.index("</td>") < server_row.index("<pre")  # second column


def test_memory_is_bounded_in_bytes_and_the_oldest_go_first_with_a_note(monkeypatch):
    from labkit import wire

    monkeypatch.setattr(wire, "MAX_BYTES", 20 * (wire.EVENT_COST + 10))
    transcript = Transcript("busy")
    for number in range(1, 101):
        transcript.open("peer")
        transcript.record(number, CLIENT, b"%09d\n" % number)
    assert transcript.kept_bytes <= wire.MAX_BYTES
    assert transcript.connections == 100
    lines = str(transcript).splitlines()
    assert lines[0].startswith("-- ") and "older events" in lines[0] and "dropped" in lines[0]
    assert lines[-1] == "C100: 000000100\\n"
    assert "C1: 000000001\\n" not in lines  # the oldest went first
    assert transcript.dropped_events > 0 and "dropped" in transcript._repr_html_()


def test_an_unbounded_stream_of_connections_keeps_memory_flat():
    import tracemalloc

    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    from labkit import wire

    transcript = Transcript("many")
    recording = RecordingFactory(protocol.ServerFactory.forProtocol(EchoProtocol), transcript)

    def one_connection():
        proto = recording.buildProtocol(None)
        proto.makeConnection(StringTransport())
        proto.dataReceived(b"hello\r\n")
        proto.connectionLost(Failure(ConnectionDone()))

    tracemalloc.start()
    try:
        for _ in range(3 * wire.MAX_BYTES // (4 * wire.EVENT_COST)):
            one_connection()
        filled = tracemalloc.get_traced_memory()[0]
        for _ in range(3 * wire.MAX_BYTES // (4 * wire.EVENT_COST)):
            one_connection()
        later = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert transcript.dropped_events > 0
    assert later - filled < wire.MAX_BYTES // 10  # once full, more connections cost no more memory


def test_jupyter_credentials_never_show_but_the_lesson_does():
    transcript = Transcript("proxied")
    transcript.open("peer")
    request = (b"GET /?token=s3cret HTTP/1.1\r\nCookie: _xsrf=2|ab|cd; username-127-0-0-1-8888=\"2|1:0|xyz\"; "
               b"flavour=mint\r\nX-XSRFToken: 2|ab|cd\r\nAuthorization: token t0ken\r\n\r\n")
    transcript.record(1, CLIENT, request[:40])
    transcript.record(1, CLIENT, request[40:])  # a secret split across two reads
    transcript.record(1, SERVER, b"HTTP/1.1 200 OK\r\n\r\nyou sent _xsrf=2|ab|cd")
    shown = str(transcript) + transcript._repr_html_() + repr(transcript.sent_by(CLIENT))
    for secret in ("s3cret", "2|ab|cd", "xyz", "t0ken"):
        assert secret not in shown
    assert "flavour=mint" in shown and "[redacted]" in shown
