"""The catalogue of practice servers: every name, what it is, and where its code lives, without importing it.

Promises:

* :data:`CATALOGUE` (also ``REGISTRY``) maps each name to an :class:`Entry`; iterating it, listing names and
  summaries, imports no server family. A family's module is imported the first time one of its servers is built
  (``serve("echo")`` never imports the web site, twisted.web's server and HTTP, twisted.cred or twisted.mail).
* A family that cannot be imported, or whose builder is missing, breaks only its own names: building one raises
  :class:`ServerUnavailable` naming the module and the error; every other server still builds.
* Each entry declares its URL scheme, its practice accounts (:mod:`servers.accounts`), whether it speaks TLS, the
  limits it listens with and the probe (a well-behaved stdlib client) that tells whether it answers correctly.
* :func:`servers.listening.plan` is the one way from a name to a listening server: it builds the entry, takes its
  scheme and limits, and listens.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable, Mapping

from servers import accounts as practice_accounts

__all__ = ["CATALOGUE", "Entry", "REGISTRY", "ServerUnavailable", "TLS_SCHEMES", "build", "entry"]

TLS_SCHEMES = {"http": "https", "tcp": "tls", "smtp": "smtps", "pop3": "pop3s", "imap": "imaps", "nntp": "nntps"}


class ServerUnavailable(RuntimeError):
    """A practice server's code could not be loaded (the rest of the catalogue is unaffected)."""


def _load(spec: str, name: str) -> Callable:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ServerUnavailable(
            f"the practice server {name!r} is unavailable: importing {module_name} raised "
            f"{type(exc).__name__}: {exc}. Fix that module (the other practice servers still work).") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ServerUnavailable(f"the practice server {name!r} is unavailable: {module_name} has no "
                                f"{attribute!r}; fix its catalogue entry ({spec!r}).") from None


@dataclass(frozen=True)
class Entry:
    """One practice server as the catalogue describes it.

    ``builder`` and ``probe`` are ``"module:function"``; ``accounts`` names a family of :mod:`servers.accounts`;
    ``limits`` holds the fields of ``servers.abuse_guard.Limits`` this server sets differently from the defaults.
    """

    name: str
    summary: str
    builder: str
    scheme: str = "tcp"
    accounts: str | None = None
    tls: bool = False
    probe: str | None = None
    limits: Mapping[str, float] = field(default_factory=dict)

    def build(self, **options):
        """Import the family's module (on first use) and build this server."""
        return _load(self.builder, self.name)(**options)

    def load_probe(self) -> Callable[[str, int], None]:
        """The probe: ``probe(host, port)`` raises AssertionError unless the server answers correctly."""
        if self.probe is None:
            raise ServerUnavailable(f"the practice server {self.name!r} has no probe")
        return _load(self.probe, self.name)

    def practice_accounts(self) -> tuple[practice_accounts.Account, ...]:
        return practice_accounts.accounts(self.accounts)

    def make_limits(self, **overrides):
        """This server's ``servers.abuse_guard.Limits``: the defaults, its own settings, then ``overrides``."""
        from servers.abuse_guard import Limits

        return Limits(**{**self.limits, **overrides})

    def tls_options(self):
        """The server side of TLS for this server (ALPN ``http/1.1`` for HTTP, none otherwise)."""
        if not self.tls:
            raise ValueError(f"the practice server {self.name!r} does not speak TLS")
        from servers import tls

        return tls.server_options(tls.HTTP_ALPN if self.scheme == "http" else ())

    def url_scheme(self, over_tls: bool) -> str:
        return TLS_SCHEMES.get(self.scheme, self.scheme) if over_tls else self.scheme


