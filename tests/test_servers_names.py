"""Chapter 7's practice DNS server: read by ``dig`` (an independent peer) over UDP and TCP, by the stdlib probe,
and by Twisted's own ``MXCalculator``; the same lookups against Debian's dnsmasq serving the same records, so the
lab's MX client is proven on a DNS server that is not ours."""

from __future__ import annotations

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
from tests.peers import need

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
