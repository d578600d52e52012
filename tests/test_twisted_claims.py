"""What the notebooks say Twisted (and treq, and Python where it matters) does, asserted against what is installed.

Each test backs one sentence of a complete notebook that no executed output there proves; its docstring names the
notebook and the cell. Should Twisted change, the test fails and names the sentence to rewrite.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import os
import pathlib
import socket
import subprocess
import sys
import warnings

import pytest
import treq
from twisted.application import service
from twisted.conch.client.knownhosts import KnownHostsFile
from twisted.conch.error import HostKeyChanged
from twisted.conch.interfaces import ISession
from twisted.conch.ssh import keys, userauth
from twisted.internet import defer, protocol, task
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.mail import imap4, pop3, relaymanager
from twisted.names import client, dns
from twisted.protocols import basic
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.spread import pb
from twisted.web import http, resource, server
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

import labkit
from labkit.checks import wait_until
from servers import names

WAIT = 10


def run_python(code: str, **options) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this environment, bounded, and return what it printed."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, **options)


@pytest.fixture
def logged():
    """Every event Twisted's global log publishes while the test runs."""
    with capturedLogs() as events:
        yield events


def listen(factory):
    """Listen with ``factory`` on a free loopback port of the shared reactor; returns the listening port."""
    return labkit.react(lambda reactor: reactor.listenTCP(0, factory, interface="127.0.0.1"), timeout=WAIT)


def stop_listening(port) -> None:
    labkit.react(lambda reactor: port.stopListening(), timeout=WAIT)


def serve_page(page: resource.Resource):
    """A twisted.web ``Site`` with ``page`` at /page, listening as :func:`listen` does."""
    root = resource.Resource()
    root.putChild(b"page", page)
    return listen(server.Site(root))


# Chapter 1


def test_the_tls_and_conch_extras_pull_in_pyopenssl_service_identity_cryptography_and_bcrypt():
    """01-getting-started, cell 1: `twisted[tls,conch]` brings pyOpenSSL, `cryptography`, `service_identity`,
    `bcrypt`."""
    extras = {}
    for requirement in importlib.metadata.requires("twisted"):
        if "extra ==" in requirement:
            name = requirement.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
            extras.setdefault(requirement.split("extra ==")[1].strip(" '\""), set()).add(name.replace("_", "-"))
    assert {"pyopenssl", "service-identity"} <= extras["tls"]
    assert {"cryptography", "bcrypt"} <= extras["conch"]


def test_twisted_installs_the_commands_the_table_lists_and_tkconch_still_needs_tk():
    """01-getting-started, cells 6 and 7: installing Twisted installs `twistd`, `twist`, `trial`, `ckeygen`, `conch`,
    `cftp`, and still the book's `tkconch`, which needs Tk (it imports `tkinter`)."""
    scripts = {entry.name for entry in importlib.metadata.distribution("twisted").entry_points
               if entry.group == "console_scripts"}
    assert {"twistd", "twist", "trial", "ckeygen", "conch", "cftp", "tkconch"} <= scripts
    source = pathlib.Path(importlib.util.find_spec("twisted.conch.scripts.tkconch").origin).read_text()
    assert "import tkinter" in source


@pytest.mark.parametrize("module", ["twisted.protocols.smtp", "twisted.protocols.imap4", "twisted.protocols.dns",
                                    "twisted.news", "twisted.web2", "twisted.enterprise.util"])
def test_the_books_modules_are_gone(module):
    """01-getting-started, cell 20 (`twisted.protocols.smtp`, `.imap4`, `.dns` moved; `twisted.news` gone),
    04-web-servers, cells 71 (web2 is not part of Twisted) and 92 (`twisted.enterprise.util.quote` is gone),
    09-nntp, cells 0 and 13 (`twisted.news` removed)."""
    parent = module.rsplit(".", 1)[0]
    assert importlib.util.find_spec(parent) is not None
    assert importlib.util.find_spec(module) is None


def test_get_page_download_page_and_their_factories_are_gone():
    """01-getting-started, cell 20, and 03-web-clients, cell 0: `getPage`, `downloadPage`, `HTTPClientFactory` and
    `HTTPDownloader` were removed (in 22.1)."""
    from twisted.web import client as web_client

    assert not [name for name in ("getPage", "downloadPage", "HTTPClientFactory", "HTTPDownloader")
                if hasattr(web_client, name)]


