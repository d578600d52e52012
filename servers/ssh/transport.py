"""The server side of the SSH transport, with a client's goodbye logged as news rather than as an error.

Promise: :class:`GoodbyeTransport` is conch's ``SSHServerTransport``, except that a client's ``DISCONNECT`` with
reason "connection lost" or "by application" (what OpenSSH and conch send when they are done) is logged at info
level; any other reason is still logged as an error, as conch does.
"""

from __future__ import annotations

from twisted.conch.ssh import transport
from twisted.logger import Logger

__all__ = ["GoodbyeTransport"]

_log = Logger()

GOODBYES = {transport.DISCONNECT_CONNECTION_LOST, transport.DISCONNECT_BY_APPLICATION}


class GoodbyeTransport(transport.SSHServerTransport):
    """``SSHServerTransport`` that takes a client's ordinary goodbye calmly."""

    def receiveError(self, reasonCode, description):
        if reasonCode in GOODBYES:
            _log.info("the client disconnected: {description}", description=description)
        else:
            super().receiveError(reasonCode, description)
