"""A daemon on the learner's own Python: started as another user, it reaches the kernel's Python even where that lies
in a folder the user may not enter (pyenv under /root): a private mount namespace opens the way, and nothing changes
outside it. Its log is plain text on every Python."""

import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from labkit.daemons import reach

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="only root starts a process as another user")


@pytest.fixture
def open_folder():
    """A fresh folder in /tmp that every user may enter (pytest's own tmp_path lies in a folder of mode 0700)."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="reach-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def closed_prefix(open_folder):
    """A "Python prefix" every user may read, inside a folder only its owner may enter."""
    closed = open_folder / "home"
    prefix = closed / "versions" / "3.13"
    prefix.mkdir(parents=True)
    (prefix / "lib.txt").write_text("the library\n")
    for folder in (prefix.parent, prefix):
        folder.chmod(0o755)
    closed.chmod(0o700)
    return closed, prefix


def test_the_folder_in_the_way_is_named_with_what_lies_behind_it(closed_prefix):
    closed, prefix = closed_prefix
    if os.geteuid() == reach.account("nobody").pw_uid:
        pytest.skip("this test needs a user other than nobody")
    assert reach.blocking_folders("nobody", [prefix]) == {closed: [prefix]}
    closed.chmod(0o711)
    assert reach.blocking_folders("nobody", [prefix]) == {}


@root_only
def test_the_user_reads_the_prefix_in_a_namespace_of_its_own_and_nothing_changes_outside(closed_prefix, open_folder):
    closed, prefix = closed_prefix
    plain = subprocess.run(reach.started_as("nobody", ["cat", str(prefix / "lib.txt")], open_folder / "stage",
                                            needed=[open_folder]), capture_output=True, text=True, timeout=30)
    assert plain.returncode != 0 and "Permission denied" in plain.stderr  # nothing in the way of this folder: setpriv
    command = reach.started_as("nobody", ["sh", "-c", f"id -un; cat {prefix}/lib.txt; ls -A {closed}"],
                               open_folder / "stage", needed=[prefix])
    assert command[0] == "unshare"
    opened = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert opened.stdout == "nobody\nthe library\nversions\n", opened.stderr
    assert not (open_folder / "stage").exists()
    assert closed.stat().st_mode & 0o777 == 0o700 and os.listdir(closed) == ["versions"]
    assert str(closed) not in pathlib.Path("/proc/self/mounts").read_text()


def test_without_unshare_the_refusal_names_the_folder_and_what_to_do(closed_prefix, open_folder, monkeypatch):
    closed, prefix = closed_prefix
    if os.geteuid() == reach.account("nobody").pw_uid:
        pytest.skip("this test needs a user other than nobody")
    monkeypatch.setattr(reach.shutil, "which", lambda name: None)
    with pytest.raises(PermissionError) as refused:
        reach.started_as("nobody", ["true"], open_folder / "stage", needed=[prefix])
    message = str(refused.value)
    assert f"it lies in {closed} (mode drwx------)" in message
    assert "installed under /usr/local or /opt" in message and message.endswith("or leave out user=")


def test_a_daemons_log_is_plain_text_though_the_kernel_asks_tools_for_colour(tmp_path, monkeypatch):
    from labkit import daemons

    monkeypatch.setenv("FORCE_COLOR", "1")  # as ipykernel sets it; Python 3.13 colours its tracebacks then
    broken = tmp_path / "broken.tac"
    broken.write_text("from twisted.application import service\napplication = service.Application(\n")
    with pytest.raises(daemons.DaemonFailed) as failed:
        daemons.twistd(broken, folder=tmp_path / "run")
    assert "SyntaxError" in str(failed.value) and "\x1b[" not in str(failed.value)
