"""The practice SSH server against RFC 4251-4254, with clients we did not write: paramiko (pinned host key, password
and key logins), OpenSSH's ``ssh`` in its usual modes (a config file with ``-o``, ``-N -L`` and ``-R`` forwarding,
``-s sftp``), and ``ssh-audit``.

The table: every algorithm the server's KEXINIT offers is negotiated by an independent client, and none is one that
ssh-audit fails; the authentication methods, channel types, global and channel requests answer as RFC 4252 and
4254 say (what is not implemented is refused with the RFC's own failure, never a traceback). Malformed messages
after login get a protocol-error disconnect, one log line, and the next client is served. A burst of 200
connections from one address leaves 10 waiting or unauthenticated, the rest turned away with OpenSSH's words, and
paramiko and OpenSSH log in at once right after it."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import struct
import subprocess
import time

import pytest

import labkit
from servers import accounts
from servers.ssh import probes, ssh
from servers.ssh.keys import host_key, new_key
from servers.ssh.transport import STRONG
from tests.peers import free_port, missing, need
from labkit.checks.ssh import known_hosts_file
from tests.ssh_peers import private_key_file, server, user_key  # noqa: F401 (server, user_key: fixtures)

try:
    import paramiko
except ImportError:  # the test extra installs it; without it, its tests skip (fail under CI=true)
    paramiko = None

PASSWORD = {account.user: account.password for account in accounts.accounts("ssh")}["learner"]


def need_paramiko():
    if paramiko is None:
        missing("paramiko is missing: pip install paramiko")


@pytest.fixture
def offered(server):
    return probes.kexinit("127.0.0.1", server.port)


def paramiko_client(port: int, key=None, **options):
    """A paramiko client logged in as learner (by ``key`` if given, else by password), the host key pinned."""
    need_paramiko()
    client = paramiko.SSHClient()
    kind, blob = host_key().public().toString("openssh").decode().split()
    pinned = paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
    client.get_host_keys().add(f"[127.0.0.1]:{port}", kind, pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    login = ({"pkey": paramiko.Ed25519Key.from_private_key(io.StringIO(key.toString("openssh").decode()))} if key
             else {"password": PASSWORD})
    client.connect("127.0.0.1", port, "learner", allow_agent=False, look_for_keys=False, timeout=15,
                   banner_timeout=15, auth_timeout=15, **login, **options)
    return client


def run(client, command: str) -> tuple[bytes, int]:
    _, out, _ = client.exec_command(command, timeout=15)
    return out.read(), out.channel.recv_exit_status()


@pytest.fixture
def openssh_config(tmp_path, server, user_key):
    """``openssh_config(*args, stdin=b"")``: OpenSSH's ``ssh`` to the host alias ``practice`` of a config file."""
    program = need("ssh", "openssh-client")
    key_path = private_key_file(tmp_path, user_key)
    known = known_hosts_file(server.port, host_key(), tmp_path)
    config = tmp_path / "config"
    config.write_text(f"Host practice\n  HostName 127.0.0.1\n  Port {server.port}\n  User learner\n"
                      f"  IdentityFile {key_path}\n  IdentitiesOnly yes\n  BatchMode yes\n"
                      f"  UserKnownHostsFile {known}\n  StrictHostKeyChecking yes\n"
                      "  ConnectTimeout 10\n  LogLevel error\n")

    def run_ssh(*args, stdin=b"", timeout=30):
        return subprocess.run([program, "-F", str(config), *args], input=stdin, capture_output=True,
                              timeout=timeout, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})

    run_ssh.program, run_ssh.config = program, config
    return run_ssh


# --- what is offered --------------------------------------------------------------------------------------------

def test_the_server_offers_strong_algorithms_only_and_no_compression(offered):
    assert offered["kex_algorithms"] == STRONG["kex"] + [b"ext-info-s"]  # RFC 8308's marker, not an algorithm
    assert offered["server_host_key_algorithms"] == [b"ssh-ed25519"]
    for direction in ("client_to_server", "server_to_client"):
        assert offered[f"encryption_algorithms_{direction}"] == STRONG["ciphers"]
        assert offered[f"mac_algorithms_{direction}"] == STRONG["macs"]
        assert offered[f"compression_algorithms_{direction}"] == [b"none"]


