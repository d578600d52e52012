"""Chapter 6 (authentication): the claims. Each test backs one sentence of the complete notebook that no executed
output there proves, asserted against what is installed (Twisted, and the tools around it); its docstring names the
notebook and the cell. Should the sentence become false, the test fails and names it. The chapter's checks are
tested in tests/test_chapter06.py; the helpers shared by the claims tests are in tests/claims.py.
"""

from __future__ import annotations

import hashlib

from twisted.spread import pb


def test_pb_answers_a_challenge_with_what_the_passwords_md5_alone_can_make():
    """06-authentication, cell 61: PB's client answers the server's challenge with an MD5 of the password mixed
    with it, so the server needs the password itself or its plain MD5 to check the answer."""
    challenge, password = pb.challenge(), b"practice"
    plain_md5 = hashlib.md5(password).digest()
    assert pb.respond(challenge, password) == hashlib.md5(plain_md5 + challenge).digest()


def test_hmac_compare_digest_is_the_comparison_made_against_timing_analysis():
    """06-authentication, cell 14: `hmac.compare_digest` answers what `==` answers, and is the standard library's
    comparison for secrets: its documentation says it is designed to prevent timing analysis."""
    import hmac

    assert hmac.compare_digest(b"secret", b"secret") and not hmac.compare_digest(b"secret", b"secreT")
    assert "designed to prevent\ntiming analysis" in hmac.compare_digest.__doc__
