"""Chapter 4's check for forms (4.3): a greeting form posted with ``http.client``, in UTF-8, with HTML in it,
empty, too big, or sent with the wrong method."""

from __future__ import annotations

import html
import random

from labkit.checks import Check, server_health, short, unwritten
from labkit.checks.web import FORM_HEADERS, Reply, fetch, form, http_factory

__all__ = ["check_greeting_form"]

MAX_FORM_BYTES = 10_000


# --- 4.3 forms --------------------------------------------------------------------------------------------------

def check_greeting_form(request_class) -> None:
    """Exercise 4.3: ``POST /greet`` with a form field ``name`` answers ``Hello, NAME!`` (escaped, UTF-8); no
    name or a blank one is 400, a body over 10,000 bytes 413, ``GET /greet`` 405 with ``Allow: POST``."""
    with Check("the greeting form greets by name, safely, and refuses bad posts",
               start="in greet, read the name from request.args (bytes to lists of bytes), write a page, "
                     "then request.finish()") as check:
        served = check.serve(http_factory(request_class), "check-greeting-form")

        def post(body: bytes, **extra) -> Reply:
            return fetch(served.port, "POST", "/greet", body=body, headers={**FORM_HEADERS, **extra})

        name = random.choice(["Ada", "Grace", "Radia", "Barbara", "Frances"])
        ada = post(form(name=name))
        if unwritten(check, served):
            return
        check.expect("a name", (200, f"Hello, {name}!"), (ada.outcome, short(ada.body, 120)),
                     ok=ada.status == 200 and ada.has(f"Hello, {name}!".encode()), sent=form(name=name),
                     hint=ada.answered_500() or ("a POST was refused with 405: request.method is bytes (b'POST')"
                                                 if ada.status == 405 else "greet with the name the form sent"))
        check.expect("Content-Type says UTF-8", "text/html; charset=utf-8",
                     (ada.header("content-type") or "(none)").replace(" ", "").lower().replace(";", "; "),
                     hint="say the page's type and encoding in its Content-Type header, before writing")
        zoe = post(form(name="Zoë"))
        check.expect("name=Zoë (UTF-8 in the form)", "Hello, Zoë!".encode(), short(zoe.body, 300),
                     ok=zoe.has("Hello, Zoë!".encode()), sent=form(name="Zoë"),
                     hint="form values are bytes: decode them with .decode('utf-8') and encode the page "
                          "with .encode('utf-8')")
        evil = "<script>alert('hi')</script>"
        attack = post(form(name=evil))
        check.expect("a name with HTML in it is escaped", html.escape(evil).encode(), short(attack.body, 300),
                     ok=attack.has(html.escape(evil).encode()) and b"<script>" not in attack.body,
                     sent=form(name=evil),
                     hint="never echo form data as it came: html.escape(name) turns < > & ' \" into entities")
        twice = post(b"name=Ada&name=Bob")  # the first one counts, as in request.args[b'name'][0]
        check.expect("two name fields: the first one counts", True, twice.has(b"Hello, Ada!"),
                     ok=twice.has(b"Hello, Ada!"), sent=b"name=Ada&name=Bob",
                     hint="request.args[b'name'] is a list; take its first item")
        empty = post(b"")
        check.expect("no name at all: 400, with a page that asks for a name", (400, True),
                     (empty.outcome, b"name" in empty.body.lower()), sent=b"",
                     hint=empty.answered_500() or "a post without a name gets 400 Bad Request, saying what is "
                                                  "missing")
        blank = post(b"name=%20%20")
        check.expect("a blank name", 400, blank.outcome, sent=b"name=%20%20",
                     hint="a name of only spaces is no name: strip it before you test it")
        big = post(b"name=" + b"x" * 20_000)
        check.expect("a 20,000-byte post", 413, big.outcome, sent="name=xxxx... (20,005 bytes)",
                     hint="compare int(request.getHeader(b'content-length') or 0) with MAX_FORM_BYTES and "
                          "answer 413 when it is larger")
        odd = post(b"name=%FF%FE")
        check.expect("a name that is not UTF-8 gets an answer (200 or 400), not a crash", "200 or 400",
                     odd.outcome, ok=odd.status in (200, 400), sent=b"name=%FF%FE",
                     hint=f"{odd.answered_500() or odd.summary}: decode with errors='replace' so bytes that are not UTF-8 "
                          "cannot raise")
        got = fetch(served.port, "GET", "/greet")
        check.expect("GET /greet", (405, "POST"), (got.outcome, got.header("allow")),
                     hint="the greeting takes POST only: 405, with an Allow header naming POST")
        again = post(b"name=Ada")
        check.expect("after all that, the server still greets", 200, again.outcome)
        server_health(check, served)
