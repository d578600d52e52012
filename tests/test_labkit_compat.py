"""labkit.compat: each way labkit leans on how Twisted is built still holds with the installed Twisted.

A failure here names the function of labkit/compat.py that a Twisted release broke: read its docstring for what
it works around, then adapt it to the new Twisted."""

import sys
import time

import pytest

from labkit import bridge, compat


def _seen_while(schedule, reactor) -> tuple | None:
    """Have the reactor thread block in a call ``schedule`` makes it run; what compat says it runs meanwhile."""
    schedule()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(bridge._state["ident"])
        found = frame is not None and compat.call_the_reactor_loop_makes(frame)
        if found:
            return found
        time.sleep(0.01)
    return None


@pytest.mark.parametrize("how", ["a timed call (callLater)", "a call carried over from a thread (callFromThread)"])
def test_call_the_reactor_loop_makes_names_the_call_that_blocks_the_reactor(how):
    reactor = bridge.get_reactor()
    seconds = 0.7 if how.startswith("a timed") else 0.8
    if how.startswith("a timed"):
        schedule = lambda: reactor.callFromThread(reactor.callLater, 0, time.sleep, seconds)  # noqa: E731
    else:
        schedule = lambda: reactor.callFromThread(time.sleep, seconds)  # noqa: E731
    found = _seen_while(schedule, reactor)
    assert found == (time.sleep, (seconds,)), (
        f"labkit.compat.call_the_reactor_loop_makes no longer finds {how} in twisted/internet/base.py's "
        f"runUntilCurrent (it found {found!r}): Twisted changed that loop; adapt the function to it")
    bridge.react(lambda reactor: None, timeout=10)  # the reactor answers again once the sleep is over


def test_call_the_reactor_loop_makes_leaves_other_frames_alone():
    assert compat.call_the_reactor_loop_makes(sys._getframe()) is None
