"""The check kit: what every chapter's exercise checks are made of.

A chapter's module (``labkit.chapters.chNN``) holds only its ``check_*`` functions and their expected data;
everything they share lives here, one idea per module:

========================  =====================================================================================
``check``                 :class:`Check` (expectations, what it serves and stops), :class:`CheckFailed`
``report``                the result as one box, text and HTML, shown once
``values``                values as the learner writes them: :func:`shown`, :func:`short`
``calls``                 the one way a check calls the learner's code: :func:`call_learner` (bounded, watched;
                          ``blocking=True`` for a blocking client in a worker thread)
``outcome``               how a call into the learner's code ended: :class:`Outcome`, :func:`http_error`
``health``                errors a served server logged: :func:`unwritten`, :func:`server_health`,
                          :func:`logged_error`
``limits``                named time limits for every wait
``talk``                  socket conversations: :func:`converse`, :func:`closed_port`, :func:`wait_until`, :func:`settled`
``web``                   HTTP with ``http.client``: :func:`fetch`, :class:`Reply`, :func:`form`
``proxy``                 HTTP through a proxy with ``ProxyAgent``: :func:`via_proxy`
``xmlrpc``                XML-RPC with ``xmlrpc.client``: :func:`call`, :func:`fault`
``pb``                    Perspective Broker with Twisted's own client (no other exists): :func:`pb_session`
``nntp``                  NNTP with ``nntplib``: :func:`newsreader`, :func:`ask`
``mail``                  SMTP, POP3 and IMAP with ``smtplib``, ``poplib``, ``imaplib``: :func:`smtp_client`,
                          :func:`pop3_login`, :func:`imap_login`, :func:`recipient_answers`, :func:`send`,
                          :func:`pop3_download`
``ssh``                   SSH with conch's command endpoint and a pinned host key: :func:`run_command`,
                          :func:`type_at_shell`, :func:`known_hosts_file`
``quiet``                 reactor output without the tracebacks a check reports itself: :func:`tracebacks_left_out`
========================  =====================================================================================

The shape of a check::

    def check_echo_server(factory) -> None:
        with Check("the echo server answers every line", hint="...") as check:
            server = check.serve(factory, "check-echo")          # stopped when the check ends
            got = converse(server.port, b"hello\\r\\n")
            check.show(server.transcript)
            if unwritten(check, server):
                return
            check.expect("the answer", b"hello\\r\\n", got)
            server_health(check, server)

A client for another protocol goes beside these, one module each, built on the standard library's client where
there is one.
"""

from labkit.checks import limits
from labkit.checks.check import NOT_WRITTEN, Check, CheckFailed, Expectation
from labkit.checks.calls import call_learner
from labkit.checks.health import logged_error, server_health, unwritten
from labkit.checks.outcome import Outcome, http_error
from labkit.checks.talk import closed_port, converse, settled, wait_until
from labkit.checks.values import Shown, short, shown
from labkit.checks.web import Reply, fetch

__all__ = ["NOT_WRITTEN", "Check", "CheckFailed", "Expectation", "Outcome", "Reply", "Shown", "call_learner",
           "closed_port", "converse", "fetch", "http_error", "limits", "logged_error", "server_health", "short",
           "settled", "shown", "unwritten", "wait_until"]
