"""Chapter 3's checks for downloading (3.1a, 3.1b): a page's bytes, errors for 4xx and 5xx, and a body streamed
into a file as it arrives. Each runs the learner's client against a fresh copy of the practice web site."""

from __future__ import annotations

import os

from twisted.internet import defer, task
from twisted.web import pages

from labkit.checks import Check, Outcome, http_error, limits, short

import servers.web

__all__ = ["check_download_to_file", "check_fetch_page", "error_hint"]

SLOW = "slow/sized?duration=0.8"


# --- 3.1 --------------------------------------------------------------------------------------------------------

def check_fetch_page(fetch_page) -> None:
    """Exercise 3.1a: ``fetch_page(reactor, url)`` fires with the body (bytes) of a 2xx response, and fails with
    ``twisted.web.error.Error`` (status as in the response) for a 4xx or 5xx one."""
    from servers.web import HELLO_HTML

    with Check("fetch_page gives the page's bytes, and turns 400, 404 and 500 into errors",
               start="`response = await treq.get(url)`, then read its body and look at response.code") as check:
        site = servers.web.site()
        server = check.serve(site, "check-fetch")
        refusing = check.serve(pages.errorPage(400, "Bad Request", "The check asked for a 400."), "check-400")
        got = Outcome(fetch_page, server.url + "hello")
        check.expect("fetch_page(.../hello) fires with the page's bytes", short(HELLO_HTML),
                     got.shown(),
                     ok=got.ok and got.value == HELLO_HTML, hint=_body_hint(got))
        for url, path, status in ((refusing.url, "", 400), (server.url, "nowhere", 404), (server.url, "error", 500)):
            got = Outcome(fetch_page, url + path)
            check.expect(f"fetch_page(.../{path}) fails with {http_error(status)}", http_error(status),
                         got.described(), hint=error_hint(got, status))
        check.expect("requests the site received", ["GET /hello", "GET /nowhere", "GET /error"],
                     [f"{r.method} {r.path}" for r in site.requests])


def _body_hint(got: Outcome) -> str:
    """Why a fetch that should have fired with a page's bytes did not, from what it fired with."""
    if got.ok and isinstance(got.value, str):
        return "it fired with text: return the body as bytes, as it came"
    if got.ok and hasattr(got.value, "code"):
        return "it fired with the response object: read its body (treq's response.content()) and return that"
    if got.ok:
        return "it fired with other bytes than the page's body"
    return ""


def error_hint(got: Outcome, status: int) -> str:
    """Why a fetch of a page that answered ``status`` did not fail with web.error.Error of that status."""
    if got.ok:
        return (f"it fired with the {status} page as if it were the page asked for: treq, like Agent, fires with "
                "any response; a status of 400 or more must fail with twisted.web.error.Error")
    if got.described() != http_error(status):
        return (f"it failed, but not with twisted.web.error.Error of status {status}: the caller tells a missing "
                "page from a broken server by that error's status")
    return ""


def check_download_to_file(download_to_file) -> None:
    """Exercise 3.1b: ``download_to_file(reactor, url, path)`` writes the body to ``path`` piece by piece as it
    arrives and fires with the number of bytes written; a 4xx/5xx response fails with web.error.Error."""
    from servers.web import SLOW_SIZE, text_body

    with Check("download_to_file streams the body into the file as it arrives",
               start="`response = await treq.get(url, unbuffered=True)`, then write each piece of the body "
                     "to the file as it arrives") as check:
        site = servers.web.site()
        server = check.serve(site, "check-download")
        folder = check.temporary_folder("check-download-")
        path = os.path.join(folder, "download.txt")
        samples: list[tuple[int, bool]] = []

        def main(reactor):
            def sample():
                size = os.path.getsize(path) if os.path.exists(path) else 0
                records = site.requests_to("/slow/sized")
                samples.append((size, bool(records) and records[-1].finished))

            watching = task.LoopingCall(sample)
            watching.clock = reactor
            watching.start(0.05)
            d = defer.maybeDeferred(download_to_file, reactor, server.url + SLOW, path)

            def stop(result):
                if watching.running:
                    watching.stop()
                return result

            return d.addBoth(stop)

        got = Outcome(main, timeout=limits.STREAMED)
        written = open(path, "rb").read() if os.path.exists(path) else None
        check.expect("the file holds the whole body", f"{SLOW_SIZE:,} bytes of /slow/sized",
                     "no file" if written is None else f"{len(written):,} bytes"
                     + ("" if written == text_body(SLOW_SIZE) else " (not the page's bytes)"),
                     ok=written == text_body(SLOW_SIZE),
                     hint="no file was written at the path given" if written is None else
                     "the file does not hold exactly the body's bytes: write every piece, once, in binary mode")
        check.expect("download_to_file fired with the number of bytes written", SLOW_SIZE,
                     got.value if got.ok else got.described(),
                     hint="it fires with the number of bytes written to the file (an int)")
        during = [size for size, finished in samples if not finished and 0 < size < SLOW_SIZE]
        check.expect("the file grew while the server was still sending", "yes",
                     "yes" if during else "no: the file was written only after the whole body had arrived",
                     hint="treq.content(response) (or readBody) waits for the whole body and holds it in "
                          "memory; treq.collect(response, file.write) writes each piece as it arrives")
        refusing = check.serve(pages.errorPage(400, "Bad Request", "The check asked for a 400."), "check-400")
        for url, path, status in ((refusing.url, "", 400), (server.url, "nowhere", 404)):
            got = Outcome(download_to_file, url + path, os.path.join(folder, f"{status}.txt"))
            check.expect(f"download_to_file(.../{path}) fails with {http_error(status)}", http_error(status),
                         got.described(),
                         hint=error_hint(got, status) + (": look at response.code before writing anything"
                                                          if got.ok else ""))
