"""The catalogue of practice servers: lazy imports, a broken family that breaks only itself, what each entry
declares (scheme, accounts, TLS, limits, probe), and the practice accounts with their cred checkers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet import protocol
from twisted.web.resource import Resource
from twisted.web.server import Site

import labkit
import servers
from labkit.checks import converse
from servers import accounts, catalogue
from servers.listening import plan
from servers.abuse_guard import Limits
from tests.standalone import ROOT

FAMILIES = ("servers.tcp", "servers.web", "twisted.mail", "twisted.names", "twisted.conch", "twisted.news",
            "twisted.spread", "twisted.cred", "twisted.web")
"""Modules that serving a plain TCP server has no reason to import."""


def loaded_after(code: str) -> set[str]:
    """The modules (of FAMILIES and their submodules) a fresh interpreter holds after running ``code``."""
    probe = code + ("\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules "
                    f"if m.startswith({FAMILIES!r}))))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_listing_the_catalogue_imports_no_family():
    assert loaded_after("import servers\nrows = [(e.name, e.summary, e.scheme) for e in servers.REGISTRY.values()]"
                        "\nassert len(rows) >= 5") == set()


def test_serving_echo_imports_neither_the_web_nor_mail():
    loaded = loaded_after("import labkit\nserver = labkit.serve('echo', show=False)\nassert server.port > 0")
    assert loaded == {"servers.tcp"}


def test_serving_your_own_factory_imports_nothing_of_the_web():
    loaded = loaded_after("import labkit\nfrom twisted.internet import protocol\n"
                          "server = labkit.serve(protocol.ServerFactory.forProtocol(protocol.Protocol), show=False)\n"
                          "assert server.scheme == 'tcp'")
    assert loaded == set()


def test_serving_web_imports_the_web_family_only_then():
    loaded = loaded_after("import labkit\nlabkit.serve('web', show=False)")
    assert {"servers.web", "twisted.web.server"} <= loaded and "servers.tcp" not in loaded


@pytest.fixture
def broken_family(tmp_path, monkeypatch):
    """A catalogue entry whose module raises on import, and one whose builder is missing."""
    (tmp_path / "broken_family.py").write_text("raise ZeroDivisionError('a bug at import time')\n")
    (tmp_path / "incomplete_family.py").write_text("def something_else():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(catalogue.CATALOGUE, "broken", catalogue.Entry("broken", "raises", "broken_family:build"))
    monkeypatch.setitem(catalogue.CATALOGUE, "incomplete",
                        catalogue.Entry("incomplete", "no builder", "incomplete_family:build"))


def test_a_family_that_raises_on_import_fails_only_its_own_names(broken_family):
    with pytest.raises(servers.ServerUnavailable, match=r"'broken' is unavailable: importing broken_family raised "
                                                        r"ZeroDivisionError: a bug at import time"):
        servers.build("broken")
    with pytest.raises(servers.ServerUnavailable, match="other practice servers still work"):
        labkit.serve("broken", show=False)
    with pytest.raises(servers.ServerUnavailable, match="incomplete_family has no 'build'"):
        servers.build("incomplete")
    echo = labkit.serve("echo", name="still-fine", show=False)
    assert converse(echo.port, b"hi\n", b"quit\n", settle=5) == b"You said: hi\r\nGoodbye.\r\n"
    assert "broken" not in [s.name for s in labkit.running_servers()]


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match=r"there are: (auth, )?(dns, )?echo, hangup"):
        servers.entry("nope")


@pytest.mark.parametrize("name", sorted(catalogue.CATALOGUE))
def test_every_entry_declares_what_it_is(name):
    entry = catalogue.CATALOGUE[name]
    assert entry.name == name and entry.summary
    assert entry.scheme in {"tcp", "http", "smtp", "pop3", "imap", "nntp", "ssh", "pb", "dns"}
    assert callable(entry.load_probe())
    assert entry.build() is not None
    assert isinstance(entry.make_limits(), Limits)
    for account in entry.practice_accounts():
        assert account.user and account.password
    if entry.tls:
        assert entry.tls_options() is not None
    else:
        with pytest.raises(ValueError, match="does not speak TLS"):
            entry.tls_options()


@pytest.mark.parametrize("name", sorted(catalogue.CATALOGUE))
def test_every_entry_answers_its_own_probe_in_the_kernel(name):
    server = labkit.serve(name, name=f"probed-{name}", show=False)
    try:
        labkit.react(lambda reactor: None)  # the listeners are up
        catalogue.CATALOGUE[name].load_probe()(server.host, server.port)
    finally:
        server.stop()


def test_a_servers_url_scheme_comes_from_its_entry():
    assert labkit.serve("echo", name="plain", show=False).url.startswith("tcp://")
    assert labkit.serve("http", name="tiny", show=False).url.startswith("http://")
    from servers import tls

    secure = labkit.serve("web", name="secure", tls=tls.server_options(), show=False)
    assert secure.scheme == "https" and secure.url.startswith("https://127.0.0.1:")
    secure.stop()


def test_an_entrys_limits_apply_and_may_be_overridden(monkeypatch):
    monkeypatch.setitem(catalogue.CATALOGUE, "echo",
                        catalogue.Entry("echo", "echo", "servers.tcp:echo", limits={"idle_timeout": 7.0}))
    made = catalogue.entry("echo").make_limits(max_connections=3)
    assert (made.idle_timeout, made.max_connections) == (7.0, 3)
    assert made.request_timeout == Limits().request_timeout


@pytest.mark.parametrize("thing, over_tls, scheme", [
    (Resource(), False, "http"), (Resource(), True, "https"), (Site(Resource()), False, "http"),
    (protocol.ServerFactory(), False, "tcp"), (protocol.ServerFactory(), True, "tls")])
def test_your_own_servers_scheme_is_what_it_speaks(thing, over_tls, scheme):
    assert plan(thing, tls=object() if over_tls else None).scheme == scheme


# --- practice accounts ----------------------------------------------------------------------------------------

def test_the_web_account_is_the_fixture_the_site_uses():
    from servers import web

    assert [(a.user, a.password) for a in accounts.accounts("web")] == [(web.USERNAME, web.PASSWORD)]
    assert accounts.accounts(None) == () and accounts.accounts("echo") == ()


def login(checker, user: str, password: str):
    return labkit.react(lambda reactor: checker.requestAvatarId(UsernamePassword(user.encode(), password.encode())))


def test_a_checker_knows_exactly_its_familys_accounts():
    checker = accounts.checker("web")
    assert login(checker, "learner", "twisted") == b"learner"
    with pytest.raises(UnauthorizedLogin):
        login(checker, "learner", "wrong")
    with pytest.raises(KeyError, match="has no accounts"):
        accounts.checker("echo")


SESSION_FAMILY = ("from servers import accounts\n"
                  "accounts.PER_SESSION['shell'] = ('learner',)\n"
                  "print(accounts.accounts('shell')[0].password)")


def test_logins_that_grant_code_execution_get_a_random_password_per_session(monkeypatch):
    monkeypatch.setitem(accounts.PER_SESSION, "shell", ("learner",))
    first = accounts.accounts("shell")
    assert first == accounts.accounts("shell")  # the same for the whole session
    (account,) = first
    assert account.user == "learner" and len(account.password) >= 16
    assert login(accounts.checker("shell"), "learner", account.password) == b"learner"
    elsewhere = {subprocess.run([sys.executable, "-c", SESSION_FAMILY], cwd=ROOT, capture_output=True, text=True,
                                timeout=60).stdout.strip() for _ in range(2)}
    assert len(elsewhere) == 2 and account.password not in elsewhere  # every process draws its own
