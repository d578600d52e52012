"""Chapter 4's check for a resource tree (4.4): the learner's glossary site, its stylesheet, its redirect, its
404s and 405s, and its relative links."""

from __future__ import annotations

import html
import random
import re
from urllib.parse import urljoin

from labkit.checks import Check, call_learner, limits, server_health
from labkit.checks.web import fetch

__all__ = ["check_glossary"]


# --- 4.4 a resource tree ----------------------------------------------------------------------------------------

CHECK_CSS = "/* the check's stylesheet */\nbody { font-family: sans-serif; }\n"
CHECK_GLOSSARY = {
    b"reactor": "The event loop: it waits for events and calls your code.",
    b"deferred": "A result that is not there yet.",
    b"markup": "Pages use <tags>; escape & before you echo.",
}
_ROOT_RELATIVE = re.compile(rb"""(?:href|src|action)\s*=\s*["']?/(?!/)""", re.I)
_BODY_START = re.compile(rb"<body\b[^>]*>", re.I)
_HREF = re.compile(rb"""href\s*=\s*["']?([^"'\s>]*)""", re.I)


def _term_page(path: str, body: bytes) -> dict[str, object]:
    """What a term page at ``path`` shows in its <body>: its headings' texts, the texts of its elements (tags
    left out around them), where its links and its stylesheets lead (resolved against ``path``)."""
    start = _BODY_START.search(body)
    shown = body[start.end():] if start else body
    stylesheets = [tag for tag in re.findall(rb"<link\b[^>]*>", body, re.I) if b"stylesheet" in tag.lower()]
    return {
        "headings": [text.strip().decode("utf-8", "replace")
                     for text in re.findall(rb"<h[1-6]\b[^>]*>([^<]*)</h[1-6]>", shown, re.I)],
        "texts": {text.strip() for text in re.findall(rb">([^<]*)<", shown)},
        "links": {urljoin(path, href.decode("utf-8", "replace"))
                  for tag in re.findall(rb"<a\b[^>]*>", shown, re.I) for href in _HREF.findall(tag)},
        "stylesheets": {urljoin(path, href.decode("utf-8", "replace"))
                        for tag in stylesheets for href in _HREF.findall(tag)},
    }


