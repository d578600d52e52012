"""The wiki over Perspective Broker (the catalogue's ``pb``): a ``pb.Root`` with ``remote_`` methods.

Promises (``pb_wiki(data=None)`` builds the ``PBServerFactory``):

* The root object: ``hasPage(name)``, ``listPages()`` (a sorted list: a dict's keys view is refused by jelly
  as insecure), ``getPage(name)``, ``getRenderedPage(name)``, ``setPage(name, text)`` (True when new),
  ``deletePage(name)``, and ``getReporter()``, which returns a :class:`WikiReporter` (a ``pb.Referenceable``:
  the client gets a remote reference, not a copy) whose ``listNeededPages()`` lists WikiWords with no page.
* A missing page raises :class:`NoSuchPage`, a refused name or text :class:`PageRefused`, an unknown method
  :class:`UnknownMethod`, a wrong number of arguments :class:`WrongArguments`: all ``pb.Error``, so the client's
  Deferred fails with a ``RemoteError`` naming them and the server logs nothing. Jelly's own limits apply:
  anything but basic types and the classes a side allows (``pb.Referenceable`` references) is refused.
* Each connection's input is bounded (:mod:`servers.rpc.pbguard`): a peer cannot stall the reactor or fill the
  memory with huge or deeply nested messages.
"""

from __future__ import annotations

import inspect

from twisted.spread import pb

from servers.rpc.data import WikiData, WikiRefused
from servers.rpc.pbguard import bounded

__all__ = ["NoSuchPage", "PageRefused", "UnknownMethod", "WikiReporter", "WikiRoot", "WrongArguments", "pb_wiki"]


class NoSuchPage(pb.Error):
    """There is no page by that name."""


class PageRefused(pb.Error):
    """The wiki will not store that name or text."""


class UnknownMethod(pb.Error):
    """The object has no ``remote_`` method by that name."""


class WrongArguments(pb.Error):
    """The method takes other arguments."""


class _Strict:
    """Remote calls that fail as ``pb.Error`` (sent to the caller, never logged) for unknown methods and wrong
    arguments, instead of an AttributeError or TypeError with a traceback in the server's log."""

    def remoteMessageReceived(self, broker, message, args, kw):
        name = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        method = getattr(self, f"remote_{name}", None)
        if method is None:
            known = sorted(attr[len("remote_"):] for attr in dir(self) if attr.startswith("remote_"))
            raise UnknownMethod(f"{type(self).__name__} has no remote method {name!r}; it has {', '.join(known)}")
        args, kw = broker.unserialize(args), broker.unserialize(kw)
        try:
            inspect.signature(method).bind(*args, **kw)
        except TypeError as wrong:
            raise WrongArguments(f"{name}: {wrong}") from None
        return broker.serialize(method(*args, **kw), self.perspective)


class WikiReporter(_Strict, pb.Referenceable):
    """A second remote object: reports on the wiki."""

    def __init__(self, data: WikiData):
        self.data = data

    def remote_listNeededPages(self):
        return self.data.needed_pages()


class WikiRoot(_Strict, pb.Root):
    """The object a client gets from ``getRootObject()``."""

    def __init__(self, data: WikiData):
        self.data = data
        self.reporter = WikiReporter(data)

    def _existing(self, name, text):
        if text is None:
            raise NoSuchPage(f"no page named {name!r}")
        return text

    def remote_hasPage(self, name):
        return self.data.has_page(name)

    def remote_listPages(self):
        return self.data.list_pages()

    def remote_getPage(self, name):
        return self._existing(name, self.data.get_page(name))

    def remote_getRenderedPage(self, name):
        return self._existing(name, self.data.rendered_page(name))

    def remote_setPage(self, name, text):
        try:
            return self.data.set_page(name, text)
        except WikiRefused as refused:
            raise PageRefused(str(refused)) from None

    def remote_deletePage(self, name):
        return self.data.delete_page(name)

    def remote_getReporter(self):
        return self.reporter


def pb_wiki(data: WikiData | None = None) -> pb.PBServerFactory:
    """A ``PBServerFactory`` whose root is a :class:`WikiRoot` over ``data`` (new unless given)."""
    root = WikiRoot(data if data is not None else WikiData())
    factory = bounded(root)
    factory.wiki = root.data  # the pages, for notebooks and tests to look at
    return factory
