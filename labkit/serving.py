"""Practice servers inside the kernel: start, replace, list and stop them.

Promises:

* :func:`serve` listens on 127.0.0.1 (or ::1), port 0 unless told otherwise, and returns a :class:`Server`
  handle with ``host``, ``port``, ``url``, ``log``, ``transcript`` and ``stop()``.
* Serving again under a name that runs already replaces the earlier server and closes its connections: re-running
  a cell never ends in "address already in use" or a leaked port. If the new server cannot listen (its port is
  taken), the error says so and the earlier server of that name keeps running.
* What is served goes one way, :func:`servers.listening.plan`, the same as ``python -m servers``: loopback only
  (the host is normalised by ``servers.loopback.loopback`` and anything else is refused, so nothing here is
  reachable from another machine; each kernel's servers have their own ports, so kernels sharing a machine never
  meet by accident), every server held to its ``servers.abuse_guard.Limits`` (the catalogue entry's), its URL
  scheme its catalogue entry's, or for your own factory or resource what it speaks.
* A server's factory or protocol may raise: the connection is closed, the error is shown in the server's log with
  what to do, and the server (and every other one) keeps serving.
* When the reactor shuts down (the kernel stops), every practice server is stopped first (a "before shutdown"
  trigger, registered on the first serve).
"""

from __future__ import annotations

import html
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twisted.internet import defer

from labkit import bridge, output
from labkit.tracebacks import short_traceback
from labkit.wire import RecordingFactory, RecordingProtocol, Transcript

if TYPE_CHECKING:
    from servers.listening import Plan

__all__ = ["Server", "ServerTable", "running_servers", "serve", "stop_all"]

_running: dict[str, Server] = {}
_stopping_at_shutdown: list = []  # the reactor whose "before shutdown" trigger stops every server


def _listen(reactor, plan: Plan, name: str, log: output.Log, transcript: Transcript,
            port: int | None = None) -> tuple[list, list]:
    """Listen with ``plan`` (reactor thread), on ``port`` if given; return the listening ports and the recording
    factories."""
    factories = []

    def wrap(factory):
        served = _ServedFactory(factory, transcript, log, name)
        factories.append(served)
        return served

    with output.owner(log):
        return plan.listen(reactor, wrap, port), factories


@dataclass(eq=False)
class Server:
    """A running practice server (see :func:`serve`)."""

    name: str
    host: str
    ports: list[int]
    scheme: str
    log: output.Log
    transcript: Transcript
    listeners: list = field(default_factory=list, repr=False)
    factories: list = field(default_factory=list, repr=False)
    stopped: bool = False
    plan: Plan | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/"

    @property
    def open_connections(self) -> int:
        return sum(len(f.protocols) for f in self.factories)

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening and close this server's open connections."""
        bridge.react(lambda reactor: self._stop_in_reactor(), timeout=timeout)

    def _stop_in_reactor(self) -> defer.Deferred:
        if _running.get(self.name) is self:
            del _running[self.name]
        if self.stopped:
            return defer.succeed(None)
        self.stopped = True
        for factory in self.factories:
            for protocol in list(factory.protocols):
                protocol.transport.abortConnection()
        return defer.DeferredList([defer.maybeDeferred(listener.stopListening) for listener in self.listeners])

    def _revive_in_reactor(self, reactor) -> None:
        """Listen again on the same ports (after a replacement that could not listen), under this same handle."""
        self.listeners, self.factories = _listen(reactor, self.plan, self.name, self.log, self.transcript,
                                                 self.port)
        self.stopped = False
        _running[self.name] = self
        self.log.write(f"{self.summary()} again\n")

    def summary(self) -> str:
        state = "stopped" if self.stopped else f"listening on {self.url}"
        if len(self.ports) > 1:
            state += f" and {len(self.ports) - 1} more ports"
        return f"{self.name}: {state}"

    def __repr__(self) -> str:
        return f"<Server {self.summary()}>"

    def _repr_html_(self) -> str:
        address = html.escape(self.url)
        if self.scheme in ("http", "https"):  # browsers open these; a tcp:// address is just shown
            address = f'<a href="{address}" target="_blank">{address}</a>'
        state = "stopped" if self.stopped else f"listening on {address}"
        return f"<b>{html.escape(self.name)}</b>: {state}"


def _report(server: str, what: str, exc: BaseException, outcome: str, fix: str) -> None:
    """Tell the server's log (and a cell that waits) that ``what`` raised, where, what happened and the fix."""
    where = short_traceback(traceback.extract_tb(exc.__traceback__))
    output.route("stderr", f"{server}: {what} raised {type(exc).__name__}: {exc}\n{where}{outcome}; the server keeps "
                 f"running. Fix {fix}, then run its serve cell again.\n")


class _ServedProtocol(RecordingProtocol):
    """Records the wire, attributes output to the server's log, and turns a crash in the protocol into a
    closed connection plus a clear message, so the server lives on."""

    def _guarded(self, method, *args):
        with output.owner(self.factory.log):
            try:
                method(*args)
            except Exception as exc:
                _report(self.factory.name, type(self.wrappedProtocol).__name__, exc, "The connection was closed",
                        "the protocol")
                if self.transport is not None and not getattr(self.transport, "disconnected", False):
                    self.transport.loseConnection()

    def makeConnection(self, transport):
        self._guarded(super().makeConnection, transport)

    def dataReceived(self, data):
        self._guarded(super().dataReceived, data)

    def readConnectionLost(self):
        self._guarded(super().readConnectionLost)

    def writeConnectionLost(self):
        self._guarded(super().writeConnectionLost)

    def connectionLost(self, reason):
        self._guarded(super().connectionLost, reason)


