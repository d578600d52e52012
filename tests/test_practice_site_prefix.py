"""The practice web site behind a proxy's prefix, as a class's JupyterHub serves it
(``/user/NAME/proxy/PORT/``): every link, form and redirect stays below the prefix. A reverse proxy made of
Twisted's own ``ReverseProxyResource`` stands in for the hub's; Chromium, an independent browser, loads the pages
through it, and every link of the index is followed."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urljoin, urlsplit

import pytest
from twisted.web import proxy, resource

import labkit
from servers import web
from tests.chromium import dump_dom, find_chromium
from tests.peers import missing

PREFIX = "/user/ada/proxy/{port}/"
NEVER_ANSWERS = {"never"}  # /never is a page that never answers, on purpose


class Prefixed(resource.Resource):
    """Everything below ``/user/ada/proxy/PORT/`` goes to the origin; any other path is this proxy's own 404."""

    def __init__(self, port: int):
        super().__init__()
        user = resource.Resource()
        ada = resource.Resource()
        proxied = resource.Resource()
        self.putChild(b"user", user)
        user.putChild(b"ada", ada)
        ada.putChild(b"proxy", proxied)
        proxied.putChild(str(port).encode(), proxy.ReverseProxyResource("127.0.0.1", port, b""))


@pytest.fixture
def behind_prefix():
    origin = labkit.serve(web.site(slow_duration=0.1), name="prefix-origin", show=False)
    front = labkit.serve(Prefixed(origin.port), name="prefix-proxy", show=False)
    yield f"http://127.0.0.1:{front.port}" + PREFIX.format(port=origin.port)
    front.stop()
    origin.stop()


def get(url: str) -> tuple[int, dict, str]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode("utf-8",
                                                                                                         "replace")
    finally:
        connection.close()


def links(page: str) -> list[str]:
    return re.findall(r'(?:href|action)="([^"]*)"', page)


def test_every_link_of_the_index_leads_to_its_page_below_the_prefix(behind_prefix):
    status, _, index = get(behind_prefix)
    assert status == 200
    found = links(index)
    assert len(found) == len(web.practice_site.IndexPage.LINKS)
    for link in found:
        target = urljoin(behind_prefix, link)
        assert target.startswith(behind_prefix), f"{link!r} leaves the prefix: {target}"
        if link in NEVER_ANSWERS:
            continue
        status, headers, _ = get(target)
        assert status in (200, 302, 401, 404, 500), (link, status)
        if status == 302:
            assert urljoin(target, headers["location"]).startswith(behind_prefix), headers["location"]
        if link == "nowhere":
            assert status == 404  # the practice site's own 404, not the proxy's
        elif link != "error":
            assert status in (200, 302, 401), (link, status)


def test_the_404_pages_link_and_the_upload_form_stay_below_the_prefix(behind_prefix):
    for path in ("nowhere", "slow/nothing/deeper"):
        status, _, page = get(behind_prefix + path)
        [home] = links(page)
        assert status == 404 and urljoin(behind_prefix + path, home) == behind_prefix
    _, _, form = get(behind_prefix + "check")
    assert 'method="post"' in form and "action=" not in form  # a form posts back to where it was loaded from


def test_chromium_follows_the_redirect_and_the_404_link_below_the_prefix(behind_prefix, tmp_path):
    binary = find_chromium()
    if binary is None:
        missing("chromium is missing: sudo apt-get install chromium")
    hello = dump_dom(behind_prefix + "redirect", binary=binary, user_data_dir=str(tmp_path / "profile"))
    assert "Hello from the practice web site." in hello
    lost = dump_dom(behind_prefix + "slow/nothing", binary=binary, user_data_dir=str(tmp_path / "profile"))
    assert "404 Not Found" in lost and 'href="../"' in lost
