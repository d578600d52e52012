"""The practice groups of the ``nntp`` server, fixed so checks can rely on them.

``practice.twisted``
    15 articles numbered 1 to 16; number :data:`MISSING` has expired. Article N has Message-ID
    ``<twisted-N@practice.invalid>``, the subject ``Twisted tip N``, a fixed date, and a body of three lines
    (the second starts with a dot, so dot-stuffing shows).
``practice.announce``
    Three announcements; posting is not allowed (POST to it gets 441).
``practice.sandbox``
    Empty and writable: post here.

All three were created at :data:`CREATED` (what NEWGROUPS compares with).
"""

from __future__ import annotations

from servers.news.storage import Article, Group

__all__ = ["ANNOUNCE", "CREATED", "MISSING", "SANDBOX", "TWISTED", "practice_groups"]

TWISTED, ANNOUNCE, SANDBOX = "practice.twisted", "practice.announce", "practice.sandbox"
MISSING = 9
CREATED = 1748736000.0  # 2025-06-01 00:00:00 UTC, the day before the first article
TIPS = ["Deferreds chain callbacks", "LineReceiver splits lines", "the reactor never blocks",
        "endpoints name where to connect", "inlineCallbacks reads like blocking code", "factories build protocols",
        "Clock fakes time in tests", "StringTransport records writes", "expired article",
        "task.react runs main and stops", "adbapi runs SQL in threads", "treq is requests for Twisted",
        "twisted.cred checks passwords", "LoopingCall repeats work", "IHalfCloseableProtocol sees shutdown",
        "callLater schedules work"]


def _article(group: str, key: str, number: int, subject: str, body: list[bytes], posting_day: int) -> Article:
    return Article((("Path", "practice!not-for-mail"), ("From", "Practice Tutor <tutor@practice.invalid>"),
                    ("Newsgroups", group), ("Subject", subject),
                    ("Date", f"Mon, {posting_day:02d} Jun 2025 12:00:00 +0000"),
                    ("Message-ID", f"<{key}-{number}@practice.invalid>")), tuple(body))


def practice_groups() -> list[Group]:
    """New groups with the fixed articles (each server gets its own copy)."""
    twisted = Group(TWISTED, "Tips on Twisted, one an article", posting=True, next_number=len(TIPS) + 1,
                    created=CREATED)
    for number, tip in enumerate(TIPS, start=1):
        if number != MISSING:
            body = [f"Tip {number}: {tip}.".encode(), b". <- a line that starts with a dot", b"-- the practice tutor"]
            twisted.articles[number] = _article(TWISTED, "twisted", number, f"Twisted tip {number}", body, number)
    announce = Group(ANNOUNCE, "Announcements (read-only)", posting=False, next_number=4, created=CREATED)
    for number, news in enumerate(["The practice server is up", "Posting goes to practice.sandbox",
                                   "Articles expire after 500 per group"], start=1):
        announce.articles[number] = _article(ANNOUNCE, "announce", number, news, [news.encode() + b"."], number)
    return [announce, Group(SANDBOX, "Post anything here", posting=True, created=CREATED), twisted]
