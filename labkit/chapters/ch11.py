"""Checks for chapter 11, Services, Processes and Logging.

Each ``check_*`` function runs what the learner wrote for real: it writes a ``.tac`` file (or a logger module)
in a folder of its own that imports the learner's program from ``programs/``, starts ``twistd`` on it as a child
process (:mod:`labkit.daemons`), talks to it or reads what it wrote, stops it with SIGTERM as a service manager
would, and reads its log. Every wait is bounded; no daemon outlives the check.
"""

from __future__ import annotations

import os
import socket
import textwrap

from twisted.application import service

from labkit import daemons
from labkit.bridge import react
from labkit.checks import NOT_WRITTEN, Check, limits, server_health, unwritten
from labkit.checks.web import fetch
from labkit.programs import program_path

__all__ = ["check_greeter_plugin", "check_key_service", "check_log_filter", "check_services_page",
           "check_status_service"]

DAEMON_START = 10.0  # seconds for twistd to load a .tac, start its services and run its reactor


def _program(check: Check, name: str):
    path = program_path(name)
    if not path.exists():
        check.problem = f"programs/{name} does not exist yet: run its %%program cell first"
        return None
    return path.resolve()


def _start(check: Check, tac_source: str, *options: str, folder=None):
    """twistd on ``tac_source`` in ``folder`` (the check's own by default, on the daemon's PYTHONPATH); None (the
    check's problem says why) if it failed."""
    folder = folder or check.temporary_folder("check-ch11-")
    tac = folder / "check.tac"
    tac.write_text(textwrap.dedent(tac_source))
    return _run(check, daemons.twistd, tac, *options, folder=folder)


def _run(check: Check, tool, *args, **options):
    """``tool(*args, **options)`` (:func:`daemons.twistd` or :func:`daemons.twist`), stopped when the check ends;
    None (the check's problem says why) if it did not start."""
    try:
        daemon = tool(*args, timeout=DAEMON_START, **options)
    except daemons.DaemonFailed as failed:
        check.problem = (NOT_WRITTEN if "NotImplementedError" in str(failed)
                         else f"{tool.__name__} did not start: {failed}")
        return None
    check.on_exit(daemon.stop)
    return daemon


# --- 11.1 a service ---------------------------------------------------------------------------------------------

def check_status_service(program: str) -> None:
    """Exercise 11.1: ``StatusFileService(path)`` in ``programs/PROGRAM``, a ``service.Service`` that writes
    ``running`` (and a newline) to ``path`` when it starts and ``stopped`` when it stops; run under twistd from a
    ``.tac``, stopped with SIGTERM."""
    with Check("your StatusFileService says running under twistd and stopped after SIGTERM",
               hint="override startService and stopService; in each, call the base class's method "
                    "(service.Service.startService(self)) and write the word to self.path with "
                    "open(self.path, 'w')") as check:
        path = _program(check, program)
        if path is None:
            return
        folder = check.temporary_folder("check-ch11-status-")
        status = folder / "status.txt"
        daemon = _start(check, f"""
            import sys
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.application import service
            from {path.stem} import StatusFileService
            application = service.Application("status")
            StatusFileService({str(status)!r}).setServiceParent(application)
        """)
        if daemon is None:
            return
        check.expect("status.txt once twistd runs", "running\n", _read(status))
        daemon.stop()
        check.expect("status.txt after SIGTERM", "stopped\n", _read(status),
                     hint="twistd calls stopService on SIGTERM: write 'stopped\\n' there")
        check.expect("twistd removed its pid file on the way out", True, daemon.pidfile_removed)
        check.expect("the daemon's log shows no traceback", False, "Traceback" in daemon.log,
                     hint="read daemon.log: the traceback names the line that failed")


