"""Checks for chapter 5, Web Services and RPC.

Each ``check_*`` function drives what the learner wrote with a client that shares nothing with it: their REST
resource with ``http.client``, their XML-RPC resource with the standard library's ``xmlrpc.client`` (both from
the check's own thread), their SOAP client against the ``soap`` practice server, and their Perspective Broker
root with Twisted's own PB client (no other implementation of PB exists). It looks at status codes, bodies,
return values, faults and what reached the server, then shows a pass or raises
:class:`labkit.checks.CheckFailed`. Every wait is bounded; every server a check starts is stopped again.
"""

from __future__ import annotations

import threading

from labkit.bridge import LabTimeout
from labkit.checks import Check, fetch, limits, server_health, short, unwritten
from labkit.checks.outcome import Outcome
from labkit.checks.values import Shown
from labkit.checks.xmlrpc import call, fault

__all__ = ["check_copy_page", "check_note_store", "check_page_sizes", "check_page_stats", "check_tally_root"]


# --- 5.1 REST ---------------------------------------------------------------------------------------------------

def check_note_store(store_class) -> None:
    """Exercise 5.1: ``store_class()`` is a resource whose children are notes: PUT stores the body's UTF-8 text
    (201 for a new note, 200 for a changed one, 400 for a body that is not UTF-8), GET gives it back, DELETE
    removes it (200, then 404)."""
    with Check("your note store keeps notes with PUT, gives them back with GET and forgets them with DELETE",
               hint="the body is a file: text = request.content.read().decode('utf-8'); answer 201 with "
                    "request.setResponseCode(201) when the note is new, and return bytes") as check:
        served = check.serve(store_class(), "check-notes")
        port = served.port
        created = fetch(port, "PUT", "/shopping", "milk, café".encode("utf-8"))
        if unwritten(check, served):
            return
        check.expect("PUT /shopping (a new note)", 201, created.outcome, sent="milk, café",
                     hint="a note that did not exist before: request.setResponseCode(201) (Created)")
        got = fetch(port, "GET", "/shopping")
        stored_file = b"_io.BytesIO" in got.body or b"BufferedRandom" in got.body
        check.expect("GET /shopping gives the text back", (200, "milk, café".encode("utf-8")),
                     (got.outcome, short(got.body, 80)), ok=(got.status, got.body) == (200, "milk, café".encode()))
        changed = fetch(port, "PUT", "/shopping", b"bread")
        check.expect("PUT /shopping again (a changed note)", 200, changed.outcome,
                     hint="answer 200 when the note existed already, 201 only for a new one")
        check.expect("GET /shopping after the change", b"bread", fetch(port, "GET", "/shopping").body)
        bad = fetch(port, "PUT", "/latin", "café".encode("latin-1"))
        check.expect("PUT of bytes that are not UTF-8", 400, bad.outcome, sent=b"caf\xe9",
                     hint="catch UnicodeDecodeError around .decode('utf-8') and answer 400 without storing")
        check.expect("... stores nothing", 404, fetch(port, "GET", "/latin").outcome)
        deleted = fetch(port, "DELETE", "/shopping")
        check.expect("DELETE /shopping", 200, deleted.outcome)
        check.expect("GET /shopping after DELETE", 404, fetch(port, "GET", "/shopping").outcome)
        check.expect("DELETE /shopping again", 404, fetch(port, "DELETE", "/shopping").outcome,
                     hint="deleting a note that is not there: request.setResponseCode(404)")
        server_health(check, served)
        if stored_file:  # the book's own bug explains every other failure
            check.hint = ("you stored request.content, the file object, like the book's Example 5-1: store "
                          "request.content.read().decode('utf-8') instead")


COPY_PAGES = {"WikiHome": "Start at WikiHome. Copy me <carefully> & completely.", "Other": "Already here."}


