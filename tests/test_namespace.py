"""labkit's top level is what a learner's cells use; every name the notebooks use from it is there."""

import importlib.util
import json
import pathlib
import re

import labkit

NOTEBOOKS = sorted(pathlib.Path(__file__).resolve().parent.parent.glob("notebooks/**/*.ipynb"))
# Names the notebooks' prose teaches without a cell using them yet (the way to give a wait more time), and the
# folder that outlives no kernel, which replaces the notebooks' tempfile.mkdtemp calls chapter by chapter.
TAUGHT = {"set_timeout", "wait", "temporary_folder"}


def names_the_notebooks_use() -> set[str]:
    used = set()
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                used.update(re.findall(r"\blabkit\.([A-Za-z_]\w*)", "".join(cell["source"])))
    return used


def test_every_name_a_notebook_uses_is_there():
    used = names_the_notebooks_use()
    assert {"react", "serve", "show_page"} <= used  # the notebooks were read
    missing = {name for name in used
               if not hasattr(labkit, name) and importlib.util.find_spec(f"labkit.{name}") is None}
    assert not missing


def test_the_top_level_holds_only_what_learners_use():
    assert set(labkit.__all__) <= names_the_notebooks_use() | TAUGHT
    for internal in ("Check", "CheckFailed", "Server", "Transcript", "RecordingFactory", "run_in_reactor",
                     "in_reactor_thread", "shutdown", "background"):
        assert internal not in labkit.__all__ and not hasattr(labkit, internal), internal
