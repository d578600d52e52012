"""Chapter 5's wiki services against their specifications, with clients the other tests do not use: Perl's
``RPC::XML`` for XML-RPC, ``suds`` (from the WSDL) and Perl's ``SOAP::Lite`` for SOAP 1.1, ``httpie`` and ``wget``
for the REST wiki.

The tables: every method ``system.listMethods`` advertises answers; every fault the XML-RPC service documents comes
back as a fault with its code; every SOAP 1.1 fault code (Client, Server, VersionMismatch, MustUnderstand) comes
back inside a Fault with HTTP 500; every HTTP method a resource does not take gets 405 with ``Allow`` (RFC 9110
section 15.5.6), HEAD included. Malformed input (no methodName, a bad value, a non-string argument, nesting 20,000
deep) gets the protocol's own error, nothing reaches the server's error log, and the service goes on."""

from __future__ import annotations

import json
import os
import subprocess
import xmlrpc.client

import pytest

import labkit
from labkit.checks import fetch
from servers.rpc import WikiData, rest, soap
from servers.rpc import xmlrpc as wiki_xmlrpc
from servers.rpc.data import MAX_PAGES
from tests.peers import missing, need
from tests.raw_http import trouble


def served(thing, name):
    return labkit.serve(thing, name=name, show=False)


def perl(script: str, *args: str) -> str:
    """What a Perl ``script`` prints (it needs Debian's RPC::XML and SOAP::Lite)."""
    program = need("perl", "perl")
    done = subprocess.run([program, "-e", script, *args], capture_output=True, text=True, timeout=60)
    if "Can't locate" in done.stderr:
        missing(f"a Perl module is missing ({done.stderr.split('(')[0]}): sudo apt-get install librpc-xml-perl "
                "libsoap-lite-perl")
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- XML-RPC ----------------------------------------------------------------------------------------------------

RPC_XML = r"""
use RPC::XML::Client; $RPC::XML::ALLOW_NIL = 1;
my $client = RPC::XML::Client->new(shift @ARGV);
while (my $line = shift @ARGV) {
    my ($method, @args) = split / /, $line;
    @args = map { /^b64:(.*)/ ? RPC::XML::base64->new($1, 1) : /^dt:(.*)/ ? RPC::XML::datetime_iso8601->new($1)
                  : $_ } @args;  # b64:... is base64 data, dt:... a dateTime.iso8601
    my $r = $client->send_request($method, @args);
    if (!ref $r) { print "$method ERROR $r\n"; next }
    if ($r->is_fault) { print "$method FAULT ", $r->code, "\n"; next }
    my $v = $r->value;
    print "$method OK ", (ref $v eq 'ARRAY' ? join(",", @$v) : defined $v ? $v : "nil"), "\n";
}
"""

XMLRPC_CALLS = {  # call -> what the spec and the service's promises say comes back
    "listPages": "OK WikiHome",
    "hasPage WikiHome": "OK 1",
    "getPage WikiHome": "OK This",
    "getRenderedPage WikiHome": "OK This",
    "findPage Nowhere": "OK nil",
    "setPage NewPage Hello": "OK 1",
    "deletePage NewPage": "OK 1",
    "getPage Nowhere": f"FAULT {wiki_xmlrpc.NO_SUCH_PAGE}",
    "setPage bad! text": f"FAULT {wiki_xmlrpc.REFUSED}",
    "getPage": f"FAULT {wiki_xmlrpc.WRONG_ARGUMENTS}",
    "noSuchMethod": "FAULT 8001",
    "system.methodHelp getPage": "OK The",
    "system.methodSignature getPage": "OK",
    "attach WikiHome note.txt b64:aGk= dt:20050601T12:00:00": "OK 2",
    "attachment WikiHome note.txt": "OK",
    "attach WikiHome note.txt hi 20050601": f"FAULT {wiki_xmlrpc.REFUSED}",
    "attachment WikiHome nothing.txt": f"FAULT {wiki_xmlrpc.NO_SUCH_PAGE}",
}


def test_every_advertised_xmlrpc_method_answers_perls_rpc_xml():
    server = served(wiki_xmlrpc.xmlrpc_wiki(), "test-xmlrpc-perl")
    url = f"http://127.0.0.1:{server.port}/RPC2"
    advertised = xmlrpc.client.ServerProxy(url).system.listMethods()
    tried = {call.split()[0] for call in XMLRPC_CALLS}
    assert set(advertised) - tried == {"system.listMethods"}  # every advertised method is in the table below
    answers = perl(RPC_XML, url, "system.listMethods", *XMLRPC_CALLS).splitlines()
    assert answers[0] == "system.listMethods OK " + ",".join(advertised)
    for (call, expected), answer in zip(XMLRPC_CALLS.items(), answers[1:]):
        assert answer.startswith(f"{call.split()[0]} {expected}"), (call, answer)
    assert trouble(server) == []