def check_copy_page(copy_page) -> None:
    """Exercise 5.1b: ``copy_page(reactor, base_url, source, target)`` copies a page of the ``wiki`` practice
    server through its JSON API with treq: GET ``api/pages/SOURCE``, PUT ``{"text": ...}`` to
    ``api/pages/TARGET``, and fires with the PUT's status (201 new, 200 replaced); a missing source fails its
    Deferred and stores nothing."""
    from servers.rpc import WikiData
    from servers.rpc.rest import wiki as rest_wiki

    with Check("your REST client copies a page through the wiki's JSON API",
               hint="page = await (await treq.get(f'{base_url}api/pages/{source}')).json(); then "
                    "response = await treq.put(f'{base_url}api/pages/{target}', json={'text': page['text']}) "
                    "and return response.code") as check:
        site = rest_wiki(WikiData(dict(COPY_PAGES)))
        served = check.serve(site, "check-copy-page")
        base_url = f"http://127.0.0.1:{served.port}/"
        first = Outcome(copy_page, base_url, "WikiHome", "CopyOfHome", timeout=limits.LEARNER_CALL)
        copied = site.data.get_page("CopyOfHome")
        check.expect("copy_page(reactor, base_url, 'WikiHome', 'CopyOfHome')", Shown("it fired with 201"),
                     first.described(), hint="return the status code of the PUT: response.code")
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


# --- 5.2 XML-RPC ------------------------------------------------------------------------------------------------

STATS_PAGES = {"WikiHome": "Welcome to the wiki of RemoteCalls", "Empty": "", "Short": "two words"}


def check_page_stats(stats_class) -> None:
    """Exercise 5.2: ``stats_class(pages)`` is an ``xmlrpc.XMLRPC`` resource: ``wordCount(name)`` the page's word
    count (fault 404 for a missing page), ``names()`` the sorted names, ``firstWord(name)`` the first word or
    nil for an empty page."""
    with Check("your XML-RPC page statistics answer xmlrpc.client, with a fault for a missing page",
               hint="call super().__init__(allowNone=True) first in __init__; raise xmlrpc.Fault(404, '...') "
                    "for a missing page; return lists, never dict views") as check:
        served = check.serve(stats_class(dict(STATS_PAGES)), "check-page-stats")
        port = served.port
        count = call(port, "wordCount", "WikiHome")
        if unwritten(check, served):
            return
        check.expect("wordCount('WikiHome')", 6, count,
                     hint=("every call failed: a subclass of XMLRPC with its own __init__ must call "
                           "super().__init__(allowNone=True)") if "has no attribute" in str(count) else "")
        check.expect("wordCount('Empty')", 0, call(port, "wordCount", "Empty"))
        missing = call(port, "wordCount", "Nowhere")
        check.expect("wordCount('Nowhere') is fault 404", fault(404), short(missing, 60),
                     ok=str(missing).startswith(fault(404)),
                     hint="for a missing page raise xmlrpc.Fault(404, 'no page named ...'): any other exception "
                          "reaches the client as fault 8002 'error', which tells it nothing")
        names = call(port, "names")
        check.expect("names()", sorted(STATS_PAGES), names,
                     hint=("a dict's keys view cannot be sent: return sorted(self.pages), a list"
                           if "dict_keys" in str(names) or "marshal" in str(names) else
                           "return the names sorted: sorted(self.pages)"))
        check.expect("firstWord('Short')", "two", call(port, "firstWord", "Short"))
        empty = call(port, "firstWord", "Empty")
        check.expect("firstWord('Empty') is nil (None)", None, empty,
                     hint=("XML-RPC has no None unless both sides allow it: super().__init__(allowNone=True)"
                           if "None" in str(empty) else "return None for a page without words"))
        server_health(check, served, expected=("Fault",))


# --- 5.3 SOAP ---------------------------------------------------------------------------------------------------

SIZE_PAGES = {"WikiHome": "Start at WikiHome, then read SoapNotes.", "SoapNotes": "Envelopes & <tags>: 2005.",
              "Café": "Ünïcödé text counts characters"}


def _run_blocking(fn, *args, timeout: float):
    """``fn(*args)`` in a thread of its own, waited for at most ``timeout`` seconds: ('value'|'error', result)."""
    done: list = []

    def run():
        try:
            done.append(("value", fn(*args)))
        except BaseException as failed:  # noqa: BLE001 - reported to the check, not raised in a stray thread
            done.append(("error", failed))

    worker = threading.Thread(target=run, daemon=True, name="check-soap-client")
    worker.start()
    worker.join(timeout)
    if not done:
        raise LabTimeout(f"your function did not return within {timeout:g} s")
    return done[0]


