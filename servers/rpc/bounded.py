"""The root resource every wiki service of this family is served under: capped request bodies, no tracebacks,
and a client that pipelines requests without reading the answers held to one send buffer.

Promises: a :class:`BoundedRoot`'s ``make_site()`` (which ``labkit.serve`` and ``python -m servers`` use) is a
``twisted.web`` ``Site`` whose requests refuse a body over 1 MB with 413 and a hang-up, keeping none of it
(:class:`servers.web.bodies.BoundedRequest`), whose errors never show a traceback to the client, and whose
connections stop reading while their answers wait to be sent (:class:`servers.web.channel.PipelineBoundChannel`).
"""

from __future__ import annotations

from twisted.web.resource import Resource
from zope.interface import implementer

from servers.interfaces import IMakesSite
from servers.web.bodies import BoundedRequest
from servers.web.channel import PipelineBoundChannel

__all__ = ["BoundedRoot"]


@implementer(IMakesSite)
class BoundedRoot(Resource):
    def make_site(self):
        from twisted.web.server import Site

        made = Site(self, requestFactory=BoundedRequest)
        made.protocol = PipelineBoundChannel
        made.displayTracebacks = False
        return made
