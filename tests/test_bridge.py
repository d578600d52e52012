"""labkit.bridge and labkit.guards: waits, results, errors, time-outs and the guards against book mistakes."""

import gc
import io
import threading
from contextlib import redirect_stderr, redirect_stdout

import pytest
from twisted.internet import defer, protocol, task

import labkit
from labkit import bridge, output


def test_react_returns_plain_values_deferreds_and_coroutines():
    assert labkit.react(lambda reactor, x: x * 2, 21) == 42
    assert labkit.react(lambda reactor: task.deferLater(reactor, 0.01, lambda: "later")) == "later"

    async def main(reactor, word):
        await task.deferLater(reactor, 0.01, lambda: None)
        return word.upper()

    assert labkit.react(main, "async") == "ASYNC"


def test_main_runs_on_the_reactor_thread():
    seen = labkit.react(lambda reactor: (threading.current_thread().name, bridge.in_reactor_thread()))
    assert seen == ("labkit-reactor", True)
    assert not bridge.in_reactor_thread()


def run_program(folder, source: str) -> str:
    """Run ``source`` as a program of its own; return what it printed (it must succeed)."""
    import subprocess
    import sys

    program = folder / "prog.py"
    program.write_text(source)
    done = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_same_main_runs_under_task_react_in_a_program(tmp_path):
    assert run_program(tmp_path,
                       "from twisted.internet import task\n"
                       "async def main(reactor, n):\n"
                       "    await task.deferLater(reactor, 0.01, lambda: None)\n"
                       "    print('result', int(n) * 2)\n"
                       "task.react(main, ['21'])\n") == "result 42"


def test_errors_come_back_as_the_original_exception_with_the_users_frames():
    async def main(reactor):
        await task.deferLater(reactor, 0.01, lambda: None)
        raise KeyError("missing")

    with pytest.raises(KeyError) as raised:
        labkit.react(main)
    note = "\n".join(getattr(raised.value, "__notes__", []))
    assert "in main" in note and 'raise KeyError("missing")' in note
    assert "defer.py" not in note  # Twisted's plumbing is left out


def test_timeout_cancels_and_says_what_was_waited_for():
    cancelled = []

    def main(reactor):
        return defer.Deferred(lambda d: cancelled.append(True))

    with pytest.raises(labkit.LabTimeout, match=r"react\(.*main\) did not finish within 0.2 s"):
        labkit.react(main, timeout=0.2)
    assert cancelled == [True]
    assert labkit.react(lambda reactor: "still serving") == "still serving"


def test_a_cancelled_wait_leaves_no_unhandled_error_behind():
    before = output.background.text
    with pytest.raises(labkit.LabTimeout):
        labkit.react(lambda reactor: defer.Deferred(), timeout=0.1)
    gc.collect()
    labkit.react(lambda reactor: task.deferLater(reactor, 0.05, lambda: None))
    assert "Unhandled error" not in output.background.text[len(before):]


def test_default_timeout_is_configurable():
    old = labkit.set_timeout(0.15)
    try:
        with pytest.raises(labkit.LabTimeout, match="0.15 s"):
            labkit.react(lambda reactor: defer.Deferred())
    finally:
        labkit.set_timeout(old)
    with pytest.raises(ValueError):
        labkit.set_timeout(0)


def test_blocking_decorator_waits_for_deferreds_and_coroutines():
    @labkit.blocking
    def double_later(x):
        from twisted.internet import reactor

        return task.deferLater(reactor, 0.01, lambda: x * 2)

    @labkit.blocking(timeout=0.1)
    async def forever():
        await defer.Deferred()

    assert double_later(4) == 8
    assert double_later.__name__ == "double_later"
    with pytest.raises(labkit.LabTimeout, match=r"forever\(\) did not finish"):
        forever()


