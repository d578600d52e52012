"""Checks for chapter 1, Getting Started."""

from __future__ import annotations

import importlib.metadata
import pathlib
import platform
import sys
import tempfile

from labkit.checks import Check

__all__ = ["check_bug_report", "check_installed_version", "check_make_key", "check_schedule_from_docs"]


def check_installed_version(installed_version) -> None:
    """Exercise 1.1: ``installed_version(name)`` gives the installed version of a distribution, or None."""
    with Check("installed_version reads versions from the installed packages",
               hint="importlib.metadata.version(name) gives the version; it raises "
                    "importlib.metadata.PackageNotFoundError for a package that is not installed") as check:
        for name in ("twisted", "treq", "pyOpenSSL"):
            check.expect(f"installed_version({name!r})", importlib.metadata.version(name), installed_version(name))
        check.expect("installed_version('no-such-package')", None, installed_version("no-such-package"))


def check_make_key(make_key) -> None:
    """Exercise 1.3: ``make_key(folder)`` runs ckeygen to make an Ed25519 key without a passphrase in ``folder``
    and returns the key's public fingerprint (as Twisted's conch reads it)."""
    from twisted.conch.ssh import keys

    with Check("make_key runs ckeygen and returns the new key's fingerprint",
               hint="run ['ckeygen', '-t', 'ed25519', '-f', str(path), '--no-passphrase', '-q'] with "
                    "subprocess.run(..., check=True, timeout=30), then "
                    "keys.Key.fromFile(str(path)).fingerprint()") as check:
        with tempfile.TemporaryDirectory() as folder:
            fingerprint = make_key(pathlib.Path(folder))
            made = sorted(p.name for p in pathlib.Path(folder).iterdir())
            check.expect("files made", "a private key and its .pub", made,
                         ok=len(made) == 2 and any(name.endswith(".pub") for name in made))
            private = [p for p in pathlib.Path(folder).iterdir() if not p.name.endswith(".pub")]
            key = keys.Key.fromFile(str(private[0])) if private else None
            check.expect("it is an Ed25519 key", "Ed25519", key.type() if key else None)
            check.expect("the fingerprint returned", key.fingerprint() if key else "(no key)", fingerprint)


def check_schedule_from_docs(schedule) -> None:
    """Exercise 1.4: ``schedule(clock, f)`` uses the IReactorTime method found in the docs to call ``f`` after
    half a second and returns what that method returned."""
    from twisted.internet import task

    with Check("schedule(clock, f) calls f half a second later and returns the delayed call",
               hint="help(twisted.internet.interfaces.IReactorTime) lists callLater(delay, callable, *args); "
                    "return clock.callLater(0.5, f)") as check:
        clock, calls = task.Clock(), []
        delayed = schedule(clock, lambda: calls.append(clock.seconds()))
        check.expect("it returns the delayed call", "an IDelayedCall", type(delayed).__name__,
                     ok=hasattr(delayed, "cancel") and hasattr(delayed, "getTime"))
        clock.advance(0.4)
        check.expect("calls after 0.4 s", [], list(calls))
        clock.advance(0.1)
        check.expect("calls after 0.5 s", [0.5], calls)


def check_bug_report(bug_report) -> None:
    """Exercise 1.5: ``bug_report()`` returns the facts a question to the Twisted community should carry."""
    import twisted

    with Check("bug_report() names the Python, Twisted and system versions",
               hint="use platform.python_version(), twisted.__version__ and platform.platform()") as check:
        report = bug_report()
        check.expect("it is a dict", "dict", type(report).__name__)
        report = report if isinstance(report, dict) else {}
        check.expect("report['python']", platform.python_version(), report.get("python"))
        check.expect("report['twisted']", twisted.__version__, report.get("twisted"))
        check.expect("report['platform']", platform.platform(), report.get("platform"))
        check.expect("report['executable']", sys.executable, report.get("executable"))
