"""TLS for the practice servers: a practice certificate authority and a server certificate, made in this process.

Nothing here turns verification off. Clients trust the practice authority explicitly, and then check the
server's name as they would on the internet:

* :func:`server_options` is the server side, for ``reactor.listenSSL`` or ``labkit.serve(..., tls=...)``.
* :func:`client_options` (``optionsForClientTLS`` with the practice authority as trust root) is the client
  side for ``connectSSL`` / ``wrapClientTLS``; :func:`https_policy` is the same for ``Agent`` and treq:
  ``treq.get(url, agent=Agent(reactor, contextFactory=https_policy()))``, or simply ``agent=https_agent(reactor)``.
* :func:`ca_path` is the authority's certificate as a PEM file, for ``curl --cacert PATH`` and
  ``ssl.create_default_context(cafile=PATH)`` (or :func:`ssl_context`); :func:`ca_details` is the ``ca: PATH``
  line a server that offers STARTTLS prints for its clients (``python -m servers smtp``).

Fixtures: the authority is named :data:`CA_NAME`; the server certificate is for the DNS name ``localhost`` and
the addresses ``127.0.0.1`` and ``::1`` (:data:`SERVER_NAMES`), so ``https://localhost:PORT/`` and
``https://127.0.0.1:PORT/`` verify and any other name does not. Both certificates are valid from an hour before
they are made for :data:`VALID_DAYS` days; they are made once per process (on first use) and made again only
when they are within an hour of expiring. Keys are ECDSA P-256. The authority's key never leaves memory.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from servers import temporary

__all__ = ["CA_NAME", "HTTP_ALPN", "SERVER_NAMES", "VALID_DAYS", "Credentials", "ca_details", "ca_path", "ca_pem",
           "client_options", "credentials", "credentials_made_at", "https_agent", "https_policy", "server_options", "ssl_context", "trust_root"]

CA_NAME = "Twisted workbook practice CA"
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 7
HTTP_ALPN = (b"http/1.1",)


@dataclass(frozen=True)
class Credentials:
    """A practice authority and server certificate (PEM bytes), and the authority's PEM file (None for a set
    made apart from this process's own, by :func:`credentials_made_at`)."""

    ca_cert_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes
    ca_file: Path | None
    not_after: datetime.datetime


_lock = threading.Lock()
_current: dict[str, Credentials] = {}


def credentials() -> Credentials:
    """The practice certificates of this process, made on first use (and again when about to expire)."""
    with _lock:
        made = _current.get("credentials")
        now = datetime.datetime.now(datetime.timezone.utc)
        if made is None or made.not_after - now < datetime.timedelta(hours=1):
            made = credentials_made_at(now)
            made = _current["credentials"] = replace(made, ca_file=_write_ca_file(made.ca_cert_pem))
        return made


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Twisted workbook"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def credentials_made_at(now: datetime.datetime) -> Credentials:
    """A new authority and server certificate, valid from an hour before ``now`` for :data:`VALID_DAYS` days,
    apart from this process's own: nothing is written and :func:`credentials` is unchanged (a test makes an
    expired set this way)."""
    not_before = now - datetime.timedelta(hours=1)
    not_after = now + datetime.timedelta(days=VALID_DAYS)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(CA_NAME)
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = [x509.DNSName(SERVER_NAMES[0])] + [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_NAMES[1:]]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost")).issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    return Credentials(
        ca_cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        server_key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()),
        ca_file=None,
        not_after=not_after,
    )


def _write_ca_file(pem: bytes) -> Path:
    folder = _current.get("folder")
    if folder is None:
        folder = _current["folder"] = temporary.folder("practice-ca-")
    path = folder / "practice-ca.pem"
    partial = folder / f".practice-ca.pem.{os.getpid()}"
    partial.write_bytes(pem)
    partial.replace(path)  # readers never see half a file
    return path


def ca_pem() -> bytes:
    """The practice authority's certificate, PEM."""
    return credentials().ca_cert_pem


def ca_path() -> str:
    """A PEM file holding the practice authority's certificate (``curl --cacert``, ``cafile=``)."""
    return str(credentials().ca_file)


def ca_details(offered) -> list[str]:
    """``["ca: PATH"]`` (the practice authority's file) if ``offered``, the server options of a server that offers
    STARTTLS, is set; ``[]`` otherwise. ``python -m servers`` prints it, so a mail client, ``openssl s_client
    -starttls smtp -CAfile PATH`` or fetchmail can verify the upgraded connection."""
    return [f"ca: {ca_path()}"] if offered else []


def trust_root():
    """The practice authority as a Twisted trust root (``twisted.internet.ssl.Certificate``)."""
    from twisted.internet import ssl

    return ssl.Certificate.loadPEM(ca_pem())


def server_options(alpn: Sequence[bytes] = HTTP_ALPN):
    """The server side: ``CertificateOptions`` with the ``localhost`` certificate, for ``listenSSL`` or
    ``labkit.serve(..., tls=server_options())``.

    ``alpn`` is what the server offers in ALPN, the TLS extension in which a client names the protocols it
    speaks (curl, browsers and urllib send ``http/1.1``). A server with no overlap refuses the handshake, so for
    a server that does not speak HTTP pass the protocols it does speak, or ``()`` if its clients send none.
    """
    from twisted.internet import ssl

    made = credentials()
    certificate = ssl.PrivateCertificate.loadPEM(made.server_cert_pem + made.server_key_pem)
    return ssl.CertificateOptions(privateKey=certificate.privateKey.original, certificate=certificate.original,
                                  acceptableProtocols=list(alpn) or None)


def client_options(hostname: str = "localhost"):
    """The client side: ``optionsForClientTLS(hostname, trustRoot=the practice authority)``. The connection
    fails unless the server's certificate is signed by the practice authority and names ``hostname``."""
    from twisted.internet import ssl

    return ssl.optionsForClientTLS(hostname, trustRoot=trust_root())


def https_policy():
    """For ``Agent(reactor, contextFactory=...)`` (and so treq): ``BrowserLikePolicyForHTTPS`` trusting the
    practice authority; each request's host name is checked against the certificate."""
    from twisted.web.client import BrowserLikePolicyForHTTPS

    return BrowserLikePolicyForHTTPS(trustRoot=trust_root())


def https_agent(reactor, **kwargs):
    """An ``Agent`` that trusts the practice authority: ``treq.get(url, agent=https_agent(reactor))``."""
    from twisted.web.client import Agent

    return Agent(reactor, contextFactory=https_policy(), **kwargs)


def ssl_context():
    """A stdlib ``ssl.SSLContext`` that trusts the practice authority (and verifies names, as always)."""
    import ssl

    return ssl.create_default_context(cafile=ca_path())
