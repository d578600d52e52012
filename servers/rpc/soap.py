"""The wiki as a SOAP 1.1 service (the catalogue's ``soap``), served from ``twisted.web`` with the standard
library's XML parsing.

Why no SOAP server library: ``twisted.web.soap`` was removed from Twisted and SOAPpy is Python 2 only; spyne, the
last maintained SOAP server for Python, does not import on Python 3.12+ and its servers need ``cgi`` (gone in
3.13). SOAP itself is small: an HTTP POST of an XML envelope, answered with an envelope or a Fault. This module
is that, plus a WSDL that clients such as zeep read to learn the operations.

Promises (``soap_wiki(data=None)`` builds the site):

* ``GET /soap?wsdl``: the WSDL (document/literal, wrapped), its address pointing back at this server.
* ``POST /soap``: a SOAP 1.1 envelope whose Body holds one of :data:`OPERATIONS` (``getPage``: ``name`` ->
  ``return``); the answer is ``text/xml`` with a ``<NAMEResponse><return>...`` element (one ``return`` per item
  for a list). A missing page, a refused name or text, an unknown operation, a missing or unexpected argument,
  an envelope that is not XML or not SOAP, or one with a DTD or nested deeper than
  :data:`servers.rpc.xmlsafety.MAX_DEPTH`: HTTP 500 with a ``soap:Fault`` (``soap:Client``, a ``faultstring``
  saying what to change). The other SOAP 1.1 fault codes (section 4.4.1): an ``Envelope`` in another namespace
  (SOAP 1.2's) gets ``soap:VersionMismatch``; a ``Header`` entry with ``mustUnderstand="1"`` (the service
  understands none) ``soap:MustUnderstand``; a new page while the wiki is full ``soap:Server``, as does an
  operation that raises unexpectedly (logged with its traceback: that is a bug). Nothing is stored on a fault;
  nothing but such a bug is logged as a server error.
* Bodies over 1 MB get HTTP 413. Every call is appended to ``site.calls`` (operation, arguments), the newest
  :data:`KEPT_CALLS`.
"""

from __future__ import annotations

import collections
import html
import xml.etree.ElementTree as ET

from twisted.logger import Logger
from twisted.web import http

from servers.rpc.bounded import BoundedRoot
from servers.rpc.data import WikiData, WikiFull, WikiRefused
from servers.rpc.xmlsafety import xml_refusal
from servers.web.pages import TEXT_TYPE, FixedPage, PracticePage

__all__ = ["ENVELOPE", "KEPT_CALLS", "NAMESPACE", "OPERATIONS", "SoapFault", "SoapSite", "soap_wiki", "wsdl"]

ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
NAMESPACE = "urn:twisted-workbook:wiki"
XML_TYPE = b"text/xml; charset=utf-8"
KEPT_CALLS = 100

_log = Logger()

# operation -> (its arguments as (name, XML Schema type), its result's type, whether the result is a list)
OPERATIONS: dict[str, tuple[tuple[tuple[str, str], ...], str, bool]] = {
    "listPages": ((), "string", True),
    "hasPage": ((("name", "string"),), "boolean", False),
    "getPage": ((("name", "string"),), "string", False),
    "getRenderedPage": ((("name", "string"),), "string", False),
    "setPage": ((("name", "string"), ("text", "string")), "boolean", False),
    "deletePage": ((("name", "string"),), "boolean", False),
}


class SoapFault(Exception):
    """A call refused with a SOAP fault: the message is the fault string, ``code`` the fault code (``Client``
    unless said otherwise)."""

    def __init__(self, text: str, code: str = "Client"):
        super().__init__(text)
        self.code = code


def _element(name: str, fields: list[tuple[str, str]], many: bool = False) -> str:
    occurs = ' minOccurs="0" maxOccurs="unbounded"' if many else ""
    inner = "".join(f'<xsd:element name="{field}" type="xsd:{kind}"{occurs}/>' for field, kind in fields)
    return (f'<xsd:element name="{name}"><xsd:complexType><xsd:sequence>{inner}</xsd:sequence>'
            "</xsd:complexType></xsd:element>")


