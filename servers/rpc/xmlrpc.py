"""The wiki over XML-RPC (the catalogue's ``xmlrpc``), with ``twisted.web.xmlrpc``, at ``/RPC2``.

Promises (``xmlrpc_wiki(data=None)`` builds the site; ``/`` says where the service is):

* Methods: ``hasPage(name)``, ``listPages()`` (sorted names), ``getPage(name)``, ``getRenderedPage(name)``,
  ``setPage(name, text)`` (True when the page is new), ``deletePage(name)`` (True when there was one),
  ``findPage(name)`` (the text, or nil: ``None`` is allowed both ways), ``attach(name, filename, data, taken)``
  (``data`` base64, ``taken`` dateTime.iso8601: a file kept beside a page, at most :data:`MAX_ATTACHMENTS`; its
  size) and ``attachment(name, filename)`` (a struct: ``data`` base64, ``taken`` dateTime.iso8601, ``size``), and
  introspection (``system.listMethods``, ``system.methodHelp``, ``system.methodSignature``).
* Faults: ``getPage``/``getRenderedPage`` of a missing page :data:`NO_SUCH_PAGE` (404), and ``attach`` to a
  missing page or ``attachment`` of a missing one; a bad name or text :data:`REFUSED` (400), and so does an
  argument of another type than the method takes (strings everywhere, base64 and dateTime.iso8601 for
  ``attach``'s data and time), or one attachment too many; a wrong number of arguments :data:`WRONG_ARGUMENTS`
  (-32602, the common XML-RPC code); an unknown method 8001 and a body that is not a ``methodCall`` 8002
  (Twisted's own codes), its fault string naming what could not be read (a bad ``int``, ``dateTime.iso8601`` or
  ``base64``, no ``methodName``). A body with a DTD, or nested deeper than
  :data:`servers.rpc.xmlsafety.MAX_DEPTH`, gets fault 8002 without being expanded. Bodies over 1 MB get HTTP 413.
  None of these are logged as server errors.
* HTTP: ``/RPC2`` takes POST; any other method gets 405 with ``Allow: POST`` (HEAD included: its answer has no
  body).
"""

from __future__ import annotations

import inspect
import xmlrpc.client

from twisted.web import xmlrpc as web_xmlrpc
from twisted.web.error import UnsupportedMethod

from servers.rpc.bounded import BoundedRoot
from servers.rpc.data import WikiData, WikiRefused
from servers.rpc.xmlsafety import xml_refusal
from servers.web.pages import TEXT_TYPE, FixedPage, PracticePage

__all__ = ["MAX_ATTACHMENTS", "NO_SUCH_PAGE", "REFUSED", "WRONG_ARGUMENTS", "WikiXmlRpc", "xmlrpc_wiki"]

NO_SUCH_PAGE = 404
REFUSED = 400
WRONG_ARGUMENTS = -32602
ARGUMENT_TYPES = {"attach": (str, str, xmlrpc.client.Binary, xmlrpc.client.DateTime)}
"""The methods whose arguments are not all strings."""
XMLRPC_NAMES = {str: "a string", xmlrpc.client.Binary: "base64", xmlrpc.client.DateTime: "dateTime.iso8601"}
MAX_ATTACHMENTS = 20
"""Attachments the server keeps in all (each under the 1 MB body limit): memory stays bounded under abuse."""


