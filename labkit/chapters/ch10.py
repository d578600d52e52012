"""Checks for chapter 10, SSH.

Each ``check_*`` function puts what the learner wrote behind (or in front of) a real conch SSH server on
loopback (:mod:`servers.ssh`) and talks to it over real SSH connections: the check's own client is conch's
command endpoint (:mod:`labkit.checks.ssh`), which trusts only the host key the check names. Keys are made per
check with :func:`servers.ssh.keys.new_key` and never shown. Every wait is bounded; every server a check starts
is stopped again.
"""

from __future__ import annotations

import random

from twisted.cred.portal import Portal

from labkit.bridge import react
from labkit.checks import Check, limits, server_health, unwritten, wait_until
from labkit.checks.check import NOT_WRITTEN
from labkit.checks.values import Shown
from labkit.checks.ssh import known_hosts_file, run_command, type_at_shell

from servers.ssh import PracticeSSHFactory, key_checker
from servers.ssh.keys import host_key, new_key
from servers.ssh.session import PracticeRealm, PracticeUser

__all__ = ["check_command_runner", "check_key_checker", "check_manhole_helper", "check_shell_command"]

USER = "learner"
NAMES = ["Ada", "Lovelace", "Grace", "Hopper", "Alan", "Turing", "Radia", "Perlman", "Barbara", "Liskov"]


def _server(check, name: str, checkers, user_factory=PracticeUser):
    """Serve a practice SSH server on ``checkers`` for the check; its port and a known_hosts file for it."""
    served = check.serve(PracticeSSHFactory(Portal(PracticeRealm(user_factory), checkers), host_key()), name)
    return served, known_hosts_file(served.port, host_key(), check.temporary_folder("check-known-hosts-"))


def shown_kind(value) -> Shown:
    """What a returned value is, in words: ``None``, or ``an SSHPublicKeyChecker``."""
    return Shown("None" if value is None else f"a {type(value).__name__}")


# --- 10.1 a command of your own -----------------------------------------------------------------------------------

def check_shell_command(answer) -> None:
    """Exercise 10.1: ``answer(user, line)`` returns ``(output, exit status)`` for one command line: ``greet
    NAME`` says ``Hello, NAME!``, ``whoami`` the user, and any other command ``NAME: command not found`` with
    status 127. Checked by running commands over SSH on a server whose sessions answer with it."""
    with Check("your commands answer over SSH, with the right exit status",
               hint="greet answers with every word after it: ' '.join(words[1:])",
               start="words = line.split(); when words[0] is 'greet', return (f'Hello, ...!', 0)") as check:
        answer(USER, "greet Ada")  # an unwritten stub says so at once

        class Answering(PracticeUser):
            def run_command(self, command):
                return answer(self.username, command)

        key = new_key()
        served, known = _server(check, "check-shell-command", [key_checker({USER: [key]})], Answering)
        full_name = " ".join(random.sample(NAMES, 2))  # two words, never the same pair twice in a row
        for command, expected in (("greet Ada", ("Hello, Ada!\n", 0)), (f"greet {full_name}",
                                                                      (f"Hello, {full_name}!\n", 0)),
                                  ("whoami", (f"{USER}\n", 0))):
            got = run_command(served.port, USER, command, known_hosts=known, key=key)
            check.expect(f"`{command}`", expected, (got.output, got.status) if got.ran else got.error,
                         sent=command, hint=("whoami answers with the user's name: return user, 0"
                                             if command == "whoami" else ""))
        if unwritten(check, served):
            return
        unknown = run_command(served.port, USER, "frobnicate now", known_hosts=known, key=key)
        check.expect("an unknown command's exit status", 127, unknown.status, sent="frobnicate now",
                     hint="an unknown command exits with 127, as a shell's does; OpenSSH's ssh exits with it")
        check.expect("an unknown command's words", "frobnicate: command not found", unknown.output.strip(),
                     sent="frobnicate now", hint="name the command the user typed, then ': command not found'")
        server_health(check, served)


# --- 10.2 public keys -----------------------------------------------------------------------------------------------

def check_key_checker(make_checker) -> None:
    """Exercise 10.2: ``make_checker(authorized)`` (``authorized``: bytes user name -> list of public ``Key``)
    returns a ``twisted.cred`` checker for ``ISSHPrivateKey`` that lets a user in with one of their keys only.
    Checked by logging in over SSH with the right key, another key, and the right key for another user."""
    with Check("your key checker lets the right key in over SSH and no other",
               start="twisted.conch.checkers has a checker for public keys and a key database to give it") as check:
        ada_key, other_key = new_key(), new_key()
        checker = make_checker({USER.encode(): [ada_key.public()], b"grace": [other_key.public()]})
        if not check.expect("what make_checker returned", "a cred checker (credentialInterfaces, requestAvatarId)",
                            shown_kind(checker), ok=hasattr(checker, "requestAvatarId"),
                            hint="make_checker must return the checker it makes"):
            return
        served, known = _server(check, "check-key-checker", [checker])
        right = run_command(served.port, USER, "whoami", known_hosts=known, key=ada_key)
        if unwritten(check, served):
            return
        check.expect(f"{USER} with her key", (f"{USER}\n", 0), (right.output, right.status) if right.ran else
                     right.error, hint="the checker must speak ISSHPrivateKey (credentialInterfaces), or the "
                                       "server offers no public-key login at all")
        for what, user, key in (("her name with another user's key", USER, other_key),
                                ("her name with a key nobody knows", USER, new_key()),
                                ("another user with her key", "grace", ada_key)):
            got = run_command(served.port, user, "whoami", known_hosts=known, key=key)
            check.expect(what, "login refused", got.error or f"logged in: {got.output.strip()}",
                         hint="a key opens only the account it belongs to: look the user's keys up and compare "
                              "the offered key with them (SSHPublicKeyChecker does, and checks the signature)")
        server_health(check, served)


