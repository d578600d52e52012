"""Chapter 9's news server, written on LineReceiver, driven by the standard library's nntplib (an independent
newsreader), by raw sockets for bad input, and by our own Twisted client. Each bad input gets its NNTP code,
stores nothing, and the server keeps serving."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

import labkit
from servers.news import nntp
from servers.news.client import NNTPError, connect
from servers.news.practice import ANNOUNCE, MISSING, SANDBOX, TWISTED, practice_groups
from servers.news.probes import nntp as probe
from servers.news.probes import nntplib
from servers.news.server import NNTPServer
from servers.news.storage import MAX_PER_GROUP, BadArticle, MemoryStorage, parse_article
from servers.news.textformat import multiline, parse_range, split_lines, unstuff
from tests import news_peers
from tests.news_peers import INN_GROUP

HOST = "127.0.0.1"


@pytest.fixture
def storage():
    return MemoryStorage(practice_groups())


@pytest.fixture
def news(storage):
    return labkit.serve(nntp(storage), name="test-nntp", show=False)


def newsreader(port):
    return nntplib().NNTP(HOST, port, timeout=10, readermode=True)


def article(group=SANDBOX, subject="hello", body=b"first line\r\n.starts with a dot\r\n"):
    return (b"From: Learner <learner@practice.invalid>\r\nNewsgroups: " + group.encode()
            + b"\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body)


# --- nntplib, the independent newsreader ----------------------------------------------------------------------

def test_the_probe_passes(news):
    probe(HOST, news.port)


def test_the_feeds_probe_passes(feed_site):
    from servers.news.probes import feeds as feeds_probe

    feeds_probe(HOST, feed_site[1].port)


def test_nntplib_reads_groups_articles_and_overviews(news):
    with newsreader(news.port) as reader:
        assert "POST" in reader.getcapabilities()
        assert reader.description(ANNOUNCE) == "Announcements (read-only)"
        flags = {group.group: group.flag for group in reader.list()[1]}
        assert flags == {ANNOUNCE: "n", SANDBOX: "y", TWISTED: "y"}
        _, count, first, last, _ = reader.group(TWISTED)
        assert (count, first, last) == (15, 1, 16)
        _, info = reader.body(3)
        assert info.lines == [b"Tip 3: the reactor never blocks.", b". <- a line that starts with a dot",
                              b"-- the practice tutor"]
        _, info = reader.head("<twisted-4@practice.invalid>")
        assert b"Subject: Twisted tip 4" in info.lines and b"" not in info.lines
        assert reader.stat(MISSING - 1)[1] == MISSING - 1
        assert reader.next()[1] == MISSING + 1  # NEXT steps over the missing number
        assert reader.last()[1] == MISSING - 1
        with pytest.raises(nntplib().NNTPTemporaryError, match="^423"):
            reader.stat(MISSING)
        _, overviews = reader.xover(7, 11)
        assert [number for number, _ in overviews] == [7, 8, 10, 11]
        assert overviews[0][1]["subject"] == "Twisted tip 7"
        assert overviews[0][1][":lines"] == "3"
        assert reader.date()[1].year >= 2025


def test_nntplib_posts_and_finds_the_article_by_message_id(news):
    with newsreader(news.port) as reader:
        reader.post(article(subject="from nntplib"))
        _, count, first, last, _ = reader.group(SANDBOX)
        assert (count, first, last) == (1, 1, 1)
        _, overview = reader.over((1, 1))
        message_id = overview[0][1]["message-id"]
        _, info = reader.article(message_id)
        assert b"Subject: from nntplib" in info.lines
        assert info.lines[-1] == b".starts with a dot"


def test_a_read_only_group_refuses_a_post(news):
    with newsreader(news.port) as reader:
        with pytest.raises(nntplib().NNTPTemporaryError, match="^441.*not allowed"):
            reader.post(article(group=ANNOUNCE))
        assert reader.group(ANNOUNCE)[1] == 3


# --- bad input, with a raw socket -------------------------------------------------------------------------------

def session(port, data: bytes) -> list[bytes]:
    """Send ``data`` then QUIT, read to the close; the lines the server sent."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(data + b"QUIT\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received.split(b"\r\n")


