"""The root resource every wiki service of this family is served under: capped request bodies, no tracebacks,
and a client that pipelines requests without reading the answers held to one send buffer.

Promises: a :class:`BoundedRoot`'s ``make_site()`` (which ``labkit.serve`` and ``python -m servers`` use) is a
``twisted.web`` ``Site`` whose requests refuse a body over 1 MB with 413 and a hang-up, keeping none of it
(:class:`servers.web.bodies.BoundedRequest`), whose errors never show a traceback to the client, and whose
connections stop reading while their answers wait to be sent (:class:`PipelineBoundChannel`).
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from zope.interface import implementer

from servers.interfaces import IMakesSite
from servers.web.bodies import BoundedRequest

__all__ = ["BoundedRoot", "PipelineBoundChannel"]


class PipelineBoundChannel(HTTPChannel):
    """An ``HTTPChannel`` that stops reading once the transport's send buffer is full between requests.

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


@implementer(IMakesSite)
class BoundedRoot(Resource):
    def make_site(self):
        from twisted.web.server import Site

        made = Site(self, requestFactory=BoundedRequest)
        made.protocol = PipelineBoundChannel
        made.displayTracebacks = False
        return made