def _read(path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return "(no file)"


# --- 11.2 a twist plugin ----------------------------------------------------------------------------------------

GREETING = "good morning"


def check_greeter_plugin(program: str) -> None:
    """Exercise 11.2: ``Options`` (``--port``, ``--greeting``) and ``makeService(options)`` in
    ``programs/PROGRAM``, run as ``twist greeter`` through a plugin file naming that module: each connection gets
    the greeting line first, then every line back reversed."""
    with Check("twist greeter --greeting 'good morning' greets, then reverses",
               hint="in makeService, build the factory (ServerFactory.forProtocol(GreetingProtocol)), set "
                    "factory.greeting = options['greeting'] and return strports.service(options['port'], "
                    "factory); in connectionMade, write self.factory.greeting.encode() + b'\\r\\n'") as check:
        path = _program(check, program)
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
        daemon = _run(check, daemons.twist, "greeter", "--greeting", GREETING, "--port",
                      "tcp:0:interface=127.0.0.1", folder=folder, plugins=folder)
        if daemon is None:
            return
        sent = b"stressed\r\nquit\r\n"
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=limits.REPLY) as sock:
            sock.sendall(sent)
            got = b""
            while chunk := sock.recv(65536):
                got += chunk
        if "NotImplementedError" in daemon.log:
            check.problem = NOT_WRITTEN
            return
        lines = got.split(b"\r\n")
        check.expect("the first line", GREETING.encode(), lines[0], sent="(connect)",
                     hint="the greeting comes from --greeting: options['greeting'], handed to the protocol "
                          "through its factory")
        check.expect("then each line reversed, and Goodbye", [b"desserts", b"Goodbye.", b""], lines[1:], sent=sent)
        check.expect("the daemon's log shows no traceback", False, "Traceback" in daemon.log,
                     hint="read the daemon's log: the traceback names the line that failed")


# --- 11.3 privileges -------------------------------------------------------------------------------------------

KEY = b"a practice key, readable by its owner only\n"


def check_key_service(program: str) -> None:
    """Exercise 11.3: ``KeyService(path)`` in ``programs/PROGRAM``, a ``service.Service`` that reads the file at
    ``path`` (only its owner may read it) into ``self.key`` in ``privilegedStartService``, before twistd drops
    root, and logs ``loaded a key of {size} bytes`` from ``startService``.

    Where the kernel is root the check runs twistd with ``--uid nobody --gid nogroup`` and a key only root may
    read; elsewhere the daemon runs as the kernel's user, and the key's mode becomes 000 between the two
    methods, as dropping root would make it unreadable: in both, the key can be read in the first and not in
    the second."""
    with Check("your KeyService reads its key while it is still root, then runs without root",
               hint="twistd calls privilegedStartService before it drops root and startService after: read "
                    "the file there (call service.Service.privilegedStartService(self) too), and only log in "
                    "startService") as check:
        path = _program(check, program)
        if path is None:
            return
        vault = check.temporary_folder("check-ch11-key-")  # only the kernel's user may enter it
        key = vault / "practice.key"
        key.write_bytes(KEY)
        key.chmod(0o600)
        root = os.geteuid() == 0
        daemon = _start(check, f"""
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

            application = service.Application("keys")
            parent = DroppingRoot()
            parent.setServiceParent(application)
            KeyService({str(key)!r}).setServiceParent(parent)
        """, *(["--uid", "nobody", "--gid", "nogroup"] if root else []))
        if daemon is None:
            if "PermissionError" in check.problem:
                check.problem = ("twistd did not start: reading the key raised PermissionError, so it was read "
                                 "after root was given up. " + check.problem)
            return
        check.expect("the daemon does not run as root", True, daemon.identity[0] != "root")
        check.expect("its log says how long the key is", True, f"loaded a key of {len(KEY)} bytes" in daemon.log,
                     hint="in startService: self.log.info('loaded a key of {size} bytes', size=len(self.key)), "
                          "with log = Logger() in the class")
        daemon.stop()
        check.expect("the daemon's log shows no traceback", False, "Traceback" in daemon.log,
                     hint="read the daemon's log: the traceback names the line that failed")


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