class _ServedFactory(RecordingFactory):
    protocol = _ServedProtocol

    def __init__(self, factory, transcript: Transcript, log: output.Log, name: str):
        super().__init__(factory, transcript)
        self.log = log
        self.name = name

    def buildProtocol(self, addr):
        with output.owner(self.log):
            try:
                return super().buildProtocol(addr)
            except Exception as exc:
                _report(self.name, f"{type(self.wrappedFactory).__name__}.buildProtocol", exc,
                        "That connection was closed at once", "the factory's buildProtocol")
                return None

    def doStart(self):
        with output.owner(self.log):
            super().doStart()

    def doStop(self):
        with output.owner(self.log):
            super().doStop()


def serve(thing, name: str | None = None, *, port: int = 0, host: str = "127.0.0.1", tls=None, limits=None,
          show: bool | None = None, timeout: float | None = None, **options) -> Server:
    """Start a practice server in this kernel and return its handle.

    ``thing`` is a protocol factory, a twisted.web resource (served by a ``Site``), or the name of a practice
    server from the ``servers`` catalogue (``options`` are passed to its builder). ``tls`` is a TLS context
    factory (for example from ``servers.tls``) to serve HTTPS or TLS. ``limits`` (a ``servers.abuse_guard.Limits``)
    overrides the server's own. With ``show`` (the default inside a notebook) the cell shows the server's
    address and its live log.
    """
    from servers.listening import plan as plan_for

    plan = plan_for(thing, host=host, port=port, tls=tls, limits=limits, **options)
    name = name or plan.name
    log = output.Log(name)
    transcript = Transcript(name)

    def start(reactor):
        _stop_all_before_shutdown(reactor)
        old = _running.get(name)
        if old is not None and port != 0 and port in old.ports:
            # The new server needs the old one's port: stop the old one first, and revive it if the new one fails.
            stopped = old._stop_in_reactor()
            return stopped.addCallback(lambda _: replace(reactor, None)).addErrback(revive, reactor, old)
        return replace(reactor, old)

    def replace(reactor, old: Server | None):
        listeners, factories = _listen(reactor, plan, name, log, transcript)  # raises if it cannot listen
        server = Server(name, plan.host, [listener.getHost().port for listener in listeners], plan.scheme, log,
                        transcript, listeners, factories, plan=plan)
        stopped = old._stop_in_reactor() if old is not None else defer.succeed(None)
        _running[name] = server
        log.write(f"{server.summary()}\n")
        return stopped.addCallback(lambda _: server)

    def revive(failure, reactor, old: Server):
        try:
            old._revive_in_reactor(reactor)
        except Exception as exc:  # the port was taken in between: say so where the old server's output goes
            old.log.write(f"{old.summary()}: it could not listen again ({exc}); run its serve cell again\n")
        return failure

    server = bridge.react(start, timeout=timeout)
    if show if show is not None else _in_notebook():
        _show(server)
    return server


def _stop_all_before_shutdown(reactor) -> None:
    if reactor not in _stopping_at_shutdown:
        reactor.addSystemEventTrigger("before", "shutdown", stop_all_in_reactor)
        _stopping_at_shutdown.append(reactor)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _show(server: Server) -> None:
    from IPython.display import display

    view = server.log.live_view()
    display(server)
    if view is not None:
        display(view)


@dataclass
class ServerTable:
    """The practice servers running in this kernel, as a table."""

    rows: list[Server]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> Server:
        for server in self.rows:
            if server.name == name:
                return server
        raise KeyError(f"no practice server named {name!r} runs; running: {[s.name for s in self.rows]}")

    def __str__(self) -> str:
        if not self.rows:
            return "no practice servers running"
        return "\n".join(f"{s.summary()}  ({s.open_connections} open connections)" for s in self.rows)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<i>no practice servers running</i>"
        left = "style='text-align:left'"
        cells = "".join(f"<tr><td {left}>{html.escape(s.name)}</td><td {left}>{html.escape(s.url)}</td>"
                        f"<td>{s.open_connections}</td><td>{s.transcript.connections}</td></tr>" for s in self.rows)
        return (f"<table><tr><th {left}>name</th><th {left}>address</th><th>open connections</th>"
                f"<th>connections so far</th></tr>{cells}</table>")


def running_servers() -> ServerTable:
    """The practice servers running in this kernel."""
    return ServerTable(list(_running.values()))


def stop_all_in_reactor() -> defer.Deferred:
    """Stop every practice server (reactor thread)."""
    return defer.DeferredList([server._stop_in_reactor() for server in list(_running.values())])


def stop_all(timeout: float | None = None) -> None:
    """Stop every practice server running in this kernel."""
    bridge.react(lambda reactor: stop_all_in_reactor(), timeout=timeout)
