"""Chapter 10's practice SSH servers, with independent peers: OpenSSH's ``ssh`` logs in to them (password and
key, batch mode, its own known_hosts), and the kit's conch client runs a command on Debian's OpenSSH ``sshd``
started unprivileged on a loopback port. Bad input: wrong password or key, an unknown host key, garbage before
the version line, 100 channels on one connection, a 1 MB shell line, an unknown command; the manhole logs in by
key only and never listens beyond loopback. The shell is also driven without sockets (``StringTransport``)."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess

import pytest
from twisted.conch.insults import insults
from twisted.conch.ssh import connection
from twisted.internet.testing import StringTransport

import labkit
from labkit.checks import wait_until
from labkit.checks.ssh import known_hosts_file, run_command
from servers import accounts
from servers.loopback import NotLoopback
from servers.ssh import probes, shell
from servers.ssh.connection import MAX_CHANNELS, MAX_UNSENT, BoundedConnection
from servers.ssh.keys import fingerprint, host_key, new_key
from servers.ssh.manhole import new_session
from tests.peers import need
from tests.ssh_peers import openssh_server, private_key_file, server, user_key  # noqa: F401 (fixtures)

PASSWORD = {account.user: account.password for account in accounts.accounts("ssh")}["learner"]


@pytest.fixture
def openssh(tmp_path, server, user_key):
    """``openssh(*args, password=None, key=True, known=True)``: run OpenSSH's client against ``server``."""
    program = need("ssh", "openssh-client")
    key_path = private_key_file(tmp_path, user_key)
    known = known_hosts_file(server.port, host_key(), tmp_path)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")

    def run(*args, password=None, key=True, trusted=True, stdin=None):
        command = [program, "-F", "/dev/null", "-p", str(server.port), "-o", "StrictHostKeyChecking=yes",
                   "-o", f"UserKnownHostsFile={known if trusted else empty}", "-o", "LogLevel=error",
                   "-o", "ConnectTimeout=10"]
        environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        if key:
            command += ["-i", str(key_path), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                        "-o", "PreferredAuthentications=publickey"]
        else:
            askpass = tmp_path / "askpass"
            askpass.write_text(f"#!/bin/sh\necho '{password}'\n")
            askpass.chmod(0o700)
            environment |= {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": "none"}
            command += ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                        "-o", "NumberOfPasswordPrompts=1"]
        return subprocess.run([*command, *args], capture_output=True, timeout=30, env=environment,
                              input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)

    return run


# --- the shell, without sockets ----------------------------------------------------------------------------------

def test_commands_answer_fixed_text_and_unknown_ones_127():
    assert shell.run("ada", "whoami") == ("ada", 0)
    assert shell.run("ada", "echo  one two") == ("one two", 0)
    assert shell.run("ada", "rm -rf /") == ("rm: command not found (try help)", 127)
    assert shell.run("ada", "   ") == ("", 0)
    assert shell.run("ada", "help")[0].split(": ")[1].split() == sorted(shell.COMMANDS)


def typed(keys: bytes) -> bytes:
    """What the shell shows after ``keys`` are typed at it (a terminal over a StringTransport)."""
    ended = []
    terminal = insults.ServerProtocol(shell.PracticeShell, "ada", ended.append)
    transport = StringTransport()
    terminal.makeConnection(transport)
    terminal.dataReceived(keys)
    return transport.value() + (b"[ended %d]" % ended[0] if ended else b"")


def test_the_shell_greets_edits_and_exits():
    shown = typed(b"whoamx\x7fi\rexit\r")
    assert shown.startswith(b"\x1b[4hPractice shell for ada; type help.\r\n$ ")  # insert mode, greeting, prompt
    assert b"\r\nada\r\n$ " in shown
    assert shown.endswith(b"bye\r\n[ended 0]")


def test_a_long_line_is_refused_once_and_the_shell_goes_on():
    shown = typed(b"x" * 1_000_000 + b"\rwhoami\r")
    assert shown.count(b"line too long") == 1
    assert b"x" * (shell.MAX_LINE + 1) not in shown
    assert shown.endswith(b"\r\nada\r\n$ ")


