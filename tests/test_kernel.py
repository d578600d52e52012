"""labkit inside a real Jupyter kernel: interrupt, top-level await, output routing, clean shutdown."""

import time

import pytest

from tests.kernel import Kernel


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    setup = k.run("import labkit\nfrom twisted.internet import defer, task\nfrom twisted.internet import reactor")
    assert setup.error is None, setup.error
    yield k
    k.close()


def test_interrupt_during_react_raises_keyboardinterrupt_and_the_reactor_serves_on(kernel):
    run = kernel.run_interrupted("labkit.react(lambda r: defer.Deferred(lambda d: print('cancelled')), timeout=120)")
    assert run.error is not None and run.error[0] == "KeyboardInterrupt"
    assert "cancelled" in run.stdout
    after = kernel.run("labkit.react(lambda r: 'alive')")
    assert after.results == ["'alive'"]


def test_interrupt_during_an_awaited_cell(kernel):
    run = kernel.run_interrupted("await defer.Deferred()")
    assert run.error is not None and run.error[0] == "KeyboardInterrupt"
    assert kernel.run("await task.deferLater(reactor, 0.01, lambda: 'next')").results == ["'next'"]


def test_top_level_await_runs_on_the_reactor_thread(kernel):
    run = kernel.run("print(labkit.bridge.in_reactor_thread())\nawait task.deferLater(reactor, 0.05, lambda: 'done')")
    assert run.error is None, run.error
    assert run.stdout == "True\n" and run.results == ["'done'"]


def test_prints_keep_their_order_before_the_cell_result(kernel):
    run = kernel.run("def main(r):\n    print('first')\n    return task.deferLater(r, 0.01, lambda: 'value')\n"
                     "labkit.react(main)")
    assert run.stdout == "first\n" and run.results == ["'value'"]


def test_late_server_output_never_lands_in_another_cell(kernel):
    start = kernel.run(
        "from twisted.internet import protocol\n"
        "class Chatty(protocol.Protocol):\n"
        "    def dataReceived(self, data):\n"
        "        print('server got', data)\n"
        "chatty = labkit.serve(protocol.ServerFactory.forProtocol(Chatty), name='chatty', show=False)")
    assert start.error is None, start.error
    other = kernel.run(
        "import socket, time\n"
        "s = socket.create_connection(('127.0.0.1', chatty.port)); s.sendall(b'ping'); time.sleep(0.5); s.close()\n"
        "print('other cell')")
    assert other.stdout == "other cell\n"
    assert all(m["msg_type"] != "stream" or "server got" not in m["content"]["text"] for m in other.others)
    log = kernel.run("print(chatty.log.text)")
    assert "server got b'ping'" in log.stdout


def test_guards_explain_run_and_stop(kernel):
    run = kernel.run("reactor.stop()\nreactor.run()\nlabkit.react(lambda r: r.running)")
    assert "reactor.stop() was ignored" in run.stderr and "reactor.run() is not needed here" in run.stderr
    assert run.results == ["True"]


def test_kernel_shuts_down_cleanly_with_servers_running():
    k = Kernel()
    try:
        run = k.run("import labkit\nservers = [labkit.serve('echo', name=f'e{i}', show=False) for i in range(3)]\n"
                    "conn = __import__('socket').create_connection(('127.0.0.1', servers[0].port))")
        assert run.error is None, run.error
        k.client.shutdown()
        deadline = time.monotonic() + 20
        while k.manager.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not k.manager.is_alive(), "the kernel did not exit after a shutdown request"
    finally:
        k.close()


# --- honest diagnoses --------------------------------------------------------------------------------------

@pytest.fixture
def short_waits(kernel):
    assert kernel.run("old_timeout = labkit.set_timeout(1)").error is None
    yield kernel
    kernel.run("labkit.set_timeout(old_timeout)")


def test_a_timed_out_await_ends_the_cell_at_its_own_line_with_advice_a_bare_await_can_use(short_waits):
    run = short_waits.run("x = 1\nawait defer.Deferred()")
    assert run.error is not None and run.error[0] == "LabTimeout", run.error
    name, message, traceback = run.error
    assert "labkit.set_timeout(" in message and "labkit.wait(" in message and "pass timeout=" not in message
    assert len(run.errors) == 1 and "KeyboardInterrupt" not in traceback + run.stderr
    assert "await defer.Deferred()" in traceback and "bridge.py" not in traceback
    assert short_waits.run("labkit.wait(task.deferLater(reactor, 0.01, lambda: 'waited'), timeout=5)").results \
        == ["'waited'"]


def test_a_blocked_reactor_is_named_with_what_blocks_it_not_blamed_on_a_server(short_waits):
    run = short_waits.run("import time\nreactor.callLater(0, time.sleep, 4)\nlabkit.react(lambda r: 'never')",
                          timeout=30)
    assert run.error is not None and run.error[0] == "ReactorBlocked", run.error
    message = run.error[1]
    assert "reactor thread is busy" in message and "sleep(4)" in message
    assert "host and port" not in message and "labkit.running_servers()" not in message
    time.sleep(3.5)  # the sleep ends; the reactor serves again
    assert short_waits.run("labkit.react(lambda r: 'back')").results == ["'back'"]


def test_a_wait_inside_an_await_cell_explains_that_the_whole_cell_runs_on_the_reactor(kernel):
    run = kernel.run("await task.deferLater(reactor, 0, lambda: None)\nlabkit.react(lambda r: 1)")
    assert run.error is not None and run.error[0] == "ReactorThreadError"
    assert "top-level `await`" in run.error[1] and "cell of its own" in run.error[1]


