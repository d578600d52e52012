"""Chapter 4's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. The checks serve the learner's code on loopback and talk real HTTP to it."""

from labkit.testing import Mistake, exercise_tests

NO_400 = ('        if len(parts) != 3:\n            send(b"400 Bad Request", b"Bad request\\n")\n            return\n', "")
LOOKED_UP_BY_URI = ("elif self.path in self.pages:\n            self.write(self.pages[self.path])",
                    "elif self.uri in self.pages:\n            self.write(self.pages[self.uri])")
SQL_BY_FORMAT = ('d = self.db.runOperation("INSERT INTO posts (title, body) VALUES (?, ?)", (title, body))',
                 'd = self.db.runOperation("INSERT INTO posts (title, body) VALUES (\'%s\', \'%s\')" % (title, body))')

MISTAKES = [
    # 4.1 HelloHttpProtocol.respond(request_line)
    Mistake("4.1", "Content-Length one short", ("% len(body)", "% (len(body) - 1)"),
            hint="Content-Length counts the bytes"),
    Mistake("4.1", "no 400 for a bad request line", NO_400, hint="the server raised ValueError"),
    Mistake("4.1", "a text body", ('send(b"200 OK", b"Hello HTTP world!")', 'send(b"200 OK", "Hello HTTP world!")'),
            hint="the server raised TypeError"),
    Mistake("4.1", "405 without Allow", (', b"Allow: GET")', ")"), hint="in an Allow header"),
    Mistake("4.1", "404 without the path", ('b"No page at " + path + b"\\n"', 'b"No such page\\n"'),
            hint="says which path it did not find"),
    Mistake("4.1", "never hangs up", ("            self.transport.loseConnection()\n", ""),
            hint="closes the connection after the"),
    Mistake("4.1", "the method compared with text", ('method != b"GET"', 'method != "GET"'),
            hint="compare the method with bytes"),
    # 4.2 PagesRequest (the learner copy's version is the book's, with text keys)
    Mistake("4.2", "pages keyed by text", (('b"/": b"<h1>Home', '"/": b"<h1>Home'),
                                           ('b"/test": b"<h1>Test', '"/test": b"<h1>Test')),
            hint="self.path is bytes"),
    Mistake("4.2", "the path not escaped", ('html.escape(self.path.decode("utf-8", "replace"))',
                                            'self.path.decode("utf-8", "replace")'),
            hint="escape what you echo"),
    Mistake("4.2", "looked up by the whole URI", LOOKED_UP_BY_URI, hint="leaves out the ?query"),
    Mistake("4.2", "never finished", ("        self.finish()\n", ""), hint="self.finish()"),
    Mistake("4.2", "HEAD refused", ('(b"GET", b"HEAD")', '(b"GET",)'), hint="HEAD asks for"),
    Mistake("4.2", "405 without Allow", ('            self.setHeader(b"allow", b"GET, HEAD")\n', ""),
            hint="names the methods the page takes"),
    # 4.3 greet(request)
    Mistake("4.3", "the name not escaped", ("{html.escape(name)}", "{name}"), hint="never echo form data"),
    Mistake("4.3", "strict UTF-8", ('.decode("utf-8", "replace")', '.decode("utf-8")'), hint="errors='replace'"),
    Mistake("4.3", "decoded as Latin-1", ('.decode("utf-8", "replace")', '.decode("latin-1")'),
            hint="decode them with .decode('utf-8')"),
    Mistake("4.3", "not stripped", ('.decode("utf-8", "replace").strip()', '.decode("utf-8", "replace")'),
            hint="strip it"),
    Mistake("4.3", "the method compared with text", ('!= b"POST"', '!= "POST"'), hint="request.method is bytes"),
    Mistake("4.3", "the last name field", ('[b""])[0]', '[b""])[-1]'), hint="take its first item"),
    Mistake("4.3", "405 without Allow", ('        request.setHeader(b"allow", b"POST")\n', ""),
            hint="an Allow header naming POST"),
    # 4.4 TermPage, TermsFolder, build_glossary
    Mistake("4.4", "no super().__init__()", ("        super().__init__()\n        self.name, self.meaning",
                                             "        self.name, self.meaning"),
            hint="must call super().__init__()"),
    Mistake("4.4", "a leaf term", ("        self.name, self.meaning = name, meaning\n",
                                   "        self.isLeaf = True\n        self.name, self.meaning = name, meaning\n"),
            hint="a leaf resource"),
    Mistake("4.4", "a term page as text", ('"../styles.css")', '"../styles.css").decode()'),
            hint="did not return bytes"),
    Mistake("4.4", "the meaning not escaped", ("{html.escape(self.meaning)}", "{self.meaning}"),
            hint="escape it"),
    Mistake("4.4", "no redirect", ('return util.redirectTo(b"terms/", request)',
                                   "return TermIndex(self.glossary).render_GET(request)"),
            hint="redirects to the same name with it"),
    Mistake("4.4", "no stylesheet", ('    root.putChild(b"styles.css", static.File(str(pathlib.Path(folder) / '
                                     '"styles.css")))\n', ""),
            hint="serve the stylesheet from the folder given"),
    Mistake("4.4", "the page's arguments swapped", (('glossary_page(name, f"<h1>', 'glossary_page(f"<h1>'),
                                                     ('"../styles.css")', 'name, "../styles.css")')),
            hint="glossary_page takes the title first, then the body"),
    Mistake("4.4", "the stylesheet as on the home page", ('"../styles.css")', '"styles.css")'),
            hint="the stylesheet is ../styles.css"),
    Mistake("4.4", "no content type", ('        request.setHeader(b"content-type", b"text/html; charset=utf-8")\n'
                                       '        name =', "        name ="),
            hint="charset=utf-8"),
    Mistake("4.4", "the glossary given ignored", ("TermsFolder(glossary)", "TermsFolder(GLOSSARY)"),
            hint="every term of the glossary given"),
    # 4.5 SafeSavePage
    Mistake("4.5", "SQL built with %", SQL_BY_FORMAT, hint="A quote in the title ends a string"),
    Mistake("4.5", "a title one character too long accepted", ("<= MAX_TITLE_CHARS", "<= MAX_TITLE_CHARS + 1"),
            hint="over 200 characters long title gets 400"),
    Mistake("4.5", "a 200-character title refused", ("<= MAX_TITLE_CHARS", "< MAX_TITLE_CHARS"),
            hint="both ends included"),
    Mistake("4.5", "a blank title accepted", ('field(b"title").strip()', 'field(b"title")'),
            hint="blank (only spaces)"),
    Mistake("4.5", "no errback", ("d.addCallbacks(self.saved, self.failed, callbackArgs=(request,), "
                                  "errbackArgs=(request,))", "d.addCallback(self.saved, request)"),
            hint="only an errback on it can answer"),
    Mistake("4.5", "redirected but never finished", ("        request.finish()\n", ""), hint="request.finish()"),
    Mistake("4.5", "title and body swapped", ("(title, body))", "(body, title))"),
            hint="what reached the database differs"),
    # 4.6a PoliteProxyRequest.process
    Mistake("4.6a", "the port taken as part of the host", ("parsed.hostname not in", "parsed.netloc not in"),
            hint="an allowed host was refused with 403"),
    Mistake("4.6a", "every host forwarded", ("elif parsed.hostname not in self.allowed_hosts:",
                                             "elif parsed.hostname is None:"),
            hint="a host outside allowed_hosts was forwarded"),
    Mistake("4.6a", "the scheme compared with text", ('parsed.scheme != b"http"', 'parsed.scheme != "http"'),
            hint="an allowed host was refused with 400"),
    Mistake("4.6a", "only the host checked", ('parsed.scheme != b"http" or not parsed.hostname',
                                              "not parsed.hostname"),
            hint="this proxy speaks only http://"),
    # 4.6b TitleProxyClient
    Mistake("4.6b", "the body swallowed", ("        super().handleResponsePart(data)\n", ""),
            hint="call the ProxyClient method you override"),
    Mistake("4.6b", "a parser per part", ("            self.parser.feed_bytes(data)",
                                          "            self.parser = TitleParser()\n            self.parser.feed_bytes(data)"),
            hint="/split arrives in several parts"),
    Mistake("4.6b", "every page parsed", (' and value.split(b";")[0].strip().lower() == b"text/html"', ""),
            hint="a text/plain page got a title"),
    Mistake("4.6b", "the URL kept as bytes", ('self.father.uri.decode("ascii", "replace")', "self.father.uri"),
            hint="recorded as bytes"),
]

TestChapter04 = exercise_tests(4, MISTAKES)