def test_a_channel_whose_client_does_not_read_stops_widening_the_clients_window():
    from twisted.conch.ssh import channel as ssh_channel

    sent = []

    class Transport:
        def sendPacket(self, number, payload):
            sent.append((number, payload))

    conn = BoundedConnection()
    conn.transport = Transport()
    typed_at = ssh_channel.SSHChannel(conn=conn, remoteWindow=0, remoteMaxPacket=32768)
    typed_at.id = 0
    conn.channels[0], conn.localToRemoteChannel[0], conn.channelsToRemoteChannel[typed_at] = typed_at, 7, 7
    typed_at.write(b"x" * (MAX_UNSENT + 1))  # the client's window is shut: it all waits
    conn.adjustWindow(typed_at, 1000)
    assert sent == []  # the client may not send more while that waits
    conn.ssh_CHANNEL_WINDOW_ADJUST(struct.pack(">2L", 0, 2 * MAX_UNSENT))  # the client reads it all
    assert sent[-1] == (connection.MSG_CHANNEL_WINDOW_ADJUST, struct.pack(">2L", 7, 1000))


# --- OpenSSH's client against the practice server ------------------------------------------------------------------

def test_the_probe_sees_key_exchange_offered(server):
    probes.banner("127.0.0.1", server.port)


def test_openssh_runs_a_command_with_a_password_and_gets_its_status(openssh):
    done = openssh("learner@127.0.0.1", "whoami", password=PASSWORD, key=False)
    assert (done.returncode, done.stdout) == (0, b"learner\n"), done.stderr
    unknown = openssh("learner@127.0.0.1", "frobnicate", password=PASSWORD, key=False)
    assert (unknown.returncode, unknown.stdout) == (127, b"frobnicate: command not found (try help)\n")


def test_openssh_runs_a_command_with_a_key(openssh):
    done = openssh("learner@127.0.0.1", "echo", "by", "key")
    assert (done.returncode, done.stdout) == (0, b"by key\n"), done.stderr


def test_openssh_types_at_the_shell_through_a_terminal(openssh):
    done = openssh("-tt", "learner@127.0.0.1", stdin=b"hostname\rexit\r")
    assert done.returncode == 0, done.stderr
    assert b"practice-ssh\r\n$ " in done.stdout and done.stdout.endswith(b"bye\r\n")


def test_a_wrong_password_or_key_is_refused(openssh, tmp_path):
    wrong = openssh("learner@127.0.0.1", "whoami", password="not-" + PASSWORD, key=False)
    assert wrong.returncode == 255 and b"Permission denied" in wrong.stderr
    stranger = openssh("stranger@127.0.0.1", "whoami")
    assert stranger.returncode == 255 and b"Permission denied (password,publickey)" in stranger.stderr


def test_openssh_refuses_a_server_it_does_not_know(openssh):
    done = openssh("learner@127.0.0.1", "whoami", trusted=False)
    assert done.returncode == 255 and b"Host key verification failed" in done.stderr
    assert done.stdout == b""


# --- the kit's conch client ----------------------------------------------------------------------------------------

def test_the_conch_client_runs_commands_and_refuses_an_unknown_host_key(server, user_key, tmp_path):
    trusted = known_hosts_file(server.port, host_key(), tmp_path)
    assert run_command(server.port, "learner", "uptime", known_hosts=trusted, key=user_key).output == \
        "up 42 days, 1 user\n"
    by_password = run_command(server.port, "learner", "nothing-here", known_hosts=trusted, password=PASSWORD)
    assert (by_password.status, by_password.error) == (127, "")
    guessed = run_command(server.port, "learner", "whoami", known_hosts=trusted, password="not-" + PASSWORD,
                          timeout=15)
    assert guessed.error == "login refused"  # conch's client repeats the password: the server stops it at three
    impostor = known_hosts_file(server.port, new_key(), tmp_path / "other" if (tmp_path / "other").mkdir()
                                is None else None)
    refused = run_command(server.port, "learner", "whoami", known_hosts=impostor, key=user_key)
    assert refused.error.startswith("host key refused") and refused.output == ""



