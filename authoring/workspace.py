"""A learner's own copies of the chapters (``make lab``): new chapters come in, a learner's file is never touched."""

from __future__ import annotations

import pathlib


def chapters(folder: pathlib.Path) -> list[pathlib.Path]:
    """The chapter notebooks (``NN-*.ipynb``) of ``folder``, in order."""
    return sorted(folder.glob("[0-9][0-9]-*.ipynb"))


def fill_workspace(copies: pathlib.Path, workspace: pathlib.Path) -> list[pathlib.Path]:
    """Copy each chapter of ``copies`` that ``workspace`` lacks; returns the files added."""
    workspace.mkdir(parents=True, exist_ok=True)
    added = []
    for chapter in chapters(copies):
        target = workspace / chapter.name
        try:
            with target.open("xb") as mine:  # "x": never open a file that exists
                mine.write(chapter.read_bytes())
        except FileExistsError:
            continue
        added.append(target)
    return added
