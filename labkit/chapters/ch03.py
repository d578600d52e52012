"""Checks for chapter 3, Web Clients.

Each ``check_*`` function takes what the learner wrote, runs it against a fresh copy of the practice web site
(``servers.web``), reads the site's request log to see what the learner's client really sent, and shows a pass
or raises :class:`labkit.checks.CheckFailed`. Every wait is bounded.
"""

from __future__ import annotations

import os

from twisted.internet import defer, task
from twisted.internet.testing import StringTransport

from twisted.web import pages

from labkit.checks import Check, Outcome, call_learner, http_error, limits, short
from labkit.progress import describe

import servers.web
from servers.origins import cut_short

__all__ = ["check_download_to_file", "check_fetch_page", "check_fetch_private", "check_page_watcher",
           "check_progress_writer", "check_upload"]

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
                         got.described(), hint=_error_hint(got, status))
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


def _error_hint(got: Outcome, status: int) -> str:
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
                         hint=_error_hint(got, status) + (": look at response.code before writing anything"
                                                          if got.ok else ""))


# --- 3.2 --------------------------------------------------------------------------------------------------------

def _private_hint(sent: list, credentials: tuple) -> str:
    """Why the private page was not fetched, from the credentials each request to it carried."""
    if sent == [None]:
        return "it never asked again after the 401: a refusal with status b'401' means 'ask again with credentials'"
    if len(sent) == 2 and sent[1] != credentials:
        return f"the second request carried the credentials {sent[1]!r}: send the username and password given"
    return ""


def check_fetch_private(fetch_private) -> None:
    """Exercise 3.2: ``fetch_private(reactor, url, username, password)`` asks without credentials first; on a 401
    asks again once with HTTP Basic credentials; fires with the body, or fails with web.error.Error."""
    from servers.web import HELLO_HTML, PASSWORD, PRIVATE_HTML, USERNAME

    with Check("fetch_private asks, is refused, and asks again with Basic credentials",
               start="fetch the page without credentials first; when that fails with status 401, ask again "
                     "with them") as check:
        site = servers.web.site()
        server = check.serve(site, "check-private")
        got = Outcome(fetch_private, server.url + "private", USERNAME, PASSWORD)
        sent = [r.basic_credentials or r.authorization for r in site.requests_to("/private")]
        check.expect("with the right password it fires with the private page", short(PRIVATE_HTML),
                     got.shown(), ok=got.ok and got.value == PRIVATE_HTML,
                     hint=_private_hint(sent, (USERNAME, PASSWORD)))
        check.expect("credentials sent in each request to /private (first none, then Basic)",
                     [None, (USERNAME, PASSWORD)], sent,
                     hint="the first request goes without credentials; only the 401 says they are needed. "
                          "The second carries 'Authorization: Basic ' + base64 of 'user:password'")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "private", USERNAME, "wrong")
        check.expect(f"with a wrong password it fails with {http_error(401)}", http_error(401),
                     got.described(),
                     hint="ask again once only: if the second answer is 401 too, let that error through")
        check.expect("requests made with a wrong password", 2, len(site.requests_to("/private")),
                     hint="ask again once only: if the second answer is 401 too, let that error through")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "nowhere", USERNAME, PASSWORD)
        check.expect("a missing page: it fails with its 404 after one request, no credentials sent",
                     (http_error(404), [None]), (got.described(), [r.authorization for r in site.requests]),
                     hint="only a 401 asks for credentials: any other error goes to the caller as it is")
        site.clear_requests()
        got = Outcome(fetch_private, server.url + "hello", USERNAME, PASSWORD)
        check.expect("a page that needs no password is fetched once, without credentials",
                     [(None, 200)], [(r.authorization, r.code) for r in site.requests_to("/hello")],
                     ok=got.ok and got.value == HELLO_HTML
                     and [(r.authorization, r.code) for r in site.requests_to("/hello")] == [(None, 200)],
                     hint="send the credentials only after a 401, never before")


# --- 3.3 --------------------------------------------------------------------------------------------------------

UPLOAD = (b'<!DOCTYPE html>\n<html lang="en">\n<head><title>My page</title></head>\n'
          b"<body>\n<p>Checked by the practice site.</p>\n</body>\n</html>\n")


