"""Practice accounts on a machine several learners share (a JupyterHub sets ``JUPYTERHUB_USER``): the mail and
auth families' passwords are private to one learner's server session, the same in its kernels and the programs they
start, and the fixed ones elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

from servers import accounts

PRINT_MAIL_PASSWORD = "from servers import accounts; print(accounts.accounts('mail')[0].password)"


def _password_in_a_process(environment: dict[str, str], code: str = PRINT_MAIL_PASSWORD) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", accounts.SEED_VARIABLE))}
    done = subprocess.run([sys.executable, "-c", code], env=clean | environment, capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


def test_alone_on_a_machine_the_practice_passwords_are_the_fixed_ones(monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    assert not accounts.shared_machine()
    assert accounts.accounts("mail") == accounts.FIXED["mail"]
    assert accounts.accounts("auth") == accounts.FIXED["auth"]


def test_on_a_hub_mail_and_auth_get_passwords_of_their_own_and_the_rest_stays_fixed(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_USER", "learner1")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "token-of-learner1")
    for family in accounts.PRIVATE_WHEN_SHARED:
        fixed, shared = accounts.FIXED[family], accounts.accounts(family)
        assert [a.user for a in shared] == [a.user for a in fixed]
        assert not {a.password for a in shared} & {a.password for a in fixed}
        assert len({a.password for a in shared}) == len(shared)  # no two users share one
    assert accounts.accounts("web") == accounts.FIXED["web"]  # a read-only page of fixtures, nothing of the learner's


def test_a_checker_on_a_hub_takes_the_learners_password_and_refuses_the_fixed_one(monkeypatch):
    from twisted.cred.credentials import UsernamePassword
    from twisted.cred.error import UnauthorizedLogin

    monkeypatch.setenv("JUPYTERHUB_USER", "learner1")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "token-of-learner1")
    checker, mine = accounts.checker("mail"), accounts.accounts("mail")[0]

    def outcome(password: str):
        results: list = []
        checker.requestAvatarId(UsernamePassword(b"learner", password.encode())).addBoth(results.append)
        return results[0]

    assert outcome(mine.password) == b"learner"
    assert outcome("mail-practice").check(UnauthorizedLogin)


def test_two_learners_get_different_passwords_and_one_learners_processes_agree():
    first = _password_in_a_process({"JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": "secret-of-a"})
    again = _password_in_a_process({"JUPYTERHUB_USER": "a", "JUPYTERHUB_API_TOKEN": "secret-of-a"})
    other = _password_in_a_process({"JUPYTERHUB_USER": "b", "JUPYTERHUB_API_TOKEN": "secret-of-b"})
    assert first == again != other
    assert first != "mail-practice" and len(first) >= 16


def test_without_a_hub_token_a_seed_drawn_once_reaches_the_programs_a_kernel_starts():
    parent_and_child = (
        "import subprocess, sys\n"
        "from servers import accounts\n"
        "mine = accounts.accounts('mail')[0].password\n"
        f"child = subprocess.run([sys.executable, '-c', {PRINT_MAIL_PASSWORD!r}], capture_output=True, text=True)\n"
        "print(mine, child.stdout.strip())\n")
    first = _password_in_a_process({"JUPYTERHUB_USER": "a"}, parent_and_child).split()
    second = _password_in_a_process({"JUPYTERHUB_USER": "a"}, parent_and_child).split()
    assert first[0] == first[1]  # the program a kernel starts knows the kernel's password
    assert first[0] != second[0]  # another session, another secret
