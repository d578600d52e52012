"""Chapter 5 (web services and RPC): the claims. Each test backs one sentence of the complete notebook that no
executed output there proves, asserted against what is installed (Twisted, and the tools around it); its docstring
names the notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's
checks are tested in tests/test_chapter05.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

from tests.claims import assert_gone_from_python_3_13


def test_the_cgi_module_left_the_standard_library_in_python_3_13():
    """05-web-services-and-rpc, cell 55: spyne's servers need the `cgi` module, which Python 3.13 removed."""
    assert_gone_from_python_3_13("cgi")
