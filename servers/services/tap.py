"""The reverse-text service for ``twist`` (and ``twistd``) plugins: the ``Options`` and ``makeService`` that a
``twisted.plugins`` ``ServiceMaker`` names.

Promises: ``twist reverse [--port ENDPOINT]`` listens on ``ENDPOINT`` (loopback and a port the system picks by
default), given a plugin file ``ServiceMaker("reverse", "servers.services.tap", ..., "reverse")``.
"""

from __future__ import annotations

from twisted.python import usage

from servers.services.reverse import DEFAULT_ENDPOINT, reverse_service

__all__ = ["Options", "makeService"]


class Options(usage.Options):
    optParameters = [["port", "p", DEFAULT_ENDPOINT, "the endpoint to listen on"]]


def makeService(options: Options):
    return reverse_service(options["port"])
