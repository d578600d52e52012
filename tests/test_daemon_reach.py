"""A daemon on the learner's own Python: started as another user, it reaches the kernel's Python even where that lies
in a folder the user may not enter (pyenv under /root), and the workbook's own code where the checkout lies in one
(made by mktemp -d, mode 0700): a private mount namespace opens the way, and nothing changes outside it. A folder the
user may not read itself is refused before anything starts. Its log is plain text on every Python."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
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


def test_a_daemon_needs_the_pythons_prefixes_the_workbooks_code_and_its_path(open_folder):
    import labkit
    import servers

    needed = reach.needed_folders(str(open_folder), "", str(open_folder / "missing"))
    for wanted in (sys.prefix, sys.base_prefix, pathlib.Path(labkit.__file__).parent.parent,
                   pathlib.Path(servers.__file__).parent.parent, open_folder):
        real = pathlib.Path(os.path.realpath(wanted))
        assert any(folder == real or folder in real.parents for folder in needed), (real, needed)
    assert not any(other in folder.parents for folder in needed for other in needed)
    assert open_folder / "missing" not in needed


def test_a_needed_folder_the_user_may_not_read_is_refused_before_anything_starts(closed_prefix, open_folder):
    closed, _prefix = closed_prefix
    if os.geteuid() == reach.account("nobody").pw_uid:
        pytest.skip("this test needs a user other than nobody")
    with pytest.raises(PermissionError) as refused:
        reach.started_as("nobody", ["true"], open_folder / "stage", needed=[closed])
    assert f"nobody may not read {closed} (mode drwx------)" in str(refused.value)
    assert str(refused.value).endswith("(chmod -R o+rX on that folder), or leave out user=")
    assert not (open_folder / "stage").exists()


@root_only
def test_a_daemon_become_nobody_imports_from_a_checkout_nobody_may_not_enter(closed_prefix, tmp_path, monkeypatch):
    """The checkout's code (here one module of it) lies behind a folder of mode 0700, as in a checkout made in
    `mktemp -d`: twistd, started as nobody, imports it all the same, and the folder stays closed outside."""
    from labkit import daemons

    closed, checkout = closed_prefix
    (checkout / "checkout_module.py").write_text("WORD = 'reached'\n")
    app = tmp_path / "app.tac"
    app.write_text("import checkout_module\nfrom twisted.application import service\n"
                   "print('imported', checkout_module.WORD, flush=True)\n"
                   "application = service.Application('reach')\n")
    monkeypatch.setenv("PYTHONPATH", str(checkout))
    daemon = daemons.twistd(app, user="nobody")
    try:
        assert daemon.identity[0] == "nobody" and daemon.wait_for_line("imported reached"), daemon.log
    finally:
        daemon.stop()
    assert closed.stat().st_mode & 0o777 == 0o700 and str(closed) not in pathlib.Path("/proc/self/mounts").read_text()


@root_only
def test_a_daemon_become_nobody_keeps_to_loopback_though_the_guard_lies_in_a_closed_checkout(closed_prefix, tmp_path,
                                                                                              monkeypatch):
    """The loopback guard (labkit/loopback_site) of a checkout behind a folder of mode 0700 still runs in the
    daemon: a daemon that asks for every interface is refused, not left listening on them."""
    from labkit import daemons, programs
    from labkit.daemons import process

    _closed, checkout = closed_prefix
    guard = checkout / "loopback_site"
    shutil.copytree(programs.LOOPBACK_ONLY, guard)
    monkeypatch.setattr(programs, "LOOPBACK_ONLY", guard)
    monkeypatch.setattr(process, "LOOPBACK_ONLY", guard, raising=False)
    app = tmp_path / "app.tac"
    app.write_text("from twisted.application import service, strports\nfrom twisted.internet import protocol\n"
                   "application = service.Application('everywhere')\nstrports.service('tcp:0:interface=0.0.0.0', "
                   "protocol.Factory.forProtocol(protocol.Protocol)).setServiceParent(application)\n")
    with pytest.raises(daemons.DaemonFailed, match="listen on this machine only"):
        daemons.twistd(app, user="nobody").stop()


@root_only
def test_a_daemon_become_nobody_uses_the_kernels_twisted_beside_debians_own(tmp_path):
    """Debian's python3-twisted and python3-zope.interface, installed system-wide, never take the place of the
    kernel's: the daemon imports the same files as the kernel."""
    import twisted
    import zope.interface

    from labkit import daemons
    from tests.peers import missing

    if not pathlib.Path("/usr/lib/python3/dist-packages/twisted").is_dir():
        missing("Debian's Twisted is not installed: apt-get install python3-twisted")
    app = tmp_path / "app.tac"
    app.write_text("import twisted, zope.interface\nfrom twisted.application import service\n"
                   "print('twisted', twisted.__file__, 'zope', zope.interface.__file__, flush=True)\n"
                   "application = service.Application('reach')\n")
    daemon = daemons.twistd(app, user="nobody")
    try:
        assert daemon.wait_for_line(re.escape(f"twisted {twisted.__file__} zope {zope.interface.__file__}"))
    finally:
        daemon.stop()


def test_a_daemons_log_is_plain_text_though_the_kernel_asks_tools_for_colour(tmp_path, monkeypatch):
    from labkit import daemons

    monkeypatch.setenv("FORCE_COLOR", "1")  # as ipykernel sets it; Python 3.13 colours its tracebacks then
    broken = tmp_path / "broken.tac"
    broken.write_text("from twisted.application import service\napplication = service.Application(\n")
    with pytest.raises(daemons.DaemonFailed) as failed:
        daemons.twistd(broken, folder=tmp_path / "run")
    assert "SyntaxError" in str(failed.value) and "\x1b[" not in str(failed.value)
