"""Checks for chapter 11, Services, Processes and Logging.

Each ``check_*`` function runs what the learner wrote for real: it writes a ``.tac`` file (or a logger module)
in a folder of its own that imports the learner's program from ``programs/``, starts ``twistd`` on it as a child
process (:mod:`labkit.daemons`), talks to it or reads what it wrote, stops it with SIGTERM as a service manager
would, and reads its log. Every wait is bounded; no daemon outlives the check.
"""

from __future__ import annotations

import os
import random
import re
import socket
import textwrap

from twisted.application import service

from labkit import daemons
from labkit.chapters.ch11_daemons import daemon_error, find_program, no_traceback, read, run, start
from labkit.checks import NOT_WRITTEN, Check, call_learner, limits, logged_error, server_health, unwritten
from labkit.checks.web import fetch

__all__ = ["check_greeter_plugin", "check_key_service", "check_log_filter", "check_services_page",
           "check_status_service"]

# --- 11.1 a service ---------------------------------------------------------------------------------------------

def _status_hint(word: str, got: str) -> str:
    """Why the status file does not hold ``word`` and a newline, from what it holds."""
    if got == "(no file)":
        return "no file was written at self.path"
    if got == word:
        return f"write the word and a newline: {word!r} + '\\n'"
    if got.count("\n") > 1:
        return "the file holds both words: open it with 'w', so each write replaces what was there"
    return f"the file should hold only {word!r} and a newline"


def check_status_service(program: str) -> None:
    """Exercise 11.1: ``StatusFileService(path)`` in ``programs/PROGRAM``, a ``service.Service`` that writes
    ``running`` (and a newline) to ``path`` when it starts and ``stopped`` when it stops, calling the base class's
    methods (so ``running`` is true while it runs and false once stopped); run under twistd from a ``.tac``,
    stopped with SIGTERM. The ``.tac`` puts it under a parent service that notes the child's ``running`` flag
    after starting it and after stopping it."""
    with Check("your StatusFileService says running under twistd and stopped after SIGTERM",
               start="in startService and stopService, call the base class's method, then write the word to "
                     "self.path") as check:
        path = find_program(check, program)
        if path is None:
            return
        folder = check.temporary_folder("check-ch11-status-")
        status, flags = folder / "status.txt", folder / "running.txt"
        daemon = start(check, f"""
            import sys
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.application import service
            from twisted.internet import defer
            from {path.stem} import StatusFileService

            class Watching(service.MultiService):
                # notes the child's running flag once it has started, and once it has stopped
                def note(self, when, result=None):
                    with open({str(flags)!r}, "a") as noted:
                        noted.write(f"{{when}}: {{[bool(child.running) for child in self]}}\\n")
                    return result

                def startService(self):
                    service.MultiService.startService(self)
                    self.note("started")

                def stopService(self):
                    return defer.maybeDeferred(service.MultiService.stopService, self).addBoth(
                        lambda result: self.note("stopped", result))

            application = service.Application("status")
            parent = Watching()
            parent.setServiceParent(application)
            StatusFileService({str(status)!r}).setServiceParent(parent)
        """)
        if daemon is None:
            return
        running = read(status)
        check.expect("status.txt once twistd runs", "running\n", running, hint=_status_hint("running", running))
        check.expect("the service's running flag once started", "started: [True]", read(flags).strip(),
                     hint="running stayed False after startService: the base class's startService sets it "
                          "(service.Service.startService(self))")
        daemon.stop()
        stopped = read(status)
        check.expect("status.txt after SIGTERM", "stopped\n", stopped, hint=_status_hint("stopped", stopped))
        check.expect("the running flag once stopped", "stopped: [False]", read(flags).strip().splitlines()[-1],
                     hint="running stayed True after stopService: the base class's stopService clears it "
                          "(service.Service.stopService(self)), and a parent relies on it")
        check.expect("twistd removed its pid file on the way out", True, daemon.pidfile_removed)
        no_traceback(check, daemon)


# --- 11.2 a twist plugin ----------------------------------------------------------------------------------------

GREETINGS = ["good morning", "welcome back", "hello there", "good evening", "nice to see you"]


def _greeting_hint(greeting: bytes, lines: list[bytes], log: str) -> str:
    """Why the first line is not the greeting, from what came back and what the daemon logged."""
    error = daemon_error(log)
    if error:
        return f"the daemon logged {error} when a client connected: its traceback names the line"
    if not lines or not lines[0]:
        return "nothing came first: connectionMade must write the greeting"
    if lines[0] == b"hello":
        return "the first line is the option's default, not what --greeting said: read options['greeting']"
    if lines[0].startswith(greeting) and lines[0] != greeting:
        return "the greeting and the next answer ran together: end the greeting with \\r\\n"
    return ""


