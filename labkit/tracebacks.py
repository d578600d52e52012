"""Short tracebacks for learners: the frames of their own code, and no path of this machine's libraries.

Promises:

* :func:`short_traceback` formats at most a few frames, the innermost of the learner's own code (cells,
  programs); library and labkit frames only when there is no other, and then with their path cut to the part
  inside the library (``twisted/web/server.py``), so nothing shown or saved in a notebook names a folder of the
  machine it ran on.
* :func:`failure_text` does the same for a Twisted ``Failure``: why it was logged, where, and the exception.
"""

from __future__ import annotations

import re
import traceback

__all__ = ["failure_text", "short_traceback"]

_LIBRARY = re.compile(r"^.*/(?:site-packages|dist-packages)/|^.*/lib/python\d+\.\d+/")
_OURS = ("/labkit/", "/servers/")


def _library(filename: str) -> bool:
    path = filename.replace("\\", "/")
    return bool(_LIBRARY.match(path)) or any(part in path for part in _OURS)


def _shortened(frame: traceback.FrameSummary) -> traceback.FrameSummary:
    path = frame.filename.replace("\\", "/")
    inside = _LIBRARY.sub("", path)
    for part in _OURS:
        if part in inside:
            inside = part.strip("/") + "/" + inside.split(part, 1)[1]
    return traceback.FrameSummary(inside, frame.lineno, frame.name, line=frame.line)


def short_traceback(frames: list[traceback.FrameSummary], limit: int = 3) -> str:
    """The innermost ``limit`` frames of the learner's own code (or the innermost frame at all), formatted."""
    own = [frame for frame in frames if not _library(frame.filename)]
    chosen = own[-limit:] or [_shortened(frame) for frame in frames[-1:]]
    return "".join(traceback.format_list(chosen))


def failure_text(failure, why: str = "") -> str:
    """``why`` (such as "Unhandled Error"), where the failure happened, and its exception, in a few lines."""
    frames = [traceback.FrameSummary(filename, lineno, name) for name, filename, lineno, *_ in failure.frames]
    heading = f"{why}\n" if why else ""
    return f"{heading}{short_traceback(frames)}{failure.type.__name__}: {failure.getErrorMessage()}\n"