# --- 10.3 a manhole helper ------------------------------------------------------------------------------------------

def check_manhole_helper(summarize) -> None:
    """Exercise 10.3: ``summarize(server)`` returns ``"NAME: N open connections"`` for a running practice server
    (``server.name``, ``server.open_connections``). Checked from inside a manhole, over SSH: the check serves an
    echo server with two clients connected and a key-only manhole whose namespace holds both, types
    ``summarize(server)`` at its prompt and reads the answer."""
    import socket

    from servers.ssh.manhole import new_session

    with Check("your helper describes a live server from inside a manhole",
               hint="return f'{server.name}: {server.open_connections} open connections'") as check:
        echo = check.serve("echo", "check-manhole-echo")
        clients = [socket.create_connection(("127.0.0.1", echo.port), timeout=limits.QUICK) for _ in range(2)]
        for client in clients:
            check.on_exit(client.close)
        wait_until(lambda: echo.open_connections == 2, timeout=limits.CATCH_UP)
        login = new_session()
        manhole = check.serve(login.factory({"summarize": summarize, "server": echo}), "check-manhole")
        shown = type_at_shell(manhole.port, login.user, b"summarize(server)\r", host_key=host_key(),
                              key=login.key, until=b">>> ", timeout=limits.REPLY)
        if "NotImplementedError" in shown:
            check.problem = NOT_WRITTEN
            return
        answers = [line for line in shown.splitlines() if line and not line.startswith((">>> ", "... "))]
        expected = repr("check-manhole-echo: 2 open connections")
        check.expect("what the manhole showed for summarize(server)", expected, answers[-1] if answers else shown,
                     sent="summarize(server)",
                     hint=("return the text instead of printing it: the prompt shows a returned value as its "
                           "repr, and print's result is None" if answers and answers[-1] == expected.strip("'")
                           else ""))


# --- 10.4 a command runner ----------------------------------------------------------------------------------------

def check_command_runner(run_remote) -> None:
    """Exercise 10.4: ``run_remote(reactor, port, user, key, known_hosts, command)`` runs ``command`` on the SSH
    server at 127.0.0.1:``port`` and returns ``(output, exit status)`` (output as str), trusting only the host
    keys in the file ``known_hosts``; a server showing another key is an error, never a result."""
    with Check("your runner collects a command's output and status, and refuses an unknown host",
               hint="endpoint = SSHCommandClientEndpoint.newConnection(reactor, command.encode(), user.encode(), "
                    "'127.0.0.1', port, keys=[key], knownHosts=KnownHostsFile.fromPath(FilePath(known_hosts)), "
                    "ui=...refusing...); connect a protocol that collects data and notes the exit status from "
                    "connectionLost (ConnectionDone is 0, ProcessTerminated has exitCode)") as check:
        key = new_key()
        served, known = _server(check, "check-command-runner", [key_checker({USER: [key]})])
        for command, expected in (("whoami", (f"{USER}\n", 0)), ("echo one two", ("one two\n", 0)),
                                  ("frobnicate", ("frobnicate: command not found (try help)\n", 127))):
            got = react(run_remote, served.port, USER, key, str(known), command, timeout=limits.LEARNER_CALL)
            check.expect(f"`{command}`", expected, tuple(got) if isinstance(got, (tuple, list)) else got,
                         sent=command, hint="" if command != "frobnicate" else
                         "a non-zero status arrives as connectionLost(ProcessTerminated(exitCode=...))")
        stranger = known_hosts_file(served.port, new_key(), check.temporary_folder("check-stranger-"))
        try:
            impostor = react(run_remote, served.port, USER, key, str(stranger), "whoami",
                             timeout=limits.LEARNER_CALL)
        except NotImplementedError:
            raise
        except Exception as refused:  # noqa: BLE001 - any error is the right ending
            impostor = f"an error: {type(refused).__name__}"
        check.expect("a server whose host key is not in known_hosts", "an error", impostor,
                     ok=isinstance(impostor, str) and impostor.startswith("an error"),
                     hint="never accept an unknown host key: pass knownHosts=KnownHostsFile.fromPath(...) and "
                          "a ui whose prompt answers defer.succeed(False)")
        check.show(served.transcript)