class WikiXmlRpc(PracticePage, web_xmlrpc.XMLRPC):
    """The wiki's XML-RPC methods (see the module's promises); ``PracticePage`` answers other HTTP methods 405."""

    def __init__(self, data: WikiData):
        super().__init__(allowNone=True)  # without this __init__ every call fails
        self.data = data
        self.attachments: dict[tuple[str, str], tuple[xmlrpc.client.Binary, xmlrpc.client.DateTime]] = {}
        web_xmlrpc.addIntrospection(self)

    def render_HEAD(self, request):  # a Resource answers HEAD as GET; this one takes neither
        raise UnsupportedMethod([b"POST"])

    def render_POST(self, request):
        request.content.seek(0)
        refused = unreadable(request.content.read())
        if refused:
            request.setHeader(b"content-type", b"text/xml; charset=utf-8")
            return xmlrpc.client.dumps(web_xmlrpc.Fault(self.FAILURE, f"Can't deserialize input: {refused}"),
                                       methodresponse=True).encode("utf-8")
        request.content.seek(0)
        return super().render_POST(request)

    def lookupProcedure(self, procedurePath):
        method = super().lookupProcedure(procedurePath)
        signature = inspect.signature(method)

        types = ARGUMENT_TYPES.get(procedurePath, ())

        def called(*args):
            for position, argument in enumerate(args, 1):
                wanted = types[position - 1] if position <= len(types) else str
                if not isinstance(argument, wanted):
                    raise web_xmlrpc.Fault(REFUSED, f"{procedurePath}: argument {position} is "
                                                    f"{type(argument).__name__}, not {XMLRPC_NAMES[wanted]}")
            try:
                signature.bind(*args)
            except TypeError:
                wanted = ", ".join(signature.parameters) or "no arguments"
                raise web_xmlrpc.Fault(WRONG_ARGUMENTS, f"{procedurePath} takes ({wanted}), got {len(args)} "
                                                        "argument(s)") from None
            return method(*args)

        called.__doc__ = method.__doc__
        return called

    def _page(self, name, text):
        if text is None:
            raise web_xmlrpc.Fault(NO_SUCH_PAGE, f"no page named {name!r}")
        return text

    def xmlrpc_hasPage(self, name):
        """True when the page exists."""
        return self.data.has_page(name)

    def xmlrpc_listPages(self):
        """The names of every page, sorted."""
        return self.data.list_pages()

    def xmlrpc_getPage(self, name):
        """The page's text; fault 404 when there is no such page."""
        return self._page(name, self.data.get_page(name))

    def xmlrpc_getRenderedPage(self, name):
        """The page as HTML, WikiWords linked; fault 404 when there is no such page."""
        return self._page(name, self.data.rendered_page(name))

    def xmlrpc_findPage(self, name):
        """The page's text, or nil when there is no such page."""
        return self.data.get_page(name)

    def xmlrpc_setPage(self, name, text):
        """Store the page; True when it is new. Fault 400 for a bad name or text."""
        try:
            return self.data.set_page(name, text)
        except WikiRefused as refused:
            raise web_xmlrpc.Fault(REFUSED, str(refused)) from None

    def xmlrpc_deletePage(self, name):
        """Remove the page; True when there was one."""
        return self.data.delete_page(name)

    def xmlrpc_attach(self, name, filename, data, taken):
        """Keep data (base64) as the page's attachment filename, taken at taken (dateTime.iso8601); its size in
        bytes. Fault 404 when there is no such page, 400 for other types or one attachment too many."""
        if not self.data.has_page(name):
            raise web_xmlrpc.Fault(NO_SUCH_PAGE, f"no page named {name!r}")
        if not (isinstance(filename, str) and isinstance(data, xmlrpc.client.Binary)
                and isinstance(taken, xmlrpc.client.DateTime)):
            raise web_xmlrpc.Fault(REFUSED, "attach takes (name, filename, base64 data, dateTime.iso8601 taken)")
        if (name, filename) not in self.attachments and len(self.attachments) >= MAX_ATTACHMENTS:
            raise web_xmlrpc.Fault(REFUSED, f"this wiki keeps at most {MAX_ATTACHMENTS} attachments")
        self.attachments[(name, filename)] = (data, taken)
        return len(data.data)

    def xmlrpc_attachment(self, name, filename):
        """The page's attachment filename: a struct of data (base64), taken (dateTime.iso8601) and size; fault
        404 when there is none."""
        if (name, filename) not in self.attachments:
            raise web_xmlrpc.Fault(NO_SUCH_PAGE, f"no attachment {filename!r} on page {name!r}")
        data, taken = self.attachments[(name, filename)]
        return {"data": data, "taken": taken, "size": len(data.data)}


def unreadable(body: bytes) -> str:
    """Why ``body`` is not a ``methodCall`` the service can read, or ``""`` when it is one."""
    refused = xml_refusal(body)
    if refused:
        return refused
    try:
        _params, method = xmlrpc.client.loads(body)
    except Exception as problem:  # expat's, xmlrpc.client's and the value parsers' (int, base64, dateTime) errors
        return f"{type(problem).__name__}: {problem}"
    return "" if method else "the body is not a methodCall with a methodName"


class XmlRpcSite(BoundedRoot):
    def __init__(self, data: WikiData | None = None):
        super().__init__()
        self.data = data if data is not None else WikiData()
        self.rpc = WikiXmlRpc(self.data)
        self.putChild(b"RPC2", self.rpc)
        self.putChild(b"", FixedPage(b"The wiki's XML-RPC service is at /RPC2 (POST).\n", TEXT_TYPE))



def xmlrpc_wiki(data: WikiData | None = None) -> XmlRpcSite:
    """Build the XML-RPC wiki over ``data`` (a new :class:`WikiData` unless given), served at ``/RPC2``."""
    return XmlRpcSite(data)
