"""Chapter 4's check for the blog's save page (4.5): posts stored through an ``adbapi`` pool, read back with
``sqlite3`` directly; bad posts refused; a locked or missing database answered with a 500 page."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from urllib.parse import urljoin

from twisted.web import resource

from labkit.bridge import react
from labkit.checks import Check, limits, server_health, short, unwritten
from labkit.checks.web import FORM_HEADERS, Reply, fetch, form

__all__ = ["check_blog_save"]

MAX_TITLE_CHARS = 200


# --- 4.5 the blog's save page -----------------------------------------------------------------------------------

SCHEMA = ("CREATE TABLE IF NOT EXISTS posts (post_id INTEGER PRIMARY KEY AUTOINCREMENT, "
          "title TEXT NOT NULL, body TEXT)")


def _rows(path: Path) -> list[tuple]:
    """Read the posts with sqlite3 directly: an independent look at what reached the file."""
    with contextlib.closing(sqlite3.connect(path, timeout=limits.CATCH_UP)) as db:
        return db.execute("SELECT title, body FROM posts ORDER BY post_id").fetchall()


def _pool(path, timeout: float = limits.DATABASE_LOCK):
    from twisted.enterprise import adbapi

    return adbapi.ConnectionPool("sqlite3", str(path), check_same_thread=False, timeout=timeout,
                                 cp_min=1, cp_max=2)


def _close_pool(pool) -> None:
    try:
        react(lambda reactor: pool.close(), timeout=limits.CLEANUP)
    except Exception:
        pass


def _saved(reply: Reply) -> tuple:
    where = urljoin("/save", reply.header("location") or "") if reply.header("location") else None
    return ("a redirect" if reply.status in (301, 302, 303, 307) else reply.outcome, where)


def _first_post_hint(reply: Reply) -> str:
    """Why the first post (SQL and HTML in it) was not answered with a redirect home, from the answer."""
    if reply.status == 500:
        return (f"{reply.answered_500()}. A quote in the title ends a string in SQL built by % or an f-string: "
                "pass the values to runOperation separately, with ? in the SQL")
    if reply.status is None:
        return f"{reply.error}: the request is finished only when request.finish() is called after the insert"
    return ("after the insert, the answer is a redirect home (303 See Other, Location ./), not "
            f"{reply.summary}")


def check_blog_save(save_page_class) -> None:
    """Exercise 4.5: ``save_page_class(db)`` is the blog's ``/save``: ``POST`` with ``title`` and ``body`` stores
    them through the ``adbapi`` pool ``db`` with parameters, then redirects to ``./``; a missing, blank or
    too long (over 200 characters) title is 400; a database error is a 500 page, and the server goes on."""
    with Check("the save page stores posts safely, refuses bad ones, and survives database trouble",
               start="in render_POST, read title and body from request.args, store them with "
                     "self.db.runOperation(...), and return server.NOT_DONE_YET") as check:
        folder = check.temporary_folder("check-blog-")
        path = folder / "blog.db"
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute(SCHEMA)
            db.commit()
        pools, started = [], []

        def start(database_path):
            pool = _pool(database_path)
            pools.append(pool)
            check.on_exit(_close_pool, pool)
            root = resource.Resource()
            root.putChild(b"save", save_page_class(pool))
            served = check.serve(root, "check-blog-save")
            started.append(served)
            return served

        served = start(path)
        post = lambda body: fetch(served.port, "POST", "/save", body=body, headers=FORM_HEADERS)  # noqa: E731
        title, body = "Bobby'); DROP TABLE posts;--", "<b>bold</b> & \"quoted\""
        first = post(form(title=title, body=body))
        if unwritten(check, served):
            return
        check.expect("a post with SQL and HTML in it", ("a redirect", "/"), _saved(first),
                     sent=form(title=title, body=body),
                     hint=_first_post_hint(first))
        check.expect("what reached the database, exactly", [(title, body)], _rows(path),
                     hint="what reached the database differs from what was posted: store the title and body "
                          "as they came, bound as values, never built into the SQL text")
        for sent, what in ((form(body="no title"), "no title"), (form(title="   ", body="x"), "a blank title"),
                           (form(title="x" * (MAX_TITLE_CHARS + 1)), "a 201-character title")):
            reply = post(sent)
            check.expect(f"{what}: 400", 400, reply.outcome, sent=short(sent, 60),
                         hint=reply.answered_500() or "the title is checked before the database is touched: a "
                              "missing, blank (only spaces) or over 200 characters long title gets 400")
            check.expect(f"{what}: an HTML page", "text/html",
                         (reply.header("content-type") or "").split(";")[0].strip().lower(),
                         hint="the 400 answer is a page: set content-type to text/html; charset=utf-8")
        edges = ("y", "z" * MAX_TITLE_CHARS)
        for edge in edges:
            check.expect(f"a {len(edge)}-character title is saved", ("a redirect", "/"),
                         _saved(post(form(title=edge, body="x"))),
                         hint="a title of 1 to 200 characters (both ends included) is saved")
        check.expect("nothing invalid was stored", 1 + len(edges), len(_rows(path)))
        odd = post(b"title=%FF&body=x")
        check.expect("a title that is not UTF-8 gets an answer, not a crash", "a redirect or 400",
                     odd.outcome, ok=odd.status in (301, 302, 303, 307, 400), sent=b"title=%FF&body=x",
                     hint=f"{odd.answered_500() or odd.summary}: decode form values with errors='replace'")
        count = len(_rows(path))
        locker = sqlite3.connect(path, timeout=0)
        try:
            locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
            locked = post(form(title="while locked", body="x"))
        finally:
            locker.rollback()
            locker.close()
        check.expect("a locked database: 500, in good time", 500, locked.outcome,
                     hint=f"with the database locked the answer was {locked.summary}: a failed insert fails the "
                          "Deferred from runOperation, and only an errback on it can answer the browser (500 and "
                          "a page)")
        check.expect("the 500 page says the post was not saved", True, b"not saved" in locked.body.lower(),
                     hint="the 500 page says the post was not saved (database_error's what)")
        check.expect("a locked database: nothing half-saved", count, len(_rows(path)))
        after = post(form(title="after the lock", body="y"))
        check.expect("once the lock is gone, saving works again", ("a redirect", "/"), _saved(after))
        served.stop()
        _close_pool(pools[-1])
        served = start(path)  # the same file, a new server and pool: a restart
        restarted = post(form(title="after a restart", body="z"))
        check.expect("after a restart, on the same file", ("a redirect", "/"), _saved(restarted))
        titles = [row[0] for row in _rows(path)]
        check.expect("every saved post is still there", [title, *edges, "after the lock", "after a restart"],
                     [t for t in titles if t != "\ufffd"])
        server_health(check, served, *(earlier.log.text for earlier in started), expected=("OperationalError",))
        served.stop()
        served = start(folder / "missing-folder" / "blog.db")
        missing = post(form(title="nowhere to go", body="x"))
        check.expect("a database file that cannot be opened: 500", 500, missing.outcome)
        server_health(check, served, expected=("OperationalError",))
