"""Chapter 3's checks (each passes a right solution, and fails a typical wrong one with a message that says what to
change) and labkit.progress."""

from __future__ import annotations

import base64
import io
import time

import pytest
import treq
from twisted.internet import defer, protocol
from twisted.python.failure import Failure
from twisted.web import error
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss

import labkit
from labkit.checks import closed_port
from labkit.chapters import ch03
from labkit.checks import CheckFailed
from labkit.progress import Progress, ProgressProtocol, collect, describe


# --- right solutions, as in the complete notebook ------------------------------------------------------------

async def fetch_page(reactor, url):
    response = await treq.get(url)
    body = await response.content()
    if response.code >= 400:
        raise error.Error(response.code, response.phrase, body)
    return body


async def download_to_file(reactor, url, path):
    response = await treq.get(url, unbuffered=True)
    if response.code >= 400:
        raise error.Error(response.code, response.phrase, await response.content())
    with open(path, "wb") as file:
        await treq.collect(response, file.write)
        return file.tell()


def get_page(url, **kwargs):
    return defer.ensureDeferred(_fetch_with(url, **kwargs))


async def _fetch_with(url, **kwargs):
    response = await treq.get(url, **kwargs)
    body = await response.content()
    if response.code >= 400:
        raise error.Error(response.code, response.phrase, body)
    return body


def fetch_private(reactor, url, username, password):
    """The book's way: an errback that returns a new Deferred."""

    def ask_again(failure):
        failure.trap(error.Error)
        if failure.value.status != b"401":
            return failure
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return get_page(url, headers={"Authorization": "Basic " + token})

    return get_page(url).addErrback(ask_again)


async def upload_file(reactor, url, filename, data):
    response = await treq.post(url, files={"uploaded_file": (filename, "text/html", io.BytesIO(data))})
    return await response.content()


class PageWatcher:
    def __init__(self, url):
        self.url = url
        self.etag = None
        self.last_modified = None

    async def poll(self):
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        response = await treq.get(self.url, headers=headers)
        await response.content()
        if response.code == 304:
            return False
        self.etag = (response.headers.getRawHeaders("etag") or [None])[0]
        self.last_modified = (response.headers.getRawHeaders("last-modified") or [None])[0]
        return True


class ProgressWriter(protocol.Protocol):
    def __init__(self, file, progress, finished):
        self.file, self.progress, self.finished = file, progress, finished
        self.written = 0

    def dataReceived(self, data):
        self.file.write(data)
        self.written += len(data)
        self.progress.update(len(data))

    def connectionLost(self, reason):
        if reason.check(ResponseDone):
            self.progress.done()
            self.finished.callback(self.written)
        else:
            self.progress.fail(reason)
            self.finished.errback(reason)


def stub(*args, **kwargs):
    raise NotImplementedError()


def failed(check, *args) -> str:
    with pytest.raises(CheckFailed) as raised:
        check(*args)
    return str(raised.value)


# --- the right solutions pass ----------------------------------------------------------------------------------

@pytest.mark.parametrize("check, solution", [
    (ch03.check_fetch_page, fetch_page),
    (ch03.check_download_to_file, download_to_file),
    (ch03.check_fetch_private, fetch_private),
    (ch03.check_upload, upload_file),
    (ch03.check_page_watcher, PageWatcher),
    (ch03.check_progress_writer, ProgressWriter),
], ids=lambda value: getattr(value, "__name__", ""))
def test_a_right_solution_passes(check, solution, capsys):
    check(solution)
    assert capsys.readouterr().out.startswith("PASS")


def test_an_async_fetch_private_with_treq_auth_passes():
    async def with_auth(reactor, url, username, password):
        try:
            return await get_page(url)
        except error.Error as refused:
            if refused.status != b"401":
                raise
        return await get_page(url, auth=(username, password))

    ch03.check_fetch_private(with_auth)


# --- untouched stubs fail, saying so ---------------------------------------------------------------------------

