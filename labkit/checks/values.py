"""How values appear in a check's report: once, in the form the learner would write them.

Promises:

* :func:`shown` gives bytes as ``b'...'``, text as ``'...'``, anything else as its ``repr``: the difference
  between bytes and text, which is what most mistakes in network code come down to, stays visible.
* :func:`short` cuts a long value's shown form; the result is a :class:`Shown`, which is never quoted a second
  time, alone or inside a tuple or list.
"""

from __future__ import annotations

__all__ = ["Shown", "short", "shown"]


class Shown(str):
    """Text already in its shown form: it shows as itself, never quoted again."""

    def __repr__(self) -> str:
        return str(self)


def shown(value) -> str:
    """The value as the learner would write it in Python."""
    return str(value) if isinstance(value, Shown) else repr(value)


def short(value, limit: int = 80) -> Shown:
    """The shown form of ``value``, cut to ``limit`` characters (ending in ``...``) when longer."""
    text = shown(value)
    return Shown(text if len(text) <= limit else text[:limit - 3] + "...")
