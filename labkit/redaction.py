"""Jupyter's own secrets never shown: its cookies, XSRF values and tokens are masked in text and bytes.

Promise: :func:`redact_text` and :func:`redact_bytes` replace the value of every Jupyter credential they find
with ``[redacted]`` and leave everything else as it was. A learner's web server seen through Jupyter's proxy
receives the learner's Jupyter cookies and tokens with every request; transcripts, server logs and pages shown
in a notebook pass through here first, so those credentials never end up in a saved or submitted notebook.

What counts as a Jupyter credential: the ``_xsrf`` value (cookie, form field or query parameter), cookies named
``username-...`` (Jupyter server's login) and ``jupyterhub-...`` (JupyterHub's), ``token=`` query parameters,
``Authorization: token ...`` or ``Bearer ...``, and the ``X-XSRFToken`` header. A practice account's
``Authorization: Basic ...`` is the lesson itself and stays visible.

:func:`redact_text` also cuts the machine's folders off library paths (``/home/me/.venv/lib/python3.11/
site-packages/twisted/conch/...`` reads ``twisted/conch/...``): a traceback that a peer sent as text, or a
library printed, names no folder of the machine in a saved notebook.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact_bytes", "redact_text"]

REDACTED = "[redacted]"

# Each pattern keeps group 1 (the name and separator) and masks what follows it.
_PATTERNS = (
    # cookies and form/query fields: _xsrf=..., username-HOST-PORT=..., jupyterhub-session-id=..., token=...
    r"""((?<![\w-])(?:_xsrf|username-[\w.-]+|jupyterhub-[\w.-]+|token)=)(?:"[^"\r\n]*"|&quot;.*?&quot;|[^\s;&"'<>]+)""",
    # headers whose whole value is a credential
    r"((?<![\w-])X-XSRFToken[ \t]*:[ \t]*)[^\s\"'<>]+",
    r"(Authorization[ \t]*:[ \t]*(?:token|bearer)[ \t]+)[^\s\r\n\"'<>]+",
)
_TEXT = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)
_BYTES = re.compile(_TEXT.pattern.encode(), re.IGNORECASE)
_LIBRARY_FOLDER = re.compile(r"/[^\s'\"<>:\\]*?/(?:site|dist)-packages/"  # POSIX
                             r"|[A-Za-z]:\\[^\s'\"<>:]*?\\(?:site|dist)-packages\\")  # Windows


def _keep_name(match: re.Match) -> str:
    return next(group for group in match.groups() if group is not None) + REDACTED


def _keep_name_bytes(match: re.Match) -> bytes:
    return next(group for group in match.groups() if group is not None) + REDACTED.encode()


def redact_text(text: str) -> str:
    """``text`` with every Jupyter credential's value replaced by ``[redacted]``, and library paths without the
    machine's folders."""
    return _LIBRARY_FOLDER.sub("", _TEXT.sub(_keep_name, text))


def redact_bytes(data: bytes) -> bytes:
    """``data`` with every Jupyter credential's value replaced by ``[redacted]`` (bytes in, bytes out)."""
    return _BYTES.sub(_keep_name_bytes, data)
