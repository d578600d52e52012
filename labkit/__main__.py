"""Maintenance commands.

``python -m labkit execute NOTEBOOK...``: run complete notebooks top to bottom in a fresh kernel (in their own
folder) and save them with their outputs, as they are committed.
``python -m labkit learner-copies [FOLDER] [--check]``: write (or, with --check, verify) the learner copies.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from labkit.learner import stale, write_learner_copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labkit")
    commands = parser.add_subparsers(dest="command", required=True)
    copies = commands.add_parser("learner-copies", help="write notebooks/learner/ from the complete notebooks")
    copies.add_argument("folder", nargs="?", default="notebooks", type=pathlib.Path)
    copies.add_argument("--check", action="store_true", help="only report copies that are out of date")
    execute = commands.add_parser("execute", help="run notebooks in a fresh kernel and save their outputs")
    execute.add_argument("notebooks", nargs="+", type=pathlib.Path)
    execute.add_argument("--timeout", type=int, default=120, help="seconds a cell may take")
    args = parser.parse_args(argv)
    if args.command == "execute":
        return _execute(args.notebooks, args.timeout)
    if args.check:
        behind = stale(args.folder)
        for path in behind:
            print(f"out of date: {path} (run `make learner-copies`)", file=sys.stderr)
        return 1 if behind else 0
    for path in write_learner_copies(args.folder):
        print(f"wrote {path}")
    return 0


def _execute(paths: list[pathlib.Path], timeout: int) -> int:
    import nbformat
    from nbclient import NotebookClient

    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nbformat.write(notebook, path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
