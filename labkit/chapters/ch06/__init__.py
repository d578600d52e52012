"""Checks for chapter 6, Authentication.

Each ``check_*`` function puts what the learner wrote into a ``twisted.cred`` portal behind a real server (the
practice line login server of ``servers.auth.line``, a PB server, or twisted.web's guard), logs in over that
protocol from the check's own client (a plain socket, Twisted's PB client, ``http.client``) and looks at who got
in, who was refused and with which words. The throttle's check drives time with ``task.Clock``. Every wait is
bounded; every server a check starts is stopped again.

The checks live in three modules: :mod:`.common` (what they share), :mod:`.checkers` (6.1, 6.2a, 6.2b) and
:mod:`.avatars` (6.3, 6.4, 6.5); ``from labkit.chapters.ch06 import check_x`` finds each here.
"""

from labkit.chapters.ch06.avatars import check_multi_avatar_realm, check_todo_realm, check_web_realm
from labkit.chapters.ch06.checkers import check_dict_checker, check_hashed_checker, check_slow_down
from labkit.chapters.ch06.common import FULL_NAMES, PASSWORDS

__all__ = ["FULL_NAMES", "PASSWORDS", "check_dict_checker", "check_hashed_checker", "check_multi_avatar_realm",
           "check_slow_down", "check_todo_realm", "check_web_realm"]
