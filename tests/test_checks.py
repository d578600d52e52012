"""The check kit (labkit.checks): what a check serves is stopped however it ends, values show as the learner
wrote them, errors raised inside the reactor end a wait at once, and a failure reads as one box in a kernel."""

from __future__ import annotations

import re

import pytest
from twisted.internet import defer, protocol, task
from twisted.web import resource

import labkit
from labkit.checks import (Check, CheckFailed, Outcome, call_learner, closed_port, converse, fetch, limits,
                           logged_error, server_health, short, shown, unwritten)
from labkit.checks.report import html_box
from tests.kernel import Kernel


def failure_of(body) -> CheckFailed:
    """Run ``body(check)`` inside a check that must fail; return the CheckFailed."""
    with pytest.raises(CheckFailed) as raised:
        with Check("a check that fails", hint="the hint") as check:
            body(check)
    return raised.value


# --- values as the learner wrote them --------------------------------------------------------------------------

def test_bytes_and_text_are_shown_once_in_their_own_form():
    assert shown(b"<p>") == "b'<p>'" and shown("<p>") == "'<p>'" and shown(404) == "404"
    cut = short(b"x" * 200, 20)
    assert cut == "b'" + "x" * 15 + "..." and shown(cut) == cut
    assert repr((404, short(b"<!DOCTYPE html>"))) == "(404, b'<!DOCTYPE html>')"


def test_a_report_shows_a_short_value_without_quoting_it_again():
    def body(check):
        check.expect("the page", short(b"<!DOCTYPE html>"), short("<!DOCTYPE html>"))

    message = str(failure_of(body))
    assert "expected: b'<!DOCTYPE html>'" in message and "got:      '<!DOCTYPE html>'" in message
    assert "\"b'" not in message and "\\'" not in message


def test_the_html_box_aligns_every_cell_left():
    check = Check("aligned")
    check.expect("the answer", b"yes", b"no", sent=b"question")
    box = html_box(check)
    cells = re.findall(r"<t[hd][^>]*>", box)
    assert len(cells) == 6 and all("text-align:left" in cell for cell in cells)
    assert "b&#x27;no&#x27;" in box


# --- what a check starts, it stops ------------------------------------------------------------------------------

def test_a_served_server_and_a_folder_are_gone_when_the_learners_code_raises():
    started = {}

    def body(check):
        started["server"] = check.serve("echo", "kit-echo")
        started["folder"] = check.temporary_folder("kit-")
        (started["folder"] / "file.txt").write_text("x")
        raise ValueError("boom")

    failed = failure_of(body)
    assert "your code raised ValueError: boom" in str(failed)
    assert started["server"].stopped and "kit-echo" not in [s.name for s in labkit.running_servers()]
    assert not started["folder"].exists()


