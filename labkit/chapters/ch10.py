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

from labkit.checks import Check, call_learner, limits, logged_error, server_health, unwritten
from labkit.checks.check import NOT_WRITTEN
from labkit.checks.values import Shown, short
from labkit.checks.ssh import CommandLog, known_hosts_file, run_command, type_at_shell

from servers.ssh import PracticeSSHFactory, key_checker
from servers.ssh.keys import host_key, new_key
from servers.ssh.session import PracticeRealm, PracticeUser

__all__ = ["check_command_runner", "check_key_checker", "check_shell_command", "check_two_doors"]

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

def _greet_hint(expected: str, got) -> str:
    """Why a greeting differs, from what came back."""
    if not isinstance(got, tuple) or not isinstance(got[0], str):
        return ""
    text = got[0].rstrip("\n")
    if not text.endswith("!"):
        return "the greeting ends with an exclamation mark: 'Hello, ' then the name, then '!'"
    if text != expected.rstrip("\n"):
        return ("greet answers with every word after it, as typed, separated by single spaces: the whole name, "
                "not a part of it")
    return ""


def check_shell_command(answer) -> None:
    """Exercise 10.1: ``answer(user, line)`` returns ``(output, exit status)`` for one command line: ``greet
    NAME...`` says ``Hello, NAME...!`` (every word after ``greet``), ``whoami`` the user, and any other command
    ``NAME: command not found`` with status 127. Checked by running commands over SSH on a server whose sessions
    answer with it; the names are chosen at random."""
    with Check("your commands answer over SSH, with the right exit status",
               start="words = line.split(); when words[0] is 'greet', return (an f-string greeting, 0); else "
                     "return answer(user, line)") as check:
        call_learner(answer, USER, "greet Ada", timeout=limits.QUICK, blocking=True)  # a stub says so at once

        class Answering(PracticeUser):
            def run_command(self, command):
                return answer(self.username, command)

        key = new_key()
        served, known = _server(check, "check-shell-command", [key_checker({USER: [key]})], Answering)
        log = CommandLog()
        check.show(log)
        one, two, three = random.sample(NAMES, 3)
        for what, command, expected in (("`greet` and one name", f"greet {one}", (f"Hello, {one}!\n", 0)),
                                        ("`greet` and two names", f"greet {two} {three}",
                                         (f"Hello, {two} {three}!\n", 0)),
                                        ("`whoami`", "whoami", (f"{USER}\n", 0))):
            got = run_command(served.port, USER, command, known_hosts=known, key=key)
            log.add(command, got)
            got = (got.output, got.status) if got.ran else got.error
            check.expect(what, expected, got, sent=command,
                         hint=("whoami answers with the user's name, as answer does" if command == "whoami"
                               else _greet_hint(expected[0], got)))
        if unwritten(check, served):
            return
        unknown = run_command(served.port, USER, "frobnicate now", known_hosts=known, key=key)
        log.add("frobnicate now", unknown)
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
    from twisted.cred.credentials import ISSHPrivateKey

    with Check("your key checker lets the right key in over SSH and no other",
               start="twisted.conch.checkers has a checker for public keys and a key database to give it") as check:
        ada_key, other_key = new_key(), new_key()
        authorized = {USER.encode(): [ada_key.public()], b"grace": [other_key.public()]}
        checker = call_learner(make_checker, authorized, timeout=limits.QUICK, blocking=True)
        if not check.expect("what make_checker returned", "a cred checker (credentialInterfaces, requestAvatarId)",
                            shown_kind(checker), ok=hasattr(checker, "requestAvatarId"),
                            hint="make_checker returned no checker: return the checker it makes"):
            return
        interfaces = [getattr(kind, "__name__", str(kind)) for kind in getattr(checker, "credentialInterfaces", ())]
        check.expect("the credentials it checks", Shown("ISSHPrivateKey"), Shown(", ".join(interfaces) or "none"),
                     ok=ISSHPrivateKey in getattr(checker, "credentialInterfaces", ()),
                     hint=f"your checker checks {', '.join(interfaces) or 'nothing'}: a key login brings "
                          "ISSHPrivateKey credentials, so the server offers no public-key login with it")
        served, known = _server(check, "check-key-checker", [checker])
        right = run_command(served.port, USER, "whoami", known_hosts=known, key=ada_key)
        if unwritten(check, served):
            return
        check.expect(f"{USER} with her key", (f"{USER}\n", 0), (right.output, right.status) if right.ran else
                     right.error, hint="her key was refused: read the server's log below")
        for what, user, key in (("her name with another user's key", USER, other_key),
                                ("her name with a key nobody knows", USER, new_key()),
                                ("another user with her key", "grace", ada_key)):
            got = run_command(served.port, user, "whoami", known_hosts=known, key=key)
            check.expect(what, "login refused", got.error or f"logged in: {got.output.strip()}",
                         hint="a key opens only the account it belongs to: look the user's keys up and compare "
                              "the offered key with them (SSHPublicKeyChecker does, and checks the signature)")
        server_health(check, served)


