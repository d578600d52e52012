"""A practice server's page fetched from the kernel over real HTTP and shown inside the notebook."""

from __future__ import annotations

import codecs
import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from labkit import bridge
from labkit.browser import links
from labkit.browser.links import NotServing, clean_path, hostport, not_listening, which_server
from labkit.redaction import redact_bytes, redact_text

__all__ = ["RedirectHop", "Page", "fetch_page", "show_page"]

MAX_STYLESHEETS = 10
MAX_SHOWN_CHARS = 1_000_000
MAX_TEXT_CHARS = 2_000


# --- the page, inline ---------------------------------------------------------------------------------------

@dataclass
class RedirectHop:
    """One request of a page fetch and its response (a redirect adds hops)."""

    path: str
    status: int
    reason: str


@dataclass
class Page:
    """A page fetched from a practice server by :func:`fetch_page`; shows itself in a sandboxed frame."""

    path: str
    hops: list[RedirectHop]
    headers: dict[str, list[str]]
    body: bytes
    height: int = 300
    notes: list[str] = field(default_factory=list)
    shown_body: bytes | None = field(default=None, repr=False)  # the body with stylesheets inlined

    @property
    def status(self) -> int:
        return self.hops[-1].status

    @property
    def reason(self) -> str:
        return self.hops[-1].reason

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or [""])[-1]

    @property
    def is_html(self) -> bool:
        kind = self.content_type.split(";")[0].strip().lower()
        return kind in ("text/html", "application/xhtml+xml") or (not kind and b"<" in self.body[:512])

    @property
    def charset(self) -> str:
        match = re.search(r"charset\s*=\s*\"?([\w.:-]+)", self.content_type, re.I)
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                pass
        return "utf-8"

    @property
    def is_text(self) -> bool:
        kind = self.content_type.split(";")[0].strip().lower()
        if not kind:
            return b"\0" not in self.body[:1024]
        return kind.startswith("text/") or kind.endswith(("+xml", "/xml", "/json", "+json", "/javascript"))

    @property
    def text(self) -> str:
        return self.body.decode(self.charset, errors="replace")

    def status_line(self) -> str:
        steps = ", ".join(f"GET {hop.path} \N{RIGHTWARDS ARROW} {hop.status} {hop.reason}".rstrip()
                          for hop in self.hops)
        kind = self.content_type or "no Content-Type"
        return f"{steps} ({kind}, {len(self.body)} bytes)"

    def __repr__(self) -> str:
        lines = [self.status_line(), *self.notes]
        if self.is_text:
            text = self.text
            lines.append(text[:MAX_TEXT_CHARS] + ("\n..." if len(text) > MAX_TEXT_CHARS else ""))
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        parts = [f"<div><code>{html.escape(self.status_line())}</code></div>"]
        parts += [f"<div><small>{html.escape(note)}</small></div>" for note in self.notes]
        if not self.body or not self.is_text:
            return "".join(parts)
        body = self.shown_body if self.shown_body is not None else self.body
        text = body.decode(self.charset, errors="replace")
        if len(text) > MAX_SHOWN_CHARS:
            text = text[:MAX_SHOWN_CHARS]
            parts.append(f"<div><small>(only the first {MAX_SHOWN_CHARS} characters are shown)</small></div>")
        height = int(self.height)
        if self.is_html:
            view = (f'<iframe sandbox="" srcdoc="{html.escape(text, quote=True)}" '
                    f'style="width:100%;height:{height}px;border:1px solid #ccc;background:white"></iframe>')
        else:
            view = f'<pre style="max-height:{height}px;overflow:auto">{html.escape(text)}</pre>'
        parts.insert(1 + len(self.notes), view)
        return "".join(parts)


