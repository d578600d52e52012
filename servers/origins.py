"""Small origin servers that checks put behind the learner's code, each showing one awkward thing a real server
on the internet does.

Promises:

* :func:`cut_short` is an HTTP server that promises a body of 1,000 bytes, sends 400 and hangs up.
* :func:`title_origin` is a web site for a title-recording proxy: an HTML page (``/hello``), one sent in three
  pieces 50 ms apart with its title cut inside a UTF-8 character (``/split``, :class:`SplitPage`), plain text
  that looks like HTML (``/notes.txt``) and an HTML 404 (``/gone``).
* Every page is fixed: a check compares what passed through the learner's code with these bytes.
"""

from __future__ import annotations

from twisted.internet import protocol
from twisted.web import resource, server

__all__ = ["CutShort", "SplitPage", "TextPage", "cut_short", "title_origin"]


class CutShort(protocol.Protocol):
    """Answers the first request with a 200 that promises 1,000 bytes, sends 400 of them and hangs up."""

    PROMISED, SENT = 1000, 400

    def dataReceived(self, data):
        if b"\r\n\r\n" in data:
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\n\r\n" % self.PROMISED + b"x" * self.SENT)
            self.transport.loseConnection()


def cut_short() -> protocol.ServerFactory:
    """A factory for :class:`CutShort`."""
    return protocol.ServerFactory.forProtocol(CutShort)


class SplitPage(resource.Resource):
    """An HTML page written in three pieces 50 ms apart; the title is cut inside a UTF-8 character."""

    isLeaf = True
    PIECES = (b"<!DOCTYPE html><html><head><title>Caf", b"\xc3", b"\xa9 au lait</title></head>"
              b"<body><p>Written in pieces.</p></body></html>")

    def render_GET(self, request):
        from twisted.internet import reactor

        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.write(self.PIECES[0])
        reactor.callLater(0.05, request.write, self.PIECES[1])

        def last():
            request.write(self.PIECES[2])
            request.finish()

        reactor.callLater(0.1, last)
        return server.NOT_DONE_YET


class TextPage(resource.Resource):
    """Fixed bytes of a given content type and status."""

    isLeaf = True

    def __init__(self, body: bytes, content_type: bytes, code: int = 200):
        super().__init__()
        self.body, self.content_type, self.code = body, content_type, code

    def render_GET(self, request):
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", self.content_type)
        return self.body


NOTES_TXT = b"<title>Not HTML</title> is plain text here.\n"


def title_origin() -> resource.Resource:
    """The origin for a title-recording proxy (see the module docstring)."""
    root = resource.Resource()
    root.putChild(b"hello", TextPage(b"<!DOCTYPE html><html><head><title>Hello</title></head>"
                                     b"<body><p>Hi.</p></body></html>", b"text/html; charset=utf-8"))
    root.putChild(b"split", SplitPage())
    root.putChild(b"notes.txt", TextPage(NOTES_TXT, b"text/plain"))
    root.putChild(b"gone", TextPage(b"<html><head><title>Gone</title></head><body>404</body></html>",
                                    b"text/html", code=404))
    return root
