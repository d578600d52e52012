"""Guards that keep book-style code from breaking the shared reactor or hanging a cell.

Promises, once the reactor thread runs:

* ``reactor.run()`` and ``reactor.stop()`` (and ``crash``) called from notebook code leave the reactor running
  and print what to do instead.
* Reactor methods called from the notebook's main thread (``callLater``, ``connectTCP``, ``listenTCP``, ...) and
  ``Deferred.callback`` / ``errback`` called from outside the reactor thread are carried over to the reactor
  thread and waited for (bounded), so they work as they would inside a program.
* ``listenTCP`` / ``listenUDP`` / ``listenSSL`` without an interface listen on 127.0.0.1; an interface other
  machines could reach (every interface however it is spelled, ``"0"``, ``"::0"``, a LAN address) is refused
  with :class:`servers.loopback.NotLoopback`, which names the fix. Nothing here is reachable from other machines.
* A timed call (``callLater``) scheduled by a practice server's code belongs to that server: what it prints,
  and the error it may raise, reach the server's log (see :mod:`labkit.output`).
"""

from __future__ import annotations

import functools
import sys
from typing import Callable

from twisted.internet.defer import Deferred

from labkit import output
from servers.loopback import loopback

# Reactor methods that are not thread-safe and that notebook code calls directly. (addReader/addWriter are
# left alone: transports call them on every write, and notebook code has no business calling them.)
MARSHALLED = ("callLater", "callWhenRunning", "connectTCP", "connectSSL", "connectUNIX", "listenTCP", "listenSSL",
              "listenUDP", "listenUNIX", "listenMulticast", "resolve", "spawnProcess", "addSystemEventTrigger")
# Where each listening method takes its ``interface`` argument, counting from 0.
LOOPBACK_DEFAULTED = {"listenTCP": 3, "listenUDP": 2, "listenSSL": 4}

RUN_MESSAGE = ("reactor.run() is not needed here: labkit already runs the reactor in a background thread, "
               "so this call returned at once. In a notebook run main(reactor) with labkit.react(main); "
               "in a program, task.react(main) starts and stops the reactor for you.")
STOP_MESSAGE = ("reactor.{name}() was ignored: the shared reactor keeps serving this notebook. To end a main(), "
                "return from it (or fire the Deferred it returned); to stop a server, call its .stop(). "
                "Restarting the kernel stops everything.")


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def install(reactor, in_reactor: Callable[[], bool], run_in_reactor: Callable) -> None:
    """Put the guards on ``reactor`` (an instance: nothing outside this process changes)."""
    reactor.run = _refuse_run
    reactor.stop = functools.partial(_refuse_stop, "stop")
    reactor.crash = functools.partial(_refuse_stop, "crash")
    for name in MARSHALLED:
        method = getattr(reactor, name, None)
        if method is not None:
            setattr(reactor, name, _marshalled(name, method, in_reactor, run_in_reactor))
    _guard_deferreds(in_reactor, run_in_reactor)


def _refuse_run(*args, **kwargs) -> None:
    _say(RUN_MESSAGE)


def _refuse_stop(name: str) -> None:
    _say(STOP_MESSAGE.format(name=name))


def _marshalled(name: str, method: Callable, in_reactor: Callable[[], bool], run_in_reactor: Callable):
    interface_at = LOOPBACK_DEFAULTED.get(name)

    @functools.wraps(method)
    def call(*args, **kwargs):
        if interface_at is not None:
            args, kwargs = _loopback_only(interface_at, args, kwargs)
        if in_reactor():
            if name == "callLater" and len(args) > 1:
                args = (args[0], output.owned(args[1]), *args[2:])
            return method(*args, **kwargs)
        return run_in_reactor(method, *args, **kwargs)

    return call


def _loopback_only(position: int, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The arguments with ``interface`` (given at ``position`` or by keyword) a loopback address: 127.0.0.1 when
    none was given, else the given one normalised; NotLoopback if other machines could reach it."""
    given = args[position] if len(args) > position else kwargs.get("interface", "")
    address = "127.0.0.1" if given == "" else loopback(given)
    if len(args) > position:
        return args[:position] + (address,) + args[position + 1:], kwargs
    return args, {**kwargs, "interface": address}


def _guard_deferreds(in_reactor: Callable[[], bool], run_in_reactor: Callable) -> None:
    if getattr(Deferred, "_labkit_guarded", False):
        return
    plain_callback, plain_errback = Deferred.callback, Deferred.errback

    def callback(self, result=None):
        if in_reactor():
            return plain_callback(self, result)
        return run_in_reactor(plain_callback, self, result)

    def errback(self, fail=None):
        if in_reactor():
            return plain_errback(self, fail)
        if fail is None:  # capture the exception being handled here, on this thread
            from twisted.python.failure import Failure

            fail = Failure()
        return run_in_reactor(plain_errback, self, fail)

    functools.update_wrapper(callback, plain_callback)
    functools.update_wrapper(errback, plain_errback)
    Deferred.callback, Deferred.errback = callback, errback
    Deferred._labkit_guarded = True