def post(port: int, path: str, body: bytes, content_type: str = "text/xml"):
    return fetch(port, "POST", path, body, headers={"Content-Type": content_type})


def call(method: str, *values: str) -> bytes:
    params = "".join(f"<param><value>{value}</value></param>" for value in values)
    return f"<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>".encode()


MALFORMED_XMLRPC = {
    "no methodName": (b"<methodCall><params/></methodCall>", 8002, "with a methodName"),
    "an int that is not a number": (call("getPage", "<int>abc</int>"), 8002, "invalid literal"),
    "a base64 that is not base64": (call("getPage", "<base64>!!!x</base64>"), 8002, "Error"),
    "a dateTime as a page name": (call("getPage", "<dateTime.iso8601>20050601T12:00:00</dateTime.iso8601>"), 400,
                                  "argument 1 is DateTime, not a string"),
    "an array as a page name": (call("getPage", "<array><data/></array>"), 400, "argument 1 is list"),
    "base64 as a page's text": (call("setPage", "<string>Page</string>", "<base64>aGk=</base64>"), 400,
                                "argument 2 is Binary"),
    "arrays nested 20,000 deep": (call("getPage", "<array><data><value>" * 20_000 + "</value></data></array>"
                                       * 20_000), 8002, "deeper than"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_XMLRPC))
def test_malformed_xmlrpc_gets_a_fault_and_no_error_in_the_log(case):
    body, code, words = MALFORMED_XMLRPC[case]
    data = WikiData()
    server = served(wiki_xmlrpc.xmlrpc_wiki(data), "test-xmlrpc-malformed")
    answer = post(server.port, "/RPC2", body)
    assert answer.status == 200, answer.body[:300]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(answer.body)
    assert fault.value.faultCode == code and words in fault.value.faultString, fault.value
    assert trouble(server) == [] and data.list_pages() == ["WikiHome"]
    assert xmlrpc.client.ServerProxy(f"http://127.0.0.1:{server.port}/RPC2").hasPage("WikiHome") is True


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_rpc2_takes_post_only_and_says_so(method):
    server = served(wiki_xmlrpc.xmlrpc_wiki(), "test-xmlrpc-methods")
    answer = fetch(server.port, method, "/RPC2")
    assert (answer.status, answer.header("allow")) == (405, "POST")
    assert trouble(server) == []


# --- SOAP 1.1 ---------------------------------------------------------------------------------------------------

def test_suds_calls_every_operation_of_the_wsdl_and_gets_client_faults():
    try:
        from suds import WebFault
        from suds.client import Client
    except ImportError:
        missing("suds is missing: pip install suds-community")
    server = served(soap.soap_wiki(), "test-soap-suds")
    client = Client(f"http://127.0.0.1:{server.port}/soap?wsdl", cache=None, timeout=15)
    assert sorted(method.name for method in client.wsdl.services[0].ports[0].methods.values()) == \
        sorted(soap.OPERATIONS)
    assert client.service.listPages() == ["WikiHome"]
    assert client.service.setPage("NewPage", "Hello RemoteCalls") is True
    assert client.service.getPage("NewPage") == "Hello RemoteCalls"
    assert 'href="RemoteCalls"' in client.service.getRenderedPage("NewPage")
    assert (client.service.hasPage("NewPage"), client.service.deletePage("NewPage")) == (True, True)
    for refused in (lambda: client.service.getPage("Nowhere"), lambda: client.service.setPage("bad!", "x")):
        with pytest.raises(WebFault) as fault:
            refused()
        assert fault.value.fault.faultcode == "soap:Client"
    assert trouble(server) == []


SOAP_LITE = r"""
use SOAP::Lite;
my ($url, @calls) = @ARGV;
my $s = SOAP::Lite->proxy($url)->ns('urn:twisted-workbook:wiki', 'tns');
$s->on_action(sub { "urn:twisted-workbook:wiki#$_[1]" });
$s->autotype(0);
for my $line (@calls) {
    my ($op, @args) = split / /, $line;
    my @names = $op eq 'setPage' ? ('name', 'text') : ('name');
    my @params = map { SOAP::Data->name("tns:" . shift(@names))->value($_) } @args;
    my $r = $s->call("tns:$op", @params);
    print $r->fault ? "$op FAULT " . $r->faultcode . "\n" : "$op OK " . join(",", $r->paramsall) . "\n";
}
"""


