"""The ``dns`` practice server run as a learner runs it (``python -m servers dns``), asked by independent clients
with their defaults: BIND's ``dig`` and ``host`` (UDP first), Knot's ``kdig``, ldns's ``drill``, dnspython's stub
resolver, and ``dnsperf`` (a short bounded run over UDP and TCP). Each sees an authority: AA on its answers, the
SOA on NXDOMAIN and NODATA, REFUSED for a name outside ``example.test``."""

from __future__ import annotations

import re
import subprocess

import pytest

from servers import names
from tests.peers import missing, need
from tests.standalone import standalone

WAIT = 20
MX = sorted(f"{preference} {host}." for preference, host in names.MX_HOSTS)


@pytest.fixture(scope="module")
def port():
    """The command-line server's one port number (UDP and TCP)."""
    with standalone("dns", "--port", "0") as server:
        yield server.port


def run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=WAIT)
    return done.stdout + done.stderr


def flags(said: str) -> set[str]:
    """The header flags a dig-like tool printed (``flags: qr aa rd;``)."""
    found = re.search(r"flags: ([a-z ]*);", said, re.IGNORECASE)
    assert found, said
    return set(found.group(1).lower().split())


def test_dig_with_its_defaults_asks_over_udp_and_gets_an_authoritative_answer(port):
    said = run(need("dig", "bind9-dnsutils"), "@127.0.0.1", "-p", str(port), "MX", names.ZONE)
    assert "(UDP)" in said and "status: NOERROR" in said and "aa" in flags(said)
    assert sorted(" ".join(line.split()[4:]) for line in said.splitlines()
                  if "\tMX\t" in line and not line.startswith(";")) == MX
    negative = run("dig", "@127.0.0.1", "-p", str(port), "A", f"missing.{names.ZONE}")
    assert "status: NXDOMAIN" in negative and "aa" in flags(negative)
    assert re.search(rf"AUTHORITY SECTION:\n{re.escape(names.ZONE)}\.\s+\d+\s+IN\s+SOA\s+ns\.{names.ZONE}", negative)
    assert "status: REFUSED" in run("dig", "@127.0.0.1", "-p", str(port), "A", "example.com")


def test_host_finds_the_mail_hosts(port):
    said = run(need("host", "bind9-dnsutils"), "-p", str(port), "-t", "MX", names.ZONE, "127.0.0.1")
    assert sorted(line.split(" by ")[1] for line in said.splitlines() if "mail is handled by" in line) == MX, said
    assert "NXDOMAIN" in run("host", "-p", str(port), "-t", "A", f"missing.{names.ZONE}", "127.0.0.1")


@pytest.mark.parametrize("transport", ["+notcp", "+tcp"])
def test_kdig_reads_the_zone_over_udp_and_tcp(port, transport):
    kdig = need("kdig", "knot-dnsutils")
    said = run(kdig, "@127.0.0.1", "-p", str(port), transport, "MX", names.ZONE)
    assert "status: NOERROR" in said and "aa" in flags(said)
    assert sorted(" ".join(line.split()[4:]) for line in said.splitlines() if "\tMX\t" in line) == MX
    nodata = run(kdig, "@127.0.0.1", "-p", str(port), transport, "MX", f"lists.{names.ZONE}")
    assert "status: NOERROR" in nodata and "ANSWER: 0" in nodata and "AUTHORITY: 1" in nodata
    assert "aa" in flags(nodata) and "\tSOA\t" in nodata


def test_drill_gets_answers_nxdomain_and_refused(port):
    drill = need("drill", "ldnsutils")
    said = run(drill, "-p", str(port), "MX", names.ZONE, "@127.0.0.1")
    assert "rcode: NOERROR" in said and "aa" in flags(said) and "ANSWER: 3" in said
    negative = run(drill, "-p", str(port), "A", f"missing.{names.ZONE}", "@127.0.0.1")
    assert "rcode: NXDOMAIN" in negative and "aa" in flags(negative) and "\tSOA\t" in negative
    assert "rcode: REFUSED" in run(drill, "-p", str(port), "A", "example.com", "@127.0.0.1")


def resolver(port: int):
    """dnspython's stub resolver asking only the practice server, with its defaults (UDP, then TCP if cut)."""
    try:
        import dns.resolver
    except ImportError:
        missing("dnspython is missing: pip install dnspython (the test extra has it)")
    asking = dns.resolver.Resolver(configure=False)
    asking.nameservers, asking.port, asking.lifetime = ["127.0.0.1"], port, 5
    return asking


def test_dnspythons_resolver_tells_an_answer_nodata_nxdomain_and_a_refusal_apart(port):
    import dns.resolver

    asking = resolver(port)
    answer = asking.resolve(names.ZONE, "MX")
    assert sorted(f"{record.preference} {record.exchange}" for record in answer) == MX
    assert answer.response.flags & dns.flags.AA
    with pytest.raises(dns.resolver.NoAnswer) as nodata:
        asking.resolve(f"lists.{names.ZONE}", "MX")
    assert nodata.value.response().authority[0].rdtype == dns.rdatatype.SOA
    with pytest.raises(dns.resolver.NXDOMAIN):
        asking.resolve(f"missing.{names.ZONE}", "A")
    with pytest.raises(dns.resolver.NoNameservers, match="REFUSED"):
        asking.resolve("example.com", "A")


@pytest.mark.parametrize("mode", ["udp", "tcp"])
def test_dnsperf_gets_every_answer_with_the_right_code(port, mode, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text(f"{names.ZONE} MX\nmissing.{names.ZONE} A\nexample.com A\n")
    said = run(need("dnsperf", "dnsperf"), "-m", mode, "-s", "127.0.0.1", "-p", str(port), "-d", str(questions),
               "-n", "100", "-l", "10", "-t", "5")
    assert re.search(r"Queries completed:\s+300 \(100\.00%\)", said), said
    assert re.search(r"Response codes:\s+NOERROR 100 \([\d.]+%\), NXDOMAIN 100 \([\d.]+%\), REFUSED 100", said), said
