"""A news storage that keeps its groups and articles in an SQLite file, through ``twisted.enterprise.adbapi``
(the queries run in a thread pool; the reactor never waits on the disk).

Promises: :class:`SQLiteStorage` provides :class:`servers.news.storage.INewsStorage` like the in-memory storage
does, answer for answer; what was posted is there after a restart (a new SQLiteStorage on the same file); a
post is one transaction, so it is stored in every group it names or in none; a group keeps at most
``MAX_PER_GROUP`` articles. :meth:`SQLiteStorage.close` stops the pool (the server's factory calls it when it
stops listening; a later request opens the pool again). Make one in the reactor's thread (in a notebook: inside
``labkit.react`` or a server builder).
"""

from __future__ import annotations

from twisted.enterprise import adbapi
from zope.interface import implementer

from servers.news.storage import (MAX_PER_GROUP, GroupInfo, INewsStorage, NoSuchArticle, NoSuchGroup,
                                  PostingRefused, newsgroups, parse_article)

__all__ = ["SQLiteStorage"]

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS groups (name TEXT PRIMARY KEY, description TEXT NOT NULL, posting INTEGER NOT NULL,"
    " next_number INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS articles (grp TEXT NOT NULL, number INTEGER NOT NULL, message_id TEXT NOT NULL,"
    " text BLOB NOT NULL, PRIMARY KEY (grp, number))",
    "CREATE INDEX IF NOT EXISTS by_message_id ON articles (message_id)",
]


@implementer(INewsStorage)
class SQLiteStorage:
    """Groups and articles in the SQLite file ``path``; ``groups`` (``servers.news.storage.Group``) are added
    the first time the file is used, with their articles."""

    def __init__(self, path, groups=()):
        self.path = str(path)
        self.pool = None
        self.ready = self._run(self._create, list(groups))

    @staticmethod
    def _create(cursor, groups):
        for statement in SCHEMA:
            cursor.execute(statement)
        cursor.execute("SELECT COUNT(*) FROM groups")
        if cursor.fetchone()[0]:
            return
        for group in groups:
            cursor.execute("INSERT INTO groups VALUES (?, ?, ?, ?)",
                           (group.name, group.description, int(group.posting), group.next_number))
            for number, article in group.articles.items():
                cursor.execute("INSERT INTO articles VALUES (?, ?, ?, ?)",
                               (group.name, number, article.message_id, article.as_bytes()))

    def _run(self, interaction, *args):
        # One connection, one thread: interactions run in the order they were asked for, the schema first.
        if self.pool is None:  # new, or closed when its server stopped and now serving again
            self.pool = adbapi.ConnectionPool("sqlite3", self.path, check_same_thread=False, cp_min=1, cp_max=1,
                                              cp_noisy=False)
        return self.pool.runInteraction(interaction, *args)

    @staticmethod
    def _info(cursor, name) -> GroupInfo:
        cursor.execute("SELECT description, posting, next_number FROM groups WHERE name = ?", (name,))
        row = cursor.fetchone()
        if row is None:
            raise NoSuchGroup(f"no such newsgroup: {name}")
        description, posting, next_number = row
        cursor.execute("SELECT MIN(number), MAX(number), COUNT(*) FROM articles WHERE grp = ?", (name,))
        low, high, count = cursor.fetchone()
        return GroupInfo(name, description, bool(posting), low if count else next_number,
                         high if count else next_number - 1, count)

    def groups(self):
        def interaction(cursor):
            cursor.execute("SELECT name FROM groups ORDER BY name")
            return [self._info(cursor, name) for (name,) in cursor.fetchall()]
        return self._run(interaction)

    def group(self, name):
        return self._run(self._info, name)

    def numbers(self, name):
        def interaction(cursor):
            self._info(cursor, name)
            cursor.execute("SELECT number FROM articles WHERE grp = ? ORDER BY number", (name,))
            return [number for (number,) in cursor.fetchall()]
        return self._run(interaction)

    def article(self, name, number):
        def interaction(cursor):
            self._info(cursor, name)
            cursor.execute("SELECT text FROM articles WHERE grp = ? AND number = ?", (name, number))
            row = cursor.fetchone()
            if row is None:
                raise NoSuchArticle(f"no article {number} in {name}")
            return parse_article(bytes(row[0]))
        return self._run(interaction)

    def find(self, message_id):
        def interaction(cursor):
            cursor.execute("SELECT grp, number, text FROM articles WHERE message_id = ? ORDER BY grp LIMIT 1",
                           (message_id,))
            row = cursor.fetchone()
            if row is None:
                raise NoSuchArticle(f"no article with Message-ID {message_id}")
            return row[0], row[1], parse_article(bytes(row[2]))
        return self._run(interaction)

    def post(self, article):
        return self._run(self._post, article)

    def _post(self, cursor, article) -> str:
        names = newsgroups(article)
        targets = [self._info(cursor, name) for name in names]
        refused = [info.name for info in targets if not info.posting]
        if refused:
            raise PostingRefused(f"posting to {', '.join(refused)} is not allowed")
        cursor.execute("SELECT 1 FROM articles WHERE message_id = ?", (article.message_id,))
        if cursor.fetchone():
            raise PostingRefused(f"an article with Message-ID {article.message_id} is already stored")
        for name in names:
            cursor.execute("SELECT next_number FROM groups WHERE name = ?", (name,))
            number = cursor.fetchone()[0]
            cursor.execute("INSERT INTO articles VALUES (?, ?, ?, ?)",
                           (name, number, article.message_id, article.as_bytes()))
            cursor.execute("UPDATE groups SET next_number = ? WHERE name = ?", (number + 1, name))
            cursor.execute("DELETE FROM articles WHERE grp = ? AND number <= ?", (name, number - MAX_PER_GROUP))
        return article.message_id

    def close(self):
        """Stop the pool's thread; the next request opens a new one."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()
