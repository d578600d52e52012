"""Chapter 5's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Every check drives a real server (see labkit.chapters.ch05)."""

from __future__ import annotations

from twisted.web import resource, xmlrpc

import labkit
from labkit.testing import Mistake, exercise_tests

MISTAKES = [
    # 5.1a Note.render_PUT, render_DELETE
    Mistake("5.1a", "PUT returns str", ('return b"Stored.\\n"', 'return "Stored.\\n"'),
            hint="Request did not return bytes"),
    Mistake("5.1a", "201 and 200 swapped", ("http.OK if self.name in self.notes else http.CREATED",
                                            "http.CREATED if self.name in self.notes else http.OK"),
            hint="is Created, 201"),
    Mistake("5.1a", "stored before it is known whether the note existed",
            (("        request.setResponseCode(http.OK if self.name in self.notes else http.CREATED)\n", ""),
             ("        self.notes[self.name] = text\n",
              "        self.notes[self.name] = text\n"
              "        request.setResponseCode(http.OK if self.name in self.notes else http.CREATED)\n")),
            hint="is Created, 201"),
    Mistake("5.1a", "bytes that are not UTF-8 replaced, not refused",
            ('.decode("utf-8")', '.decode("utf-8", "replace")'), hint="answer that PUT 400"),
    Mistake("5.1a", "the file object stored, as in the book", ('request.content.read().decode("utf-8")',
                                                               "request.content"),
            hint="request.content, the file object"),
    Mistake("5.1a", "DELETE of a missing note answers 200",
            ("            request.setResponseCode(http.NOT_FOUND)\n", ""), hint="Not Found, 404"),
    Mistake("5.1a", "DELETE forgets nothing", ("self.notes.pop(self.name, None)", "self.notes.get(self.name)"),
            hint="DELETE must remove the note"),
    # 5.1b copy_page(reactor, base_url, source, target) with treq
    Mistake("5.1b", "returns the GET's status", ("return put.code", "return got.code"),
            hint="return the status of the PUT"),
    Mistake("5.1b", "the page's text sent as a plain body", ('json={"text": page["text"]}',
                                                             'data=page["text"].encode("utf-8")'),
            hint="takes a JSON body"),
    Mistake("5.1b", "source and target swapped", (("api/pages/{source}", "api/pages/{target}"),
                                                  ('put(f"{base_url}api/pages/{target}"',
                                                   'put(f"{base_url}api/pages/{source}"')),
            hint="read the source, api/pages/WikiHome, first"),
    Mistake("5.1b", "a missing source copied as an empty page",
            (("    if got.code != 200:\n        raise LookupError(f\"cannot copy {source}: GET answered {got.code}\")\n",
              ""), ('page["text"]', 'page.get("text", "")')),
            hint="raise (LookupError, say) before any PUT"),
    # 5.2a PageStats
    Mistake("5.2a", "the base class's __init__ not called", ("        super().__init__(allowNone=True)\n", ""),
            hint="must call super().__init__(allowNone=True)"),
    Mistake("5.2a", "None not allowed", ("super().__init__(allowNone=True)", "super().__init__()"),
            hint="allowNone=True"),
    Mistake("5.2a", "a dict's keys view returned", ("return sorted(self.pages)", "return self.pages.keys()"),
            hint="keys view cannot be sent"),
    Mistake("5.2a", "names not sorted", ("return sorted(self.pages)", "return list(self.pages)"),
            hint="return the names sorted"),
    Mistake("5.2a", "characters counted, not words", ("len(self._text(name).split())", "len(self._text(name))"),
            hint="not its characters"),
    Mistake("5.2a", "the last word, not the first", ("words[0] if words", "words[-1] if words"),
            hint="the first word of 'two words' is 'two'"),
    # 5.2b attach_and_fetch(reactor, url, page, filename, data, taken): dates and binary data both ways
    Mistake("5.2b", "the bytes sent as text", ("xmlrpc_client.Binary(data)", 'data.decode("latin-1")'),
            hint="bytes travel as base64"),
    Mistake("5.2b", "the bytes decoded as UTF-8", ("xmlrpc_client.Binary(data)", "data.decode()"),
            hint="these bytes are not text"),
    Mistake("5.2b", "the Binary returned, not its bytes", ('back["data"].data', 'back["data"]'),
            hint="its bytes are its .data"),
    Mistake("5.2b", "a DateTime returned, not a datetime", ((", useDateTime=True)", ")"),
                                                            ('back["taken"].replace(tzinfo=utc)', 'back["taken"]')),
            hint="useDateTime=True"),
    Mistake("5.2b", "DateTime's text parsed as ISO 8601", (
        (", useDateTime=True)", ")"),
        ('back["taken"].replace(tzinfo=utc)',
         'datetime.datetime.strptime(str(back["taken"]), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=utc)')),
            hint="not ISO 8601 with dashes"),
    Mistake("5.2b", "a naive datetime returned", ('back["taken"].replace(tzinfo=utc)', 'back["taken"]'),
            hint="a naive datetime names no moment"),
    Mistake("5.2b", "the moment sent in the caller's zone", ("taken.astimezone(utc))", "taken)"),
            hint="convert it first"),
    Mistake("5.2b", "attachment's Deferred not awaited", ('back = await proxy', 'back = proxy'),
            hint="callRemote returns a Deferred: await it"),
    Mistake("5.2b", "nothing returned", ('    return back["data"]', '    back["data"]'),
            hint="return the pair"),
    # 5.3 page_sizes(wsdl_url) with zeep
    Mistake("5.3", "the rendered page measured", ("client.service.getPage(name=name)",
                                                  "client.service.getRenderedPage(name=name)"),
            hint="call getPage"),
    Mistake("5.3", "bytes counted, not characters", ("len(client.service.getPage(name=name))",
                                                     'len(client.service.getPage(name=name).encode("utf-8"))'),
            hint="sizes in bytes"),
    Mistake("5.3", "the first page left out", ("client.service.listPages()", "client.service.listPages()[1:]"),
            hint="a page listPages named is missing"),
    # 5.4 TallyRoot and Tally
    Mistake("5.4", "the amount ignored", ("self.tallies.get(name, 0) + amount", "self.tallies.get(name, 0) + 1"),
            hint="adds amount"),
    Mistake("5.4", "names not sorted", ("return sorted(self.tallies)", "return list(self.tallies)"),
            hint="in sorted order"),
    Mistake("5.4", "a dict's keys view returned", ("return sorted(self.tallies)", "return self.tallies.keys()"),
            hint="jelly refused to send something"),
    Mistake("5.4", "the total returned instead of a reference", ("return Tally(self.tallies, name)",
                                                                 "return self.tallies.get(name, 0)"),
            hint="inherits pb.Referenceable"),
    Mistake("5.4", "reset does not store the 0", ("        self.tallies[self.name] = 0\n", ""),
            hint="reset() must set the total"),
    Mistake("5.4", "the tally given a copy of the totals", ("return Tally(self.tallies, name)",
                                                            "return Tally(dict(self.tallies), name)"),
            hint="where add() will find it"),
]