def codes(lines: list[bytes]) -> list[bytes]:
    return [line[:3] for line in lines if line[:3].isdigit() and line[3:4] == b" "]


def test_errors_have_their_codes_and_the_session_goes_on(news):
    lines = session(news.port, b"FROB\r\nARTICLE 1\r\nNEXT\r\nGROUP no.such.group\r\nGROUP practice.twisted\r\n"
                               b"ARTICLE 99\r\nARTICLE <nobody@nowhere>\r\nARTICLE x\r\nLIST FOO\r\nGROUP\r\n"
                               b"OVER 40-50\r\nLISTGROUP practice.announce\r\n")
    assert codes(lines) == [b"200", b"500", b"412", b"412", b"411", b"211", b"423", b"430", b"501", b"501",
                            b"501", b"423", b"211", b"205"]
    assert lines[lines.index(b"211 3 1 3 practice.announce list follows") + 1:][:4] == [b"1", b"2", b"3", b"."]


@pytest.mark.parametrize("body, why", [
    (b"just a body, no headers\r\n", b"no blank line"),
    (b"Subject: no sender\r\nNewsgroups: practice.sandbox\r\n\r\nbody\r\n", b"no From header"),
    (b"From: a@b\r\nNewsgroups: no.such.group\r\nSubject: x\r\n\r\nbody\r\n", b"no such newsgroup"),
    (b"From: a@b\r\nNewsgroups: practice.sandbox\r\nSubject: x\r\n\r\n" + (b"y" * 3000 + b"\r\n") * 30, b"over"),
])
def test_a_bad_post_is_refused_with_441_and_nothing_is_stored(news, storage, body, why):
    lines = session(news.port, b"POST\r\n" + body + b".\r\n")
    assert codes(lines) == [b"200", b"340", b"441", b"205"]
    assert why in next(line for line in lines if line.startswith(b"441"))
    assert labkit.react(lambda reactor: storage.numbers(SANDBOX)) == []


def test_a_one_megabyte_line_in_a_post_gets_441_and_a_close(news, storage):
    with socket.create_connection((HOST, news.port), timeout=10) as sock:
        sock.sendall(b"POST\r\n")
        sock.sendall(b"From: a@b\r\nNewsgroups: practice.sandbox\r\nSubject: x\r\n\r\n" + b"z" * 1_000_000 + b"\r\n")
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    assert codes(received.split(b"\r\n")) == [b"200", b"340", b"441"]
    assert labkit.react(lambda reactor: storage.numbers(SANDBOX)) == []
    probe(HOST, news.port)


def test_a_client_that_leaves_mid_article_stores_nothing(news, storage):
    with socket.create_connection((HOST, news.port), timeout=10) as sock:
        sock.sendall(b"POST\r\nFrom: a@b\r\nNewsgroups: practice.sandbox\r\nSubject: cut\r\n\r\nhalf of it\r\n")
        assert sock.recv(100).startswith(b"200")
    assert labkit.react(lambda reactor: storage.numbers(SANDBOX)) == []
    probe(HOST, news.port)


# --- our Twisted client against our server ----------------------------------------------------------------------

async def client_session(reactor, port):
    from twisted.internet.defer import Deferred

    client = await Deferred.fromCoroutine(_connected(reactor, port))
    groups = await client.fetchGroups()
    group = await client.fetchGroup(TWISTED)
    overview = await client.fetchOverview("14-")
    text = await client.fetchArticle(2)
    body = await client.fetchBody("<twisted-2@practice.invalid>")
    posted = await client.postArticle(article(subject="from our client"))
    errors = []
    for request in (lambda: client.fetchGroup("no.such"), lambda: client.fetchArticle(MISSING),
                    lambda: client.postArticle(article(group=ANNOUNCE))):
        try:
            await request()
        except NNTPError as error:
            errors.append(error.code)
    await client.quit()
    return groups, group, overview, text, body, posted, errors


async def _connected(reactor, port):
    return await connect(reactor, HOST, port)


