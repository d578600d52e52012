"""NNTP from the check's own thread with the standard library's ``nntplib`` (PyPI's ``standard-nntplib`` on
Python 3.13 and later): a newsreader that shares nothing with Twisted or with the learner's code.

Promises: :func:`newsreader` opens a session bounded by ``timeout`` per answer; :func:`ask` runs one nntplib
call and never raises for a server that refuses or misbehaves: it returns the value, or a
:class:`~labkit.checks.values.Shown` with the server's refusal (``441 posting failed: ...``) or what went wrong.
"""

from __future__ import annotations

from labkit.checks import limits
from labkit.checks.values import Shown

__all__ = ["ask", "newsreader"]


def newsreader(port: int, host: str = "127.0.0.1", timeout: float = limits.REPLY):
    """An ``nntplib.NNTP`` session with the server at ``host:port`` (use it in a ``with`` block)."""
    from servers.news.probes import nntplib

    return nntplib().NNTP(host, port, timeout=timeout, readermode=True)


def ask(reader, method: str, *args):
    """``reader.METHOD(*args)``: its value, or how it failed as words (a refusal is the server's own line)."""
    from servers.news.probes import nntplib

    module = nntplib()
    try:
        return getattr(reader, method)(*args)
    except (module.NNTPTemporaryError, module.NNTPPermanentError) as refused:
        return Shown(str(refused))
    except (module.NNTPError, OSError, EOFError) as failed:
        return Shown(f"no usable answer: {type(failed).__name__}: {failed}")
