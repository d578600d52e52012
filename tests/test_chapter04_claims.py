"""Chapter 4 (web servers): the claims. Each test backs one sentence of the complete notebook that no executed output
there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter04.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import io
import socket
import warnings

import pytest
from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.web import http, resource, server

import labkit
from labkit.checks import wait_until
from tests.claims import WAIT, deprecation_warnings, listen, serve_page, stop_listening


def test_the_http_server_closes_a_connection_idle_for_a_minute_by_default():
    """04-web-servers, cell 11: `twisted.web`'s HTTP server closes a connection that stays idle, after a minute by
    default."""
    clock = task.Clock()
    channel = http.HTTPFactory(reactor=clock).buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    clock.advance(59)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting


def test_http_factory_logs_each_request_in_the_combined_log_format(tmp_path):
    """04-web-servers, cell 20: given a `logPath`, `HTTPFactory` (here its subclass `Site`) logs every request in the
    combined log format: the common one plus the referrer and the user agent."""
    root = resource.Resource()
    root.putChild(b"page", resource.Resource())
    log_path = tmp_path / "access.log"
    port = listen(server.Site(root, logPath=str(log_path)))
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
            client_socket.sendall(b"GET /nowhere HTTP/1.0\r\nReferer: http://example.test/from\r\n"
                                  b"User-Agent: claims-agent\r\n\r\n")
            while client_socket.recv(4096):
                pass
    finally:
        stop_listening(port)
    line = log_path.read_text().strip()
    assert '"GET /nowhere HTTP/1.0" 404 ' in line and line.endswith('"http://example.test/from" "claims-agent"')


def test_put_child_with_a_str_segment_raises_type_error():
    """04-web-servers, cell 49: `putChild` with a str segment (the book's `putChild('', ...)`) raises `TypeError`
    at once."""
    with pytest.raises(TypeError):
        resource.Resource().putChild("", resource.Resource())


def test_a_body_of_100000_bytes_or_more_is_read_into_a_temporary_file():
    """04-web-servers, cell 43: Twisted reads a request's body into memory, or from 100,000 bytes on into a
    temporary file."""
    from twisted.web.test.requesthelper import DummyChannel

    small, large = http.Request(DummyChannel()), http.Request(DummyChannel())
    small.gotLength(99_999)
    large.gotLength(100_000)
    assert isinstance(small.content, io.BytesIO)
    assert not isinstance(large.content, io.BytesIO) and large.content.fileno() >= 0
    small.content.close()
    large.content.close()


def test_a_str_from_render_is_a_500_and_nothing_is_logged(logged):
    """04-web-servers, cell 51: Twisted turns a `str` returned by `render` into a 500 page without logging
    anything."""

    class Text(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            return "<h1>text</h1>"

    port = serve_page(Text())
    try:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", port.getHost().port, timeout=WAIT)
        connection.request("GET", "/page")
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status == 500 and b"Request did not return bytes" in body
        assert not [event for event in logged if event.get("log_failure") or event.get("isError")
                    or event.get("log_level") and event["log_level"].name in ("error", "critical")]
    finally:
        stop_listening(port)


def test_no_resource_warns_that_it_is_deprecated():
    """04-web-servers, cell 66: `resource.NoResource` is deprecated (for `twisted.web.pages.notFound`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resource.NoResource()
    assert any(warning.category is DeprecationWarning and "pages.notFound" in str(warning.message)
               for warning in caught)


def test_html_escape_also_escapes_both_quotes():
    """04-web-servers, cell 43: `html.escape` turns quotes into `&quot;` and `&#x27;` as well as `<`, `>` and `&`,
    so an escaped value is safe inside an attribute."""
    import html

    assert html.escape("""<a href="x" title='y'>&""") == "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;"


def test_sqlite3_waits_5_seconds_for_a_lock_by_default():
    """04-web-servers, cell 75: `sqlite3.connect` waits 5 seconds for a lock held by somebody else unless given
    `timeout` (read from its signature, which the C function carries as text)."""
    import re
    import sqlite3

    assert re.search(r"\btimeout=5\.0\b", sqlite3.connect.__text_signature__)


@pytest.mark.parametrize("same_thread_check", [True, False])
def test_adbapi_gives_each_thread_its_own_sqlite_connection_and_closes_them_from_the_reactor(
        same_thread_check, tmp_path, logged):
    """04-web-servers, cell 92: each of the pool's threads opens a connection of its own, and the pool closes them
    all from the reactor's thread, which `sqlite3` refuses (a `ProgrammingError` logged for each) unless
    `check_same_thread=False`."""
    import sqlite3
    import threading

    from twisted.enterprise import adbapi

    options = {} if same_thread_check else {"check_same_thread": False}
    pool = labkit.react(lambda reactor: adbapi.ConnectionPool("sqlite3", str(tmp_path / "claims.db"), cp_min=2,
                                                              cp_max=2, **options), timeout=WAIT)

    def create(cursor):
        cursor.execute("CREATE TABLE notes (text)")
        return threading.get_ident()

    async def use(reactor):
        made_in = await pool.runInteraction(create)
        return {made_in} | {await pool.runInteraction(lambda cursor: threading.get_ident()) for _ in range(20)}

    threads = labkit.react(use, timeout=WAIT)  # every thread that ran something
    assert set(pool.connections) == threads  # each of them opened a connection, kept under its thread's id
    assert len({id(connection) for connection in pool.connections.values()}) == len(threads)  # one apiece
    labkit.react(lambda reactor: pool.close(), timeout=WAIT)
    failures = (event.get("log_failure") or event.get("failure") for event in logged)
    refused = [failure for failure in failures if failure is not None and failure.check(sqlite3.ProgrammingError)]
    assert len(refused) == (len(threads) if same_thread_check else 0)


def test_request_finish_raises_once_the_client_has_gone():
    """04-web-servers, cell 92: if the browser gives up before the answer, `request.finish()` raises; the request's
    `notifyFinish()` says so first."""
    waiting = []

    class Slow(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            gone = request.notifyFinish()
            waiting.append((request, gone))
            return server.NOT_DONE_YET

    port = serve_page(Slow())
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
            client_socket.sendall(b"GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n")
            wait_until(lambda: waiting)
        request, gone = waiting[0]

        async def finish_late(reactor):
            try:
                await gone
            except Exception as lost:
                told = type(lost).__name__
            else:
                told = "finished"
            try:
                request.finish()
            except RuntimeError as refused:
                return told, str(refused)
            return told, None

        told, refused = labkit.react(finish_late, timeout=WAIT)
        assert told == "ConnectionDone" and refused and "connection was lost" in refused
    finally:
        stop_listening(port)


def test_the_proxy_client_factory_builds_its_protocol_attribute_and_protocols_are_keyed_by_bytes():
    """04-web-servers, cell 118: `ProxyClientFactory.buildProtocol` uses the factory's `protocol` attribute, and
    `ProxyRequest.protocols` is keyed by `b"http"`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"twisted\.web\.http\.HTTPClient was deprecated", DeprecationWarning)
        from twisted.web import proxy

    class Counting(proxy.ProxyClient):
        pass

    class Factory(proxy.ProxyClientFactory):
        protocol = Counting

    built = Factory(b"GET", b"/", b"HTTP/1.0", {}, b"", None).buildProtocol(None)
    assert type(built) is Counting
    assert proxy.ProxyRequest.protocols == {b"http": proxy.ProxyClientFactory}


def test_twisteds_proxy_cannot_tunnel_with_connect():
    """04-web-servers, cell 107: `twisted.web.proxy` cannot tunnel HTTPS: a `CONNECT` gets no tunnel (the
    connection closes without a `200`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"twisted\.web\.http\.HTTPClient was deprecated", DeprecationWarning)
        from twisted.web import proxy

    class ProxyFactory(http.HTTPFactory):
        protocol = proxy.Proxy

    port = listen(ProxyFactory())
    try:
        with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=WAIT) as client_socket:
            client_socket.sendall(b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n")
            answer = b""
            while chunk := client_socket.recv(4096):
                answer += chunk
    finally:
        stop_listening(port)
    assert not answer.startswith(b"HTTP/1.1 200")


def test_start_logging_to_stdout_in_a_kernel_takes_the_output_of_later_cells():
    """04-web-servers, cell 107, and 11-services-processes-and-logging, cell 61: `log.startLogging(sys.stdout)`
    replaces `sys.stdout`, so in a notebook what later cells print no longer shows in those cells."""
    from tests.kernel import Kernel

    kernel = Kernel()
    try:
        before = kernel.run("print('before')")
        kernel.run("import sys\nfrom twisted.python import log\nlog.startLogging(sys.stdout)")
        after = kernel.run("print('after')")
        assert before.stdout == "before\n"
        assert "after" not in after.stdout and after.error is None
    finally:
        kernel.close()


def test_http_client_has_been_deprecated_since_twisted_24_7_for_agent():
    """04-web-servers, cell 95: `http.HTTPClient`, on which the proxy's client side is built, is deprecated since
    Twisted 24.7 in favour of `Agent` (its warning names both)."""
    shown = deprecation_warnings("from twisted.web import http\nhttp.HTTPClient()")
    assert "twisted.web.http.HTTPClient was deprecated in Twisted 24.7.0: Use twisted.web.client.Agent" in shown, shown
