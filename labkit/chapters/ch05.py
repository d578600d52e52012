"""Checks for chapter 5, Web Services and RPC.

Each ``check_*`` function drives what the learner wrote with a client that shares nothing with it: their REST
resource with ``http.client``, their XML-RPC resource with the standard library's ``xmlrpc.client`` (both from
the check's own thread), their SOAP client against the ``soap`` practice server, and their Perspective Broker
root with Twisted's own PB client (no other implementation of PB exists). It looks at status codes, bodies,
return values, faults and what reached the server, then shows a pass or raises
:class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import html
import re

from labkit.chapters.ch05_attachment import check_attachment
from labkit.checks import Check, call_learner, fetch, limits, logged_error, server_health, short, unwritten
from labkit.checks.outcome import Outcome
from labkit.checks.values import Shown
from labkit.checks.xmlrpc import call, fault

__all__ = ["check_attachment", "check_copy_page", "check_note_store", "check_page_sizes", "check_page_stats",
           "check_tally_root"]


# --- 5.1 REST ---------------------------------------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")


def _page_lines(reply, lines: int = 3) -> str:
    """The first lines of an HTML (or text) answer's readable text: what a 500 page says."""
    text = html.unescape(_TAG.sub("\n", reply.body.decode("utf-8", "replace")))
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[:lines])[:200]


def _answer(reply):
    """A reply as an expectation shows it: the status code, and for a 500 the first lines of its page."""
    if reply.status == 500:
        return Shown(f"500: {_page_lines(reply)}")
    return reply.outcome


def _server_error_hint(logged: str, *replies) -> str:
    """A hint from the first 500 page among ``replies`` (Twisted names there what went wrong) and the exception
    in the server's log (``logged``)."""
    for reply in replies:
        if reply.status == 500:
            page = _page_lines(reply)
            if "did not return bytes" in page:
                return ("Twisted answered 500, \"Request did not return bytes\": a render_ method returned str; "
                        "what it returns is the body, and a body is bytes (b'...', or text.encode('utf-8'))")
            if "BytesIO" in logged or "BufferedRandom" in logged:
                return (f"the server answered 500 ({page}) and its log shows {logged}: a note stored is "
                        "request.content, the file object, as in the book's Example 5-1, not the text read from it")
            return f"the server answered 500 ({page}); its log shows {logged or 'no exception'}"
    return ""


def check_note_store(store_class) -> None:
    """Exercise 5.1a: ``store_class()`` is a resource whose children are notes: PUT stores the body's UTF-8 text
    (201 for a new note, 200 for a changed one, 400 for a body that is not UTF-8), GET gives it back, DELETE
    removes it (200, then 404)."""
    import random

    with Check("your note store keeps notes with PUT, gives them back with GET and forgets them with DELETE",
               start="in render_PUT, read the request's body (request.content, a file), store it as text in "
                     "self.notes[self.name], and return bytes") as check:
        served = check.serve(store_class(), "check-notes")
        port = served.port
        first = f"milk, café, {random.randint(2, 99)} eggs"
        second = f"bread × {random.randint(2, 9)}"
        created = fetch(port, "PUT", "/shopping", first.encode("utf-8"))
        if unwritten(check, served):
            return
        got = fetch(port, "GET", "/shopping")
        changed = fetch(port, "PUT", "/shopping", second.encode("utf-8"))
        again = fetch(port, "GET", "/shopping")
        bad = fetch(port, "PUT", "/latin", "café".encode("latin-1"))
        after_bad = fetch(port, "GET", "/latin")
        deleted = fetch(port, "DELETE", "/shopping")
        after_delete = fetch(port, "GET", "/shopping")
        deleted_again = fetch(port, "DELETE", "/shopping")
        error = _server_error_hint(logged_error(served.log.text), created, got, changed, bad, deleted,
                                   deleted_again)
        check.expect("PUT /shopping (a new note)", 201, _answer(created), sent=first,
                     hint=error or f"a note that did not exist before is Created, 201 (your PUT answered "
                                   f"{created.outcome})")
        check.expect("GET /shopping gives the text back", (200, short(first.encode("utf-8"), 80)),
                     (_answer(got), short(got.body, 80)), ok=(got.status, got.body) == (200, first.encode()),
                     hint=error)
        check.expect("PUT /shopping again (a changed note)", 200, _answer(changed), sent=second,
                     hint=error or "a note that existed already is replaced: 200, not 201")
        check.expect("GET /shopping after the change", short(second.encode("utf-8")), short(again.body),
                     ok=again.body == second.encode("utf-8"), hint=error or "the second PUT must replace the text")
        check.expect("PUT of bytes that are not UTF-8", 400, _answer(bad), sent=b"caf\xe9",
                     hint=error or "bytes that are not UTF-8 raise UnicodeDecodeError when decoded: answer that "
                                   "PUT 400 (Bad Request) and store nothing")
        check.expect("... stores nothing", 404, after_bad.outcome)
        check.expect("DELETE /shopping", 200, _answer(deleted), hint=error)
        check.expect("GET /shopping after DELETE", 404, after_delete.outcome,
                     hint="DELETE must remove the note from self.notes")
        check.expect("DELETE /shopping again", 404, _answer(deleted_again),
                     hint=error or "deleting a note that is not there is Not Found, 404")
        server_health(check, served)


