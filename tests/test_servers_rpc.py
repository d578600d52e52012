"""Chapter 5's wiki services, each driven by an independent peer: http.client for REST, the stdlib's xmlrpc.client
for XML-RPC, zeep for SOAP, and Twisted's own PB client (no other PB exists) on the shared reactor. Bad input
from the issue: each case gets a protocol-level error, stores nothing, and the server keeps serving."""

from __future__ import annotations

import json
import socket
import time
import xmlrpc.client

import pytest
from twisted.spread import pb

import labkit
from labkit.checks import converse, fetch
from servers.rpc import HOME, HOME_TEXT, WikiData
from servers.rpc import pb as wiki_pb
from servers.rpc import rest, soap
from servers.rpc import xmlrpc as wiki_xmlrpc
from servers.rpc.data import MAX_TEXT
from servers.web.pages import PracticePage

BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE bomb [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10) for i in range(8))
        + b"]>\n")


def _bomb(body: bytes) -> bytes:
    return BOMB + body.replace(b"@", b"&i;")


@pytest.fixture
def data():
    return WikiData()


def served(thing, name):
    return labkit.serve(thing, name=name, show=False)


# --- REST ---------------------------------------------------------------------------------------------------

@pytest.fixture
def wiki(data):
    site = rest.wiki(data)
    return site, served(site, "test-wiki")


def test_rest_put_get_delete_with_http_client(wiki, data):
    site, server = wiki
    created = fetch(server.port, "PUT", "/FrontPage", "Hello RemoteCalls".encode())
    assert (created.status, created.header("location")) == (201, "/FrontPage")
    assert fetch(server.port, "PUT", "/FrontPage", b"Hello again RemoteCalls").status == 200
    page = fetch(server.port, "GET", "/FrontPage")
    assert page.status == 200 and page.header("content-type") == "text/html; charset=utf-8"
    assert b'Hello again <a href="RemoteCalls">RemoteCalls</a>' in page.body
    assert fetch(server.port, "DELETE", "/FrontPage").body == b"Deleted.\n"
    assert fetch(server.port, "GET", "/FrontPage").status == 404
    assert fetch(server.port, "DELETE", "/FrontPage").status == 404
    assert [(r.method, r.path, r.code) for r in site.requests][-2:] == [("GET", "/FrontPage", 404),
                                                                        ("DELETE", "/FrontPage", 404)]


def test_rest_root_is_the_home_page_and_index_lists_pages(wiki):
    _, server = wiki
    assert b"TwistedMatrix" in fetch(server.port, "GET", "/").body
    assert b'<a href="/WikiHome">WikiHome</a>' in fetch(server.port, "GET", "/index").body


def test_rest_other_methods_get_405_with_allow(wiki):
    refused = fetch(wiki[1].port, "POST", "/WikiHome", b"x")
    assert refused.status == 405
    assert set(refused.header("allow").split(", ")) == {"GET", "HEAD", "PUT", "DELETE"}


def test_rest_conditional_get_and_put(wiki, data):
    port = wiki[1].port
    etag = fetch(port, "GET", "/WikiHome").header("etag")
    assert fetch(port, "GET", "/WikiHome", headers={"If-None-Match": etag}).status == 304
    assert fetch(port, "PUT", "/WikiHome", b"lost update", headers={"If-Match": '"stale"'}).status == 412
    assert data.get_page(HOME) == HOME_TEXT
    assert fetch(port, "PUT", "/WikiHome", b"new", headers={"If-Match": etag}).status == 200
    assert fetch(port, "GET", "/WikiHome", headers={"If-None-Match": etag}).status == 200


def test_rest_form_post_redirects_to_the_page(wiki, data):
    saved = fetch(wiki[1].port, "POST", "/save", b"path=FormPage&data=from+a+form",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (saved.status, saved.header("location")) == (303, "/FormPage")
    assert data.get_page("FormPage") == "from a form"
    assert fetch(wiki[1].port, "POST", "/save", b"path=OnlyPath",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}).status == 400


