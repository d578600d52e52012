"""Chapter 11's checks: a right program passes; the untouched stub and each typical mistake fail with the right
message. Every check runs the learner's program under a real twistd (see labkit.chapters.ch11)."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest
from twisted.web import resource

from labkit import daemons, programs
from labkit.chapters import ch11
from tests.failing import fails

STUB = "raise NotImplementedError()"
REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPOSITORY / "notebooks" / "11-services-processes-and-logging.ipynb"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert daemons.running() == [], "a check left a daemon running"


def program(name: str, source: str) -> str:
    programs.save_program(f"ch11/{name}.py", textwrap.dedent(source))
    return f"ch11/{name}.py"


# --- 11.1 a service -----------------------------------------------------------------------------------------------

STATUS = """
    from twisted.application import service

    class StatusFileService(service.Service):
        def __init__(self, path):
            self.path = path

        def startService(self):
            {start}

        def stopService(self):
            {stop}
"""
START = "service.Service.startService(self)\n            open(self.path, 'w').write('running\\n')"
STOP = "service.Service.stopService(self)\n            open(self.path, 'w').write('stopped\\n')"


def status_program(start=START, stop=STOP) -> str:
    return program("status", STATUS.format(start=start, stop=stop))


def test_a_status_service_that_writes_both_words_passes():
    ch11.check_status_service(status_program())


def test_the_status_stub_is_not_written_yet():
    assert "not written yet" in fails(ch11.check_status_service, status_program(STUB, STUB))


def test_a_status_service_without_stop_service_is_told_where_to_write():
    message = fails(ch11.check_status_service, status_program(stop="service.Service.stopService(self)"))
    assert "status.txt after SIGTERM" in message and "stopService on SIGTERM" in message


def test_a_status_service_that_crashes_shows_the_daemons_traceback():
    message = fails(ch11.check_status_service, status_program(start="open(self.path + '/no/such', 'w')"))
    assert "twistd did not start" in message and "FileNotFoundError" in message


def test_a_missing_program_says_to_run_its_cell():
    assert "run its %%program cell first" in fails(ch11.check_status_service, "ch11/nothing.py")


# --- 11.2 a twist plugin ------------------------------------------------------------------------------------------

GREETER = """
    from twisted.application import strports
    from twisted.internet import protocol
    from twisted.python import usage

    from servers.services.reverse import ReverseTextProtocol

    class GreetingProtocol(ReverseTextProtocol):
        def connectionMade(self):
            {greet}

    class Options(usage.Options):
        optParameters = [["port", "p", "tcp:0:interface=127.0.0.1", "where"], ["greeting", "g", "hello", "what"]]

    def makeService(options):
        {make}
