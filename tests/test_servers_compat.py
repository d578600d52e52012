"""servers.compat holds every private Twisted name the practice servers use; each entry still fits Twisted and is
still needed. A failure here names the entry to change (or remove) after a Twisted upgrade."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import types

import pytest
from twisted.internet import defer
from twisted.internet.testing import StringTransport
from twisted.mail import smtp
from twisted.web import http
from zope.interface import implementer

import servers
from servers.compat import BadRequestAnswer, EndOfDataReply

# --- the fence: no private Twisted name outside servers.compat --------------------------------------------------


def server_modules() -> list[types.ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(servers.__path__, "servers.")
             if info.name not in ("servers.__main__", "servers.compat")]
    return [importlib.import_module(name) for name in names]


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def twisted_bases(cls) -> list[type]:
    return [base for base in cls.__mro__[1:] if base.__module__.startswith("twisted.")]


def private_twisted_names(module: types.ModuleType) -> list[str]:
    """Where ``module`` imports a private Twisted module, reads a private name of a Twisted module, or overrides
    or reads a private attribute of a Twisted base class."""
    found = []
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            found += [f"imports {m}" for m in modules if m.startswith("twisted") and any(map(private, m.split(".")))]
        elif isinstance(node, ast.Attribute) and private(node.attr) and isinstance(node.value, ast.Name):
            owner = getattr(module, node.value.id, None)
            if isinstance(owner, types.ModuleType) and owner.__name__.startswith("twisted"):
                found.append(f"reads {owner.__name__}.{node.attr}")
    for cls in vars(module).values():
        if not (isinstance(cls, type) and cls.__module__ == module.__name__):
            continue
        sources = {base: inspect.getsource(base) for base in twisted_bases(cls)}
        used = {node.attr for node in ast.walk(ast.parse(inspect.getsource(cls)))
                if isinstance(node, ast.Attribute) and private(node.attr)} | {n for n in vars(cls) if private(n)}
        for name in sorted(used):
            for base, source in sources.items():
                if name in vars(base) or f"self.{name}" in source:
                    found.append(f"{cls.__name__} uses {base.__module__}.{base.__name__}.{name}")
    return found


def test_no_private_twisted_name_outside_servers_compat():
    found = {module.__name__: names for module in server_modules() if (names := private_twisted_names(module))}
    assert found == {}, f"private Twisted names outside servers/compat.py (move them there, with a test): {found}"


FENCED = """
from twisted.mail import imap4
from twisted.web._auth.wrapper import UnauthorizedResource
from twisted.web.guard import HTTPAuthSessionWrapper


class Guard(HTTPAuthSessionWrapper):
    def _loginFailed(self, result):
        return UnauthorizedResource(self._credentialFactories)


def mailbox(name):
    return imap4._parseMbox(name)
"""


def test_the_fence_sees_private_imports_reads_and_overrides(tmp_path, monkeypatch):
    (tmp_path / "fenced_example.py").write_text(FENCED)
    monkeypatch.syspath_prepend(str(tmp_path))
    wrapper = "twisted.web._auth.wrapper.HTTPAuthSessionWrapper"
    assert sorted(private_twisted_names(importlib.import_module("fenced_example"))) == [
        f"Guard uses {wrapper}._credentialFactories", f"Guard uses {wrapper}._loginFailed",
        "imports twisted.web._auth.wrapper", "reads twisted.mail.imap4._parseMbox"]


# --- EndOfDataReply: SMTP._messageHandled ------------------------------------------------------------------------

@implementer(smtp.IMessage)
class Failing:
    """A message whose end of DATA fails with ``error`` (or succeeds when it is None)."""

    def __init__(self, error: Exception | None):
        self.error = error

    def lineReceived(self, line):
        pass

    def eomReceived(self):
        return defer.succeed(None) if self.error is None else defer.fail(self.error)

    def connectionLost(self):
        pass


@implementer(smtp.IMessageDelivery)
class Delivery:
    def __init__(self, error: Exception | None):
        self.error = error

    def receivedHeader(self, helo, origin, recipients):
        return b"Received: from test"

    def validateFrom(self, helo, origin):
        return origin

    def validateTo(self, user):
        return lambda: Failing(self.error)


def end_of_data(server_class, error: Exception | None) -> str:
    """The reply ``server_class`` gives when the one message's ``eomReceived`` fails with ``error``."""
    server = server_class()
    server.host, server.delivery = b"mx.example.test", Delivery(error)
    transport = StringTransport()
    server.makeConnection(transport)
    for line in (b"HELO client.test", b"MAIL FROM:<a@example.test>", b"RCPT TO:<b@example.test>", b"DATA",
                 b"Subject: hi", b"", b"body", b"."):
        server.dataReceived(line + b"\r\n")
    server.connectionLost(None)
    return transport.value().decode().splitlines()[-1]


