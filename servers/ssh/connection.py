"""The connection service of the practice servers: conch's, with a cap on open channels, session channels only,
and every message checked against the channels and requests that are really open.

Promises:

* A client may hold at most :data:`MAX_CHANNELS` channels open on one connection; one more is refused with
  ``OPEN_RESOURCE_SHORTAGE`` ("too many channels open") and the connection goes on, as do the channels already
  open. A refusal costs no log line and no memory.
* A channel type the user cannot open (``direct-tcpip`` from ``ssh -L``, ``x11``, ``auth-agent@openssh.com``) is
  refused with ``OPEN_UNKNOWN_CHANNEL_TYPE`` naming the types it can open (RFC 4254 section 5.1), with one info
  line in the log (conch logs a traceback).
* A message shorter than its fields (RFC 4254's layouts, :data:`SHAPES`), a request or channel type whose name is
  not US-ASCII (RFC 4251 section 6), a channel message for a channel that is not open, a reply to a request nobody
  made, or data beyond the channel's window or maximum packet size (RFC 4254 section 5.2) is a protocol error:
  the client is disconnected with reason "protocol error" and one info line is logged (conch raises a traceback
  into the log, or logs an error and closes the channel).
* A client that does not read is held to one window: while more than :data:`MAX_UNSENT` bytes of a channel wait
  for the client's window, the server stops widening the client's window on that channel (conch widens it
  whatever it holds, so a client typing and never reading grew the server without bound); it widens it again
  once the client's window has taken what waited.
"""

from __future__ import annotations

import struct

from twisted.conch.ssh import common, connection
from twisted.logger import Logger

__all__ = ["MAX_CHANNELS", "MAX_UNSENT", "BoundedConnection"]

MAX_CHANNELS = 10
MAX_UNSENT = 64 * 1024
"""Bytes a channel may hold for a client whose window is full before the server stops widening the client's."""

_log = Logger()

CHANNEL_MESSAGES = range(connection.MSG_CHANNEL_OPEN_CONFIRMATION, connection.MSG_CHANNEL_FAILURE + 1)
REPLIES = {connection.MSG_CHANNEL_SUCCESS, connection.MSG_CHANNEL_FAILURE}
GLOBAL_REPLIES = {connection.MSG_REQUEST_SUCCESS, connection.MSG_REQUEST_FAILURE}
SHAPES = {connection.MSG_GLOBAL_REQUEST: "sb", connection.MSG_CHANNEL_OPEN: "sLLL",
          connection.MSG_CHANNEL_OPEN_CONFIRMATION: "LLLL", connection.MSG_CHANNEL_OPEN_FAILURE: "LLss",
          connection.MSG_CHANNEL_WINDOW_ADJUST: "LL", connection.MSG_CHANNEL_DATA: "Ls",
          connection.MSG_CHANNEL_EXTENDED_DATA: "LLs", connection.MSG_CHANNEL_EOF: "L",
          connection.MSG_CHANNEL_CLOSE: "L", connection.MSG_CHANNEL_REQUEST: "Lsb",
          connection.MSG_CHANNEL_SUCCESS: "L", connection.MSG_CHANNEL_FAILURE: "L"}
"""Each message's leading fields: ``L`` a uint32, ``s`` a string, ``b`` a byte (RFC 4254, sections 4 to 6)."""
NAMED = {connection.MSG_GLOBAL_REQUEST, connection.MSG_CHANNEL_OPEN, connection.MSG_CHANNEL_REQUEST}
DATA = {connection.MSG_CHANNEL_DATA: 8, connection.MSG_CHANNEL_EXTENDED_DATA: 12}  # where the data's length ends


