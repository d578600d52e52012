"""Shared fixtures: one labkit reactor per test process, and no practice server leaks between tests."""

import pytest

import labkit


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    yield
    if labkit.bridge._state["reactor"] is not None:
        labkit.stop_all()
