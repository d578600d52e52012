"""Chapter 11's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Every check runs the learner's program under a real twistd or twist (see
labkit.chapters.ch11). Two more tests run the key check and the notebook as an ordinary user, where the kernel
is root."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import nbformat
import pytest

from labkit.testing import Mistake, exercise_tests, grading

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = REPOSITORY / "notebooks" / "11-services-processes-and-logging.ipynb"

MISTAKES = [
    # 11.1 StatusFileService(path): running / stopped in a file, under twistd
    Mistake("11.1", "startService never calls the base class",
            ("service.Service.startService(self)\n        with", "with"), hint="running stayed False"),
    Mistake("11.1", "stopService never calls the base class",
            ("service.Service.stopService(self)\n        with", "with"), hint="running stayed True"),
    Mistake("11.1", "the same word written on stop", ('status.write("stopped\\n")', 'status.write("running\\n")'),
            hint="only 'stopped'"),
    Mistake("11.1", "the stop word appended",
            ('"w") as status:\n            status.write("stopped', '"a") as status:\n            status.write("stopped'),
            hint="open it with 'w'"),
    Mistake("11.1", "no newline after the word", ('status.write("running\\n")', 'status.write("running")'),
            hint="the word and a newline"),
    Mistake("11.1", "a fixed file name instead of self.path",
            ('open(self.path, "w") as status:\n            status.write("running',
             'open("status.txt", "w") as status:\n            status.write("running'), hint="no file was written"),
    # 11.2 a twist plugin: greeting from --greeting, listening on --port
    Mistake("11.2", "ignores --greeting", ('factory.greeting = options["greeting"]', 'factory.greeting = "hello"'),
            hint="the option's default"),
    Mistake("11.2", "writes text, not bytes", ('self.factory.greeting.encode() + b"\\r\\n"',
                                               'self.factory.greeting + "\\r\\n"'), hint="logged TypeError"),
    Mistake("11.2", "no line end after the greeting", ('.encode() + b"\\r\\n"', ".encode()"), hint="ran together"),
    Mistake("11.2", "a fixed port instead of --port",
            ('strports.service(options["port"], factory)', 'strports.service("tcp:0:interface=127.0.0.1", factory)'),
            hint="nothing listens where --port said"),
    Mistake("11.2", "the greeting never handed to the factory", ('factory.greeting = options["greeting"]\n    ', ""),
            hint="logged AttributeError"),
    # 11.3 KeyService: the key read before twistd gives up root
    Mistake("11.3", "reads the key in startService, after root is gone",
            (('with open(self.path, "rb") as key:\n            self.key = key.read()', "pass"),
             ("service.Service.startService(self)\n",
              'service.Service.startService(self)\n        with open(self.path, "rb") as key:\n'
              "            self.key = key.read()\n")),
            hint="privilegedStartService before it drops root"),
    Mistake("11.3", "reads the key as text", ('"rb"', '"r"'), hint="binary mode"),
    Mistake("11.3", "never logs", ('self.log.info("loaded a key of {size} bytes", size=len(self.key))', "pass"),
            hint="logs nothing like"),
    Mistake("11.3", "logs the length of the path", ("size=len(self.key)", "size=len(self.path)"),
            hint="not the key's length"),
    Mistake("11.3", "startService never calls the base class",
            ("service.Service.startService(self)\n        self.log", "self.log"), hint="running stayed False"),
    # 11.4 ServicesPage: an admin page over a MultiService
    Mistake("11.4", "flips the running flag", ("child.stopService()", "child.running = False"),
            hint="stopService() was not called"),
    Mistake("11.4", "lets getServiceNamed's KeyError escape",
            ("        try:\n            child = self.parent.getServiceNamed(name.decode())\n        except KeyError:\n"
             "            request.setResponseCode(404)\n            return b\"no such service\\n\"\n",
             "        child = self.parent.getServiceNamed(name.decode())\n"), hint="the server logged KeyError"),
    Mistake("11.4", "any other action accepted",
            ("        else:\n            request.setResponseCode(400)\n            return b\"the action is start or stop\\n\"\n",
             ""), hint="an action other than start or stop gets 400"),
    Mistake("11.4", "the action compared with text",
            (('action == b"stop"', 'action == "stop"'), ('action == b"start"', 'action == "start"')),
            hint="compare the action with bytes"),
    Mistake("11.4", "name and action swapped", ("name, action = ", "action, name = "), hint="the service's name first"),
    Mistake("11.4", "the 404 answer as text", ('return b"no such service\\n"', 'return "no such service\\n"'),
            hint="the page answered 500"),
    # 11.5 keep(event): a FilteringLogObserver predicate under twistd --logger
    Mistake("11.5", "keeps everything",
            ('event["log_level"] >= LogLevel.warn or event.get("log_namespace", "").startswith("servers.services")',
             "True"), hint="below warn, only"),
    Mistake("11.5", "filters on the level alone",
            (' or event.get("log_namespace", "").startswith("servers.services")', ""),
            hint="that namespace is kept at every level"),
    Mistake("11.5", "drops warn itself", (">= LogLevel.warn", "> LogLevel.warn"), hint="warn itself is kept"),
    Mistake("11.5", "returns booleans", (("return PredicateResult.yes", "return True"),
                                         ("return PredicateResult.no", "return False")),
            hint="PredicateResult.yes, .no or .maybe only"),
    Mistake("11.5", "compares the whole namespace", ('.startswith("servers.services")', ' == "servers.services"'),
            hint="that namespace is kept at every level"),
]

TestChapter11 = exercise_tests(11, MISTAKES)

LATE = next(m for m in MISTAKES if m.name == "reads the key in startService, after root is gone")

AS_AN_ORDINARY_USER = """
import pathlib, shutil
from labkit.checks import CheckFailed
from labkit.chapters import ch11
for name in ("right", "late"):
    pathlib.Path("programs/ch11").mkdir(parents=True, exist_ok=True)
    shutil.copy(f"{name}.py", "programs/ch11/keyservice.py")
    try:
        ch11.check_key_service("ch11/keyservice.py")
        print(name, "passed")
    except CheckFailed as failed:
        print(name, "failed:", " ".join(str(failed).split()))
