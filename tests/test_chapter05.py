"""Chapter 5's checks: a right answer passes, the untouched stub fails with "not written yet", and each typical
mistake fails with the hint that names it. Every check drives a real server (see labkit.chapters.ch05)."""

from __future__ import annotations

import pytest
from twisted.spread import pb
from twisted.web import http, resource, xmlrpc

import labkit
from labkit.chapters import ch05
from tests.failing import fails


# --- 5.1 the note store -------------------------------------------------------------------------------------

class Note(resource.Resource):
    isLeaf = True

    def __init__(self, notes, name):
        super().__init__()
        self.notes, self.name = notes, name

    def render_GET(self, request):
        if self.name not in self.notes:
            request.setResponseCode(http.NOT_FOUND)
            return b"no such note\n"
        return self.notes[self.name].encode("utf-8")

    def render_PUT(self, request):
        try:
            text = request.content.read().decode("utf-8")
        except UnicodeDecodeError:
            request.setResponseCode(http.BAD_REQUEST)
            return b"send UTF-8 text\n"
        request.setResponseCode(http.OK if self.name in self.notes else http.CREATED)
        self.notes[self.name] = text
        return b"stored\n"

    def render_DELETE(self, request):
        if self.notes.pop(self.name, None) is None:
            request.setResponseCode(http.NOT_FOUND)
            return b"no such note\n"
        return b"deleted\n"


class NoteStore(resource.Resource):
    note = Note

    def __init__(self):
        super().__init__()
        self.notes = {}

    def getChild(self, name, request):
        return self.note(self.notes, name.decode("utf-8", "replace"))


def store_with(**methods):
    return type("Store", (NoteStore,), {"note": type("Mistaken", (Note,), methods)})


def test_note_store_right_answer_passes():
    ch05.check_note_store(NoteStore)


def test_note_store_stub_is_not_written_yet():
    def render_PUT(self, request):
        raise NotImplementedError()

    assert "not written yet" in fails(ch05.check_note_store, store_with(render_PUT=render_PUT))


def test_note_store_that_keeps_the_file_object_like_the_book():
    def render_PUT(self, request):
        request.content.seek(0)
        self.notes[self.name] = request.content
        return b""

    def render_GET(self, request):
        return repr(self.notes.get(self.name)).encode()

    message = fails(ch05.check_note_store, store_with(render_PUT=render_PUT, render_GET=render_GET))
    assert "you stored request.content, the file object" in message


def test_note_store_always_200_is_told_about_201():
    def render_PUT(self, request):
        self.notes[self.name] = request.content.read().decode("utf-8", "replace")
        return b"ok"

    assert "setResponseCode(201)" in fails(ch05.check_note_store, store_with(render_PUT=render_PUT))


async def copy_page(reactor, base_url, source, target):
    import treq

    got = await treq.get(f"{base_url}api/pages/{source}")
    if got.code != 200:
        raise LookupError(f"no page {source}: {got.code}")
    page = await got.json()
    put = await treq.put(f"{base_url}api/pages/{target}", json={"text": page["text"]})
    await put.content()
    return put.code


def test_copy_page_right_answer_passes():
    ch05.check_copy_page(copy_page)


def test_copy_page_stub_is_not_written_yet():
    async def stub(reactor, base_url, source, target):
        raise NotImplementedError()

    assert "not written yet" in fails(ch05.check_copy_page, stub)


def test_copy_page_of_the_html_page():
    async def from_html(reactor, base_url, source, target):
        import treq

        text = await (await treq.get(f"{base_url}{source}")).text()
        put = await treq.put(f"{base_url}api/pages/{target}", json={"text": text})
        return put.code

    assert "you copied the HTML page" in fails(ch05.check_copy_page, from_html)


def test_copy_page_that_stores_a_missing_source():
    async def careless(reactor, base_url, source, target):
        import treq

        page = await (await treq.get(f"{base_url}api/pages/{source}")).json()
        put = await treq.put(f"{base_url}api/pages/{target}", json={"text": page.get("text", "")})
        return put.code

    assert "raise (LookupError, say) before any PUT" in fails(ch05.check_copy_page, careless)


# --- 5.2 XML-RPC page statistics ------------------------------------------------------------------------------

class PageStats(xmlrpc.XMLRPC):
    def __init__(self, pages):
        super().__init__(allowNone=True)
        self.pages = pages

    def _text(self, name):
        if name not in self.pages:
            raise xmlrpc.Fault(404, f"no page named {name!r}")
        return self.pages[name]

    def xmlrpc_wordCount(self, name):
        return len(self._text(name).split())

    def xmlrpc_names(self):
        return sorted(self.pages)

    def xmlrpc_firstWord(self, name):
        words = self._text(name).split()
        return words[0] if words else None


