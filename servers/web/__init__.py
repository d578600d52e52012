"""Chapter 3's practice web site: one twisted.web resource tree with fixed fixtures, for web clients to fetch.

``site(**options)`` builds it (a :class:`PracticeSite`, the catalogue's ``web``); ``labkit.serve("web")`` or
``python -m servers web [--tls]`` puts it on a port. Pages are HTML (``text/html; charset=utf-8``) unless said
otherwise. The fixed pages (``/``, ``/hello``, ``/big``, ``/private`` once logged in, the form of ``/check``,
``/slow/*``) carry ``Last-Modified`` :data:`FIXTURES_MODIFIED` (Wed, 01 Jun 2005 00:00:00 GMT) and answer 304 with
no body to a GET or HEAD whose ``If-Modified-Since`` is not earlier (unless an ``If-None-Match`` is present: it
decides, and no tag but ``*`` matches a page without an ETag); refusals, errors, redirects, upload reports and
``/plain`` carry none.

Fixtures (fixed, so checks can rely on them):

``/``
    200: an index page linking every fixture below.
``/hello``
    200: exactly :data:`HELLO_HTML`, a small HTML page titled ``Hello``.
anything else (``/nowhere``, ``/hello/x``, ``/slow``)
    404: an HTML page titled ``404 Not Found`` that names the path, for every method.
a method a page does not take (``POST /hello``)
    405 with ``Allow`` and an HTML page titled ``405 Method Not Allowed``. Pages take GET and HEAD;
    ``/check`` takes POST too; ``/error``, ``/never`` and the 404 take anything.
``/error``
    500: an HTML page titled ``500 Internal Server Error`` (on purpose; nothing broke), for every method.
``/big``
    200 ``text/plain``, ``Content-Length: 1000000``: exactly :data:`BIG_SIZE` bytes of :func:`text_body`,
    10,000 numbered lines of 100 bytes each (``line 00001 of 10000 ...``), the same on every request, written
    as the client reads it (a client that never reads holds the server to one buffer, however many it asks for).
``/private``
    HTTP Basic authentication, realm ``practice``. Without credentials, or with wrong ones: 401 with
    ``WWW-Authenticate: Basic realm="practice"`` and an HTML page titled ``401 Unauthorized``. With
    :data:`USERNAME` / :data:`PASSWORD` (``learner`` / ``twisted``, the ``web`` accounts of
    :mod:`servers.accounts`): 200, :data:`PRIVATE_HTML`. These credentials grant nothing anywhere; they are a
    fixture.
``/news``
    200 with ``ETag`` and ``Last-Modified``: the current :class:`NewsItem` as a page. The first item is
    version 1, ETag ``"news-1"``, Last-Modified :data:`NEWS_START` (Wed, 01 Jun 2005 12:00:00 GMT).
    304 with no body when ``If-None-Match`` names the current ETag, weak or strong (or is ``*``); when it has no
    ``If-None-Match``, 304 when ``If-Modified-Since`` is not earlier than Last-Modified. (With an
    ``If-None-Match`` present, ``If-Modified-Since`` is ignored, as HTTP says.) ``site.bump_news(text)``
    publishes a new item: version + 1, ETag ``"news-N"``, Last-Modified one minute later than before.
``/plain``
    200: an HTML page sent without ``ETag`` or ``Last-Modified``; never 304.
``/check``
    GET: an HTML upload form (a file field named ``uploaded_file``, like the W3C validator's form).
    POST ``multipart/form-data``: 200 and an HTML report titled ``Upload report``: every field's name, file
    name, content type and size in bytes, and for the uploaded file (the field ``uploaded_file``, else the
    first field with a file name) a small check of its HTML: doctype, title, unclosed and stray tags.
    A body that is not proper multipart (no Content-Type, another type, no ``boundary`` parameter, no
    ``--BOUNDARY`` delimiter lines, no closing ``--BOUNDARY--`` line, a part without a form-data name) gets
    400 and an HTML page titled ``400 Bad Request`` listing what is wrong, one ``<li>`` per problem, for
    example ``Content-Type has no boundary parameter``. :func:`inspect_upload` is the same check as a function.
    The latest POSTs' :class:`UploadReport` objects are kept in ``site.uploads``. The 400 report needs the tree
    served by ``site.make_site()``: a default ``Site(site)`` parses multipart bodies before any resource sees
    them and answers one it cannot parse with a bare 400 and a hang-up.
``/slow/sized`` and ``/slow/chunked``
    200 ``text/plain``: the first ``slow_size`` (default 256 KiB) bytes of :func:`text_body`, written in
    ``slow_chunks`` (default 16) pieces spread evenly over ``slow_duration`` seconds (default 2): the first piece
    at once, the last one after the full duration. ``/slow/sized`` sends ``Content-Length``; ``/slow/chunked``
    sends none, so HTTP/1.1 clients get ``Transfer-Encoding: chunked`` (HTTP/1.0 ones read until the
    connection closes). ``?duration=SECONDS`` (0 to 60) overrides the duration for one request. When the
    client goes away the sending stops.
``/redirect``
    302 with ``Location: /hello``.
``/never``
    Never answers, whatever the method. A waiting request is forgotten as soon as its client disconnects
    (``site.waiting_forever`` counts the ones still waiting).

Any request body over :data:`MAX_BODY` bytes (1 MB) gets 413, and is not kept. A request the site cannot read gets
400 (malformed), 414 (a request line over 16384 bytes) or 431 (a header line that long); an HTTP/1.1 request without
``Host`` (or with two) gets 400. Each refusal has ``Date`` and an HTML page that says what to fix, and the
connection then closes lingering: what the client still sends is read and dropped (for a few seconds, a few MB), so
the client reads the refusal instead of a reset. ``GET http://host/path`` (the absolute form) is ``GET /path``.

The request log: every request that reaches the site is appended to ``site.requests`` as a
:class:`RequestRecord` (method, path, query, every request header, body size, then response code and bytes
sent), and so is every request refused before it reaches the site (413, 414, 431, 400: as much of its request
line and headers as was read, and the code sent); ``site.requests_to("/news")`` filters by path,
``site.clear_requests()`` empties it. Notebook checks read it to see what a client really sent. It keeps the newest
10,000 records within about 4 MB; older ones are dropped first, and ``site.requests.note`` says how many were.

Where each part lives: :mod:`~servers.web.pages` (the page kit), :mod:`~servers.web.records` (the request log),
:mod:`~servers.web.auth` (``/private``), :mod:`~servers.web.conditional` (validators and 304),
:mod:`~servers.web.news` (``/news``), :mod:`~servers.web.upload` (``/check``), :mod:`~servers.web.bodies` (the body
ceiling), :mod:`~servers.web.slow` (``/slow/*``, ``/never``), :mod:`~servers.web.channel`,
:mod:`~servers.web.target` and :mod:`~servers.web.lingering` (requests it cannot take, and how it refuses them),
:mod:`~servers.web.practice_site` (the tree).
"""

from servers.web.auth import PASSWORD, PRIVATE_HTML, REALM, USERNAME
from servers.web.bodies import MAX_BODY
from servers.web.conditional import FIXTURES_MODIFIED
from servers.web.news import NEWS_START, NEWS_TEXT, NewsItem
from servers.web.pages import BIG_SIZE, text_body
from servers.web.practice_site import HELLO_HTML, PracticeSite, site
from servers.web.records import RequestRecord
from servers.web.slow import SLOW_CHUNKS, SLOW_DURATION, SLOW_SIZE, SlowPage
from servers.web.upload import FormField, HtmlCheck, UploadReport, check_html, inspect_upload

__all__ = ["BIG_SIZE", "FIXTURES_MODIFIED", "FormField", "HELLO_HTML", "HtmlCheck", "MAX_BODY", "NEWS_START",
           "NEWS_TEXT", "NewsItem", "PASSWORD", "PRIVATE_HTML", "PracticeSite", "REALM", "RequestRecord", "SLOW_CHUNKS",
           "SLOW_DURATION", "SLOW_SIZE", "SlowPage", "USERNAME", "UploadReport", "check_html", "inspect_upload", "site",
           "text_body"]
