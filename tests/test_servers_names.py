"""Chapter 7's practice DNS server: read by ``dig`` (an independent peer) over UDP and TCP, by the stdlib probe,
and by Twisted's own ``MXCalculator``; the same lookups against Debian's dnsmasq serving the same records, so the
lab's MX client is proven on a DNS server that is not ours. The conformance table (RFC 1034/1035, 2308) asks
every kind of question over UDP and TCP with dnspython; malformed messages get FORMERR and one log line.
(Other independent clients, and the command-line server: tests/test_names_clients.py.)"""

from __future__ import annotations

import random
import socket
import subprocess
import time

import pytest
from twisted.internet import error as internet_error
from twisted.mail import relaymanager
from twisted.names import client

import labkit
from servers import names
from servers.names import probes
from tests.peers import missing, need

WAIT = 10


@pytest.fixture
def dns_server():
    factory = names.dns()
    served = labkit.serve(factory, name="test-dns", show=False)
    udp = labkit.react(lambda reactor: names.listen_udp(reactor, factory, served.port))
    yield served
    labkit.react(lambda reactor: udp.stopListening())
    served.stop()


def dig(port: int, *query: str) -> str:
    done = subprocess.run([need("dig", "bind9-dnsutils"), "@127.0.0.1", "-p", str(port), "+time=3", "+tries=1",
                           *query], capture_output=True, text=True, timeout=WAIT)
    return done.stdout


def answers(text: str) -> list[str]:
    return [" ".join(line.split()[3:]) for line in text.splitlines() if line and not line.startswith(";")]


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_dig_reads_the_mx_records_authoritatively(dns_server, transport):
    said = dig(dns_server.port, transport, "MX", "example.test")
    assert "status: NOERROR" in said and " aa" in said.split("flags:")[1].split(";")[0]
    mx = sorted(line for line in answers(said.split("ANSWER SECTION:")[1].split("\n\n")[0]))
    assert mx == [f"MX {preference} {host}." for preference, host in names.MX_HOSTS]


def test_dig_gets_nxdomain_for_a_missing_name_and_aaaa_for_the_mail_host(dns_server):
    assert "status: NXDOMAIN" in dig(dns_server.port, "A", "missing.example.test")
    assert "AAAA\t::1" in dig(dns_server.port, "AAAA", "mail.example.test")


def test_the_stdlib_probe_passes(dns_server):
    probes.dns("127.0.0.1", dns_server.port)


def mx_lookup(port: int, domain: str):
    """Twisted's MXCalculator through a resolver that asks only the given server; the MX record or the failure."""
    async def main(reactor):
        resolver = client.Resolver(servers=[("127.0.0.1", port)], reactor=reactor)
        try:
            return await relaymanager.MXCalculator(resolver=resolver, clock=reactor).getMX(domain)
        except internet_error.DNSLookupError as failed:
            return failed
    return labkit.react(main)


def check_mx_answers(port: int) -> None:
    best = mx_lookup(port, "example.test")
    assert (best.preference, str(best.name)) == names.MX_HOSTS[0]
    fallback = mx_lookup(port, "lists.example.test")
    assert str(fallback.name) == names.ADDRESSES["lists.example.test"]  # no MX: the A record
    assert isinstance(mx_lookup(port, "nomail.example.test"), internet_error.DNSLookupError)
    assert isinstance(mx_lookup(port, "missing.example.test"), internet_error.DNSLookupError)


def test_mx_calculator_on_the_practice_server(dns_server):
    check_mx_answers(dns_server.port)