# Chapter 2


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


# Chapter 3


@pytest.fixture
def site():
    import servers.web

    served = labkit.serve(servers.web.site(), name="claims-site", show=False)
    yield served
    served.stop()


def test_agent_alone_opens_a_connection_per_request_and_treq_reuses_one(site):
    """03-web-clients, cells 0 and 17: an `Agent` made with no pool opens a new connection for every request; treq
    (a persistent `HTTPConnectionPool`) keeps the connection and reuses it."""

    async def twice(reactor, get):
        for _ in range(2):
            await get()

    warnings.filterwarnings("ignore", "Using readBody with a transport", DeprecationWarning)

    def by_agent(reactor):
        agent = Agent(reactor)

        async def get():
            await readBody(await agent.request(b"GET", (site.url + "hello").encode()))
        return twice(reactor, get)

    labkit.react(by_agent, timeout=WAIT)
    assert site.transcript.connections == 2

    import servers.web

    fresh = labkit.serve(servers.web.site(), name="claims-site-treq", show=False)
    try:
        async def get():
            await (await treq.get(fresh.url + "hello")).content()
        labkit.react(lambda reactor: twice(reactor, get), timeout=WAIT)
        assert fresh.transcript.connections == 1
    finally:
        fresh.stop()


def test_agent_takes_content_length_out_of_the_headers_into_length(site):
    """03-web-clients, cells 8 and 78: `response.length` is the Content-Length the server sent, and `Agent` takes
    that header out of `response.headers`."""

    async def main(reactor):
        response = await treq.get(site.url + "hello")
        await response.content()
        return response

    response = labkit.react(main, timeout=WAIT)
    assert response.length == 168 and not response.headers.hasHeader(b"content-length")
    assert "Content-Length: 168" in str(site.transcript)


def test_read_body_warns_that_the_agents_response_cannot_be_aborted(site):
    """03-web-clients, cell 17: `readBody` on an `Agent` response warns that its transport cannot be aborted."""

    async def main(reactor):
        response = await Agent(reactor).request(b"GET", (site.url + "hello").encode())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reading = readBody(response)
        await reading
        return [str(warning.message) for warning in caught if warning.category is DeprecationWarning]

    assert any("does not have an abortConnection method" in text for text in labkit.react(main, timeout=WAIT))


def test_get_raw_headers_gives_a_list_whatever_the_case_of_the_name():
    """03-web-clients, cell 19: `headers.getRawHeaders("content-type")` gives a list of values, whatever the case of
    the name."""
    headers = Headers({b"Content-Type": [b"text/html"]})
    assert headers.getRawHeaders("content-type") == headers.getRawHeaders("CONTENT-TYPE") == ["text/html"]
    assert headers.getRawHeaders(b"content-TYPE") == [b"text/html"]


def test_treq_keeps_a_copy_of_the_body_unless_told_unbuffered(site):
    """03-web-clients, cell 22: by default treq keeps a copy of the body, so it can be read twice;
    `unbuffered=True` keeps none, and a second read fails."""

    async def main(reactor):
        buffered = await treq.get(site.url + "hello")
        twice = (await buffered.content(), await buffered.content())
        unbuffered = await treq.get(site.url + "hello", unbuffered=True)
        await unbuffered.content()
        try:
            await unbuffered.content()
        except RuntimeError as refused:
            return twice, refused
        return twice, None

    (first, second), refused = labkit.react(main, timeout=WAIT)
    assert first == second and len(first) == 168
    assert isinstance(refused, RuntimeError)


def test_treq_sends_basic_credentials_with_the_first_request_without_waiting_for_a_401():
    """03-web-clients, cell 42: `treq.get(url, auth=(user, password))` sends the `Authorization` header with its
    first request, without waiting for a 401."""
    import servers.web
    from servers.web.auth import PASSWORD, USERNAME

    made = servers.web.site()
    served = labkit.serve(made, name="claims-auth", show=False)
    try:
        async def main(reactor):
            response = await treq.get(served.url + "private", auth=(USERNAME, PASSWORD))
            await response.content()
            return response.code

        assert labkit.react(main, timeout=WAIT) == 200
        [record] = made.requests_to("/private")
        assert record.authorization.lower().startswith("basic ")
    finally:
        served.stop()