COPY_PAGES = {"WikiHome": "Start at WikiHome. Copy me <carefully> & completely.", "Other": "Already here."}


def check_copy_page(copy_page) -> None:
    """Exercise 5.1b: ``copy_page(reactor, base_url, source, target)`` copies a page of the ``wiki`` practice
    server through its JSON API with treq: GET ``api/pages/SOURCE``, PUT ``{"text": ...}`` to
    ``api/pages/TARGET``, and fires with the PUT's status (201 new, 200 replaced); a missing source fails its
    Deferred and stores nothing."""
    from servers.rpc import WikiData
    from servers.rpc.rest import wiki as rest_wiki

    with Check("your REST client copies a page through the wiki's JSON API",
               start="read the source page with treq.get(f'{base_url}api/pages/{source}') and its .json(), then "
                     "PUT its text to the target's address") as check:
        site = rest_wiki(WikiData(dict(COPY_PAGES)))
        served = check.serve(site, "check-copy-page")
        base_url = f"http://127.0.0.1:{served.port}/"
        first = Outcome(copy_page, base_url, "WikiHome", "CopyOfHome", timeout=limits.LEARNER_CALL)
        copied = site.data.get_page("CopyOfHome")
        seen = [(record.method, record.path) for record in list(site.requests)]
        check.expect("copy_page(reactor, base_url, 'WikiHome', 'CopyOfHome')", Shown("it fired with 201"),
                     first.described(), hint=_copy_hint(first, seen))
        html_copied = copied is not None and "<!DOCTYPE" in copied
        check.expect("the text of CopyOfHome", COPY_PAGES["WikiHome"], short(copied, 80),
                     ok=copied == COPY_PAGES["WikiHome"],
                     hint=("you copied the HTML page: read the JSON API, f'{base_url}api/pages/{source}', and "
                           "take its 'text'") if html_copied else "")
        again = Outcome(copy_page, base_url, "WikiHome", "Other", timeout=limits.LEARNER_CALL)
        check.expect("copying over an existing page", Shown("it fired with 200"), again.described())
        before = len(site.requests)
        missing = Outcome(copy_page, base_url, "NoSuchPage", "Ghost", timeout=limits.LEARNER_CALL)
        puts = [record for record in list(site.requests)[before:] if record.method == "PUT"]
        check.expect("copying a page that does not exist fails", "an error", missing.described(),
                     ok=not missing.ok and not site.data.has_page("Ghost") and not puts,
                     hint="when the GET answers 404, raise (LookupError, say) before any PUT: a copy of "
                          "nothing must not be stored")
        methods = [(record.method, record.path) for record in list(site.requests)[:2]]
        check.expect("what the wiki saw first", [("GET", "/api/pages/WikiHome"), ("PUT", "/api/pages/CopyOfHome")],
                     methods)


def _copy_hint(outcome, seen: list) -> str:
    """Why the first copy did not fire with 201, from how it ended and what the wiki saw."""
    if seen and seen[0] != ("GET", "/api/pages/WikiHome"):
        return f"the wiki saw {seen[0][0]} {seen[0][1]} first: read the source, api/pages/WikiHome, first"
    if outcome.ok and outcome.value in (400, 415):
        return (f"the wiki answered your PUT {outcome.value}: its API takes a JSON body, {{'text': ...}} "
                "(treq.put(..., json=...))")
    if outcome.ok and outcome.value == 200 and ("PUT", "/api/pages/CopyOfHome") in seen:
        return "200 is the GET's status: return the status of the PUT, which says the page was Created (201)"
    return ""


# --- 5.2 XML-RPC ------------------------------------------------------------------------------------------------

STATS_PAGES = {"WikiHome": "Welcome to the wiki of RemoteCalls", "Empty": "", "Short": "two words"}


