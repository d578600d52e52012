"""Short tracebacks for learners: the frames of their own code, and no path of this machine's libraries.

Promises:

* :func:`short_traceback` formats at most a few frames, the innermost of the learner's own code (cells,
  programs); library and labkit frames only when there is no other, and then with their path cut to the part
  inside the library (``twisted/web/server.py``), so nothing shown or saved in a notebook names a folder of the
  machine it ran on.
* The carets under a frame's line are drawn the same way on every supported Python (3.11's and 3.12's way: the
  failing part of the line in ``^``, a binary operator or a subscript picked out with ``~`` around it), so a
  traceback saved in a notebook reads the same on 3.13, which anchors calls too.
* :func:`failure_text` does the same for a Twisted ``Failure``: why it was logged, where, and the exception.
"""

from __future__ import annotations

import ast
import linecache
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
    return "".join(_formatted(frame) for frame in chosen)


def _formatted(frame: traceback.FrameSummary) -> str:
    """The frame as ``traceback.format_list`` shows it, with the carets of :func:`carets` under its line."""
    plain = traceback.FrameSummary(frame.filename, frame.lineno, frame.name, line=frame.line)  # no positions
    return "".join(traceback.format_list([plain])) + carets(frame)


def carets(frame: traceback.FrameSummary) -> str:
    """The line of carets under the frame's source line ("" when the frame has no position, or the failing part
    is the whole line): ``^`` under the failing part, and for a binary operation ``~`` under its operands and
    ``^`` under the operator, for a subscript ``~`` under what is indexed and ``^`` under the brackets."""
    line = linecache.getline(frame.filename, frame.lineno).rstrip("\r\n")
    if getattr(frame, "colno", None) is None or getattr(frame, "end_colno", None) is None or not line.strip():
        return ""
    start = _characters(line, frame.colno)
    end = _characters(line, frame.end_colno) if frame.end_lineno == frame.lineno else len(line.rstrip())
    indent = len(line) - len(line.lstrip())
    segment = line[start:end]
    anchors = _anchors(segment) if frame.end_lineno == frame.lineno else None
    if end - start >= len(line.strip()) and not anchors:
        return ""  # the whole line failed: carets would say nothing more
    if anchors:
        left, right = anchors
        marks = "~" * left + "^" * (right - left) + "~" * (len(segment) - right)
    else:
        marks = "^" * len(segment)
    return "    " + " " * (start - indent) + marks + "\n"


def _characters(text: str, offset: int) -> int:
    """The character index of a UTF-8 byte ``offset`` into ``text`` (positions in code objects count bytes)."""
    return len(text.encode()[:offset].decode(errors="replace"))


def _anchors(segment: str) -> tuple[int, int] | None:
    """Where the ``^`` of a binary operator's or a subscript's brackets start and end in ``segment``."""
    try:
        tree = ast.parse(segment)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    expr = tree.body[0].value
    if isinstance(expr, ast.BinOp):  # the operator: after the left operand, past its closing parentheses
        left_end = _characters(segment, expr.left.end_col_offset)
        operator = segment[left_end:_characters(segment, expr.right.col_offset)]
        skipped = len(operator) - len(operator.lstrip())
        left = left_end + skipped
        right = left + 1 + (skipped + 1 < len(operator) and not operator[skipped + 1].isspace())
        while left < len(segment) and (segment[left].isspace() or segment[left] in ")#"):
            left, right = left + 1, right + 1
        return left, right
    if isinstance(expr, ast.Subscript):  # the brackets
        left = _characters(segment, expr.value.end_col_offset)
        right = _characters(segment, expr.slice.end_col_offset) + 1
        while left < len(segment) and segment[left] != "[":
            left += 1
        while right < len(segment) and segment[right] != "]":
            right += 1
        return left, min(right + 1, len(segment))
    return None


def failure_text(failure, why: str = "") -> str:
    """``why`` (such as "Unhandled Error"), where the failure happened, and its exception, in a few lines."""
    frames = [traceback.FrameSummary(filename, lineno, name) for name, filename, lineno, *_ in failure.frames]
    heading = f"{why}\n" if why else ""
    return f"{heading}{short_traceback(frames)}{failure.type.__name__}: {failure.getErrorMessage()}\n"
