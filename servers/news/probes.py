"""The probe of chapter 9's news server: the standard library's ``nntplib`` (Python 3.11, 3.12; on 3.13 and
later the same module from PyPI's ``standard-nntplib``), as any newsreader would use the server.

``feeds`` reads the practice feeds with ``http.client`` and ``xml.etree``, as any feed reader would.
``nntp`` lists the groups, reads the group with the missing article through OVER, fetches an article by
Message-ID, and posts one to the sandbox, which must then be found by its Message-ID.
"""

from __future__ import annotations

import email.utils
import warnings

from servers.probes import TIMEOUT

__all__ = ["feeds", "nntp", "nntplib"]


def nntplib():
    """The nntplib module (the standard library's up to 3.12, PyPI's ``standard-nntplib`` after)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nntplib as module
    return module


def nntp(host: str, port: int) -> None:
    from servers.news.practice import MISSING, SANDBOX, TWISTED

    with nntplib().NNTP(host, port, timeout=TIMEOUT, readermode=True) as news:
        _, groups = news.list()
        names = {group.group for group in groups}
        assert {TWISTED, SANDBOX} <= names, f"LIST answered {sorted(names)}"
        _, count, first, last, _ = news.group(TWISTED)
        assert (count, first, last) == (15, 1, 16), f"GROUP answered {count} {first} {last}"
        _, overviews = news.over((first, last))
        numbers = [number for number, _ in overviews]
        assert MISSING not in numbers and len(numbers) == 15, f"OVER listed {numbers}"
        _, info = news.article("<twisted-1@practice.invalid>")
        assert info.lines[0].startswith(b"Path:") and b"Subject: Twisted tip 1" in info.lines, \
            f"ARTICLE by Message-ID answered {info.lines[:6]}"
        message_id = email.utils.make_msgid(domain="probe.invalid")
        news.post([b"From: Probe <probe@practice.invalid>", f"Newsgroups: {SANDBOX}".encode(),
                   b"Subject: probe", f"Message-ID: {message_id}".encode(), b"", b"hello"])
        _, _, found = news.stat(message_id)
        assert found == message_id, f"STAT {message_id} answered {found}"


def feeds(host: str, port: int) -> None:
    """The RSS feed ``twisted`` has its first item; the Atom feed ``python`` its entries; /hits answers."""
    import xml.etree.ElementTree as ElementTree

    from servers.probes import _get

    status, body = _get(host, port, "/rss/twisted")
    assert status == 200, f"GET /rss/twisted answered {status}"
    titles = [title.text for title in ElementTree.fromstring(body).iter("title")]
    assert titles[:2] == ["Practice feed: twisted", "Deferreds explained"], f"the RSS feed's titles: {titles[:3]}"
    status, body = _get(host, port, "/atom/python")
    entries = ElementTree.fromstring(body).findall("{http://www.w3.org/2005/Atom}entry")
    assert status == 200 and len(entries) >= 2, f"GET /atom/python answered {status} with {len(entries)} entries"
    status, _ = _get(host, port, "/hits")
    assert status == 200, f"GET /hits answered {status}"
