"""The HTTP channel of the practice web sites: what Twisted's ``HTTPChannel`` does, but a request it cannot read
gets a proper refusal.

Promises: a request line longer than ``MAX_LENGTH`` (16384) bytes gets ``414 URI Too Long``, a longer header line
``431 Request Header Fields Too Large`` (RFC 6585), and anything else Twisted cannot parse (a malformed request line
or header, a bad Content-Length or chunk, headers over ``totalHeadersSize`` in all) ``400 Bad Request``; each with
``Date``, an HTML page that says what to fix, and a lingering close (:mod:`servers.web.lingering`), so the client
reads the answer even while it is still sending. A client's half-close gets what is answered, then a close.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.web.http import HTTPChannel
from zope.interface import implementer

from servers.compat import BadRequestAnswer
from servers.web.lingering import answer_and_linger, refusal

__all__ = ["PracticeChannel"]


@implementer(IHalfCloseableProtocol)
class PracticeChannel(BadRequestAnswer, HTTPChannel):
    """An ``HTTPChannel`` whose refusals say what was wrong (see the module).

    It takes half-closes the way the abuse guard treats a protocol that does not (the client's: what is answered
    is sent, then the connection closes), except that its own sending half closing (a lingering close) leaves the
    connection open to read and drop the rest of what the client sends.
    """

    at_request_line = True  # whether the next line is a request line (else a header line)

    def lineReceived(self, line):
        # A blank line ends a request's headers (or is the stray one a client may send before a request line).
        self.at_request_line = line == b""
        super().lineReceived(line)

    def readConnectionLost(self):
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass  # only a lingering close shuts the sending half; it closes the connection itself

    def lineLengthExceeded(self, line):
        if self.at_request_line:
            answer_and_linger(self, refusal(414, f"The request line is longer than {self.MAX_LENGTH} bytes. Put "
                                                 "less in the URL (send long data in a POST body instead)."))
        else:
            answer_and_linger(self, refusal(431, f"A header line is longer than {self.MAX_LENGTH} bytes. Send "
                                                 "shorter headers."))

    def bad_request(self) -> None:
        answer_and_linger(self, refusal(400, "The practice web site could not read this request as HTTP/1.1 "
                                             "(RFC 9112): its request line, a header, its Content-Length or a chunk "
                                             f"of its body is malformed, or its headers are over "
                                             f"{self.totalHeadersSize} bytes in all. A request line is "
                                             "<code>METHOD /path HTTP/1.1</code>, each header "
                                             "<code>Name: value</code>."))