def test_waiting_on_the_reactor_thread_fails_at_once_with_the_fix():
    def main(reactor):
        return labkit.react(lambda r: 1)

    with pytest.raises(bridge.ReactorThreadError, match="return the Deferred or `await` it"):
        labkit.react(main)


def test_reactor_thread_prints_appear_in_the_waiting_cell():
    def main(reactor):
        print("from the reactor")
        return task.deferLater(reactor, 0.01, lambda: print("and later, still waiting"))

    out = io.StringIO()
    with redirect_stdout(out):
        labkit.react(main)
    assert out.getvalue() == "from the reactor\nand later, still waiting\n"


def test_output_after_the_wait_goes_to_the_background_log_not_the_next_cell():
    labkit.react(lambda reactor: reactor.callLater(0.05, print, "too late for that cell"))
    out = io.StringIO()
    with redirect_stdout(out):
        labkit.react(lambda reactor: task.deferLater(reactor, 0.3, lambda: None))
        labkit.react(lambda reactor: None)
    assert "too late for that cell" in out.getvalue()  # printed while the next cell waited: it belongs there
    labkit.react(lambda reactor: reactor.callLater(0.01, print, "nobody waits"))
    labkit.react(lambda reactor: task.deferLater(reactor, 0.0, lambda: None))
    import time

    time.sleep(0.1)
    assert "nobody waits" in output.background.text


def test_reactor_run_and_stop_from_notebook_code_are_refused_and_explained():
    reactor = labkit.get_reactor()
    err = io.StringIO()
    with redirect_stderr(err):
        reactor.stop()
        reactor.run()
        labkit.react(lambda r: r.stop())  # from reactor-thread code too
    assert "reactor.stop() was ignored" in err.getvalue()
    assert "reactor.run() is not needed here" in err.getvalue()
    assert labkit.react(lambda r: r.running) is True


def test_reactor_methods_called_from_the_main_thread_are_carried_over():
    reactor = labkit.get_reactor()
    fired = threading.Event()
    where = []
    call = reactor.callLater(0.01, lambda: (where.append(bridge.in_reactor_thread()), fired.set()))
    assert fired.wait(5)
    assert where == [True] and not call.active()


def test_listen_tcp_from_a_cell_binds_loopback_even_without_an_interface():
    reactor = labkit.get_reactor()
    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(protocol.Protocol))
    try:
        assert port.getHost().host == "127.0.0.1"
    finally:
        labkit.react(lambda r: port.stopListening())


@pytest.mark.parametrize("interface", ["0.0.0.0", "0", "0x0", "::", "::0", "192.168.1.20", "10.0.0.1", "example.org"])
def test_listening_where_other_machines_could_connect_is_refused_however_it_is_spelled(interface):
    from servers.loopback import NotLoopback

    reactor = labkit.get_reactor()
    factory = protocol.ServerFactory.forProtocol(protocol.Protocol)
    with pytest.raises(NotLoopback, match="127.0.0.1"):
        reactor.listenTCP(0, factory, interface=interface)
    with pytest.raises(NotLoopback):
        reactor.listenTCP(0, factory, 50, interface)  # given by position
    with pytest.raises(NotLoopback):
        labkit.react(lambda r: r.listenTCP(0, factory, interface=interface))  # on the reactor thread too


def test_a_loopback_interface_is_normalised_and_kept():
    reactor = labkit.get_reactor()
    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(protocol.Protocol), interface="localhost")
    try:
        assert port.getHost().host == "127.0.0.1"
    finally:
        labkit.react(lambda r: port.stopListening())


def test_deferred_callback_from_outside_runs_its_callbacks_on_the_reactor_thread():
    d = defer.Deferred()
    threads = []
    d.addCallback(lambda r: threads.append(bridge.in_reactor_thread()) or r)
    labkit.get_reactor()
    d.callback("fired from the main thread")
    assert threads == [True]
    assert d.result == "fired from the main thread"