TestChapter05 = exercise_tests(5, MISTAKES)


# --- the kit's XML-RPC client -----------------------------------------------------------------------------------

class Words(xmlrpc.XMLRPC):
    """A one-method XML-RPC resource for the kit's client (not an exercise's solution)."""

    def xmlrpc_count(self, text):
        if not text:
            raise xmlrpc.Fault(404, "nothing to count")
        return len(text.split())


def test_the_kits_xmlrpc_client_says_how_a_call_failed_instead_of_raising():
    from labkit.checks import closed_port
    from labkit.checks.xmlrpc import call

    assert str(call(closed_port(), "anything")).startswith("no answer: ConnectionRefusedError")
    served = labkit.serve(Words(), name="test-kit-xmlrpc", show=False)
    try:
        assert call(served.port, "count", "one two") == 2
        assert str(call(served.port, "count", "")).startswith("Fault 404: nothing to count")
    finally:
        served.stop()


# --- what the chapter's text says of twisted.web, proven -----------------------------------------------------

class Moved(resource.Resource):
    """A page that redirects with ``request.redirect``, as the book's /save did."""

    isLeaf = True

    def render_POST(self, request):
        request.redirect(b"/WikiHome")
        return b""


def test_request_redirect_answers_302_where_the_wikis_save_answers_303():
    from labkit.checks import converse

    served = labkit.serve(Moved(), name="test-redirect", show=False)
    try:
        answer = converse(served.port, b"POST /save HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
    finally:
        served.stop()
    assert answer.startswith(b"HTTP/1.0 302 Found\r\n") and b"\r\nLocation: /WikiHome\r\n" in answer


def test_the_books_getpage_and_twisted_web_soap_are_gone_from_twisted():
    import importlib.util

    from twisted.web import client

    assert not hasattr(client, "getPage") and importlib.util.find_spec("twisted.web.soap") is None
