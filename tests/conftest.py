"""Shared fixtures: one labkit reactor per test process, and no practice server leaks between tests.

`make test` deals whole test files (and notebooks, for nbval) out to several processes (pytest-xdist,
``--dist loadfile``): a file's module fixtures are built once, in one process.
"""

import pytest

import labkit


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    yield
    if labkit.bridge._state["reactor"] is not None:
        labkit.stop_all()

