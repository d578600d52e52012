"""Chapter 6's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Every check logs in over a real protocol (see labkit.chapters.ch06)."""

from __future__ import annotations

from labkit.testing import Mistake, exercise_tests

MISTAKES = [
    # 6.1 DictChecker.requestAvatarId
    Mistake("6.1", "says which part was wrong",
            ("        if stored is not None and hmac",
             "        if stored is None:\n            return defer.fail(error.UnauthorizedLogin(\"no such user\"))\n"
             "        if stored is not None and hmac"),
            hint="saying 'bad password' tells a guesser"),
    Mistake("6.1", "passwords compared with ==", ("hmac.compare_digest(stored, creds.password)",
                                                  "stored == creds.password"),
            hint="hmac.compare_digest"),
    Mistake("6.1", "the user looked up with []", ("self.passwords.get(creds.username)",
                                                  "self.passwords[creds.username]"),
            hint="look the user up with .get()"),
    Mistake("6.1", "the avatar id as text", ("defer.succeed(creds.username)", "defer.succeed(creds.username.decode())"),
            hint="Avatar ids are bytes"),
    # 6.2a HashedChecker.check
    Mistake("6.2a", "the name put into the SQL text",
            ('"SELECT password_hash FROM users WHERE username = ?", (name,)',
             'f"SELECT password_hash FROM users WHERE username = \'{name}\'"'),
            hint="pass the name as a parameter"),
    Mistake("6.2a", "an unknown user refused without a hash",
            ("stored = rows[0][0] if rows else UNKNOWN_USER",
             "if not rows:\n            raise refusal\n        stored = rows[0][0]"),
            hint="passwords.UNKNOWN_USER"),
    Mistake("6.2a", "the hash computed in the reactor thread",
            ("await threads.deferToThread(verify_password, creds.password, stored)",
             "verify_password(creds.password, stored)"),
            hint="threads.deferToThread(verify_password"),
    Mistake("6.2a", "a name that is not UTF-8 not caught",
            ('        try:\n            name = creds.username.decode("utf-8")\n        except UnicodeDecodeError:\n'
             '            raise refusal from None\n', '        name = creds.username.decode("utf-8")\n'),
            hint="UnicodeDecodeError"),
    Mistake("6.2a", "the avatar id as text", ("            return creds.username\n", "            return name\n"),
            hint="avatar id"),
    # 6.2b SlowDown.requestAvatarId
    Mistake("6.2b", "one count for everybody", ("name = creds.username", 'name = "everybody"'),
            hint="per user name"),
    Mistake("6.2b", "a success does not clear the count", ("self.failures.pop(name, None)", "self.failures.get(name)"),
            hint="clear the user's count"),
    Mistake("6.2b", "always one second", ("wait = 0 if extra < 0 else 2 ** extra", "wait = 0 if extra < 0 else 1"),
            hint="doubles the wait"),
    Mistake("6.2b", "one failure too few answered at once", ("extra < 0 else", "extra <= 0 else"),
            hint="2 ** (failures - 3)"),
    Mistake("6.2b", "the refusal swallowed", ("            return failure\n", "            return None\n"),
            hint="a refusal must stay a failure"),
    # 6.3 ThreeKindsRealm.requestAvatar
    Mistake("6.3", "the book's order", ("return INamedUser, NamedUser(avatarId, self.full_names[avatarId]), logout",
                                        "return NamedUser(avatarId, self.full_names[avatarId]), INamedUser, logout"),
            hint="(interface, avatar, logout) in that order"),
    Mistake("6.3", "no anonymous visitors", ('        if avatarId == checkers.ANONYMOUS and INamedUser in interfaces:\n'
                                             '            return INamedUser, NamedUser(b"", "visitor"), logout\n', ""),
            hint="checkers.ANONYMOUS"),
    Mistake("6.3", "full names looked up by text", ("if avatarId in self.full_names and",
                                                    "if avatarId.decode() in self.full_names and"),
            hint="keyed by the bytes avatar id"),
    Mistake("6.3", "a new user's name not kept", ("NewVisitor(avatarId, self.full_names)",
                                                  "NewVisitor(avatarId, dict(self.full_names))"),
            hint="store it as self.full_names[self.username]"),
    # 6.4 TodoRealm.requestAvatar
    Mistake("6.4", "admin compared as text", ('avatarId == b"admin"', 'avatarId == "admin"'),
            hint="compared with b'admin'"),
    Mistake("6.4", "everyone gets the admin's perspective",
            ('AdminPerspective if avatarId == b"admin" else UserPerspective', "AdminPerspective"),
            hint="without perspective_addItem"),
    Mistake("6.4", "the book's order", ("return pb.IPerspective, kind(self.todoList), lambda: None",
                                        "return kind(self.todoList), pb.IPerspective, lambda: None"),
            hint="(interface, avatar, logout)"),
    # 6.5 WebRealm.requestAvatar
    Mistake("6.5", "full names looked up by text", ("self.full_names.get(avatarId, ", "self.full_names.get(avatarId.decode(), "),
            hint="keyed by the bytes avatar id"),
    Mistake("6.5", "no fallback for a user without a full name",
            ('self.full_names.get(avatarId, avatarId.decode("utf-8", "replace"))', "self.full_names[avatarId]"),
            hint="grace has no full name"),
    Mistake("6.5", "the book's order", ("return resource.IResource, GreetingPage(name), lambda: None",
                                        "return GreetingPage(name), resource.IResource, lambda: None"),
            hint="(interface, avatar, logout)"),
]

TestChapter06 = exercise_tests(6, MISTAKES)


# --- the kit's PB client ----------------------------------------------------------------------------------------

def test_pb_session_reports_a_closed_port_instead_of_raising():
    from labkit.checks import closed_port
    from labkit.checks.pb import pb_session

    session = pb_session(closed_port(), b"admin", b"x", ("listItems",))
    assert not session.logged_in and "ConnectionRefused" in session.login and session.results == []