def start_dnsmasq(program: str, folder) -> tuple[subprocess.Popen, int]:
    """dnsmasq serving the practice zone's records on a free port (UDP and TCP), answering; a port taken between
    choosing it and dnsmasq binding it makes dnsmasq exit, and then another port is tried."""
    records = [f"--mx-host={names.ZONE},{host},{preference}" for preference, host in names.MX_HOSTS]
    records += [f"--host-record={host},{address}" for host, address in names.ADDRESSES.items()]
    records += ["--txt-record=nomail.example.test,this name takes no mail"]
    said = ""
    for _ in range(3):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen([program, "-k", "-C", "/dev/null", "--pid-file=", f"--port={port}",
                                    "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                                    f"--local=/{names.ZONE}/", *records],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + WAIT
        while process.poll() is None and time.monotonic() < deadline:
            if "status: NOERROR" in dig(port, "MX", names.ZONE):
                return process, port
            time.sleep(0.1)
        process.kill()
        said = process.communicate(timeout=WAIT)[0].decode(errors="replace")[-500:]
    raise AssertionError(f"dnsmasq did not answer: {said}")


@pytest.fixture
def dnsmasq(tmp_path):
    process, port = start_dnsmasq(need("dnsmasq", "dnsmasq-base"), tmp_path)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=WAIT)


def test_mx_calculator_on_dnsmasq(dnsmasq):
    check_mx_answers(dnsmasq)


# --- conformance: every kind of question, as RFC 1034/1035 and RFC 2308 say an authority answers it -----------

def dnspython():
    """dnspython's modules (an independent DNS client), or the test skipped (failed under CI) naming the install."""
    try:
        import dns.message
        import dns.query
        import dns.rcode
    except ImportError:
        missing("dnspython is missing: pip install dnspython (the test extra has it)")
    return dns


@pytest.fixture
def served_dns():
    """The catalogue's ``dns`` in the kernel: UDP and TCP on one port number."""
    served = labkit.serve("dns", name="test-dns-both", show=False)
    yield served
    served.stop()


# (what, name, type, class, opcode, rcode, AA, answers, SOA in authority, additional); RFC 1035 section 4.1.1
# for the header, RFC 2308 section 3 for the negative answers, RFC 1034 section 4.3.2 for REFUSED outside.
TABLE = [
    ("MX in the zone, hosts' addresses added", "example.test", "MX", "IN", "QUERY", "NOERROR", True, 3, False, 4),
    ("A of an MX host", "mail.example.test", "A", "IN", "QUERY", "NOERROR", True, 1, False, 0),
    ("AAAA of an MX host", "mail.example.test", "AAAA", "IN", "QUERY", "NOERROR", True, 1, False, 0),
    ("the zone's SOA", "example.test", "SOA", "IN", "QUERY", "NOERROR", True, 1, False, 0),
    ("the zone's NS, its address added", "example.test", "NS", "IN", "QUERY", "NOERROR", True, 1, False, 1),
    ("TXT", "nomail.example.test", "TXT", "IN", "QUERY", "NOERROR", True, 1, False, 0),
    ("ANY at the apex", "example.test", "ANY", "IN", "QUERY", "NOERROR", True, 5, False, 5),
    ("names are case-blind (RFC 4343)", "MAIL.Example.TEST", "A", "IN", "QUERY", "NOERROR", True, 1, False, 0),
    ("NODATA: the name has no record of the type", "lists.example.test", "MX", "IN", "QUERY", "NOERROR", True, 0,
     True, 0),
    ("NXDOMAIN: the name does not exist", "missing.example.test", "A", "IN", "QUERY", "NXDOMAIN", True, 0, True, 0),
    ("NXDOMAIN deep in the zone", "a.b.missing.example.test", "MX", "IN", "QUERY", "NXDOMAIN", True, 0, True, 0),
    ("a name outside the zone", "example.com", "A", "IN", "QUERY", "REFUSED", False, 0, False, 0),
    ("the root", ".", "NS", "IN", "QUERY", "REFUSED", False, 0, False, 0),
    ("a name that only ends like the zone", "notexample.test", "A", "IN", "QUERY", "REFUSED", False, 0, False, 0),
    ("class CH", "version.bind", "TXT", "CH", "QUERY", "REFUSED", False, 0, False, 0),
    ("class CH in the zone", "example.test", "MX", "CH", "QUERY", "REFUSED", False, 0, False, 0),
    ("a zone transfer", "example.test", "AXFR", "IN", "QUERY", "REFUSED", False, 0, False, 0),
    ("opcode IQUERY", "example.test", "MX", "IN", "IQUERY", "NOTIMP", False, 0, False, 0),
    ("opcode STATUS", "example.test", "MX", "IN", "STATUS", "NOTIMP", False, 0, False, 0),
    ("opcode NOTIFY", "example.test", "SOA", "IN", "NOTIFY", "NOTIMP", False, 0, False, 0),
    ("opcode UPDATE", "example.test", "SOA", "IN", "UPDATE", "NOTIMP", False, 0, False, 0),
]


def ask(port: int, transport: str, message):
    """``message`` sent with dnspython over ``transport``; the response it accepted as the answer."""
    dns = dnspython()
    send = dns.query.udp if transport == "udp" else dns.query.tcp
    return send(message, "127.0.0.1", port=port, timeout=WAIT)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("row", TABLE, ids=[row[0] for row in TABLE])
def test_every_kind_of_question_is_answered_as_the_rfcs_say(served_dns, transport, row):
    what, name, rdtype, rdclass, opcode, rcode, aa, answers, soa, additional = row
    dns = dnspython()
    import dns.flags
    import dns.opcode
    import dns.rdatatype

    query = dns.message.make_query(name, rdtype, rdclass)
    query.set_opcode(dns.opcode.from_text(opcode))
    if transport == "tcp":
        query.flags &= ~dns.flags.RD  # RD is copied back, whichever it was
    response = ask(served_dns.port, transport, query)
    assert response.id == query.id and response.flags & dns.flags.QR
    assert response.opcode() == query.opcode()
    assert bool(response.flags & dns.flags.RD) == (transport == "udp")
    assert not response.flags & (dns.flags.RA | dns.flags.TC)
    assert dns.rcode.to_text(response.rcode()) == rcode
    assert bool(response.flags & dns.flags.AA) == aa
    assert [str(q.name) for q in response.question] == [str(q.name) for q in query.question]  # as sent
    assert sum(len(rrset) for rrset in response.answer) == answers
    assert all(rrset.name == query.question[0].name and rrset.ttl == names.TTL for rrset in response.answer)
    negative = [rrset for rrset in response.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert len(negative) == (1 if soa else 0) and len(response.authority) == len(negative)
    if soa:  # RFC 2308 section 3: the SOA of the zone, its TTL the lesser of its own and its minimum
        assert str(negative[0].name) == names.ZONE + "." and negative[0].ttl == min(names.TTL, negative[0][0].minimum)
    assert sum(len(rrset) for rrset in response.additional) == additional


def raw_udp(port: int, data: bytes) -> bytes | None:
    """``data`` as one datagram; the answer, or None when none comes within a second."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        sock.sendto(data, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def raw_tcp(port: int, data: bytes) -> bytes | None:
    """``data`` as one length-prefixed message; the answer, or None when the server closes or stays silent for a
    second instead."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(len(data).to_bytes(2, "big") + data)
        sock.settimeout(1)
        try:
            size = sock.recv(2)
        except TimeoutError:
            return None
        if not size:
            return None
        sock.settimeout(WAIT)
        received = b""
        while len(received) < int.from_bytes(size, "big"):
            received += sock.recv(65535) or b""
        return received


QUESTION = b"\x07example\x04test\x00\x00\x0f\x00\x01"
# (what, message, answered with FORMERR under its id, or not answered at all)
MALFORMED = [
    ("no question", b"\xbe\xef\x01\x00" + b"\x00" * 8, True),
    ("two questions", b"\xbe\xef\x01\x00\x00\x02" + b"\x00" * 6 + QUESTION * 2, True),
    ("a name cut short", b"\xbe\xef\x01\x00\x00\x01" + b"\x00" * 6 + b"\x3fabc", True),
    ("a compression pointer to itself", b"\xbe\xef\x01\x00\x00\x01" + b"\x00" * 6 + b"\xc0\x0c\x00\x0f\x00\x01",
     True),
    ("more records counted than sent", b"\xbe\xef\x01\x00\x00\x01\x00\x05\x00\x00\x00\x00" + QUESTION, True),
    ("shorter than a header", b"\xbe\xef\x01", False),
    ("a response, not a question", b"\xbe\xef\x85\x80\x00\x01" + b"\x00" * 6 + QUESTION, False),
]


@pytest.fixture
def dns_log():
    """The server's log events while the test runs (Twisted's log, as the practice servers write it)."""
    from twisted.logger import globalLogPublisher

    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


@pytest.mark.parametrize("row", MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_messages_get_formerr_and_one_log_line_over_udp_and_tcp(served_dns, dns_log, row):
    what, data, formerr = row
    for exchange in (raw_udp, raw_tcp):
        answer = exchange(served_dns.port, data)
        if formerr:
            assert answer is not None and answer[:2] == b"\xbe\xef" and answer[2] & 0x80, (what, exchange)
            assert answer[3] & 0x0F == 1, f"{what}: rcode {answer[3] & 0x0F}, not FORMERR"
        else:
            assert answer is None, (what, exchange)
    ours = [event for event in dns_log if event.get("log_namespace", "").startswith("servers.names")]
    assert len(ours) <= 2 and not any("log_failure" in event for event in dns_log), ours
    probes.dns("127.0.0.1", served_dns.port)


def test_a_thousand_random_datagrams_get_answers_or_silence_and_the_server_goes_on(served_dns, dns_log):
    rng = random.Random(1035)
    answered = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        for _ in range(1000):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
            sock.sendto(data, ("127.0.0.1", served_dns.port))
        while True:
            try:
                answer = sock.recv(65535)
            except TimeoutError:
                break
            answered += 1
            assert answer[2] & 0x80 and answer[3] & 0x0F in (0, 1, 3, 4, 5), answer[:4].hex()
    assert answered > 100  # most random headers are questions that get FORMERR, REFUSED or NOTIMP
    assert not any("log_failure" in event for event in dns_log)
    probes.dns("127.0.0.1", served_dns.port)


def test_an_answer_longer_than_512_bytes_comes_truncated_over_udp_and_whole_over_tcp():
    factory = names.dns(mx_hosts=[(number, f"mx{number}.example.test") for number in range(1, 40)])
    served = labkit.serve(names.UDPAndTCP(factory), name="test-dns-long", show=False)
    try:
        dns = dnspython()
        import dns.flags

        query = dns.message.make_query(names.ZONE, "MX")
        over_udp = dns.query.udp(query, "127.0.0.1", port=served.port, timeout=WAIT, raise_on_truncation=False)
        assert over_udp.flags & dns.flags.TC and over_udp.answer == [] and len(over_udp.to_wire()) <= 512
        assert sum(len(rrset) for rrset in ask(served.port, "tcp", query).answer) == 39
    finally:
        served.stop()