def test_our_client_reads_and_posts_with_the_books_method_names(news, storage):
    groups, group, overview, text, body, posted, errors = labkit.react(client_session, news.port)
    assert (ANNOUNCE, 3, 1, "n") in groups
    assert group == (15, 1, 16, TWISTED)
    assert [(row["number"], row["Subject"]) for row in overview] == [(14, "Twisted tip 14"), (15, "Twisted tip 15"),
                                                                     (16, "Twisted tip 16")]
    assert text.startswith(b"Path: ") and text.endswith(b"\r\n" + body)
    assert body.splitlines()[1] == b". <- a line that starts with a dot"
    assert posted.startswith("article received <")
    assert errors == [411, 423, 441]
    assert labkit.react(lambda reactor: storage.numbers(SANDBOX)) == [1]


# --- the parts alone ------------------------------------------------------------------------------------------

def test_dot_stuffing_round_trips():
    lines = [b"..", b".", b"a", b". b", b""]
    sent = split_lines(multiline(lines))
    assert sent[-1] == b"." and sent[:-1] == [b"...", b"..", b"a", b".. b", b""]
    assert [unstuff(line) for line in sent[:-1]] == lines


def test_ranges():
    assert parse_range("5", 20) == (5, 5) and parse_range("5-", 20) == (5, 20) and parse_range("3-4", 9) == (3, 4)
    with pytest.raises(ValueError):
        parse_range("-4", 9)


def test_a_posted_article_is_completed_and_a_header_block_is_required():
    parsed = parse_article(article(), now=0)
    assert parsed.message_id.endswith("@practice.invalid>") and parsed.header("Date") == "Thu, 01 Jan 1970 00:00:00 GMT"
    with pytest.raises(BadArticle, match="not a header line"):
        parse_article(b"From a@b\r\n\r\nbody")


def test_a_group_keeps_a_bounded_number_of_articles(storage):
    for number in range(MAX_PER_GROUP + 5):
        storage.post(parse_article(article(subject=str(number))))
    numbers = labkit.react(lambda reactor: storage.numbers(SANDBOX))
    assert numbers == list(range(6, MAX_PER_GROUP + 6))


def test_commands_typed_ahead_are_answered_in_order():
    from twisted.internet.testing import StringTransport

    from servers.news.server import NNTPFactory

    server = NNTPFactory(MemoryStorage(practice_groups())).buildProtocol(None)
    transport = StringTransport()
    server.makeConnection(transport)
    server.dataReceived(b"GROUP practice.announce\r\nSTAT\r\nNEXT\r\nNEXT\r\nNEXT\r\n")
    assert codes(transport.value().split(b"\r\n")) == [b"200", b"211", b"223", b"223", b"223", b"421"]
    assert isinstance(server, NNTPServer)


# --- persistence ------------------------------------------------------------------------------------------------

def test_the_sqlite_storage_keeps_posts_across_a_restart_and_nntplib_reads_them(tmp_path):
    from servers.news.sqlstore import SQLiteStorage

    path = tmp_path / "news.db"

    def started():
        storage = labkit.react(lambda reactor: SQLiteStorage(path, practice_groups()))
        labkit.react(lambda reactor: storage.ready)
        return storage, labkit.serve(nntp(storage), name="test-nntp-sqlite", show=False)

    storage, server = started()
    probe(HOST, server.port)
    with newsreader(server.port) as reader:
        reader.post(article(subject="kept"))
        with pytest.raises(nntplib().NNTPTemporaryError, match="^441.*not allowed"):
            reader.post(article(group=ANNOUNCE))
        with pytest.raises(nntplib().NNTPTemporaryError, match="^441"):
            reader.post(b"Subject: no sender\r\nNewsgroups: practice.sandbox\r\n\r\nbody\r\n")
    server.stop()
    assert storage.pool is None  # stopping the server closed the pool

    storage, server = started()
    with newsreader(server.port) as reader:
        _, count, first, last, _ = reader.group(SANDBOX)
        assert (count, first, last) == (2, 1, 2)  # the probe's post and ours, nothing of the refused ones
        _, overview = reader.over((2, 2))
        assert overview[0][1]["subject"] == "kept"
        assert reader.group(TWISTED)[1:4] == (15, 1, 16)
        with pytest.raises(nntplib().NNTPTemporaryError, match="^423"):
            reader.stat(MISSING)
    server.stop()


