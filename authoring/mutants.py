"""Mutation runs of the exercises' solutions: how many wrong answers does each check catch?

``python -m authoring.mutants [CHAPTER ...] [--exercise 10.1] [--out FILE]`` changes the part of each solution
that a learner writes (the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``) one small way at a time,
runs the exercise's check cell after each change in the chapter's complete notebook (:class:`labkit.testing.Workbook`,
so exactly as nbgrader grades it), and prints a table per exercise: mutants made, killed (the check failed),
survived (it passed). A survivor is a wrong answer the check lets through: make the check stronger, or list it as
equivalent, with the reason it is not wrong, in ``authoring/equivalent/chNN.json`` (``{"10.1": {"<the mutant's
description>": "<why it is still right>"}}``).

The changes (a small AST mutator: no mutation tool runs on notebook cells): arithmetic and comparison operators
swapped, ``and``/``or`` swapped, ``not`` dropped, constants changed (a number plus one, a text or bytes emptied or
changed, a truth value flipped), a returned value replaced by ``None``, a statement removed, the first two
arguments of a call swapped. A change that does not compile or leaves the code as it was is not counted.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Mutant", "equivalent", "mutants", "run"]

EQUIVALENT_FOLDER = Path(__file__).resolve().parent / "equivalent"


def equivalent(chapter_number: int) -> dict[str, dict[str, str]]:
    """Survivors that are not wrong answers: exercise number -> {mutant's description: why it is still right}."""
    path = EQUIVALENT_FOLDER / f"ch{chapter_number:02d}.json"
    return json.loads(path.read_text()) if path.exists() else {}

_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Div: ast.Mult,
          ast.Mod: ast.Mult, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
          ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot,
          ast.IsNot: ast.Is, ast.And: ast.Or, ast.Or: ast.And}


@dataclass(frozen=True)
class Mutant:
    description: str  # "line 3: `return n * 2` -> `return n // 2`"
    source: str  # the whole solution cell with the change


def _changed_constant(value):
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1]
    if isinstance(value, float):
        return [value * 2 if value else 1.0]
    if isinstance(value, str):
        return ["" if value else "x"] + ([value + "x"] if value else [])
    if isinstance(value, bytes):
        return [b"" if value else b"x"]
    return []


def _variants(node: ast.AST) -> Iterator[tuple[str, callable]]:
    """(what the change is, a function that makes it on a copy of ``node``)."""
    if isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in _SWAPS:
        yield "operator", lambda n: setattr(n, "op", _SWAPS[type(n.op)]())
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAPS:
                yield "comparison", lambda n, i=i: n.ops.__setitem__(i, _SWAPS[type(n.ops[i])]())
    if isinstance(node, ast.Constant):
        for new in _changed_constant(node.value):
            yield "constant", lambda n, new=new: setattr(n, "value", new)
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "returned value", lambda n: setattr(n, "value", ast.Constant(None))
    if isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args):
        yield "arguments swapped", lambda n: n.args.__setitem__(slice(0, 2), [n.args[1], n.args[0]])


def _unary_not(node: ast.AST):
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _indent_of(region: str) -> str:
    first = next(line for line in region.splitlines() if line.strip())
    return first[:len(first) - len(first.lstrip())]


def mutants(solution_cell: str) -> list[Mutant]:
    """Every mutant of the learner's parts of ``solution_cell`` (see the module's docstring); a cell with several
    regions (one per method) names the region in each description after the first."""
    from labkit.testing import solution_regions

    made = []
    for number, region in enumerate(solution_regions(solution_cell), 1):
        for mutant in _region_mutants(solution_cell, region):
            made.append(mutant if number == 1 else Mutant(f"region {number}, {mutant.description}", mutant.source))
    return made


def _parsed(region: str) -> tuple[ast.Module, int, str] | None:
    """The region parsed: (tree, header lines to drop after unparsing, indent to add back), or None. A region that
    does not parse on its own (it starts in a method's body and goes on at class level) is parsed inside a header
    per missing level (``class _:``, then ``async def _():``), each at its own column, so its lines keep theirs."""
    try:
        return ast.parse(textwrap.dedent(region)), 0, _indent_of(region)
    except SyntaxError:
        pass
    columns = range(0, len(_indent_of(region)), 4)
    headers = [" " * c + ("async def _():" if c == columns[-1] else "class _:") for c in columns] if columns else []
    try:
        return ast.parse("\n".join(headers) + "\n" + region), len(headers), ""
    except SyntaxError:
        return None


def _unwrapped(code: str, headers: int, original: str) -> str | None:
    """``code`` without its ``headers`` header lines, or None when a change touched them (the region would no
    longer fit in its place)."""
    innermost = "async def _():\n"
    prefix = original[:original.index(innermost) + len(innermost)] if headers else ""
    return code[len(prefix):] if code.startswith(prefix) else None


