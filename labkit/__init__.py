"""labkit: Twisted in a notebook.

The reactor runs in a background thread of the kernel; cells call into it and wait, bounded and interruptible.
This top level holds what a learner's cells use:

* ``labkit.react(main, *args)``: run ``main(reactor, *args)`` and return its result, the notebook twin of
  ``twisted.internet.task.react(main)``: the same ``main`` runs unchanged as a program. ``labkit.wait(d)``:
  wait for one Deferred or coroutine. ``labkit.set_timeout(seconds)``: the time limit of every wait (a cell's
  top-level ``await`` included); ``labkit.LabTimeout`` is what a wait past it raises.
* ``@labkit.blocking``: make a reactor-side helper callable from a cell; ``labkit.get_reactor()`` (or
  ``labkit.reactor``): the shared, running reactor.
* ``labkit.serve(factory_or_resource_or_name)``: a practice server on 127.0.0.1, port 0;
  ``labkit.running_servers()``, ``labkit.stop_all()``; ``labkit.show_page``, ``labkit.open_link``,
  ``labkit.browser_url`` to look at a web server's pages.
* ``%%program NAME.py``, ``labkit.run_program``, ``labkit.start_program``: cells that are also real programs.
* ``labkit.temporary_folder(prefix)``: a folder for keys, mailboxes, databases, removed within seconds of the
  kernel's end however it ends, as every program and daemon the kernel started is stopped (``labkit.reaper``).
* ``labkit.trace_chain``, ``labkit.Timeline``, ``labkit.Progress``: pictures of callback chains, timelines and
  downloads.

Everything else lives in its module: ``labkit.bridge`` (waits), ``labkit.serving`` (servers),
``labkit.wire`` (transcripts), ``labkit.output`` (logs), ``labkit.checks`` and ``labkit.chapters`` (exercise
checks), ``labkit.envcheck`` (the environment check).

Importing labkit in IPython also registers ``%%program``, makes top-level ``await`` run on the reactor, and puts
the kernel's own tools (``trial``, ``ckeygen``, ...) first on ``PATH``.
"""

from labkit.bridge import LabTimeout, blocking, get_reactor, react, set_timeout, wait
from labkit.browser import browser_url, open_link, show_page
from labkit.pictures import Timeline, trace_chain
from labkit.programs import run_program, start_program
from labkit.progress import Progress
from labkit.reaper import temporary_folder
from labkit.serving import running_servers, serve, stop_all

__all__ = ["LabTimeout", "Progress", "Timeline", "blocking", "browser_url", "get_reactor", "open_link", "react",
           "run_program", "running_servers", "serve", "set_timeout", "show_page", "start_program", "stop_all",
           "temporary_folder", "trace_chain", "wait"]


def _set_up() -> None:
    from labkit import cells, envcheck, programs, reaper

    reaper.start()
    envcheck.use_kernel_tools()
    programs.register_magic()
    cells.install_in_ipython()


_set_up()


def __getattr__(name):
    # ``labkit.reactor`` is the shared, running reactor (started on first use).
    if name == "reactor":
        return get_reactor()
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
