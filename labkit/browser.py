"""Open a practice web server in the learner's browser: on a laptop, on Binder and on a JupyterHub.

Promises:

* :func:`browser_url` gives the address a learner's browser should open for a server handle or a port. On a
  laptop that is the server itself (``http://127.0.0.1:PORT/``); on a JupyterHub or Binder, where 127.0.0.1 of
  the kernel is not the learner's machine, it is the Jupyter server's proxy (``{prefix}proxy/PORT/``).
* :func:`open_link` shows a link that opens the page in a new browser tab. Its text never contains the port,
  so saved outputs stay the same from run to run (only the address the link points to changes).
* :func:`show_page` fetches the page from the kernel, over real HTTP, and shows it inside the notebook in a
  sandboxed frame, with the status line; it works everywhere, even where the browser cannot reach the port.
* A port with nothing listening, or a stopped server, is reported with what to do: run the server's cell first.
* A server is opened with the scheme it was served with (``Server.scheme``); one that speaks another protocol
  (``smtp://``, ...) is refused with what to do instead.
* A page shown (or returned by :func:`fetch_page`) never carries Jupyter's cookies or tokens: a server that
  echoes its request through Jupyter's proxy would otherwise show them (:mod:`labkit.redaction`).

Through the proxy the learner's server sees the path without the proxy's prefix (``/``, ``/styles.css``), and
relative links (``href="styles.css"``) resolve through the proxy. Links that start with ``/``
(``href="/styles.css"``, as in the book) point at the root of the Jupyter site instead and do not reach the
learner's server there; redirects are fine, the proxy rewrites their ``Location``.
"""

from __future__ import annotations

import codecs
import html
import json
import os
import re
import socket
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from labkit import bridge, serving
from labkit.redaction import redact_bytes, redact_text

__all__ = ["Hop", "NotServing", "Page", "VIA_ENV", "browser_url", "fetch_page", "jupyter_base_url",
           "jupyter_server_info", "link_bundle", "open_link", "show_page"]

#: Environment variable that chooses how :func:`browser_url` reaches servers: ``proxy`` or ``direct``.
VIA_ENV = "LABKIT_BROWSER_VIA"
_VIAS = ("proxy", "direct")

MAX_STYLESHEETS = 10
MAX_SHOWN_CHARS = 1_000_000
MAX_TEXT_CHARS = 2_000


class NotServing(ConnectionRefusedError):
    """Nothing listens where a page was asked for: the server's cell has not run, or the server was stopped."""


# --- which server -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    scheme: str  # http or https
    name: str | None
    known: bool  # a running labkit server: no need to probe the port


# A server's own scheme, as serving set it, to the one a browser uses. A plain TCP server may speak HTTP by hand
# (chapter 4's first lab), so it is tried as HTTP; any other protocol has no pages.
_WEB_SCHEMES = {"http": "http", "https": "https", "tcp": "http", "tls": "https"}


def _web_scheme(server: serving.Server) -> str:
    scheme = _WEB_SCHEMES.get(server.scheme)
    if scheme is None:
        raise ValueError(f"{server.name!r} is a {server.scheme}:// server, not a web server, so it has no pages "
                         f"to open: talk to it with a {server.scheme} client, and see the conversation in "
                         f"its transcript ({server.name}.transcript).")
    return scheme


def _running_port(port: int) -> bool:
    return any(port in server.ports for server in serving.servers())


def _target(server_or_port) -> _Target:
    if isinstance(server_or_port, serving.Server):
        server = server_or_port
        if server.stopped:
            raise NotServing(f"The practice server {server.name!r} has been stopped. Run the cell that starts it "
                             "(labkit.serve(...)) again, then this one.")
        return _Target(server.host, server.port, _web_scheme(server), server.name, True)
    if isinstance(server_or_port, bool) or not isinstance(server_or_port, int):
        get_host = getattr(server_or_port, "getHost", None)  # a listening port from reactor.listenTCP
        if get_host is None:
            raise TypeError(f"expected a server handle from labkit.serve(...) or a port number, "
                            f"not {server_or_port!r}")
        address = get_host()
        host = getattr(address, "host", "127.0.0.1")
        host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
        return _Target(host, address.port, "http", None, False)
    port = server_or_port
    if not 0 < port < 65536:
        raise ValueError(f"{port} is not a TCP port number (1 to 65535)")
    return _Target("127.0.0.1", port, "http", None, _running_port(port))