def test_a_clients_own_refusal_is_logged_as_news_and_a_fault_still_as_an_error(server, user_key, tmp_path):
    """A client that does not trust the host key, or runs out of ways to log in, disconnects with its reason; the
    server logs that at info level (a known_hosts lab shows it on purpose, and an error would be reported into the
    learner's running cell, whenever the server happened to read the DISCONNECT before the cell ended). A reason that is a fault (here a MAC error) stays an error."""
    from twisted.conch.ssh import transport
    from twisted.logger import LogLevel, globalLogPublisher

    from servers.ssh.transport import GoodbyeTransport

    events = []

    def calm():
        return [event["description"] for event in events
                if event.get("log_format") == "the client disconnected: {description}"]

    globalLogPublisher.addObserver(events.append)
    try:
        impostor = known_hosts_file(server.port, new_key(), tmp_path)
        assert run_command(server.port, "learner", "whoami", known_hosts=impostor, key=user_key).error \
            .startswith("host key refused")
        (tmp_path / "k").mkdir()
        trusted = known_hosts_file(server.port, host_key(), tmp_path / "k")
        assert run_command(server.port, "learner", "whoami", known_hosts=trusted, key=new_key()).error == \
            "login refused"
        assert wait_until(lambda: len(calm()) == 2), calm()  # the server reads the DISCONNECT a moment later
        GoodbyeTransport().receiveError(transport.DISCONNECT_MAC_ERROR, "bad packet")
    finally:
        globalLogPublisher.removeObserver(events.append)
    errors = [event.get("log_format", "") for event in events if event.get("log_level") in (LogLevel.error,
                                                                                           LogLevel.critical)]
    assert errors == ["Got remote error, code {code}\nreason: {description}"], errors
    assert calm()[0].startswith(b"bad host key") and calm()[1] == b"no more authentication methods available"
    assert "Got remote error" not in server.log.text  # an error would have gone to the server's log and the cell


# --- Debian's sshd, our client -------------------------------------------------------------------------------------

def test_our_client_runs_a_command_on_openssh_server(tmp_path, user_key):
    import getpass

    with openssh_server(tmp_path, user_key) as (port, daemon_key):
        trusted = known_hosts_file(port, daemon_key, tmp_path)
        done = run_command(port, getpass.getuser(), "echo from sshd; exit 3", known_hosts=trusted, key=user_key,
                           timeout=15)
        assert (done.output, done.status, done.error) == ("from sshd\n", 3, "")
        stranger = known_hosts_file(port, new_key(), tmp_path / "k" if (tmp_path / "k").mkdir() is None else None)
        refused = run_command(port, getpass.getuser(), "true", known_hosts=stranger, key=user_key, timeout=15)
        assert refused.error.startswith("host key refused")


# --- bad input -----------------------------------------------------------------------------------------------------

def conch_client(port: int, password: str, service_started, timeout: float = 15):
    """Log in as learner with conch's client layers, checking the practice host key, then call
    ``service_started(connection)`` (a Deferred's result ends the session) on the reactor thread."""
    from twisted.conch.ssh import transport, userauth
    from twisted.internet import defer, protocol

    done = defer.Deferred()

    class Connection(connection.SSHConnection):
        def serviceStarted(self):
            super().serviceStarted()
            defer.maybeDeferred(service_started, self).chainDeferred(done)

    class Login(userauth.SSHUserAuthClient):
        def getPassword(self, prompt=None):
            return defer.succeed(password.encode())

        def getPublicKey(self):
            return None

    class Client(transport.SSHClientTransport):
        def verifyHostKey(self, blob, fingerprint):
            from twisted.conch.ssh import keys
            if keys.Key.fromString(blob) == host_key().public():
                return defer.succeed(True)
            return defer.fail(AssertionError("not the practice host key"))

        def connectionSecure(self):
            self.requestService(Login(b"learner", Connection()))

    async def main(reactor):
        from twisted.internet import endpoints
        client = await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(
            protocol.Factory.forProtocol(Client))
        try:
            return await done
        finally:
            client.transport.loseConnection()

    from twisted.internet import defer as d
    return labkit.react(lambda reactor: d.Deferred.fromCoroutine(main(reactor)), timeout=timeout)


def test_a_hundred_channels_on_one_connection_get_ten_and_ninety_refusals(server):
    from twisted.conch.ssh import channel
    from twisted.internet import defer

    def open_many(conn):
        outcomes = []
        everyone = defer.Deferred()

        class Session(channel.SSHChannel):
            name = b"session"

            def note(self, what):
                outcomes.append(what)
                if len(outcomes) == 100:
                    everyone.callback(outcomes)

            def channelOpen(self, data):
                self.note("open")

            def openFailed(self, reason):
                words = reason.args[0]
                self.note(words.decode() if isinstance(words, bytes) else words)

        for _ in range(100):
            conn.openChannel(Session(conn=conn))
        return everyone

    outcomes = conch_client(server.port, PASSWORD, open_many)
    assert outcomes.count("open") == MAX_CHANNELS
    assert outcomes.count(f"too many channels open (at most {MAX_CHANNELS})") == 100 - MAX_CHANNELS
    probes.banner("127.0.0.1", server.port)