def check_glossary(build_glossary) -> None:
    """Exercise 4.4: ``build_glossary(folder, glossary)`` returns a resource tree: ``/`` a home page,
    ``/styles.css`` the file from ``folder`` (text/css), ``/terms`` a redirect to ``terms/``, ``/terms/`` an
    index, ``/terms/NAME`` a page per term (404 for unknown terms and anything below a term), 405 for POST; all
    links relative."""
    with Check("your glossary site: pages, stylesheet, redirect, 404s and 405s, relative links",
               start="in build_glossary, make a resource.Resource() root and putChild the home page, the "
                     "stylesheet and the terms folder under it") as check:
        folder = check.temporary_folder("check-glossary-")
        (folder / "styles.css").write_text(CHECK_CSS)
        glossary = {**CHECK_GLOSSARY, f"term{random.randrange(10**6)}".encode(): "A term made up by the check."}
        root = call_learner(build_glossary, folder, dict(glossary), timeout=limits.QUICK, blocking=True)
        served = check.serve(root, "check-glossary")
        port = served.port
        home = fetch(port, "GET", "/")
        check.expect("GET /", (200, "text/html"),
                     (home.outcome, (home.header("content-type") or "").split(";")[0]), hint=home.answered_500())
        check.expect("the home page links the stylesheet relatively", True,
                     home.has(b"styles.css"), ok=home.has(b"styles.css"))
        css = fetch(port, "GET", "/styles.css")
        check.expect("GET /styles.css", (200, "text/css", CHECK_CSS.encode()),
                     (css.outcome, (css.header("content-type") or "").split(";")[0], css.body),
                     hint=css.answered_500() or "serve the stylesheet from the folder given, as a file "
                                                "(static.File sets its type)")
        moved = fetch(port, "GET", "/terms")
        where = urljoin("/terms", moved.header("location") or "")
        check.expect("GET /terms redirects to /terms/", ("a redirect", "/terms/"),
                     ("a redirect" if moved.status in (301, 302, 303, 307, 308) else moved.outcome, where),
                     hint=moved.answered_500() or "a folder asked for without its final / redirects to the "
                                                  "same name with it (a relative Location, terms/)")
        index = fetch(port, "GET", "/terms/")
        check.expect("GET /terms/ lists every term", (200, True),
                     (index.outcome, all(name in index.body for name in glossary)),
                     hint=index.answered_500() or "the index lists every term of the glossary given")
        pages = [(root_relative, path) for path, reply in (("/", home), ("/terms/", index))
                 for root_relative in _ROOT_RELATIVE.findall(reply.body)]
        check.expect("no link starts with / (they would leave a proxy's prefix)", [], pages,
                     hint="write relative links: href='styles.css' on /, href='../styles.css' and "
                          "href='reactor' on /terms/; a leading / skips jupyter-server-proxy's prefix")
        term = fetch(port, "GET", "/terms/reactor")
        check.expect("GET /terms/reactor", (200, True),
                     (term.outcome, term.has(CHECK_GLOSSARY[b"reactor"].encode())),
                     hint=term.answered_500() or "a term's page shows its meaning")
        if term.status == 200:
            _check_term_page(check, term, "reactor", CHECK_GLOSSARY[b"reactor"])
        made_up = sorted(set(glossary) - set(CHECK_GLOSSARY))[0]
        other = fetch(port, "GET", "/terms/" + made_up.decode())
        check.expect("GET /terms/ of a term the check made up", (200, True),
                     (other.outcome, other.has(glossary[made_up].encode())),
                     hint=other.answered_500() or "every term of the glossary given has its page")
        markup = fetch(port, "GET", "/terms/markup")
        check.expect("a meaning with < and & is escaped", True,
                     markup.has(b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                     ok=markup.has(b"&lt;tags&gt;") and b"<tags>" not in markup.body,
                     hint=markup.answered_500() or "the meaning went into the page as HTML: escape it")
        if b"did not return bytes" in term.body + markup.body:
            failed = term if term.status == 500 else markup
            check.hint = (f"{failed.answered_500()}. render_GET returned a str: Twisted answers 500 and logs "
                          "nothing; return bytes (text.encode('utf-8'))")
        unknown = fetch(port, "GET", "/terms/nosuchterm")
        check.expect("GET /terms/nosuchterm", 404, unknown.outcome,
                     hint=unknown.answered_500() or "a name that is not in the glossary is not found: 404")
        below = fetch(port, "GET", "/terms/reactor/extra")
        check.expect("GET /terms/reactor/extra (nothing below a term)", 404, below.outcome,
                     hint=(f"{below.answered_500()}: a Resource subclass with an __init__ of its own must call "
                           "super().__init__(), which makes its children" if below.status == 500 else
                           "a path below a term was answered 200: a leaf resource (isLeaf = True) answers every "
                           "path below it" if below.status == 200 else ""))
        posted = fetch(port, "POST", "/terms/reactor", body=b"")
        check.expect("POST /terms/reactor", (405, True), (posted.outcome, "GET" in (posted.header("allow") or "")),
                     hint="define render_GET (not render): Twisted then answers other methods with 405 "
                          "and an Allow header by itself")
        server_health(check, served)


def _check_term_page(check: Check, term, name: str, meaning: str) -> None:
    """The term page the exercise asks for: HTML in UTF-8, the name as its heading, the meaning on its own, a link
    back to the index and the stylesheet one folder up."""
    kind = term.header("content-type") or ""
    charset = re.search(r"charset\s*=\s*([\w-]+)", kind, re.I)
    check.expect("/terms/reactor's content type", ("text/html", "utf-8"),
                 (kind.split(";")[0].strip().lower(), charset.group(1).lower() if charset else None),
                 hint=f"the page came as {kind or 'no content type'}: set content-type to text/html; "
                      "charset=utf-8, as GlossaryHome does")
    shown = _term_page("/terms/" + name, term.body)
    check.expect("/terms/reactor has the name as its heading", True, name in shown["headings"],
                 ok=name in shown["headings"],
                 hint=f"the page's body had the headings {shown['headings']}: put the name alone in an <h1> "
                      "(glossary_page takes the title first, then the body)")
    alone = html.escape(meaning).encode("utf-8") in shown["texts"]
    check.expect("/terms/reactor shows the meaning in its body, alone in its element", True, alone, ok=alone,
                 hint="the meaning was not the whole text of an element of the page's body: put it in its "
                      "own <p>, escaped, with nothing added")
    check.expect("/terms/reactor links back to the index /terms/", True, "/terms/" in shown["links"],
                 ok="/terms/" in shown["links"],
                 hint=f"its links led to {sorted(shown['links']) or 'nowhere'}: link the index relatively "
                      "(href='./' from /terms/reactor)")
    check.expect("/terms/reactor's stylesheet resolves to /styles.css", True,
                 "/styles.css" in shown["stylesheets"], ok="/styles.css" in shown["stylesheets"],
                 hint=f"its stylesheet led to {sorted(shown['stylesheets']) or 'nowhere'}: from /terms/reactor "
                      "the stylesheet is ../styles.css")