def openssh_knows(program: str, kind: str) -> set[str]:
    return set(subprocess.run([program, "-Q", kind], capture_output=True, text=True, timeout=10).stdout.split())


@pytest.mark.parametrize("kind", ["kex", "cipher", "mac"])
def test_every_offered_algorithm_is_negotiated_by_an_independent_client(server, offered, openssh_config, kind):
    need_paramiko()
    names = {"kex": STRONG["kex"], "cipher": STRONG["ciphers"], "mac": STRONG["macs"]}[kind]
    option = {"kex": "KexAlgorithms", "cipher": "Ciphers", "mac": "MACs"}[kind]
    paramiko_lists = {"kex": paramiko.Transport._preferred_kex, "cipher": paramiko.Transport._preferred_ciphers,
                      "mac": paramiko.Transport._preferred_macs}[kind]
    known = openssh_knows(openssh_config.program, kind)
    negotiated = {}
    for name in (name.decode() for name in names):
        if name in known:
            done = openssh_config("-o", f"{option}={name}", "practice", "whoami")
            negotiated[name] = ("openssh", done.returncode, done.stdout)
        elif name in paramiko_lists:
            others = [other for other in paramiko_lists if other != name]
            client = paramiko_client(server.port, disabled_algorithms={
                {"kex": "kex", "cipher": "ciphers", "mac": "macs"}[kind]: others})
            with client:
                transport = client.get_transport()
                if kind != "kex":  # paramiko names the cipher and MAC in use; the key exchange, it can only be given
                    assert (transport.remote_cipher if kind == "cipher" else transport.remote_mac) == name
                negotiated[name] = ("paramiko", *reversed(run(client, "whoami")))
        else:
            negotiated[name] = ("no independent client knows it", None, None)
    assert all(outcome[1:] == (0, b"learner\n") for outcome in negotiated.values()), negotiated


def test_ssh_audit_finds_no_failure(server):
    program = need("ssh-audit", "ssh-audit (pip install ssh-audit)")
    done = subprocess.run([program, "--skip-rate-test", "-j", "-p", str(server.port), "127.0.0.1"],
                          capture_output=True, text=True, timeout=60)
    report = json.loads(done.stdout)
    failures = [(section, entry["algorithm"], entry["notes"]["fail"]) for section in ("kex", "key", "enc", "mac")
                for entry in report.get(section, []) if entry.get("notes", {}).get("fail")]
    assert failures == [] and report["cves"] == [], (failures, report["cves"])
    assert done.returncode != 3  # ssh-audit's "failure" exit; 2 is its "warning" (encrypt-and-MAC, no post-quantum)
    assert report["compression"] == ["none"]


# --- logins (RFC 4252) ------------------------------------------------------------------------------------------

def test_paramiko_logs_in_by_password_and_by_key_with_the_host_key_pinned(server, user_key):
    for options in ({}, {"key": user_key}):
        with paramiko_client(server.port, **options) as client:
            assert run(client, "whoami") == (b"learner\n", 0)
            assert run(client, "nosuch") == (b"nosuch: command not found (try help)\n", 127)


def test_paramiko_refuses_a_server_with_another_host_key(user_key):
    impostor = labkit.serve(ssh(host_key=new_key()), name="test-ssh-impostor", show=False)
    try:
        with pytest.raises(paramiko.SSHException, match="not found in known_hosts|does not match"):
            paramiko_client(impostor.port)
    finally:
        impostor.stop()


def test_the_none_method_lists_exactly_password_and_publickey(server):
    need_paramiko()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        transport = paramiko.Transport(sock)
        transport.get_security_options()
        transport.start_client(timeout=15)
        try:
            with pytest.raises(paramiko.BadAuthenticationType) as refused:
                transport.auth_none("learner")
            assert sorted(refused.value.allowed_types) == ["password", "publickey"]
        finally:
            transport.close()


# --- channels and requests (RFC 4254) ---------------------------------------------------------------------------

