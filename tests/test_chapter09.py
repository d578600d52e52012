"""Chapter 9's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Every check drives a real news server (see labkit.chapters.ch09)."""

from labkit.testing import Mistake, exercise_tests


def test_a_quit_still_on_its_way_when_the_learners_code_returns_is_counted():
    """posting_groups that sends QUIT without awaiting its answer, while the reactor is busy a moment (a loaded
    machine): the QUIT reaches the server after the learner's Deferred fired, and 9.1's check waits for it."""
    import time

    from labkit.chapters.ch09 import check_posting_groups
    from servers.news.client import connect

    async def posting_groups(reactor, host, port):
        client = await connect(reactor, host, port)
        groups = await client.fetchGroups()
        client.quit()
        reactor.callLater(0, time.sleep, 0.5)  # before the QUIT is written to the socket
        return sorted(name for name, high, low, flag in groups if flag == "y")

    check_posting_groups(posting_groups)


PER_ARTICLE = '''rows = []
    for number in range(max(low, high - count + 1), high + 1):
        try:
            head = email.message_from_bytes(await client.fetchHead(number))
        except NNTPError:
            continue
        rows.append({"number": number, "Subject": head["Subject"]})'''

MISTAKES = [
    # 9.1 posting_groups(reactor, host, port) -> sorted names flagged y
    Mistake("9.1", "keeps every group", (' if flag == "y"', ""), hint="cannot be posted to"),
    Mistake("9.1", "keeps the read-only groups", ('flag == "y"', 'flag == "n"'), hint="cannot be posted to"),
    Mistake("9.1", "compares the flag with bytes", ('flag == "y"', 'flag == b"y"'), hint="the text 'y'"),
    Mistake("9.1", "not sorted", ('sorted(name for name, high, low, flag in groups if flag == "y")',
                                  '[name for name, high, low, flag in groups if flag == "y"]'),
            hint="return them sorted"),
    Mistake("9.1", "returns tuples, not names", ("sorted(name for", "sorted((name, flag) for"), hint="names only"),
    Mistake("9.1", "never says QUIT", ("    await client.quit()\n", ""), hint="QUIT"),
    # 9.2 latest_subjects(reactor, host, port, group, count) -> [(number, subject)] with one OVER
    Mistake("9.2", "the first numbers instead of the last",
            ("{max(low, high - count + 1)}-{high}", "{low}-{low + count - 1}"), hint="the first numbers"),
    Mistake("9.2", "one number too many", ("high - count + 1", "high - count"), hint="the range starts at"),
    Mistake("9.2", "the wrong field", ('row["Subject"]', 'row["From"]'), hint="the subjects not"),
    Mistake("9.2", "newest first", ('for row in rows]', 'for row in reversed(rows)]'), hint="oldest first"),
    Mistake("9.2", "one HEAD per article",
            ('rows = await client.fetchOverview(f"{max(low, high - count + 1)}-{high}")', PER_ARTICLE),
            hint="one OVER answers for the whole range"),
    # 9.3 make_reply(original, text) -> bytes of a follow-up
    Mistake("9.3", "no References", ('    reply["References"] = " ".join(filter(None, [source["References"], '
                                      'source["Message-ID"]]))\n', ""), hint="the reply has no References"),
    Mistake("9.3", "Re: added again", ('    if subject.startswith("Re: "):\n        subject = subject[4:]\n', ""),
            hint="not 'Re: Re: X'"),
    Mistake("9.3", "the original's Message-ID reused", ('make_msgid(domain="example.invalid")',
                                                        'source["Message-ID"]'), hint="give the reply a new one"),
    Mistake("9.3", "returns text", ("return bytes(reply)", "return str(reply)"), hint="make_reply returned str"),
    Mistake("9.3", "References in the wrong order", ('[source["References"], source["Message-ID"]]',
                                                     '[source["Message-ID"], source["References"]]'),
            hint="oldest first"),
    Mistake("9.3", "no Newsgroups", ('    reply["Newsgroups"] = source["Newsgroups"]\n', ""),
            hint="the server wants a Newsgroups header"),
    # 9.4 do_HDR on the news server
    Mistake("9.4", "every number of the range, missing ones too",
            ("wanted = [number for number in numbers if low <= number <= high]", "wanted = list(range(low, high + 1))"),
            hint="article 9 is missing"),
    Mistake("9.4", "the range's end left out", ("low <= number <= high", "low <= number < high"),
            hint="both ends"),
    Mistake("9.4", "an empty range answered 225", ('        if not wanted:\n            raise Answer(423, "no articles in '
                                                   'that range")\n', ""), hint="423"),
    Mistake("9.4", "no current article without a range",
            ("wanted = [self.current] if self.current is not None else []", "wanted = []"), hint="current article"),
    Mistake("9.4", "lines as text", ('.encode("utf-8")', ""), hint="the server logged"),
    # 9.5 FeedCache.get(reactor): one fetch shared, refreshed when old, failures not kept
    Mistake("9.5", "a fetch for every caller", ("if len(self.waiting) == 1:", "if True:"),
            hint="keep their Deferreds in a list"),
    # the same mistake when the later fetches reach the server after the first answer (a slow name lookup under
    # load): the check counts requests once they have stopped coming
    Mistake("9.5", "a fetch for every caller, the later ones late",
            ("if len(self.waiting) == 1:\n            fetch = treq.get(self.url)",
             "from twisted.internet import task\n        if True:\n            fetch = task.deferLater(reactor, "
             "0.1 * (len(self.waiting) - 1), treq.get, self.url)"), hint="keep their Deferreds in a list"),
    # the same, and the reactor held up half a second after the first answer (a loaded machine): the check's own
    # thread saw no new request for longer than its quiet time, while the later fetches had not even started
    Mistake("9.5", "a fetch for every caller, the reactor held up after the first answer",
            (("if len(self.waiting) == 1:\n            fetch = treq.get(self.url)",
              "from twisted.internet import task\n        if True:\n            fetch = task.deferLater(reactor, "
              "0.1 * (len(self.waiting) - 1), treq.get, self.url)"),
             ("        waiting, self.waiting = self.waiting, []\n",
              "        import time\n        if self.waiting:\n            reactor.callLater(0, time.sleep, 0.5)\n"
              "        waiting, self.waiting = self.waiting, []\n")),
            hint="keep their Deferreds in a list"),
    Mistake("9.5", "never refreshed", (" and reactor.seconds() - self.fetched_at < self.max_age", ""),
            hint="a copy as old as max_age or older is stale"),
    Mistake("9.5", "a failure kept as the copy",
            ("if not isinstance(result, Failure):\n            self.body, self.fetched_at = result, reactor.seconds()",
             "self.body, self.fetched_at = result, reactor.seconds()"), hint="keep no copy"),
    Mistake("9.5", "a 404 page taken for the feed",
            ('        if response.code != 200:\n            raise ValueError(f"{self.url} answered {response.code}")\n',
             ""), hint="when the answer is not 200"),
    Mistake("9.5", "a failed fetch never passed on", ("answer.errback(result)", "pass"), hint="never fired"),
]

TestChapter09 = exercise_tests(9, MISTAKES)