class StubWatcher:
    def __init__(self, url):
        self.url = url

    def poll(self):
        raise NotImplementedError()


class StubWriter(protocol.Protocol):
    def __init__(self, file, progress, finished):
        self.file, self.progress, self.finished = file, progress, finished

    def dataReceived(self, data):
        raise NotImplementedError()

    def connectionLost(self, reason):
        raise NotImplementedError()


@pytest.mark.parametrize("check, learner_stub", [
    (ch03.check_fetch_page, stub), (ch03.check_download_to_file, stub), (ch03.check_fetch_private, stub),
    (ch03.check_upload, stub), (ch03.check_page_watcher, StubWatcher), (ch03.check_progress_writer, StubWriter),
], ids=lambda value: getattr(value, "__name__", ""))
def test_an_untouched_stub_fails_quickly_and_says_so(check, learner_stub):
    started = time.monotonic()
    message = failed(check, learner_stub)
    assert "FAIL" in message and "NotImplementedError" in message
    assert time.monotonic() - started < 5


# --- typical mistakes fail, with the hint that fixes them ------------------------------------------------------

def test_fetch_page_that_does_not_fail_on_404_is_told_to_look_at_the_code():
    async def no_status(reactor, url):
        response = await treq.get(url)
        return await response.content()

    message = failed(ch03.check_fetch_page, no_status)
    assert "fetch_page(.../nowhere) fails with" in message and "response.code" in message
    assert "expected: web.error.Error, status 404\n" in message


def test_fetch_page_that_decodes_the_body_is_told_to_return_bytes():
    async def text(reactor, url):
        return await (await treq.get(url)).text()

    message = failed(ch03.check_fetch_page, text)
    assert "return the body as bytes" in message
    assert "expected: b'<!DOCTYPE html>" in message and "got:      '<!DOCTYPE html>" in message
    assert "got:      it fired with '<!DOCTYPE html>" in message


def test_download_that_holds_the_body_in_memory_is_told_to_collect():
    async def whole(reactor, url, path):
        response = await treq.get(url)
        if response.code >= 400:
            raise error.Error(response.code)
        body = await response.content()
        with open(path, "wb") as file:
            file.write(body)
        return len(body)

    message = failed(ch03.check_download_to_file, whole)
    assert "the file grew while the server was still sending" in message
    assert "treq.collect(response, file.write)" in message


def test_download_that_writes_the_error_page_fails_on_404():
    async def no_status(reactor, url, path):
        response = await treq.get(url, unbuffered=True)
        with open(path, "wb") as file:
            await treq.collect(response, file.write)
            return file.tell()

    message = failed(ch03.check_download_to_file, no_status)
    assert "download_to_file(.../nowhere) fails with" in message and "response.code" in message


def test_fetch_private_that_sends_credentials_up_front_fails():
    def eager(reactor, url, username, password):
        return get_page(url, auth=(username, password))

    message = failed(ch03.check_fetch_private, eager)
    assert "first none, then Basic" in message and "only the 401 says they are needed" in message


def test_fetch_private_that_never_asks_again_fails():
    def once(reactor, url, username, password):
        return get_page(url)

    message = failed(ch03.check_fetch_private, once)
    assert "with the right password it fires with the private page" in message
    assert "web.error.Error, status 401" in message


def test_upload_with_the_books_encoder_is_told_what_is_wrong():
    async def book(reactor, url, filename, data):
        boundary = b"---abcdefghijklmnopqrst---"
        body = b"\r\n".join([boundary, b'Content-Disposition: form-data; name="uploaded_file"; filename="%s"'
                             % filename.encode(), data, b"", boundary])
        response = await treq.post(url, data=body, headers={"Content-Type": "multipart/form-data"})
        return await response.content()

    message = failed(ch03.check_upload, book)
    assert "Content-Type has no boundary parameter" in message and "--B--" in message