def test_a_body_consumer_can_pause_resume_and_stop_the_producer_through_its_transport(site):
    """03-web-clients, cell 26: a body consumer given to `response.deliverBody` can ask the producer, through
    `self.transport`, to `pauseProducing()`, `resumeProducing()` or `stopProducing()`; it ends with `ResponseDone`
    when the body is complete."""
    from twisted.internet.interfaces import IPushProducer
    from twisted.web.client import ResponseDone

    class Consumer(protocol.Protocol):
        def __init__(self):
            self.ended, self.received = defer.Deferred(), b""

        def connectionMade(self):
            self.producer_ok = IPushProducer.providedBy(self.transport)
            self.transport.pauseProducing()
            self.transport.resumeProducing()

        def dataReceived(self, data):
            self.received += data

        def connectionLost(self, reason):
            self.ended.callback(reason.value)

    async def main(reactor):
        response = await Agent(reactor).request(b"GET", (site.url + "hello").encode())
        consumer = Consumer()
        response.deliverBody(consumer)
        return consumer, await consumer.ended

    consumer, reason = labkit.react(main, timeout=WAIT)
    assert consumer.producer_ok and len(consumer.received) == 168 and isinstance(reason, ResponseDone)


@pytest.mark.parametrize("days_ago, verified", [(0, True), (30, False)])
def test_agent_refuses_a_certificate_that_is_no_longer_valid(days_ago, verified):
    """03-web-clients, cell 82: `Agent` verifies as a browser does; besides the authority and the name, the
    certificate must be valid now. The same authority and names, made 30 days ago for 7 days, are refused."""
    import datetime

    import servers.web
    from servers import tls
    from twisted.internet import ssl
    from twisted.web.client import BrowserLikePolicyForHTTPS

    made = tls.credentials_made_at(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago))
    certificate = ssl.PrivateCertificate.loadPEM(made.server_cert_pem + made.server_key_pem)
    options = ssl.CertificateOptions(privateKey=certificate.privateKey.original, certificate=certificate.original)
    served = labkit.serve(servers.web.site(), name="claims-https", tls=options, show=False)
    policy = BrowserLikePolicyForHTTPS(trustRoot=ssl.Certificate.loadPEM(made.ca_cert_pem))
    try:
        async def main(reactor):
            try:
                response = await Agent(reactor, contextFactory=policy).request(
                    b"GET", (served.url + "hello").encode())
                await treq.content(response)
            except Exception as refused:  # noqa: BLE001 - how the request ended is the answer
                return repr(refused)
            return response.code

        outcome = labkit.react(main, timeout=WAIT)
    finally:
        served.stop()
    assert served.url.startswith("https://")
    if verified:
        assert outcome == 200
    else:
        assert "certificate verify failed" in outcome


def test_failure_trap_raises_the_failure_again_for_another_kind():
    """03-web-clients, cell 33: `failure.trap(error.Error)` re-raises any other kind of failure, which passes it on
    down the chain; the kind it names is returned."""
    from twisted.web import error

    assert Failure(error.Error(b"401")).trap(error.Error) is error.Error
    with pytest.raises(ValueError):
        Failure(ValueError("other")).trap(error.Error)


# Chapter 4


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


# Chapter 6


def test_pb_answers_a_challenge_with_what_the_passwords_md5_alone_can_make():
    """06-authentication, cell 61: PB's client answers the server's challenge with an MD5 of the password mixed
    with it, so the server needs the password itself or its plain MD5 to check the answer."""
    challenge, password = pb.challenge(), b"practice"
    plain_md5 = hashlib.md5(password).digest()
    assert pb.respond(challenge, password) == hashlib.md5(plain_md5 + challenge).digest()


# Chapter 7


def test_the_pop3client_module_is_deprecated():
    """07-mail-clients, cells 12 and 29: the book's `twisted.mail.pop3client` still imports, with a warning that it
    is deprecated for `twisted.mail.pop3`."""
    code = ("import warnings\nwarnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n    import twisted.mail.pop3client\n"
            "print([str(w.message) for w in caught])")
    ran = run_python(code)
    assert "twisted.mail.pop3client was deprecated" in ran.stdout, ran.stdout + ran.stderr


