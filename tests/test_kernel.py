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
    run = kernel.run("print(labkit.in_reactor_thread())\nawait task.deferLater(reactor, 0.05, lambda: 'done')")
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