# --- our client against INN, an independent news server -----------------------------------------------------

@pytest.fixture
def inn():
    with news_peers.inn() as port:
        yield port


async def inn_session(reactor, port):
    from twisted.internet.defer import Deferred

    client = await Deferred.fromCoroutine(_connected(reactor, port))
    groups = await client.fetchGroups()
    posted = await client.postArticle(article(group=INN_GROUP, subject="from our Twisted client"))
    group = await client.fetchGroup(INN_GROUP)
    overview = await client.fetchOverview("1-")
    head = await client.fetchHead(overview[0]["Message-ID"])
    body = await client.fetchBody(1)
    refused = None
    try:
        await client.fetchGroup("no.such.group")
    except NNTPError as error:
        refused = error.code
    await client.quit()
    return groups, posted, group, overview, head, body, refused


def test_our_client_reads_and_posts_on_inn(inn):
    groups, posted, group, overview, head, body, refused = labkit.react(inn_session, inn)
    assert (INN_GROUP, 0, 1, "y") in groups
    assert posted.endswith(overview[0]["Message-ID"])
    assert group == (1, 1, 1, INN_GROUP)
    assert overview[0]["number"] == 1 and overview[0]["Subject"] == "from our Twisted client"
    assert b"Subject: from our Twisted client\r\n" in head
    assert body == b"first line\r\n.starts with a dot\r\n"
    assert refused == 411


# --- the feeds practice server and the RSS gateway ------------------------------------------------------------

@pytest.fixture
def feed_site():
    from servers.news import feeds

    site = feeds()
    return site, labkit.serve(site, name="test-feeds", show=False)


def test_the_feeds_server_serves_rss_and_atom_that_feedparser_reads_and_counts_hits(feed_site):
    feedparser = pytest.importorskip("feedparser", reason="the RSS gateway needs feedparser: pip install feedparser")
    from labkit.checks import fetch

    site, server = feed_site
    guid = site.add_item("twisted", "Fresh <news>", "Added & edited.")
    site.edit_item("twisted", guid, title="Edited <news>")
    rss = feedparser.parse(fetch(server.port, "GET", "/rss/twisted").body)
    atom = feedparser.parse(fetch(server.port, "GET", "/atom/twisted").body)
    for parsed in (rss, atom):
        assert not parsed.bozo
        assert [entry.title for entry in parsed.entries][-2:] == ["Testing with MemoryReactor", "Edited <news>"]
        assert parsed.entries[-1].id == guid
    assert fetch(server.port, "GET", "/rss/nothing").status == 404
    assert fetch(server.port, "GET", "/hits").body == b"/atom/twisted 1\n/rss/nothing 1\n/rss/twisted 1\n"
    with pytest.raises(KeyError, match="no item"):
        site.edit_item("twisted", "no-such-guid", title="x")


def gateway(server, refresh_every=60.0, timeout=5.0):
    pytest.importorskip("feedparser", reason="the RSS gateway needs feedparser: pip install feedparser")
    from servers.news.gateway import FeedStorage

    base = f"http://{HOST}:{server.port}"
    return FeedStorage({"rss.twisted": f"{base}/rss/twisted", "rss.python": f"{base}/atom/python",
                        "rss.broken": f"{base}/broken.xml", "rss.silent": f"{base}/silent.xml"},
                       refresh_every=refresh_every, timeout=timeout)


