"""For tests of exercise checks: run a check that must fail, and get what it told the learner."""

import pytest

from labkit.checks import CheckFailed


def fails(check, *args) -> str:
    """Run ``check(*args)``, which must fail; return its message (the text of its FAIL box)."""
    with pytest.raises(CheckFailed) as failed:
        check(*args)
    message = str(failed.value)
    assert message.startswith("FAIL")
    return message
