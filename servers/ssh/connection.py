"""The connection service of the practice servers: conch's, with a cap on open channels.

Promise: a client may hold at most :data:`MAX_CHANNELS` channels open on one connection; one more is refused
with ``OPEN_RESOURCE_SHORTAGE`` ("too many channels open") and the connection goes on, as do the channels
already open. A refusal costs no log line and no memory.
"""

from __future__ import annotations

import struct

from twisted.conch.ssh import common, connection

__all__ = ["MAX_CHANNELS", "BoundedConnection"]

MAX_CHANNELS = 10


class BoundedConnection(connection.SSHConnection):
    """``SSHConnection`` that refuses channels past :data:`MAX_CHANNELS` open at once."""

    def ssh_CHANNEL_OPEN(self, packet):
        if len(self.channels) >= MAX_CHANNELS:
            _kind, rest = common.getNS(packet)
            (sender_channel,) = struct.unpack(">L", rest[:4])
            self.transport.sendPacket(
                connection.MSG_CHANNEL_OPEN_FAILURE,
                struct.pack(">2L", sender_channel, connection.OPEN_RESOURCE_SHORTAGE)
                + common.NS(f"too many channels open (at most {MAX_CHANNELS})".encode()) + common.NS(b""))
            return
        super().ssh_CHANNEL_OPEN(packet)