def test_a_udp_listener_answers_during_the_check_and_is_closed_however_it_ends():
    import socket

    from servers import names

    ports = []

    def body(check):
        factory = names.dns()
        served = check.serve(factory, "kit-dns")
        ports.append(check.serve_udp(names.listen_udp, factory, served.port).getHost().port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(limits.REPLY)
            sock.sendto(bytes.fromhex("abcd01000001000000000000") + b"\x07example\x04test\x00\x00\x0f\x00\x01",
                        ("127.0.0.1", served.port))
            check.expect("the answer's id", b"\xab\xcd", sock.recv(512)[:2])
        raise ValueError("boom")

    assert "your code raised ValueError: boom" in str(failure_of(body))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", ports[0]))  # free again: the check stopped listening


def test_on_exit_runs_after_a_pass_too():
    calls = []
    with Check("passes") as check:
        check.on_exit(calls.append, "cleaned")
        check.expect("one", 1, 1)
    assert calls == ["cleaned"]


# --- a failure reads as one box -------------------------------------------------------------------------------

def test_check_failed_is_not_chained_and_renders_as_one_line():
    def body(check):
        raise NotImplementedError()

    failed = failure_of(body)
    assert failed.__cause__ is None and failed.__suppress_context__
    assert "your code is not written yet" in str(failed)
    rendered = failed._render_traceback_()
    assert len(rendered) == 1 and "CheckFailed" in rendered[0] and "a check that fails" in rendered[0]


def test_a_failing_check_in_a_kernel_shows_its_box_once_and_one_line_of_error():
    kernel = Kernel()
    try:
        run = kernel.run("from labkit.chapters.ch02 import check_countdown\n"
                         "def countdown(reactor, n, tick):\n"
                         "    raise NotImplementedError()\n"
                         "check_countdown(countdown)\n")
    finally:
        kernel.close()
    assert run.error is not None and run.error[0] == "CheckFailed"  # graders and nbval still count it
    assert len(run.error[2].splitlines()) <= 2, run.error[2]
    boxes = [text for text in run.results if text and text.startswith("FAIL")]
    assert len(boxes) == 1 and "not written yet" in boxes[0]
    assert "not written yet" not in run.error[2] and "Traceback" not in run.stderr


def test_a_served_servers_error_is_reported_in_the_box_and_not_repeated_under_it():
    kernel = Kernel()
    try:
        run = kernel.run("from twisted.internet import protocol\n"
                         "from twisted.protocols import basic\n"
                         "from labkit.chapters.ch02 import check_echo_server\n"
                         "class Echo(basic.LineReceiver):\n"
                         "    def lineReceived(self, line):\n"
                         "        self.sendLine('You said: ' + line)  # the book's str + bytes\n"
                         "check_echo_server(protocol.Factory.forProtocol(Echo))\n")
    finally:
        kernel.close()
    assert run.error is not None and run.error[0] == "CheckFailed"
    boxes = [text for text in run.results if text and text.startswith("FAIL")]
    assert len(boxes) == 1 and "TypeError" in boxes[0]
    assert "TypeError" not in run.stderr, run.stderr  # said once, in the box


# --- errors raised inside the reactor --------------------------------------------------------------------------

class Unwritten(protocol.Protocol):
    def connectionMade(self):
        raise NotImplementedError()


def test_an_unwritten_client_protocol_ends_the_wait_with_its_error_and_no_traceback(capsys):
    server = labkit.serve("echo", name="kit-watched", show=False)

    def main(reactor):
        reactor.connectTCP(server.host, server.port, protocol.ClientFactory.forProtocol(Unwritten))
        return defer.Deferred()  # never fires: only the error can end this wait before the time limit

    with pytest.raises(NotImplementedError):
        call_learner(main, timeout=limits.CONCURRENT_CLIENTS)
    assert "Traceback" not in capsys.readouterr().err


def test_a_failure_left_unhandled_by_earlier_code_is_not_blamed_on_the_watched_call():
    """A Deferred that failed with nobody to handle it is reported when it is garbage-collected, which may happen
    on the reactor thread during a later, unrelated call; that call's outcome must not take the blame."""
    import gc

    def left_unhandled():
        d = defer.Deferred()
        d.cycle = d  # kept alive until the cycle collector runs
        try:
            raise ValueError("from an earlier cell")  # raised in code that is not a library's, as a learner's
        except ValueError:
            d.errback()

    def main(reactor):
        def later():
            gc.collect()  # the collector happens to run now, on the reactor thread
            return "value"
        return task.deferLater(reactor, 0.01, later)

    gc.disable()
    try:
        left_unhandled()
        assert call_learner(main, timeout=limits.LEARNER_CALL) == "value"
    finally:
        gc.enable()


def test_a_watched_call_returns_its_value_and_passes_prints_on(capsys):
    def main(reactor):
        print("from the reactor")
        return task.deferLater(reactor, 0.01, lambda: "value")

    assert call_learner(main, timeout=limits.LEARNER_CALL) == "value"
    assert "from the reactor" in capsys.readouterr().out


def test_an_outcome_says_how_the_call_ended():
    assert shown(Outcome(lambda reactor: b"body").described()) == "it fired with b'body'"
    assert Outcome(lambda reactor: defer.Deferred(), timeout=0.2).described() == \
        "it did not finish within the time limit"
    assert Outcome(lambda reactor: defer.fail(ValueError("bad"))).described().startswith("it raised ValueError")
    with pytest.raises(NotImplementedError):
        Outcome(lambda reactor: defer.fail(NotImplementedError()))


# --- the server's health ---------------------------------------------------------------------------------------

def test_logged_error_names_the_first_exception_not_ignored():
    log = "check-echo: Echo raised TypeError: can only concatenate str\nOperationalError: locked\n"
    assert logged_error(log) == "TypeError: can only concatenate str"
    assert logged_error(log, ignore=("TypeError",)) == "OperationalError: locked"
    assert logged_error("all fine") == ""


class Broken(protocol.Protocol):
    def dataReceived(self, data):
        raise TypeError("the learner's bug")


class Stub(protocol.Protocol):
    def dataReceived(self, data):
        raise NotImplementedError()


def test_server_health_reports_the_servers_exception_and_a_stub_as_not_written():
    def broken(check):
        server = check.serve(protocol.ServerFactory.forProtocol(Broken), "kit-broken")
        converse(server.port, b"hello\r\n")
        server_health(check, server)

    message = str(failure_of(broken))
    assert "[XX] the server's log shows no exception" in message and "TypeError: the learner's bug" in message

    def stub(check):
        server = check.serve(protocol.ServerFactory.forProtocol(Stub), "kit-stub")
        converse(server.port, b"hello\r\n")
        assert unwritten(check, server)

    assert "not written yet" in str(failure_of(stub))


# --- the clients -----------------------------------------------------------------------------------------------

class HangUp(protocol.Protocol):
    def connectionMade(self):
        self.transport.loseConnection()


def test_converse_with_a_server_that_hangs_up_returns_what_came():
    server = labkit.serve(protocol.ServerFactory.forProtocol(HangUp), name="kit-hangup", show=False)
    assert converse(server.port, *[b"x" * 1_000_000] * 8) == b""


class LateAnswer(protocol.Protocol):
    """Answers a moment longer than limits.QUIET after the request (a loaded machine), then hangs up."""

    def dataReceived(self, data):
        from twisted.internet import reactor

        reactor.callLater(limits.QUIET * 2, self.answer, data)

    def answer(self, data):
        self.transport.write(b"late: " + data)
        self.transport.loseConnection()


def test_a_late_answer_is_waited_for_not_taken_for_silence():
    server = labkit.serve(protocol.ServerFactory.forProtocol(LateAnswer), name="kit-late", show=False)
    assert converse(server.port, b"hello\r\n") == b"late: hello\r\n"


def test_a_closed_port_held_by_a_check_refuses_and_cannot_be_taken_until_the_check_ends():
    import socket

    from labkit.checks.talk import hold_closed

    def taken(port: int) -> bool:
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Twisted's listeners do
            try:
                other.bind(("127.0.0.1", port))
            except OSError:
                return True
        return False

    with Check("a closed port") as check:
        port = closed_port(held_by=check)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=limits.QUICK)
        check.expect("another server cannot be given it", True, taken(port))
        other = closed_port()  # not the held one: the system gives out no bound port
        check.expect("a port held for the check", [], hold_closed([other], check))
        check.expect("... cannot be given to another server", True, taken(other))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", other), timeout=limits.QUICK)
        check.expect("a port held already is reported", [port], hold_closed([port], check))
    assert not taken(port) and not taken(other)


