"""Chapter 4's checks: a right implementation passes; each typical mistake fails, and the message says what
went wrong. Every check drives a real server over HTTP (see labkit.chapters.ch04)."""

from __future__ import annotations

import html
import pathlib
import time
import warnings
from urllib.parse import urlsplit

from twisted.protocols import basic
from twisted.web import http, pages, resource, server, static, util

from labkit.chapters import ch04
from tests.failing import fails

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"twisted\.web\.http\.HTTPClient was deprecated",
                            category=DeprecationWarning)
    from twisted.web import proxy


# --- 4.1 HTTP by hand ---------------------------------------------------------------------------------------------

class HelloHttp(basic.LineReceiver):
    def connectionMade(self):
        self.lines, self.answered = [], False

    def lineReceived(self, line):
        if self.answered:
            return
        if line:
            self.lines.append(line)
            return
        self.answered = True
        self.respond(self.lines[0] if self.lines else b"")

    def send(self, status, body, *headers):
        self.sendLine(b"HTTP/1.0 " + status)
        self.sendLine(b"Content-Type: text/plain")
        self.sendLine(b"Content-Length: %d" % self.length(body))
        for header in headers:
            self.sendLine(header)
        self.sendLine(b"")
        self.transport.write(body)
        self.transport.loseConnection()

    def length(self, body):
        return len(body)

    def respond(self, request_line):
        parts = request_line.split(b" ")
        if len(parts) != 3:
            return self.send(b"400 Bad Request", b"Bad request\n")
        method, path, _ = parts
        if method != b"GET":
            self.send(b"405 Method Not Allowed", b"GET only\n", b"Allow: GET")
        elif path == b"/":
            self.send(b"200 OK", b"Hello HTTP world!")
        else:
            self.send(b"404 Not Found", b"No page at " + path + b"\n")


class HelloHttpStub(HelloHttp):
    def respond(self, request_line):
        raise NotImplementedError()


class HelloHttpOffByOne(HelloHttp):
    def length(self, body):
        return len(body) + 2  # counted the line end


class HelloHttpNoBadRequest(HelloHttp):
    def respond(self, request_line):
        if len(request_line.split(b" ")) != 3:
            request_line = b"GET / HTTP/1.0"  # forgot the 400: anything else is a GET of /
        super().respond(request_line)


class HelloHttpStr(HelloHttp):
    def respond(self, request_line):
        self.sendLine("HTTP/1.0 200 OK")  # the book's str


def test_http_by_hand_passes():
    ch04.check_http_by_hand(HelloHttp)


def test_http_by_hand_stub_is_not_written_yet():
    started = time.monotonic()
    message = fails(ch04.check_http_by_hand, HelloHttpStub)
    assert "not written yet" in message and "NotImplementedError" in message
    assert time.monotonic() - started < 5


def test_http_by_hand_wrong_length():
    message = fails(ch04.check_http_by_hand, HelloHttpOffByOne)
    assert "[XX] GET / Content-Length matches the body" in message


def test_http_by_hand_no_400():
    message = fails(ch04.check_http_by_hand, HelloHttpNoBadRequest)
    assert "[XX] a request line that is not METHOD PATH VERSION gets 400" in message
    assert "hint: if the request line does not split into exactly three parts" in message


def test_http_by_hand_str_is_reported_from_the_servers_log():
    message = fails(ch04.check_http_by_hand, HelloHttpStr)
    assert "[XX] the server's log shows no exception" in message and "TypeError" in message


# --- 4.2 a request handler ----------------------------------------------------------------------------------------

class PagesRequest(http.Request):
    pages = {b"/": b"<h1>Home</h1><p>Home page</p>", b"/test": b"<h1>Test</h1><p>Test page</p>"}

    def key(self):
        return self.path

    def missing(self):
        return html.escape(self.path.decode("utf-8", "replace")).encode()

    def process(self):
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        if self.method not in (b"GET", b"HEAD"):
            self.setResponseCode(405)
            self.setHeader(b"allow", b"GET, HEAD")
        elif self.key() in self.pages:
            self.write(self.pages[self.key()])
        else:
            self.setResponseCode(404)
            self.write(b"<h1>Not Found</h1><p>No page at " + self.missing() + b"</p>")
        self.finish()


