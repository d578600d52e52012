"""labkit.browser: the address a browser opens for a practice web server, the link, the inline page.

The end-to-end tests start a real Jupyter server (with jupyter-server-proxy, enabled by its own configuration)
and a learner-style twisted.web page served by ``labkit.serve``, and load the page in headless Chromium, both
through the proxy (as on JupyterHub or Binder) and directly (as on a laptop).
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import socket
from urllib.parse import urljoin

import pytest
from twisted.internet import protocol
from twisted.web import pages
from twisted.web.resource import Resource

import labkit
from labkit import bridge, browser, output, serving
from labkit.wire import Transcript
from labkit.browser import NotServing, browser_url, fetch_page, link_bundle, open_link, show_page
from tests.chromium import dump_dom
from tests.jupyter_peers import BASE, _get, _with_token, chromium, jupyter, plain_environment  # noqa: F401 (fixtures)
from tests.peers import free_port

MARKER = f"labkit-page-{secrets.token_hex(4)}"
CSS_COLOR = "rgb(12, 34, 56)"

PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Practice page {MARKER}</title>
<link rel="stylesheet" href="styles.css"></head>
<body><h1 id="marker">{MARKER}</h1>
<p id="css">stylesheet not applied</p>
<script>
document.getElementById("css").textContent =
    "h1 color: " + getComputedStyle(document.getElementById("marker")).color;
</script>
</body></html>
""".encode()


# --- fixtures -----------------------------------------------------------------------------------------------

class LearnerPage(Resource):
    """A chapter-4 style resource tree: a page with a relative stylesheet, a redirect, a text page."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, dict[str, str]]] = []  # (path, request headers, lower-cased names)
        self.putChild(b"", _Leaf(self, b"text/html; charset=utf-8", PAGE))
        self.putChild(b"styles.css", _Leaf(self, b"text/css", f"h1 {{ color: {CSS_COLOR}; }}\n".encode()))
        self.putChild(b"plain", _Leaf(self, b"text/plain; charset=utf-8", b"1 < 2 & 3 > 2\n"))
        self.putChild(b"old", _Redirect(self, b"/"))
        self.putChild(b"themed", _Leaf(self, b"text/html", b"<!doctype html><link rel=stylesheet href='wrong.css'>"
                                       b"<link href='gone.css' rel='stylesheet'><link rel='icon' href='i.css'>"
                                       b"<p>themed</p>"))
        self.putChild(b"wrong.css", _Leaf(self, b"text/html", b"p { color: red }"))

    def getChild(self, path, request):
        return pages.notFound()

    def record(self, request) -> None:
        headers = {name.decode().lower(): b", ".join(values).decode()
                   for name, values in request.requestHeaders.getAllRawHeaders()}
        self.seen.append((request.path.decode(), headers))

    def requests_for(self, path: str) -> list[dict[str, str]]:
        return [headers for seen_path, headers in self.seen if seen_path == path]


class _Leaf(Resource):
    isLeaf = True

    def __init__(self, root: LearnerPage, content_type: bytes, body: bytes):
        super().__init__()
        self.root, self.content_type, self.body = root, content_type, body

    def render_GET(self, request):
        self.root.record(request)
        request.setHeader(b"content-type", self.content_type)
        return self.body


class _Redirect(_Leaf):
    def __init__(self, root: LearnerPage, location: bytes):
        super().__init__(root, b"text/html", b"")
        self.location = location

    def render_GET(self, request):
        self.root.record(request)
        request.redirect(self.location)
        return b""


@pytest.fixture
def served():
    """Start labkit practice servers; stop the ones this test started."""
    started = []

    def serve(thing, name):
        server = labkit.serve(thing, name=name, show=False)
        started.append(server)
        return server

    yield serve
    for server in started:
        if not server.stopped:
            server.stop()


@pytest.fixture
def page(served):
    resource = LearnerPage()
    server = served(resource, "browser-test-page")
    return server, resource


@pytest.fixture
def shown(monkeypatch):
    """What open_link and show_page display, instead of IPython's display."""
    calls = []
    monkeypatch.setattr(browser.links, "display", lambda *objs, **kwargs: calls.append((objs, kwargs)))
    return calls


