"""How a check's result looks: one box, as text and as HTML, shown once.

Promises:

* A pass is one line. A fail shows the problem, each expectation (with what was sent, expected and got for the
  ones that failed, values as the learner would write them), the wire transcript and the hint.
* Tables read left to right: every cell is aligned left explicitly (JupyterLab right-aligns table cells).
* :func:`display` shows the box in a notebook; outside one it prints a pass (a fail's text travels in the
  exception instead).
"""

from __future__ import annotations

import html

from labkit.checks.values import shown

__all__ = ["display", "html_box", "text"]

PASS_COLOUR, FAIL_COLOUR = "#1a7f37", "#cf222e"
LEFT = "style='text-align:left;vertical-align:top;padding:1px 8px 1px 0'"


def text(check) -> str:
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
            lines.extend("    " + line for line in str(check.transcript).splitlines())
        if check.hint:
            lines.append(f"  hint: {check.hint}")
    return "\n".join(lines)


def _row(label: str, value) -> str:
    return (f"<tr><th {LEFT}>{label}</th><td {LEFT}><code style='white-space:pre-wrap'>"
            f"{html.escape(shown(value))}</code></td></tr>")


def html_box(check) -> str:
    colour = PASS_COLOUR if check.passed else FAIL_COLOUR
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
        wire = f"<details open><summary>on the wire</summary>{check.transcript._repr_html_()}</details>"
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