def test_upload_in_the_wrong_field_is_told_the_field_name():
    async def wrong_field(reactor, url, filename, data):
        response = await treq.post(url, files={"file": (filename, "text/html", io.BytesIO(data))})
        return await response.content()

    message = failed(ch03.check_upload, wrong_field)
    assert "no such field; fields: ['file']" in message and "'uploaded_file'" in message


def test_watcher_without_validators_is_told_to_send_them_back():
    class Forgetful(PageWatcher):
        async def poll(self):
            response = await treq.get(self.url)
            await response.content()
            return response.code != 304

    message = failed(ch03.check_page_watcher, Forgetful)
    assert "expected: [True, False, True, False]" in message and "If-None-Match" in message


def test_watcher_that_sends_only_the_etag_is_told_about_if_modified_since():
    class EtagOnly(PageWatcher):
        async def poll(self):
            self.last_modified = None
            return await super().poll()

    message = failed(ch03.check_page_watcher, EtagOnly)
    assert "[XX] If-Modified-Since sent" in message and "[ok] If-None-Match sent" in message


def test_progress_writer_that_calls_done_on_a_cut_body_fails():
    class Optimist(ProgressWriter):
        def connectionLost(self, reason):
            self.progress.done()
            self.finished.callback(self.written)

    message = failed(ch03.check_progress_writer, Optimist)
    assert "[XX] a body cut short" in message and "progress.fail(reason)" in message


def test_progress_writer_that_counts_nothing_fails():
    class Silent(ProgressWriter):
        def dataReceived(self, data):
            self.file.write(data)
            self.written += len(data)

    message = failed(ch03.check_progress_writer, Silent)
    assert "bytes counted with progress.update" in message and "self.progress.update(len(data))" in message


# --- labkit.progress -----------------------------------------------------------------------------------------

def text_progress(total, label="test"):
    stream = io.StringIO()
    return Progress(total, label, mode="text", stream=stream), stream


def test_text_progress_prints_a_line_per_tenth_and_a_deterministic_last_line():
    bar, stream = text_progress(262_144, "/slow/sized")
    for _ in range(16):
        bar.update(16_384)
    assert bar.done() is bar
    lines = stream.getvalue().splitlines()
    assert lines == [f"/slow/sized: {n}0% of 262,144 bytes" for n in range(1, 10)] + \
        ["/slow/sized: downloaded 262,144 of 262,144 bytes"]
    assert str(bar) == "/slow/sized: downloaded 262,144 of 262,144 bytes"
    assert bar.summary == "downloaded 262,144 of 262,144 bytes"


def test_text_progress_lines_do_not_depend_on_how_the_bytes_were_split():
    outputs = []
    for pieces in ([1000], [1] * 1000, [333, 333, 334], [999, 1]):
        bar, stream = text_progress(1000)
        for piece in pieces:
            bar.update(piece)
        bar.done()
        outputs.append(stream.getvalue())
    assert len(set(outputs)) == 1


def test_text_progress_without_a_total_prints_when_the_count_doubles():
    bar, stream = text_progress(None, "chunked")
    for _ in range(10):
        bar.update(30_000)
    bar.done()
    assert stream.getvalue().splitlines() == [
        "chunked: at least 65,536 bytes so far", "chunked: at least 131,072 bytes so far",
        "chunked: at least 262,144 bytes so far", "chunked: downloaded 300,000 bytes"]


def test_a_failure_is_reported_once_and_later_updates_are_ignored():
    bar, stream = text_progress(1000)
    bar.update(100)
    bar.fail(Failure(ResponseFailed([Failure(ConnectionError("gone"))])))
    bar.update(900)
    bar.done()
    assert stream.getvalue().splitlines() == [
        "test: 10% of 1,000 bytes", "test: failed after 100 of 1,000 bytes: ResponseFailed (ConnectionError: gone)"]
    assert bar.received == 100 and bar.failed