"""
GREET = "self.transport.write(self.factory.greeting.encode() + b'\\r\\n')"
MAKE = ("factory = protocol.ServerFactory.forProtocol(GreetingProtocol)\n        factory.greeting = {greeting}"
        "\n        return strports.service(options['port'], factory)")


def greeter_program(greet=GREET, make=MAKE.format(greeting="options['greeting']")) -> str:
    return program("greeter", GREETER.format(greet=greet, make=make))


def test_a_right_greeter_plugin_passes():
    ch11.check_greeter_plugin(greeter_program())


def test_the_greeter_stub_is_not_written_yet():
    assert "not written yet" in fails(ch11.check_greeter_plugin, greeter_program(STUB, STUB))


def test_a_greeter_that_ignores_the_option_is_told_where_the_greeting_comes_from():
    message = fails(ch11.check_greeter_plugin, greeter_program(make=MAKE.format(greeting="'hello'")))
    assert "the first line" in message and "options['greeting']" in message


# --- 11.4 services changed at run time -------------------------------------------------------------------------

class ServicesPage(resource.Resource):
    isLeaf = True

    def __init__(self, parent):
        super().__init__()
        self.parent = parent

    def listing(self):
        return "".join(f"{child.name} {'running' if child.running else 'stopped'}\n" for child in self.parent).encode()

    def render_GET(self, request):
        return self.listing()

    def render_POST(self, request):
        name, action = (request.postpath + [b"", b""])[:2]
        try:
            child = self.parent.getServiceNamed(name.decode())
        except KeyError:
            request.setResponseCode(404)
            return b"no such service"
        if action not in (b"start", b"stop"):
            request.setResponseCode(400)
            return b"start or stop"
        self.change(child, action)
        return self.listing()

    def change(self, child, action):
        child.startService() if action == b"start" else child.stopService()


def test_a_right_services_page_passes():
    ch11.check_services_page(ServicesPage)


def test_the_services_page_stub_is_not_written_yet():
    class Stub(ServicesPage):
        def render_GET(self, request):
            raise NotImplementedError()

    assert "not written yet" in fails(ch11.check_services_page, Stub)


def test_a_page_that_flips_the_running_flag_is_told_to_call_stop_service():
    class Flipper(ServicesPage):
        def change(self, child, action):
            child.running = action == b"start"

    assert "setting running = False stops nothing" in fails(ch11.check_services_page, Flipper)


def test_a_page_that_lets_a_key_error_escape_is_told_to_answer_404():
    class NoNotFound(ServicesPage):
        def render_POST(self, request):
            name, action = request.postpath[:2]
            self.change(self.parent.getServiceNamed(name.decode()), action)
            return self.listing()

    message = fails(ch11.check_services_page, NoNotFound)
    assert "POST /nosuch/stop" in message and "answer 404" in message


# --- 11.5 a log filter --------------------------------------------------------------------------------------------

FILTER = """
    from twisted.logger import LogLevel, PredicateResult

    def keep(event):
        {body}
"""
RIGHT = ("if event['log_level'] >= LogLevel.warn or event.get('log_namespace', '').startswith('servers.services'):"
         "\n            return PredicateResult.yes\n        return PredicateResult.no")


def filter_program(body=RIGHT) -> str:
    return program("logfilter", FILTER.format(body=body))


def test_a_right_log_filter_passes():
    ch11.check_log_filter(filter_program())


def test_the_filter_stub_is_not_written_yet():
    assert "not written yet" in fails(ch11.check_log_filter, filter_program(STUB))


def test_a_filter_that_keeps_everything_is_told_to_drop_twistds_info():
    message = fails(ch11.check_log_filter, filter_program("return PredicateResult.yes"))
    assert "twistd's own info events are dropped" in message and "PredicateResult.no" in message


def test_a_filter_on_level_alone_loses_the_services_info_events():
    message = fails(ch11.check_log_filter, filter_program(
        "return PredicateResult.yes if event['log_level'] >= LogLevel.warn else PredicateResult.no"))
    assert "the service's info events are kept" in message and "servers.services" in message


# --- 11.3 privileges ----------------------------------------------------------------------------------------------

KEYS = """
    from twisted.application import service
    from twisted.logger import Logger

    class KeyService(service.Service):
        log = Logger()

        def __init__(self, path):
            self.path = path

        def privilegedStartService(self):
            {privileged}

        def startService(self):
            {start}