def check_page_stats(stats_class) -> None:
    """Exercise 5.2a: ``stats_class(pages)`` is an ``xmlrpc.XMLRPC`` resource: ``wordCount(name)`` the page's word
    count (fault 404 for a missing page), ``names()`` the sorted names, ``firstWord(name)`` the first word or
    nil for an empty page."""
    import random

    with Check("your XML-RPC page statistics answer xmlrpc.client, with a fault for a missing page",
               start="in __init__, call the base class's __init__ and keep the pages; each xmlrpc_ method "
                     "returns what the client gets") as check:
        pages = dict(STATS_PAGES)
        pages["Random"] = " ".join(random.sample(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"],
                                                 random.randint(2, 6)))
        served = check.serve(stats_class(pages), "check-page-stats")
        port = served.port
        count = call(port, "wordCount", "WikiHome")
        if unwritten(check, served):
            return
        check.expect("wordCount('WikiHome')", 6, count,
                     hint=("every call failed: a subclass of XMLRPC with its own __init__ must call "
                           "super().__init__(allowNone=True)") if "has no attribute" in str(count)
                     + logged_error(served.log.text) else
                     "count the page's words (split on white space), not its characters"
                     if count == len(STATS_PAGES["WikiHome"]) else "")
        check.expect("wordCount('Random')", len(pages["Random"].split()), call(port, "wordCount", "Random"))
        check.expect("wordCount('Empty')", 0, call(port, "wordCount", "Empty"))
        missing = call(port, "wordCount", "Nowhere")
        check.expect("wordCount('Nowhere') is fault 404", fault(404), short(missing, 60),
                     ok=str(missing).startswith(fault(404)),
                     hint="for a missing page raise xmlrpc.Fault(404, 'no page named ...'): any other exception "
                          "reaches the client as fault 8002 'error', which tells it nothing")
        names = call(port, "names")
        check.expect("names()", sorted(pages), names,
                     hint=("a dict's keys view cannot be sent: return sorted(self.pages), a list"
                           if "dict_keys" in str(names) or "marshal" in str(names) else
                           "return the names sorted: sorted(self.pages)"))
        check.expect("firstWord('Short')", "two", call(port, "firstWord", "Short"),
                     hint="the first word of 'two words' is 'two'")
        check.expect("firstWord('Random')", pages["Random"].split()[0], call(port, "firstWord", "Random"))
        empty = call(port, "firstWord", "Empty")
        check.expect("firstWord('Empty') is nil (None)", None, empty,
                     hint=("XML-RPC has no None unless both sides allow it: super().__init__(allowNone=True)"
                           if "None" in str(empty) else "return None for a page without words"))
        server_health(check, served, expected=("Fault",))


# --- 5.3 SOAP ---------------------------------------------------------------------------------------------------

SIZE_PAGES = {"WikiHome": "Start at WikiHome, then read SoapNotes.", "SoapNotes": "Envelopes & <tags>: 2005.",
              "Café": "Ünïcödé text counts characters"}


def check_page_sizes(page_sizes) -> None:
    """Exercise 5.3: ``page_sizes(wsdl_url)`` uses a SOAP client (zeep) on the ``soap`` practice server and
    returns ``{name: len(text)}`` for every page, with one ``listPages`` call and one ``getPage`` per page."""
    from servers.rpc import WikiData
    from servers.rpc.soap import soap_wiki

    with Check("your SOAP client reports the size of every page of the wiki",
               start="make a zeep.Client(wsdl_url); its client.service has one method per operation of the "
                     "WSDL (listPages, getPage)") as check:
        wiki = soap_wiki(WikiData({name.replace("é", "e"): text for name, text in SIZE_PAGES.items()}))
        served = check.serve(wiki, "check-soap")
        wsdl_url = f"http://127.0.0.1:{served.port}/soap?wsdl"
        result = call_learner(page_sizes, wsdl_url, timeout=limits.SOAP_SESSION, blocking=True)
        expected = {name: len(text) for name, text in wiki.data.pages.items()}
        encoded = {name: len(text.encode("utf-8")) for name, text in wiki.data.pages.items()}
        check.expect("the sizes", expected, result, sent=f"page_sizes({Shown('wsdl_url')})",
                     hint=("getRenderedPage returns HTML, longer than the text: call getPage"
                           if any(op == "getRenderedPage" for op, _ in wiki.calls) else
                           "those are sizes in bytes (UTF-8): a page's size here is its length in characters, "
                           "len(text)" if result == encoded else
                           "a page listPages named is missing" if isinstance(result, dict)
                           and set(result) < set(expected) else ""))
        operations = [op for op, _ in wiki.calls]
        check.expect("the calls the server saw", ["listPages"] + ["getPage"] * len(expected), operations,
                     ok=operations.count("listPages") == 1 and operations.count("getPage") == len(expected),
                     hint="ask listPages once, then getPage once per name (no guessing names, no repeats)")