def test_bad_arguments_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="UNKNOWN_LENGTH"):
        Progress(total=-1)
    with pytest.raises(ValueError, match="mode"):
        Progress(mode="fancy")


def test_outside_a_kernel_the_default_is_text(capsys):
    bar = Progress(10, "plain")
    bar.update(10)
    bar.done()
    assert bar.mode == "text" and bar.widget is None
    assert capsys.readouterr().out.endswith("plain: downloaded 10 of 10 bytes\n")


def test_the_widget_redraws_about_ten_times_a_second_at_most_and_always_at_the_end(monkeypatch):
    bar = Progress(1_000_000, "live", mode="widget", show=False)
    draws = []
    real_draw = bar._draw
    monkeypatch.setattr(bar, "_draw", lambda: (draws.append(bar.received), real_draw()))
    for _ in range(1000):
        bar.update(1000)
    assert 1 <= len(draws) <= 3
    bar.done()
    assert draws[-1] == 1_000_000
    assert bar._bar.value == 1_000_000 and bar._bar.bar_style == "success"
    assert bar._text.value.startswith("live: downloaded 1,000,000 of 1,000,000 bytes")


def test_the_widget_without_a_total_is_info_styled_and_counts():
    bar = Progress(None, "chunked", mode="widget", show=False)
    assert bar._bar.bar_style == "info"
    bar.update(5000)
    bar._draw()
    assert bar._text.value.startswith("chunked: 5,000 bytes so far")
    bar.fail("cut short")
    assert bar._bar.bar_style == "danger" and bar._text.value == "chunked: failed after 5,000 bytes: cut short"


def test_the_live_view_has_a_fixed_plain_text_form():
    bar = Progress(100, "x", mode="widget", show=False)
    from labkit.progress import _LiveView

    bundle = _LiveView(bar)._repr_mimebundle_()
    assert bundle["text/plain"] == "[live progress bar] x"
    assert "application/vnd.jupyter.widget-view+json" in bundle


class FakeTransport:
    def __init__(self):
        self.stopped = False

    def stopProducing(self):
        self.stopped = True


def test_progress_protocol_writes_counts_and_ends():
    pieces = []
    bar = Progress(6, mode="quiet")
    consumer = ProgressProtocol(bar, pieces.append)
    consumer.makeConnection(FakeTransport())
    consumer.dataReceived(b"abc")
    consumer.dataReceived(b"def")
    consumer.connectionLost(Failure(ResponseDone()))
    assert pieces == [b"abc", b"def"] and consumer.finished.result is bar and bar.summary.startswith("downloaded 6")


def test_progress_protocol_takes_potential_data_loss_as_the_end_of_an_unsized_body():
    bar = Progress(None, mode="quiet")
    consumer = ProgressProtocol(bar)
    consumer.makeConnection(FakeTransport())
    consumer.dataReceived(b"abc")
    consumer.connectionLost(Failure(PotentialDataLoss()))
    assert bar.finished and bar.failed is None


def test_progress_protocol_stops_the_producer_when_write_fails():
    def full(data):
        raise OSError("disk full")

    bar = Progress(10, mode="quiet")
    consumer = ProgressProtocol(bar, full)
    transport = FakeTransport()
    consumer.makeConnection(transport)
    consumer.dataReceived(b"abc")
    assert transport.stopped
    consumer.connectionLost(Failure(ResponseFailed([])))
    failures = []
    consumer.finished.addErrback(failures.append)
    assert failures[0].check(OSError) and bar.failed == "OSError: disk full"


@pytest.fixture
def site():
    import servers.web

    made = servers.web.site(slow_duration=0.2)
    server = labkit.serve(made, name="progress-test", show=False)
    yield server
    server.stop()


@pytest.mark.parametrize("path, summary", [
    ("slow/sized", "downloaded 262,144 of 262,144 bytes"), ("slow/chunked", "downloaded 262,144 bytes"),
    ("big", "downloaded 1,000,000 of 1,000,000 bytes")])
