"""Chapter 9's practice news servers, on an NNTP server written here (:mod:`servers.news.server`) because
Twisted removed ``twisted.news`` and nothing maintained replaces it.

``nntp``
    An NNTP reader server over :class:`servers.news.storage.MemoryStorage` holding the groups of
    :mod:`servers.news.practice`: one of 15 articles with a number missing, one read-only, one writable.
``rss``
    RSS and Atom feeds over HTTP whose items a notebook adds and edits, with a hit counter
    (:mod:`servers.news.feedsite`): what the RSS-to-NNTP gateway (:mod:`servers.news.gateway`) reads.

Modules: :mod:`~servers.news.textformat` (the line format), :mod:`~servers.news.storage` (articles, the storage
interface, the in-memory storage), :mod:`~servers.news.sqlstore` (SQLite), :mod:`~servers.news.server` (the
server protocol and factory), :mod:`~servers.news.client` (a Twisted client with the book's method names),
:mod:`~servers.news.probes`.

Promises: building ``nntp`` imports nothing of the web; each server gets its own copy of the practice groups
(or feeds).
"""

from __future__ import annotations

__all__ = ["feeds", "nntp"]


def nntp(storage=None):
    """The practice news server over ``storage`` (a new MemoryStorage of the practice groups by default)."""
    from servers.news.practice import practice_groups
    from servers.news.server import NNTPFactory
    from servers.news.storage import MemoryStorage

    return NNTPFactory(storage if storage is not None else MemoryStorage(practice_groups()))


def feeds():
    """The feeds practice site (a twisted.web resource), with its starting items and no hits."""
    from servers.news.feedsite import FeedSite

    return FeedSite()
