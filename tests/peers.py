"""Independent peers for the tests (Debian's and PyPI's programs): found, or the test is skipped naming how to
install them; under ``CI=true`` (where .ci/run installs every peer) a missing peer fails its test instead."""

from __future__ import annotations

import os
import shutil

import pytest


def missing(message: str):
    """Skip the running test with ``message`` (how to install what is missing); fail it under CI=true."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def need(program: str, package: str) -> str:
    """The path of ``program`` (a name on PATH or an absolute path), or :func:`missing` naming its package."""
    found = shutil.which(program) or (program if os.path.exists(program) else None)
    if found is None:
        missing(f"{program} is missing: sudo apt-get install {package}")
    return found
