"""Chapter 1: the environment check, and the chapter's checks run as nbgrader runs them (labkit.testing): every
solution from the complete notebook passes, every learner copy fails in a short box, and each typical mistake,
made from the solution, fails with the hint that names its cause."""

from labkit import envcheck
from labkit.testing import Mistake, exercise_tests


def test_environment_check_passes_here_and_names_fixes_when_something_is_missing(monkeypatch):
    report = envcheck.check_environment()
    assert report.ok, str(report)
    assert "practice server: an echo server answered" in str(report)
    monkeypatch.setattr(envcheck, "find_tool", lambda name: None)
    broken = envcheck.check_environment()
    assert not broken.ok
    assert "[FAIL] `twistd` on PATH: not found" in str(broken)
    assert "fix: add" in str(broken) or "fix: run `make lab`" in str(broken)


def test_a_crashing_environment_check_is_a_failed_line_not_an_exception(monkeypatch):
    def boom():
        raise ImportError("no module named OpenSSL")

    monkeypatch.setattr(envcheck, "CHECKS", (boom,))
    report = envcheck.check_environment()
    assert [line.ok for line in report.lines] == [False]
    assert "ImportError: no module named OpenSSL" in str(report) and "make lab" in str(report)


MISTAKES = [
    # 1.1 installed_version(name)
    Mistake("1.1", "no answer for a missing package", (
        ("    try:\n        return importlib.metadata.version(name)\n", "    return importlib.metadata.version(name)\n"),
        ("    except importlib.metadata.PackageNotFoundError:\n        return None\n", "")),
        hint="catch importlib.metadata.PackageNotFoundError"),
    Mistake("1.1", "a text for a missing package", ("return None", 'return "not installed"'),
            hint="the answer is None"),
    Mistake("1.1", "always Twisted's version", ("version(name)", 'version("twisted")'), hint="look up the name given"),
    # 1.2 make_key(folder)
    Mistake("1.2", "an ECDSA key", ('"-t", "ed25519"', '"-t", "ecdsa"'), hint="its -t option names the kind of key"),
    Mistake("1.2", "the path returned", ("return keys.Key.fromFile(str(path)).fingerprint()", "return str(path)"),
            hint="return the fingerprint"),
    Mistake("1.2", "another fingerprint format", (".fingerprint()", ".fingerprint(keys.FingerprintFormats.SHA256_BASE64)"),
            hint="its default format"),
    # 1.3 schedule(clock, f)
    Mistake("1.3", "at once", ("callLater(0.5, f)", "callLater(0, f)"), hint="before half a second had passed"),
    Mistake("1.3", "milliseconds", ("callLater(0.5, f)", "callLater(500, f)"), hint="the delay is in seconds"),
    Mistake("1.3", "the delayed call not returned", ("return clock.callLater", "clock.callLater"),
            hint="return what the method returned"),
    Mistake("1.3", "f called instead of passed", ("callLater(0.5, f)", "callLater(0.5, f())"),
            hint="pass f itself"),
    # 1.4 bug_report()
    Mistake("1.4", "no executable", (', "executable": sys.executable', ""), hint="report['executable'] is missing"),
    Mistake("1.4", "Python's whole version banner", ('"python": platform.python_version()', '"python": sys.version'),
            hint="the Python version number alone"),
    Mistake("1.4", "only the system's name", ('"platform": platform.platform()', '"platform": platform.system()'),
            hint="the system with its release"),
]

TestChapter01 = exercise_tests(1, MISTAKES)