class BookPagesRequest(http.Request):
    pages = {"/": b"<h1>Home</h1><p>Home page</p>", "/test": b"<h1>Test</h1><p>Test page</p>"}

    def process(self):
        if self.path in self.pages:
            self.write(self.pages[self.path])
        else:
            self.setResponseCode(http.NOT_FOUND)
            self.write(b"<h1>Not Found</h1>Sorry, no such page.")
        self.finish()


class UnescapedPagesRequest(PagesRequest):
    def missing(self):
        return self.path


class UriPagesRequest(PagesRequest):
    def key(self):
        return self.uri


def test_request_handler_passes():
    ch04.check_request_handler(PagesRequest)


def test_request_handler_str_keys_get_the_bytes_hint():
    message = fails(ch04.check_request_handler, BookPagesRequest)
    assert "[XX] GET /test" in message and "got:      (404," in message
    assert "hint: every page answered 404: on Python 3 self.path is bytes" in message


def test_request_handler_must_escape_the_path():
    message = fails(ch04.check_request_handler, UnescapedPagesRequest)
    assert "[XX] a path with HTML in it is escaped on the 404 page" in message
    assert "html.escape" in message


def test_request_handler_must_ignore_the_query():
    message = fails(ch04.check_request_handler, UriPagesRequest)
    assert "[XX] GET /test?colour=blue finds /test" in message and "self.uri has it" in message


# --- 4.3 forms ----------------------------------------------------------------------------------------------------

class FormRequest(http.Request):
    def name(self):
        return self.args.get(b"name", [b""])[0].decode("utf-8", "replace").strip()

    def shown(self, name):
        return html.escape(name)

    def process(self):
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        if self.path != b"/greet":
            self.setResponseCode(404)
        elif int(self.getHeader(b"content-length") or 0) > ch04.MAX_FORM_BYTES:
            self.setResponseCode(413)
        elif self.method != b"POST":
            self.setResponseCode(405)
            self.setHeader(b"allow", b"POST")
        elif not self.name():
            self.setResponseCode(400)
            self.write(b"<p>Your name, please.</p>")
        else:
            self.write(f"<p>Hello, {self.shown(self.name())}!</p>".encode("utf-8"))
        self.finish()


class StubFormRequest(FormRequest):
    def process(self):
        raise NotImplementedError()


class UnescapedFormRequest(FormRequest):
    def shown(self, name):
        return name


class StrictFormRequest(FormRequest):
    def name(self):
        return self.args.get(b"name", [b""])[0].decode("utf-8").strip()


class Latin1FormRequest(FormRequest):
    def name(self):
        return self.args.get(b"name", [b""])[0].decode("latin-1").strip()


def test_greeting_form_passes():
    ch04.check_greeting_form(FormRequest)


def test_greeting_form_stub():
    assert "not written yet" in fails(ch04.check_greeting_form, StubFormRequest)


def test_greeting_form_must_escape():
    message = fails(ch04.check_greeting_form, UnescapedFormRequest)
    assert "[XX] a name with HTML in it is escaped" in message and "hint: never echo form data" in message


def test_greeting_form_strict_utf8_crashes_on_other_bytes():
    message = fails(ch04.check_greeting_form, StrictFormRequest)
    assert "[XX] a name that is not UTF-8 gets an answer (200 or 400), not a crash" in message
    assert "UnicodeDecodeError" in message


def test_greeting_form_must_decode_utf8():
    message = fails(ch04.check_greeting_form, Latin1FormRequest)
    assert "[XX] name=Zoë (UTF-8 in the form)" in message


# --- 4.4 a resource tree ------------------------------------------------------------------------------------------

def _page(title, body, css):
    return (f"<!DOCTYPE html><html><head><title>{title}</title><link rel='stylesheet' href='{css}'></head>"
            f"<body>{body}</body></html>").encode()


class Home(resource.Resource):
    css = "styles.css"

    def render_GET(self, request):
        return _page("Glossary", "<a href='terms/'>All terms</a>", self.css)