def test_feeds_read_through_the_gateway_with_nntplib_on_a_schedule(feed_site):
    site, feeds_server = feed_site
    storage = gateway(feeds_server, timeout=2.0)  # a loaded machine may stall the fetches half a second
    news_server = labkit.serve(nntp(storage), name="test-rss-gateway", show=False)
    with newsreader(news_server.port) as reader:
        described = reader.descriptions("rss.*")[1]
        assert described["rss.twisted"] == "Practice feed: twisted"
        assert described["rss.broken"].startswith("unavailable: ") and "well-formed" in described["rss.broken"]
        assert described["rss.silent"] == "unavailable: no answer within 2 s"
        assert reader.group("rss.twisted")[1:4] == (3, 1, 3)
        _, overview = reader.over((1, 3))
        assert [fields["subject"] for _, fields in overview] == ["Deferreds explained", "Writing a LineReceiver",
                                                                "Testing with MemoryReactor"]
        _, info = reader.body(2)
        assert info.lines[0] == b"A short article: writing a linereceiver."
        with pytest.raises(nntplib().NNTPTemporaryError, match="^441"):
            reader.post(article(group="rss.twisted"))
        with pytest.raises(nntplib().NNTPTemporaryError, match="^403 the feed of rss.broken could not be read"):
            reader.group("rss.broken")
        assert reader.group("rss.python")[1] == 2
    hits = site.hits
    assert hits["/rss/twisted"] == 1 and hits["/atom/python"] == 1  # many requests, one fetch each


def test_the_gateway_refreshes_when_its_copy_is_old_and_keeps_numbers(feed_site):
    site, feeds_server = feed_site
    storage = gateway(feeds_server, refresh_every=0.0)
    assert labkit.react(lambda reactor: storage.numbers("rss.twisted")) == [1, 2, 3]
    first_guid = "tag:feeds.practice.invalid,2025:twisted/1"
    site.edit_item("twisted", first_guid, title="Deferreds, edited")
    site.add_item("twisted", "A new tip", "Something new.")
    assert labkit.react(lambda reactor: storage.numbers("rss.twisted")) == [1, 2, 3, 4]
    first = labkit.react(lambda reactor: storage.article("rss.twisted", 1))
    assert first.header("Subject") == "Deferreds, edited"
    assert site.hits["/rss/twisted"] == 3


# --- conformance: what CAPABILITIES and HELP advertise, each exercised, with RFC 3977/2980's codes -------------

def test_capabilities_name_what_is_implemented_and_nothing_more(news):
    lines = session(news.port, b"CAPABILITIES\r\n")
    advertised = lines[lines.index(b"101 capability list follows") + 1:lines.index(b".")]
    assert advertised == [b"VERSION 2", b"READER", b"NEWNEWS", b"POST", b"LIST ACTIVE NEWSGROUPS OVERVIEW.FMT",
                          b"OVER MSGID", b"IMPLEMENTATION practice NNTP server on Twisted"]
    assert not any(line.startswith((b"HDR", b"IHAVE", b"MODE-READER", b"STARTTLS", b"AUTHINFO")) for line in advertised)


