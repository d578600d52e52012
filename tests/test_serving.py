"""labkit.serve: practice servers in the kernel, replaced on re-run, loopback only, alive after a crash."""

import io
import socket
from contextlib import redirect_stderr

import pytest
from twisted.internet import defer, protocol
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
    assert [s.name for s in labkit.servers()] == ["twice"]
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
    table = labkit.servers()
    assert [s.name for s in table] == ["a", "b"]
    assert "a: listening on tcp://127.0.0.1:" in str(table)
    assert "<table>" in table._repr_html_()
    port = table["a"].port
    labkit.stop_all()
    assert len(labkit.servers()) == 0
    assert str(labkit.servers()) == "no practice servers running"
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
