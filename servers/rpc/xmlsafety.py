"""Refusing XML that carries a document type declaration, before any parser expands it.

Promises: :func:`dtd_refusal` returns ``""`` for a body without a DTD, else one sentence saying why it is
refused. Neither XML-RPC nor SOAP messages may carry a DTD (SOAP 1.1 section 3 forbids it), and a DTD is what
entity-expansion attacks ("billion laughs") and external entities need, so refusing it keeps parsing bounded in
time and memory. The check uses the standard library's expat and stops at the declaration: nothing is expanded.
"""

from __future__ import annotations

from xml.parsers import expat

__all__ = ["dtd_refusal"]


class _Declared(Exception):
    pass


def _stop(*_):
    raise _Declared()


def dtd_refusal(body: bytes) -> str:
    """``""`` when ``body`` has no DTD (malformed XML included: the real parser reports that), else why not."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _stop
    parser.EntityDeclHandler = _stop
    try:
        parser.Parse(body, True)
    except _Declared:
        return "the body carries a document type declaration (<!DOCTYPE ...>), which these messages may not"
    except expat.ExpatError:
        return ""
    return ""