def test_a_megabyte_shell_line_is_refused_and_the_session_goes_on(server):
    from twisted.conch.ssh import channel, common, session
    from twisted.internet import defer

    def type_long_line(conn):
        shown, finished = [], defer.Deferred()

        class Terminal(channel.SSHChannel):
            name = b"session"

            def channelOpen(self, data):
                conn.sendRequest(self, b"pty-req", session.packRequest_pty_req(b"xterm", (24, 80, 0, 0), b""))
                conn.sendRequest(self, b"shell", b"")
                self.write(b"x" * 1_000_000 + b"\rwhoami\r")

            def dataReceived(self, data):
                shown.append(data)
                if b"".join(shown).endswith(b"learner\r\n$ ") and not finished.called:
                    finished.callback(b"".join(shown))

        conn.openChannel(Terminal(conn=conn))
        return finished

    shown = conch_client(server.port, PASSWORD, type_long_line, timeout=60)
    assert shown.count(b"line too long") == 1 and len(shown) < 2 * shell.MAX_LINE


def test_garbage_before_the_version_line_is_dropped_and_others_still_log_in(server, openssh):
    for garbage in (b"GET / HTTP/1.0\r\n\r\n", os.urandom(20_000), b"SSH-1.5-old\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := sock.recv(65536):
                    answer += chunk
            assert answer.startswith(b"SSH-2.0-") and len(answer) < 10_000
    done = openssh("learner@127.0.0.1", "whoami")
    assert (done.returncode, done.stdout) == (0, b"learner\n"), done.stderr


# --- the manhole ---------------------------------------------------------------------------------------------------

def test_the_manhole_runs_code_for_its_key_only(tmp_path):
    program = need("ssh", "openssh-client")
    login = new_session()
    assert login.key.toString("openssh").decode() not in repr(login) and fingerprint(login.key) in repr(login)
    served = labkit.serve(login.factory({"answer": 21}), name="test-manhole", show=False)
    key_path = login.key_file(tmp_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    known = known_hosts_file(served.port, host_key(), tmp_path)
    base = [program, "-F", "/dev/null", "-p", str(served.port), "-o", f"UserKnownHostsFile={known}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=error"]
    done = subprocess.run([*base, "-tt", "-i", str(key_path), "learner@127.0.0.1"], input=b"answer * 2\r\x04",
                          capture_output=True, timeout=30)
    assert b"42" in done.stdout, (done.stdout, done.stderr)
    stranger = tmp_path / "stranger"
    stranger.write_bytes(new_key().toString("openssh"))
    stranger.chmod(0o600)
    refused = subprocess.run([*base, "-i", str(stranger), "-o", "IdentitiesOnly=yes", "learner@127.0.0.1", "1"],
                             capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert refused.returncode == 255 and b"Permission denied (publickey)." in refused.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.168.1.10"])
def test_the_manhole_never_listens_beyond_loopback(host):
    with pytest.raises(NotLoopback):
        labkit.serve(new_session().factory({}), name="test-manhole", host=host, show=False)


def test_no_notebook_holds_a_private_key():
    from pathlib import Path

    notebooks = sorted(Path(__file__).parent.parent.glob("notebooks/**/*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        assert "PRIVATE KEY-----" not in notebook.read_text(), f"{notebook.name} holds a private key"


def test_python_m_servers_ssh_prints_the_host_key_that_openssh_then_sees():
    from tests.standalone import standalone

    keyscan, keygen = need("ssh-keyscan", "openssh-client"), need("ssh-keygen", "openssh-client")
    with standalone("ssh") as server:
        printed = server.details["host key"]
        scanned = subprocess.run([keyscan, "-p", str(server.port), "-t", "ed25519", "127.0.0.1"],
                                 capture_output=True, text=True, timeout=30).stdout
    listed = subprocess.run([keygen, "-lf", "-"], input=scanned, capture_output=True, text=True, timeout=30).stdout
    assert printed.startswith("ssh-ed25519 SHA256:")
    assert printed.split()[1] == listed.split()[1], (printed, listed)