"""


def key_service_sources() -> dict[str, str]:
    """The notebook's KeyService program, right and read too late."""
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    [cell] = [c for c in cells if grading(c).get("grade_id", "").startswith("ex11-3-")]
    right = cell.source
    return {name: source.partition("\n")[2] for name, source in (("right", right), ("late", LATE.apply(right)))}


def as_nobody(folder: pathlib.Path, *command: str) -> list[str]:
    """``command`` run by nobody on this Python, in a private mount namespace that opens the way where this Python
    or this checkout lies in a folder nobody may not enter (a pyenv under /root, a checkout made by mktemp -d)."""
    from labkit.daemons import reach

    return reach.started_as("nobody", list(command), folder / ".stage", needed=reach.needed_folders(str(REPOSITORY)))


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the check as nobody, which needs root")
def test_the_key_check_run_by_an_ordinary_user_passes_the_solution_and_fails_a_late_read():
    """Where the kernel is not root there is no --uid: the check takes the key away between the two methods."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="nobody-"))  # pytest's folders are root's alone
    for name, source in key_service_sources().items():
        (folder / f"{name}.py").write_text(source + "\n")
    for path in (folder, *folder.iterdir()):
        os.chown(path, 65534, 65534)
    ran = subprocess.run(as_nobody(folder, sys.executable, "-c", AS_AN_ORDINARY_USER), cwd=folder,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HOME": str(folder), "PYTHONPATH": str(REPOSITORY)})
    shutil.rmtree(folder)
    lines = [line for line in ran.stdout.splitlines() if line.startswith(("right ", "late "))]
    assert ran.returncode == 0 and lines[0] == "right passed", ran.stdout + ran.stderr
    assert lines[1].startswith("late failed:") and "read after root was given up" in lines[1]
    assert "PermissionError" in lines[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the notebook as nobody, which needs root")
def test_the_notebook_run_by_an_ordinary_user_shows_its_stored_outputs():
    """The stored outputs come from a root kernel (twistd drops root for real); nbval passes them as nobody too,
    where twistd refuses and the same lines follow (notebooks/sanitize.cfg names the one line that differs)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="nobody-"))
    try:
        for name in (NOTEBOOK.name, "sanitize.cfg"):
            shutil.copy(NOTEBOOK.parent / name, folder)
        for path in (folder, *folder.iterdir()):
            os.chown(path, 65534, 65534)
        ran = subprocess.run(as_nobody(folder, sys.executable, "-m", "pytest", "--nbval", NOTEBOOK.name,
                                       "--nbval-sanitize-with", "sanitize.cfg", "-p", "no:cacheprovider", "-q"),
                             cwd=folder, capture_output=True, text=True, timeout=300,
                             env={**os.environ, "HOME": str(folder), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
                                  "IPYTHONDIR": str(folder / "ipython"),
                                  "PYTHONPATH": str(REPOSITORY)})
    finally:
        shutil.rmtree(folder)
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout and "failed" not in ran.stdout


def test_a_long_timeline_label_is_cut_at_a_word_and_whole_in_its_tooltip():
    """Chapter 11's timeline shows log lines: a label over 40 characters ends at a word with an ellipsis."""
    from labkit.pictures import Timeline

    line = "got command 'echo hello' from a client that keeps talking"
    timeline = Timeline("log")
    timeline.add(line, 0.0)
    timeline.add("short", 0.1)
    picture = timeline._repr_html_()
    assert "<title>got command &#x27;echo hello&#x27; from a client that keeps talking</title>" in picture
    assert "got command &#x27;echo hello&#x27; from a client…</text>" in picture
    assert "<title>short</title>short</text>" in picture
