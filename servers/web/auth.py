"""``/private``: a page behind HTTP Basic authentication, with twisted.cred, for the practice web site's accounts.

Promises: :func:`private_area` is :data:`PRIVATE_HTML` for the accounts of the ``web`` family in
:mod:`servers.accounts` (``learner`` / ``twisted``, :data:`USERNAME` / :data:`PASSWORD`); without credentials or
with wrong ones it answers 401 with ``WWW-Authenticate: Basic realm="practice"`` and an HTML page.
"""

from __future__ import annotations

from twisted.cred.portal import IRealm, Portal
from twisted.web._auth.wrapper import UnauthorizedResource
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource, Resource
from zope.interface import implementer

from servers import accounts
from servers.web.pages import HTML_TYPE, FixedPage, html_document

__all__ = ["BasicGuard", "ChallengePage", "PASSWORD", "PRIVATE_HTML", "PrivateRealm", "REALM", "USERNAME",
           "private_area"]

FAMILY = "web"
USERNAME = accounts.accounts(FAMILY)[0].user
PASSWORD = accounts.accounts(FAMILY)[0].password
REALM = "practice"

PRIVATE_HTML = html_document("A Password Protected Page", "<h1>A Password Protected Page</h1>\n"
                             f"<p>Welcome, {USERNAME}. Your credentials worked.</p>")


class ChallengePage(Resource):
    """401 with ``WWW-Authenticate: Basic realm="..."`` and an HTML page."""

    isLeaf = True

    def __init__(self, realm: str = REALM):
        super().__init__()
        self.realm = realm

    def render(self, request):
        request.setResponseCode(401)
        request.setHeader(b"content-type", HTML_TYPE)
        request.setHeader(b"www-authenticate", b'Basic realm="%s"' % self.realm.encode("ascii"))
        return html_document("401 Unauthorized", "<h1>401 Unauthorized</h1>\n<p>This page needs a user name and "
                             "password, sent with HTTP Basic authentication.</p>")

    def getChildWithDefault(self, name, request):
        return self


@implementer(IRealm)
class PrivateRealm:
    """Every authenticated user gets the same private page."""

    def requestAvatar(self, avatarId, mind, *interfaces):
        if IResource in interfaces:
            return IResource, FixedPage(PRIVATE_HTML), lambda: None
        raise NotImplementedError("the practice realm only gives web resources")


class BasicGuard(HTTPAuthSessionWrapper):
    """Twisted's guard, whose refusals say ``Basic realm="practice"`` (Twisted's own say ``basic ...``) and
    come with an HTML page."""

    def __init__(self, portal: Portal, realm: str = REALM):
        super().__init__(portal, [BasicCredentialFactory(realm.encode("ascii"))])
        self._challenge = ChallengePage(realm)

    def _authorizedResource(self, request):
        return self._ours(super()._authorizedResource(request))

    def _loginFailed(self, result):
        return self._ours(super()._loginFailed(result))

    def _ours(self, resource):
        return self._challenge if isinstance(resource, UnauthorizedResource) else resource


def private_area(realm: str = REALM) -> BasicGuard:
    """The ``/private`` resource: :data:`PRIVATE_HTML` behind HTTP Basic authentication, for the web accounts."""
    return BasicGuard(Portal(PrivateRealm(), [accounts.checker(FAMILY)]), realm)
