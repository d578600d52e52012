"""Chapter 3's check for a body consumer (3.5): every piece written and counted, and the end reported, whether
the body was complete or cut short."""

from __future__ import annotations

import os

from twisted.internet import defer
from twisted.internet.testing import StringTransport

from labkit.checks import Check, Outcome, call_learner, limits
from labkit.progress import describe

import servers.web
from servers.origins import cut_short

__all__ = ["check_progress_writer"]


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
