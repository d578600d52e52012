"""``/private``: a page behind HTTP Basic authentication, with twisted.cred, for the practice web site's accounts.

Promises: :func:`private_area` is :data:`PRIVATE_HTML` for the accounts of the ``web`` family in
:mod:`servers.accounts` (``learner`` / ``twisted``, :data:`USERNAME` / :data:`PASSWORD`); without credentials or
with wrong ones it answers 401 with ``WWW-Authenticate: Basic realm="practice"`` and an HTML page.
"""

from __future__ import annotations

from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import LoginFailed, Unauthorized
from twisted.cred.portal import IRealm, Portal
from twisted.web.resource import IResource, Resource
from twisted.web.util import DeferredResource
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


class BasicGuard(Resource):
    """HTTP Basic authentication in front of a cred ``portal`` whose avatars are resources, like Twisted's
    ``HTTPAuthSessionWrapper`` with a ``BasicCredentialFactory``, but its refusals say ``Basic realm="..."``
    (Twisted's say ``basic ...``) and come with an HTML page (Twisted's are the bare word "Unauthorized").

    Built on public API only (``Request.getUser``/``getPassword``, ``Portal.login``, ``DeferredResource``):
    Twisted's guard can be given another refusal page only by overriding its private methods.
    A request without credentials, or whose login fails, gets :class:`ChallengePage`; any other failure of the
    login is the site's 500 (and goes to the log).
    """

    def __init__(self, portal: Portal, realm: str = REALM):
        super().__init__()
        self.portal = portal
        self.challenge = ChallengePage(realm)

    def getChildWithDefault(self, name, request):
        request.postpath.insert(0, request.prepath.pop())  # the avatar's own tree starts here, as in Twisted's
        return self.authorized(request)

    def render(self, request):
        return self.authorized(request).render(request)

    def authorized(self, request) -> Resource:
        """The resource ``request`` may see: the avatar for its credentials, or the challenge."""
        user = request.getUser()
        if not user:
            return self.challenge
        login = self.portal.login(UsernamePassword(user, request.getPassword()), None, IResource)
        return DeferredResource(login.addCallbacks(self.logged_in, self.refused, callbackArgs=(request,)))

    @staticmethod
    def logged_in(result, request):
        interface, avatar, logout = result
        request.notifyFinish().addBoth(lambda _: logout())
        return avatar

    def refused(self, failure):
        failure.trap(LoginFailed, Unauthorized)
        return self.challenge


def private_area(realm: str = REALM) -> BasicGuard:
    """The ``/private`` resource: :data:`PRIVATE_HTML` behind HTTP Basic authentication, for the web accounts."""
    return BasicGuard(Portal(PrivateRealm(), [accounts.checker(FAMILY)]), realm)