def test_only_session_channels_open_and_the_rest_are_refused_as_unknown_types(server):
    with paramiko_client(server.port) as client:
        transport = client.get_transport()
        addresses = (("127.0.0.1", 9), ("127.0.0.1", 1234))
        for kind, extra in (("direct-tcpip", addresses), ("forwarded-tcpip", addresses),
                            ("auth-agent@openssh.com", ())):
            with pytest.raises(paramiko.ChannelException) as refused:
                transport.open_channel(kind, *extra, timeout=15)
            assert refused.value.code == 3  # SSH_OPEN_UNKNOWN_CHANNEL_TYPE
        with pytest.raises(paramiko.SSHException, match="forwarding request denied"):
            transport.request_port_forward("127.0.0.1", 0)
        assert transport.global_request("keepalive@openssh.com", wait=True) is None  # REQUEST_FAILURE
        assert run(client, "hostname") == (b"practice-ssh\n", 0)  # the connection goes on


def test_session_requests_answer_as_rfc_4254_says(server):
    with paramiko_client(server.port) as client:
        transport = client.get_transport()
        refused = transport.open_session(timeout=15)
        with pytest.raises(paramiko.SSHException):  # CHANNEL_FAILURE: no subsystem, sftp included
            refused.invoke_subsystem("sftp")
        shell = transport.open_session(timeout=15)
        shell.get_pty("xterm", 80, 24)
        shell.invoke_shell()
        shell.resize_pty(100, 30)
        shell.sendall(b"whoami\rexit\r")
        assert shell.recv_exit_status() == 0
        shown = b""
        while chunk := shell.recv(65536):
            shown += chunk
        assert b"learner\r\n" in shown and shown.endswith(b"bye\r\n")
        assert run(client, "uptime") == (b"up 42 days, 1 user\n", 0)


def test_openssh_in_its_usual_modes(openssh_config):
    assert openssh_config("practice", "echo", "via", "config").stdout == b"via config\n"
    resolved = openssh_config("-G", "-o", "Port=2222", "practice").stdout.decode()
    assert "port 2222" in resolved.splitlines() and "user learner" in resolved.splitlines()
    terminal = openssh_config("-tt", "practice", stdin=b"hostname\rexit\r")
    assert terminal.returncode == 0 and b"practice-ssh\r\n" in terminal.stdout
    sftp = openssh_config("-s", "practice", "sftp")
    assert sftp.returncode != 0 and b"subsystem request failed" in sftp.stderr
    remote = openssh_config("-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9", "practice")
    assert remote.returncode == 255 and b"remote port forwarding failed" in remote.stderr.lower()