class BoundedConnection(connection.SSHConnection):
    """``SSHConnection`` bounded and checked as the module says."""

    def refuse_channel(self, packet: bytes, reason: int, text: str) -> None:
        """Answer the ``CHANNEL_OPEN`` in ``packet`` with ``CHANNEL_OPEN_FAILURE``: ``reason`` and ``text``."""
        (sender_channel,) = struct.unpack(">L", common.getNS(packet)[1][:4])
        self.transport.sendPacket(connection.MSG_CHANNEL_OPEN_FAILURE, struct.pack(">2L", sender_channel, reason)
                                  + common.NS(text.encode("utf-8")) + common.NS(b""))

    def ssh_CHANNEL_OPEN(self, packet):
        kind = common.getNS(packet)[0]
        if len(self.channels) >= MAX_CHANNELS:
            self.refuse_channel(packet, connection.OPEN_RESOURCE_SHORTAGE,
                                f"too many channels open (at most {MAX_CHANNELS})")
            return
        known = getattr(self.transport.avatar, "channelLookup", {})
        if kind not in known:
            opens = ", ".join(name.decode("ascii", "replace") for name in known) or "none"
            _log.info("refused a {kind!r} channel", kind=kind)
            self.refuse_channel(packet, connection.OPEN_UNKNOWN_CHANNEL_TYPE,
                                f"unknown channel type {kind.decode('ascii', 'replace')[:64]}: this server opens "
                                f"{opens} channels only")
            return
        super().ssh_CHANNEL_OPEN(packet)

    def adjustWindow(self, channel, bytesToAdd):
        if unsent(channel) > MAX_UNSENT:
            channel.withheld_window = getattr(channel, "withheld_window", 0) + bytesToAdd
            return
        super().adjustWindow(channel, bytesToAdd)

    def ssh_CHANNEL_WINDOW_ADJUST(self, packet):
        super().ssh_CHANNEL_WINDOW_ADJUST(packet)
        channel = self.channels.get(struct.unpack(">L", packet[:4])[0])
        withheld = getattr(channel, "withheld_window", 0)
        if withheld and unsent(channel) <= MAX_UNSENT:
            channel.withheld_window = 0
            super().adjustWindow(channel, withheld)

    def packetReceived(self, messageNum, packet):
        problem = self.problem(messageNum, packet)
        if problem:
            self.transport.malformed(messageNum, problem)
            return
        super().packetReceived(messageNum, packet)

    def problem(self, number: int, packet: bytes) -> str | None:
        """What makes message ``number`` impossible to take, or None when it names what is open."""
        names = strings(packet, SHAPES.get(number, ""))
        if names is None:
            return f"shorter than its fields ({SHAPES[number]})"
        if number in NAMED and not names[0].isascii():
            return "a name that is not US-ASCII"
        if number in GLOBAL_REPLIES:
            return None if self.deferreds.get("global") else "a reply to a global request nobody made"
        if number not in CHANNEL_MESSAGES:
            return None
        (local,) = struct.unpack(">L", packet[:4])
        channel = self.channels.get(local)
        if channel is None:
            return f"no channel {local} is open"
        if number in REPLIES and not self.deferreds.get(local):
            return f"a reply to a request on channel {local} nobody made"
        if number in DATA and len(packet) >= DATA[number]:
            (length,) = struct.unpack(">L", packet[DATA[number] - 4:DATA[number]])
            if length > channel.localWindowLeft or length > channel.localMaxPacket:
                return (f"{length} bytes on channel {local}, beyond its window ({channel.localWindowLeft}) or "
                        f"packet size ({channel.localMaxPacket})")
        return None


def unsent(channel) -> int:
    """Bytes ``channel`` holds because the client's window is full (conch's ``buf`` and ``extBuf``)."""
    return len(channel.buf) + sum(len(data) for _, data in channel.extBuf)


def strings(packet: bytes, shape: str) -> list[bytes] | None:
    """The strings among ``packet``'s leading fields laid out as ``shape`` (see :data:`SHAPES`), or None when the
    packet is shorter than they are."""
    found, offset = [], 0
    for field in shape:
        if field == "s":
            if len(packet) < offset + 4:
                return None
            (length,) = struct.unpack(">L", packet[offset:offset + 4])
            found.append(packet[offset + 4:offset + 4 + length])
            offset += 4 + length
        else:
            offset += 4 if field == "L" else 1
        if len(packet) < offset:
            return None
    return found