# --- errors on the reactor thread reach a cell ----------------------------------------------------------

NOTE_FAILURES = (
    "import threading\n"
    "from twisted.logger import globalLogPublisher\n"
    "failed = threading.Event()\n"
    "def noted(event):  # observes after labkit's own observer, which has routed the failure by then\n"
    "    if event.get('log_failure') is not None:\n"
    "        failed.set()\n"
    "globalLogPublisher.addObserver(noted)\n")
"""A cell's start that lets it wait for the reactor thread's next failure (``failed.wait(...)``) instead of
sleeping for a time a loaded machine may not keep; ``globalLogPublisher.removeObserver(noted)`` ends it."""
UNTIL_FAILED = "failed.wait(30)\nglobalLogPublisher.removeObserver(noted)\n"


def test_an_error_in_a_timed_call_reaches_the_cell_that_is_running(kernel):
    run = kernel.run(NOTE_FAILURES + "reactor.callLater(0.1, lambda: 1 / 0)\n" + UNTIL_FAILED + "print('cell done')")
    assert run.error is None, run.error
    assert "ZeroDivisionError" in run.stderr and "while the cell ran" in run.stderr
    assert run.stdout == "cell done\n"


def test_sys_exit_on_the_reactor_thread_is_reported_and_the_kernel_lives_on(kernel):
    run = kernel.run(NOTE_FAILURES + "import sys\nreactor.callLater(0.1, sys.exit, 2)\n" + UNTIL_FAILED)
    assert "SystemExit: 2" in run.stderr and "sys.exit() was called on the reactor thread" in run.stderr
    assert kernel.run("labkit.react(lambda r: r.running)").results == ["True"]


def test_an_error_after_a_cell_ended_is_shown_in_the_next_one_under_a_heading(kernel, tmp_path):
    mark = tmp_path / "failed"  # made once the failure has been routed, so the next cell starts after it
    cell = NOTE_FAILURES.replace("failed.set()", f"open({str(mark)!r}, 'w').close()")
    assert kernel.run(cell + "reactor.callLater(0.2, lambda: {}['missing'])").error is None
    deadline = time.monotonic() + 30
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    run = kernel.run("globalLogPublisher.removeObserver(noted)\nprint('next cell')")
    assert "after the previous cell had finished" in run.stderr and "KeyError: 'missing'" in run.stderr


def test_an_error_in_a_servers_timed_call_reaches_its_log(kernel):
    run = kernel.run(
        NOTE_FAILURES
        + "from twisted.internet import protocol\n"
        "class Later(protocol.Protocol):\n"
        "    def connectionMade(self):\n"
        "        reactor.callLater(0.05, self.fail)\n"
        "    def fail(self):\n"
        "        raise RuntimeError('late failure')\n"
        "later = labkit.serve(protocol.ServerFactory.forProtocol(Later), name='later', show=False)\n"
        "import socket\n"
        "s = socket.create_connection(('127.0.0.1', later.port))\n"
        + UNTIL_FAILED + "s.close()\n"
        "print('late failure' in later.log.text)")
    assert run.error is None, run.error
    assert run.stdout == "True\n" and "late failure" in run.stderr


# --- programs and tools -----------------------------------------------------------------------------------

def test_a_program_cell_cannot_write_outside_programs(kernel, tmp_path):
    target = tmp_path / "escaped.py"
    run = kernel.run(f"%%program {target}\nprint('escaped')\n")
    assert run.error is not None and run.error[0] == "OutsidePrograms"
    assert not target.exists()


def test_twisteds_tools_run_in_a_kernel_whose_path_lacks_the_environment():
    import os
    import sys

    tools = os.path.dirname(sys.executable)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != tools)
    k = Kernel(env={**os.environ, "PATH": path or "/usr/bin:/bin"})
    try:
        before = k.run("import shutil\nprint(shutil.which('ckeygen'))")
        assert not before.stdout.startswith(tools), "the kernel should start without the environment's tools"
        run = k.run("import labkit, subprocess\n"
                    "done = subprocess.run(['ckeygen', '--help'], capture_output=True, text=True, timeout=60)\n"
                    "trial = subprocess.run(['trial', '--help'], capture_output=True, text=True, timeout=60)\n"
                    "print(done.returncode, trial.returncode, 'Usage' in done.stdout)\n"
                    "print(shutil.which('ckeygen'))")
        assert run.error is None, run.error
        assert run.stdout == f"0 0 True\n{os.path.join(tools, 'ckeygen')}\n"
    finally:
        k.close()


def test_a_servers_crash_in_the_cell_that_started_the_reactor_reaches_that_cell():
    k = Kernel()
    try:
        run = k.run(
            "import labkit, socket, time\n"
            "from twisted.internet import protocol\n"
            "class Crashes(protocol.Protocol):\n"
            "    def dataReceived(self, data):\n"
            "        raise ValueError('first cell crash')\n"
            "crashes = labkit.serve(protocol.ServerFactory.forProtocol(Crashes), name='crashes', show=False)\n"
            "s = socket.create_connection(('127.0.0.1', crashes.port)); s.sendall(b'x'); s.recv(10); s.close()")
        assert run.error is None, run.error
        assert "first cell crash" in run.stderr and "while the cell ran" in run.stderr
    finally:
        k.close()