class Index(resource.Resource):
    def __init__(self, glossary):
        super().__init__()
        self.glossary = glossary

    def render_GET(self, request):
        return _page("Terms", "".join(f"<a href='{n.decode()}'>{n.decode()}</a>" for n in self.glossary),
                     "../styles.css")


class Term(resource.Resource):
    def __init__(self, name, meaning):
        super().__init__()
        self.name, self.meaning = name, meaning

    def render_GET(self, request):
        return _page(self.name.decode(), f"<p>{html.escape(self.meaning)}</p>", "../styles.css")


class Terms(resource.Resource):
    term = Term

    def __init__(self, glossary):
        super().__init__()
        self.glossary = glossary
        self.putChild(b"", Index(glossary))

    def render_GET(self, request):
        return util.redirectTo(b"terms/", request)

    def getChild(self, name, request):
        return self.term(name, self.glossary[name]) if name in self.glossary else pages.notFound()


def glossary_builder(home=Home, terms=Terms):
    def build(folder, glossary):
        root = resource.Resource()
        root.putChild(b"", home())
        root.putChild(b"styles.css", static.File(str(pathlib.Path(folder) / "styles.css")))
        root.putChild(b"terms", terms(glossary))
        return root

    return build


class TermWithoutInit(Term):
    def __init__(self, name, meaning):  # the book's mistake
        self.name, self.meaning = name, meaning


class LeafTerm(Term):
    isLeaf = True


class StrTerm(Term):
    def render_GET(self, request):
        return _page(self.name.decode(), self.meaning, "../styles.css").decode()


class AnyMethodTerm(Term):
    def render(self, request):
        return self.render_GET(request)


class BookHome(Home):
    css = "/styles.css"


def unwritten_glossary(folder, glossary):
    raise NotImplementedError()


def terms_with(term_class):
    return type("TermsWith", (Terms,), {"term": term_class})


def test_glossary_passes():
    ch04.check_glossary(glossary_builder())


def test_glossary_stub():
    assert "not written yet" in fails(ch04.check_glossary, unwritten_glossary)


def test_glossary_term_must_call_resource_init():
    message = fails(ch04.check_glossary, glossary_builder(terms=terms_with(TermWithoutInit)))
    assert "[XX] GET /terms/reactor/extra (nothing below a term)" in message and "got:      500" in message
    assert "AttributeError" in message and "super().__init__()" in message


def test_glossary_term_must_not_be_a_leaf():
    message = fails(ch04.check_glossary, glossary_builder(terms=terms_with(LeafTerm)))
    assert "[XX] GET /terms/reactor/extra (nothing below a term)" in message and "got:      200" in message


def test_glossary_render_must_return_bytes():
    message = fails(ch04.check_glossary, glossary_builder(terms=terms_with(StrTerm)))
    assert "[XX] GET /terms/reactor" in message and "got:      (500," in message
    assert "hint: render_GET returned a str" in message


def test_glossary_render_get_gives_405():
    message = fails(ch04.check_glossary, glossary_builder(terms=terms_with(AnyMethodTerm)))
    assert "[XX] POST /terms/reactor" in message and "render_GET" in message


def test_glossary_links_must_be_relative():
    message = fails(ch04.check_glossary, glossary_builder(home=BookHome))
    assert "[XX] no link starts with /" in message and "jupyter-server-proxy" in message


# --- 4.5 the blog's save page -------------------------------------------------------------------------------------

class SavePage(resource.Resource):
    def __init__(self, db):
        super().__init__()
        self.db = db

    def field(self, request, name):
        return request.args.get(name, [b""])[0].decode("utf-8", "replace")

    def insert(self, title, body):
        return self.db.runOperation("INSERT INTO posts (title, body) VALUES (?, ?)", (title, body))

    def render_POST(self, request):
        title, body = self.field(request, b"title").strip(), self.field(request, b"body")
        if not 1 <= len(title) <= ch04.MAX_TITLE_CHARS:
            request.setResponseCode(400)
            return b"<p>A title of 1 to 200 characters, please.</p>"
        d = self.insert(title, body)
        d.addCallbacks(self.saved, self.failed, callbackArgs=(request,), errbackArgs=(request,))
        return server.NOT_DONE_YET

    def saved(self, result, request):
        request.setResponseCode(303)
        request.setHeader(b"location", b"./")
        request.finish()

    def failed(self, failure, request):
        request.setResponseCode(500)
        request.write(b"<p>Your post was not saved.</p>")
        request.finish()


