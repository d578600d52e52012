"""Checks for chapter 4, Web Servers.

Each ``check_*`` function serves what the learner wrote on 127.0.0.1 (``labkit.serve``) and drives it over real
HTTP: from the cell's own thread with ``http.client`` (a client that shares nothing with Twisted), or, for the
proxies, through ``twisted.web.client.ProxyAgent``. It looks at status codes, headers, bodies, redirects,
escaping and what reached the database or the origin server, then shows a pass or raises
:class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check starts is stopped again.
One module per part of the chapter; ``from labkit.chapters.ch04 import check_x`` finds them all.
"""

from labkit.chapters.ch04.blog import check_blog_save
from labkit.chapters.ch04.by_hand import check_http_by_hand, check_request_handler
from labkit.chapters.ch04.forms import check_greeting_form
from labkit.chapters.ch04.glossary import check_glossary
from labkit.chapters.ch04.proxies import check_polite_proxy, check_title_proxy

__all__ = ["check_blog_save", "check_glossary", "check_greeting_form", "check_http_by_hand", "check_polite_proxy",
           "check_request_handler", "check_title_proxy"]