def test_page_stats_right_answer_passes():
    ch05.check_page_stats(PageStats)


def test_page_stats_stub_is_not_written_yet():
    class Stub(PageStats):
        def __init__(self, pages):
            raise NotImplementedError()

    assert "not written yet" in fails(ch05.check_page_stats, Stub)


def test_page_stats_without_allow_none():
    class NoNone(PageStats):
        def __init__(self, pages):
            super().__init__(pages)
            self.allowNone = False

    assert "allowNone=True" in fails(ch05.check_page_stats, NoNone)


def test_page_stats_returning_dict_keys():
    class Keys(PageStats):
        def xmlrpc_names(self):
            return self.pages.keys()

    assert "keys view" in fails(ch05.check_page_stats, Keys)


def test_page_stats_raising_key_error_instead_of_a_fault():
    class KeyErrors(PageStats):
        def _text(self, name):
            return self.pages[name]

    assert "xmlrpc.Fault(404" in fails(ch05.check_page_stats, KeyErrors)


# --- 5.3 a SOAP client ------------------------------------------------------------------------------------------

@pytest.fixture
def zeep():
    return pytest.importorskip("zeep")


def page_sizes(wsdl_url):
    import zeep

    client = zeep.Client(wsdl_url)
    return {name: len(client.service.getPage(name=name)) for name in client.service.listPages()}


def test_page_sizes_right_answer_passes(zeep):
    ch05.check_page_sizes(page_sizes)


def test_page_sizes_stub_is_not_written_yet(zeep):
    def stub(wsdl_url):
        raise NotImplementedError()

    assert "not written yet" in fails(ch05.check_page_sizes, stub)


def test_page_sizes_from_rendered_pages(zeep):
    def rendered(wsdl_url):
        client = zeep.Client(wsdl_url)
        return {name: len(client.service.getRenderedPage(name=name)) for name in client.service.listPages()}

    assert "call getPage" in fails(ch05.check_page_sizes, rendered)


# --- 5.4 a PB root ----------------------------------------------------------------------------------------------

class Tally(pb.Referenceable):
    def __init__(self, tallies, name):
        self.tallies, self.name = tallies, name

    def remote_value(self):
        return self.tallies.get(self.name, 0)

    def remote_reset(self):
        self.tallies[self.name] = 0
        return 0


class TallyRoot(pb.Root):
    def __init__(self):
        self.tallies = {}

    def remote_add(self, name, amount=1):
        self.tallies[name] = self.tallies.get(name, 0) + amount
        return self.tallies[name]

    def remote_names(self):
        return sorted(self.tallies)

    def remote_tally(self, name):
        return Tally(self.tallies, name)


def test_tally_right_answer_passes():
    ch05.check_tally_root(TallyRoot)


def test_tally_stub_is_not_written_yet():
    class Stub(TallyRoot):
        def remote_add(self, name, amount=1):
            raise NotImplementedError()

    assert "not written yet" in fails(ch05.check_tally_root, Stub)


def test_tally_without_the_remote_prefix():
    class Unprefixed(TallyRoot):
        add = TallyRoot.remote_add
        remote_add = None

    assert "remote_NAME" in fails(ch05.check_tally_root, Unprefixed)


def test_tally_returning_dict_keys():
    class Keys(TallyRoot):
        def remote_names(self):
            return self.tallies.keys()

    assert "jelly refused to send something" in fails(ch05.check_tally_root, Keys)


def test_tally_that_is_not_referenceable():
    class PlainTally:
        pass

    class Plain(TallyRoot):
        def remote_tally(self, name):
            return PlainTally()

    assert "jelly refused to send something" in fails(ch05.check_tally_root, Plain)


# --- the kit's XML-RPC client -----------------------------------------------------------------------------------

def test_the_kits_xmlrpc_client_says_how_a_call_failed_instead_of_raising():
    from labkit.checks import closed_port
    from labkit.checks.xmlrpc import call

    assert str(call(closed_port(), "anything")).startswith("no answer: ConnectionRefusedError")
    served = labkit.serve(PageStats({"A": "one two"}), name="test-kit-xmlrpc", show=False)
    assert call(served.port, "wordCount", "A") == 2
    assert str(call(served.port, "wordCount", "B")).startswith("Fault 404: no page named 'B'")