"""
READ = "service.Service.privilegedStartService(self)\n            self.key = open(self.path, 'rb').read()"
LOG = "service.Service.startService(self)\n            self.log.info('loaded a key of {size} bytes', size=len(self.key))"


def key_program(privileged=READ, start=LOG) -> str:
    return program("keyservice", KEYS.format(privileged=privileged, start=start))


def test_a_key_service_that_reads_before_root_is_dropped_passes():
    ch11.check_key_service(key_program())


def test_the_key_service_stub_is_not_written_yet():
    assert "not written yet" in fails(ch11.check_key_service, key_program(STUB, STUB))


def test_a_key_read_in_start_service_is_told_it_was_read_too_late():
    message = fails(ch11.check_key_service, key_program(
        privileged="service.Service.privilegedStartService(self)",
        start="service.Service.startService(self)\n            self.key = open(self.path, 'rb').read()"))
    assert "read after root was given up" in message and "PermissionError" in message
    assert "privilegedStartService before it drops root" in message


def test_a_key_service_that_never_logs_is_told_what_to_log():
    message = fails(ch11.check_key_service, key_program(start="service.Service.startService(self)"))
    assert "its log says how long the key is" in message and "self.log.info" in message


AS_AN_ORDINARY_USER = """
import textwrap
from labkit import programs
from labkit.checks import CheckFailed
from labkit.chapters import ch11
for name, privileged, start in {cases!r}:
    programs.save_program("ch11/keyservice.py", textwrap.dedent({source!r}.format(privileged=privileged, start=start)))
    try:
        ch11.check_key_service("ch11/keyservice.py")
        print(name, "passed")
    except CheckFailed as failed:
        print(name, "failed:", " ".join(str(failed).split()))
"""


def python_for_nobody() -> tuple[str, list[str]]:
    """A Python that nobody may run, and what to put on its path: this one, or where it lies in a folder nobody
    may not enter (a pyenv under /root), the system's Python of the same version with this one's packages."""
    candidates = [(sys.executable, []), (f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}",
                                         [path for path in sys.path if path.endswith("site-packages")])]
    for python, packages in candidates:
        probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c",
                                f"{python} -c 'import twisted'"], capture_output=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(packages)})
        if probe.returncode == 0:
            return python, packages
    pytest.skip(f"no Python that nobody may run: {sys.executable} lies in a folder closed to nobody")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the check as nobody, which needs root")
def test_the_key_check_run_by_an_ordinary_user_passes_the_solution_and_fails_a_late_read():
    """Where the kernel is not root there is no --uid: the check takes the key away between the two methods."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="nobody-"))  # pytest's folders are root's alone
    os.chown(folder, 65534, 65534)
    late = ("service.Service.privilegedStartService(self)",
            "service.Service.startService(self)\n            self.key = open(self.path, 'rb').read()")
    python, packages = python_for_nobody()
    script = (f"import sys; sys.executable = {python!r}\n"  # the daemons the check starts run on it too
              + AS_AN_ORDINARY_USER.format(cases=[("right", READ, LOG), ("late", *late)], source=KEYS))
    ran = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", python, "-c", script],
                         cwd=folder, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(folder),
                              "PYTHONPATH": os.pathsep.join([str(REPOSITORY), *packages])})
    shutil.rmtree(folder)
    lines = [line for line in ran.stdout.splitlines() if line.startswith(("right ", "late "))]
    assert ran.returncode == 0 and lines[0] == "right passed", ran.stdout + ran.stderr
    assert lines[1].startswith("late failed:") and "read after root was given up" in lines[1]
    assert "PermissionError" in lines[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the notebook as nobody, which needs root")
def test_the_notebook_run_by_an_ordinary_user_shows_its_stored_outputs():
    """The stored outputs come from a root kernel (twistd drops root for real); nbval passes them as nobody too,
    where twistd refuses and the same lines follow (notebooks/sanitize.cfg names the one line that differs)."""
    python, packages = python_for_nobody()
    folder = pathlib.Path(tempfile.mkdtemp(prefix="nobody-"))
    try:
        for name in (NOTEBOOK.name, "sanitize.cfg"):
            shutil.copy(NOTEBOOK.parent / name, folder)
        for path in (folder, *folder.iterdir()):
            os.chown(path, 65534, 65534)
        ran = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", python, "-m", "pytest",
                              "--nbval", NOTEBOOK.name, "--nbval-sanitize-with", "sanitize.cfg", "-p",
                              "no:cacheprovider", "-q"], cwd=folder, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(folder), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
                                  "IPYTHONDIR": str(folder / "ipython"),
                                  "PYTHONPATH": os.pathsep.join([str(REPOSITORY), *packages])})
    finally:
        shutil.rmtree(folder)
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout and "failed" not in ran.stdout
