"""The practice web sites with independent HTTP clients the other tests do not use: httpie, ``wget`` (its
``--timestamping`` against ``/news`` and every fixed page of ``web`` and ``lucky``, a 2 MB PUT over HTTP and
HTTPS that must show the 413) and REDbot, the HTTP linter, on every page of ``web``, ``lucky`` and ``wiki``
(nothing BAD; the warnings the sites earn on purpose are listed with their reasons). Each client is found or the
test is skipped naming how to install it (under CI=true, where .ci/run installs them, it fails)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import labkit
import servers
from servers import web
from servers.web.conditional import FIXTURES_MODIFIED
from tests.peers import need
from tests.standalone import standalone

MB = 1_000_000


def run(command: list[str], cwd=None, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, stdin=stdin,
                          env={**os.environ, "HOME": "/nonexistent"})


def test_httpie_on_the_practice_site_and_lucky(tmp_path):
    program = need("http", "httpie (pip install httpie)")
    site = web.site()
    base = labkit.serve(site, name="clients-httpie", show=False).url.rstrip("/")
    lucky = labkit.serve("lucky", name="clients-httpie-lucky", show=False).url.rstrip("/")

    def http(*args: str, body=None) -> tuple[int, str]:
        done = run([program, *([] if body else ["--ignore-stdin"]), "--check-status", "--print=hb", "--pretty=none",
                    *args], stdin=body or subprocess.DEVNULL)
        return done.returncode, done.stdout

    status, shown = http("GET", f"{base}/hello")
    assert status == 0 and shown.endswith(web.HELLO_HTML.decode()), shown
    assert "HTTP/1.1 200 OK" in shown and "Content-Type: text/html; charset=utf-8" in shown
    status, shown = http("-a", f"{web.USERNAME}:{web.PASSWORD}", "GET", f"{base}/private")
    assert status == 0 and "Your credentials worked" in shown
    status, shown = http("GET", f"{base}/private")
    assert status == 4 and 'WWW-Authenticate: Basic realm="practice"' in shown  # httpie: 4 for a 4xx
    status, shown = http("GET", f"{base}/news", f"If-None-Match:{site.news.etag}")
    assert status == 3 and "HTTP/1.1 304 Not Modified" in shown  # 3 for a 3xx it did not follow
    status, shown = http("--follow", "GET", f"{base}/redirect")
    assert status == 0 and "<title>Hello</title>" in shown
    status, shown = http("--multipart", "POST", f"{base}/check", "note=hi")
    assert status == 0 and "<title>Upload report</title>" in shown
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (2 * MB))
    with big.open("rb") as body:
        status, shown = http("PUT", f"{base}/check", body=body)
    assert status == 4 and "HTTP/1.1 413 Content Too Large" in shown, shown[:300]
    status, shown = http("--follow", "GET", f"{lucky}/lucky", "q==twisted reactor")
    assert status == 0 and "An event-driven networking engine" in shown
    status, shown = http("GET", f"{lucky}/lucky")
    assert status == 4 and "HTTP/1.1 400" in shown


def test_wget_timestamping_fetches_news_again_only_when_it_changed(tmp_path):
    program = need("wget", "wget")
    site = web.site()
    base = labkit.serve(site, name="clients-wget", show=False).url.rstrip("/")

    def wget(*args: str) -> str:
        done = run([program, "--tries=1", "--timeout=15", "--timestamping", *args], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "saved" in wget(f"{base}/news")
    saved = tmp_path / "news"
    assert int(saved.stat().st_mtime) == site.news.timestamp  # the file's time is the page's Last-Modified
    assert "Omitting download" in wget(f"{base}/news")  # a conditional GET answered 304
    assert "not retrieving" in wget("--no-if-modified-since", f"{base}/news")  # HEAD, then the dates compared
    asked = [(record.method, record.code) for record in site.requests_to("/news")]
    assert asked == [("GET", 200), ("GET", 304), ("HEAD", 200)]
    assert site.requests_to("/news")[1].headers["if-modified-since"] == site.news.last_modified
    site.bump_news("Something new.")
    assert "saved" in wget(f"{base}/news") and b"Something new." in saved.read_bytes()
    assert "time-stamps turned off" in wget(f"{base}/plain")  # no Last-Modified: fetched every time


def test_wget_timestamping_fetches_each_fixed_page_once(tmp_path):
    """Every page with a fixed moment carries Last-Modified: a second ``wget -N`` sends If-Modified-Since for each,
    gets 304 and downloads nothing."""
    program = need("wget", "wget")
    site = web.site(slow_duration=0.1)
    base = labkit.serve(site, name="clients-wget-fixed", show=False).url.rstrip("/")
    search = servers.build("lucky")
    lucky = labkit.serve(search, name="clients-wget-fixed-lucky", show=False).url.rstrip("/")
    pages = {"web": [f"{base}{path}" for path in ("/", "/hello", "/big", "/check", "/private", "/slow/sized",
                                                      "/slow/chunked")],
             "lucky": [f"{lucky}{path}" for path in ("/", "/pages/twisted", "/pages/smtp")]}
    login = ["--auth-no-challenge", f"--user={web.USERNAME}", f"--password={web.PASSWORD}"]

    def wget(folder, urls) -> str:
        done = run([program, "--tries=1", "--timeout=15", "--timestamping", *login, *urls], cwd=folder)
        assert done.returncode == 0, done.stderr[-1000:]
        return done.stderr

    for name, urls in pages.items():
        folder = tmp_path / name
        folder.mkdir()
        wget(folder, urls)
        saved = {path.name: path.read_bytes() for path in folder.iterdir()}
        assert len(saved) == len(urls) and all(saved.values()), sorted(saved)
        assert {int(path.stat().st_mtime) for path in folder.iterdir()} == {int(FIXTURES_MODIFIED.timestamp())}
        again = wget(folder, urls)
        assert again.count("Omitting download") == len(urls), again[-1500:]
        assert {path.name: path.read_bytes() for path in folder.iterdir()} == saved
    asked = [(record.path, record.code, record.if_modified_since is not None) for record in site.requests]
    assert [entry for entry in asked if entry[2]] == [(entry[0], 304, True) for entry in asked if not entry[2]]
    assert len(asked) == 2 * len(pages["web"])


@pytest.mark.parametrize("name, path", [("web", "/check"), ("wiki", "/Big")])
def test_wget_puts_2_mb_and_shows_the_413(tmp_path, name, path):
    program = need("wget", "wget")
    server = labkit.serve(name, name=f"clients-wget-{name}", show=False)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (2 * MB))
    for _ in range(3):  # it used to give up ("Connection reset by peer") most of the time, not every time
        done = run([program, "--tries=1", "--timeout=15", "-O", "-", "--content-on-error", "--method=PUT",
                    f"--body-file={big}", f"{server.url.rstrip('/')}{path}"])
        assert done.returncode == 8 and "ERROR 413: Content Too Large" in done.stderr, done.stderr[-500:]
        assert "Send a smaller body" in done.stdout


# REDbot's warnings that the practice sites earn on purpose, with the reason.
ACCEPTED_WARNINGS = {
    "FRESHNESS_HEURISTIC": "the pages send no Cache-Control, as the book's servers did: a cache may pick its own "
                           "freshness time; nothing the exercises fetch goes through a cache",
    "STATUS_BAD_REQUEST": "lucky answers /lucky without a query with 400 on purpose",
}
REDBOT_PAGES = {"web": ["/", "/hello", "/nowhere", "/error", "/big", "/private", "/news", "/plain", "/check",
                        "/slow/sized", "/slow/chunked", "/redirect"],
                "lucky": ["/", "/pages/twisted", "/lucky?q=twisted", "/lucky", "/nowhere"],
                "wiki": ["/WikiHome", "/api/pages/WikiHome", "/NoSuchPage", "/index"]}


@pytest.mark.parametrize("name", sorted(REDBOT_PAGES))
def test_redbot_finds_nothing_bad(name):
    program = need("redbot", "redbot (pip install redbot)")
    options = {"slow_duration": 0.2} if name == "web" else {}
    server = labkit.serve(servers.build(name, **options), name=f"clients-redbot-{name}", show=False)
    checks = {path: subprocess.Popen([program, "-o", "har", f"{server.url.rstrip('/')}{path}"], text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
              for path in REDBOT_PAGES[name]}  # side by side: each is mostly REDbot starting up
    found, seen = {}, set()
    for path, check in checks.items():
        output, errors = check.communicate(timeout=120)
        assert check.returncode == 0, errors[-500:]
        entries = json.loads(output)["log"]["entries"]
        assert entries and entries[0]["response"]["status"] > 0, path
        for note in (note for entry in entries for note in entry["_red_messages"]):
            seen.add(note["note_id"])
            if note["level"] in ("BAD", "WARN") and note["note_id"] not in ACCEPTED_WARNINGS:
                found.setdefault(path, []).append(f"{note['level']} {note['note_id']}: {note['summary']}")
    assert found == {}, found
    assert {"DATE_CORRECT", "CL_CORRECT"} <= seen  # REDbot read the answers (and found the clock and lengths right)
    if name in ("web", "wiki"):
        assert "INM_304" in seen  # and tried If-None-Match, which the site supports


def test_wget_over_tls_shows_the_413_too(tmp_path):
    """Under TLS the refusal cannot half-close the socket beneath TLS: the client closes, having read it."""
    program = need("wget", "wget")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (2 * MB))
    with standalone("web", "--tls") as server:
        done = run([program, "--tries=1", "--timeout=15", "-O", "-", "--content-on-error", "--method=PUT",
                    f"--ca-certificate={server.ca}", f"--body-file={big}", f"https://localhost:{server.port}/check"])
        assert done.returncode == 8 and "ERROR 413: Content Too Large" in done.stderr, done.stderr[-500:]
