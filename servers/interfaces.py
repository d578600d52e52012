"""What a served thing may offer, declared as zope interfaces and checked with ``providedBy``, as Twisted does.

Anything :func:`servers.listening.plan` serves (a practice server's builder returns it, or a learner passes it to
``labkit.serve``) is one of:

* a protocol factory (Twisted's ``IProtocolFactory``), served on one port;
* a twisted.web resource (``IResource``), served by a ``Site`` on one port; one that also provides
  :class:`IMakesSite` brings its own ``Site``;
* an :class:`IMultiPort`: one factory on several fixed ports, one set of limits across them;
* an :class:`IStreamAndDatagrams`: one factory on TCP (guarded) and UDP beside it at the same port number (DNS).

A built server that provides :class:`IPracticeDetails` has more to tell a real client than its address (an SSH
server's host key), which ``python -m servers`` prints.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

__all__ = ["IMakesSite", "IMultiPort", "IPracticeDetails", "IStreamAndDatagrams"]


class IMakesSite(Interface):
    """A twisted.web resource that is served by a ``Site`` of its own making (capped bodies, its own request
    class or channel) rather than a default ``Site(resource)``."""

    def make_site():
        """A new ``twisted.web.server.Site`` serving this resource."""


class IMultiPort(Interface):
    """A server that listens on several fixed ports at once with one factory (the port-scan target)."""

    factory = Attribute("The protocol factory every port serves.")

    def ports():
        """The port numbers to listen on, a list of ints."""


class IStreamAndDatagrams(Interface):
    """A server on TCP and UDP at one port number (DNS)."""

    factory = Attribute("The protocol factory TCP connections get (guarded as every server's is).")

    def listen_datagrams(reactor, listen_stream, host, port):
        """Call ``listen_stream(number)`` to listen on TCP, add UDP on the same number; return one listening port
        (``getHost``, ``stopListening``) for both."""


class IPracticeDetails(Interface):
    """A server with something a real client must know beyond its address."""

    def practice_details():
        """``KEY: VALUE`` lines to print after the listening line (for example ``host key: ...``)."""
