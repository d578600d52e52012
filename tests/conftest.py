"""Shared fixtures: one labkit reactor per test process, no practice server leaks between tests, and what Twisted
logs during a test (``logged``).

`make test` deals whole test files (and notebooks, for nbval) out to several processes (pytest-xdist,
``--dist loadfile``): a file's module fixtures are built once, in one process.
"""

import pytest
from twisted.logger import capturedLogs

import labkit


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    yield
    if labkit.bridge._state["reactor"] is not None:
        labkit.stop_all()


@pytest.fixture
def logged():
    """Every event Twisted's global log publishes while the test runs."""
    with capturedLogs() as events:
        yield events
