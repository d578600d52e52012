"""labkit.output: logs bounded in size, errors routed where someone looks, Jupyter's credentials masked."""

import io
import threading
from contextlib import redirect_stderr

from twisted.internet import defer

import labkit
from labkit import output


def test_a_log_is_bounded_in_characters_and_drops_its_oldest_lines_with_a_note(monkeypatch):
    monkeypatch.setattr(output, "MAX_LOG_CHARS", 1_000)
    log = output.Log("busy")
    for number in range(1_000):
        log.write(f"line {number:04d}\n")
    lines = log.lines
    assert "older lines" in lines[0] and "dropped" in lines[0]
    assert lines[-1] == "line 0999" and "line 0000" not in lines
    assert sum(len(line) + 1 for line in lines[1:]) <= 1_000


def test_a_line_that_never_ends_is_bounded_too(monkeypatch):
    monkeypatch.setattr(output, "MAX_LOG_CHARS", 1_000)
    log = output.Log("endless")
    for _ in range(100):
        log.write("x" * 100)
    assert len(log.text) < 2_500 and "cut" in log.text


def test_a_live_view_starts_over_from_the_kept_text_instead_of_growing(monkeypatch):
    monkeypatch.setattr(output, "MAX_LOG_CHARS", 1_000)
    log = output.Log("viewed")
    view = log.live_view()
    for number in range(1_000):
        log.write(f"line {number:04d}\n")
    shown = "".join(item["text"] for item in view.outputs)
    assert len(shown) <= 2_000 and shown.rstrip().endswith("line 0999") and "dropped" in shown


def test_jupyter_credentials_never_reach_a_log():
    log = output.Log("proxied")
    log.write("GET /?token=abcdef Cookie: _xsrf=2|aa|bb; colour=blue\n")
    log.write("partial _xsrf=zz|yy")
    assert "abcdef" not in log.text and "2|aa|bb" not in log.text and "zz|yy" not in log.text
    assert "colour=blue" in log.text and "[redacted]" in log.text


def test_a_timed_call_scheduled_by_a_server_reports_its_error_in_that_servers_log():
    log = output.Log("timed")
    done = threading.Event()

    def schedule(reactor):
        def fail():
            done.set()
            raise ZeroDivisionError("late and wrong")

        with output.owner(log):  # as inside a practice server's protocol
            reactor.callLater(0, fail)

    labkit.react(schedule)
    assert done.wait(5)
    labkit.react(lambda reactor: None)  # let the reactor finish the turn that ran the call
    assert "ZeroDivisionError: late and wrong" in log.text


def test_sys_exit_on_the_reactor_thread_is_explained_where_the_cell_waits():
    import sys

    from twisted.internet import task

    err = io.StringIO()
    with redirect_stderr(err):
        labkit.react(lambda reactor: (reactor.callLater(0, sys.exit, 3),
                                      task.deferLater(reactor, 0.05, lambda: None))[1])
    assert "SystemExit: 3" in err.getvalue() and "sys.exit() was called on the reactor thread" in err.getvalue()
    assert labkit.react(lambda reactor: reactor.running) is True


def test_an_error_inside_a_wait_reaches_both_the_cell_and_the_servers_log():
    log = output.Log("both")
    err = io.StringIO()

    def main(reactor):
        with output.owner(log):
            lost = defer.Deferred()
            lost.errback(ValueError("seen twice"))
            del lost
            import gc

            gc.collect()

    with redirect_stderr(err):
        labkit.react(main)
    assert "seen twice" in err.getvalue() and "seen twice" in log.text


def test_a_log_displayed_again_and_again_keeps_only_its_newest_views_live():
    log = output.Log("redisplayed")
    views = [log.live_view() for _ in range(output.MAX_LIVE_VIEWS + 3)]
    log.write("news\n")
    live = [view for view in views if any("news" in item["text"] for item in view.outputs)]
    assert live == views[-output.MAX_LIVE_VIEWS:]


def test_what_a_server_prints_while_a_cell_waits_reaches_the_cell_without_jupyters_credentials():
    out = io.StringIO()

    def main(reactor):
        print("Cookie: _xsrf=2|secret|value; theme=dark")

    from contextlib import redirect_stdout

    with redirect_stdout(out):
        labkit.react(main)
    assert "2|secret|value" not in out.getvalue() and "theme=dark" in out.getvalue()