def wsdl(address: str) -> bytes:
    """The service's WSDL, with ``address`` (``http://HOST:PORT/soap``) as its endpoint."""
    types, messages, port_ops, binding_ops = [], [], [], []
    for op, (arguments, result, many) in OPERATIONS.items():
        types += [_element(op, list(arguments)), _element(f"{op}Response", [("return", result)], many)]
        messages += [f'<message name="{op}Request"><part name="parameters" element="tns:{op}"/></message>',
                     f'<message name="{op}Response"><part name="parameters" element="tns:{op}Response"/></message>']
        port_ops.append(f'<operation name="{op}"><input message="tns:{op}Request"/>'
                        f'<output message="tns:{op}Response"/></operation>')
        binding_ops.append(f'<operation name="{op}"><soap:operation soapAction="{NAMESPACE}#{op}"/>'
                           '<input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>'
                           "</operation>")
    newline = "\n  "
    return f"""<?xml version="1.0" encoding="utf-8"?>
<definitions name="Wiki" targetNamespace="{NAMESPACE}" xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tns="{NAMESPACE}"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <types>
   <xsd:schema targetNamespace="{NAMESPACE}" elementFormDefault="qualified">
    {(newline + "  ").join(types)}
   </xsd:schema>
  </types>
  {newline.join(messages)}
  <portType name="WikiPortType">
  {newline.join(port_ops)}
  </portType>
  <binding name="WikiBinding" type="tns:WikiPortType">
  <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
  {newline.join(binding_ops)}
  </binding>
  <service name="WikiService">
    <port name="WikiPort" binding="tns:WikiBinding"><soap:address location="{html.escape(address)}"/></port>
  </service>
</definitions>
""".encode("utf-8")


def _envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<soap:Envelope xmlns:soap="{ENVELOPE}">'
            f"<soap:Body>{body}</soap:Body></soap:Envelope>\n").encode("utf-8")


def _fault(code: str, text: str) -> bytes:
    return _envelope(f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{html.escape(text, quote=False)}"
                     "</faultstring></soap:Fault>")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _value(item, kind: str) -> str:
    if kind == "boolean":
        return "true" if item else "false"
    return html.escape(item, quote=False)


def parse_call(body: bytes) -> tuple[str, dict[str, str]]:
    """The operation and its arguments in a SOAP envelope; :class:`SoapFault` saying what is wrong."""
    refused = xml_refusal(body)
    if refused:
        raise SoapFault(f"{refused}; send the envelope without it")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as problem:
        raise SoapFault(f"the body is not XML ({problem}); send a SOAP envelope") from None
    if root.tag.startswith("{") and _local(root.tag) == "Envelope" and root.tag != f"{{{ENVELOPE}}}Envelope":
        raise SoapFault(f"this service speaks SOAP 1.1 (an Envelope in {ENVELOPE}), not {root.tag}",
                        "VersionMismatch")
    header = root.find(f"{{{ENVELOPE}}}Header")
    for entry in header if header is not None else []:
        if entry.get(f"{{{ENVELOPE}}}mustUnderstand", "0").strip() in ("1", "true"):
            raise SoapFault(f"the header entry {entry.tag} must be understood, and this service understands no "
                            "header entries", "MustUnderstand")
    soap_body = root.find(f"{{{ENVELOPE}}}Body")
    if root.tag != f"{{{ENVELOPE}}}Envelope" or soap_body is None or len(soap_body) != 1:
        raise SoapFault(f"the body is not a SOAP 1.1 envelope: expected {{{ENVELOPE}}}Envelope holding a Body "
                        f"with one operation element, got {root.tag}")
    call = soap_body[0]
    operation = _local(call.tag)
    if operation not in OPERATIONS:
        raise SoapFault(f"no operation {operation!r}; this service has {', '.join(OPERATIONS)} (see ?wsdl)")
    wanted = [name for name, _ in OPERATIONS[operation][0]]
    given = {_local(child.tag): child.text or "" for child in call}
    unexpected = sorted(set(given) - set(wanted))
    missing = [name for name in wanted if name not in given]
    if unexpected or missing or len(call) != len(given):
        raise SoapFault(f"{operation} takes ({', '.join(wanted) or 'nothing'}); "
                        f"missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(unexpected) or 'none'}")
    return operation, given