class StubSavePage(SavePage):
    def render_POST(self, request):
        raise NotImplementedError()


class FormattedSavePage(SavePage):
    def insert(self, title, body):
        return self.db.runOperation(f"INSERT INTO posts (title, body) VALUES ('{title}', '{body}')")


class BookSavePage(SavePage):
    def render_POST(self, request):  # no checks: a missing title is a KeyError, a 500
        title = request.args[b"title"][0].decode("utf-8")
        body = request.args[b"body"][0].decode("utf-8")
        d = self.insert(title, body)
        d.addCallbacks(self.saved, self.failed, callbackArgs=(request,), errbackArgs=(request,))
        return server.NOT_DONE_YET


class NoErrbackSavePage(SavePage):
    def render_POST(self, request):
        title, body = self.field(request, b"title").strip(), self.field(request, b"body")
        if not 1 <= len(title) <= ch04.MAX_TITLE_CHARS:
            request.setResponseCode(400)
            return b""
        self.insert(title, body).addCallback(self.saved, request)
        return server.NOT_DONE_YET


def test_blog_save_passes():
    ch04.check_blog_save(SavePage)


def test_blog_save_stub():
    started = time.monotonic()
    assert "not written yet" in fails(ch04.check_blog_save, StubSavePage)
    assert time.monotonic() - started < 5


def test_blog_save_string_formatting_breaks_on_a_quote():
    message = fails(ch04.check_blog_save, FormattedSavePage)
    assert "[XX] a post with SQL and HTML in it" in message and "[XX] what reached the database" in message
    assert "Bind the values" in message


def test_blog_save_without_checks():
    message = fails(ch04.check_blog_save, BookSavePage)
    assert "[XX] no title: 400" in message and "got:      500" in message
    assert "hint: check the title before touching the database" in message
    assert "[XX] the server's log shows no exception" in message and "KeyError: b'title'" in message


def test_blog_save_without_errback_never_answers_but_the_check_ends():
    started = time.monotonic()
    message = fails(ch04.check_blog_save, NoErrbackSavePage)
    assert "[XX] a locked database: 500, in good time" in message
    assert "no complete response within" in message
    assert time.monotonic() - started < 30


# --- 4.6 proxies --------------------------------------------------------------------------------------------------

class PoliteRequest(proxy.ProxyRequest):
    allowed_hosts = {b"127.0.0.1"}

    def process(self):
        parsed = urlsplit(self.uri)
        if parsed.scheme != b"http" or not parsed.hostname:
            self.refuse(400, b"<h1>This is a proxy</h1>")
        elif parsed.hostname not in self.allowed_hosts:
            self.refuse(403, b"<h1>Not allowed</h1>")
        else:
            super().process()

    def refuse(self, code, page):
        self.setResponseCode(code)
        self.setHeader(b"content-type", b"text/html")
        self.write(page)
        self.finish()


class StubPoliteRequest(proxy.ProxyRequest):
    def process(self):
        raise NotImplementedError()


class OpenRequest(PoliteRequest):
    allowed_hosts = {b"127.0.0.1", b"127.0.0.2"}


class PlainTextRefusal(PoliteRequest):
    def refuse(self, code, page):
        super().refuse(code, b"go away")


def test_polite_proxy_passes():
    ch04.check_polite_proxy(PoliteRequest)


def test_polite_proxy_stub():
    assert "not written yet" in fails(ch04.check_polite_proxy, StubPoliteRequest)


def test_the_books_proxy_request_is_not_polite():
    message = fails(ch04.check_polite_proxy, proxy.ProxyRequest)
    assert "[XX] a host that is not allowed (127.0.0.2)" in message and "got:      501" in message
    assert "[XX] a browser opening the proxy's own address" in message and "KeyError" in message


