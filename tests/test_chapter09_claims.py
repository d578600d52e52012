"""Chapter 9 (NNTP): the claims. Each test backs one sentence of the complete notebook that no executed output there
proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the notebook and
the cell. Should the sentence become false, the test fails and names it. The chapter's checks are tested in
tests/test_chapter09.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

from tests.claims import assert_gone_from_python_3_13, run_python


def test_microdom_is_deprecated():
    """09-nntp, cells 50 and 57: `twisted.web.microdom` is deprecated."""
    ran = run_python("import warnings\nwarnings.simplefilter('always')\n"
                     "with warnings.catch_warnings(record=True) as caught:\n    import twisted.web.microdom\n"
                     "print([str(w.message) for w in caught])")
    assert "twisted.web.microdom was deprecated" in ran.stdout, ran.stdout + ran.stderr


def test_nntplib_left_the_standard_library_in_python_3_13():
    """09-nntp, cells 0 and 13: Python's own `nntplib` left the standard library in 3.13."""
    assert_gone_from_python_3_13("nntplib")