def test_collect_reads_a_whole_body_from_treq(site, path, summary):
    pieces = []

    async def main(reactor):
        response = await treq.get(site.url + path, unbuffered=True)
        return await collect(response, pieces.append, mode="quiet")

    bar = labkit.react(main, timeout=10)
    assert bar.summary == summary and len(b"".join(pieces)) == bar.received


def test_collect_of_an_empty_body_is_done_at_once(site):
    async def main(reactor):
        response = await treq.head(site.url + "hello")
        return await collect(response, mode="quiet")

    assert labkit.react(main, timeout=5).summary == "downloaded 0 of 0 bytes"


def test_collect_fails_on_a_body_cut_short():
    from servers.origins import cut_short

    server = labkit.serve(cut_short(), name="cut-test", show=False)
    bars = []

    async def main(reactor):
        from twisted.web.client import Agent

        response = await Agent(reactor).request(b"GET", server.url.replace("tcp:", "http:").encode())
        bar = Progress(response.length, mode="quiet")
        bars.append(bar)
        return await collect(response, progress=bar)

    try:
        with pytest.raises(ResponseFailed):
            labkit.react(main, timeout=5)
    finally:
        server.stop()
    assert bars[0].summary.startswith("failed after 400 of 1,000 bytes: ResponseFailed")


def test_describe_spells_out_nested_reasons():
    assert describe("plain words") == "plain words"
    assert describe(ValueError()) == "ValueError"
    nested = ResponseFailed([Failure(ConnectionError("reset")), Failure(ValueError("bad"))])
    assert describe(Failure(nested)) == "ResponseFailed (ConnectionError: reset; ValueError: bad)"


# --- bad input: every failure is quick and reads clearly -------------------------------------------------------

def test_learner_code_that_never_finishes_fails_within_the_time_limit():
    async def asks_forever(reactor, url, username, password):
        while True:
            try:
                return await get_page(url, auth=(username, password) if "private" in url else None)
            except error.Error:
                continue

    started = time.monotonic()
    message = failed(ch03.check_fetch_private, asks_forever)
    assert "did not finish within the time limit" in message
    assert time.monotonic() - started < 15


def test_learner_code_that_raises_is_reported_with_the_error():
    async def broken(reactor, url):
        raise ValueError("oops")

    assert "it raised ValueError: oops" in failed(ch03.check_fetch_page, broken)


@pytest.mark.parametrize("url, expected", [
    ("www.example.com/hello", "SchemeNotSupported: Unsupported scheme: b''"),
    ("http://127.0.0.1:eighty/", "URLParseError: expected integer for port, not 'eighty'"),
    ("http://x.invalid/", "DNSLookupError"),
    ("http://127.0.0.1:{closed}/", "ConnectionRefusedError"),
    ("{web}never", "ResponseNeverReceived (CancelledError)"),
    ("{cut}", "ResponseFailed (ConnectionDone: Connection was closed cleanly.; _DataLoss)"),
], ids=["no-scheme", "bad-port", "unknown-host", "refused", "never-answers", "cut-short"])
def test_bad_input_fails_quickly_with_a_clear_reason(site, url, expected):
    from servers.origins import cut_short

    cut = labkit.serve(cut_short(), name="cut-test", show=False)
    url = url.format(closed=closed_port(), web=site.url, cut=cut.url.replace("tcp:", "http:"))

    async def attempt(reactor):
        try:
            response = await treq.get(url, timeout=1)
            await response.content()
        except Exception as problem:
            return describe(problem)
        return "no failure"

    started = time.monotonic()
    try:
        assert expected in labkit.react(attempt, timeout=5)
    finally:
        cut.stop()
    assert time.monotonic() - started < 3


def test_a_wait_for_a_page_that_never_answers_ends_in_lab_timeout(site):
    with pytest.raises(labkit.LabTimeout, match="did not finish within 1 s"):
        labkit.react(lambda reactor: treq.get(site.url + "never"), timeout=1)