def check_upload(upload_file) -> None:
    """Exercise 3.3: ``upload_file(reactor, url, filename, data)`` POSTs ``data`` as a multipart/form-data
    upload in the field ``uploaded_file`` and fires with the response body."""
    with Check("upload_file sends a well-formed multipart/form-data upload",
               start="treq.post(url, files={...}) builds a multipart/form-data body for you") as check:
        site = servers.web.site()
        server = check.serve(site, "check-upload")
        got = Outcome(upload_file, server.url + "check", "page.html", UPLOAD)
        posts = [r for r in site.requests_to("/check") if r.method == "POST"]
        check.expect("POST requests to /check", 1, len(posts),
                     hint="send one POST request to the URL given (treq.post)")
        if not site.uploads:
            return
        report = site.uploads[-1]
        check.expect("problems the site found in the body's encoding", [], report.problems,
                     hint="the Content-Type must be 'multipart/form-data; boundary=B', every part must start "
                          "with a line '--B' and the body must end with '--B--'; treq.post(url, files=...) "
                          "does all of that")
        fields = {f.name: f for f in report.fields}
        upload = fields.get("uploaded_file")
        check.expect("the field uploaded_file holds the file (name, type, size)",
                     ("page.html", "text/html", len(UPLOAD)),
                     (upload.filename, upload.content_type, upload.size) if upload
                     else f"no such field; fields: {sorted(fields)}",
                     hint=("name the form field 'uploaded_file', as the site's form does" if upload is None
                           else "give the file name with the data: a (filename, type, file) tuple"
                           if upload.filename != "page.html" else
                           f"the part said its type is {upload.content_type!r}: the page is text/html"))
        check.expect("upload_file fired with the site's report", "a page titled 'Upload report'",
                     "a page titled 'Upload report'" if got.ok and isinstance(got.value, bytes)
                     and b"<title>Upload report</title>" in got.value
                     else got.shown(),
                     hint="return the response's body: return await response.content()")


# --- 3.4 --------------------------------------------------------------------------------------------------------

def check_page_watcher(watcher_class) -> None:
    """Exercise 3.4: ``watcher_class(url)`` has ``poll()``, which fires True when the page changed since the
    last poll (or on the first), False on 304; it remembers ETag and Last-Modified and sends them back."""
    with Check("PageWatcher sends If-None-Match and If-Modified-Since and understands 304",
               start="in poll, GET self.url; a 200 means changed (True), a 304 unchanged (False)") as check:
        site = servers.web.site()
        server = check.serve(site, "check-watch")
        watcher = watcher_class(server.url + "news")
        answers = [_poll(watcher)]
        answers.append(_poll(watcher))
        first = site.news
        second = site.bump_news("Something happened.")
        answers += [_poll(watcher), _poll(watcher)]
        check.expect("poll() answers: first, again, after the news changed, again",
                     [True, False, True, False], answers,
                     hint="poll answers True when the site sent the page (200) and False when it answered 304")
        records = site.requests_to("/news")
        check.expect("If-None-Match sent", [None, first.etag, first.etag, second.etag],
                     [r.if_none_match for r in records],
                     hint="send back the ETag of the last 200 response, exactly as received (with its quotes)")
        check.expect("If-Modified-Since sent",
                     [None, first.last_modified, first.last_modified, second.last_modified],
                     [r.if_modified_since for r in records],
                     hint="send back the Last-Modified of the last 200 response as If-Modified-Since")
        check.expect("status codes the site answered", [200, 304, 200, 304], [r.code for r in records])
        plain = watcher_class(server.url + "plain")
        answers = [_poll(plain), _poll(plain)]
        check.expect("on /plain (no validators) every poll says changed", [True, True], answers)
        check.expect("conditional headers sent to /plain", [(None, None), (None, None)],
                     [(r.if_none_match, r.if_modified_since) for r in site.requests_to("/plain")],
                     hint="send If-None-Match / If-Modified-Since only when the last response had an "
                          "ETag / a Last-Modified")


def _poll(watcher):
    got = Outcome(lambda reactor: watcher.poll())
    return got.value if got.ok else got.described()


# --- 3.5 --------------------------------------------------------------------------------------------------------

class _Recorder:
    """Stands in for a Progress: records every call, and whether the server had finished sending by then."""

    def __init__(self, site, path):
        self.site, self.path = site, path
        self.calls: list[tuple] = []

    def _server_done(self) -> bool:
        records = self.site.requests_to(self.path) if self.site is not None else []
        return bool(records) and records[-1].finished

    def update(self, nbytes):
        self.calls.append(("update", nbytes, self._server_done()))

    def done(self):
        self.calls.append(("done",))
        return self

    def fail(self, reason):
        self.calls.append(("fail", describe(reason)))
        return self

    def ends(self) -> list[str]:
        return [call[0] for call in self.calls if call[0] != "update"]

    def received(self) -> int:
        return sum(call[1] for call in self.calls if call[0] == "update")


