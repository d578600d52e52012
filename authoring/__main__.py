"""The authoring commands.

``python -m authoring execute NOTEBOOK...``: run complete notebooks top to bottom in a fresh kernel (in their own
folder) and save them with their outputs, as they are committed.
``python -m authoring learner-copies [FOLDER] [--check]``: write (or, with --check, verify) the learner copies.
``python -m authoring workspace [COPIES] [WORKSPACE]``: give a learner their own copy of every chapter (``make
lab``): copies the learner copies that the workspace does not have yet, and never touches a file already there, so
an update of the repository reaches new chapters without overwriting a learner's work. This one needs nothing but
the standard library: a learner's environment has no nbgrader.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from authoring.execution import CELL_TIMEOUT
from authoring.workspace import chapters, fill_workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authoring")
    commands = parser.add_subparsers(dest="command", required=True)
    copies = commands.add_parser("learner-copies", help="write notebooks/learner/ from the complete notebooks")
    copies.add_argument("folder", nargs="?", default="notebooks", type=pathlib.Path)
    copies.add_argument("--check", action="store_true", help="only report copies that are out of date")
    workspace = commands.add_parser("workspace", help="add the learner copies a workspace lacks, overwriting none")
    workspace.add_argument("copies", nargs="?", default="notebooks/learner", type=pathlib.Path)
    workspace.add_argument("workspace", nargs="?", default="workspace", type=pathlib.Path)
    execute = commands.add_parser("execute", help="run notebooks in a fresh kernel and save their outputs")
    execute.add_argument("notebooks", nargs="+", type=pathlib.Path)
    execute.add_argument("--timeout", type=int, default=CELL_TIMEOUT, help="seconds a cell may take")
    args = parser.parse_args(argv)
    if args.command == "execute":
        return _execute(args.notebooks, args.timeout)
    if args.command == "workspace":
        return _fill_workspace(args.copies, args.workspace)
    return _learner_copies(args.folder, args.check)


def _learner_copies(folder: pathlib.Path, check: bool) -> int:
    from authoring.learner import stale, write_learner_copies  # needs nbgrader, which only this command does

    if check:
        behind = stale(folder)
        for path in behind:
            print(f"out of date: {path} (run `make learner-copies`)", file=sys.stderr)
        return 1 if behind else 0
    for path in write_learner_copies(folder):
        print(f"wrote {path}")
    return 0


def _fill_workspace(copies: pathlib.Path, workspace: pathlib.Path) -> int:
    if not chapters(copies):
        print(f"no learner copies in {copies}: run this from the workbook's folder", file=sys.stderr)
        return 1
    added = fill_workspace(copies, workspace)
    for path in added:
        print(f"added {path}")
    kept = [p.name for p in chapters(workspace) if p not in added]
    if kept:
        print(f"kept your {len(kept)} notebook(s) in {workspace}/ as they are (to start a chapter afresh, rename "
              "your file and run `make lab` again)")
    return 0


def _execute(paths: list[pathlib.Path], timeout: int) -> int:
    import nbformat

    from authoring.execution import execute

    for path in paths:
        notebook = execute(nbformat.read(path, as_version=4), path.parent, timeout=timeout)
        nbformat.write(notebook, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