def test_rest_json_variant(wiki, data):
    port = wiki[1].port
    put = fetch(port, "PUT", "/api/pages/JsonPage", json.dumps({"text": "from JSON"}).encode())
    assert (put.status, json.loads(put.body)) == (201, {"name": "JsonPage", "created": True})
    got = fetch(port, "GET", "/api/pages/JsonPage")
    assert (got.header("content-type"), json.loads(got.body)) == ("application/json",
                                                                  {"name": "JsonPage", "text": "from JSON"})
    assert json.loads(fetch(port, "GET", "/api/pages").body) == ["JsonPage", "WikiHome"]
    for bad in (b"{not json", b'{"text": 3}', b"[1, 2]"):
        refused = fetch(port, "PUT", "/api/pages/Other", bad)
        assert refused.status == 400 and "error" in json.loads(refused.body)
    assert not data.has_page("Other")
    assert fetch(port, "GET", "/api/pages/Missing").status == 404


def test_rest_bad_input_stores_nothing_and_the_server_keeps_serving(wiki, data):
    port = wiki[1].port
    assert fetch(port, "PUT", "/Latin1", "caf\xe9".encode("latin-1")).status == 400
    assert fetch(port, "PUT", "/TooLong", b"x" * (MAX_TEXT + 1)).status == 400
    answer = converse(port, b"PUT /Huge HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n"
                      + b"x" * 200_000)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert data.list_pages() == [HOME]
    assert fetch(port, "GET", "/WikiHome").status == 200


def test_rest_page_html_is_escaped(wiki):
    fetch(wiki[1].port, "PUT", "/Sneaky", b"<script>alert(1)</script>")
    assert b"&lt;script&gt;" in fetch(wiki[1].port, "GET", "/Sneaky").body


# --- XML-RPC ------------------------------------------------------------------------------------------------

@pytest.fixture
def proxy(data):
    server = served(wiki_xmlrpc.xmlrpc_wiki(data), "test-xmlrpc")
    with xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/RPC2", allow_none=True) as made:
        yield made


def test_xmlrpc_session_with_the_stdlib_client(proxy, data):
    assert proxy.setPage("RpcPage", "via XML-RPC") is True
    assert proxy.setPage("RpcPage", "again") is False
    assert proxy.getPage("RpcPage") == "again"
    assert proxy.listPages() == ["RpcPage", HOME]
    assert proxy.findPage("Nowhere") is None
    assert proxy.deletePage("RpcPage") is True and not data.has_page("RpcPage")
    methods = proxy.system.listMethods()
    assert {"getPage", "setPage", "system.listMethods"} <= set(methods)
    assert "404" in proxy.system.methodHelp("getPage")


def test_xmlrpc_dates_and_binary_data_both_ways_with_the_stdlib_client(proxy, data):
    """base64 and dateTime.iso8601 go to the server as xmlrpc.client.Binary and DateTime and come back unchanged."""
    import datetime

    every_byte = bytes(range(256))
    taken = datetime.datetime(2005, 6, 1, 12, 30, 15)
    assert proxy.attach("WikiHome", "bytes.bin", xmlrpc.client.Binary(every_byte), taken) == 256
    got = proxy.attachment("WikiHome", "bytes.bin")
    assert isinstance(got["data"], xmlrpc.client.Binary) and got["data"].data == every_byte
    assert isinstance(got["taken"], xmlrpc.client.DateTime) and got["taken"].value == "20050601T12:30:15"
    assert got["size"] == 256
    for call, code in [(lambda: proxy.attach("Nowhere", "a", xmlrpc.client.Binary(b"x"), taken), 404),
                       (lambda: proxy.attach("WikiHome", "a", "not base64", taken), 400),
                       (lambda: proxy.attach("WikiHome", "a", xmlrpc.client.Binary(b"x"), "2005-06-01"), 400),
                       (lambda: proxy.attachment("WikiHome", "missing.bin"), 404)]:
        with pytest.raises(xmlrpc.client.Fault) as raised:
            call()
        assert raised.value.faultCode == code


def test_xmlrpc_keeps_a_bounded_number_of_attachments(proxy):
    from servers.rpc.xmlrpc import MAX_ATTACHMENTS

    taken = xmlrpc.client.DateTime("20050601T12:30:15")
    for number in range(MAX_ATTACHMENTS):
        proxy.attach("WikiHome", f"file{number}", xmlrpc.client.Binary(b"x"), taken)
    proxy.attach("WikiHome", "file0", xmlrpc.client.Binary(b"replaced"), taken)  # replacing is allowed
    with pytest.raises(xmlrpc.client.Fault) as raised:
        proxy.attach("WikiHome", "one-too-many", xmlrpc.client.Binary(b"x"), taken)
    assert raised.value.faultCode == 400


