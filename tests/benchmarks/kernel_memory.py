"""A Jupyter kernel's memory after each chapter notebook: every ``notebooks/NN-*.ipynb`` is run top to bottom in a
fresh kernel (nbclient, as ``python -m authoring execute`` runs it, without saving anything), and the kernel's RSS is
read from /proc when the last cell is done, before the kernel shuts down. Target: at most 150 MB per kernel, so a
class of 100 fits one hub machine. Cells that raise on purpose carry the ``raises-exception`` tag and count.
"""

from __future__ import annotations

import pathlib
import sys

TARGET_MB = 150
NOTEBOOKS = pathlib.Path(__file__).resolve().parents[2] / "notebooks"


def kernel_rss(path: pathlib.Path, timeout: int = 600) -> int:
    """Bytes of resident memory of the kernel that has just run the notebook at ``path``."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        pid = client.km.provisioner.process.pid
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def report() -> bool:
    print(f"kernel RSS after running each chapter notebook (target <= {TARGET_MB} MB):")
    within = True
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        megabytes = kernel_rss(path) / 2**20
        within = within and megabytes <= TARGET_MB
        print(f"  {path.name:40} {megabytes:7.1f} MB")
    return within


if __name__ == "__main__":
    sys.exit(0 if report() else 1)
