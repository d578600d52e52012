"""The practice certificates: what they contain, and that every client verifies them: it trusts the practice
authority only when told to, and checks the server's name even then."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import treq
from cryptography import x509
from OpenSSL import SSL
from service_identity import VerificationError
from twisted.internet import defer, endpoints, protocol
from twisted.web.client import Agent, ResponseNeverReceived
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

import labkit
from servers import tls, web


@pytest.fixture
def https():
    """The practice web site over HTTPS on 127.0.0.1."""
    server = labkit.serve(web.site(), name="test-https", tls=tls.server_options(), show=False)
    yield server
    server.stop()


def get(url: str, **kwargs):
    async def go(reactor):
        agent = kwargs.pop("agent", None)
        response = await treq.get(url, agent=agent(reactor) if callable(agent) else agent, **kwargs)
        return response.code, await treq.content(response)

    return labkit.react(go, timeout=10)


@implementer(IPolicyForHTTPS)
class CheckAs:
    """A policy that verifies every server as ``hostname`` (to connect to 127.0.0.1 but expect another name)."""

    def __init__(self, hostname: str):
        self.hostname = hostname

    def creatorForNetloc(self, hostname, port):
        return tls.client_options(self.hostname)


# --- the certificates ---------------------------------------------------------------------------------------------

def test_made_once_per_process():
    assert tls.credentials() is tls.credentials()
    assert tls.ca_pem() == tls.credentials().ca_cert_pem
    assert Path(tls.ca_path()).read_bytes() == tls.ca_pem()


def test_a_set_made_apart_leaves_this_processs_authority_and_its_file_alone():
    """A second set (a test's expired certificates) once overwrote the authority's file, so every later client of
    the process distrusted the practice servers."""
    own = tls.credentials()
    apart = tls.credentials_made_at(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30))
    assert apart.ca_file is None and apart.ca_cert_pem != own.ca_cert_pem
    assert tls.credentials() is own and Path(tls.ca_path()).read_bytes() == own.ca_cert_pem


def test_server_certificate_names_localhost_and_loopback_and_is_signed_by_the_authority():
    made = tls.credentials()
    authority = x509.load_pem_x509_certificate(made.ca_cert_pem)
    server = x509.load_pem_x509_certificate(made.server_cert_pem)
    server.verify_directly_issued_by(authority)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                         ipaddress.ip_address("::1")]
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert authority.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == tls.CA_NAME
    now = datetime.datetime.now(datetime.timezone.utc)
    for certificate in (authority, server):
        assert certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        assert lifetime <= datetime.timedelta(days=tls.VALID_DAYS, hours=1)


def test_no_verification_is_turned_off_anywhere():
    import servers

    modules = sorted(Path(servers.__file__).parent.rglob("*.py"))
    assert {"tls.py", "__main__.py", "practice_site.py"} <= {path.name for path in modules}
    for path in modules:
        source = path.read_text()
        for forbidden in ("CERT_NONE", "check_hostname", "_create_unverified_context", "verify=False",
                          "ClientContextFactory", "VERIFY_NONE"):
            assert forbidden not in source, (path.name, forbidden)


# --- trusted and right name: it works -----------------------------------------------------------------------------

def test_treq_with_the_practice_authority(https):
    assert https.url.startswith("https://127.0.0.1:")
    assert get(https.url + "hello", agent=tls.https_agent) == (200, web.HELLO_HTML)
    assert get(f"https://localhost:{https.port}/hello", agent=tls.https_agent) == (200, web.HELLO_HTML)
    explicit = lambda reactor: Agent(reactor, contextFactory=tls.https_policy())  # noqa: E731
    assert get(https.url + "big", agent=explicit) == (200, web.text_body())


def test_stdlib_with_the_practice_authority(https):
    context = ssl.create_default_context(cafile=tls.ca_path())
    connection = http.client.HTTPSConnection("127.0.0.1", https.port, context=context, timeout=5)
    try:
        connection.request("GET", "/hello")
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, web.HELLO_HTML)
    finally:
        connection.close()
    # ALPN, which urllib, curl and browsers send, is answered with http/1.1.
    alpn = tls.ssl_context()
    alpn.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
        with alpn.wrap_socket(raw, server_hostname="localhost") as wrapped:
            assert wrapped.selected_alpn_protocol() == "http/1.1"


def test_twisted_endpoint_with_client_options(https):
    """A plain TLS client (wrapClientTLS + optionsForClientTLS) speaks HTTP/1.0 by hand."""

    class Fetch(protocol.Protocol):
        def connectionMade(self):
            self.received = b""
            self.transport.write(b"GET /hello HTTP/1.0\r\nHost: localhost\r\n\r\n")

        def dataReceived(self, data):
            self.received += data

        def connectionLost(self, reason):
            self.factory.done.callback(self.received)

    def go(reactor):
        factory = protocol.ClientFactory.forProtocol(Fetch)
        factory.done = defer.Deferred()
        endpoint = endpoints.wrapClientTLS(tls.client_options("localhost"),
                                           endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", https.port))
        endpoint.connect(factory)
        return factory.done

    reply = labkit.react(go, timeout=10)
    assert reply.startswith(b"HTTP/1.0 200 OK") and reply.endswith(web.HELLO_HTML)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_with_cacert(https):
    ok = subprocess.run(["curl", "-sS", "--cacert", tls.ca_path(), https.url + "hello"], capture_output=True,
                        timeout=20)
    assert ok.returncode == 0 and ok.stdout == web.HELLO_HTML
    refused = subprocess.run(["curl", "-sS", https.url + "hello"], capture_output=True, timeout=20)
    assert refused.returncode == 60  # "peer certificate cannot be authenticated with known CA certificates"


# --- the wrong name: refused --------------------------------------------------------------------------------------

def test_treq_refuses_a_certificate_for_another_name(https):
    with pytest.raises(ResponseNeverReceived) as raised:
        get(https.url + "hello", agent=lambda reactor: Agent(reactor, contextFactory=CheckAs("example.com")))
    assert raised.value.reasons[0].check(VerificationError)


def test_stdlib_refuses_a_certificate_for_another_name(https):
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            tls.ssl_context().wrap_socket(raw, server_hostname="example.com")


def test_twisted_endpoint_refuses_a_certificate_for_another_name(https):
    def go(reactor):
        done = defer.Deferred()

        class Probe(protocol.Protocol):
            def connectionLost(self, reason):
                done.errback(reason)

        endpoint = endpoints.wrapClientTLS(tls.client_options("example.com"),
                                           endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", https.port))
        endpoint.connect(protocol.ClientFactory.forProtocol(Probe)).addErrback(done.errback)
        return done

    with pytest.raises(VerificationError):
        labkit.react(go, timeout=10)


# --- not trusted: refused -----------------------------------------------------------------------------------------

def test_treq_refuses_without_the_practice_authority(https):
    with pytest.raises(ResponseNeverReceived) as raised:
        get(https.url + "hello")
    reason = raised.value.reasons[0]
    assert reason.check(SSL.Error) and "certificate verify failed" in str(reason.value)


def test_stdlib_refuses_without_the_practice_authority(https):
    connection = http.client.HTTPSConnection("127.0.0.1", https.port, timeout=5,
                                             context=ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        connection.request("GET", "/hello")
    connection.close()


def test_another_authority_is_not_enough(https, tmp_path):
    """Trusting some other authority, however proper, does not make the practice certificate pass."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, tls.CA_NAME)])  # even the same name
    now = datetime.datetime.now(datetime.timezone.utc)
    impostor = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
    other = tmp_path / "other-ca.pem"
    other.write_bytes(impostor.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(cafile=str(other))
    with socket.create_connection(("127.0.0.1", https.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="localhost")
