"""labkit.serve: practice servers in the kernel, replaced on re-run, loopback only, alive after a crash."""

import io
import socket
from contextlib import redirect_stderr

import pytest
from twisted.internet import defer, protocol
from twisted.internet.error import CannotListenError
from twisted.protocols import basic
from twisted.web.resource import Resource

import labkit
from labkit.checks import converse


def talk(port: int, *lines: bytes, host: str = "127.0.0.1") -> bytes:
    """A plain blocking socket client (an independent peer): send lines, read until the server closes."""
    return converse(port, *lines, host=host, settle=5)


def test_serve_returns_a_handle_on_loopback_port_zero():
    server = labkit.serve("echo")
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.url == f"tcp://127.0.0.1:{server.port}/"
    assert talk(server.port, b"hi\r\n", b"quit\r\n") == b"You said: hi\r\nGoodbye.\r\n"
    assert "listening on" in server.log.text


def test_serving_again_under_the_same_name_replaces_the_old_listener():
    first = labkit.serve("echo", name="twice")
    second = labkit.serve("echo", name="twice")
    assert first.stopped and not second.stopped
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", first.port), timeout=5).close()
    assert [s.name for s in labkit.running_servers()] == ["twice"]
    # and on a fixed port: the old listener is gone before the new one binds
    third = labkit.serve("echo", name="fixed")
    fixed = labkit.serve("echo", name="fixed", port=third.port)
    assert fixed.port == third.port and third.stopped


def test_replacing_a_server_closes_its_open_connections():
    server = labkit.serve("echo", name="conn")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"x\n")
    assert sock.recv(100) == b"You said: x\r\n"
    labkit.serve("echo", name="conn")
    with sock, pytest.raises(ConnectionResetError):  # aborted by the server
        sock.recv(100)


def test_only_loopback_hosts_are_allowed():
    with pytest.raises(ValueError, match="this machine only"):
        labkit.serve("echo", host="0.0.0.0")
    with pytest.raises(ValueError, match="this machine only"):
        labkit.serve("echo", host="")
    server = labkit.serve("echo", name="six", host="::1")
    assert talk(server.port, b"v6\n", b"quit\n", host="::1") == b"You said: v6\r\nGoodbye.\r\n"


def test_the_listening_socket_is_bound_to_loopback_only():
    server = labkit.serve("echo")
    bound = labkit.react(lambda reactor: server.listeners[0].getHost())
    assert bound.host == "127.0.0.1"


def test_a_protocol_that_raises_is_reported_and_the_server_lives_on():
    class Broken(basic.LineReceiver):
        def lineReceived(self, line):
            self.sendLine("You said: " + line)  # the book's str + bytes

    broken = labkit.serve(protocol.ServerFactory.forProtocol(Broken), name="broken")
    other = labkit.serve("echo", name="other")
    assert talk(broken.port, b"hello\r\n") == b""
    labkit.react(lambda reactor: None)  # let the report land
    assert "Broken raised TypeError" in broken.log.text
    assert "the server keeps running" in broken.log.text
    assert talk(broken.port, b"again\r\n") == b""  # still accepting
    assert talk(other.port, b"fine\n", b"quit\n") == b"You said: fine\r\nGoodbye.\r\n"


def test_a_protocol_that_raises_on_a_half_close_is_reported_and_the_server_lives_on():
    from twisted.internet.interfaces import IHalfCloseableProtocol
    from zope.interface import implementer

    @implementer(IHalfCloseableProtocol)
    class BrokenAtHalfClose(protocol.Protocol):
        def readConnectionLost(self):
            raise RuntimeError("bug in readConnectionLost")

        def writeConnectionLost(self):
            pass

    broken = labkit.serve(protocol.ServerFactory.forProtocol(BrokenAtHalfClose), name="broken-half-close")
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", broken.port), timeout=5) as sock:
            sock.sendall(b"bye\n")
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""  # closed by the server, not left hanging
    labkit.react(lambda reactor: None)  # let the report land
    assert "BrokenAtHalfClose raised RuntimeError: bug in readConnectionLost" in broken.log.text
    assert "the server keeps running" in broken.log.text


def test_a_crash_while_a_cell_waits_is_shown_in_that_cell():
    class Broken(basic.LineReceiver):
        def lineReceived(self, line):
            raise RuntimeError("bug in lineReceived")

    broken = labkit.serve(protocol.ServerFactory.forProtocol(Broken), name="broken")

    class Client(protocol.Protocol):
        def connectionMade(self):
            self.transport.write(b"x\r\n")

        def connectionLost(self, reason):
            self.factory.done.callback(None)

    def main(reactor):
        factory = protocol.ClientFactory.forProtocol(Client)
        factory.done = defer.Deferred()
        reactor.connectTCP("127.0.0.1", broken.port, factory)
        return factory.done

    err = io.StringIO()
    with redirect_stderr(err):
        labkit.react(main, timeout=5)
    assert "RuntimeError: bug in lineReceived" in err.getvalue()
    assert "raise RuntimeError" in err.getvalue()