# --- 10.3 two doors ------------------------------------------------------------------------------------------------

def _door_hint(user: str, got: str, expected: str) -> str:
    """Why a login opened the wrong door, from what its terminal showed."""
    if "command not found" in got and user == "admin":
        return ("admin got the command shell: the avatar id is bytes (b'admin'), and admin's avatar is a "
                "ManholeUser on the realm's namespace")
    if user != "admin" and (expected in got or "Error" in got):
        return f"{user} got a Python prompt: only admin may; every other user gets a ShellUser"
    if "NameError" in got:
        return "the prompt does not know the name typed: give ManholeUser the realm's namespace (self.namespace)"
    return ""


def check_two_doors(realm_class) -> None:
    """Exercise 10.3: ``realm_class(namespace)``'s ``requestAvatar`` gives ``b"admin"`` a ``ManholeUser`` on
    ``namespace`` (a Python prompt) and any other user a ``ShellUser`` (the command shell of 10.1), both as
    ``IConchUser`` with a logout function; any other interface is refused. Checked over SSH: admin and another
    user log in with their keys and type the same line, an expression over a number chosen at random."""
    from twisted.conch.interfaces import IConchUser
    from twisted.web.resource import IResource

    with Check("admin gets a Python prompt, everybody else the command shell",
               start="compare avatar_id with b'admin'; return (IConchUser, the avatar, a function that does "
                     "nothing)") as check:
        secret = random.randint(100, 999)
        realm = realm_class({"secret": secret})
        call_learner(realm.requestAvatar, b"admin", None, IConchUser, timeout=limits.QUICK, blocking=True)
        try:  # the stub has raised above: NotImplementedError here is the refusal asked for
            refused = call_learner(realm.requestAvatar, b"admin", None, IResource, timeout=limits.QUICK,
                                   blocking=True)
        except NotImplementedError:
            refused = "refused"
        refused = refused if refused == "refused" else short(refused)
        keys = {"admin": new_key(), USER: new_key()}
        served = check.serve(PracticeSSHFactory(Portal(realm, [key_checker({u: [k] for u, k in keys.items()})]),
                                                host_key()), "check-two-doors")
        log = CommandLog()
        check.show(log)
        line = f"secret * {secret % 7 + 2}"
        expected = str(secret * (secret % 7 + 2))
        for user, wanted in (("admin", expected), (USER, "secret: command not found")):
            shown = type_at_shell(served.port, user, line.encode() + b"\r", host_key=host_key(), key=keys[user],
                                  until=b">>> ", timeout=limits.REPLY)
            if "NotImplementedError" in shown or "NotImplementedError" in served.log.text:
                check.problem = NOT_WRITTEN
                return
            answers = [text for text in shown.splitlines() if text and not text.startswith((">>> ", "... "))]
            got = answers[-1] if answers else "(nothing)"
            log.add(f"{line}   (typed at {user}'s terminal)", shown.strip())
            error = logged_error(served.log.text)
            check.expect(f"what {user}'s terminal answered", wanted, got, sent=f"{line} (as {user})",
                         hint=_door_hint(user, got, expected) or (f"the login failed: the server logged {error}"
                                                                  if error else ""))
        check.expect("a request for another interface", "refused", refused, ok=refused == "refused",
                     hint="requestAvatar must refuse an interface it does not serve: raise NotImplementedError")
        server_health(check, served)