def _region_mutants(solution_cell: str, region: str) -> list[Mutant]:
    parsed = _parsed(region)
    if parsed is None:
        return []
    tree, headers, indent = parsed
    original = ast.unparse(tree)
    made: dict[str, Mutant] = {}

    def emit(new_tree: ast.Module, line: int, removed: ast.stmt | None = None) -> None:
        try:
            code = ast.unparse(ast.fix_missing_locations(new_tree))
            compile("async def _mutant():\n" + textwrap.indent(code, "    "), "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError):
            return
        if code == original:
            return
        text = textwrap.indent(code, indent) if not headers else _unwrapped(code, headers, original)
        if text is None or not text.strip():
            return
        line -= headers
        if removed is not None:
            description = f"line {line}: `{ast.unparse(removed).splitlines()[0]}` removed"
        else:
            old, new = next(((b, a) for b, a in zip(original.splitlines(), code.splitlines()) if b != a), ("", ""))
            description = f"line {line}: `{old.strip()}` -> `{new.strip()}`"
        cell = solution_cell.replace(region, text + "\n", 1)
        made.setdefault(description, Mutant(description, cell))

    nodes = list(ast.walk(tree))
    for index, node in enumerate(nodes):
        line = getattr(node, "lineno", 0)
        for _what, change in _variants(node):
            new_tree = copy.deepcopy(tree)
            change(list(ast.walk(new_tree))[index])
            emit(new_tree, line)
        if _unary_not(node):
            new_tree = copy.deepcopy(tree)
            target = list(ast.walk(new_tree))[index]
            for parent in ast.walk(new_tree):
                for name, value in ast.iter_fields(parent):
                    if value is target:
                        setattr(parent, name, target.operand)
                    elif isinstance(value, list) and target in value:
                        value[value.index(target)] = target.operand
            emit(new_tree, line)
        for name, body in ast.iter_fields(node):
            if isinstance(body, list) and body and all(isinstance(s, ast.stmt) for s in body):
                for position in range(len(body)):
                    new_tree = copy.deepcopy(tree)
                    new_body = getattr(list(ast.walk(new_tree))[index], name)
                    removed = new_body.pop(position)
                    if not new_body:
                        new_body.append(ast.Pass())
                    emit(new_tree, getattr(removed, "lineno", line), removed)
    return list(made.values())


@dataclass
class Tally:
    exercise: str
    made: int = 0
    killed: int = 0
    survivors: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        counted = self.made - len(self.equivalent)
        return 100.0 * self.killed / counted if counted else 100.0


def run(chapter, only: str | None = None, out=sys.stdout) -> list[Tally]:
    """Mutate every exercise of ``chapter`` (or only the one numbered ``only``) and tally its check's verdicts."""
    from labkit.testing import MistakeDoesNotRun, Workbook, exercise_number, grading

    tallies = []
    with Workbook(chapter) as book:
        known_by_exercise = equivalent(int(book.path.name[:2]))
        ids = [grading(c)["grade_id"] for c in book.notebook.cells if grading(c).get("solution")]
        for grade_id in ids:
            number = exercise_number(grade_id)
            if only and only != number:
                continue
            exercise = book.exercise(grade_id)
            tally, started = Tally(number), time.monotonic()
            known = known_by_exercise.get(number, {})
            for mutant in mutants(exercise.solution):
                tally.made += 1
                try:
                    passed = exercise.run_with(mutant.source).passed
                except MistakeDoesNotRun:  # the cell itself raises when run: the learner sees that at once
                    passed = False
                if not passed:
                    tally.killed += 1
                elif mutant.description in known:
                    tally.equivalent.append(mutant.description)
                else:
                    tally.survivors.append(mutant.description)
            tally.seconds = time.monotonic() - started
            tallies.append(tally)
            print(_row(tally), file=out, flush=True)
            for survivor in tally.survivors:
                print(f"    survived: {survivor}", file=out, flush=True)
    return tallies


def _row(tally: Tally) -> str:
    return (f"| {tally.exercise} | {tally.made} | {tally.killed} | {len(tally.survivors)} | "
            f"{len(tally.equivalent)} | {tally.score:.0f} % | {tally.seconds:.0f} s |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authoring.mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", default=[str(n) for n in range(1, 12)])
    parser.add_argument("--exercise", help="only this exercise, e.g. 10.1")
    parser.add_argument("--target", type=float, default=90.0, help="percent killed every exercise must reach")
    args = parser.parse_args(argv)
    print("| exercise | mutants | killed | survived | equivalent | killed % | time |")
    print("|---|---|---|---|---|---|---|")
    tallies = []
    for chapter in args.chapters:
        tallies += run(chapter, args.exercise)
    below = [t.exercise for t in tallies if t.score < args.target]
    if below:
        print(f"below {args.target:.0f} %: {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