class _Stylesheets(HTMLParser):
    """Finds ``<link rel="stylesheet" href=...>`` tags and where they are in the page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []  # (the tag's source text, href)

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs)

    def _tag(self, tag, attrs):
        if tag != "link":
            return
        values = {name.lower(): (value or "") for name, value in attrs}
        if "stylesheet" in values.get("rel", "").lower().split() and values.get("href"):
            self.found.append((self.get_starttag_text(), values["href"]))


def _stylesheet_links(text: str) -> list[tuple[str, str]]:
    parser = _Stylesheets()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # a broken page: show it as it is
        return []
    return parser.found[:MAX_STYLESHEETS]


async def _get(reactor, url: str):
    import treq

    response = await treq.get(url, persistent=False, reactor=reactor)
    body = await treq.content(response)
    return response, body


def _hops(response) -> list[RedirectHop]:
    def hop(r) -> RedirectHop:
        uri = r.request.absoluteURI.decode("ascii", "replace") if r.request is not None else "/"
        parts = urlsplit(uri)
        path = redact_text((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        return RedirectHop(path, r.code, r.phrase.decode("latin-1", "replace") if isinstance(r.phrase, bytes) else r.phrase)

    return [hop(r) for r in response.history()] + [hop(response)]


async def _fetch(reactor, url: str, height: int) -> Page:
    response, body = await _get(reactor, url)
    headers = {name.decode("latin-1").lower(): [redact_text(v.decode("latin-1")) for v in values]
               for name, values in response.headers.getAllRawHeaders()}
    body = redact_bytes(body)
    hops = _hops(response)
    page = Page(hops[0].path, hops, headers, body, height=height)
    if page.is_html and body:
        await _inline_stylesheets(reactor, page, response.request.absoluteURI.decode("ascii", "replace"))
    return page


async def _inline_stylesheets(reactor, page: Page, page_url: str) -> None:
    """Replace the page's stylesheet links by the stylesheets, fetched from the kernel as a browser would."""
    text = page.text
    origin = urlsplit(page_url)[:2]
    changed = False
    for tag, href in _stylesheet_links(text):
        url = urljoin(page_url, href)
        if urlsplit(url)[:2] != origin:
            continue
        try:
            response, css = await _get(reactor, url)
        except Exception as exc:
            page.notes.append(f"stylesheet {href}: {type(exc).__name__}")
            continue
        if response.code != 200:
            page.notes.append(f"stylesheet {href}: {response.code} {response.phrase.decode('latin-1', 'replace')}")
            continue
        kind = b"".join(response.headers.getRawHeaders(b"content-type", [b""])[-1:]).decode("latin-1")
        if kind and kind.split(";")[0].strip().lower() != "text/css":
            page.notes.append(f"stylesheet {href}: served as {kind}, not text/css; not applied")
            continue
        source = css.decode("utf-8", errors="replace").replace("</", "<\\/")
        text = text.replace(tag, f"<style>/* {href.replace('*/', '* /')} */\n{source}</style>", 1)
        changed = True
    if changed:
        page.shown_body = text.encode(page.charset, errors="replace")


def _refused(exc: BaseException) -> bool:
    from twisted.internet import error

    if isinstance(exc, (error.ConnectionRefusedError, ConnectionRefusedError)):
        return True
    reasons = getattr(exc, "reasons", None) or []  # ResponseNeverReceived and friends carry Failures
    return any(_refused(getattr(reason, "value", reason)) for reason in reasons)


def fetch_page(server_or_port, path: str = "/", height: int = 300, *, timeout: float | None = None) -> Page:
    """Fetch ``path`` from a practice web server, from the kernel, and return it as a :class:`Page`.

    The request is real HTTP (treq, on the reactor thread, waited for like ``labkit.react``: bounded by
    ``timeout`` and interruptible); redirects are followed and stylesheets of the same server are fetched too,
    so the page can be shown with its styles. Raises :class:`NotServing` if nothing listens on the port.
    """
    target = which_server(server_or_port)
    path = clean_path(path)
    url = f"{target.scheme}://{hostport(target)}{path}"
    if target.scheme != "http":
        raise ValueError(f"{target.name or 'this server'} serves HTTPS; show_page fetches plain HTTP only. "
                         "Open it in the browser with open_link(...) instead.")
    try:
        return bridge.react(_fetch, url, height, timeout=timeout)
    except Exception as exc:
        from twisted.web.client import ResponseFailed

        if _refused(exc):
            raise NotServing(not_listening(target)) from None
        if isinstance(exc, ResponseFailed):  # ResponseNeverReceived is one
            raise ConnectionError(
                f"{hostport(target)} accepted the connection but sent no complete HTTP response to GET {path} "
                "(it closed the connection, or the response was malformed). Does this server speak HTTP? Look "
                "at its log and transcript (server.log, server.transcript).") from None
        raise


def show_page(server_or_port, path: str = "/", height: int = 300, *, timeout: float | None = None) -> None:
    """Show ``path`` of a practice web server inside the notebook: its status line, then the page.

    The page is fetched from the kernel (see :func:`fetch_page`), so this works everywhere, also where the
    browser cannot reach the server's port. An HTML page is shown in a sandboxed frame (no scripts run; its
    stylesheets are inlined; links inside do not navigate, use :func:`open_link` to browse), anything else as
    text. ``height`` is the frame's height in pixels.
    """
    links.display(fetch_page(server_or_port, path, height, timeout=timeout))