@pytest.mark.parametrize("call, code", [
    (lambda p: p.getPage("Nowhere"), wiki_xmlrpc.NO_SUCH_PAGE),
    (lambda p: p.setPage("no spaces allowed", "x"), wiki_xmlrpc.REFUSED),
    (lambda p: p.getPage(), wiki_xmlrpc.WRONG_ARGUMENTS),
    (lambda p: p.getPage("a", "b"), wiki_xmlrpc.WRONG_ARGUMENTS),
    (lambda p: p.noSuchMethod(), 8001),
])
def test_xmlrpc_faults(proxy, data, call, code):
    with pytest.raises(xmlrpc.client.Fault) as raised:
        call(proxy)
    assert raised.value.faultCode == code
    assert data.list_pages() == [HOME]
    assert proxy.hasPage(HOME) is True


@pytest.mark.parametrize("body", [b"<methodCall><methodName>getPage", b"not xml at all",
                                  _bomb(b"<methodCall><methodName>setPage</methodName><params><param><value>"
                                        b"<string>Bomb</string></value></param><param><value><string>@</string>"
                                        b"</value></param></params></methodCall>")])
def test_xmlrpc_malformed_bodies_get_fault_8002(data, body):
    server = served(wiki_xmlrpc.xmlrpc_wiki(data), "test-xmlrpc")
    started = time.monotonic()
    reply = fetch(server.port, "POST", "/RPC2", body, headers={"Content-Type": "text/xml"})
    assert reply.status == 200
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(reply.body)
    assert raised.value.faultCode == 8002
    assert time.monotonic() - started < 5  # a bound, not a timing measurement: the bomb is never expanded
    assert data.list_pages() == [HOME]
    assert not server.log.text.count("Traceback")


# --- SOAP ---------------------------------------------------------------------------------------------------

@pytest.fixture
def soap_server(data):
    return served(soap.soap_wiki(data), "test-soap")


@pytest.fixture
def zeep():
    return pytest.importorskip("zeep")  # the SOAP client; the other services' tests need no SOAP


@pytest.fixture
def client(soap_server, zeep):
    return zeep.Client(f"http://127.0.0.1:{soap_server.port}/soap?wsdl")


def test_soap_session_with_zeep(client, data):
    assert client.service.listPages() == [HOME]
    assert client.service.setPage(name="SoapPage", text="a <b>bold</b> & plain") is True
    assert client.service.getPage(name="SoapPage") == "a <b>bold</b> & plain"
    assert client.service.hasPage(name="SoapPage") is True
    assert client.service.deletePage(name="SoapPage") is True
    assert client.service.hasPage(name="SoapPage") is False


def test_soap_missing_page_is_a_client_fault(client, zeep):
    with pytest.raises(zeep.exceptions.Fault) as raised:
        client.service.getPage(name="Nowhere")
    assert raised.value.code == "soap:Client" and "Nowhere" in raised.value.message


def test_soap_wsdl_names_every_operation_and_its_address(soap_server):
    described = fetch(soap_server.port, "GET", "/soap?wsdl")
    assert described.header("content-type") == "text/xml; charset=utf-8"
    for operation in soap.OPERATIONS:
        assert f'<operation name="{operation}">'.encode() in described.body
    assert f'location="http://127.0.0.1:{soap_server.port}/soap"'.encode() in described.body


def _call(operation: str, *fields: tuple[str, str]) -> bytes:
    inner = "".join(f"<w:{name}>{value}</w:{name}>" for name, value in fields)
    return (f'<s:Envelope xmlns:s="{soap.ENVELOPE}"><s:Body><w:{operation} xmlns:w="{soap.NAMESPACE}">{inner}'
            f"</w:{operation}></s:Body></s:Envelope>").encode()


