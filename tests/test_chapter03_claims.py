"""Chapter 3 (web clients): the claims. Each test backs one sentence of the complete notebook that no executed output
there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter03.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import warnings

import pytest
import treq
from twisted.internet import defer, protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

import labkit
from tests.claims import WAIT


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


def test_cancelling_read_body_does_not_stop_the_download():
    """03-web-clients, cell 17: `readBody` on an `Agent` response cannot abort its connection, so cancelling it
    does not stop the download: the Deferred fails with `CancelledError` at once, yet the connection stays open and
    the site sends the whole slow body. Stopping the body's producer (lab 3.7's way) does close it, and the site
    notices the client leaving."""
    import servers.web
    from labkit.checks import wait_until

    made = servers.web.site()
    served = labkit.serve(made, name="claims-cancel", show=False)
    url = (served.url + "slow/sized?duration=0.6").encode()

    class StopAtOnce(protocol.Protocol):
        def dataReceived(self, data):
            self.transport.stopProducing()

    async def cancel_read_body(reactor):
        response = await Agent(reactor).request(b"GET", url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            reading = readBody(response)
        reading.cancel()
        try:
            await reading
        except defer.CancelledError:
            return "cancelled"
        return "read"

    async def stop_the_body(reactor):
        response = await Agent(reactor).request(b"GET", url)
        response.deliverBody(StopAtOnce())

    def ending(index):
        """How the site's ``index``-th request for the slow page ended: (sent completely, client left, bytes)."""
        def ended():
            records = made.requests_to("/slow/sized")
            return len(records) > index and (records[index].finished or records[index].disconnected)

        assert wait_until(ended, timeout=WAIT)
        record = made.requests_to("/slow/sized")[index]
        return record.finished, record.disconnected, record.sent

    try:
        assert labkit.react(cancel_read_body, timeout=WAIT) == "cancelled"
        cancelled = ending(0)
        labkit.react(stop_the_body, timeout=WAIT)
        stopped = ending(1)
    finally:
        served.stop()
    assert cancelled == (True, False, servers.web.SLOW_SIZE)
    assert stopped[:2] == (False, True) and stopped[2] < servers.web.SLOW_SIZE