def test_a_local_forward_is_refused_channel_by_channel(openssh_config, server):
    local = free_port()
    process = subprocess.Popen([openssh_config.program, "-F", str(openssh_config.config), "-N", "-o", "LogLevel=info",
                                "-L", f"127.0.0.1:{local}:127.0.0.1:{server.port}", "practice"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={"PATH": os.environ["PATH"], "HOME": str(openssh_config.config.parent)})
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", local), timeout=15)
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "ssh -L did not listen"
                time.sleep(0.1)
        with sock:
            assert sock.recv(100) == b""  # the channel was refused: ssh closes the forwarded connection
    finally:
        process.terminate()
        try:
            errors = process.communicate(timeout=15)[1]
        except subprocess.TimeoutExpired:  # ssh did not leave on SIGTERM (seen once on a loaded machine)
            process.kill()
            errors = process.communicate(timeout=15)[1]
    assert b"open failed: unknown channel type" in errors and b"session channels only" in errors


# --- malformed messages after login -----------------------------------------------------------------------------

def NS(data: bytes) -> bytes:
    return struct.pack(">L", len(data)) + data


MALFORMED = {
    "data for a channel never opened": (94, struct.pack(">L", 99) + NS(b"x")),
    "a channel request without its want-reply byte": (98, b"CH" + NS(b"pty-req")),
    "a global request without its want-reply byte": (80, NS(b"tcpip-forward")),
    "a global request named in bytes that are not ASCII": (80, NS(b"\xff\xfe") + b"\x01"),
    "a channel open cut short": (90, NS(b"session") + b"\x00\x00"),
    "a reply to a request nobody made": (81, b""),
    "data past the channel's window": (94, b"CH" + NS(b"x" * 40000)),
    "a window adjust cut short": (93, b"\x00"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_message_gets_a_protocol_error_and_one_log_line(server, case):
    number, payload = MALFORMED[case]
    before = server.log.text
    with paramiko_client(server.port) as client:
        transport = client.get_transport()
        channel = transport.open_session(timeout=15)
        message = paramiko.Message()
        message.add_byte(bytes([number]))
        message.add_bytes(payload.replace(b"CH", struct.pack(">L", channel.remote_chanid)))
        transport._send_user_message(message)
        deadline = time.monotonic() + 15
        while transport.is_active():
            assert time.monotonic() < deadline, f"the server did not disconnect after {case}"
            time.sleep(0.05)
    assert server.log.text[len(before):] == ""  # one info line, in the background log; no error, no traceback
    with paramiko_client(server.port) as client:
        assert run(client, "whoami") == (b"learner\n", 0)


def test_the_bad_requests_a_client_may_send_are_refused_without_a_traceback(server):
    before = server.log.text
    with paramiko_client(server.port) as client:
        transport = client.get_transport()
        channel = transport.open_session(timeout=15)
        for name, data in (("pty-req", b"\x01"), ("window-change", b""), ("exec", b""), ("signal", NS(b"INT")),
                           ("x11-req", b"")):
            message = paramiko.Message()
            message.add_byte(bytes([98]))
            message.add_int(channel.remote_chanid)
            message.add_string(name)
            message.add_boolean(False)
            message.add_bytes(data)
            transport._send_user_message(message)
        channel.exec_command("whoami")
        assert channel.recv(100) == b"learner\n" and channel.recv_exit_status() == 0
        assert transport.is_active()
    assert server.log.text[len(before):] == ""  # one info line, in the background log; no error, no traceback


# --- the per-source throttle before login -----------------------------------------------------------------------

def first_line(sock) -> bytes:
    """What the server sends first on ``sock``, up to its first line end (empty when it just closed)."""
    seen = b""
    with contextlib.suppress(ConnectionResetError):
        while b"\n" not in seen and (chunk := sock.recv(256)):
            seen += chunk
    return seen


def test_a_burst_from_one_source_is_bounded_and_real_logins_still_get_in(user_key, openssh_config):
    factory = ssh(authorized_keys={"learner": [user_key]})
    burst = labkit.serve(factory, name="test-ssh-burst", show=False)
    throttle, bound = factory.throttle, factory.throttle.limits.unauthenticated
    sockets = []
    try:
        for _ in range(200):
            sockets.append(socket.create_connection(("127.0.0.1", burst.port), timeout=15))
        deadline = time.monotonic() + 15
        while throttle.turned_away < 200 - bound:  # the server has taken all 200
            assert time.monotonic() < deadline, f"the server turned {throttle.turned_away} away, not {200 - bound}"
            time.sleep(0.05)
        assert throttle.turned_away == 200 - bound and throttle.open_unauthenticated("127.0.0.1") == bound
        firsts = [first_line(sock) for sock in sockets]  # the newest wait for their turn, then get a version line
    finally:
        for sock in sockets:
            sock.close()
    try:
        assert all(line.startswith(b"SSH-2.0-") for line in firsts[-bound:])
        away = [line for line in firsts[:-bound] if not line.startswith(b"SSH-2.0-")]
        assert away and set(away) == {b"Exceeded MaxStartups: 10 newer connections from 127.0.0.1 have not logged "
                                      b"in yet; log in sooner, or open fewer at once\r\n"}
        with paramiko_client(burst.port) as client:  # at once, however many the burst left waiting
            assert run(client, "whoami") == (b"learner\n", 0)
        done = openssh_config("-o", f"Port={burst.port}", "practice", "whoami")
        assert (done.returncode, done.stdout) == (0, b"learner\n"), done.stderr
    finally:
        burst.stop()
