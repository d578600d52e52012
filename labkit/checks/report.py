"""How a check's result looks: one box, as text and as HTML, shown once.

Promises:

* A pass is one line per expectation. An exercise not written yet (its stub raised NotImplementedError) is a short
  box: that, and where to start (the check's ``start``), at most :data:`UNWRITTEN_LINES` lines, no transcript.
* A fail shows the problem, each expectation (with what was sent, expected and got for the ones that failed,
  values as the learner would write them), the part of the wire transcript around the first difference (at most
  :data:`WIRE_LINES` lines in the text; the HTML keeps the whole session in a closed "whole session" detail)
  and the hint.
* Tables read left to right: every cell is aligned left explicitly (JupyterLab right-aligns table cells).
* :func:`display` shows the box in a notebook; outside one it prints a pass (a fail's text travels in the
  exception instead).
"""

from __future__ import annotations

import html

from labkit.checks.values import shown

__all__ = ["display", "html_box", "text"]

PASS_COLOUR, FAIL_COLOUR = "#1a7f37", "#cf222e"
UNWRITTEN_LINES = 15
"""At most this many lines for an exercise not written yet."""
WIRE_LINES = 16
"""At most this many transcript lines in a failing box's text."""
LEFT = "style='text-align:left;vertical-align:top;padding:1px 8px 1px 0'"


def unwritten(check) -> bool:
    """The learner's code is not written yet: the box says only that, and where to start."""
    from labkit.checks.check import NOT_WRITTEN

    return check.problem == NOT_WRITTEN


def _unwritten_text(check) -> str:
    lines = [f"FAIL  {check.title}",
             "  your code is not written yet: replace `raise NotImplementedError()` in the exercise cell with your "
             "code, run that cell, then this one."]
    if check.start:
        lines.append(f"  start with: {check.start}")
    return "\n".join(lines[:UNWRITTEN_LINES])


def wire_excerpt(transcript, check) -> list[str]:
    """The transcript lines that matter: those around the first line that shows what the first failed
    expectation sent or got, else the last ones (a session usually goes wrong where it ends)."""
    lines = str(transcript).splitlines()
    if len(lines) <= WIRE_LINES:
        return lines
    first = next((e for e in check.expectations if not e.ok), None)
    needles = [shown(value).strip("'\"b") for value in ((first.sent, first.got) if first else ())
               if value is not None]
    needles = [needle[:40] for needle in needles if len(needle) >= 3]
    at = next((i for i, line in enumerate(lines) if any(needle in line for needle in needles)), None)
    if at is None:
        start = len(lines) - WIRE_LINES
    else:
        start = max(0, min(at - WIRE_LINES // 2, len(lines) - WIRE_LINES))
    excerpt = lines[start:start + WIRE_LINES]
    if start > 0:
        excerpt.insert(0, f"... ({start} lines before)")
    if start + WIRE_LINES < len(lines):
        excerpt.append(f"... ({len(lines) - start - WIRE_LINES} lines after)")
    return excerpt


def text(check) -> str:
    if not check.passed and unwritten(check):
        return _unwritten_text(check)
    lines = [("PASS  " if check.passed else "FAIL  ") + check.title]
    if check.problem:
        lines.append(f"  problem:  {check.problem}")
    for e in check.expectations:
        lines.append(f"  [{'ok' if e.ok else 'XX'}] {e.what}")
        if not e.ok:
            if e.sent is not None:
                lines.append(f"       sent:     {shown(e.sent)}")
            lines.append(f"       expected: {shown(e.expected)}")
            lines.append(f"       got:      {shown(e.got)}")
    if not check.passed:
        if check.transcript is not None:
            lines.append("  on the wire:")
            lines.extend("    " + line for line in wire_excerpt(check.transcript, check))
        if check.hint:
            lines.append(f"  hint: {check.hint}")
    return "\n".join(lines)


def _row(label: str, value) -> str:
    return (f"<tr><th {LEFT}>{label}</th><td {LEFT}><code style='white-space:pre-wrap'>"
            f"{html.escape(shown(value))}</code></td></tr>")


def html_box(check) -> str:
    colour = PASS_COLOUR if check.passed else FAIL_COLOUR
    if not check.passed and unwritten(check):
        body = "<br>".join(html.escape(line.strip()) for line in _unwritten_text(check).splitlines()[1:])
        return (f"<div style='border-left:4px solid {colour};padding:4px 10px;text-align:left'>"
                f"<b style='color:{colour}'>FAIL</b> {html.escape(check.title)}<div>{body}</div></div>")
    rows = []
    for e in check.expectations:
        detail = ""
        if not e.ok:
            parts = ([_row("sent", e.sent)] if e.sent is not None else []) + [_row("expected", e.expected),
                                                                             _row("got", e.got)]
            detail = f"<table style='margin-left:2em'>{''.join(parts)}</table>"
        rows.append(f"<div>{'✔' if e.ok else '✘'} {html.escape(e.what)}{detail}</div>")
    problem = f"<div><b>Problem:</b> {html.escape(check.problem)}</div>" if check.problem else ""
    wire = ""
    if not check.passed and check.transcript is not None and hasattr(check.transcript, "_repr_html_"):
        excerpt = html.escape("\n".join(wire_excerpt(check.transcript, check)))
        wire = (f"<div>on the wire:<pre style='margin:0'>{excerpt}</pre></div>"
                f"<details><summary>the whole session</summary>{check.transcript._repr_html_()}</details>")
    hint = f"<div><b>Hint:</b> {html.escape(check.hint)}</div>" if check.hint and not check.passed else ""
    verdict = "PASS" if check.passed else "FAIL"
    return (f"<div style='border-left:4px solid {colour};padding:4px 10px;text-align:left'>"
            f"<b style='color:{colour}'>{verdict}</b> {html.escape(check.title)}{problem}{''.join(rows)}"
            f"{wire}{hint}</div>")


def display(check) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display as show
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        show(check)
    elif check.passed:
        print(check.text())
