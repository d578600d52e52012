"""Chapter 4's resource tree (Example 4-4 with its stylesheet, as the notebook's program cell has it) in a real
browser: served by ``labkit.serve``, opened through the link ``labkit.open_link`` shows, in headless Chromium,
through a real Jupyter server's jupyter-server-proxy (as on Binder or a JupyterHub) and directly (as on a laptop).

What the browser rendered is read from a probe page served beside the chapter's pages: it loads them in frames
and writes down, for each, where the frame ended up (after redirects), its title, and the computed colours that
only ``styles.css`` sets. A page in the book's style, linking ``/styles.css`` from the root, is the control: its
stylesheet does not load through the proxy.
"""

from __future__ import annotations

import html
import importlib.util
import re
import types
from pathlib import Path
from urllib.parse import urljoin

import pytest
from twisted.web import static

import labkit
from labkit.browser import browser_url, link_bundle
from labkit.testing import write_programs
from tests.chromium import dump_dom
# The Jupyter server, Chromium and environment fixtures of the browser tests, shared rather than copied.
from tests.jupyter_peers import BASE, _with_token, chromium, jupyter, plain_environment  # noqa: F401

STYLES = """\
body { font-family: Georgia, Times, serif; font-size: 11pt; }
h1 { margin: 10px 0; padding: 5px; background-color: black; color: white; }
a { font-family: monospace; }
p { padding: 10px; }
"""
BLACK, WHITE, UNSTYLED = "rgb(0, 0, 0)", "rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"

# Each frame reports: id | path it ended at | title | h1 background | h1 colour | body background.
PROBE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title>
<script>
function report(frame) {
  var doc = frame.contentDocument, h1 = doc.querySelector("h1");
  var style = h1 ? getComputedStyle(h1) : null;
  document.getElementById("seen").textContent += ["frame", frame.id, doc.location.pathname, doc.title,
      style ? style.backgroundColor : "-", style ? style.color : "-",
      getComputedStyle(doc.body).backgroundColor].join(" | ") + "\\n";
}
</script></head>
<body><pre id="seen"></pre>
<iframe id="home" src="./" onload="report(this)"></iframe>
<iframe id="color" src="color/00abef" onload="report(this)"></iframe>
<iframe id="redirected" src="color" onload="report(this)"></iframe>
<iframe id="colour" src="colour" onload="report(this)"></iframe>
<iframe id="book" src="book-style" onload="report(this)"></iframe>
</body></html>
"""
BOOK_STYLE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Book style</title>
<link type="text/css" href="/styles.css" rel="stylesheet"></head>
<body><h1>Linked from the root, as in the book</h1></body></html>
"""


def load_program(folder: Path) -> types.ModuleType:
    """Example 4-4 as the notebook has it: its %%program cell, written out and imported as a module."""
    path = write_programs(4, folder)["resourcetree.py"]
    spec = importlib.util.spec_from_file_location("ch04_resourcetree", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def colors(tmp_path):
    """The chapter's resource tree with its stylesheet, plus the probe page and the book-style control."""
    styles = tmp_path / "styles.css"
    styles.write_text(STYLES)
    root = load_program(tmp_path).build_site(str(styles))
    root.putChild(b"probe.html", static.Data(PROBE, "text/html; charset=utf-8"))
    root.putChild(b"book-style", static.Data(BOOK_STYLE, "text/html; charset=utf-8"))
    server = labkit.serve(root, name="ch04-browser-colors", show=False)
    yield server
    server.stop()


def frames(dom: str) -> dict[str, list[str]]:
    found = re.search(r'<pre id="seen">(.*?)</pre>', dom, re.S)
    assert found, dom[:2000]
    rows = [line.split(" | ") for line in html.unescape(found.group(1)).splitlines() if line.startswith("frame")]
    return {row[1]: row[2:] for row in rows}


def requests_seen(server) -> list[tuple[str, str]]:
    """(path, X-Forwarded-Context or "") of every request the server received, from its wire transcript."""
    raw = server.transcript.sent_by("client").decode("latin-1")
    seen = []
    for head in re.findall(r"(GET [^\r\n]*\r\n(?:[^\r\n]+\r\n)*)\r\n", raw):
        path = head.split(" ", 2)[1]
        context = re.search(r"^x-forwarded-context:\s*(\S+)", head, re.I | re.M)
        seen.append((path, context.group(1) if context else ""))
    return seen


def test_the_chapters_pages_through_jupyter_server_proxy(chromium, jupyter, colors, monkeypatch, tmp_path):
    # The kernel's side: under a hub (JUPYTERHUB_SERVICE_PREFIX) the link goes through the proxy.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", jupyter["runtime_dir"])
    monkeypatch.setenv("JPY_PARENT_PID", str(jupyter["pid"]))
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", BASE)
    proxied = f"{BASE}proxy/{colors.port}/"
    [href] = re.findall(r'href="([^"]*)"', link_bundle(colors, "/color/00abef")["text/html"])
    assert html.unescape(href) == proxied + "color/00abef" == browser_url(colors, "/color/00abef")

    # The browser's side: the link, resolved against the Jupyter site, with the token (which sets a cookie).
    profile = str(tmp_path / "profile")
    dom = dump_dom(_with_token(urljoin(jupyter["url"], html.unescape(href)), jupyter["token"]),
                   user_data_dir=profile, binary=chromium, timeout=30)
    assert "<h1>This is #00abef.</h1>" in dom and "<title>Color: #00abef</title>" in dom

    colors.transcript.clear()
    dom = dump_dom(urljoin(jupyter["url"], browser_url(colors, "/probe.html")), user_data_dir=profile,
                   binary=chromium, timeout=30)
    seen = frames(dom)
    assert seen["home"] == [proxied, "Colors", BLACK, WHITE, UNSTYLED]
    assert seen["color"] == [proxied + "color/00abef", "Color: #00abef", BLACK, WHITE, "rgb(0, 171, 239)"]
    # /color redirects (302, Location: color/) and /colour is a util.Redirect: both end at the index, styled.
    assert seen["redirected"] == seen["colour"] == [proxied + "color/", "Colors", BLACK, WHITE, UNSTYLED]
    # The book's root-relative href="/styles.css" leaves the proxy: the page loads, its stylesheet does not.
    assert seen["book"] == [proxied + "book-style", "Book style", UNSTYLED, "rgb(0, 0, 0)", UNSTYLED]

    # Every request reached the server through the proxy, which took its prefix off the path.
    requests = requests_seen(colors)
    paths = [path for path, _ in requests]
    for path in ("/probe.html", "/", "/color/00abef", "/color", "/color/", "/colour", "/styles.css", "/book-style"):
        assert path in paths, (path, paths)
    assert all(context == proxied.rstrip("/") for _, context in requests), requests


def test_the_chapters_pages_directly(chromium, colors, tmp_path):
    url = browser_url(colors, "/probe.html")
    assert url == f"http://127.0.0.1:{colors.port}/probe.html"
    seen = frames(dump_dom(url, user_data_dir=str(tmp_path / "profile"), binary=chromium, timeout=30))
    assert seen["color"] == ["/color/00abef", "Color: #00abef", BLACK, WHITE, "rgb(0, 171, 239)"]
    assert seen["redirected"] == ["/color/", "Colors", BLACK, WHITE, UNSTYLED]
    # Directly, without a proxy in between, the book's root-relative link works too.
    assert seen["book"] == ["/book-style", "Book style", BLACK, WHITE, UNSTYLED]
    assert not any(context for _, context in requests_seen(colors))