def test_advanced_pop3_client_sends_no_password_in_plain_text_unless_allowed():
    """07-mail-clients, cell 12: without a challenge, `login` uses USER/PASS only over TLS, unless told it may do
    without (`allowInsecureLogin`)."""

    def login_without_tls(allowed):
        pop = pop3.AdvancedPOP3Client()
        pop.allowInsecureLogin = allowed
        transport = StringTransport()
        pop.makeConnection(transport)
        pop.dataReceived(b"+OK ready\r\n")  # no <challenge>: no APOP
        outcome = []
        pop.login(b"learner", b"secret").addBoth(outcome.append)
        pop.dataReceived(b"+OK capabilities\r\nUSER\r\n.\r\n")  # no STLS
        return transport.value(), outcome

    sent, outcome = login_without_tls(False)
    assert b"USER" not in sent and outcome[0].check(pop3.InsecureAuthenticationDisallowed)
    sent, outcome = login_without_tls(True)
    assert sent.endswith(b"USER learner\r\n")


def test_imap4_client_sends_folder_names_in_modified_utf7():
    """07-mail-clients, cell 66: folder names are text, sent in modified UTF-7, which Twisted encodes for you."""
    imap = imap4.IMAP4Client()
    transport = StringTransport()
    imap.makeConnection(transport)
    imap.dataReceived(b"* OK ready\r\n")
    imap.select("Entwürfe")
    assert transport.value() == b"0001 SELECT Entw&APw-rfe\r\n"


def test_twisteds_resolver_asks_again_over_tcp_when_the_udp_answer_is_truncated():
    """07-mail-clients, cell 52: a resolver asks over UDP first, and over TCP when the answer is too long."""
    factory = names.dns(mx_hosts=[(number, f"mx{number}.example.test") for number in range(1, 40)])
    served = labkit.serve(names.UDPAndTCP(factory), name="claims-dns-long", show=False)
    try:
        async def main(reactor):
            resolver = client.Resolver(servers=[("127.0.0.1", served.port)], reactor=reactor)
            answers, _, _ = await resolver.lookupMailExchange(names.ZONE)
            return answers

        answers = labkit.react(main, timeout=WAIT)
        assert len([answer for answer in answers if answer.type == dns.MX]) == 39  # over UDP: none, truncated
    finally:
        served.stop()


def test_the_mx_calculator_passes_over_a_host_marked_bad_for_an_hour():
    """07-mail-clients, cell 56: `MXCalculator` takes a resolver and a clock, and remembers hosts that failed for a
    while (an hour)."""

    class Resolver:
        def lookupMailExchange(self, domain):
            records = [dns.RRHeader(domain, dns.MX, payload=dns.Record_MX(preference, name))
                       for preference, name in ((10, b"first.example.test"), (20, b"second.example.test"))]
            return defer.succeed((records, [], []))

    clock = task.Clock()
    calculator = relaymanager.MXCalculator(Resolver(), clock)

    def best():
        found = []
        calculator.getMX("example.test").addCallback(found.append)
        return str(found[0].name)

    assert best() == "first.example.test"
    calculator.markBad("first.example.test")
    assert best() == "second.example.test"
    clock.advance(relaymanager.MXCalculator.timeOutBadMX)
    assert relaymanager.MXCalculator.timeOutBadMX == 60 * 60 and best() == "first.example.test"


# Chapter 8


def test_twisteds_pop3_counts_and_lists_a_message_marked_deleted_with_size_0():
    """08-mail-servers, cell 28: Twisted's `POP3` still counts a marked message (size 0, as `IMailbox.listMessages`
    gives it) in `STAT`, and lists it in `LIST` and `UIDL`."""
    sizes = [0, 20]  # message 1 marked deleted
    assert b"".join(filter(None, pop3.formatStatResponse(sizes))) == b"+OK 2 20\r\n"
    assert b"".join(filter(None, pop3.formatListResponse(sizes))) == b"+OK 2\r\n1 0\r\n2 20\r\n.\r\n"
    listed = b"".join(filter(None, pop3.formatUIDListResponse(sizes, lambda index: b"uid%d" % index)))
    assert listed.endswith(b"1 uid0\r\n2 uid1\r\n.\r\n")


