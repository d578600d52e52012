"""Chapter 7 (mail clients): the claims. Each test backs one sentence of the complete notebook that no executed output
there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter07.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.mail import imap4, pop3, relaymanager
from twisted.names import client, dns

import labkit
from servers import names
from tests.claims import WAIT, assert_gone_from_python_3_13, run_python


def test_the_pop3client_module_is_deprecated():
    """07-mail-clients, cells 12 and 29: the book's `twisted.mail.pop3client` still imports, with a warning that it
    is deprecated for `twisted.mail.pop3`."""
    code = ("import warnings\nwarnings.simplefilter('always')\n"
            "with warnings.catch_warnings(record=True) as caught:\n    import twisted.mail.pop3client\n"
            "print([str(w.message) for w in caught])")
    ran = run_python(code)
    assert "twisted.mail.pop3client was deprecated" in ran.stdout, ran.stdout + ran.stderr


def test_advanced_pop3_client_sends_no_password_in_plain_text_unless_allowed():
    """07-mail-clients, cell 12: without a challenge, `login` uses USER/PASS only over TLS, unless told it may do
    without (`allowInsecureLogin`)."""

    def login_without_tls(allowed):
        pop = pop3.AdvancedPOP3Client()
        pop.allowInsecureLogin = allowed
        transport = StringTransport()
        pop.makeConnection(transport)
        pop.dataReceived(b"+OK ready\r\n")  # no <challenge>: no APOP
        outcome = []
        pop.login(b"learner", b"secret").addBoth(outcome.append)
        pop.dataReceived(b"+OK capabilities\r\nUSER\r\n.\r\n")  # no STLS
        return transport.value(), outcome

    sent, outcome = login_without_tls(False)
    assert b"USER" not in sent and outcome[0].check(pop3.InsecureAuthenticationDisallowed)
    sent, outcome = login_without_tls(True)
    assert sent.endswith(b"USER learner\r\n")


def test_imap4_client_sends_folder_names_in_modified_utf7():
    """07-mail-clients, cell 66: folder names are text, sent in modified UTF-7, which Twisted encodes for you."""
    imap = imap4.IMAP4Client()
    transport = StringTransport()
    imap.makeConnection(transport)
    imap.dataReceived(b"* OK ready\r\n")
    imap.select("Entwürfe")
    assert transport.value() == b"0001 SELECT Entw&APw-rfe\r\n"


def test_twisteds_resolver_asks_again_over_tcp_when_the_udp_answer_is_truncated():
    """07-mail-clients, cell 52: a resolver asks over UDP first, and over TCP when the answer is too long."""
    factory = names.dns(mx_hosts=[(number, f"mx{number}.example.test") for number in range(1, 40)])
    served = labkit.serve(names.UDPAndTCP(factory), name="claims-dns-long", show=False)
    try:
        async def main(reactor):
            resolver = client.Resolver(servers=[("127.0.0.1", served.port)], reactor=reactor)
            answers, _, _ = await resolver.lookupMailExchange(names.ZONE)
            return answers

        answers = labkit.react(main, timeout=WAIT)
        assert len([answer for answer in answers if answer.type == dns.MX]) == 39  # over UDP: none, truncated
    finally:
        served.stop()


def test_the_mx_calculator_passes_over_a_host_marked_bad_for_an_hour():
    """07-mail-clients, cell 56: `MXCalculator` takes a resolver and a clock, and remembers hosts that failed for a
    while (an hour)."""

    class Resolver:
        def lookupMailExchange(self, domain):
            records = [dns.RRHeader(domain, dns.MX, payload=dns.Record_MX(preference, name))
                       for preference, name in ((10, b"first.example.test"), (20, b"second.example.test"))]
            return defer.succeed((records, [], []))

    clock = task.Clock()
    calculator = relaymanager.MXCalculator(Resolver(), clock)

    def best():
        found = []
        calculator.getMX("example.test").addCallback(found.append)
        return str(found[0].name)

    assert best() == "first.example.test"
    calculator.markBad("first.example.test")
    assert best() == "second.example.test"
    clock.advance(relaymanager.MXCalculator.timeOutBadMX)
    assert relaymanager.MXCalculator.timeOutBadMX == 60 * 60 and best() == "first.example.test"


def test_telnetlib_left_the_standard_library_in_python_3_13():
    """07-mail-clients, cell 2: Python 3.13 removed `telnetlib`."""
    assert_gone_from_python_3_13("telnetlib")


def test_examine_leaves_the_recent_flags_alone_and_select_takes_them_on_dovecot():
    """07-mail-clients, cell 66: `examine` is `select` read-only, so looking does not change the `\\Recent` state of
    the folder (RFC 3501, 6.3.2). On Dovecot, sessions that `examine` the inbox one after the other each see its
    messages recent; a session that `select`s it takes the flag, and the next one sees none recent."""
    from twisted.internet import endpoints

    from servers import accounts
    from servers.mail import pop3 as practice_pop3
    from servers.mail.messages import practice_messages
    from tests import mail_peers

    account = accounts.accounts("mail")[0]
    messages = practice_messages()

    async def recent(reactor, port, how):
        endpoint = endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=WAIT)
        client = await endpoints.connectProtocol(endpoint, imap4.IMAP4Client())
        await client.login(account.user.encode(), account.password.encode())
        status = await getattr(client, how)("INBOX")
        await client.logout()
        return status["RECENT"]

    with mail_peers.dovecot(account.user, account.password,
                            lambda mail: practice_pop3.fill_maildir(mail / account.user, messages)) as ports:
        seen = [labkit.react(recent, ports["imap"], how, timeout=WAIT)
                for how in ("examine", "examine", "select", "examine")]
    assert seen == [len(messages), len(messages), len(messages), 0]