def test_interrupting_a_wait_cancels_the_work_and_keeps_the_reactor(monkeypatch):
    cancelled = threading.Event()
    main_thread_get = bridge.queue.SimpleQueue.get
    calls = []

    class InterruptingQueue(bridge.queue.SimpleQueue):
        def get(self, block=True, timeout=None):
            if not calls:
                calls.append(1)
                raise KeyboardInterrupt
            return main_thread_get(self, block, timeout)

    monkeypatch.setattr(bridge.queue, "SimpleQueue", InterruptingQueue)
    with pytest.raises(KeyboardInterrupt):
        labkit.react(lambda reactor: defer.Deferred(lambda d: cancelled.set()), timeout=30)
    assert cancelled.wait(2)
    monkeypatch.undo()
    assert labkit.react(lambda reactor: "alive") == "alive"


def test_bad_input_refused_connection_gives_a_clear_error_in_time():
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.internet.error import ConnectionRefusedError

    from labkit.checks import closed_port

    port = closed_port()

    def main(reactor):
        return TCP4ClientEndpoint(reactor, "127.0.0.1", port).connect(
            protocol.Factory.forProtocol(protocol.Protocol))

    with pytest.raises(ConnectionRefusedError):
        labkit.react(main, timeout=5)


def test_output_inside_a_server_belongs_to_its_log_when_no_cell_waits():
    log = output.Log("unit")
    with output.owner(log):
        output.route("stdout", "owned line\n")
    # outside a wait and inside an owner, output goes to the owner's log
    assert log.lines == ["owned line"]


def test_an_unhandled_error_in_a_deferred_is_shown_in_the_waiting_cell():
    def main(reactor):
        lost = defer.Deferred()
        lost.errback(ValueError("nobody handled me"))
        del lost
        gc.collect()

    err = io.StringIO()
    with redirect_stderr(err):
        labkit.react(main)
    assert "Unhandled error in Deferred" in err.getvalue() and "nobody handled me" in err.getvalue()


def test_bad_input_unknown_host_gives_a_clear_error_in_time():
    from twisted.internet.endpoints import HostnameEndpoint
    from twisted.internet.error import DNSLookupError

    def main(reactor):
        return HostnameEndpoint(reactor, b"no-such-host.invalid", 80).connect(
            protocol.Factory.forProtocol(protocol.Protocol))

    with pytest.raises(DNSLookupError, match="no-such-host.invalid"):
        labkit.react(main, timeout=10)


def test_shutdown_runs_the_before_shutdown_triggers_and_waits_for_them(tmp_path):
    assert run_program(tmp_path,
                       "from twisted.internet import task\n"
                       "import labkit\n"
                       "from labkit import bridge\n"
                       "ran = []\n"
                       "def before_shutdown():\n"
                       "    return task.deferLater(bridge.get_reactor(), 0.2, ran.append, 'servers stopped')\n"
                       "labkit.react(lambda r: r.addSystemEventTrigger('before', 'shutdown', before_shutdown))\n"
                       "print(bridge.shutdown(timeout=10), ran)\n") == "True ['servers stopped']"


def test_the_bridge_knows_nothing_of_practice_servers():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(bridge))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names} | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "serving" not in imported and "labkit.serving" not in imported


def test_wait_gives_one_deferred_or_coroutine_its_own_time_limit():
    reactor = labkit.get_reactor()
    assert labkit.wait(task.deferLater(reactor, 0.01, lambda: "fired"), timeout=5) == "fired"

    async def later():
        return await task.deferLater(reactor, 0.01, lambda: "ended")

    assert labkit.wait(later(), timeout=5) == "ended"
    cancelled = threading.Event()
    with pytest.raises(labkit.LabTimeout, match="labkit.wait.*0.1 s"):
        labkit.wait(defer.Deferred(lambda d: cancelled.set()), timeout=0.1)
    assert cancelled.wait(2)
    with pytest.raises(TypeError, match="labkit.react"):
        labkit.wait(lambda: None)
