"""HTTP through a proxy, with Twisted's ``ProxyAgent``: how a check asks the learner's proxy for a page.

Promises:

* :func:`via_proxy` returns the reply (a :class:`labkit.checks.web.Reply`, never an exception) together with
  whatever the reactor printed meanwhile, where errors raised in the proxy's code land.
* :func:`proxy_factory` serves a learner's ``ProxyRequest`` subclass.
"""

from __future__ import annotations

import contextlib
import io
import warnings

from twisted.internet import protocol

from labkit.bridge import react
from labkit.checks import limits
from labkit.checks.web import Reply

with warnings.catch_warnings():  # twisted.web.proxy imports http.HTTPClient, deprecated since Twisted 24.7
    warnings.filterwarnings("ignore", message=r"twisted\.web\.http\.HTTPClient was deprecated",
                            category=DeprecationWarning)
    from twisted.web import proxy

__all__ = ["proxy_factory", "via_proxy"]


class _Collect(protocol.Protocol):
    """The body as far as it came, however the response ended."""

    def __init__(self, done):
        self.done, self.parts = done, []

    def dataReceived(self, data):
        self.parts.append(data)

    def connectionLost(self, reason):
        self.done.callback(b"".join(self.parts))


def via_proxy(proxy_port: int, url: str, method: str = "GET", timeout: float = limits.REPLY) -> tuple[Reply, str]:
    """Ask for ``url`` through the HTTP proxy on 127.0.0.1:``proxy_port``. Returns the reply and whatever the
    reactor printed meanwhile (errors in the proxy's code land there)."""
    from twisted.internet import defer
    from twisted.internet.endpoints import TCP4ClientEndpoint
    from twisted.web.client import ProxyAgent

    async def go(reactor):
        agent = ProxyAgent(TCP4ClientEndpoint(reactor, "127.0.0.1", proxy_port, timeout=timeout))
        response = await agent.request(method.encode("ascii"), url.encode("ascii"))
        received = defer.Deferred()
        response.deliverBody(_Collect(received))
        body = await received
        headers = {name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
                   for name, values in response.headers.getAllRawHeaders()}
        return Reply(response.code, response.phrase.decode("latin-1"), headers, body)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            reply = react(go, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - every way of not getting a response is a reply with an error
            reasons = getattr(exc, "reasons", None)
            detail = "; ".join(r.getErrorMessage() for r in reasons) if reasons else str(exc)
            reply = Reply(None, error=f"{type(exc).__name__}: {detail}")
    return reply, printed.getvalue()


def proxy_factory(request_class):
    """An HTTP factory for a proxy: ``proxy.Proxy`` channels whose requests are ``request_class`` (a subclass
    of ``proxy.ProxyRequest``)."""
    from twisted.web import http as web_http

    class Channel(proxy.Proxy):
        requestFactory = request_class

    factory = web_http.HTTPFactory()
    factory.protocol = Channel
    return factory
