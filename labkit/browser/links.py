"""Which server a page is asked of, and the address a learner's browser opens for it: the server itself on a
laptop, the Jupyter server's proxy on a JupyterHub or Binder; a link to it."""

from __future__ import annotations

import html
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from labkit import serving
from labkit.browser.jupyter import jupyter_base_url, with_slash

__all__ = ["VIA_ENV", "NotServing", "browser_url", "display", "link_bundle", "open_link"]

VIA_ENV = "LABKIT_BROWSER_VIA"
_VIAS = ("proxy", "direct")


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
    return any(port in server.ports for server in serving.running_servers())


def which_server(server_or_port) -> _Target:
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
            raise NotServing(not_listening(target)) from None


def not_listening(target: _Target) -> str:
    what = f"the practice server {target.name!r}" if target.name else "a server"
    return (f"Nothing is listening on {hostport(target)}, so there is no page to show. Run the cell that starts "
            f"{what} (labkit.serve(...)) first, then this one; labkit.running_servers() lists what runs.")


def hostport(target: _Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{target.port}"


def clean_path(path: str) -> str:
    if not isinstance(path, str):
        raise TypeError(f"path must be a str such as '/' or '/color/', not {path!r}")
    return path if path.startswith("/") else "/" + path


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
    target = which_server(server_or_port)
    path = clean_path(path)
    if _choose_via(via) == "direct":
        return f"{target.scheme}://{hostport(target)}{path}"
    if target.scheme != "http":
        raise ValueError(f"{target.name or 'this server'} serves HTTPS, and Jupyter's proxy reaches servers over "
                         "plain HTTP only: serve it without tls= to see it through the proxy, or use via='direct'")
    if jupyter is None:
        base = jupyter_base_url()
    elif urlsplit(jupyter).scheme:
        base = with_slash(jupyter)
    else:
        base = with_slash(jupyter if jupyter.startswith("/") else "/" + jupyter)
    return f"{base}proxy/{target.port}{path}"


# --- a link -------------------------------------------------------------------------------------------------

def display(*objs, **kwargs) -> None:
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
    target = which_server(server_or_port)
    path = clean_path(path)
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
    _check_listening(which_server(server_or_port))
    display(link_bundle(server_or_port, path, text, via=via, jupyter=jupyter), raw=True)
