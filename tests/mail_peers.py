"""Independent mail peers for the tests.

* :func:`dovecot`: Debian's Dovecot (IMAP and POP3) from a temporary configuration, serving one user's Maildir;
* :func:`aiosmtpd`: aiosmtpd (PyPI), a real SMTP server, delivering into a Maildir;

each started on free loopback ports for the block that uses it; and the standard library's clients logged in as
the first practice mail account: :func:`pop_login`, :func:`imap_login`.
"""

from __future__ import annotations

import contextlib
import imaplib
import importlib.util
import os
import poplib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from labkit.checks import mail
from servers import accounts
from tests.peers import free_port, missing, need, wait_for_port

ACCOUNT = accounts.accounts("mail")[0]
WAIT = 10


def pop_login(port: int, password: str = ACCOUNT.password) -> poplib.POP3:
    """The kit's ``poplib`` client logged in with USER/PASS as the practice learner (the check kit's login)."""
    return mail.pop3_login(port, ACCOUNT.user, password, timeout=WAIT)


def imap_login(port: int) -> imaplib.IMAP4:
    """The kit's ``imaplib`` client logged in as the practice learner (the check kit's login)."""
    return mail.imap_login(port, ACCOUNT.user, ACCOUNT.password, timeout=WAIT)


CONFIGURATION = """\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {folder}/base
state_dir = {folder}/state
log_path = {folder}/log
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login apop
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@contextlib.contextmanager
def dovecot(user: str, password: str, fill: Callable[[Path], None], wait: float = 10) -> Iterator[dict[str, int]]:
    """Run Dovecot while the block runs; yield its ports, ``{"imap": ..., "pop3": ...}``.

    ``fill(mail_root)`` puts the mail in place first: the user's Maildir is ``mail_root / user``. Dovecot runs no
    login process as root, nor reads mail owned by root, so under root the mail is handed to ``nobody`` and
    Dovecot's own users log in; otherwise everything runs as the current user. The folder is one Dovecot's users
    can read (pytest's temporary folders are private to this user).
    """
    program = need("dovecot", "dovecot-imapd dovecot-pop3d")
    folder = Path(tempfile.mkdtemp(prefix="dovecot-peer-"))
    try:
        folder.chmod(0o755)
        for part in ("base", "state", "mail"):
            (folder / part).mkdir(mode=0o755)
        fill(folder / "mail")
        if os.geteuid() == 0:
            users = {"login_user": "dovenull", "internal_user": "dovecot", "internal_group": "dovecot",
                     "uid": "nobody", "gid": "nogroup"}
            subprocess.run(["chown", "-R", "nobody:nogroup", str(folder / "mail")], check=True)
        else:
            import grp
            import pwd

            me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
            users = {"login_user": me, "internal_user": me, "internal_group": group, "uid": me, "gid": group}
        (folder / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::\n")
        ports = {"pop3": free_port(), "imap": free_port()}
        (folder / "dovecot.conf").write_text(CONFIGURATION.format(folder=folder, **users, **ports))
        process = subprocess.Popen([program, "-F", "-c", str(folder / "dovecot.conf")], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        try:
            wait_for_port(ports["pop3"], process, "dovecot", wait)
            wait_for_port(ports["imap"], process, "dovecot", wait)
            yield ports
        finally:
            process.terminate()
            process.wait(timeout=wait)
            process.stdout.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def aiosmtpd(maildir: Path, wait: float = 10) -> Iterator[int]:
    """Run aiosmtpd while the block runs, delivering every message into ``maildir``; yield its port."""
    if importlib.util.find_spec("aiosmtpd") is None:
        missing("aiosmtpd is missing: pip install 'aiosmtpd>=1.4,<2'")
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                                "aiosmtpd.handlers.Mailbox", str(maildir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, "aiosmtpd", wait)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=wait)
        process.stdout.close()
