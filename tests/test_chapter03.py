"""Chapter 3's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Then labkit.progress, and how bad input to treq fails."""

from __future__ import annotations

import io

import pytest
import treq
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss

import labkit
from labkit.checks import closed_port
from labkit.progress import Progress, ProgressProtocol, collect, describe
from labkit.testing import Mistake, exercise_tests

ASKS_FOREVER = """    while True:
        try:
            return await get_page(url, auth=(username, password))
        except error.Error:
            continue
"""

MISTAKES = [
    # 3.1a fetch_page(reactor, url)
    Mistake("3.1a", "only 404 is an error", ("response.code >= 400", "response.code == 404"),
            hint="as if it were the page asked for"),
    Mistake("3.1a", "400 let through", ("response.code >= 400", "response.code > 400"),
            hint="as if it were the page asked for"),
    Mistake("3.1a", "the body decoded to text", ("return body", "return body.decode()"), hint="it fired with text"),
    Mistake("3.1a", "the response returned", ("return body", "return response"), hint="the response object"),
    Mistake("3.1a", "another error raised", ("raise error.Error(response.code, response.phrase, body)",
                                             "raise ValueError(response.code)"),
            hint="not with twisted.web.error.Error"),
    # 3.1b download_to_file(reactor, url, path)
    Mistake("3.1b", "the whole body held in memory", ("await treq.collect(response, file.write)",
                                                      "file.write(await response.content())"),
            hint="waits for the whole body"),
    Mistake("3.1b", "a 404 page saved", ("response.code >= 400", "response.code >= 500"),
            hint="look at response.code before writing"),
    Mistake("3.1b", "the count not returned", ("return file.tell()", "pass"),
            hint="the number of bytes written"),
    Mistake("3.1b", "the file opened as text", ('open(path, "wb")', 'open(path, "w")'), hint="binary mode"),
    # 3.2 fetch_private(reactor, url, username, password)
    Mistake("3.2", "credentials sent up front", ("return await get_page(url)\n",
                                                 "return await get_page(url, auth=(username, password))\n"),
            hint="the first request goes without credentials"),
    Mistake("3.2", "never asks again", ('        if refused.status != b"401":\n            raise\n', "        raise\n"),
            hint="it never asked again after the 401"),
    Mistake("3.2", "the status compared with an int", ('refused.status != b"401"', "refused.status != 401"),
            hint="it never asked again after the 401"),
    Mistake("3.2", "asks again forever", ("    return await get_page(url, auth=(username, password))\n",
                                          ASKS_FOREVER),
            hint="ask again once only"),
    Mistake("3.2", "any error taken as a 401", ('        if refused.status != b"401":\n            raise\n', "        pass\n"),
            hint="only a 401 asks for credentials"),
    Mistake("3.2", "username and password swapped", ("auth=(username, password)", "auth=(password, username)"),
            hint="send the username and password given"),
    # 3.3 upload_file(reactor, url, filename, data)
    Mistake("3.3", "the wrong field name", ('"uploaded_file"', '"file"'), hint="name the form field 'uploaded_file'"),
    Mistake("3.3", "no file name", ('(filename, "text/html", io.BytesIO(data))', "io.BytesIO(data)"),
            hint="give the file name"),
    Mistake("3.3", "the wrong type", ('"text/html"', '"text/plain"'), hint="the page is text/html"),
    Mistake("3.3", "the response returned", ("return await response.content()", "return response"),
            hint="return the response's body"),
    Mistake("3.3", "a URL-encoded form instead of a multipart one", ("files=files", 'data={"uploaded_file": data}'),
            hint="multipart/form-data"),
    # 3.4 PageWatcher.poll()
    Mistake("3.4", "only the ETag sent back", ('        if self.last_modified:\n'
                                               '            headers["If-Modified-Since"] = self.last_modified\n', ""),
            hint="send back the Last-Modified"),
    Mistake("3.4", "304 not understood", ("        if response.code == 304:\n            return False\n", ""),
            hint="False when it answered 304"),
    Mistake("3.4", "the ETag not stored", ('self.etag = (response.headers', 'etag = (response.headers'),
            hint="send back the ETag"),
    Mistake("3.4", "the wrong header name", ('headers["If-None-Match"]', 'headers["If-Match"]'),
            hint="send back the ETag"),
    # 3.6 fetch_trusting(reactor, url, ca_file)
    Mistake("3.6", "the system's authorities only", ("agent = Agent(reactor, contextFactory="
                                                    "BrowserLikePolicyForHTTPS(trustRoot=authority))",
                                                    "agent = Agent(reactor)"),
            hint="did not trust the authority in ca_file"),
    Mistake("3.6", "the practice authority built in", ("ssl.Certificate.loadPEM(file.read())",
                                                       "servers.tls.trust_root()"),
            hint="trust the authority in ca_file"),
    Mistake("3.6", "the response returned", ("return await response.content()", "return response"),
            hint="the response object"),
    # 3.7 diagnose(reactor, url)
    Mistake("3.7", "HTTP errors taken as pages", ('    if response.code >= 400:\n        return f"HTTP {response.code}"\n',
                                                  ""),
            hint="look at response.code"),
    Mistake("3.7", "no time limit", ("treq.get(url, timeout=1)", "treq.get(url)"), hint="without a time limit"),
    Mistake("3.7", "a body cut short not caught", ('    except ResponseFailed:\n        return "cut short"\n', ""),
            hint="catch it and say 'cut short'"),
    Mistake("3.7", "an unknown host taken as refused",
            ('    except net_error.DNSLookupError:\n        return "unknown host"\n'
             '    except net_error.ConnectionRefusedError:\n        return "refused"\n',
             '    except (net_error.DNSLookupError, net_error.ConnectionRefusedError):\n        return "refused"\n'),
            hint="a failed name lookup (DNSLookupError)"),
    # 3.5 ProgressWriter.dataReceived / connectionLost
    Mistake("3.5", "progress never updated", ("        self.progress.update(len(data))\n", ""),
            hint="self.progress.update(len(data))"),
    Mistake("3.5", "a cut body taken as complete", ("if reason.check(ResponseDone):", "if True:"),
            hint="cut short"),
    Mistake("3.5", "the count not stored", ("self.written += len(data)", "written = len(data)"),
            hint="self.finished.callback(number of bytes)"),
    Mistake("3.5", "finished fired without the count", ("self.finished.callback(self.written)",
                                                        "self.finished.callback(None)"),
            hint="self.finished.callback(number of bytes)"),
    Mistake("3.5", "finished never failed", ("            self.finished.errback(reason)\n", ""),
            hint="self.finished.errback(reason)"),
]

TestChapter03 = exercise_tests(3, MISTAKES)


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

    try:  # quick: within react's bound (a loaded machine may take seconds; the time is no assertion here)
        assert expected in labkit.react(attempt, timeout=5)
    finally:
        cut.stop()


def test_a_wait_for_a_page_that_never_answers_ends_in_lab_timeout(site):
    with pytest.raises(labkit.LabTimeout, match="did not finish within 1 s"):
        labkit.react(lambda reactor: treq.get(site.url + "never"), timeout=1)