class WikiSoapService:
    """The operations themselves, on a :class:`WikiData`."""

    def __init__(self, data: WikiData):
        self.data = data

    def call(self, operation: str, arguments: dict[str, str]):
        return getattr(self, f"soap_{operation}")(**arguments)

    def _existing(self, name, text):
        if text is None:
            raise SoapFault(f"no page named {name!r}")
        return text

    def soap_listPages(self):
        return self.data.list_pages()

    def soap_hasPage(self, name):
        return self.data.has_page(name)

    def soap_getPage(self, name):
        return self._existing(name, self.data.get_page(name))

    def soap_getRenderedPage(self, name):
        return self._existing(name, self.data.rendered_page(name))

    def soap_setPage(self, name, text):
        try:
            return self.data.set_page(name, text)
        except WikiFull as full:
            raise SoapFault(str(full), "Server") from None
        except WikiRefused as refused:
            raise SoapFault(str(refused)) from None

    def soap_deletePage(self, name):
        return self.data.delete_page(name)


class SoapEndpoint(PracticePage):
    """``/soap``: POST envelopes; ``GET /soap?wsdl`` the WSDL."""

    def __init__(self, service: WikiSoapService, calls: collections.deque):
        super().__init__()
        self.service, self.calls = service, calls

    def render_GET(self, request):
        if b"wsdl" not in request.uri.partition(b"?")[2].lower().split(b"&"):
            request.setHeader(b"content-type", TEXT_TYPE)
            return b"POST SOAP 1.1 envelopes here; GET ?wsdl for the service description.\n"
        host = request.getHost()
        request.setHeader(b"content-type", XML_TYPE)
        return wsdl(f"http://{host.host}:{host.port}/soap")

    def render_POST(self, request):
        request.setHeader(b"content-type", XML_TYPE)
        operation = "an unread envelope"
        try:
            operation, arguments = parse_call(request.content.read())
            self.calls.append((operation, arguments))
            result = self.service.call(operation, arguments)
        except SoapFault as fault:
            request.setResponseCode(http.INTERNAL_SERVER_ERROR)  # SOAP 1.1 sends every fault with 500
            return _fault(fault.code, str(fault))
        except Exception:
            _log.failure("the SOAP operation {operation} raised", operation=operation)
            request.setResponseCode(http.INTERNAL_SERVER_ERROR)
            return _fault("Server", f"the service failed while running {operation}; its log says why")
        _, kind, many = OPERATIONS[operation]
        items = result if many else [result]
        returned = "".join(f"<tns:return>{_value(item, kind)}</tns:return>" for item in items)
        return _envelope(f'<tns:{operation}Response xmlns:tns="{NAMESPACE}">{returned}</tns:{operation}Response>')


class SoapSite(BoundedRoot):
    def __init__(self, data: WikiData | None = None):
        super().__init__()
        self.data = data if data is not None else WikiData()
        self.calls: collections.deque = collections.deque(maxlen=KEPT_CALLS)
        self.putChild(b"soap", SoapEndpoint(WikiSoapService(self.data), self.calls))
        self.putChild(b"", FixedPage(b"The wiki's SOAP service is at /soap; its WSDL at /soap?wsdl.\n", TEXT_TYPE))


def soap_wiki(data: WikiData | None = None) -> SoapSite:
    """Build the SOAP wiki over ``data`` (a new :class:`WikiData` unless given)."""
    return SoapSite(data)
