"""The SSH servers' per-source throttle before login (:mod:`servers.ssh.throttle`) on a fake clock: key exchanges
start from a bucket per source and the rest wait their turn, past the bound the oldest is turned away (one log
line per burst), a login gives its place and its token back, and memory stays bounded. The burst against a real
server, with paramiko and OpenSSH logging in after it, is in ``tests/test_ssh_conformance.py``."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.logger import capturedLogs

from servers.ssh.throttle import SourceThrottle, ThrottleLimits


class Turn:
    """A connection as the throttle sees it, recording what it was told."""

    def __init__(self):
        self.started, self.away = False, None

    def start(self):
        self.started = True

    def turn_away(self, line):
        self.away = line


def test_key_exchanges_start_from_a_bucket_per_source_and_the_rest_wait_their_turn():
    clock = Clock()
    throttle = SourceThrottle(ThrottleLimits(unauthenticated=100, burst=5, per_second=2.0), clock)
    turns = [Turn() for _ in range(8)]
    for turn in turns:
        throttle.arrive("127.0.0.2", turn)
    assert [turn.started for turn in turns] == [True] * 5 + [False] * 3
    assert throttle.waiting("127.0.0.2") == 3
    other = Turn()
    throttle.arrive("127.0.0.3", other)  # another source has its own bucket
    assert other.started
    clock.advance(0.5)  # one token back: the longest waiting starts
    assert [turn.started for turn in turns[5:]] == [True, False, False]
    throttle.done("127.0.0.2", turns[7], logged_in=False)  # one gives up waiting
    clock.advance(0.5)
    assert turns[6].started and not turns[7].started and throttle.waiting("127.0.0.2") == 0
    assert not clock.getDelayedCalls()  # nobody waits, no timer
    assert all(turn.away is None for turn in turns)


def test_past_the_bound_the_oldest_is_turned_away_in_one_log_line_per_burst():
    clock = Clock()
    throttle = SourceThrottle(ThrottleLimits(unauthenticated=3, burst=100, quiet=10.0), clock)
    with capturedLogs() as events:
        turns = [Turn() for _ in range(50)]
        for turn in turns:
            throttle.arrive("127.0.0.2", turn)
        assert [turn.away is None for turn in turns] == [False] * 47 + [True] * 3
        assert turns[0].away.startswith(b"Exceeded MaxStartups: 3 newer connections from 127.0.0.2")
        assert throttle.turned_away == 47 and throttle.open_unauthenticated("127.0.0.2") == 3
        throttle.done("127.0.0.2", turns[-1], logged_in=False)  # a close frees its place
        throttle.arrive("127.0.0.2", Turn())
        assert turns[-2].away is None
    assert len([event for event in events if "turning SSH" in event["log_format"]]) == 1
    clock.advance(20.0)
    with capturedLogs() as events:
        throttle.arrive("127.0.0.2", Turn())
    assert turns[-3].away is not None
    assert len([event for event in events if "turning SSH" in event["log_format"]]) == 1  # a new burst


def test_a_login_gives_its_place_and_its_token_back():
    throttle = SourceThrottle(ThrottleLimits(unauthenticated=2, burst=2, per_second=0.001), Clock())
    for _ in range(100):  # a script that logs in again and again, faster than the bucket refills
        turn = Turn()
        throttle.arrive("127.0.0.4", turn)
        assert turn.started
        throttle.done("127.0.0.4", turn, logged_in=True)
    assert throttle.open_unauthenticated("127.0.0.4") == 0


def test_the_throttle_remembers_a_bounded_number_of_sources_and_every_open_count():
    throttle = SourceThrottle(ThrottleLimits(remember=50), Clock())
    hosts = [f"127.0.{number // 256}.{number % 256}" for number in range(1000)]
    for number, host in enumerate(hosts):
        turn = Turn()
        throttle.arrive(host, turn)
        if number % 10:
            throttle.done(host, turn, logged_in=True)  # nine in ten log in; one in ten stays open before login
    assert len(throttle) <= 50 + 100
    assert sum(throttle.open_unauthenticated(host) for host in hosts) == 100