def _probe(writer_class, path: str) -> None:
    """Call the consumer's methods once directly, so an unwritten one says so at once (inside a download, its
    NotImplementedError would only be logged, and the check would wait for nothing)."""
    from twisted.python.failure import Failure
    from twisted.web.client import ResponseDone

    finished = defer.Deferred()
    finished.addErrback(lambda _: None)
    with open(path, "wb") as file:
        writer = writer_class(file, _Recorder(None, None), finished)
        writer.makeConnection(StringTransport())
        writer.dataReceived(b"probe")
        writer.connectionLost(Failure(ResponseDone()))


def check_progress_writer(writer_class) -> None:
    """Exercise 3.5: ``writer_class(file, progress, finished)`` is a body consumer for ``response.deliverBody``:
    it writes every piece to the file and counts it with ``progress.update(len(data))``; when the body is
    complete it calls ``progress.done()`` and fires ``finished`` with the byte count; when the body is cut short
    it calls ``progress.fail(reason)`` and fails ``finished`` with the reason."""
    from twisted.web.client import Agent

    from servers.web import SLOW_SIZE, text_body

    with Check("ProgressWriter writes and counts each piece, and reports the end, complete or cut short",
               start="in dataReceived, write the piece to self.file and count it with self.progress.update") as check:
        site = servers.web.site()
        server = check.serve(site, "check-progress")
        cut_server = check.serve(cut_short(), "check-cut-short")
        folder = check.temporary_folder("check-progress-")
        call_learner(_probe, writer_class, os.path.join(folder, "probe.txt"), timeout=limits.QUICK, blocking=True)
        for kind in ("sized", "chunked"):
            path = os.path.join(folder, f"{kind}.txt")
            recorder = _Recorder(site, f"/slow/{kind}")

            async def main(reactor, url, path=path, recorder=recorder):
                response = await Agent(reactor).request(b"GET", url.encode("ascii"))
                finished = defer.Deferred()
                with open(path, "wb") as file:
                    response.deliverBody(writer_class(file, recorder, finished))
                    return await finished

            got = Outcome(main, server.url + f"slow/{kind}?duration=0.6", timeout=limits.CONSUMED)
            written = open(path, "rb").read() if os.path.exists(path) else b""
            check.expect(f"/slow/{kind}: the file holds the whole body", f"{SLOW_SIZE:,} bytes",
                         f"{len(written):,} bytes", ok=written == text_body(SLOW_SIZE),
                         hint="write every piece that dataReceived gets to self.file")
            updates = [call for call in recorder.calls if call[0] == "update"]
            early = [call for call in updates if not call[2]]
            check.expect(f"/slow/{kind}: bytes counted with progress.update",
                         f"{SLOW_SIZE:,} in several updates, some before the server had sent everything",
                         f"{recorder.received():,} in {len(updates)} updates, {len(early)} before the "
                         "server had sent everything",
                         ok=recorder.received() == SLOW_SIZE and len(early) >= 2,
                         hint="call self.progress.update(len(data)) in dataReceived, for every piece")
            check.expect(f"/slow/{kind}: how it ended (progress calls after the updates; finished)",
                         (["done"], SLOW_SIZE),
                         (recorder.ends(), got.value if got.ok else got.described()),
                         hint="in connectionLost, when reason.check(ResponseDone): call "
                              "self.progress.done() once and self.finished.callback(number of bytes)")
        recorder = _Recorder(None, None)
        path = os.path.join(folder, "short.txt")

        async def cut(reactor):
            response = await Agent(reactor).request(b"GET", f"http://127.0.0.1:{cut_server.port}/".encode())
            finished = defer.Deferred()
            with open(path, "wb") as file:
                response.deliverBody(writer_class(file, recorder, finished))
                return await finished

        got = Outcome(cut)
        check.expect("a body cut short: progress calls at the end, and finished",
                     (["fail"], "it failed (ResponseFailed)"),
                     (recorder.ends(), "it failed (ResponseFailed)"
                      if not got.ok and type(got.error).__name__ == "ResponseFailed"
                      else got.described()),
                     hint="connectionLost gets a reason that is not ResponseDone when the body was cut short: "
                          "call self.progress.fail(reason) and self.finished.errback(reason)")
