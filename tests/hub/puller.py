"""The class link, followed as a browser follows it: a repository whose ``learner`` branch
``course/learner_dist.py`` built, nbgitpuller's page for the link, then the pull that page's script starts."""

from __future__ import annotations

import json
import os
import pathlib
import pwd
import subprocess
import sys
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
PULL_LIMIT = 120  # seconds for nbgitpuller's clone of the learner branch


def learner_repository(folder: pathlib.Path, reader: str) -> pathlib.Path:
    """A bare clone of this repository at ``folder/twisted-workbook`` (the class link's repository name), with
    the ``learner`` branch built by ``course/learner_dist.py``; owned by ``reader``, since git serves a local
    repository only to its owner (``safe.directory``), as a hosted one would serve anyone."""
    repository = folder / "twisted-workbook"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-hardlinks", str(ROOT), str(repository)], check=True,
                   capture_output=True, timeout=300)
    built = subprocess.run([sys.executable, str(ROOT / "course" / "learner_dist.py"), "--repository",
                            str(repository)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    account = pwd.getpwnam(reader)
    for path in (repository, *repository.rglob("*")):
        os.lchown(path, account.pw_uid, account.pw_gid)
    return repository


def link(user: str, repository: pathlib.Path, urlpath: str) -> str:
    """The README's class link for ``user``'s server (after the hub's ``user-redirect``), for ``repository``."""
    query = urllib.parse.urlencode({"repo": f"file://{repository}", "branch": "learner", "urlpath": urlpath})
    return f"/user/{user}/git-pull?{query}"


def pull(hub, user: str, repository: pathlib.Path, targetpath: str) -> list[dict]:
    """The events of the pull nbgitpuller's page starts (``git-pull/api``, a server-sent event stream), to the
    last: ``{"phase": "finished"}`` when the learner's copy is in place, ``{"phase": "error", ...}`` otherwise."""
    query = urllib.parse.urlencode({"repo": f"file://{repository}", "branch": "learner", "targetpath": targetpath})
    request = urllib.request.Request(f"{hub.url}/user/{user}/git-pull/api?{query}",
                                     headers={"Authorization": f"token {hub.token}"})
    events = []
    with urllib.request.urlopen(request, timeout=PULL_LIMIT) as stream:
        for line in stream:
            if line.startswith(b"data: "):
                events.append(json.loads(line[len(b"data: "):]))
                if events[-1].get("phase") in ("finished", "error"):
                    break
    return events


def files(folder: pathlib.Path) -> list[str]:
    """The files under ``folder`` (git's own folder left out), relative to it."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                  if path.is_file() and ".git" not in path.relative_to(folder).parts)
