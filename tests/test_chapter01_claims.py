"""Chapter 1 (getting started): the claims. Each test backs one sentence of the complete notebook that no executed
output there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter01.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pathlib

import pytest

from tests.claims import assert_gone_from_python_3_13


def test_the_tls_and_conch_extras_pull_in_pyopenssl_service_identity_cryptography_and_bcrypt():
    """01-getting-started, cell 1: `twisted[tls,conch]` brings pyOpenSSL, `cryptography`, `service_identity`,
    `bcrypt`."""
    extras = {}
    for requirement in importlib.metadata.requires("twisted"):
        if "extra ==" in requirement:
            name = requirement.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
            extras.setdefault(requirement.split("extra ==")[1].strip(" '\""), set()).add(name.replace("_", "-"))
    assert {"pyopenssl", "service-identity"} <= extras["tls"]
    assert {"cryptography", "bcrypt"} <= extras["conch"]


def test_twisted_installs_the_commands_the_table_lists_and_tkconch_still_needs_tk():
    """01-getting-started, cells 6 and 7: installing Twisted installs `twistd`, `twist`, `trial`, `ckeygen`, `conch`,
    `cftp`, and still the book's `tkconch`, which needs Tk (it imports `tkinter`)."""
    scripts = {entry.name for entry in importlib.metadata.distribution("twisted").entry_points
               if entry.group == "console_scripts"}
    assert {"twistd", "twist", "trial", "ckeygen", "conch", "cftp", "tkconch"} <= scripts
    source = pathlib.Path(importlib.util.find_spec("twisted.conch.scripts.tkconch").origin).read_text()
    assert "import tkinter" in source


@pytest.mark.parametrize("module", ["twisted.protocols.smtp", "twisted.protocols.imap4", "twisted.protocols.dns",
                                    "twisted.news", "twisted.web2", "twisted.enterprise.util"])
def test_the_books_modules_are_gone(module):
    """01-getting-started, cell 22 (`twisted.protocols.smtp`, `.imap4`, `.dns` moved; `twisted.news` gone),
    04-web-servers, cells 71 (web2 is not part of Twisted) and 92 (`twisted.enterprise.util.quote` is gone),
    09-nntp, cells 0 and 13 (`twisted.news` removed)."""
    parent = module.rsplit(".", 1)[0]
    assert importlib.util.find_spec(parent) is not None
    assert importlib.util.find_spec(module) is None


def test_get_page_download_page_and_their_factories_are_gone():
    """01-getting-started, cell 22, and 03-web-clients, cell 0: `getPage`, `downloadPage`, `HTTPClientFactory` and
    `HTTPDownloader` were removed."""
    from twisted.web import client as web_client

    assert not [name for name in ("getPage", "downloadPage", "HTTPClientFactory", "HTTPDownloader")
                if hasattr(web_client, name)]


def test_nntplib_left_the_standard_library_in_python_3_13():
    """01-getting-started, cell 22: `nntplib` was removed in Python 3.13."""
    assert_gone_from_python_3_13("nntplib")
