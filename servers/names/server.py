"""How the practice DNS server answers: as a real authority for one zone does (RFC 1034 section 4.3.2, RFC 1035
section 4.1.1, RFC 2308), on Twisted's ``DNSServerFactory`` and its protocols.

Promises, for every query:

* a name in the zone that exists: NOERROR with AA set; a type it has no record of (NODATA) and a name that does
  not exist (NXDOMAIN) carry the zone's SOA in the authority section, TTL the lesser of the SOA's TTL and its
  minimum (RFC 2308), with AA set;
* a name outside the zone, a class other than IN, or a zone transfer (AXFR, IXFR): REFUSED, AA clear (this server
  is no resolver and gives no transfers);
* an opcode other than QUERY: NOTIMP; a message holding no question or more than one: FORMERR;
* a message that cannot be read but has a whole header: FORMERR under its id, logged in one line; fewer bytes
  than a header: logged in one line, not answered (over TCP the connection is closed); a response (QR set) sent
  to the server: ignored, so two servers never answer each other forever; a message whose header counts more
  records than it holds is unreadable;
* every answer is a response (QR set) carrying the question, RD as asked, RA clear; over UDP at most 512 bytes
  (a longer one goes as its header and question with TC set, and the client asks again over TCP), over TCP
  whole.
"""

from __future__ import annotations

import struct

from twisted.logger import Logger
from twisted.names import dns, error, server

__all__ = ["AuthorityFactory", "DatagramProtocol", "StreamProtocol", "reply"]

_log = Logger()

HEADER = 12  # bytes of a DNS message's header (RFC 1035 section 4.1.1)
UDP_SIZE = 512  # the longest answer over UDP to a client that offers no more (RFC 1035 section 4.2.1)
TRANSFERS = (dns.AXFR, dns.IXFR)


def reply(query: dns.Message, rcode: int, answers=(), authority=(), additional=(), auth: bool = False):
    """The response to ``query``: its id, opcode, RD flag and question, with ``rcode`` and the sections given."""
    response = dns.Message(id=query.id, answer=1, opCode=query.opCode, recDes=query.recDes, recAv=0, auth=auth,
                           rCode=rcode)
    response.queries = list(query.queries)
    response.answers, response.authority, response.additional = list(answers), list(authority), list(additional)
    return response


def unreadable(data: bytes) -> dns.Message:
    """FORMERR for a message that could not be read: its id and opcode, from the header, and nothing else."""
    return dns.Message(id=int.from_bytes(data[:2], "big"), answer=1, opCode=(data[2] >> 3) & 0x0F, rCode=dns.EFORMAT)


def read(data: bytes, peer) -> dns.Message | None:
    """The message in ``data``, or None when it cannot be read (said in one line of the log)."""
    message = dns.Message()
    try:
        message.fromStr(data)
        sections = (message.queries, message.answers, message.authority, message.additional)
        counted = struct.unpack("!4H", data[4:HEADER])
        if counted != tuple(len(section) for section in sections):  # Twisted stops quietly at a cut record
            raise ValueError(f"the header counts {counted} records, the message holds fewer")
    except Exception as failed:  # noqa: BLE001 - anything a stranger's bytes make the parser raise is their error
        answered = "answered FORMERR" if len(data) >= HEADER and not data[2] & 0x80 else "not answered"
        _log.warn("unreadable DNS message ({size} bytes) from {peer}: {why}; {answered}", size=len(data),
                  peer=peer, why=f"{type(failed).__name__}: {failed}"[:120], answered=answered)
        return None
    return message


class DatagramProtocol(dns.DNSDatagramProtocol):
    """DNS over UDP, serving only: each datagram is a question for the controller, or gets FORMERR."""

    def datagramReceived(self, data: bytes, addr) -> None:
        message = read(data, addr)
        if message is not None:
            self.controller.messageReceived(message, self, addr)
        elif len(data) >= HEADER and not data[2] & 0x80:
            self.writeMessage(unreadable(data), addr)


class StreamProtocol(dns.DNSProtocol):
    """DNS over TCP, serving only: each length-prefixed message is a question for the controller, or gets
    FORMERR; one without a whole header ends the connection (there is no id to answer under)."""

    def stringReceived(self, data: bytes) -> None:
        message = read(data, self.transport.getPeer())
        if message is not None:
            self.controller.messageReceived(message, self)
        elif len(data) >= HEADER:
            self.writeMessage(unreadable(data))
        else:
            self.transport.loseConnection()


def in_zone(name: bytes, zone: bytes) -> bool:
    """Whether ``name`` is ``zone`` or below it (case does not matter in DNS names)."""
    name, zone = name.lower().rstrip(b"."), zone.lower().rstrip(b".")
    return name == zone or name.endswith(b"." + zone)


class AuthorityFactory(server.DNSServerFactory):
    """Answers for ``authority`` (a ``FileAuthority``: its ``soa`` names the zone) and nothing else."""

    protocol = StreamProtocol
    noisy = False

    def __init__(self, authority):
        super().__init__(authorities=[authority])
        self.zone, self.soa = authority.soa

    def messageReceived(self, message, proto, address=None):
        if message.answer:
            _log.info("ignored a DNS response sent to the server (id {id})", id=message.id)
            return
        if message.opCode != dns.OP_QUERY:
            return self.sendReply(proto, reply(message, dns.ENOTIMP), address)
        if len(message.queries) != 1:
            return self.sendReply(proto, reply(message, dns.EFORMAT), address)
        question = message.queries[0]
        if question.cls != dns.IN or question.type in TRANSFERS or not in_zone(question.name.name, self.zone):
            return self.sendReply(proto, reply(message, dns.EREFUSED), address)
        self.handleQuery(message, proto, address)

    def negative(self) -> dns.RRHeader:
        """The zone's SOA as the authority section of NXDOMAIN and NODATA carries it (RFC 2308 section 3)."""
        return dns.RRHeader(self.zone, dns.SOA, dns.IN, min(self.soa.ttl, self.soa.minimum), self.soa, auth=True)

    def gotResolverResponse(self, response, protocol, message, address):
        answers, authority, additional = response
        if not answers:  # NODATA: the SOA, with its negative TTL, whatever the authority put there
            authority = [self.negative()]
        self.sendReply(protocol, reply(message, dns.OK, answers, authority, additional, auth=True), address)

    def gotResolverError(self, failure, protocol, message, address):
        if failure.check(dns.AuthoritativeDomainError):
            return self.sendReply(protocol, reply(message, dns.ENAME, authority=[self.negative()], auth=True),
                                  address)
        if failure.check(error.DomainError):
            return self.sendReply(protocol, reply(message, dns.EREFUSED), address)
        _log.failure("answering {question} failed", failure, question=message.queries[0])
        self.sendReply(protocol, reply(message, dns.ESERVER), address)

    def sendReply(self, protocol, message, address):
        """Write ``message``: over TCP (``address`` None) whole; over UDP whole when it fits :data:`UDP_SIZE`,
        else as its header and question with TC set (RFC 2181 section 9: no record cut in half)."""
        message.maxSize = 0  # Twisted's own cut would leave the header counting records no longer there
        if address is None:
            return protocol.writeMessage(message)
        if len(message.toStr()) > UDP_SIZE:
            cut = reply(message, message.rCode, auth=message.auth)
            cut.trunc = 1
            message = cut
        protocol.writeMessage(message, address)