# --- 5.4 Perspective Broker ------------------------------------------------------------------------------------

async def _tally_session(reactor, port: int):
    from twisted.spread import pb

    def described(failure):
        error = failure.value
        kind = getattr(error, "remoteType", type(error).__name__.encode())
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        return Shown(f"error {kind.rpartition('.')[2]}: {str(error.args[0] if error.args else '')[:80]}")

    async def ask(target, *args):
        try:
            return await target.callRemote(*args)
        except Exception:  # noqa: BLE001 - what crossed the wire is the result
            from twisted.python.failure import Failure

            return described(Failure())

    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", port, factory)
    try:
        root = await factory.getRootObject()
        answers = {"add('pears', 5)": await ask(root, "add", "pears", 5),
                   "add('apples')": await ask(root, "add", "apples"),
                   "add('apples', 2)": await ask(root, "add", "apples", 2),
                   "names()": await ask(root, "names")}
        tally = await ask(root, "tally", "apples")
        answers["tally('apples')"] = Shown("a remote reference") if isinstance(tally, pb.RemoteReference) else tally
        if isinstance(tally, pb.RemoteReference):
            answers["tally.callRemote('value')"] = await ask(tally, "value")
            answers["tally.callRemote('reset')"] = await ask(tally, "reset")
            answers["add('apples') after reset"] = await ask(root, "add", "apples")
            ghost = await ask(root, "tally", "plums")
            if isinstance(ghost, pb.RemoteReference):
                answers["tally('plums').callRemote('value'), never added"] = await ask(ghost, "value")
        return answers
    finally:
        factory.disconnect()


def check_tally_root(root_class) -> None:
    """Exercise 5.4: ``root_class()`` is a ``pb.Root``: ``add(name, amount=1)`` returns the new total,
    ``names()`` the sorted names, ``tally(name)`` a ``pb.Referenceable`` whose ``value()`` is that total and
    whose ``reset()`` sets it to 0 and returns 0. Driven by Twisted's PB client."""
    from twisted.spread import pb

    with Check("your PB root keeps tallies and hands out a remote reference to one",
               start="PB calls a root's methods named remote_NAME: write remote_add(name, amount=1) first, "
                     "keeping totals in self.tallies") as check:
        served = check.serve(pb.PBServerFactory(root_class()), "check-tally")
        outcome = Outcome(_tally_session, served.port, timeout=limits.LEARNER_CALL)
        if unwritten(check, served):
            return
        if not outcome.ok:
            check.expect("a PB session with your root", "answers", outcome.described())
            return
        got = outcome.value
        expected = {"add('pears', 5)": 5, "add('apples')": 1, "add('apples', 2)": 3,
                    "names()": ["apples", "pears"], "tally('apples')": Shown("a remote reference"),
                    "tally.callRemote('value')": 3, "tally.callRemote('reset')": 0,
                    "add('apples') after reset": 1, "tally('plums').callRemote('value'), never added": 0}
        hints = {"add('pears', 5)": "add(name, amount) adds amount (5 here) to the name's total, 0 at first",
                 "add('apples', 2)": "add(name, amount) adds amount to the total kept for that name",
                 "names()": "names() answers the names in sorted order",
                 "tally('apples')": "tally(name) must return an object whose class inherits pb.Referenceable: PB "
                                    "then sends a reference to it (anything else is copied, or refused)",
                 "tally.callRemote('value')": "the tally's value() is the total kept for its name, now",
                 "add('apples') after reset": "reset() must set the total kept for the name to 0, where add() "
                                              "will find it",
                 "tally('plums').callRemote('value'), never added": "a name never added has the total 0"}
        answers = " ".join(str(value) for value in got.values())
        hint = ""
        if "NoSuchMethod" in answers or "UnknownMethod" in answers:
            hint = "PB calls only methods named remote_NAME: def remote_add(self, name, amount=1): ..."
        elif "Insecure" in answers or "deemed insecure" in answers:
            hint = ("jelly refused to send something: return sorted(...) (a list), not a dict's keys view, and "
                    "make the tally's class inherit pb.Referenceable")
        for what, value in expected.items():
            check.expect(what, value, got.get(what, Shown("not called (an earlier answer was wrong)")),
                         hint=hint or hints.get(what, ""))
        server_health(check, served, expected=("InsecureJelly", "NoSuchMethod", "AttributeError"))