def test_web_resources_are_served_behind_a_site():
    class Page(Resource):
        isLeaf = True

        def render_GET(self, request):
            return b"<h1>hello</h1>"

    server = labkit.serve(Page(), name="page")
    assert server.url == f"http://127.0.0.1:{server.port}/"
    reply = talk(server.port, b"GET / HTTP/1.0\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 200 OK") and reply.endswith(b"<h1>hello</h1>")
    assert "GET / HTTP/1.0" in str(server.transcript)


def test_servers_table_and_stop_all():
    labkit.serve("echo", name="a")
    labkit.serve("hangup", name="b")
    table = labkit.running_servers()
    assert [s.name for s in table] == ["a", "b"]
    assert "a: listening on tcp://127.0.0.1:" in str(table)
    assert "<table>" in table._repr_html_()
    port = table["a"].port
    labkit.stop_all()
    assert len(labkit.running_servers()) == 0
    assert str(labkit.running_servers()) == "no practice servers running"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_unknown_practice_server_names_list_the_known_ones():
    with pytest.raises(KeyError, match="echo"):
        labkit.serve("no-such-server")


def test_port_field_listens_on_its_open_ports_only():
    field = labkit.serve("ports", size=12, open_offsets=(2, 5))
    assert field.ports == [field.ports[0], field.ports[0] + 3]
    first = field.ports[0] - 2
    for port in range(first, first + 12):
        if port in field.ports:
            assert talk(port) == b""
        else:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_servers_log_grows_live_in_the_view_shown_under_its_serve_cell():
    class Chatty(protocol.Protocol):
        def dataReceived(self, data):
            print("server got", data)

    server = labkit.serve(protocol.ServerFactory.forProtocol(Chatty), name="chatty", show=False)
    view = server.log.live_view()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"late")
        from labkit.checks import wait_until

        assert wait_until(lambda: "server got b'late'" in server.log.text)
    shown = "".join(output["text"] for output in view.outputs)
    assert "listening on" in shown and "server got b'late'" in shown


def test_an_http_factory_is_listed_with_an_http_url():
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    server = labkit.serve(Site(Resource()), name="site")
    assert server.url == f"http://127.0.0.1:{server.port}/"


def answers(server) -> bool:
    return talk(server.port, b"ok?\n", b"quit\n") == b"You said: ok?\r\nGoodbye.\r\n"


def test_a_re_serve_that_cannot_listen_leaves_the_old_server_running():
    old = labkit.serve("echo", name="keeper", show=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CannotListenError):
            labkit.serve("echo", name="keeper", port=taken.getsockname()[1], show=False)
    assert not old.stopped and labkit.running_servers()["keeper"] is old and answers(old)


def test_a_re_serve_on_the_same_port_that_fails_brings_the_old_server_back():
    old = labkit.serve("echo", name="same-port", show=False)
    port = old.port
    with pytest.raises(TypeError, match="getContext"):  # TLS options that are not: found only on listening
        labkit.serve("echo", name="same-port", port=port, tls=object(), show=False)
    assert not old.stopped and old.port == port and labkit.running_servers()["same-port"] is old and answers(old)
    assert "listening on" in old.log.text.splitlines()[-1] and old.log.text.rstrip().endswith("again")


def test_what_cannot_be_served_is_refused_before_anything_stops():
    old = labkit.serve("echo", name="untouched", show=False)
    with pytest.raises(TypeError, match="cannot serve <object.*give a protocol factory, a twisted.web resource"):
        labkit.serve(object(), name="untouched", port=old.port, show=False)
    assert not old.stopped and labkit.running_servers()["untouched"] is old and answers(old)
    assert not old.log.text.rstrip().endswith("again")


def test_a_factory_whose_build_protocol_raises_is_reported_and_the_server_lives_on():
    class Refusing(protocol.ServerFactory):
        def buildProtocol(self, addr):
            raise RuntimeError("no protocol today")

    refusing = labkit.serve(Refusing(), name="refusing", show=False)
    other = labkit.serve("echo", name="other-one", show=False)
    for _ in range(2):
        assert talk(refusing.port, b"hello\r\n") == b""
    labkit.react(lambda reactor: None)  # let the reports land
    assert refusing.log.text.count("Refusing.buildProtocol raised RuntimeError: no protocol today") == 2
    assert "the server keeps running. Fix the factory's buildProtocol" in refusing.log.text
    assert not refusing.stopped and answers(other)