def check_page_sizes(page_sizes) -> None:
    """Exercise 5.3: ``page_sizes(wsdl_url)`` uses a SOAP client (zeep) on the ``soap`` practice server and
    returns ``{name: len(text)}`` for every page, with one ``listPages`` call and one ``getPage`` per page."""
    from servers.rpc import WikiData
    from servers.rpc.soap import soap_wiki

    with Check("your SOAP client reports the size of every page of the wiki",
               hint="client = zeep.Client(wsdl_url); names = client.service.listPages(); then "
                    "client.service.getPage(name=name) for each, and len() of the text") as check:
        wiki = soap_wiki(WikiData({name.replace("é", "e"): text for name, text in SIZE_PAGES.items()}))
        served = check.serve(wiki, "check-soap")
        wsdl_url = f"http://127.0.0.1:{served.port}/soap?wsdl"
        how, result = _run_blocking(page_sizes, wsdl_url, timeout=3 * limits.LEARNER_CALL)
        if how == "error":
            raise result
        expected = {name: len(text) for name, text in wiki.data.pages.items()}
        check.expect("the sizes", expected, result, sent=f"page_sizes({Shown('wsdl_url')})",
                     hint=("getRenderedPage returns HTML, longer than the text: call getPage"
                           if any(op == "getRenderedPage" for op, _ in wiki.calls) else ""))
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
        answers = {"add('apples')": await ask(root, "add", "apples"),
                   "add('apples', 2)": await ask(root, "add", "apples", 2),
                   "add('pears', 5)": await ask(root, "add", "pears", 5),
                   "names()": await ask(root, "names")}
        tally = await ask(root, "tally", "apples")
        answers["tally('apples')"] = Shown("a remote reference") if isinstance(tally, pb.RemoteReference) else tally
        if isinstance(tally, pb.RemoteReference):
            answers["tally.callRemote('value')"] = await ask(tally, "value")
            answers["tally.callRemote('reset')"] = await ask(tally, "reset")
            answers["add('apples') after reset"] = await ask(root, "add", "apples")
        return answers
    finally:
        factory.disconnect()


def check_tally_root(root_class) -> None:
    """Exercise 5.4: ``root_class()`` is a ``pb.Root``: ``add(name, amount=1)`` returns the new total,
    ``names()`` the sorted names, ``tally(name)`` a ``pb.Referenceable`` whose ``value()`` is that total and
    whose ``reset()`` sets it to 0 and returns 0. Driven by Twisted's PB client."""
    from twisted.spread import pb

    with Check("your PB root keeps tallies and hands out a remote reference to one",
               hint="remote methods are named remote_add, remote_names, remote_tally; return lists (sorted(...)), "
                    "and for tally() an object of a class that inherits pb.Referenceable") as check:
        served = check.serve(pb.PBServerFactory(root_class()), "check-tally")
        outcome = Outcome(_tally_session, served.port, timeout=limits.LEARNER_CALL)
        if unwritten(check, served):
            return
        if not outcome.ok:
            check.expect("a PB session with your root", "answers", outcome.described())
            return
        got = outcome.value
        expected = {"add('apples')": 1, "add('apples', 2)": 3, "add('pears', 5)": 5,
                    "names()": ["apples", "pears"], "tally('apples')": Shown("a remote reference"),
                    "tally.callRemote('value')": 3, "tally.callRemote('reset')": 0,
                    "add('apples') after reset": 1}
        answers = " ".join(str(value) for value in got.values())
        hint = ""
        if "NoSuchMethod" in answers or "UnknownMethod" in answers:
            hint = "PB calls only methods named remote_NAME: def remote_add(self, name, amount=1): ..."
        elif "Insecure" in answers or "deemed insecure" in answers:
            hint = ("jelly refused to send something: return sorted(...) (a list), not a dict's keys view, and "
                    "make the tally's class inherit pb.Referenceable")
        for what, value in expected.items():
            check.expect(what, value, got.get(what, Shown("not called (an earlier answer was wrong)")), hint=hint)
        server_health(check, served, expected=("InsecureJelly", "NoSuchMethod", "AttributeError"))
