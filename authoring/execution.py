"""Running a notebook top to bottom in a fresh kernel, patient with a busy machine.

A kernel that starts on a loaded machine (several kernels at once, a test suite in parallel) may take far longer
than nbclient's default minute to answer its first request; :data:`KERNEL_STARTUP` gives it five. The same figure
is the course's nbgrader setting (``course/nbgrader_config.py``) and the tests' (``tests/kernel.py``).
"""

from __future__ import annotations

import pathlib

import nbformat

KERNEL_STARTUP = 300  # seconds a fresh kernel may take to answer its first request
CELL_TIMEOUT = 120  # seconds a cell may take, in the notebook tests and in autograde


def client(notebook: nbformat.NotebookNode, folder: pathlib.Path, *, timeout: int = CELL_TIMEOUT, **options):
    """An nbclient ``NotebookClient`` for ``notebook`` in a fresh ``python3`` kernel whose working folder is
    ``folder``, with these limits; ``options`` go to ``NotebookClient`` too."""
    from nbclient import NotebookClient  # an author's tool: the learner's environment has no need of it

    return NotebookClient(notebook, timeout=timeout, startup_timeout=KERNEL_STARTUP, kernel_name="python3",
                          resources={"metadata": {"path": str(folder)}}, **options)


def execute(notebook: nbformat.NotebookNode, folder: pathlib.Path, **limits) -> nbformat.NotebookNode:
    """Run every cell of ``notebook`` in place, as :func:`client` sets it up; returns it. Stops at a cell that
    raises unless it is tagged ``raises-exception`` (nbclient's rule)."""
    client(notebook, folder, **limits).execute()
    return notebook