@pytest.mark.parametrize("host", ["0", "0x0", "::0", "0.0.0.0", "10.1.2.3", "example.org"])
def test_hosts_beyond_loopback_are_refused_however_spelled(host):
    with pytest.raises(ValueError, match="this machine only"):
        labkit.serve("echo", name="beyond", host=host, show=False)
    assert "beyond" not in [s.name for s in labkit.running_servers()]


@pytest.mark.parametrize("host, normalised", [("localhost", "127.0.0.1"), ("127.1", "127.0.0.1"), ("[::1]", "::1")])
def test_loopback_hosts_are_normalised(host, normalised):
    server = labkit.serve("echo", name="normalised", host=host, show=False)
    assert server.host == normalised
    assert talk(server.port, b"x\n", b"quit\n", host=normalised) == b"You said: x\r\nGoodbye.\r\n"


def evicts_the_first_of_two(server) -> bool:
    """Two clients in turn: True if the first was closed to make room for the second."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as first:
        first.sendall(b"one\n")
        assert first.recv(100) == b"You said: one\r\n"
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as second:
            second.sendall(b"two\n")
            assert second.recv(100) == b"You said: two\r\n"
            try:
                first.sendall(b"three\n")
                return first.recv(100) == b""
            except (ConnectionResetError, BrokenPipeError):
                return True


def test_the_entrys_limits_apply_and_serve_may_override_them(monkeypatch):
    from servers import catalogue
    from servers.abuse_guard import Limits
    from servers.tcp import echo

    monkeypatch.setitem(catalogue.CATALOGUE, "echo", catalogue.Entry("echo", "echo", "servers.tcp:echo",
                                                                     limits={"max_connections": 1}))
    assert evicts_the_first_of_two(labkit.serve("echo", name="one-at-a-time", show=False))
    assert not evicts_the_first_of_two(labkit.serve("echo", name="overridden", limits=Limits(), show=False))
    assert evicts_the_first_of_two(labkit.serve(echo(), name="own", limits=Limits(max_connections=1), show=False))


STOPPED_AT_SHUTDOWN = """
import socket
import labkit
from labkit import bridge
server = labkit.serve("echo", show=False)
client = socket.create_connection(("127.0.0.1", server.port), timeout=5)
assert bridge.shutdown(timeout=10), "the reactor thread did not end"
assert server.stopped and len(labkit.running_servers()) == 0
try:
    assert client.recv(100) == b""
except ConnectionResetError:
    pass  # the server aborted the connection
print("stopped")
"""


def test_shutting_the_reactor_down_stops_every_server_first():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", STOPPED_AT_SHUTDOWN], capture_output=True, text=True, timeout=60)
    assert done.stdout == "stopped\n", done.stderr



def accepted_nodelay(server) -> list[int]:
    """TCP_NODELAY (getsockopt) of each socket ``server`` has accepted, read in the reactor."""
    def sockets(reactor):
        options = []
        for factory in server.factories:
            for connection in factory.protocols:
                transport = connection.transport
                while not isinstance(transport.getHandle(), socket.socket):  # TLS: the socket is below it
                    transport = transport.transport
                options.append(transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return options

    return labkit.react(sockets)


@pytest.mark.parametrize("name, tls", [("echo", False), ("pop3", False), ("pop3", True)])
def test_every_accepted_connection_is_tcp_nodelay(name, tls):
    """Small answers go out at once: no ~40 ms wait for the client's delayed ACK under Nagle's algorithm."""
    import ssl

    from servers import catalogue
    from servers.tls import ca_path

    server = labkit.serve(name, name=f"nodelay-{name}-{tls}", show=False,
                          tls=catalogue.entry(name).tls_options() if tls else None)
    with socket.create_connection((server.host, server.port), timeout=5) as client:
        if tls:  # the handshake done, the server has accepted
            client = ssl.create_default_context(cafile=ca_path()).wrap_socket(client, server_hostname="localhost")
        else:
            client.sendall(b"NOOP\r\n")
            client.recv(1)  # answered: accepted
        assert accepted_nodelay(server) == [1]
    server.stop()


def test_a_socket_twisted_accepts_by_itself_is_not_tcp_nodelay():
    """The control: the option is the listening path's doing, not the system's default."""
    accepted = []

    class Notes(protocol.Protocol):
        def connectionMade(self):
            accepted.append(self.transport.getHandle().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            self.transport.write(b"hello\r\n")

    port = labkit.react(lambda reactor: reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Notes),
                                                          interface="127.0.0.1"))
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=5) as client:
            client.recv(1)
    finally:
        labkit.react(lambda reactor: port.stopListening())
    assert accepted == [0]
