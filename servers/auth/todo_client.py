"""A PB client for the ``todo`` practice server, run as a program by its probe:
``python -m servers.auth.todo_client HOST PORT``. Exits 0 when admin can list, add and delete, guest can list
and is refused ``addItem``; otherwise prints what went wrong and exits 1."""

from __future__ import annotations

import sys

from twisted.cred.credentials import UsernamePassword
from twisted.internet import endpoints, task
from twisted.spread import pb

from servers import accounts


async def _logged_in(reactor, host: str, port: int, user: str):
    password = next(a.password for a in accounts.accounts("auth") if a.user == user)
    factory = pb.PBClientFactory()
    await endpoints.TCP4ClientEndpoint(reactor, host, port, timeout=5).connect(factory)
    return factory, await factory.login(UsernamePassword(user.encode(), password.encode()))


async def main(reactor, host: str, port: str):
    factory, admin = await _logged_in(reactor, host, int(port), "admin")
    before = await admin.callRemote("listItems")
    index = await admin.callRemote("addItem", "probe")
    assert (await admin.callRemote("listItems")) == before + ["probe"], "addItem did not add"
    await admin.callRemote("deleteItem", index)
    factory.disconnect()
    factory, guest = await _logged_in(reactor, host, int(port), "guest")
    assert (await guest.callRemote("listItems")) == before, "guest saw another list"
    try:
        await guest.callRemote("addItem", "not allowed")
    except pb.RemoteError as refused:
        assert "may not call 'addItem'" in str(refused), f"guest's addItem failed with {refused!r}"
    else:
        raise AssertionError("guest could add an item")
    factory.disconnect()


if __name__ == "__main__":
    task.react(main, sys.argv[1:3])