class TryLater(EndOfDataReply, smtp.ESMTP):
    def end_of_data_reply(self, failure):
        return (451, b"4.3.0 try again later") if failure.check(smtp.SMTPServerError) else None


def test_end_of_data_reply_overrides_a_method_twisted_still_calls_so():
    method = getattr(smtp.SMTP, "_messageHandled", None)
    assert method is not None and list(inspect.signature(method).parameters) == ["self", "resultList"], (
        "servers.compat.EndOfDataReply overrides SMTP._messageHandled(self, resultList), which Twisted changed: "
        "find where Twisted now answers the end of DATA and move the override there")
    assert "addCallback(self._messageHandled)" in inspect.getsource(smtp.SMTP.dataLineReceived), (
        "servers.compat.EndOfDataReply: SMTP.dataLineReceived no longer hands eomReceived's results to "
        "_messageHandled; the override is never called")


def test_end_of_data_reply_is_still_needed(caplog):
    reply = end_of_data(smtp.ESMTP, smtp.SMTPServerError(451, b"try again later"))
    assert reply.startswith("550 "), (
        f"Twisted now answers a failed eomReceived with {reply!r}, not 550 whatever the failure: "
        "servers.compat.EndOfDataReply may no longer be needed (see whether an SMTPServerError's code is honoured)")


def test_end_of_data_reply_answers_the_code_chosen_and_leaves_the_rest_to_twisted():
    assert end_of_data(TryLater, smtp.SMTPServerError(451, b"later")) == "451 4.3.0 try again later"
    assert end_of_data(TryLater, RuntimeError("a bug")).startswith("550 ")
    assert end_of_data(TryLater, None).startswith("250 ")


# --- BadRequestAnswer: HTTPChannel._respondToBadRequestAndDisconnect -------------------------------------------

def channel_answer(channel_class, request: bytes) -> bytes:
    """What ``channel_class`` (an HTTPChannel) writes for ``request``, fed in one piece."""
    channel = channel_class()
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(request)
    channel.connectionLost(None)
    return transport.value()


MALFORMED_HEADER = b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"


class Noted(BadRequestAnswer, http.HTTPChannel):
    def bad_request(self):
        self.transport.write(b"noted")
        self.transport.loseConnection()


def test_bad_request_answer_overrides_a_method_twisted_still_calls_so():
    method = getattr(http.HTTPChannel, "_respondToBadRequestAndDisconnect", None)
    assert method is not None and list(inspect.signature(method).parameters) == ["self"], (
        "servers.compat.BadRequestAnswer overrides HTTPChannel._respondToBadRequestAndDisconnect(self), which "
        "Twisted changed: find where Twisted now answers a request it cannot parse and move the override there")
    assert channel_answer(Noted, MALFORMED_HEADER) == b"noted"


def test_bad_request_answer_is_still_needed():
    answer = channel_answer(http.HTTPChannel, MALFORMED_HEADER)
    assert answer == b"HTTP/1.1 400 Bad Request\r\n\r\n", (
        f"Twisted now answers a malformed request with {answer[:200]!r}, not a bare 400 without Date or page: "
        "servers.compat.BadRequestAnswer may no longer be needed")


def test_bad_request_answer_leaves_twisteds_answer_by_default():
    class Plain(BadRequestAnswer, http.HTTPChannel):
        pass

    assert channel_answer(Plain, MALFORMED_HEADER) == b"HTTP/1.1 400 Bad Request\r\n\r\n"
