"""How long a check waits, in seconds: every wait in a check is bounded by one of these names.

A chapter passes a name, never a bare number, so a reader sees what is waited for and one change here moves
every check that waits for the same thing.
"""

LEARNER_CALL = 5.0
"""One call into the learner's code that talks to a practice server (a ``react`` of their function)."""

QUICK = 3.0
"""An answer that takes milliseconds on loopback: a refused connection, one short request to a practice server."""

BLOCKING_CLIENT = 8.0
"""A blocking client of the learner's (a socket with a time-out of its own, up to 5 s) that may wait that long
once before it gives up: longer than its own time-out, so the check sees how the learner's code ended."""

SOAP_SESSION = 15.0
"""A blocking SOAP client's whole session with a practice server: the WSDL read, then one call per page."""

SCAN = 10.0
"""The learner's port scan of twenty ports."""

STREAMED = 8.0
"""A download the practice site streams over about a second."""

CONSUMED = 6.0
"""A slow body read by the learner's body consumer."""

REPLY = 5.0
"""One exchange with a server the check drives: an HTTP request answered, a socket conversation."""

QUIET = 0.3
"""A conversation is over when the server has said nothing for this long."""

CATCH_UP = 2.0
"""The far side of a connection noticing a close, before the check reads its records."""

CONCURRENT_CLIENTS = 10.0
"""Clients talking to one server at once, from their own threads, until the last one is done."""

DATABASE_LOCK = 0.2
"""How long the learner's database pool waits for a locked SQLite file before it reports the error."""

CLEANUP = 5.0
"""Stopping what a check started (its servers, a database pool) when it ends."""

DAEMON_START = 10.0
"""A twistd or twist child process loading a ``.tac`` or plugin, starting its services and running its reactor."""