def check_services_page(page_class) -> None:
    """Exercise 11.4: ``page_class(parent)``, a twisted.web resource over a running ``MultiService``: ``GET /``
    lists each child as ``NAME running`` or ``NAME stopped``, one a line, in order; ``POST /NAME/stop`` and
    ``POST /NAME/start`` stop or start that child through ``stopService``/``startService`` and answer the new
    list; an unknown name gets 404, another action 400."""
    with Check("your admin page lists the services and starts and stops them at run time",
               hint="in render_POST, take name, action = request.postpath; find the child with "
                    "self.parent.getServiceNamed(name.decode()) (KeyError: 404); call its stopService() or "
                    "startService(); return the listing as bytes") as check:
        notes: list[str] = []
        parent = service.MultiService()
        for name in ("reverse", "stats"):
            _Noted(name, notes).setServiceParent(parent)
        react(lambda reactor: parent.startService(), timeout=limits.QUICK)
        check.on_exit(react, lambda reactor: parent.stopService(), timeout=limits.CLEANUP)
        served = check.serve(page_class(parent), "check-services-page")
        listing = fetch(served.port, "GET", "/")
        if unwritten(check, served):
            return
        check.expect("GET / lists both", b"reverse running\nstats running\n", listing.body, sent="GET /")
        stopped = fetch(served.port, "POST", "/stats/stop", body=b"")
        check.expect("POST /stats/stop answers the new list", b"reverse running\nstats stopped\n", stopped.body,
                     sent="POST /stats/stop")
        check.expect("stats was stopped through stopService", ["reverse started", "stats started",
                                                                "stats stopped"], notes,
                     hint="call the child's stopService(): setting running = False stops nothing")
        started = fetch(served.port, "POST", "/stats/start", body=b"")
        check.expect("POST /stats/start answers the new list", b"reverse running\nstats running\n", started.body,
                     sent="POST /stats/start")
        check.expect("stats started again, reverse untouched", "stats started", notes[-1] if notes else None)
        check.expect("POST /nosuch/stop", 404, fetch(served.port, "POST", "/nosuch/stop", body=b"").outcome,
                     hint="getServiceNamed raises KeyError for a name it does not know: answer 404 "
                          "(request.setResponseCode(404))")
        check.expect("POST /stats/explode", 400, fetch(served.port, "POST", "/stats/explode", body=b"").outcome,
                     hint="an action other than start or stop gets 400")
        check.show(served.transcript)
        server_health(check, served)


# --- 11.5 a log filter ------------------------------------------------------------------------------------------

def check_log_filter(program: str) -> None:
    """Exercise 11.5: ``keep(event)`` in ``programs/PROGRAM``, a ``FilteringLogObserver`` predicate: ``yes`` for
    events at level warn or above from anywhere, and for every event whose namespace starts with
    ``servers.services``; ``no`` for the rest. Checked on the reverse-text service under twistd, its logger built
    from the learner's predicate (``twistd --logger``), with good lines, a line that is not UTF-8 and a line too
    long sent to it."""
    with Check("twistd logs through your filter: the service's own events and every warning, nothing else",
               hint="compare event['log_level'] with LogLevel.warn (levels are ordered: >= works) and test "
                    "event.get('log_namespace', '').startswith('servers.services'); return PredicateResult.yes "
                    "or PredicateResult.no") as check:
        path = _program(check, program)
        if path is None:
            return
        folder = check.temporary_folder("check-ch11-logger-")
        (folder / "check_logger.py").write_text(textwrap.dedent(f"""
            import os, sys, traceback
            sys.path.insert(0, {str(path.parent)!r})
            from twisted.logger import FilteringLogObserver, textFileLogObserver
            from {path.stem} import keep

            def reported(event):  # Twisted switches off an observer that raises, silently here: say why
                try:
                    return keep(event)
                except Exception:
                    os.write(2, ("Traceback: keep raised\\n" + traceback.format_exc()).encode())
                    raise

            def observer():
                return FilteringLogObserver(textFileLogObserver(sys.stdout), [reported])
        """))
        daemon = _start(check, """
            from twisted.application import service
            from servers.services import reverse_service
            application = service.Application("reverse")
            reverse_service("unix:reverse.sock").setServiceParent(application)
        """, "--logger", "check_logger.observer", folder=folder)
        if daemon is None:
            return
        sent = b"stressed\n\xff\xfe\n" + b"x" * 5000 + b"\n"
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
        check.expect("the service's info events are kept", True, "reversed 8 characters" in log,
                     sent=sent[:40] + b"...", hint="events from the namespace servers.services... are kept at "
                                                   "every level")
        check.expect("a warning is kept", True, "passed 4096 bytes" in log)
        check.expect("twistd's own info events are dropped", False, "starting up" in log or "Main loop" in log,
                     hint="an info event whose namespace is not servers.services... gets PredicateResult.no")
        check.expect("the filter raised nothing", False, "Traceback" in log or "disabling observer" in log,
                     hint="read the daemon's log: an observer that raises is switched off")
