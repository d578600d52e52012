"""Chapter 7's practice DNS server: a ``twisted.names`` authority for the practice mail domains.

Promises:

* :func:`dns` builds a ``DNSServerFactory`` (DNS over TCP; :func:`listen_udp` puts the same server on UDP) that
  answers authoritatively for ``example.test`` and refuses every other name (no recursion), as
  :mod:`servers.names.server` says (AA, the SOA in negative answers, FORMERR for what cannot be read):

  - ``example.test``: three MX of preference 10, 20 and 30 (:data:`MX_HOSTS`), whose hosts have A (and AAAA)
    records on loopback, served in the additional section;
  - ``lists.example.test``: no MX, an A record: mail goes to the A record (RFC 5321's fallback);
  - ``nomail.example.test``: exists (a TXT record) with neither MX nor A: no mail can go there;
  - any other name under ``example.test`` does not exist (NXDOMAIN).

* :func:`dns_udp_and_tcp` is the same server as the catalogue's ``dns``: UDP and TCP on one port number
  (:mod:`servers.names.ports`), as ``dig``, ``host`` and resolvers expect with their defaults.
"""

from __future__ import annotations

from twisted.names import authority, dns as names_dns

from servers.names.ports import UDPAndTCP
from servers.names.server import AuthorityFactory, DatagramProtocol

__all__ = ["MX_HOSTS", "ZONE", "dns", "dns_udp_and_tcp", "listen_udp"]

ZONE = "example.test"
MX_HOSTS = ((10, "mail.example.test"), (20, "backup.example.test"), (30, "mx3.example.test"))
ADDRESSES = {"mail.example.test": "127.0.0.1", "backup.example.test": "127.0.0.2", "mx3.example.test": "127.0.0.3",
             "lists.example.test": "127.0.0.1"}
TTL = 300


class PracticeAuthority(authority.FileAuthority):
    """The practice zone, held in memory (``FileAuthority`` without a file); ``mx_hosts``: the MX records of
    ``example.test`` as (preference, host) pairs, in the order they are stored and answered."""

    def __init__(self, mx_hosts=MX_HOSTS):
        self.mx_hosts = tuple(mx_hosts)
        super().__init__(None)

    def loadFile(self, filename) -> None:
        soa = names_dns.Record_SOA(mname=f"ns.{ZONE}", rname=f"hostmaster.{ZONE}", serial=2025120101,
                                   refresh=3600, retry=600, expire=86400, minimum=TTL, ttl=TTL)
        records: dict[bytes, list] = {ZONE.encode(): [soa, names_dns.Record_NS(f"ns.{ZONE}", ttl=TTL)]}
        records[f"ns.{ZONE}".encode()] = [names_dns.Record_A("127.0.0.1", ttl=TTL)]
        for preference, host in self.mx_hosts:
            records[ZONE.encode()].append(names_dns.Record_MX(preference, host, ttl=TTL))
        for host, address in ADDRESSES.items():
            records.setdefault(host.encode(), []).append(names_dns.Record_A(address, ttl=TTL))
        records[b"mail.example.test"].append(names_dns.Record_AAAA("::1", ttl=TTL))
        records[b"nomail.example.test"] = [names_dns.Record_TXT(b"this name takes no mail", ttl=TTL)]
        self.soa = (ZONE.encode(), soa)
        self.records = records


def dns(mx_hosts=MX_HOSTS):
    """The DNS practice server (TCP); :func:`listen_udp` adds UDP on the same port number. ``mx_hosts`` changes
    the preferences and order of the MX records (the hosts keep their addresses)."""
    return AuthorityFactory(PracticeAuthority(mx_hosts))


def dns_udp_and_tcp(mx_hosts=MX_HOSTS):
    """The DNS practice server on UDP and TCP at one port number, as ``python -m servers dns`` runs it."""
    return UDPAndTCP(dns(mx_hosts))


def listen_udp(reactor, factory, port: int, host: str = "127.0.0.1"):
    """Answer DNS over UDP with ``factory`` (from :func:`dns`) on ``host``:``port`` (loopback only)."""
    from servers.loopback import loopback

    return reactor.listenUDP(port, DatagramProtocol(controller=factory), interface=loopback(host))
