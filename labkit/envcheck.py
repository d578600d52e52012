"""The environment check a learner runs first: each line a pass, or a fail with the fix; and the kernel's own
tools put within reach.

Promises:

* Every check runs (one failing does not stop the others) and its line is the same on every machine where it
  passes, so the notebook's stored output can be compared.
* :func:`use_kernel_tools` (run when labkit is imported) puts the directory of the kernel's own Python first on
  this process's ``PATH``, so ``trial``, ``twistd``, ``ckeygen`` and ``conch`` run from the environment the
  kernel runs in, whatever ``PATH`` the kernel was started with (a hub that registers several kernels, say):
  ``subprocess.run(["ckeygen", ...])`` and ``!trial`` find them.
"""

from __future__ import annotations

import html
import os
import pathlib
import shutil
import sys
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Line", "Report", "check_environment", "find_tool"]

TOOLS = ("twistd", "trial", "ckeygen", "conch")


@dataclass
class Line:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def __str__(self) -> str:
        out = []
        for line in self.lines:
            out.append(f"[{'pass' if line.ok else 'FAIL'}] {line.name}: {line.detail}")
            if not line.ok and line.fix:
                out.append(f"       fix: {line.fix}")
        out.append("everything is ready" if self.ok else "some checks failed: see the fixes above")
        return "\n".join(out)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        left = "style='text-align:left'"
        rows = "".join(
            f"<tr><td>{'✔' if line.ok else '✘'}</td><td {left}>{html.escape(line.name)}</td>"
            f"<td {left}>{html.escape(line.detail)}</td>"
            f"<td {left}>{html.escape(line.fix) if not line.ok else ''}</td></tr>"
            for line in self.lines)
        verdict = "everything is ready" if self.ok else "some checks failed: see the fixes"
        return (f"<table><tr><th></th><th {left}>check</th><th {left}>result</th><th {left}>fix</th></tr>{rows}"
                f"</table><p><b>{verdict}</b></p>")


def kernel_tools() -> pathlib.Path:
    """Where the kernel's own environment keeps its command-line tools: the directory of its Python."""
    return pathlib.Path(sys.executable).parent


def use_kernel_tools() -> None:
    """Put :func:`kernel_tools` first on this process's PATH (once; child processes inherit it)."""
    folder = str(kernel_tools())
    entries = os.environ.get("PATH", "").split(os.pathsep)
    if entries[:1] != [folder]:
        os.environ["PATH"] = os.pathsep.join([folder, *(entry for entry in entries if entry and entry != folder)])


def find_tool(name: str) -> str | None:
    """The path of a command-line tool: the kernel environment's own, else the first on PATH, else None."""
    return shutil.which(name, path=str(kernel_tools())) or shutil.which(name)


def _python() -> Line:
    ok = sys.version_info >= (3, 11)
    return Line("Python", ok, "3.11 or newer" if ok else f"{sys.version.split()[0]} is too old",
                "install Python 3.11 or newer and run `make lab` again")


def _twisted() -> Line:
    import twisted

    major, minor = (int(part) for part in twisted.__version__.split(".")[:2])
    ok = (major, minor) >= (26, 10)
    return Line("Twisted", ok, f"{major}.{minor}" if ok else f"{twisted.__version__} is older than 26.10",
                "run `make lab` (it installs the pinned Twisted into .venv)")


def _tls() -> Line:
    import OpenSSL.SSL
    from twisted.internet import ssl

    ok = getattr(ssl, "SSL", None) is OpenSSL.SSL and hasattr(ssl, "optionsForClientTLS")
    return Line("TLS", ok, "twisted.internet.ssl works, backed by pyOpenSSL" if ok else "TLS support is missing",
                "install Twisted with its tls extra: pip install 'twisted[tls]'")


def _ssh() -> Line:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from twisted.conch.ssh import keys

    key = keys.Key(ed25519.Ed25519PrivateKey.generate())
    ok = key.isPublic() is False and key.public().type() == "Ed25519"
    return Line("SSH", ok, "twisted.conch makes and reads keys" if ok else "conch could not use a key",
                "install Twisted with its conch extra: pip install 'twisted[conch]'")


def _tool(name: str) -> Callable[[], Line]:
    def check() -> Line:
        found = find_tool(name)
        fix = "run `make lab`, which installs Twisted's tools beside the kernel's Python (.venv/bin)"
        return Line(f"`{name}` on PATH", found is not None, "found" if found else "not found", fix)

    check.__name__ = f"_tool_{name}"
    return check


def _reactor() -> Line:
    from labkit import bridge

    alive = bridge.react(lambda r: r.running, timeout=5)
    return Line("reactor thread", bool(alive), "running in the background" if alive else "not running",
                "restart the kernel (Kernel > Restart Kernel)")


def _practice_server() -> Line:
    from labkit.checks import converse
    from labkit.serving import serve

    server = serve("echo", name="envcheck-echo", show=False)
    try:
        reply = converse(server.port, b"ping\r\n", b"quit\r\n", timeout=5)
    finally:
        server.stop()
    ok = reply == b"You said: ping\r\nGoodbye.\r\n"
    return Line("practice server", ok, "an echo server answered on 127.0.0.1" if ok else f"unexpected reply {reply!r}",
                "restart the kernel; if it persists, run `make test` to see what is broken")


CHECKS: tuple[Callable[[], Line], ...] = (_python, _twisted, _tls, _ssh, *(_tool(name) for name in TOOLS),
                                          _reactor, _practice_server)


def check_environment() -> Report:
    """Run every check; a check that crashes is a failed line with the error, not an exception."""
    report = Report()
    for check in CHECKS:
        try:
            report.lines.append(check())
        except Exception as error:  # a missing package, say: report it as that line's failure
            name = check.__name__.lstrip("_").replace("_", " ")
            report.lines.append(Line(name, False, f"{type(error).__name__}: {error}",
                                     "run `make lab` to install everything, then restart the kernel"))
    return report

