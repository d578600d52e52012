"""The HTTP channel of the practice web sites: what Twisted's ``HTTPChannel`` does, but a request it cannot read
gets a proper refusal.

Promises: a request line longer than ``MAX_LENGTH`` (16384) bytes gets ``414 URI Too Long``, a longer header line
``431 Request Header Fields Too Large`` (RFC 6585), and anything else Twisted cannot parse (a malformed request line
or header, a bad Content-Length or chunk, headers over ``totalHeadersSize`` in all) ``400 Bad Request``; each with
``Date``, an HTML page that says what to fix, and a lingering close (:mod:`servers.web.lingering`), so the client
reads the answer even while it is still sending. Every refusal (these, and the 413 of
:mod:`servers.web.bodies`) goes through :meth:`PracticeChannel.refuse`, which also appends it to the request log of
a site that keeps one (its ``Site``'s ``request_log``), with the code sent. A client's half-close gets what is
answered, then a close. :class:`PipelineBoundChannel` also stops reading while its answers wait to be sent.
"""

from __future__ import annotations

from twisted.internet.interfaces import IHalfCloseableProtocol, IPushProducer
from twisted.web.http import HTTPChannel
from zope.interface import implementer

from servers.compat import BadRequestAnswer
from servers.web.lingering import answer_and_linger, refusal
from servers.web.records import refused_record

__all__ = ["PipelineBoundChannel", "PracticeChannel"]


@implementer(IHalfCloseableProtocol)
class PracticeChannel(BadRequestAnswer, HTTPChannel):
    """An ``HTTPChannel`` whose refusals say what was wrong (see the module).

    It takes half-closes the way the abuse guard treats a protocol that does not (the client's: what is answered
    is sent, then the connection closes), except that its own sending half closing (a lingering close) leaves the
    connection open to read and drop the rest of what the client sends.
    """

    at_request_line = True  # whether the next line is a request line (else a header line)
    request_line = b""  # the latest request line read
    site = None  # the Site serving this channel (Site.buildProtocol sets it)

    def lineReceived(self, line):
        if self.at_request_line and line:
            self.request_line = line
        # A blank line ends a request's headers (or is the stray one a client may send before a request line).
        self.at_request_line = line == b""
        super().lineReceived(line)

    def refuse(self, code: int, explanation: str, request_line: bytes | None = None) -> None:
        """Answer the request being read with ``refusal(code, explanation)`` and a lingering close, and append it
        to the site's ``request_log``, when the site keeps one: its request line (``request_line``, else the
        latest one read), the headers read so far, and the code sent. A connection already refused answers (and
        logs) nothing more."""
        response = refusal(code, explanation)
        if not answer_and_linger(self, response):
            return
        log = getattr(self.site, "request_log", None)
        if log is not None:
            # The request being read is the last one (Twisted parses no more while one is being answered).
            headers = self.requests[-1].requestHeaders.getAllRawHeaders() if self.requests else ()
            log.append(refused_record(self.request_line if request_line is None else request_line, headers, code,
                                      len(response)))

    def readConnectionLost(self):
        self.transport.loseConnection()

    def writeConnectionLost(self):
        pass  # only a lingering close shuts the sending half; it closes the connection itself

    def lineLengthExceeded(self, line):
        if self.at_request_line:
            self.refuse(414, f"The request line is longer than {self.MAX_LENGTH} bytes. Put less in the URL (send "
                             "long data in a POST body instead).", request_line=line)
        else:
            self.refuse(431, f"A header line is longer than {self.MAX_LENGTH} bytes. Send shorter headers.")

    def bad_request(self) -> None:
        self.refuse(400, "The practice web site could not read this request as HTTP/1.1 (RFC 9112): its request "
                         "line, a header, its Content-Length or a chunk of its body is malformed, or its headers are "
                         f"over {self.totalHeadersSize} bytes in all. A request line is "
                         "<code>METHOD /path HTTP/1.1</code>, each header <code>Name: value</code>.")


class PipelineBoundChannel(PracticeChannel):
    """A :class:`PracticeChannel` that stops reading once the transport's send buffer is full between requests.

    Twisted 26.10's channel, told by a full transport to pause while it is handling a request, pauses only that
    request; when the request finishes, it goes on reading (its ``requestDone`` resumes the network only when the
    transport is not full, but nothing pauses it either). A client that pipelines small requests (``GET`` of a
    404, thousands per read) and never reads is then answered into an ever-growing send buffer (hundreds of MB
    a minute). Worse, while a request is handled asynchronously (a login checked by a portal), what arrives is
    buffered without bound once the transport is full. Here the channel notes the transport's pause and resume
    itself (the public ``IPushProducer`` methods the transport calls), stops reading as soon as the transport is
    full, and again when a request finishes while the transport is still full;
    the transport's ``resumeProducing`` starts it again (Twisted's ``HTTPChannel.resumeProducing`` resumes the
    network when no request is being handled, and ``requestDone`` does when one finishes).
    """

    transport_full = False

    def pauseProducing(self):
        self.transport_full = True
        super().pauseProducing()
        network = IPushProducer(self.transport, None)
        if network is not None:  # also while a request is handled: Twisted's channel then buffers what comes
            network.pauseProducing()

    def resumeProducing(self):
        self.transport_full = False
        super().resumeProducing()

    def requestDone(self, request):
        super().requestDone(request)
        network = IPushProducer(self.transport, None)
        if self.transport_full and network is not None:
            network.pauseProducing()
