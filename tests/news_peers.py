"""INN, an independent news server, as the news tests and the benchmarks start it: a whole site in a temporary
folder, innd on a free loopback port (as root: INN runs as the news user), one group to post to."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

from tests.peers import free_port, missing

__all__ = ["INN_BIN", "INN_GROUP", "inn", "inn_config", "inn_greets"]

HOST = "127.0.0.1"
INN_BIN = Path("/usr/lib/news/bin")
INN_GROUP = "practice.test"
INSTALL_INN = "apt-get install inn2 (then set 'domain:' in /etc/news/inn.conf and run dpkg --configure -a)"


def inn_config(root: Path, port: int) -> Path:
    """A whole INN site in ``root``: inn.conf on loopback ``port``, one reader access for loopback, the groups
    INN needs (control, junk) and one to post to, an empty history."""
    folders = {name: root / name for name in ("etc", "db", "run", "log", "http", "tmp", "spool")}
    spool = {name: root / "spool" / name for name in ("articles", "overview", "incoming", "outgoing", "archive")}
    for folder in [*folders.values(), *spool.values()]:
        folder.mkdir(parents=True)
    paths = {f"path{name}": folder for name, folder in folders.items()}
    paths.update({"patharticles": spool["articles"], "pathoverview": spool["overview"],
                  "pathincoming": spool["incoming"], "pathoutgoing": spool["outgoing"],
                  "patharchive": spool["archive"]})
    settings = {"domain": "localdomain", "pathhost": "peer.localdomain", "mta": '"/bin/true %s"',
                "mailcmd": "/bin/true", "ovmethod": "tradindexed", "hismethod": "hisv6", "port": port,
                "bindaddress": HOST, "bindaddress6": '"::1"', "pgpverify": "false", "pathnews": "/usr/lib/news",
                "pathbin": INN_BIN, **paths}
    etc, db = folders["etc"], folders["db"]
    (etc / "inn.conf").write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    (etc / "newsfeeds").write_text("ME:*::\n")
    (etc / "incoming.conf").write_text("")
    (etc / "readers.conf").write_text('auth "local" {\n  hosts: "127.0.0.1"\n  default: "<local>"\n}\n'
                                      'access "local" {\n  users: "<local>"\n  newsgroups: "*"\n'
                                      '  access: RPA\n}\n')
    (etc / "storage.conf").write_text("method tradspool {\n  newsgroups: *\n  class: 0\n}\n")
    (db / "active").write_text("".join(f"{name} 0000000000 0000000001 {flag}\n" for name, flag in
                                       [("control", "n"), ("control.cancel", "n"), ("junk", "n"),
                                        (INN_GROUP, "y")]))
    (db / "newsgroups").write_text(f"{INN_GROUP}\tWhere the practice client posts\n")
    (db / "active.times").write_text("")
    (db / "history").write_text("")
    shutil.chown(root, "news", "news")
    for path in root.rglob("*"):
        shutil.chown(path, "news", "news")
    return etc / "inn.conf"


def inn_greets(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            return sock.recv(100).startswith(b"200")
    except OSError:
        return False


@contextlib.contextmanager
def inn() -> Iterator[int]:
    """INN's innd on a loopback port, from a temporary site, while the block runs; yields its port. Stopped with
    ctlinnd (innd ignores SIGTERM)."""
    if not (INN_BIN / "innd").exists():
        missing(f"INN is not installed: {INSTALL_INN}")
    if os.geteuid() != 0:
        missing("INN starts only as root (it runs as the news user); run the tests as root to include it")
    root = Path(tempfile.mkdtemp(prefix="inn-"))  # short: INN's control sockets live under it
    port = free_port()
    environment = {**os.environ, "INNCONF": str(inn_config(root, port))}
    subprocess.run(["su", "news", "-s", "/bin/sh", "-c", f"{INN_BIN}/makedbz -i -o"], cwd=root / "db",
                   env=environment, check=True, timeout=30)
    innd = subprocess.Popen([INN_BIN / "innd", "-d", "-f", "-c", "0"], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while not inn_greets(port):
            assert innd.poll() is None, f"innd exited with {innd.returncode}: {innd.stdout.read()[-500:]!r}"
            assert time.monotonic() < deadline, "innd did not greet within 15 s"
            time.sleep(0.1)
        yield port
    finally:
        subprocess.run([INN_BIN / "ctlinnd", "-s", "shutdown", "test over"], env=environment, timeout=30)
        try:
            innd.wait(15)
        except subprocess.TimeoutExpired:
            innd.kill()
            innd.wait(5)
        innd.stdout.close()
        shutil.rmtree(root, ignore_errors=True)
