"""Checks for chapter 1, Getting Started.

Each ``check_*`` function calls what the learner wrote through the check kit (in a worker thread, bounded: none of
these exercises needs the reactor) and compares it with what the installed packages, ``ckeygen`` and a
``task.Clock`` say. Hints are chosen from what the learner's code returned or raised.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import platform
import random
import sys

from labkit.checks import Check, Outcome, limits
from labkit.checks.values import Shown

__all__ = ["check_bug_report", "check_installed_version", "check_make_key", "check_schedule_from_docs"]


def check_installed_version(installed_version) -> None:
    """Exercise 1.1: ``installed_version(name)`` gives the installed version of a distribution, or None."""
    with Check("installed_version reads versions from the installed packages",
               start="importlib.metadata.version(name) gives an installed package's version") as check:
        for name in random.sample(["twisted", "treq", "pyOpenSSL", "service-identity", "attrs"], 3):
            got = Outcome(installed_version, name, timeout=limits.QUICK, blocking=True)
            check.expect("the version of an installed package", importlib.metadata.version(name),
                         got.value if got.ok else got.described(), sent=name,
                         hint="each package has its own version: look up the name given")
        missing = f"no-such-package-{random.randrange(10**6)}"
        got = Outcome(installed_version, missing, timeout=limits.QUICK, blocking=True)
        check.expect("a package that is not installed", None, got.value if got.ok else got.described(), sent=missing,
                     hint=(f"for a package that is not installed, {got.described()}: catch "
                           "importlib.metadata.PackageNotFoundError and return None" if not got.ok else
                           "for a package that is not installed, the answer is None (nothing), not a text"))


def check_make_key(make_key) -> None:
    """Exercise 1.2: ``make_key(folder)`` runs ckeygen to make an Ed25519 key without a passphrase in ``folder``
    and returns the key's public fingerprint (as Twisted's conch reads it)."""
    from twisted.conch.ssh import keys

    with Check("make_key runs ckeygen and returns the new key's fingerprint",
               start="run ckeygen with subprocess.run([...]) to write a key into the folder given") as check:
        folder = check.temporary_folder("check-make-key-")
        got = Outcome(make_key, pathlib.Path(folder), timeout=limits.LEARNER_CALL, blocking=True)
        made = sorted(p.name for p in pathlib.Path(folder).iterdir())
        if not check.expect("files made in the folder given", "a private key and its .pub", made,
                            ok=len(made) == 2 and any(name.endswith(".pub") for name in made),
                            hint="" if got.ok else f"make_key {got.described()}"):
            return
        private = [p for p in pathlib.Path(folder).iterdir() if not p.name.endswith(".pub")]
        key = keys.Key.fromFile(str(private[0]))
        check.expect("it is an Ed25519 key", "Ed25519", key.type(),
                     hint=f"ckeygen made an {key.type()} key: its -t option names the kind of key")
        check.expect("the fingerprint returned", key.fingerprint(), got.value if got.ok else got.described(),
                     hint="return the fingerprint as conch's Key.fingerprint() gives it (its default format), "
                          "not the key's path or another format")


def check_schedule_from_docs(schedule) -> None:
    """Exercise 1.3: ``schedule(clock, f)`` uses the IReactorTime method found in the docs to call ``f`` after
    half a second and returns what that method returned."""
    from twisted.internet import task

    with Check("schedule(clock, f) calls f half a second later and returns the delayed call",
               start="help(twisted.internet.interfaces.IReactorTime) lists the method that calls later") as check:
        clock, calls = task.Clock(), []
        got = Outcome(schedule, clock, lambda: calls.append(clock.seconds()), timeout=limits.QUICK, blocking=True)
        check.expect("f is not called at once", [], list(calls),
                     hint="f was called when schedule ran: pass f itself to the method, without ()")
        delayed = got.value if got.ok else None
        check.expect("it returns the delayed call", "an IDelayedCall",
                     Shown(f"a {type(delayed).__name__}") if got.ok else got.described(),
                     ok=hasattr(delayed, "cancel") and hasattr(delayed, "getTime"),
                     hint="return what the method returned: the IDelayedCall, which can cancel the call")
        clock.advance(0.4)
        check.expect("calls after 0.4 s", [], list(calls), hint="f was called before half a second had passed")
        clock.advance(0.1)
        check.expect("calls after 0.5 s", [0.5], list(calls),
                     hint="f was not called at 0.5 s: the delay is in seconds" if not calls else "")


def check_bug_report(bug_report) -> None:
    """Exercise 1.4: ``bug_report()`` returns the facts a question to the Twisted community should carry."""
    import twisted

    with Check("bug_report() names the Python, Twisted and system versions",
               start="return a dict with the keys 'python', 'twisted', 'platform' and 'executable'") as check:
        got = Outcome(bug_report, timeout=limits.QUICK, blocking=True)
        report = got.value if got.ok else None
        check.expect("it is a dict", "dict", type(report).__name__ if got.ok else got.described())
        report = report if isinstance(report, dict) else {}
        for key, expected, hint in (
                ("python", platform.python_version(), "the Python version number alone, like '3.12.1'"),
                ("twisted", twisted.__version__, "the version of the Twisted this kernel imported"),
                ("platform", platform.platform(), "the system with its release, as the platform module spells "
                                                  "it in full"),
                ("executable", sys.executable, "the path of the Python running this kernel")):
            check.expect(f"report[{key!r}]", expected, report.get(key),
                         hint=f"report[{key!r}] is missing: {hint}" if key not in report else f"{key}: {hint}")
