"""Practice servers inside the kernel: start, replace, list and stop them.

Promises:

* :func:`serve` listens on 127.0.0.1 (or ::1), port 0 unless told otherwise, and returns a :class:`Server`
  handle with ``host``, ``port``, ``url``, ``log``, ``transcript`` and ``stop()``.
* Serving again under a name that runs already stops the earlier listener and its connections first: re-running
  a cell never ends in "address already in use" or a leaked port.
* Loopback only: any other host is refused, so nothing here is reachable from another machine, and each kernel's
  servers have their own ports, so kernels sharing a machine never meet by accident.
* A server's protocol may raise: the connection is closed, the error is shown with what to do, and the server
  (and every other one) keeps serving.
"""

from __future__ import annotations

import html
import traceback
from dataclasses import dataclass, field

from twisted.internet import defer

from labkit import bridge, output
from labkit.wire import RecordingFactory, RecordingProtocol, Transcript

__all__ = ["Server", "ServerTable", "serve", "servers", "stop_all"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_running: dict[str, Server] = {}


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


class _ServedProtocol(RecordingProtocol):
    """Records the wire, attributes output to the server's log, and turns a crash in the protocol into a
    closed connection plus a clear message, so the server lives on."""

    def _guarded(self, method, *args):
        with output.owner(self.factory.log):
            try:
                method(*args)
            except Exception as exc:
                self._report(exc)

    def _report(self, exc: BaseException) -> None:
        frames = traceback.extract_tb(exc.__traceback__)
        inner = [f for f in frames if "/twisted/" not in f.filename.replace("\\", "/")
                 and not f.filename.replace("\\", "/").endswith(("/labkit/serving.py", "/labkit/wire.py"))]
        where = "".join(traceback.format_list(inner[-3:] or frames[-1:]))
        output.route("stderr",
                     f"{self.factory.name}: {type(self.wrappedProtocol).__name__} raised "
                     f"{type(exc).__name__}: {exc}\n{where}"
                     "The connection was closed; the server keeps running. Fix the protocol, then run its "
                     "serve cell again.\n")
        if self.transport is not None and not getattr(self.transport, "disconnected", False):
            self.transport.loseConnection()

    def makeConnection(self, transport):
        self._guarded(super().makeConnection, transport)

    def dataReceived(self, data):
        self._guarded(super().dataReceived, data)

    def connectionLost(self, reason):
        self._guarded(super().connectionLost, reason)


class _ServedFactory(RecordingFactory):
    protocol = _ServedProtocol

    def __init__(self, factory, transcript: Transcript, log: output.Log, name: str):
        super().__init__(factory, transcript)
        self.log = log
        self.name = name

    def doStart(self):
        with output.owner(self.log):
            super().doStart()

    def doStop(self):
        with output.owner(self.log):
            super().doStop()


def _default_name(thing) -> str:
    return type(thing).__name__


def _check_host(host: str) -> str:
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"labkit serves on loopback only, so nobody outside this machine can connect; "
                         f"host={host!r} is not allowed. Use host='127.0.0.1' (the default) or '::1'.")
    return "127.0.0.1" if host == "localhost" else host


def serve(thing, name: str | None = None, *, port: int = 0, host: str = "127.0.0.1", tls=None,
          show: bool | None = None, timeout: float | None = None, **options) -> Server:
    """Start a practice server in this kernel and return its handle.

    ``thing`` is a protocol factory, a twisted.web resource (served by a ``Site``), or the name of a practice
    server from the ``servers`` package (``options`` are passed to its builder). ``tls`` is a TLS context
    factory (for example from ``servers.tls``) to serve HTTPS or TLS. With ``show`` (the default inside a
    notebook) the cell shows the server's address and its live log.
    """
    import servers

    if isinstance(thing, str):
        name = name or thing
        thing = servers.build(thing, **options)
    elif options:
        raise TypeError(f"options {sorted(options)} are only for named practice servers, e.g. serve('echo')")
    host = _check_host(host)
    name = name or _default_name(thing)
    log = output.Log(name)
    transcript = Transcript(name)

    def start(reactor):
        old = _running.pop(name, None)
        stopped = old._stop_in_reactor() if old is not None else defer.succeed(None)

        def listen(_):
            factories = []

            def wrap(factory):
                served = _ServedFactory(factory, transcript, log, name)
                factories.append(served)
                return served

            with output.owner(log):
                listeners = servers.listen(reactor, thing, host=host, port=port, tls=tls, wrap=wrap)
            ports = [listener.getHost().port for listener in listeners]
            server = Server(name, host, ports, "https" if tls is not None and servers.is_web(thing) else
                            "http" if servers.is_web(thing) else "tls" if tls is not None else "tcp",
                            log, transcript, listeners, factories)
            _running[name] = server
            log.write(f"{server.summary()}\n")
            return server

        return stopped.addCallback(listen)

    server = bridge.react(start, timeout=timeout)
    if show if show is not None else _in_notebook():
        _show(server)
    return server


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


def servers() -> ServerTable:
    """The practice servers running in this kernel."""
    return ServerTable(list(_running.values()))


def stop_all_in_reactor() -> defer.Deferred:
    """Stop every practice server (reactor thread)."""
    return defer.DeferredList([server._stop_in_reactor() for server in list(_running.values())])


def stop_all(timeout: float | None = None) -> None:
    """Stop every practice server running in this kernel."""
    bridge.react(lambda reactor: stop_all_in_reactor(), timeout=timeout)