# --- 10.4 a command runner ----------------------------------------------------------------------------------------

def _runner_hint(command: str, got) -> str:
    """Why ``run_remote``'s answer for ``command`` differs, from what it returned."""
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], int) and isinstance(got[1], str):
        return "return (output, status): the output first, then the exit status"
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[0], bytes):
        return "the output arrives as bytes: decode it to text"
    if command.startswith("count") and isinstance(got, (tuple, list)) and len(got) == 2:
        return ("a long output arrives in several dataReceived calls: keep every piece and join them with nothing "
                "between")
    if command == "frobnicate" and isinstance(got, (tuple, list)) and len(got) == 2 and got[1] == 0:
        return ("a non-zero status arrives as connectionLost(ProcessTerminated(exitCode=...)): read it from the "
                "reason")
    return ""


def check_command_runner(run_remote) -> None:
    """Exercise 10.4: ``run_remote(reactor, port, user, key, known_hosts, command)`` runs ``command`` on the SSH
    server at 127.0.0.1:``port`` and returns ``(output, exit status)`` (output as str), trusting only the host
    keys in the file ``known_hosts``; a server showing another key, or one the file does not name, is an error,
    never a result."""
    class Counting(PracticeUser):
        """``count N`` answers the numbers 1 to N, a line each: an output long enough to arrive in pieces."""

        def run_command(self, command):
            if command.startswith("count "):
                return "\n".join(str(n) for n in range(1, int(command.split()[1]) + 1)), 0
            return super().run_command(command)

    with Check("your runner collects a command's output and status, and refuses an unknown host",
               start="SSHCommandClientEndpoint.newConnection(...) with keys=[key], knownHosts and a ui that "
                     "says no; connect a protocol that collects the output") as check:
        key = new_key()
        served, known = _server(check, "check-command-runner", [key_checker({USER: [key]})], Counting)
        log = CommandLog()
        check.show(log)
        words = " ".join(random.sample(NAMES, 3))
        numbers = random.randint(20_000, 30_000)  # over 100 kB: several SSH packets
        long_output = "".join(f"{n}\n" for n in range(1, numbers + 1))
        for what, command, expected in (("`whoami`", "whoami", (f"{USER}\n", 0)),
                                        ("`echo` and three words", f"echo {words}", (f"{words}\n", 0)),
                                        ("`frobnicate`", "frobnicate", ("frobnicate: command not found (try help)\n",
                                                                        127)),
                                        ("`count` with over 100 kB of output", f"count {numbers}", (long_output, 0))):
            got = call_learner(run_remote, served.port, USER, key, str(known), command, timeout=limits.LEARNER_CALL)
            log.add(command, got)
            got = tuple(got) if isinstance(got, (tuple, list)) else got
            if command.startswith("count"):  # compared whole, shown short
                same = got == expected
                expected = (Shown(f"the numbers 1 to {numbers}, a line each ({len(long_output)} characters)"), 0)
                got = expected if same else tuple(short(part) for part in got) if isinstance(got, tuple) else got
            check.expect(what, expected, got, sent=command, hint=_runner_hint(command, got))
        for what, folder, host in (("a server whose host key is not the one in known_hosts", "check-stranger-",
                                    new_key()), ("a server that known_hosts does not name at all",
                                                 "check-unnamed-", None)):
            stranger = check.temporary_folder(folder)
            if host is None:
                (stranger / "known_hosts").write_text("")
                path = stranger / "known_hosts"
            else:
                path = known_hosts_file(served.port, host, stranger)
            try:
                impostor = call_learner(run_remote, served.port, USER, key, str(path), "whoami",
                                        timeout=limits.LEARNER_CALL)
                log.add(f"whoami (to {what})", impostor)
            except NotImplementedError:
                raise
            except Exception as refused:  # noqa: BLE001 - any error is the right ending
                log.add(f"whoami (to {what})", refused)
                impostor = f"an error: {type(refused).__name__}"
            check.expect(what, "an error", impostor, ok=isinstance(impostor, str) and impostor.startswith("an error"),
                         hint="never accept an unknown host key: knownHosts=KnownHostsFile.fromPath(...) names "
                              "the keys you trust, and the ui's prompt must answer no (defer.succeed(False))")