# --- browser_url ------------------------------------------------------------------------------------------

def test_direct_by_default_on_a_laptop():
    assert browser_url(8000) == "http://127.0.0.1:8000/"
    assert browser_url(8000, "/color/ff0000") == "http://127.0.0.1:8000/color/ff0000"
    assert browser_url(8000, "color/") == "http://127.0.0.1:8000/color/"


def test_direct_for_a_server_handle(page):
    server, _ = page
    assert browser_url(server) == f"http://127.0.0.1:{server.port}/"
    assert browser_url(server, "/old?x=1") == f"http://127.0.0.1:{server.port}/old?x=1"


def test_proxy_under_jupyterhub(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert browser_url(8000) == "/user/alice/proxy/8000/"
    assert browser_url(8000, "/color/ff0000") == "/user/alice/proxy/8000/color/ff0000"
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice")  # no trailing slash
    assert browser_url(8000, "styles.css") == "/user/alice/proxy/8000/styles.css"


def test_proxy_on_binder(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/binder/jupyter/user/org-workbook-abc123/")
    assert browser_url(8000) == "/binder/jupyter/user/org-workbook-abc123/proxy/8000/"


def test_forcing_the_choice(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    assert browser_url(8000, via="direct") == "http://127.0.0.1:8000/"
    monkeypatch.setenv(browser.VIA_ENV, "direct")
    assert browser_url(8000) == "http://127.0.0.1:8000/"
    assert browser_url(8000, via="proxy") == "/user/alice/proxy/8000/"  # the argument wins
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    monkeypatch.setenv(browser.VIA_ENV, "Proxy")
    assert browser_url(8000) == "/proxy/8000/"  # no Jupyter server known: its default base URL, /


def test_bad_choices_are_explained(monkeypatch):
    with pytest.raises(ValueError, match="'proxy', 'direct' or None"):
        browser_url(8000, via="tunnel")
    monkeypatch.setenv(browser.VIA_ENV, "tunnel")
    with pytest.raises(ValueError, match=browser.VIA_ENV):
        browser_url(8000)
    with pytest.raises(ValueError, match="1 to 65535"):
        browser_url(70000)
    with pytest.raises(TypeError, match="labkit.serve"):
        browser_url("8000")
    with pytest.raises(TypeError):
        browser_url(True)


def test_local_jupyter_server_is_found_from_the_kernel(monkeypatch, tmp_path):
    # A kernel's JPY_PARENT_PID is its Jupyter server's pid; the server describes itself in jpserver-PID.json.
    runtime = tmp_path / "found"
    runtime.mkdir()
    pid = os.getpid()  # a live process stands in for the server
    info = {"pid": pid, "base_url": "/lab-base/", "url": "http://127.0.0.1:9999/lab-base/", "port": 9999}
    (runtime / f"jpserver-{pid}.json").write_text(json.dumps(info))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    assert browser_url(8000, via="proxy") == "/lab-base/proxy/8000/"  # no JPY_PARENT_PID: the only server
    monkeypatch.setenv("JPY_PARENT_PID", str(pid))
    assert browser.jupyter_server_info()["port"] == 9999
    assert browser_url(8000, via="proxy") == "/lab-base/proxy/8000/"
    assert browser_url(8000) == "http://127.0.0.1:8000/"  # locally the direct address is preferred
    monkeypatch.setenv("JPY_PARENT_PID", "1234567")  # a parent that is no Jupyter server
    assert browser.jupyter_server_info() is None
    assert browser_url(8000, via="proxy") == "/proxy/8000/"


def test_only_running_server_is_used_without_a_parent(monkeypatch, tmp_path):
    runtime = tmp_path / "found"
    runtime.mkdir()
    pid = os.getpid()
    (runtime / f"jpserver-{pid}.json").write_text(json.dumps({"pid": pid, "base_url": "/solo/"}))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    assert browser.jupyter_base_url() == "/solo/"
    # A second live server makes the choice ambiguous: fall back to "/".
    (runtime / f"jpserver-{os.getppid()}.json").write_text(json.dumps({"pid": os.getppid(), "base_url": "/x/"}))
    assert browser.jupyter_base_url() == "/"


def test_explicit_jupyter_server():
    assert browser_url(8000, via="proxy", jupyter="http://127.0.0.1:9999/base") == \
        "http://127.0.0.1:9999/base/proxy/8000/"
    assert browser_url(8000, "/a", via="proxy", jupyter="user/bob") == "/user/bob/proxy/8000/a"


def test_stopped_server_and_https(page):
    server, _ = page
    server.stop()
    with pytest.raises(NotServing, match="has been stopped.*labkit.serve"):
        browser_url(server)
    fake_tls = serving.Server("tls-page", "127.0.0.1", [8443], "https", output.Log("x"), Transcript("x"))
    assert browser_url(fake_tls) == "https://127.0.0.1:8443/"
    with pytest.raises(ValueError, match="plain HTTP"):
        browser_url(fake_tls, via="proxy")


def test_ipv6_server_handle():
    v6 = serving.Server("v6", "::1", [8000], "http", output.Log("v6"), Transcript("v6"))
    assert browser_url(v6) == "http://[::1]:8000/"
    assert browser_url(v6, via="proxy") == "/proxy/8000/"


# --- open_link --------------------------------------------------------------------------------------------

def test_open_link_shows_html_and_text(page, shown, monkeypatch):
    server, _ = page
    open_link(server)
    [(objs, kwargs)] = shown
    assert kwargs == {"raw": True}
    [bundle] = objs
    url = f"http://127.0.0.1:{server.port}/"
    assert bundle["text/html"] == (f'<a href="{url}" target="_blank" rel="noopener">'
                                   "Open browser-test-page in a new browser tab</a>")
    assert bundle["text/plain"] == f"Open browser-test-page in a new browser tab: {url}"

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    open_link(server, "/color/ff0000", text="Red & <b>bold</b>")
    bundle = shown[-1][0][0]
    assert f'href="/user/alice/proxy/{server.port}/color/ff0000"' in bundle["text/html"]
    assert "Red &amp; &lt;b&gt;bold&lt;/b&gt;</a>" in bundle["text/html"]


def test_link_text_does_not_depend_on_the_port():
    with socket.socket() as one, socket.socket() as two:
        for s in (one, two):
            s.bind(("127.0.0.1", 0))
            s.listen()
        first, second = (link_bundle(s.getsockname()[1], "/color/") for s in (one, two))
    assert first["text/html"] != second["text/html"]
    text = re.compile(r">(.*)</a>")
    assert text.search(first["text/html"]).group(1) == text.search(second["text/html"]).group(1) == \
        "Open /color/ in a new browser tab"


def test_open_link_to_nothing(shown):
    port = free_port()
    with pytest.raises(NotServing, match=rf"Nothing is listening on 127\.0\.0\.1:{port}.*Run the cell"):
        open_link(port)
    assert shown == []


def test_open_link_to_a_plain_listening_socket(shown):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        open_link(s.getsockname()[1])
    assert shown[0][0][0]["text/plain"].startswith("Open the page in a new browser tab: http://127.0.0.1:")


# --- show_page --------------------------------------------------------------------------------------------

def test_show_page_shows_the_page_in_a_sandboxed_frame(page, shown):
    server, resource = page
    show_page(server, height=200)
    [((shown_page,), _)] = shown
    assert isinstance(shown_page, browser.Page)
    assert shown_page.status == 200 and MARKER.encode() in shown_page.body
    status = f"GET / \N{RIGHTWARDS ARROW} 200 OK (text/html; charset=utf-8, {len(PAGE)} bytes)"
    assert shown_page.status_line() == status
    assert str(server.port) not in shown_page.status_line()
    out = shown_page._repr_html_()
    assert out.startswith(f"<div><code>{html.escape(status)}</code></div>")
    frame = re.fullmatch(r'.*<iframe sandbox="" srcdoc="([^"]*)" style="[^"]*height:200px[^"]*"></iframe>', out,
                         re.S)
    assert frame, out
    document = html.unescape(frame.group(1))
    assert f'<h1 id="marker">{MARKER}</h1>' in document
    assert "<h1" not in out  # all of the page is escaped into the attribute
    # the relative stylesheet was fetched from the server, as a browser would, and inlined
    assert f"<style>/* styles.css */\nh1 {{ color: {CSS_COLOR}; }}" in document
    assert [path for path, _ in resource.seen] == ["/", "/styles.css"]
    assert repr(shown_page).startswith(status + "\n<!doctype html>")


def test_show_page_follows_redirects_and_shows_errors(page):
    server, _ = page
    moved = fetch_page(server, "/old")
    assert [(hop.path, hop.status) for hop in moved.hops] == [("/old", 302), ("/", 200)]
    assert moved.status_line().startswith("GET /old \N{RIGHTWARDS ARROW} 302 Found, GET / \N{RIGHTWARDS ARROW} 200 OK")
    missing = fetch_page(server, "/missing")
    assert missing.status == 404
    assert "iframe" in missing._repr_html_()
    plain = fetch_page(server.port, "/plain")
    assert "<pre" in plain._repr_html_() and "1 &lt; 2 &amp; 3 &gt; 2" in plain._repr_html_()
    assert repr(plain).endswith("\n1 < 2 & 3 > 2\n")


def test_stylesheets_that_a_browser_would_not_apply_are_noted(page):
    server, resource = page
    themed = fetch_page(server, "/themed")
    assert themed.notes == ["stylesheet wrong.css: served as text/html, not text/css; not applied",
                            "stylesheet gone.css: 404 Not Found"]
    assert "<style>" not in html.unescape(themed._repr_html_())
    assert "stylesheet gone.css: 404 Not Found" in themed._repr_html_() and "gone.css: 404" in repr(themed)
    assert [path for path, _ in resource.seen] == ["/themed", "/wrong.css"]  # gone.css: no resource records it


def test_show_page_of_nothing(page):
    server, _ = page
    port = free_port()
    with pytest.raises(NotServing, match=r"Nothing is listening.*Run the cell that starts a server"):
        show_page(port)
    server.stop()
    with pytest.raises(NotServing, match=r"'browser-test-page' has been stopped\. Run the cell"):
        show_page(server)


def test_show_page_of_a_server_that_does_not_speak_http(served):
    class HangUp(protocol.Protocol):
        def connectionMade(self):
            self.transport.loseConnection()

    server = served(protocol.Factory.forProtocol(HangUp), "browser-test-hangup")
    with pytest.raises(ConnectionError, match="Does this server speak HTTP"):
        fetch_page(server, timeout=5)


def test_show_page_on_the_reactor_thread_is_refused(page):
    server, _ = page
    with pytest.raises(bridge.ReactorThreadError):
        labkit.react(lambda reactor: fetch_page(server))


# --- end to end: a real Jupyter server, jupyter-server-proxy, headless Chromium ---------------------------

def test_page_opens_through_jupyter_server_proxy_in_chromium(chromium, jupyter, page, monkeypatch, tmp_path):
    server, resource = page
    assert jupyter["base_url"] == BASE
    # jupyter-server-proxy runs in a Jupyter server that was not told about it: it enabled itself.
    code, body = _get(_with_token(f"{jupyter['url']}server-proxy/servers-info", jupyter["token"]))
    assert code == 200 and "server_processes" in json.loads(body), \
        "jupyter-server-proxy is not enabled as a server extension"

    # The kernel side: this process plays a kernel of that server (JPY_PARENT_PID) on a hub whose prefix is BASE.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", jupyter["runtime_dir"])
    monkeypatch.setenv("JPY_PARENT_PID", str(jupyter["pid"]))
    proxied = f"{BASE}proxy/{server.port}/"
    assert browser_url(server, via="proxy") == proxied  # the base URL found from the running server
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", BASE)
    assert browser_url(server) == proxied  # under a hub the proxy is the default
    [href] = re.findall(r'href="([^"]*)"', link_bundle(server)["text/html"])
    assert html.unescape(href) == proxied

    # The browser side: the link resolved against the notebook's site (the Jupyter server), plus the token.
    profile = str(tmp_path / "profile")  # shared by the loads below: the login cookie set by the token
    dom = dump_dom(_with_token(urljoin(jupyter["url"], html.unescape(href)), jupyter["token"]),
                   user_data_dir=profile, binary=chromium, timeout=30)
    assert f'<h1 id="marker">{MARKER}</h1>' in dom
    assert f"h1 color: {CSS_COLOR}" in dom  # styles.css loaded, through the proxy, before the script ran
    # Both requests reached the learner's server through the proxy, which strips its prefix.
    for path in ("/", "/styles.css"):
        [headers] = resource.requests_for(path)
        assert headers.get("x-forwarded-context") == proxied.rstrip("/"), (path, headers)

    # The book's redirect: Location "/" comes back through the proxy, rewritten to the proxy's prefix.
    resource.seen.clear()
    dom = dump_dom(urljoin(jupyter["url"], browser_url(server, "/old")), user_data_dir=profile, binary=chromium,
                   timeout=30)
    assert f'<h1 id="marker">{MARKER}</h1>' in dom and f"h1 color: {CSS_COLOR}" in dom
    assert [path for path, _ in resource.seen] == ["/old", "/", "/styles.css"]
    assert all(headers.get("x-forwarded-context") == proxied.rstrip("/") for _, headers in resource.seen)


def test_page_opens_directly_in_chromium(chromium, page, tmp_path):
    server, resource = page
    url = browser_url(server)
    assert url == f"http://127.0.0.1:{server.port}/"
    dom = dump_dom(url, user_data_dir=str(tmp_path / "profile"), binary=chromium, timeout=30)
    assert f"<title>Practice page {MARKER}</title>" in dom
    assert f'<h1 id="marker">{MARKER}</h1>' in dom and f"h1 color: {CSS_COLOR}" in dom
    assert [path for path, _ in resource.seen] == ["/", "/styles.css"]
    assert not any("x-forwarded-context" in headers for _, headers in resource.seen)


# --- the server's own scheme, and Jupyter's secrets ---------------------------------------------------------

@pytest.mark.parametrize(("scheme", "opened"), [("http", "http"), ("https", "https"), ("tcp", "http"),
                                                ("tls", "https")])
def test_a_server_is_opened_with_the_scheme_it_was_served_with(scheme, opened):
    server = serving.Server("own", "127.0.0.1", [8000], scheme, output.Log("own"), Transcript("own"))
    assert browser_url(server, via="direct") == f"{opened}://127.0.0.1:8000/"


def test_a_server_of_another_protocol_has_no_pages_and_says_so():
    mail = serving.Server("mail", "127.0.0.1", [2525], "smtp", output.Log("mail"), Transcript("mail"))
    with pytest.raises(ValueError, match="smtp:// server, not a web server"):
        browser_url(mail)
    with pytest.raises(ValueError, match="smtp client"):
        open_link(mail)


def test_a_page_that_echoes_jupyters_credentials_shows_them_masked():
    from twisted.web import resource

    class Echoes(resource.Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"x-seen", b"token=abc123")
            return (b"<p>Cookie: _xsrf=2|aa|bb; username-127-0-0-1-8888=&quot;2|1:0|zz&quot;; theme=dark</p>"
                    b"<p>Authorization: token t0k3n</p>")

    server = labkit.serve(Echoes(), name="echoes", show=False)
    try:
        fetched = fetch_page(server, "/?token=q9q9")
    finally:
        server.stop()
    everything = repr(fetched) + fetched._repr_html_() + repr(fetched.headers) + fetched.body.decode()
    for secret in ("abc123", "2|aa|bb", "2|1:0|zz", "t0k3n", "q9q9"):
        assert secret not in everything
    assert "theme=dark" in everything and "[redacted]" in everything
