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

from labkit.browser.jupyter import jupyter_base_url, jupyter_server_info
from labkit.browser.links import VIA_ENV, NotServing, browser_url, link_bundle, open_link
from labkit.browser.page import RedirectHop, Page, fetch_page, show_page

__all__ = ["RedirectHop", "NotServing", "Page", "VIA_ENV", "browser_url", "fetch_page", "jupyter_base_url",
           "jupyter_server_info", "link_bundle", "open_link", "show_page"]
