"""Chapter 3's checks for HTTPS and for what goes wrong (3.6, 3.7): a client that trusts exactly the authority it
is given and checks the host's name, and one that tells each kind of failure apart. The practice site is served
over TLS with the practice authority's certificate (for ``localhost`` and ``127.0.0.1``), and once more on
``127.0.0.2``, an address that certificate does not name."""

from __future__ import annotations

import random

import certifi
from twisted.web import pages

from labkit.checks import Check, Outcome, closed_port, limits, short

import servers.tls
import servers.web
from servers.origins import cut_short

__all__ = ["check_diagnose", "check_fetch_trusting"]


# --- 3.6 HTTPS, verified -------------------------------------------------------------------------------------------

def _refused(got: Outcome):
    """``"refused"`` when the call failed (the TLS handshake, say), else how it ended."""
    return "refused" if not got.ok and isinstance(got.error, Exception) else got.described()


def _trusted_hint(got: Outcome) -> str:
    if not got.ok and "certificate verify failed" in str(got.described()):
        return ("the practice site's certificate was refused: the agent did not trust the authority in ca_file "
                "(an Agent without a policy of yours trusts only the system's authorities)")
    if got.ok and hasattr(got.value, "code"):
        return "it fired with the response object: read its body (treq's response.content()) and return that"
    return ""


def check_fetch_trusting(fetch_trusting) -> None:
    """Exercise 3.6: ``fetch_trusting(reactor, url, ca_file)`` fetches an https:// page trusting only the
    authority whose certificate is in the PEM file ``ca_file``, with the host's name checked, and fires with the
    body's bytes."""
    from servers.web import HELLO_HTML

    with Check("fetch_trusting trusts exactly the authority it is given, and checks the host's name",
               start="load the authority with ssl.Certificate.loadPEM, and fetch with treq.get(url, agent=...) "
                     "through an Agent whose policy trusts it") as check:
        secure = check.serve(servers.web.site(), "check-https", tls=servers.tls.server_options())
        got = Outcome(fetch_trusting, secure.url + "hello", servers.tls.ca_path())
        check.expect("the practice site, trusting the practice authority", short(HELLO_HTML), got.shown(),
                     ok=got.ok and got.value == HELLO_HTML, hint=_trusted_hint(got))
        renamed = check.serve(servers.web.site(), "check-https-unnamed", tls=servers.tls.server_options(),
                              host="127.0.0.2")
        got = Outcome(fetch_trusting, renamed.url + "hello", servers.tls.ca_path())
        check.expect("the same certificate on 127.0.0.2, which it does not name", "refused", _refused(got),
                     hint="the certificate names localhost and 127.0.0.1 only, yet the page on 127.0.0.2 was "
                          "fetched: the host's name must be checked too, not only who signed the certificate")
        got = Outcome(fetch_trusting, secure.url + "hello", certifi.where())
        check.expect("the practice site, trusting another authority only", "refused", _refused(got),
                     hint="the practice site was trusted although ca_file held another authority: trust the "
                          "authority in ca_file, and only that one")


# --- 3.7 when things go wrong ----------------------------------------------------------------------------------

def _diagnosis_hint(what: str, expected: str, got: Outcome) -> str:
    if not got.ok and isinstance(got.error, str):  # it never ended
        return (f"for {what}, diagnose never answered: without a time limit a wait for an answer that never "
                "begins lasts forever (treq.get's timeout=)")
    if not got.ok:
        return f"for {what}, diagnose let {got.described()} through: catch it and say {expected!r}"
    if expected.startswith("HTTP"):
        return (f"for {what}, diagnose said {got.value!r}: treq fires with a 4xx or 5xx response like any "
                "other, so look at response.code")
    if expected == "unknown host" and got.value == "refused":
        return ("for a host that cannot exist, diagnose said 'refused': a failed name lookup (DNSLookupError) "
                "is another failure than a refused connection (ConnectionRefusedError)")
    return f"for {what}, diagnose said {got.value!r}"


def check_diagnose(diagnose) -> None:
    """Exercise 3.7: ``diagnose(reactor, url)`` fetches ``url`` with a time limit of one second for the answer
    to begin and says what happened, in the notebook's words: ``"N bytes"``, ``"HTTP 404"``, ``"refused"``,
    ``"unknown host"``, ``"no answer"`` or ``"cut short"``."""
    with Check("diagnose tells every way a fetch can end apart",
               start="try: response = await treq.get(url, timeout=1) and read the body; each except clause "
                     "returns the words for one failure") as check:
        site = servers.web.site()
        web = check.serve(site, "check-diagnose")
        cut = check.serve(cut_short(), "check-diagnose-cut")
        refusing = check.serve(pages.errorPage(400, "Bad Request", "The check asked for a 400."), "check-400")
        cases = [("a page", web.url + "big", "1000000 bytes"),
                 ("a bad request", refusing.url, "HTTP 400"),
                 ("a missing page", web.url + "nowhere", "HTTP 404"),
                 ("a failing page", web.url + "error", "HTTP 500"),
                 ("a closed port", f"http://127.0.0.1:{closed_port(held_by=check)}/", "refused"),
                 ("a host that cannot exist", f"http://h{random.randrange(10**6)}.invalid/", "unknown host"),
                 ("a server that never answers", web.url + "never", "no answer"),
                 ("a body cut short", f"http://127.0.0.1:{cut.port}/", "cut short")]
        for what, url, expected in cases:
            got = Outcome(diagnose, url, timeout=limits.LEARNER_CALL)
            check.expect(what, expected, got.value if got.ok else got.described(), sent=url,
                         hint=_diagnosis_hint(what, expected, got))