def test_fetch_gives_a_reply_and_never_raises():
    root = resource.Resource()
    root.putChild(b"page", _Page())
    server = labkit.serve(root, name="kit-web", show=False)
    page = fetch(server.port, "GET", "/page")
    assert page.outcome == 200 and page.has(b"<p>", b"page") and page.header("Content-Type") == "text/html"
    assert fetch(server.port, "GET", "/missing").outcome == 404
    nobody = fetch(closed_port(), "GET", "/")
    assert nobody.status is None and isinstance(nobody.outcome, str) and nobody.outcome.startswith("no response")


class _Page(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html")
        return b"<p>a page</p>"


def test_a_blocking_learner_call_runs_in_a_thread_and_is_bounded():
    import threading
    import time

    from labkit.bridge import LabTimeout

    assert call_learner(lambda n: (n, threading.current_thread().name), 7, timeout=limits.QUICK,
                        blocking=True) == (7, "check-learner-call")
    with pytest.raises(ValueError, match="bad"):
        call_learner(lambda: (_ for _ in ()).throw(ValueError("bad")), timeout=limits.QUICK, blocking=True)
    with pytest.raises(LabTimeout, match="did not return within 0.2 s"):
        call_learner(time.sleep, 5, timeout=0.2, blocking=True)
    assert Outcome(lambda: 1 / 0, timeout=limits.QUICK, blocking=True).described() == \
        "it raised ZeroDivisionError: division by zero"