def test_soap_lite_calls_the_service_and_gets_faults():
    data = WikiData({f"Page{number}": "x" for number in range(MAX_PAGES)})
    server = served(soap.soap_wiki(data), "test-soap-lite")
    answers = perl(SOAP_LITE, f"http://127.0.0.1:{server.port}/soap", "getPage Page7", "hasPage Page7",
                   "getPage Nowhere", "nosuch", "setPage NewPage text", "listPages").splitlines()
    assert answers[:5] == ["getPage OK x", "hasPage OK true", "getPage FAULT soap:Client", "nosuch FAULT soap:Client",
                           "setPage FAULT soap:Server"]  # a full wiki is the server's condition, not the client's
    assert answers[5].startswith("listPages OK Page0,Page1,")
    assert trouble(server) == []


def envelope(body: str, header: str = "", namespace: str = soap.ENVELOPE) -> bytes:
    return (f'<e:Envelope xmlns:e="{namespace}">{header}<e:Body>{body}</e:Body></e:Envelope>').encode()


SOAP_FAULTS = {
    "another SOAP version": (envelope("<getPage><name>WikiHome</name></getPage>",
                                      namespace="http://www.w3.org/2003/05/soap-envelope"), "VersionMismatch"),
    "a header that must be understood": (envelope(
        "<getPage><name>WikiHome</name></getPage>",
        f'<e:Header><t:Transaction xmlns:t="urn:x" e:mustUnderstand="1">5</t:Transaction></e:Header>'),
        "MustUnderstand"),
    "a header that may be ignored": (envelope(
        "<getPage><name>WikiHome</name></getPage>",
        '<e:Header><t:Note xmlns:t="urn:x">hello</t:Note></e:Header>'), None),
    "not XML": (b"<oops", "Client"),
    "nested 20,000 deep": (envelope("<getPage><name>" + "<a>" * 20_000 + "</a>" * 20_000 + "</name></getPage>"),
                           "Client"),
}


@pytest.mark.parametrize("case", sorted(SOAP_FAULTS))
def test_soap_fault_codes_as_soap_1_1_says(case):
    body, code = SOAP_FAULTS[case]
    server = served(soap.soap_wiki(), "test-soap-faults")
    answer = post(server.port, "/soap", body)
    if code is None:
        assert answer.status == 200 and b"This is your WikiHome" in answer.body
    else:
        assert answer.status == 500 and answer.header("content-type").startswith("text/xml")
        assert f"<faultcode>soap:{code}</faultcode>".encode() in answer.body, answer.body
    assert trouble(server) == []


# --- REST (HTTP 9110) with httpie and wget ----------------------------------------------------------------------

def test_httpie_drives_the_rest_wiki():
    program = need("http", "httpie (pip install httpie)")
    server = served(rest.wiki(), "test-wiki-httpie")
    base = f"http://127.0.0.1:{server.port}"

    def http(*args):
        done = subprocess.run([program, "--ignore-stdin", "--check-status", "--print=hb", "--pretty=none", *args],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": "/nonexistent"})
        return done.returncode, done.stdout

    status, shown = http("PUT", f"{base}/api/pages/FrontPage", "text=Hello RemoteCalls")
    assert status == 0 and "HTTP/1.1 201" in shown, shown
    status, shown = http("GET", f"{base}/api/pages/FrontPage")
    assert json.loads(shown.split("\n\n", 1)[1])["text"] == "Hello RemoteCalls"
    etag = next(line.split(": ", 1)[1] for line in shown.splitlines() if line.lower().startswith("etag:"))
    status, shown = http("GET", f"{base}/api/pages/FrontPage", f"If-None-Match:{etag}")
    assert status == 3 and "HTTP/1.1 304" in shown  # httpie's --check-status: 3 for a 3xx it did not follow
    status, shown = http("POST", f"{base}/FrontPage")
    assert status == 4 and "HTTP/1.1 405" in shown and "Allow: HEAD, GET, PUT, DELETE" in shown
    status, shown = http("PUT", f"{base}/api/pages/FrontPage", "text:=[1,2]")
    assert status == 4 and "HTTP/1.1 400" in shown


def test_wget_fetches_wiki_pages_and_their_json():
    program = need("wget", "wget")
    server = served(rest.wiki(), "test-wiki-wget")
    base = f"http://127.0.0.1:{server.port}"

    def wget(*args):
        return subprocess.run([program, "-q", "--tries=1", "--timeout=15", "-O", "-", *args], capture_output=True,
                              timeout=60)

    page = wget(f"{base}/WikiHome")
    assert page.returncode == 0 and b'<a href="TwistedMatrix">TwistedMatrix</a>' in page.stdout
    assert wget(f"{base}/NoSuchPage").returncode == 8  # wget: the server answered with an error (404)
    stored = wget("--method=PUT", "--body-data=Hello RemoteCalls", f"{base}/FromWget")
    assert stored.returncode == 0
    assert json.loads(wget(f"{base}/api/pages/FromWget").stdout)["text"] == "Hello RemoteCalls"
