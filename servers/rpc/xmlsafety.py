"""Refusing XML that carries a document type declaration, or nests elements deeper than any real message, before
any parser builds anything from it.

Promises: :func:`xml_refusal` returns ``""`` for a body without a DTD whose elements nest at most
:data:`MAX_DEPTH` deep, else one sentence saying why it is refused. Neither XML-RPC nor SOAP messages may carry a
DTD (SOAP 1.1 section 3 forbids it), and a DTD is what entity-expansion attacks ("billion laughs") and external
entities need; a message nested thousands deep is an attack on whatever walks the tree afterwards. The check uses
the standard library's expat, builds nothing and stops at the first refusal: nothing is expanded.
"""

from __future__ import annotations

from xml.parsers import expat

__all__ = ["MAX_DEPTH", "xml_refusal"]

MAX_DEPTH = 64
"""Elements inside elements, at most (an XML-RPC value nests three deep per array or struct level)."""


class _Refused(Exception):
    pass


def _declared(*_):
    raise _Refused("the body carries a document type declaration (<!DOCTYPE ...>), which these messages may not")


def xml_refusal(body: bytes) -> str:
    """``""`` when ``body`` has no DTD and nests at most :data:`MAX_DEPTH` deep (malformed XML included: the real
    parser reports that), else why not."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _declared
    parser.EntityDeclHandler = _declared
    depth = [0]

    def opened(*_):
        depth[0] += 1
        if depth[0] > MAX_DEPTH:
            raise _Refused(f"the body nests elements deeper than {MAX_DEPTH}; send a flatter message")

    def closed(*_):
        depth[0] -= 1

    parser.StartElementHandler, parser.EndElementHandler = opened, closed
    try:
        parser.Parse(body, True)
    except _Refused as refused:
        return str(refused)
    except expat.ExpatError:
        return ""
    return ""