# Each advertised command (CAPABILITIES' READER, NEWNEWS, POST, LIST keywords, OVER MSGID; RFC 2980's XHDR and
# XOVER), with the session that reaches it and the code RFC 3977 (or 2980) gives its answer.
CONFORMANCE = [
    ("DATE", b"DATE\r\n", [b"111"]),
    ("HELP", b"HELP\r\n", [b"100"]),
    ("MODE READER", b"MODE READER\r\n", [b"200"]),
    ("LIST", b"LIST\r\n", [b"215"]),
    ("LIST ACTIVE wildmat", b"LIST ACTIVE practice.*,!practice.sandbox\r\n", [b"215"]),
    ("LIST NEWSGROUPS", b"LIST NEWSGROUPS\r\n", [b"215"]),
    ("LIST OVERVIEW.FMT", b"LIST OVERVIEW.FMT\r\n", [b"215"]),
    ("GROUP", b"GROUP practice.twisted\r\n", [b"211"]),
    ("LISTGROUP", b"LISTGROUP practice.announce 2-\r\n", [b"211"]),
    ("ARTICLE/HEAD/BODY/STAT", b"GROUP practice.twisted\r\nARTICLE 1\r\nHEAD 2\r\nBODY 3\r\nSTAT 4\r\n",
     [b"211", b"220", b"221", b"222", b"223"]),
    ("by Message-ID", b"STAT <twisted-5@practice.invalid>\r\n", [b"223"]),
    ("NEXT/LAST", b"GROUP practice.twisted\r\nNEXT\r\nLAST\r\n", [b"211", b"223", b"223"]),
    ("OVER/XOVER", b"GROUP practice.twisted\r\nOVER 1-3\r\nXOVER 4\r\nOVER\r\n", [b"211", b"224", b"224", b"224"]),
    ("OVER MSGID", b"OVER <twisted-5@practice.invalid>\r\n", [b"224"]),
    ("NEWGROUPS", b"NEWGROUPS 20250101 000000 GMT\r\n", [b"231"]),
    ("NEWNEWS", b"NEWNEWS * 20250101 000000 GMT\r\n", [b"230"]),
    ("XHDR", b"GROUP practice.twisted\r\nXHDR Subject 1-3\r\nXHDR Subject\r\nXHDR Subject <twisted-5@practice.invalid>"
             b"\r\n", [b"211", b"221", b"221", b"221"]),
    ("POST", b"POST\r\n" + article() + b".\r\n", [b"340", b"240"]),
    ("no group selected", b"XHDR Subject 1-3\r\nOVER 1-3\r\nNEXT\r\n", [b"412", b"412", b"412"]),
    ("an empty range", b"GROUP practice.twisted\r\nXHDR Subject 40-50\r\nOVER 40-50\r\n", [b"211", b"423", b"423"]),
    ("no such Message-ID", b"XHDR Subject <no@where>\r\nOVER <no@where>\r\n", [b"430", b"430"]),
    ("not a date", b"NEWGROUPS 2025 000000\r\nNEWNEWS * 20251301 000000\r\nNEWGROUPS 20250101 000000 CET\r\n",
     [b"501", b"501", b"501"]),
    ("missing arguments", b"XHDR\r\nNEWNEWS\r\nNEWGROUPS 20250101\r\nGROUP\r\n", [b"501", b"501", b"501", b"501"]),
    ("unknown commands", b"HDR Subject\r\nIHAVE <x@y>\r\nXPAT Subject 1- *\r\n", [b"500", b"500", b"500"]),
    ("a non-UTF-8 command", b"\xff\xfe\x00garbage\r\n", [b"500"]),
]


@pytest.mark.parametrize("what, sent, wanted", CONFORMANCE, ids=[row[0] for row in CONFORMANCE])
def test_every_advertised_command_answers_with_its_rfc_code(news, what, sent, wanted):
    assert codes(session(news.port, sent)) == [b"200", *wanted, b"205"]


def test_newgroups_and_newnews_list_what_came_after_the_moment(news):
    lines = session(news.port, b"NEWGROUPS 20250101 000000 GMT\r\nNEWGROUPS 250602 000000\r\n"
                               b"NEWNEWS practice.*,!practice.announce 20250613 000000 GMT\r\n")
    first = lines.index(b"231 list of new newsgroups follows")
    assert lines[first + 1:first + 5] == [b"practice.announce 3 1 n", b"practice.sandbox 0 1 y",
                                          b"practice.twisted 16 1 y", b"."]
    assert lines[first + 5:first + 7] == [b"231 list of new newsgroups follows", b"."]  # yymmdd: this century
    new = lines.index(b"230 list of new articles by message-id follows")
    assert lines[new + 1:new + 5] == [b"<twisted-13@practice.invalid>", b"<twisted-14@practice.invalid>",
                                      b"<twisted-15@practice.invalid>", b"<twisted-16@practice.invalid>"]
    assert lines[new + 5] == b"."


def test_xhdr_answers_values_sizes_and_none_as_rfc_2980_says(news):
    lines = session(news.port, b"GROUP practice.twisted\r\nXHDR Subject 8-10\r\nXHDR :lines 3\r\nXHDR Bytes 3\r\n"
                               b"XHDR References <twisted-4@practice.invalid>\r\n")
    assert lines[lines.index(b"221 Subject fields follow") + 1:][:3] == [b"8 Twisted tip 8", b"10 Twisted tip 10",
                                                                       b"."]
    assert lines[lines.index(b"221 :lines fields follow") + 1] == b"3 3"
    size = len(practice_groups()[2].articles[3].as_bytes())
    assert lines[lines.index(b"221 Bytes fields follow") + 1] == f"3 {size}".encode()
    assert lines[lines.index(b"221 References fields follow") + 1] == b"<twisted-4@practice.invalid> (none)"


