"""Time per message: POP3 RETR and IMAP FETCH from the practice servers (``python -m servers pop3|imap``)
against Dovecot serving the same messages from a Maildir, started as the tests start it (``tests.mail_peers``).

One logged-in standard-library client per server (``poplib``, ``imaplib``) fetches every practice message in
turn, ROUNDS times; the servers take turns round by round, so neither always gets the quieter machine. The
figure is the median time of one RETR (or ``FETCH n BODY.PEEK[]``) over the small messages, in milliseconds,
and the same for the large one (256 kB). Targets: at most 5 ms per small message, and within 5x Dovecot.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from servers.mail.messages import practice_messages
from servers.mail.pop3 import fill_maildir
from tests.mail_peers import ACCOUNT, dovecot, imap_login, pop_login
from tests.standalone import standalone

ROUNDS = 50
TARGET_MS = 5.0
TARGET_RATIO = 5.0
MESSAGES = practice_messages()
LARGE = len(MESSAGES)  # the last practice message is the large one


def _fill(root: Path) -> None:
    fill_maildir(root / ACCOUNT.user, MESSAGES)


def _pop3_round(client) -> list[float]:
    times = []
    for number in range(1, len(MESSAGES) + 1):
        start = time.perf_counter()
        client.retr(number)
        times.append(time.perf_counter() - start)
    return times


def _imap_round(client) -> list[float]:
    times = []
    for number in range(1, len(MESSAGES) + 1):
        start = time.perf_counter()
        status, _ = client.fetch(str(number), "(BODY.PEEK[])")
        times.append(time.perf_counter() - start)
        assert status == "OK", f"FETCH {number} answered {status}"
    return times


def measure(ports: dict[str, dict[str, int]]) -> dict[tuple[str, str], tuple[float, float]]:
    """{(protocol, server): (median ms per small message, median ms for the large one)}."""
    clients = {}
    for server, port in ports.items():
        clients[("pop3", server)] = pop_login(port["pop3"])
        imap = imap_login(port["imap"])
        imap.select("INBOX", readonly=True)
        clients[("imap", server)] = imap
    samples: dict[tuple[str, str], list[list[float]]] = {key: [] for key in clients}
    try:
        for turn in range(ROUNDS):
            for key in list(clients)[:: 1 if turn % 2 else -1]:
                samples[key].append((_pop3_round if key[0] == "pop3" else _imap_round)(clients[key]))
    finally:
        for (protocol, _), client in clients.items():
            client.quit() if protocol == "pop3" else client.logout()
    return {key: (statistics.median(t * 1000 for times in rounds for t in times[:LARGE - 1]),
                  statistics.median(times[LARGE - 1] * 1000 for times in rounds))
            for key, rounds in samples.items()}


def report() -> bool:
    with standalone("pop3") as pop3, standalone("imap") as imap, \
            dovecot(ACCOUNT.user, ACCOUNT.password, _fill) as peer:
        figures = measure({"practice": {"pop3": pop3.port, "imap": imap.port}, "dovecot": peer})
    met = True
    print(f"mail latency, median of {ROUNDS} rounds over the practice messages (ms per message):")
    for protocol, command in (("pop3", "RETR"), ("imap", "FETCH")):
        ours, theirs = figures[(protocol, "practice")], figures[(protocol, "dovecot")]
        ratio = ours[0] / theirs[0]
        print(f"  {protocol} {command:5}  practice {ours[0]:7.2f} (large {ours[1]:7.2f})   "
              f"dovecot {theirs[0]:7.2f} (large {theirs[1]:7.2f})   practice / dovecot = {ratio:5.1f}"
              f"  (targets <= {TARGET_MS:g} ms, <= {TARGET_RATIO:g}x)")
        met = met and ours[0] <= TARGET_MS and ratio <= TARGET_RATIO
    return met