def check_greeter_plugin(program: str) -> None:
    """Exercise 11.2: ``Options`` (``--port``, ``--greeting``) and ``makeService(options)`` in
    ``programs/PROGRAM``, run as ``twist greeter`` through a plugin file naming that module, listening where
    ``--port`` says (a Unix socket here) with a greeting chosen at random: each connection gets the greeting line
    first, then every line back reversed."""
    with Check("twist greeter --greeting '...' greets, then reverses",
               start="in connectionMade write the factory's greeting (bytes, ending in \\r\\n); in makeService "
                     "build the factory and return a strports service") as check:
        path = find_program(check, program)
        if path is None:
            return
        folder = check.temporary_folder("check-ch11-plugin-")
        (folder / "twisted" / "plugins").mkdir(parents=True)
        (folder / "twisted" / "plugins" / "check_greeter.py").write_text(textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.application.service import ServiceMaker
            greeter = ServiceMaker("greeter", {path.stem!r}, "a greeting, then reversed lines", "greeter")
        """))
        greeting, socket_path = random.choice(GREETINGS), folder / "greeter.sock"
        daemon = run(check, daemons.twist, "greeter", "--greeting", greeting, "--port", f"unix:{socket_path}",
                      folder=folder, plugins=folder)
        if daemon is None:
            return
        sent = b"stressed\r\nquit\r\n"
        got = b""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(limits.REPLY)
                sock.connect(str(socket_path))
                sock.sendall(sent)
                while chunk := sock.recv(65536):
                    got += chunk
        except OSError as failed:
            check.expect("a connection to where --port said", "connected",
                         f"{type(failed).__name__}: {failed}",
                         hint="nothing listens where --port said: listen on options['port']")
            return
        daemon.stop()  # its log is complete once it has ended
        if "NotImplementedError" in daemon.log:
            check.problem = NOT_WRITTEN
            return
        lines = got.split(b"\r\n")
        check.expect("the first line", greeting.encode(), lines[0], sent="(connect)",
                     hint=_greeting_hint(greeting.encode(), lines, daemon.log))
        check.expect("then each line reversed, and Goodbye", [b"desserts", b"Goodbye.", b""], lines[1:], sent=sent)
        no_traceback(check, daemon)


# --- 11.3 privileges -------------------------------------------------------------------------------------------

def check_key_service(program: str) -> None:
    """Exercise 11.3: ``KeyService(path)`` in ``programs/PROGRAM``, a ``service.Service`` that reads the file at
    ``path`` (only its owner may read it; bytes that are not text, of a random length) into ``self.key`` in
    ``privilegedStartService``, before twistd drops root, and logs ``loaded a key of {size} bytes`` from
    ``startService``, calling the base class's methods.

    Where the kernel is root the check runs twistd with ``--uid nobody --gid nogroup`` and a key only root may
    read; elsewhere the daemon runs as the kernel's user, and the key's mode becomes 000 between the two
    methods, as dropping root would make it unreadable: in both, the key can be read in the first and not in
    the second."""
    with Check("your KeyService reads its key while it is still root, then runs without root",
               start="read the file in privilegedStartService (twistd calls it before it gives up root); log in "
                     "startService") as check:
        path = find_program(check, program)
        if path is None:
            return
        vault = check.temporary_folder("check-ch11-key-")  # only the kernel's user may enter it
        key = vault / "practice.key"
        secret = os.urandom(random.randint(40, 400))
        key.write_bytes(secret)
        key.chmod(0o600)
        root = os.geteuid() == 0
        daemon = start(check, f"""
            import os, sys
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.application import service
            from {path.stem} import KeyService

            class DroppingRoot(service.MultiService):
                # Where twistd cannot drop root (the kernel is not root), the key is taken away from its owner
                # between privilegedStartService and startService, as dropping root would.
                def startService(self):
                    if not {root}:
                        os.chmod({str(key)!r}, 0)
                    service.MultiService.startService(self)
                    with open("running.txt", "w") as noted:  # in the daemon's folder, which it may write
                        noted.write(repr([bool(child.running) for child in self]))

            application = service.Application("keys")
            parent = DroppingRoot()
            parent.setServiceParent(application)
            KeyService({str(key)!r}).setServiceParent(parent)
        """, *(["--uid", "nobody", "--gid", "nogroup"] if root else []))
        if daemon is None:
            if "PermissionError" in check.problem:
                check.problem = ("twistd did not start: reading the key raised PermissionError, so it was read "
                                 "after root was given up. " + check.problem)
                check.hint = "twistd calls privilegedStartService before it drops root, startService after"
            elif "UnicodeDecodeError" in check.problem:
                check.hint = "the key is bytes, not text: open the file in binary mode ('rb')"
            return
        check.expect("the daemon does not run as root", True, daemon.identity[0] != "root")
        daemon.stop()  # its log is complete once it has ended
        logged = re.search(r"loaded a key of (\d+) bytes\b", daemon.log)
        check.expect("its log says how long the key is", f"loaded a key of {len(secret)} bytes",
                     logged.group(0) if logged else "(no such line)",
                     hint="the number logged is not the key's length in bytes: size=len(self.key)" if logged else
                     "startService logs nothing like 'loaded a key of {size} bytes' through the class's Logger")
        check.expect("the service's running flag once started", "[True]", read(daemon.folder / "running.txt"),
                     hint="running stayed False after startService: the base class's startService sets it "
                          "(service.Service.startService(self))")
        no_traceback(check, daemon)


# --- 11.4 services changed at run time --------------------------------------------------------------------------

class _Noted(service.Service):
    """A service that notes each real start and stop in a list it shares with its siblings."""

    def __init__(self, name: str, notes: list[str]):
        self.setName(name)
        self.notes = notes

    def startService(self):
        service.Service.startService(self)
        self.notes.append(f"{self.name} started")

    def stopService(self):
        service.Service.stopService(self)
        self.notes.append(f"{self.name} stopped")


def _page_hint(path: str, reply, served) -> str:
    """Why the page answered ``reply`` to ``POST path``, from the answer and the server's log."""
    if reply.status == 500:
        first = " ".join(reply.body.decode("utf-8", "replace").split())[:160]
        error = logged_error(served.log.text)
        return f"the page answered 500 ({first})" + (f"; the server logged {error}" if error else "")
    if reply.status == 400 and path.endswith(("/stop", "/start")):
        return (f"POST {path} was answered 400: request.postpath holds bytes (b'stop'), so compare the action "
                "with bytes")
    if reply.status == 404 and not path.startswith("/nosuch"):
        return f"POST {path} was answered 404: request.postpath is [name, action], the service's name first"
    return ""


def check_services_page(page_class) -> None:
    """Exercise 11.4: ``page_class(parent)``, a twisted.web resource over a running ``MultiService``: ``GET /``
    lists each child as ``NAME running`` or ``NAME stopped``, one a line, in order; ``POST /NAME/stop`` and
    ``POST /NAME/start`` stop or start that child through ``stopService``/``startService`` and answer the new
    list; an unknown name gets 404, another action 400. The children's names are chosen at random."""
    with Check("your admin page lists the services and starts and stops them at run time",
               start="in render_POST, take the name and the action from request.postpath and find the child "
                     "with self.parent.getServiceNamed") as check:
        notes: list[str] = []
        parent = service.MultiService()
        first, second = random.sample(["reverse", "stats", "chat", "feeds", "news", "mail"], 2)
        for name in (first, second):
            _Noted(name, notes).setServiceParent(parent)
        call_learner(lambda reactor: parent.startService(), timeout=limits.QUICK)
        check.on_exit(call_learner, lambda reactor: parent.stopService(), timeout=limits.CLEANUP)
        served = check.serve(page_class(parent), "check-services-page")
        listing = fetch(served.port, "GET", "/")
        if unwritten(check, served):
            return
        check.show(served.transcript)
        check.expect("GET / lists both children (FIRST and SECOND, names chosen at random)", f"{first} running\n{second} running\n".encode(), listing.body,
                     sent="GET /")
        for action, state, note in (("stop", "stopped", f"{second} stopped"), ("start", "running",
                                                                             f"{second} started")):
            path = f"/{second}/{action}"
            reply = fetch(served.port, "POST", path, body=b"")
            check.expect(f"POST /SECOND/{action} answers the new list",
                         f"{first} running\n{second} {state}\n".encode(),
                         reply.body if reply.status == 200 else reply.summary, sent=f"POST {path}",
                         hint=_page_hint(path, reply, served))
            check.expect(f"SECOND was {state} through {action}Service", note, notes[-1] if notes else None,
                         hint=f"the child's own {action}Service() was not called: changing its running flag "
                              f"{action}s nothing" if reply.status == 200 else "")
        check.expect("FIRST untouched", [f"{first} started", f"{second} started"], notes[:2])
        for what, path, status, hint in (
                ("POST /nosuch/stop", "/nosuch/stop", 404, "a name the parent does not know gets 404: "
                                                           "getServiceNamed raises KeyError for it"),
                ("POST /SECOND/explode", f"/{second}/explode", 400, "an action other than start or stop gets 400")):
            reply = fetch(served.port, "POST", path, body=b"")
            check.expect(what, status, reply.outcome, sent=f"POST {path}",
                         hint=_page_hint(path, reply, served) or hint)
        server_health(check, served)


# --- 11.5 a log filter ------------------------------------------------------------------------------------------

def check_log_filter(program: str) -> None:
    """Exercise 11.5: ``keep(event)`` in ``programs/PROGRAM``, a ``FilteringLogObserver`` predicate: ``yes`` for
    events at level warn or above from anywhere, and for every event whose namespace starts with
    ``servers.services``; ``no`` for the rest. Checked on the reverse-text service under twistd, its logger built
    from the learner's predicate (``twistd --logger``), with good lines, a line that is not UTF-8 and a line too
    long sent to it."""
    with Check("twistd logs through your filter: the service's own events and every warning, nothing else",
               start="compare event['log_level'] with LogLevel.warn and look at event['log_namespace']; return "
                     "a PredicateResult") as check:
        path = find_program(check, program)
        if path is None:
            return
        folder = check.temporary_folder("check-ch11-logger-")
        (folder / "check_logger.py").write_text(textwrap.dedent(f"""
            import os, sys, traceback
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.logger import FilteringLogObserver, PredicateResult, textFileLogObserver
            from {path.stem} import keep

            def reported(event):  # Twisted switches off an observer that raises, silently here: say why
                try:
                    result = keep(event)
                except Exception:
                    os.write(2, ("Traceback: keep raised\\n" + traceback.format_exc()).encode())
                    raise
                if result not in list(PredicateResult.iterconstants()):
                    os.write(2, f"keep returned {{result!r}}, not a PredicateResult\\n".encode())
                return result

            def observer():
                return FilteringLogObserver(textFileLogObserver(sys.stdout), [reported])
        """))
        daemon = start(check, """
            from twisted.application import service
            from twisted.logger import Logger
            from servers.services import reverse_service

            class Elsewhere(service.Service):  # events at three levels from a namespace of its own
                log = Logger(namespace="check.elsewhere")

                def startService(self):
                    service.Service.startService(self)
                    self.log.info("an info event from elsewhere")
                    self.log.warn("a warning from elsewhere")
                    self.log.error("an error from elsewhere")

            application = service.Application("reverse")
            reverse_service("unix:reverse.sock").setServiceParent(application)
            Elsewhere().setServiceParent(application)
        """, "--logger", "check_logger.observer", folder=folder)
        if daemon is None:
            return
        size = random.randint(4200, 6000)
        sent = b"stressed\n\xff\xfe\n" + b"x" * size + b"\n"
        with socket.socket(socket.AF_UNIX) as sock:  # the filter may drop the line naming a TCP port
            sock.settimeout(limits.REPLY)
            sock.connect(str(folder / "reverse.sock"))
            sock.sendall(sent)
            while sock.recv(65536):
                pass
        daemon.stop()
        log = daemon.log
        if "NotImplementedError" in log:
            check.problem = NOT_WRITTEN
            return
        wrong = re.search(r"keep returned (.*), not a PredicateResult", log)
        check.expect("what keep returns", "a PredicateResult", wrong.group(1) if wrong else "a PredicateResult",
                     hint=f"keep returned {wrong.group(1) if wrong else ''}: FilteringLogObserver takes "
                          "PredicateResult.yes, .no or .maybe only, and switches off an observer whose predicate "
                          "returns anything else")
        check.expect("the service's info events are kept", True, "reversed 8 characters" in log,
                     sent=sent[:40] + b"...", hint="the service's info event 'reversed 8 characters' (namespace "
                                                   "servers.services...) was dropped: that namespace is kept at "
                                                   "every level")
        check.expect("a warning from another namespace is kept", True, "a warning from elsewhere" in log,
                     hint="'a warning from elsewhere' (level warn, namespace check.elsewhere) was dropped: warn "
                          "itself is kept, and every level above it, from any namespace")
        check.expect("an error from another namespace is kept", True, "an error from elsewhere" in log)
        check.expect("an info event from another namespace is dropped", False, "an info event from elsewhere" in log,
                     hint="'an info event from elsewhere' (namespace check.elsewhere) was kept: below warn, only "
                          "the servers.services namespace is kept")
        check.expect("the service's own warning is kept", True, "passed 4096 bytes" in log)
        check.expect("twistd's own info events are dropped", False, "starting up" in log or "Main loop" in log,
                     hint="twistd's own info events (namespace twisted...) were kept: an info event from "
                          "another namespace gets PredicateResult.no")
        error = daemon_error(log)
        check.expect("the filter raised nothing", "no exception", error or "no exception",
                     hint=f"keep raised {error}: the traceback in the daemon's log names the line")