_ENTRIES = [
    Entry("echo", "answers every line with 'You said: LINE'; 'quit' says Goodbye and hangs up",
          "servers.tcp:echo", probe="servers.probes:echo"),
    Entry("hangup", "accepts a connection and closes it at once", "servers.tcp:hangup", probe="servers.probes:hangup"),
    Entry("ports", "a run of consecutive ports, a few of them open: the port-scan target", "servers.tcp:ports",
          probe="servers.probes:ports"),
    Entry("http", "a tiny HTTP/1.0 responder: 200 OK and a fixed body for any request", "servers.tcp:http",
          scheme="http", probe="servers.probes:http"),
    Entry("web", "chapter 3's web site: pages, 404/500, 1 MB, Basic auth, conditional GET, uploads, slow downloads",
          "servers.web.practice_site:site", scheme="http", accounts="web", tls=True, probe="servers.probes:web"),
    Entry("wiki", "chapter 5's wiki over REST: pages as resources (GET, PUT, DELETE, ETags), HTML and JSON",
          "servers.rpc.rest:wiki", scheme="http", probe="servers.rpc.probes:wiki"),
    Entry("xmlrpc", "chapter 5's wiki over XML-RPC at /RPC2: introspection, faults, nil allowed",
          "servers.rpc.xmlrpc:xmlrpc_wiki", scheme="http", probe="servers.rpc.probes:xmlrpc"),
    Entry("soap", "chapter 5's wiki as a SOAP 1.1 service at /soap, its WSDL at /soap?wsdl",
          "servers.rpc.soap:soap_wiki", scheme="http", probe="servers.rpc.probes:soap"),
    Entry("pb", "chapter 5's wiki over Perspective Broker: a pb.Root with remote_ methods and a Referenceable",
          "servers.rpc.pb:pb_wiki", scheme="pb", probe="servers.rpc.probes:pb"),
    Entry("auth", "chapter 6's login server: 'User Name:', 'Password:', then a welcome or a refusal (SQLite, scrypt)",
          "servers.auth:auth", accounts="auth", probe="servers.auth.probes:login"),
    Entry("todo", "chapter 6's Perspective Broker to-do list with cred: admin adds and deletes, the others list",
          "servers.auth.pbtodo:todo", scheme="pb", accounts="auth", probe="servers.auth.probes:todo"),
    Entry("ssh", "chapter 10's SSH server: a practice shell (fixed commands) by password or key, exec with exit status",
          "servers.ssh:ssh", scheme="ssh", accounts="ssh", probe="servers.ssh.probes:banner"),
    Entry("nntp", "chapter 9's news server (NNTP on LineReceiver): a group of 15 articles with one number missing, "
          "a read-only group, a writable one", "servers.news:nntp", scheme="nntp", probe="servers.news.probes:nntp"),
    Entry("rss", "chapter 9's RSS and Atom feeds (items added and edited from the notebook, a hit counter), "
          "what the RSS-to-news gateway reads", "servers.news:feeds", scheme="http", probe="servers.news.probes:feeds"),
    Entry("reverse", "chapter 11's reverse-text service: every line back reversed; also a .tac for twistd",
          "servers.services:reverse", probe="servers.services.probes:reverse"),
    Entry("pop3", "chapter 7's POP3 server: Twisted's pop3.POP3 over Maildirs, USER/PASS and APOP, STLS",
          "servers.mail.pop3:pop3", scheme="pop3", accounts="mail", tls=True, probe="servers.mail.probes:pop3"),
    Entry("smtp", "chapter 7's ESMTP server for the practice domains: STARTTLS, AUTH, relaying refused",
          "servers.mail.smtp:smtp", scheme="smtp", accounts="mail", tls=True, probe="servers.mail.probes:smtp"),
    Entry("imap", "chapter 7's IMAP4rev1 server: INBOX, Archive, Lists/Twisted, real UIDs and flags, STARTTLS",
          "servers.mail.imap:imap", scheme="imap", accounts="mail", tls=True, probe="servers.mail.probes:imap"),
    Entry("dns", "chapter 7's DNS authority for example.test (MX of three preferences, A fallback, NXDOMAIN), UDP and "
          "TCP", "servers.names:dns_udp_and_tcp", scheme="dns", probe="servers.names.probes:dns"),
    Entry("lucky", "chapter 8's 'I'm feeling lucky' search: /lucky?q=WORDS redirects to the first matching page",
          "servers.web.lucky:lucky", scheme="http", probe="servers.web.lucky:probe"),
]

CATALOGUE: dict[str, Entry] = {made.name: made for made in _ENTRIES}
REGISTRY = CATALOGUE  # the name it had before the catalogue became lazy


def entry(name: str) -> Entry:
    """The catalogue entry ``name``; an unknown name raises KeyError listing the known ones."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"no practice server named {name!r}; there are: {', '.join(sorted(CATALOGUE))}") from None


def build(name: str, **options):
    """Build the practice server ``name`` (a factory, a resource or a multi-port server)."""
    return entry(name).build(**options)