def test_twisteds_smtp_server_answers_550_to_a_failed_eom_received_whatever_its_code():
    """08-mail-servers, cell 24: Twisted's SMTP server answers `550` to every failed `eomReceived`, even to an
    `SMTPServerError` that names another code (451 here)."""
    import smtplib

    from twisted.mail import smtp
    from zope.interface import implementer

    @implementer(smtp.IMessage)
    class Later:
        def lineReceived(self, line):
            pass

        def eomReceived(self):
            return defer.fail(smtp.SMTPServerError(451, b"try again later"))

        def connectionLost(self):
            pass

    @implementer(smtp.IMessageDelivery)
    class Delivery:
        def receivedHeader(self, helo, origin, recipients):
            return b"Received: by the test"

        def validateFrom(self, helo, origin):
            return origin

        def validateTo(self, user):
            return Later

    class Factory(protocol.ServerFactory):
        def buildProtocol(self, addr):
            server = smtp.ESMTP()
            server.delivery, server.factory = Delivery(), self
            return server

    port = listen(Factory())
    try:
        with smtplib.SMTP("127.0.0.1", port.getHost().port, timeout=WAIT) as sender:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                sender.sendmail("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\nbody\r\n")
    finally:
        stop_listening(port)
    assert refused.value.smtp_code == 550


