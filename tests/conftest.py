"""Shared fixtures: one labkit reactor per test process, and no practice server leaks between tests.

`make test` deals the tests out to several processes (pytest-xdist, ``--dist loadgroup``) in groups: a test file
is one group (its module fixtures are built once), except that a test parametrized by ``chapter`` is grouped by
file and chapter (the chapter notebooks' and nbgrader's tests run a chapter's notebooks once for all its tests,
and the chapters spread over the processes); each notebook's nbval cells are one group.
"""

import pytest

import labkit


@pytest.fixture(autouse=True)
def _no_leftover_servers():
    yield
    if labkit.bridge._state["reactor"] is not None:
        labkit.stop_all()


def _group(item: pytest.Item) -> str:
    group = item.path.name
    chapter = getattr(getattr(item, "callspec", None), "params", {}).get("chapter")
    return f"{group}:{chapter.stem}" if chapter is not None else group


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