def test_polite_proxy_checks_the_host():
    message = fails(ch04.check_polite_proxy, OpenRequest)
    assert "[XX] a host that is not allowed (127.0.0.2)" in message and "the proxy tried to connect" in message


def test_polite_proxy_explains_itself_in_html():
    assert "[XX] ... gets an HTML page" in fails(ch04.check_polite_proxy, PlainTextRefusal)


class TitleClient(proxy.ProxyClient):
    parser = None
    recorded = (b"text/html",)

    def handleHeader(self, key, value):
        super().handleHeader(key, value)
        if key.lower() == b"content-type" and value.split(b";")[0].strip().lower() in self.recorded:
            self.parser = self.new_parser()

    def new_parser(self):
        return TitleParser()

    def handleResponsePart(self, data):
        self.forward(data)
        if self.parser is not None:
            self.feed(data)

    def forward(self, data):
        super().handleResponsePart(data)

    def feed(self, data):
        self.parser.feed_bytes(data)

    def handleResponseEnd(self):
        if self.parser is not None:
            self.father.titles.append((self.father.uri.decode(), self.parser.close()))
            self.parser = None
        super().handleResponseEnd()


class TitleParser:
    """A minimal stand-in for the notebook's parser: the title from the whole page's bytes."""

    def __init__(self):
        self.data = b""

    def feed_bytes(self, data):
        self.data += data

    def close(self):
        text = self.data.decode("utf-8", "replace")
        start = text.find("<title>")
        return text[start + 7:text.find("</title>")].strip() if start >= 0 else ""


def title_factory(client_class):
    class ClientFactory(proxy.ProxyClientFactory):
        protocol = client_class

    class Request(proxy.ProxyRequest):
        protocols = {b"http": ClientFactory}

        def __init__(self, channel, *args, **kwargs):
            super().__init__(channel, *args, **kwargs)
            self.titles = channel.factory.titles

    class Channel(proxy.Proxy):
        requestFactory = Request

    class Factory(http.HTTPFactory):
        protocol = Channel

        def __init__(self):
            super().__init__()
            self.titles = []

    return Factory


class StubTitleClient(TitleClient):
    def handleHeader(self, key, value):
        raise NotImplementedError()


class SwallowingTitleClient(TitleClient):
    def forward(self, data):
        pass  # forgot to pass the data on


class PerPartTitleClient(TitleClient):
    def feed(self, data):
        parser = TitleParser()  # a new parser for every piece: a title cut in two is lost
        parser.feed_bytes(data)
        if parser.close():
            self.parser = parser


class EverythingTitleClient(TitleClient):
    recorded = (b"text/html", b"text/plain")


def test_title_proxy_passes():
    ch04.check_title_proxy(title_factory(TitleClient))


def test_title_proxy_stub_ends_quickly():
    started = time.monotonic()
    assert "not written yet" in fails(ch04.check_title_proxy, title_factory(StubTitleClient))
    assert time.monotonic() - started < 8


def test_title_proxy_must_pass_the_body_on():
    message = fails(ch04.check_title_proxy, title_factory(SwallowingTitleClient))
    assert "[XX] GET /hello through the proxy: same status and body as directly" in message
    assert "super().handleResponsePart(data)" in message


def test_title_proxy_must_keep_one_parser_per_response():
    message = fails(ch04.check_title_proxy, title_factory(PerPartTitleClient))
    assert "[XX] titles recorded, in order" in message and "one parser per response" in message


def test_title_proxy_records_html_only():
    message = fails(ch04.check_title_proxy, title_factory(EverythingTitleClient))
    assert "[XX] titles recorded, in order" in message and "Not HTML" in message


class CrashingTitleClient(TitleClient):
    def handleHeader(self, key, value):
        raise KeyError(key)  # any mistake in the client, not only the unwritten stub


def test_title_proxy_reports_a_crash_quickly():
    started = time.monotonic()
    message = fails(ch04.check_title_proxy, title_factory(CrashingTitleClient))
    assert "[XX] GET /hello through the proxy" in message and "the proxy raised KeyError" in message
    assert time.monotonic() - started < 8