def test_twisteds_imap_server_asks_get_headers_with_bytes_text_or_no_names(monkeypatch):
    """08-mail-servers, cell 51: Twisted's IMAP server calls `getHeaders(negate, *names)` with bytes names for
    `BODY[HEADER.FIELDS]`, with text names for `SEARCH`, and with no names at all (every header) for `ENVELOPE`."""
    from servers import accounts
    from servers.mail import imap as practice_imap
    from labkit.checks import mail

    calls = []
    original = practice_imap.Part.getHeaders

    def recording(self, negate, *names):
        calls.append((bool(negate), names))
        return original(self, negate, *names)

    monkeypatch.setattr(practice_imap.Part, "getHeaders", recording)
    served = labkit.serve("imap", name="claims-imap", show=False)
    account = accounts.accounts("mail")[0]
    try:
        client = mail.imap_login(served.port, account.user, account.password, timeout=WAIT)
        client.select("INBOX")
        asked = {}
        for what, command in (("fields", lambda: client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")),
                              ("envelope", lambda: client.fetch("1", "(ENVELOPE)")),
                              ("search", lambda: client.search(None, "SUBJECT", "twisted"))):
            calls.clear()
            assert command()[0] == "OK"
            asked[what] = list(calls)
        client.logout()
    finally:
        served.stop()
    assert asked["fields"] == [(False, (b"SUBJECT",))]
    assert asked["envelope"] == [(True, ())]
    assert asked["search"] and all(names and all(isinstance(name, str) for name in names)
                                   for _, names in asked["search"])


def test_twisteds_imap_server_speaks_idle():
    """08-mail-servers, cell 61: Twisted's IMAP server speaks `IDLE` (RFC 2177): it names it among its
    capabilities, answers `+` and ends the wait at `DONE`."""
    from labkit.checks import mail
    from servers import accounts

    served = labkit.serve("imap", name="claims-idle", show=False)
    account = accounts.accounts("mail")[0]
    try:
        client = mail.imap_login(served.port, account.user, account.password, timeout=WAIT)
        assert "IDLE" in client.capabilities
        client.select("INBOX")
        client.send(b"W1 IDLE\r\n")
        waiting = client.readline()
        client.send(b"DONE\r\n")
        ended = client.readline()
        client.logout()
    finally:
        served.stop()
    assert waiting.startswith(b"+ ") and ended.startswith(b"W1 OK")


# Chapter 9


def test_microdom_is_deprecated():
    """09-nntp, cells 50 and 57: `twisted.web.microdom` is deprecated."""
    ran = run_python("import warnings\nwarnings.simplefilter('always')\n"
                     "with warnings.catch_warnings(record=True) as caught:\n    import twisted.web.microdom\n"
                     "print([str(w.message) for w in caught])")
    assert "twisted.web.microdom was deprecated" in ran.stdout, ran.stdout + ran.stderr


# Chapter 10


def test_conch_makes_a_refused_password_wait_a_second():
    """10-ssh, cell 8: conch answers a wrong password after a pause of a second, to slow guessing down."""
    assert userauth.SSHUserAuthServer.passwordDelay == 1


def test_isession_asks_for_window_changed_and_eof_received():
    """10-ssh, cell 16: `ISession` has `windowChanged` and `eofReceived` (which the book's avatar lacked), so an
    adapter must have them."""
    assert {"getPty", "openShell", "execCommand", "closed", "windowChanged", "eofReceived"} == set(ISession.names())


def test_conchs_command_client_cannot_take_output_sent_before_the_exec_reply(monkeypatch, logged, tmp_path):
    """10-ssh, cell 16: conch's command client (`SSHCommandClientEndpoint`) cannot take data that arrives before the
    reply to its exec request: its channel has no protocol yet, it raises `AttributeError`, and the command never
    ends for the client. Answered a reactor turn later (as the practice server does), the same command works."""
    import servers.ssh
    from labkit.checks.ssh import known_hosts_file, run_command
    from servers import accounts
    from servers.ssh import session as practice_session
    from servers.ssh.keys import host_key

    password = {account.user: account.password for account in accounts.accounts("ssh")}["learner"]
    served = labkit.serve(servers.ssh.ssh(), name="claims-ssh", show=False)
    try:
        known = known_hosts_file(served.port, host_key(), tmp_path)
        later = run_command(served.port, "learner", "whoami", known_hosts=known, password=password)
        monkeypatch.setattr(practice_session.ShellSession, "execCommand",
                            lambda self, process, command: self._answer(process, command.decode()))
        at_once = run_command(served.port, "learner", "whoami", known_hosts=known, password=password, timeout=2)
    finally:
        served.stop()
    assert (later.output, later.status) == ("learner\n", 0)
    assert at_once.output == "" and at_once.status is None and "no answer" in at_once.error
    raised = [event.get("log_failure") or event.get("failure") for event in logged if event.get("isError")]
    assert any(failure.check(AttributeError) and "_protocol" in str(failure.value) for failure in raised)


def test_the_public_key_checker_answers_a_key_without_a_signature_by_asking_for_one():
    """10-ssh, cell 25: `SSHPublicKeyChecker` verifies the signature, and a key offered without one is answered as
    the protocol asks (`ValidPublicKey`: the server says the key would do, the client then signs), not let in."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
    from twisted.conch.error import ValidPublicKey
    from twisted.cred.credentials import SSHPrivateKey
    from twisted.cred.error import UnauthorizedLogin

    private = keys.Key(ed25519.Ed25519PrivateKey.generate())
    blob = private.public().blob()
    checker = SSHPublicKeyChecker(InMemorySSHKeyDB({b"learner": [private.public()]}))

    def outcome(signature, data=b"session data"):
        results = []
        checker.requestAvatarId(SSHPrivateKey(b"learner", b"ssh-ed25519", blob, data, signature)).addBoth(
            results.append)
        return results[0]

    assert outcome(None).check(ValidPublicKey)
    assert outcome(private.sign(b"session data")) == b"learner"
    assert outcome(private.sign(b"other data")).check(UnauthorizedLogin)


def test_conchs_manhole_factory_ships_no_host_keys():
    """10-ssh, cell 35: `manhole_ssh.ConchFactory` ships no host keys (set them on the factory)."""
    from twisted.conch import manhole_ssh

    assert manhole_ssh.ConchFactory.publicKeys == {} and manhole_ssh.ConchFactory.privateKeys == {}


def test_twistd_manhole_still_exists_and_takes_a_password_file():
    """10-ssh, cell 35: `twistd manhole` still exists, and still takes a password file."""
    twistd = str(pathlib.Path(sys.executable).with_name("twistd"))
    ran = subprocess.run([twistd, "manhole", "--help"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "--passwd=" in ran.stdout, ran.stdout + ran.stderr


def test_known_hosts_has_host_key_says_yes_no_or_raises_host_key_changed(tmp_path):
    """10-ssh, cell 37: `KnownHostsFile.hasHostKey` says yes for the key listed, no for a host not listed, and
    raises `HostKeyChanged` when the file names another key for the host."""
    listed, other = new_public_key(), new_public_key()
    path = tmp_path / "known_hosts"
    path.write_bytes(b"[127.0.0.1]:2222 " + listed.toString("openssh") + b"\n")
    known = KnownHostsFile.fromPath(FilePath(str(path)))
    assert known.hasHostKey(b"[127.0.0.1]:2222", listed) is True
    assert known.hasHostKey(b"[127.0.0.1]:2223", listed) is False
    with pytest.raises(HostKeyChanged):
        known.hasHostKey(b"[127.0.0.1]:2222", other)


def new_public_key() -> keys.Key:
    """The public half of an Ed25519 key made now."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return keys.Key(ed25519.Ed25519PrivateKey.generate()).public()


# Chapter 11


def test_twistd_y_does_not_put_the_current_folder_on_sys_path(tmp_path):
    """11-services-processes-and-logging, cell 14: `twistd -y` does not put the current folder on `sys.path`; a
    `.tac` that imports a module beside it needs `PYTHONPATH`."""
    (tmp_path / "beside.py").write_text("VALUE = 1\n")
    (tmp_path / "app.tac").write_text(
        "import beside\nfrom twisted.application import service\nfrom twisted.internet import reactor\n"
        "application = service.Application('claims')\nreactor.callWhenRunning(reactor.stop)\n")
    twistd = [str(pathlib.Path(sys.executable).with_name("twistd")), "-n", "-y", "app.tac",
              "--pidfile", "twistd.pid", "--logfile", "-"]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    alone = subprocess.run(twistd, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    assert "No module named 'beside'" in alone.stdout + alone.stderr
    with_path = subprocess.run(twistd, cwd=tmp_path, env={**environment, "PYTHONPATH": str(tmp_path)},
                               capture_output=True, text=True, timeout=60)
    assert with_path.returncode == 0 and "Main loop terminated" in with_path.stdout, with_path.stdout


def test_twistd_replaces_a_stale_pid_file_and_will_not_start_over_a_live_one(tmp_path):
    """11-services-processes-and-logging, cell 14: the pid file is no lock: a stale one (its process is gone) is
    removed, one naming a live process stops the new start."""
    (tmp_path / "app.tac").write_text(
        "from twisted.application import service\nfrom twisted.internet import reactor\n"
        "application = service.Application('claims')\nreactor.callWhenRunning(reactor.stop)\n")
    twistd = [str(pathlib.Path(sys.executable).with_name("twistd")), "-n", "-y", "app.tac",
              "--pidfile", "twistd.pid", "--logfile", "-"]
    pidfile = tmp_path / "twistd.pid"
    with subprocess.Popen([sys.executable, "-c", "pass"]) as finished:
        finished.wait(timeout=30)
    pidfile.write_text(f"{finished.pid}\n")  # a process that has ended
    stale = subprocess.run(twistd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 0 and "Removing stale pidfile" in stale.stdout, stale.stdout
    pidfile.write_text(f"{os.getpid()}\n")  # this test's own, live process
    live = subprocess.run(twistd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert live.returncode == 1 and "Another twistd server is running" in live.stdout + live.stderr
    assert pidfile.read_text() == f"{os.getpid()}\n"


def test_tcp_server_still_binds_its_port_in_privileged_start_service():
    """11-services-processes-and-logging, cells 14 and 26: `internet.TCPServer(port, factory)` still works, and it
    binds its port in `privilegedStartService`, before twistd gives up root and calls `startService`."""
    from twisted.application import internet

    from tests.peers import free_port

    number = free_port()
    tcp_service = internet.TCPServer(number, protocol.ServerFactory.forProtocol(protocol.Protocol),
                                     interface="127.0.0.1")
    labkit.react(lambda reactor: tcp_service.privilegedStartService(), timeout=WAIT)
    try:
        assert not tcp_service.running
        with socket.create_connection(("127.0.0.1", number), timeout=WAIT):
            pass  # accepted: the port was bound before startService
    finally:
        labkit.react(lambda reactor: tcp_service.stopService(), timeout=WAIT)


def test_an_application_still_takes_a_uid_and_a_gid():
    """11-services-processes-and-logging, cell 32: `Application("name", uid=..., gid=...)` still works."""
    application = service.Application("claims", uid=65534, gid=65534)
    process = service.IProcess(application)
    assert (process.uid, process.gid) == (65534, 65534)


def test_a_multiservice_starts_its_children_in_order_and_stops_them_in_reverse():
    """11-services-processes-and-logging, cell 36: a `MultiService` starts its children in the order they were
    added and stops them in the reverse order."""
    events = []

    class Noted(service.Service):
        def startService(self):
            service.Service.startService(self)
            events.append(f"{self.name} started")

        def stopService(self):
            service.Service.stopService(self)
            events.append(f"{self.name} stopped")

    parent = service.MultiService()
    for name in ("first", "second", "third"):
        child = Noted()
        child.setName(name)
        child.setServiceParent(parent)
    parent.startService()
    parent.stopService()
    assert events == ["first started", "second started", "third started",
                      "third stopped", "second stopped", "first stopped"]
