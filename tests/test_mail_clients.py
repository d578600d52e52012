"""The practice mail servers run as ``python -m servers NAME``, used by clients the other tests do not use:
``openssl s_client -starttls`` (all three), swaks (SMTP with STARTTLS and AUTH) and fetchmail (POP3 and IMAP,
STLS/STARTTLS verified with the printed ``ca:`` file). Each client verifies the upgraded connection with the
authority the server printed, and fails with any other name; with ``--tls`` (implicit TLS) no server offers
STARTTLS, and asking for it gets the protocol's refusal at once instead of a session that hangs."""

from __future__ import annotations

import subprocess

import pytest

from servers.mail.messages import practice_messages
from tests.mail_peers import ACCOUNT
from tests.peers import need
from tests.standalone import standalone

WAIT = 30
# What each client sends to end the session, and what the server answers to it.
GOODBYE = {"smtp": (b"QUIT\r\n", b"221"), "pop3": (b"QUIT\r\n", b"+OK"), "imap": (b"Z LOGOUT\r\n", b"Z OK")}
MESSAGE_IDS = {line for message in practice_messages() for line in message.split(b"\r\n")
               if line.lower().startswith(b"message-id:")}


@pytest.fixture(scope="module", params=["smtp", "pop3", "imap"])
def plain(request):
    with standalone(request.param) as server:
        yield server


@pytest.fixture(scope="module", params=["smtp", "pop3", "imap"])
def implicit(request):
    with standalone(request.param, "--tls") as server:
        yield server


def s_client(port: int, ca: str, *arguments: str, send: bytes, name: str = "localhost") -> subprocess.CompletedProcess:
    """``openssl s_client`` to loopback ``port``, verifying the server as ``name`` with the authority in ``ca``;
    ``send`` is what it then writes. It ends when the server closes (``-quiet`` waits for that)."""
    program = need("openssl", "openssl")
    return subprocess.run([program, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", ca,
                           "-verify_return_error", "-verify_hostname", name, "-quiet", *arguments],
                          input=send, capture_output=True, timeout=WAIT)


# --- STARTTLS: the printed authority verifies it ------------------------------------------------------------------

def test_python_m_servers_prints_the_authority_that_verifies_starttls(plain):
    assert plain.ca, f"python -m servers {plain.name} offers STARTTLS but printed no ca: line"
    goodbye, answer = GOODBYE[plain.name]
    done = s_client(plain.port, plain.ca, "-starttls", plain.name, send=goodbye)
    assert done.returncode == 0, done.stderr.decode()[-800:]
    assert answer in done.stdout


def test_openssl_starttls_fails_for_another_name(plain):
    done = s_client(plain.port, plain.ca, "-starttls", plain.name, send=GOODBYE[plain.name][0],
                    name="mail.elsewhere.invalid")
    assert done.returncode != 0
    assert b"verify" in done.stderr.lower()


# --- implicit TLS: no STARTTLS inside it --------------------------------------------------------------------------

ASK = {  # (what to send, what must not be offered, the start of the refusal of STARTTLS)
    "smtp": (b"EHLO client.test\r\nSTARTTLS\r\n", b"STARTTLS\r\n", b"503 "),
    "pop3": (b"CAPA\r\nSTLS\r\n", b"STLS\r\n", b"-ERR"),
    "imap": (b"A CAPABILITY\r\nB STARTTLS\r\n", b"STARTTLS", b"B BAD"),
}


def test_implicit_tls_offers_no_starttls_and_refuses_it_at_once(implicit):
    ask, offered, refusal = ASK[implicit.name]
    done = s_client(implicit.port, implicit.ca, send=ask + GOODBYE[implicit.name][0])
    assert done.returncode == 0, done.stderr.decode()[-800:]
    assert offered not in done.stdout.split(refusal)[0], done.stdout.decode()
    assert refusal in done.stdout, done.stdout.decode()
    assert GOODBYE[implicit.name][1] in done.stdout.split(refusal, 1)[1], "the session did not go on after it"


# --- swaks: SMTP with STARTTLS and AUTH ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smtp_server():
    with standalone("smtp") as server:
        yield server


def swaks(server, *arguments: str) -> subprocess.CompletedProcess:
    program = need("swaks", "swaks")
    return subprocess.run([program, "--server", f"127.0.0.1:{server.port}", "--from", "ada@example.test",
                           "--to", "learner@example.test", "--tls", "--tls-verify", *arguments],
                          capture_output=True, text=True, timeout=WAIT)


def test_swaks_sends_over_verified_starttls_after_auth(smtp_server):
    done = swaks(smtp_server, "--tls-ca-path", smtp_server.ca, "--auth", "PLAIN",
                 "--auth-user", ACCOUNT.user, "--auth-password", ACCOUNT.password)
    assert done.returncode == 0, done.stdout[-1500:]
    assert "<~  235 " in done.stdout and "<~  250 " in done.stdout.split("~> .")[1]


def test_swaks_is_refused_a_wrong_password_and_an_unknown_authority(smtp_server):
    wrong = swaks(smtp_server, "--tls-ca-path", smtp_server.ca, "--auth", "PLAIN",
                  "--auth-user", ACCOUNT.user, "--auth-password", "not-the-password")
    assert wrong.returncode != 0 and "<~* 535 " in wrong.stdout
    stranger = swaks(smtp_server)  # the system's authorities do not know the practice one
    assert stranger.returncode != 0 and "235" not in stranger.stdout


# --- fetchmail: POP3 and IMAP, STLS/STARTTLS checked ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["pop3", "imap"])
def test_fetchmail_downloads_every_message_over_verified_starttls(name, tmp_path):
    program = need("fetchmail", "fetchmail")
    delivered = tmp_path / "delivered.mbox"
    with standalone(name) as server:
        control = tmp_path / "fetchmailrc"
        # "localhost": fetchmail checks the certificate against the name it polls, and only DNS names.
        control.write_text(f'set no syslog\npoll localhost protocol {name} port {server.port} timeout {WAIT}\n'
                           f'  user "{ACCOUNT.user}" password "{ACCOUNT.password}"\n'
                           f'  sslproto "tls1.2+" sslcertck sslcertfile "{server.ca}"\n'
                           f'  keep fetchall mda "cat >> {delivered}"\n')
        control.chmod(0o600)
        done = subprocess.run([program, "-f", str(control)], capture_output=True, text=True, timeout=WAIT * 2,
                              env={"FETCHMAILHOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout[-800:] + done.stderr[-800:]
    got = {line.rstrip(b"\r") for line in delivered.read_bytes().split(b"\n") if line.lower().startswith(b"message-id:")}
    assert {line.lower() for line in got} == {line.lower() for line in MESSAGE_IDS}