@pytest.mark.parametrize("body, said", [
    (b"not xml", "not XML"),
    (b"<Envelope/>", "not a SOAP 1.1 envelope"),
    (_call("dropTables"), "no operation 'dropTables'"),
    (_call("getPage"), "missing: name"),
    (_call("getPage", ("name", "WikiHome"), ("extra", "x")), "unexpected: extra"),
    (_call("setPage", ("name", "bad name"), ("text", "x")), "not a page name"),
    (_bomb(_call("setPage", ("name", "Bomb"), ("text", "@"))), "document type declaration"),
])
def test_soap_bad_envelopes_get_soap_faults(soap_server, data, body, said):
    reply = fetch(soap_server.port, "POST", "/soap", body, headers={"Content-Type": "text/xml"})
    assert reply.status == 500
    assert b"<faultcode>soap:Client</faultcode>" in reply.body and said.encode() in reply.body
    assert data.list_pages() == [HOME]
    assert fetch(soap_server.port, "POST", "/soap", _call("hasPage", ("name", HOME))).has(b">true<")


# --- Perspective Broker -------------------------------------------------------------------------------------

@pytest.fixture
def pb_port(data):
    return served(wiki_pb.pb_wiki(data), "test-pb").port


async def _pb_session(reactor, port, *calls):
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    root = await factory.getRootObject()
    results = []
    try:
        for name, *args in calls:
            try:
                results.append(await root.callRemote(name, *args))
            except pb.RemoteError as error:
                results.append((error.remoteType.decode(), error.args[0]))
        reporter = await root.callRemote("getReporter")
        results.append(await reporter.callRemote("listNeededPages"))
    finally:
        factory.disconnect()
    return results


def test_pb_session_and_a_referenceable(pb_port, data):
    got = labkit.react(_pb_session, pb_port, ("setPage", "PbPage", "links to NeededPage"), ("getPage", "PbPage"),
                       ("listPages",), ("hasPage", "Nowhere"))
    assert got[:4] == [True, "links to NeededPage", ["PbPage", HOME], False]
    assert got[4] == ["NeededPage", "RemoteCalls", "TwistedMatrix"]


def test_pb_errors_cross_the_wire_as_pb_errors(pb_port, data):
    got = labkit.react(_pb_session, pb_port, ("getPage", "Nowhere"), ("noSuchMethod",), ("getPage",),
                       ("setPage", "bad name", "x"))
    kinds = [kind.rpartition(".")[2] for kind, _ in got[:4]]
    assert kinds == ["NoSuchPage", "UnknownMethod", "WrongArguments", "PageRefused"]
    assert "it has deletePage, getPage" in got[1][1]
    assert data.list_pages() == [HOME]


def test_pb_probe_speaks_banana_by_hand(pb_port):
    from servers.rpc import probes

    probes.pb("127.0.0.1", pb_port)
    with pytest.raises(AssertionError):
        probes.pb("127.0.0.1", served("hangup", "test-not-pb").port)


# --- every HTTP service: a 10 MB body ---------------------------------------------------------------------------

@pytest.mark.parametrize("build, path", [(rest.wiki, "/Huge"), (wiki_xmlrpc.xmlrpc_wiki, "/RPC2"),
                                         (soap.soap_wiki, "/soap")])
def test_a_ten_megabyte_body_gets_413_and_nothing_is_kept(data, build, path):
    server = served(build(data), "test-huge")
    method = b"PUT" if build is rest.wiki else b"POST"
    answer = converse(server.port, method + b" " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Length: 10000000\r\n\r\n" + b"x" * 200_000)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert data.list_pages() == [HOME]
    assert fetch(server.port, "GET", "/").status == 200


# --- the channel that stops reading while its answers wait ------------------------------------------------------

class FillsTheSendBuffer(PracticePage):
    """Answers as if the transport's buffer filled up while the answer was written (the transport then tells its
    producer, the channel, to pause)."""

    def render_GET(self, request):
        request.channel.pauseProducing()
        return b"a big answer"


@pytest.mark.parametrize("bounded, state", [(True, "paused"), (False, "producing")])
def test_a_full_send_buffer_stops_reading_once_the_request_is_done(bounded, state):
    from twisted.internet.address import IPv4Address
    from twisted.internet.testing import StringTransport
    from twisted.web.server import Site

    from servers.rpc.bounded import BoundedRoot

    root = BoundedRoot()
    root.putChild(b"big", FillsTheSendBuffer())
    site = root.make_site() if bounded else Site(root)
    channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 0))
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert b"a big answer" in transport.value()
    assert transport.producerState == state  # Twisted's own channel goes on reading: the bug worked around
    if bounded:
        channel.resumeProducing()  # the buffer drained
        assert transport.producerState == "producing"
    channel.connectionLost(None)
