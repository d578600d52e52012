"""How a call into the learner's code ended, in words that compare well in an expectation.

Promises:

* ``Outcome(fn, *args, timeout=..., blocking=False)`` calls the learner's ``fn`` as
  :func:`labkit.checks.calls.call_learner` does and keeps its value or its error; it never raises, except for an
  unwritten stub (``NotImplementedError``), which ends the check with "not written yet".
* :meth:`Outcome.described` says how it ended: ``it fired with b'...'``, ``it raised ValueError: ...``, ``it
  did not finish within the time limit``, or for a twisted.web error ``web.error.Error, status 404`` (the same
  words as :func:`http_error`). These are words, not values: a report shows them without quotes.
"""

from __future__ import annotations

from labkit.bridge import LabTimeout
from labkit.checks import limits
from labkit.checks.calls import call_learner
from labkit.checks.values import Shown, short

__all__ = ["Outcome", "http_error"]


def http_error(status) -> Shown:
    """How an outcome that failed with ``twisted.web.error.Error`` of this status is described."""
    return Shown(f"web.error.Error, status {status}")


class Outcome:
    """How a call into the learner's code ended."""

    def __init__(self, fn, *args, timeout: float = limits.LEARNER_CALL, blocking: bool = False):
        self.value = None
        self.error = None
        try:
            self.value = call_learner(fn, *args, timeout=timeout, blocking=blocking)
            self.ok = True
        except NotImplementedError:
            raise
        except LabTimeout:
            self.ok, self.error = False, "it did not finish within the time limit"
        except Exception as failed:  # noqa: BLE001 - any failure of the learner's code is an outcome
            self.ok, self.error = False, failed

    def described(self) -> Shown:
        from twisted.web import error as web_error

        from labkit.progress import describe

        if self.ok:
            return Shown(f"it fired with {short(self.value)}")
        if isinstance(self.error, web_error.Error):
            return http_error(self.error.status.decode("ascii", "replace"))
        if isinstance(self.error, str):
            return Shown(self.error)
        return Shown(f"it raised {describe(self.error)}")

    def shown(self, limit: int = 80):
        """The value (cut short) when it fired, else how it ended: for an expectation's ``got``."""
        return short(self.value, limit) if self.ok else self.described()
