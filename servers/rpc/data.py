"""The wiki's pages, one store shared by every way of reaching it (REST, XML-RPC, SOAP, Perspective Broker).

Promises: a :class:`WikiData` holds pages (name -> text) in memory, for this process only, starting with
:data:`HOME` (text :data:`HOME_TEXT`). Names are 1 to 64 letters, digits, ``_`` or ``-``; a text is at most
:data:`MAX_TEXT` bytes of UTF-8; the store holds at most :data:`MAX_PAGES` pages. Anything else raises
:class:`WikiRefused` (a ``ValueError``) saying what to change, and stores nothing; a new page refused because the
store is full raises its subclass :class:`WikiFull` (the server's condition, not the request's fault). WikiWords
(two or more capitalised words run together, ``FrontPage``) become links when a page is rendered as HTML.
"""

from __future__ import annotations

import hashlib
import html
import re

__all__ = ["HOME", "HOME_TEXT", "MAX_PAGES", "MAX_TEXT", "WIKI_WORD", "WikiData", "WikiFull", "WikiRefused"]

HOME = "WikiHome"
HOME_TEXT = "This is your WikiHome. Write about TwistedMatrix and RemoteCalls here."
MAX_PAGES = 1000
MAX_TEXT = 64 * 1024
WIKI_WORD = re.compile(r"\b(?:[A-Z][a-z]+){2,}\b")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class WikiRefused(ValueError):
    """A page name or text the wiki will not store; the message says what to change."""


class WikiFull(WikiRefused):
    """A new page refused because the wiki holds :data:`MAX_PAGES` pages already."""


class WikiData:
    """The pages of one wiki (see the module's promises)."""

    def __init__(self, pages: dict[str, str] | None = None):
        self.pages: dict[str, str] = {}
        for name, text in (pages if pages is not None else {HOME: HOME_TEXT}).items():
            self.set_page(name, text)

    def has_page(self, name: str) -> bool:
        return name in self.pages

    def list_pages(self) -> list[str]:
        """The page names, sorted (a list: a dict's keys view crosses no wire)."""
        return sorted(self.pages)

    def get_page(self, name: str) -> str | None:
        """The page's text, or None when there is no such page."""
        return self.pages.get(name)

    def etag(self, name: str) -> str | None:
        """A validator for the page's current text (an HTTP entity tag, quotes included), None if missing."""
        text = self.pages.get(name)
        return None if text is None else '"%s"' % hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def rendered_page(self, name: str) -> str | None:
        """The page as HTML: its text escaped, every WikiWord a link to its page; None when missing."""
        text = self.pages.get(name)
        if text is None:
            return None
        return WIKI_WORD.sub(lambda word: f'<a href="{word[0]}">{word[0]}</a>', html.escape(text))

    def set_page(self, name: str, text: str) -> bool:
        """Store ``text`` as page ``name``; True when the page is new. Raises :class:`WikiRefused`."""
        check_name(name)
        if not isinstance(text, str):
            raise WikiRefused(f"a page's text is a str, not {type(text).__name__}: decode bytes first")
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT:
            raise WikiRefused(f"the text is {size} bytes; a page holds at most {MAX_TEXT}")
        created = name not in self.pages
        if created and len(self.pages) >= MAX_PAGES:
            raise WikiFull(f"the wiki is full ({MAX_PAGES} pages): delete a page first")
        self.pages[name] = text
        return created

    def delete_page(self, name: str) -> bool:
        """Remove the page; True when there was one."""
        return self.pages.pop(name, None) is not None

    def needed_pages(self) -> list[str]:
        """WikiWords that some page mentions but no page has yet, sorted."""
        mentioned = {word for text in self.pages.values() for word in WIKI_WORD.findall(text)}
        return sorted(mentioned - set(self.pages))


def check_name(name) -> str:
    """``name`` if it is a proper page name, else :class:`WikiRefused` saying why."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WikiRefused(f"{name!r} is not a page name: use 1 to 64 letters, digits, '_' or '-'")
    return name
