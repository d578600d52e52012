"""Conditional GET on the practice web sites' pages: validators, and 304 for a client whose copy is current.

Promises: :func:`client_copy_is_current` gives a response ``Last-Modified`` (and ``ETag`` when the page has one)
and tells whether the client's copy is current, deciding as RFC 9110 section 13.2.2 orders the conditions:
``If-None-Match`` alone when it is present (a list of tags, weak or strong, or ``*``, compared weakly as section
13.1.2 says), else ``If-Modified-Since`` (a date not earlier than Last-Modified; a value that is not a date is
ignored). When it is current the response code is already 304, and :func:`not_modified` ends the response with
no content and no ``Content-Length``.

Only a page whose content has a fixed moment claims one: the fixtures are :data:`FIXTURES_MODIFIED` (change it
when a fixture's bytes change); a page built for each request (a search result, an upload report) sends none.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from twisted.web.http import CACHED, NOT_MODIFIED
from twisted.web.server import NOT_DONE_YET

__all__ = ["FIXTURES_MODIFIED", "client_copy_is_current", "none_match", "not_modified"]

FIXTURES_MODIFIED = datetime(2005, 6, 1, 0, 0, 0, tzinfo=timezone.utc)
"""When the fixed pages last changed, as their Last-Modified says (the book's month)."""


def none_match(condition: bytes, etag: str | None) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (a quoted entity tag, or None for a page without one):
    ``*`` (any current page), or a comma-separated list one of whose tags has the same opaque tag, with or without
    ``W/`` (the weak comparison of RFC 9110 section 8.8.3.2, which If-None-Match uses)."""
    if condition.strip() == b"*":
        return True
    return etag is not None and etag.encode("ascii") in re.findall(rb'(?:W/)?("[^"]*")', condition)


def client_copy_is_current(request, modified: datetime, etag: str | None = None) -> bool:
    """Give the response to ``request`` (a GET or HEAD) ``Last-Modified: modified`` and ``ETag: etag`` (when not
    None), and answer whether the client's copy is current; when it is, the response code is now 304."""
    when = int(modified.timestamp())
    if etag is not None:
        request.setHeader(b"etag", etag.encode("ascii"))
    condition = request.getHeader(b"if-none-match")
    if condition is None:
        return request.setLastModified(when) is CACHED
    request.lastModified = when  # If-None-Match decides alone: If-Modified-Since is not consulted
    if none_match(condition, etag):
        request.setResponseCode(NOT_MODIFIED)
        return True
    return False


def not_modified(request):
    """End a 304 response to ``request``: no content, and no misleading ``Content-Length: 0``. Return it from
    ``render``."""
    request.finish()
    return NOT_DONE_YET