def _check_listening(target: _Target) -> None:
    """Raise :class:`NotServing` if nothing accepts connections at the target (labkit's own servers are known)."""
    if target.known:
        return
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect((target.host, target.port))
        except OSError:
            raise NotServing(_not_listening(target)) from None


def _not_listening(target: _Target) -> str:
    what = f"the practice server {target.name!r}" if target.name else "a server"
    return (f"Nothing is listening on {_hostport(target)}, so there is no page to show. Run the cell that starts "
            f"{what} (labkit.serve(...)) first, then this one; labkit.servers() lists what runs.")


def _hostport(target: _Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"


def _clean_path(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path must be a str such as '/' or '/color/', not {path!r}")
    return path if path.startswith("/") else "/" + path


# --- where is the Jupyter server ----------------------------------------------------------------------------

def _runtime_dir() -> str | None:
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:  # pragma: no cover - jupyter_core comes with ipykernel
        return None
    return jupyter_runtime_dir()


def _alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, TypeError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _read_info(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and _alive(info.get("pid")) else None


def jupyter_server_info() -> dict | None:
    """The running Jupyter server this kernel belongs to (``url``, ``base_url``, ``port``, ...), or None.

    A kernel started by a Jupyter server gets the server's process id as ``JPY_PARENT_PID``, and the server
    describes itself in ``jpserver-PID.json`` in the Jupyter runtime directory. With no ``JPY_PARENT_PID`` (a
    plain Python process) the only running server is taken, if there is exactly one.
    """
    runtime = _runtime_dir()
    if not runtime or not os.path.isdir(runtime):
        return None
    parent = os.environ.get("JPY_PARENT_PID")
    if parent:
        return _read_info(os.path.join(runtime, f"jpserver-{parent}.json"))
    infos = [info for name in sorted(os.listdir(runtime)) if re.fullmatch(r"jpserver-\d+\.json", name)
             for info in [_read_info(os.path.join(runtime, name))] if info is not None]
    return infos[0] if len(infos) == 1 else None


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def jupyter_base_url() -> str:
    """The path under which the learner's browser reaches the Jupyter server, ending in ``/``.

    ``JUPYTERHUB_SERVICE_PREFIX`` on a JupyterHub or Binder (``/user/NAME/``), else the ``base_url`` of this
    kernel's Jupyter server (see :func:`jupyter_server_info`), else ``/``.
    """
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return _with_slash(prefix if prefix.startswith("/") else "/" + prefix)
    info = jupyter_server_info()
    base = (info or {}).get("base_url") or "/"
    return _with_slash(base if base.startswith("/") else "/" + base)


def _choose_via(via: str | None) -> str:
    if via is None:
        chosen = os.environ.get(VIA_ENV, "").strip().lower()
        if chosen and chosen not in _VIAS:
            raise ValueError(f"{VIA_ENV}={os.environ[VIA_ENV]!r} is not understood: use 'proxy' or 'direct', "
                             "or unset it to choose automatically")
        if chosen:
            return chosen
        return "proxy" if os.environ.get("JUPYTERHUB_SERVICE_PREFIX") else "direct"
    if via not in _VIAS:
        raise ValueError(f"via={via!r} is not understood: use 'proxy', 'direct' or None (choose automatically)")
    return via


def browser_url(server_or_port, path: str = "/", *, via: str | None = None, jupyter: str | None = None) -> str:
    """The address a learner's browser should open to see ``path`` on a practice web server.

    ``server_or_port`` is a handle from ``labkit.serve(...)``, a port number on 127.0.0.1, or a listening port
    from ``reactor.listenTCP``.

    The rule:

    * ``via="direct"``: the server itself, ``http://127.0.0.1:PORT/PATH``. This works when the browser runs on
      the kernel's machine: a laptop, a local ``jupyter lab``.
    * ``via="proxy"``: through jupyter-server-proxy, ``{base}proxy/PORT/PATH``, where ``base`` is the path of
      the Jupyter server in the browser (:func:`jupyter_base_url`: the JupyterHub/Binder prefix such as
      ``/user/NAME/``, else the local server's ``base_url``, usually ``/``). The address starts with ``/``: the
      browser resolves it against the notebook's own site, so it works however the browser reaches Jupyter
      (a hub, Binder, a container's published port, an SSH tunnel), and JupyterLab opens it as a web page, not
      as a notebook file. Pass ``jupyter="http://HOST:PORT/BASE/"`` (or a path) to name the Jupyter server
      explicitly; a full URL there gives a full URL back. The proxy reaches servers over plain HTTP only.
    * ``via=None`` (the default): the environment variable ``LABKIT_BROWSER_VIA`` (``proxy`` or ``direct``)
      if set, else ``proxy`` under JupyterHub or Binder (``JUPYTERHUB_SERVICE_PREFIX`` is set) and ``direct``
      everywhere else. A local Jupyter server has the proxy too, but the direct address works there and shows
      the server exactly as a browser sees it, so it is preferred; force the proxy with ``via="proxy"``.

    Through the proxy the server sees the path without the proxy's prefix, so relative links in the page work,
    but links starting with ``/`` leave the proxy (see the module documentation).
    """
    target = _target(server_or_port)
    path = _clean_path(path)
    if _choose_via(via) == "direct":
        return f"{target.scheme}://{_hostport(target)}{path}"
    if target.scheme != "http":
        raise ValueError(f"{target.name or 'this server'} serves HTTPS, and Jupyter's proxy reaches servers over "
                         "plain HTTP only: serve it without tls= to see it through the proxy, or use via='direct'")
    if jupyter is None:
        base = jupyter_base_url()
    elif urlsplit(jupyter).scheme:
        base = _with_slash(jupyter)
    else:
        base = _with_slash(jupyter if jupyter.startswith("/") else "/" + jupyter)
    return f"{base}proxy/{target.port}{path}"


# --- a link -------------------------------------------------------------------------------------------------

def _display(*objs, **kwargs) -> None:
    from IPython.display import display

    display(*objs, **kwargs)


def _link_text(target: _Target, path: str) -> str:
    if target.name:
        page = target.name if path == "/" else f"{path} of {target.name}"
    else:
        page = "the page" if path == "/" else path
    return f"Open {page} in a new browser tab"


def link_bundle(server_or_port, path: str = "/", text: str | None = None, *, via: str | None = None,
                jupyter: str | None = None) -> dict[str, str]:
    """The display data of :func:`open_link`: ``text/html`` (the link) and ``text/plain`` (text and address)."""
    target = _target(server_or_port)
    path = _clean_path(path)
    url = browser_url(server_or_port, path, via=via, jupyter=jupyter)
    text = _link_text(target, path) if text is None else str(text)
    return {
        "text/html": f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{html.escape(text)}</a>',
        "text/plain": f"{text}: {url}",
    }


def open_link(server_or_port, path: str = "/", text: str | None = None, *, via: str | None = None,
              jupyter: str | None = None) -> None:
    """Show a link that opens ``path`` of a practice web server in a new browser tab.

    The address is :func:`browser_url`'s (the same ``via`` and ``jupyter``). The link's text names the page and
    the server but not the port, so the cell's saved output does not change from run to run. Raises
    :class:`NotServing` if nothing listens on the port.
    """
    _check_listening(_target(server_or_port))
    _display(link_bundle(server_or_port, path, text, via=via, jupyter=jupyter), raw=True)


# --- the page, inline ---------------------------------------------------------------------------------------

@dataclass
class Hop:
    """One request of a page fetch and its response (a redirect adds hops)."""

    path: str
    status: int
    reason: str


@dataclass
class Page:
    """A page fetched from a practice server by :func:`fetch_page`; shows itself in a sandboxed frame."""

    path: str
    hops: list[Hop]
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


def _hops(response) -> list[Hop]:
    def hop(r) -> Hop:
        uri = r.request.absoluteURI.decode("ascii", "replace") if r.request is not None else "/"
        parts = urlsplit(uri)
        path = redact_text((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        return Hop(path, r.code, r.phrase.decode("latin-1", "replace") if isinstance(r.phrase, bytes) else r.phrase)

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
    target = _target(server_or_port)
    path = _clean_path(path)
    url = f"{target.scheme}://{_hostport(target)}{path}"
    if target.scheme != "http":
        raise ValueError(f"{target.name or 'this server'} serves HTTPS; show_page fetches plain HTTP only. "
                         "Open it in the browser with open_link(...) instead.")
    try:
        return bridge.react(_fetch, url, height, timeout=timeout)
    except Exception as exc:
        from twisted.web.client import ResponseFailed

        if _refused(exc):
            raise NotServing(_not_listening(target)) from None
        if isinstance(exc, ResponseFailed):  # ResponseNeverReceived is one
            raise ConnectionError(
                f"{_hostport(target)} accepted the connection but sent no complete HTTP response to GET {path} "
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
    _display(fetch_page(server_or_port, path, height, timeout=timeout))
