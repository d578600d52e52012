"""The server side of the SSH transport: strong algorithms only, a client's goodbye logged as news rather than as an
error, and a malformed packet answered with a protocol-error disconnect in one log line.

Promises: :class:`GoodbyeTransport` is conch's ``SSHServerTransport``, except that

* it offers only the algorithms in :data:`STRONG` that this Twisted and ``cryptography`` support (post-quantum
  hybrid and Curve25519 key exchange, AES in counter mode, SHA-2 MACs) and no compression: what ``ssh-audit``
  reports without a failure, and nothing a client could inflate (zlib before login multiplies a packet's size);
* a client's ``DISCONNECT`` that is its own decision is logged at info level: "connection lost" or "by
  application" (what OpenSSH and conch send when they are done), "host key not verifiable" (the client did not
  trust this server's key: a known_hosts lab shows it on purpose), "no more auth methods available" and "auth
  cancelled by user" (the client gave up logging in). Any other reason (a protocol or MAC error, a failed key
  exchange) is still logged as an error, as conch does;
* a connection takes its turn from the factory's throttle (:mod:`servers.ssh.throttle`): it sends its version
  line when the throttle starts it, keeps what the client sends before that (at most :data:`EARLY_MOST` bytes),
  and counts against its source until it logs in (the connection service starts) or closes;
* a packet too short for its message (conch reads it with ``struct``), or one naming a channel that is not open,
  gets ``DISCONNECT`` with reason "protocol error" (RFC 4253, section 11.1) naming the message, and one info line
  in the log instead of a traceback.
"""

from __future__ import annotations

import struct

from twisted.conch.ssh import common, transport
from twisted.logger import Logger

__all__ = ["EARLY_MOST", "GoodbyeTransport", "STRONG", "offered"]

EARLY_MOST = 35_000
"""What a client may send while it waits for its turn (its version line and its KEXINIT fit in it)."""

_log = Logger()

GOODBYES = {transport.DISCONNECT_CONNECTION_LOST, transport.DISCONNECT_BY_APPLICATION,
            transport.DISCONNECT_HOST_KEY_NOT_VERIFIABLE, transport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
            transport.DISCONNECT_AUTH_CANCELLED_BY_USER}
"""A client's reasons for disconnecting that are its own decision, not a fault of this server."""

STRONG = {
    "kex": [b"mlkem768x25519-sha256", b"curve25519-sha256", b"curve25519-sha256@libssh.org"],
    "ciphers": [b"aes256-ctr", b"aes192-ctr", b"aes128-ctr"],
    "macs": [b"hmac-sha2-512", b"hmac-sha2-256"],
    "compressions": [b"none"],
}
"""What the practice servers may offer, in order of preference (RFC 4253 section 7.1's name-lists)."""


def offered(kind: str, supported) -> list[bytes]:
    """The names of :data:`STRONG` ``kind`` that ``supported`` (Twisted's own list) holds, in our order."""
    return [name for name in STRONG[kind] if name in supported]


class GoodbyeTransport(transport.SSHServerTransport):
    """``SSHServerTransport`` with strong algorithms, that takes a client's goodbye or refusal calmly and a
    malformed packet as a protocol error."""

    supportedKeyExchanges = offered("kex", transport.SSHServerTransport.supportedKeyExchanges)
    supportedCiphers = offered("ciphers", transport.SSHServerTransport.supportedCiphers)
    supportedMACs = offered("macs", transport.SSHServerTransport.supportedMACs)
    supportedCompressions = offered("compressions", transport.SSHServerTransport.supportedCompressions)

    counted = None
    """``(throttle, host)``: the factory's throttle and the source address this connection counts against."""
    started = True
    early = b""

    def connectionMade(self):
        throttle = getattr(self.factory, "throttle", None)
        host = getattr(self.transport.getPeer(), "host", None)
        if throttle is None or host is None:
            super().connectionMade()
            return
        self.counted, self.started = (throttle, host), False
        throttle.arrive(host, self)

    def start(self) -> None:
        """The throttle's go-ahead: send the version line and open key exchange, then read what came early."""
        if self.started or not self.transport.connected:
            return
        self.started = True
        super().connectionMade()
        early, self.early = self.early, b""
        if early:
            super().dataReceived(early)

    def turn_away(self, line: bytes) -> None:
        """Close for the throttle, saying ``line`` as a line before the version, or in a ``DISCONNECT`` after."""
        if self.started:  # the packet conch's sendDisconnect sends, without its log line per connection
            self.sendPacket(transport.MSG_DISCONNECT, struct.pack(">L", transport.DISCONNECT_TOO_MANY_CONNECTIONS)
                            + common.NS(line.rstrip()) + common.NS(b""))
        else:
            self.transport.write(line)
        self.transport.loseConnection()

    def dataReceived(self, data):
        if self.started:
            super().dataReceived(data)
            return
        if self.transport.disconnecting:  # turned away already
            return
        self.early += data
        if len(self.early) > EARLY_MOST:
            self.turn_away(f"Too much before the version line: at most {EARLY_MOST} bytes\r\n".encode())

    def setService(self, service):
        if service.name == b"ssh-connection":  # conch starts it once the user has logged in
            self.stop_counting(logged_in=True)
        super().setService(service)

    def connectionLost(self, reason=None):
        self.stop_counting(logged_in=False)
        super().connectionLost(reason)

    def stop_counting(self, logged_in: bool) -> None:
        """This connection no longer counts against its source's bound (a second call does nothing)."""
        if self.counted is not None:
            (throttle, host), self.counted = self.counted, None
            throttle.done(host, self, logged_in)

    def receiveError(self, reasonCode, description):
        if reasonCode in GOODBYES:
            _log.info("the client disconnected: {description}", description=description)
        else:
            super().receiveError(reasonCode, description)

    def dispatchMessage(self, messageNum, payload):
        try:
            super().dispatchMessage(messageNum, payload)
        except struct.error as malformed:
            self.malformed(messageNum, f"too short ({malformed})")

    def malformed(self, message_number: int, why: str) -> None:
        """Disconnect a client whose message ``message_number`` cannot be read, saying ``why`` in one log line."""
        _log.info("disconnected a client whose message {number} was malformed: {why}", number=message_number,
                  why=why)
        self.sendDisconnect(transport.DISCONNECT_PROTOCOL_ERROR,
                            f"malformed message {message_number}: {why}".encode("utf-8", "replace")[:200])