def test_nntplib_uses_xhdr_newnews_newgroups_and_the_overview_format(news):
    from datetime import datetime, timezone

    with newsreader(news.port) as reader:
        assert [group.group for group in reader.newgroups(datetime(2025, 1, 1))[1]] == [ANNOUNCE, SANDBOX, TWISTED]
        assert reader.newgroups(datetime(2025, 7, 1))[1] == []
        since = datetime(2025, 6, 14, tzinfo=timezone.utc)
        assert reader.newnews(TWISTED, since)[1] == ["<twisted-14@practice.invalid>", "<twisted-15@practice.invalid>",
                                                    "<twisted-16@practice.invalid>"]
        reader.group(TWISTED)
        assert reader.xhdr("subject", "14-")[1] == [("14", "Twisted tip 14"), ("15", "Twisted tip 15"),
                                                  ("16", "Twisted tip 16")]
        assert reader._getoverviewfmt() == ["subject", "from", "date", "message-id", "references", ":bytes",
                                            ":lines"]


def test_our_client_asks_for_new_groups_and_new_articles(news):
    from datetime import datetime, timezone

    async def main(reactor):
        client = await connect(reactor, HOST, news.port)
        groups = await client.fetchNewGroups(datetime(2025, 1, 1))
        none = await client.fetchNewGroups(datetime(2025, 7, 1, tzinfo=timezone.utc))
        await client.postArticle(article(subject="fresh"))
        fresh = await client.fetchNewNews("practice.*", datetime(2025, 6, 16, tzinfo=timezone.utc))
        await client.quit()
        return groups, none, fresh

    groups, none, fresh = labkit.react(main)
    assert groups == [(ANNOUNCE, 3, 1, "n"), (SANDBOX, 0, 1, "y"), (TWISTED, 16, 1, "y")] and none == []
    assert "<twisted-16@practice.invalid>" in fresh and len(fresh) == 2  # tip 16 and the post just made


def test_a_flood_of_malformed_commands_is_answered_and_logs_nothing(news):
    from twisted.logger import globalLogPublisher

    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        junk = b"".join(bytes([65 + n % 26]) * (n % 50) + b" \x00\xff " + str(n).encode() + b"\r\n"
                        for n in range(300))
        lines = session(news.port, junk + b"NEWNEWS\r\nXHDR a b c\r\nNEWGROUPS x y z w\r\n")
    finally:
        globalLogPublisher.removeObserver(events.append)
    answered = codes(lines)
    assert answered[0] == b"200" and answered[-1] == b"205" and len(answered) == 305
    assert set(answered[1:-1]) <= {b"500", b"501"}
    assert not [event for event in events if event.get("log_level") and event["log_level"].name in ("warn", "error",
                                                                                                  "critical")]
    probe(HOST, news.port)


# --- slrnpull, Debian's slrn fetcher, pulls the groups into a spool -------------------------------------------

def test_slrnpull_fetches_every_article_into_its_spool(news, tmp_path):
    from tests.peers import need

    slrnpull = need("slrnpull", "slrnpull")
    (tmp_path / "slrnpull.conf").write_text(f"default 100 14 0\n{TWISTED}\n{ANNOUNCE}\n")
    done = subprocess.run([slrnpull, "-d", str(tmp_path), "-h", f"{HOST}:{news.port}", "--no-post",
                           "--debug", str(tmp_path / "talk.log")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    spool = tmp_path / "news" / "practice" / "twisted"
    numbers = sorted(int(path.name) for path in spool.iterdir() if path.name.isdigit())
    assert numbers == [n for n in range(1, 17) if n != MISSING]
    assert b"Subject: Twisted tip 3" in (spool / "3").read_bytes()
    assert b". <- a line that starts with a dot" in (spool / "3").read_bytes()  # dot-stuffing undone
    talk = (tmp_path / "talk.log").read_text(errors="replace")
    assert ">XHDR Message-ID 1-" in talk and "<500" not in talk  # XHDR found, one request for all the IDs
    assert len(list((tmp_path / "news" / "practice" / "announce").glob("[0-9]*"))) == 3
