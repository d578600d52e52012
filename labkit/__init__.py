"""labkit: Twisted in a notebook.

The reactor runs in a background thread of the kernel; cells call into it and wait, bounded and interruptible.

* ``labkit.react(main, *args)``: run ``main(reactor, *args)`` and return its result, the notebook twin of
  ``twisted.internet.task.react(main)``: the same ``main`` runs unchanged as a program.
* ``@labkit.blocking``: make a reactor-side helper callable from a cell.
* ``labkit.serve(factory_or_resource_or_name)``: a practice server on 127.0.0.1, port 0; ``labkit.servers()``,
  ``labkit.stop_all()``.
* ``labkit.wire``: record connections and show them as conversations; ``labkit.pictures``: callback chains
  and timelines.
* ``%%program NAME.py``, ``labkit.run_program``, ``labkit.start_program``: cells that are also real programs.
* ``labkit.checks`` and ``labkit.chapters``: exercise checks against practice servers.
"""

from labkit.bridge import (LabTimeout, ReactorThreadError, blocking, get_reactor, get_timeout, in_reactor_thread,
                           react, run_in_reactor, set_timeout, shutdown)
from labkit.browser import browser_url, open_link, show_page
from labkit.checks import Check, CheckFailed
from labkit.output import Log, background
from labkit.pictures import Timeline, trace_chain
from labkit.programs import run_program, start_program
from labkit.progress import Progress
from labkit.serving import Server, serve, servers, stop_all
from labkit.wire import RecordingFactory, Transcript

__all__ = ["Check", "CheckFailed", "LabTimeout", "Log", "Progress", "ReactorThreadError", "RecordingFactory",
           "Server", "Timeline", "Transcript", "background", "blocking", "browser_url", "get_reactor", "get_timeout",
           "in_reactor_thread", "open_link", "react", "run_in_reactor", "run_program", "serve", "servers",
           "set_timeout", "show_page", "shutdown", "start_program", "stop_all", "trace_chain"]

from labkit.programs import register_magic as _register_magic  # noqa: E402

_register_magic()


def __getattr__(name):
    # ``labkit.reactor`` is the shared, running reactor (started on first use).
    if name == "reactor":
        return get_reactor()
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
