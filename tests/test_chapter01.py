"""Chapter 1: the environment check and the chapter's checks."""

import importlib.metadata
import pathlib
import platform
import subprocess
import sys

import pytest
import twisted

from labkit import envcheck
from labkit.checks import CheckFailed
from labkit.chapters import ch01


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


def test_installed_version_check():
    def right(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    ch01.check_installed_version(right)
    with pytest.raises(CheckFailed, match="no-such-package"):
        ch01.check_installed_version(lambda name: importlib.metadata.version(name))


def test_make_key_check(tmp_path):
    from twisted.conch.ssh import keys

    def right(folder):
        path = pathlib.Path(folder) / "key"
        subprocess.run(["ckeygen", "-t", "ed25519", "-f", str(path), "--no-passphrase", "-q"], check=True,
                       timeout=30, capture_output=True)
        return keys.Key.fromFile(str(path)).fingerprint()

    ch01.check_make_key(right)

    def wrong_type(folder):
        path = pathlib.Path(folder) / "key"
        subprocess.run(["ckeygen", "-t", "ecdsa", "-b", "256", "-f", str(path), "--no-passphrase", "-q"],
                       check=True, timeout=30, capture_output=True)
        return keys.Key.fromFile(str(path)).fingerprint()

    with pytest.raises(CheckFailed, match="it is an Ed25519 key"):
        ch01.check_make_key(wrong_type)


def test_schedule_check():
    ch01.check_schedule_from_docs(lambda clock, f: clock.callLater(0.5, f))
    with pytest.raises(CheckFailed, match="calls after 0.4 s"):
        ch01.check_schedule_from_docs(lambda clock, f: clock.callLater(0, f))


def test_bug_report_check():
    ch01.check_bug_report(lambda: {"python": platform.python_version(), "twisted": twisted.__version__,
                                   "platform": platform.platform(), "executable": sys.executable})
    with pytest.raises(CheckFailed, match="report\\['executable'\\]"):
        ch01.check_bug_report(lambda: {"python": platform.python_version(), "twisted": twisted.__version__,
                                       "platform": platform.platform()})
