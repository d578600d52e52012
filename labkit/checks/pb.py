"""Perspective Broker from a check: log in with Twisted's PB client and call remote methods, bounded.

No implementation of PB's wire format outside Twisted exists, so the check's client is Twisted's own
``pb.PBClientFactory``, run on the reactor as a separate connection to the learner's server.

Promises: :func:`pb_session` logs in with a user name and password, makes each call in order and disconnects;
it never raises for a server that misbehaves. Its :class:`PBSession` says how the login ended (``"logged in"``,
or the remote error's type and message) and holds one entry per call: the value, or the words of its error.
A server whose realm or checker raised ``NotImplementedError`` shows as ``unwritten``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.bridge import LabTimeout, react
from labkit.checks import limits
from labkit.checks.values import Shown

__all__ = ["PBSession", "pb_session"]


@dataclass
class PBSession:
    login: str
    results: list = field(default_factory=list)

    @property
    def logged_in(self) -> bool:
        return self.login == "logged in"

    @property
    def unwritten(self) -> bool:
        return "NotImplementedError" in self.login or any("NotImplementedError" in str(r) for r in self.results)


def _words(error: Exception) -> Shown:
    from twisted.spread import pb

    if isinstance(error, pb.RemoteError):
        kind = error.remoteType.decode("utf-8", "replace") if isinstance(error.remoteType, bytes) else error.remoteType
        return Shown(f"remote error {kind.rsplit('.', 1)[-1]}: {error}")
    return Shown(f"{type(error).__name__}: {error}")


def pb_session(port: int, user: bytes, password: bytes, *calls: tuple, timeout: float = limits.REPLY) -> PBSession:
    """Log in to the PB server on 127.0.0.1:``port`` and make ``calls`` (each ``(method, *args)``)."""
    from twisted.cred.credentials import UsernamePassword
    from twisted.internet import endpoints
    from twisted.spread import pb

    async def session(reactor) -> PBSession:
        factory = pb.PBClientFactory()
        try:
            await endpoints.TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=timeout).connect(factory)
            try:
                perspective = await factory.login(UsernamePassword(user, password))
            except Exception as refused:  # noqa: BLE001 - how the login ended is the answer
                return PBSession(_words(refused))
            done = PBSession("logged in")
            for method, *args in calls:
                try:
                    done.results.append(await perspective.callRemote(method, *args))
                except Exception as failed:  # noqa: BLE001 - each call's error is part of the answer
                    done.results.append(_words(failed))
            return done
        finally:
            factory.disconnect()

    try:
        return react(session, timeout=timeout)
    except LabTimeout:
        return PBSession(f"no answer within {timeout:g} s")
    except Exception as failed:  # noqa: BLE001 - a refused connection and the like
        return PBSession(_words(failed))
