"""Helpers for the claims tests (``tests/test_chapterNN_claims.py``): a bounded child interpreter, and a listening
port on the shared reactor.

The claims tests back the sentences of a notebook that no executed output there proves; the fixture that collects
what Twisted logs during a test, ``logged``, is in ``tests/conftest.py``.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.web import resource, server

import labkit

WAIT = 10


def run_python(code: str, **options) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this environment, bounded, and return what it printed."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, **options)


def listen(factory):
    """Listen with ``factory`` on a free loopback port of the shared reactor; returns the listening port."""
    return labkit.react(lambda reactor: reactor.listenTCP(0, factory, interface="127.0.0.1"), timeout=WAIT)


def stop_listening(port) -> None:
    """Stop a port :func:`listen` opened, and wait until it is closed."""
    labkit.react(lambda reactor: port.stopListening(), timeout=WAIT)


def serve_page(page: resource.Resource):
    """A twisted.web ``Site`` with ``page`` at /page, listening as :func:`listen` does."""
    root = resource.Resource()
    root.putChild(b"page", page)
    return listen(server.Site(root))


def deprecation_warnings(code: str) -> str:
    """Every warning a fresh interpreter shows while it runs ``code``, with all warnings on (text)."""
    ran = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=60)
    return ran.stderr


def assert_gone_from_python_3_13(module: str) -> None:
    """``module`` leaves the standard library in Python 3.13: on 3.13 and later it is not among the standard
    library's modules; before, importing it warns that it is slated for removal in Python 3.13."""
    if sys.version_info >= (3, 13):
        assert module not in sys.stdlib_module_names
    else:
        shown = deprecation_warnings(f"import {module}")
        assert f"'{module}' is deprecated and slated for removal in Python 3.13" in shown, shown
