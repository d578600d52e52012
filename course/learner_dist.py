"""The learner-only distribution: a ``learner`` branch for a class's nbgitpuller link.

``python course/learner_dist.py`` (run in the repository) adds a commit to the branch ``learner`` whose tree is the
current commit's learner copies (``notebooks/learner/``), the packages the kernel needs (``labkit``, ``servers``),
and what installs them (``pyproject.toml``, ``binder/``, ``Makefile``, the README): no complete notebook, no test
and no authoring tool, so no solution reaches a learner's home. Then ``git push origin learner``.

Promises: the branch only ever moves forward (each build's parent is the branch's previous tip, so nbgitpuller's
pulls in learners' homes stay fast-forwards); a build that would change nothing adds nothing; a learner notebook that
still holds a solution region stops the build, naming the notebook. Nothing in the work tree or index is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

INCLUDED = (".gitignore", "Makefile", "README.md", "pyproject.toml", "binder/", "labkit/", "servers/",
            "notebooks/learner/")
"""Paths (a trailing slash: a folder) of the source commit that the learner branch carries."""

SOLUTION_MARK = "### BEGIN SOLUTION"


def _git(repository: str, *args: str, data: bytes | None = None, environment: dict | None = None) -> str:
    done = subprocess.run(["git", "-C", repository, *args], input=data, capture_output=True, timeout=120,
                          env=environment)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout.decode()


def included(path: str) -> bool:
    """Whether ``path`` (relative to the repository's root) belongs in the learner distribution."""
    return any(path == name or (name.endswith("/") and path.startswith(name)) for name in INCLUDED)


def _entries(repository: str, source: str) -> list[tuple[str, str, str, str]]:
    listed = _git(repository, "ls-tree", "-r", "-z", "--full-tree", source)
    entries = []
    for record in filter(None, listed.split("\0")):
        meta, path = record.split("\t", 1)
        mode, kind, blob = meta.split()
        if included(path):
            entries.append((mode, kind, blob, path))
    return entries


def _refuse_solutions(repository: str, entries) -> None:
    for _, _, blob, path in entries:
        if path.endswith(".ipynb"):
            cells = json.loads(_git(repository, "cat-file", "blob", blob)).get("cells", [])
            if any(SOLUTION_MARK in "".join(cell.get("source", "")) for cell in cells):
                raise SystemExit(f"{path} still holds a solution region: regenerate the learner copies "
                                 "(make learner-copies), commit them, and build again")


def build(repository: str = ".", source: str = "HEAD", branch: str = "learner") -> str | None:
    """Add a commit made from ``source``'s learner files to ``branch``; return it, or ``None`` if nothing changed."""
    commit = _git(repository, "rev-parse", "--verify", f"{source}^{{commit}}").strip()
    entries = _entries(repository, commit)
    if not any(path.startswith("notebooks/learner/") for *_, path in entries):
        raise SystemExit(f"{source} has no notebooks/learner/: run make learner-copies and commit first")
    _refuse_solutions(repository, entries)
    with tempfile.TemporaryDirectory() as folder:
        environment = os.environ | {"GIT_INDEX_FILE": os.path.join(folder, "index")}
        listing = "".join(f"{mode} {blob}\t{path}\0" for mode, _, blob, path in entries).encode()
        _git(repository, "update-index", "--add", "-z", "--index-info", data=listing, environment=environment)
        tree = _git(repository, "write-tree", environment=environment).strip()
    previous = subprocess.run(["git", "-C", repository, "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
                              capture_output=True, text=True).stdout.strip()
    if previous and _git(repository, "rev-parse", f"{previous}^{{tree}}").strip() == tree:
        return None
    author = _git(repository, "log", "-1", "--format=%an%n%ae%n%ad", "--date=raw", commit).splitlines()
    identity = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
                for what, value in zip(("NAME", "EMAIL", "DATE"), author)}
    parents = ["-p", previous] if previous else []
    made = _git(repository, "commit-tree", tree, *parents, "-m",
                f"Learner copies and packages of {commit[:12]}", environment=os.environ | identity).strip()
    _git(repository, "update-ref", f"refs/heads/{branch}", made, previous or "0" * 40)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="HEAD", help="the commit to take the learner files from (HEAD)")
    parser.add_argument("--branch", default="learner", help="the branch to add the commit to (learner)")
    parser.add_argument("--repository", default=".", help="the repository (the current folder)")
    options = parser.parse_args(argv)
    made = build(options.repository, options.source, options.branch)
    print(f"{options.branch}: up to date" if made is None else f"{options.branch}: {made}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
