"""Chapter 10's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. Every check talks over real SSH connections (see labkit.chapters.ch10)."""

from labkit.testing import Mistake, exercise_tests

MISTAKES = [
    # 10.1 answer(user, line) -> (output, status)
    Mistake("10.1", "keeps only the first name", ("' '.join(words[1:])", "words[1]"),
            hint="every word after it"),
    Mistake("10.1", "joins the words without spaces", ("' '.join(words[1:])", "''.join(words[1:])"),
            hint="every word after it"),
    Mistake("10.1", "an unknown command exits with 0", ("return answer(user, line)",
                                                        "return answer(user, line)[0], 0"),
            hint="exits with 127"),
    Mistake("10.1", "greets without the exclamation mark", ("}!\", 0", "}\", 0"), hint="exclamation mark"),
    Mistake("10.1", "the user's name greeted instead of the one typed", ("' '.join(words[1:])", "user"),
            hint="every word after it"),
    # 10.2 make_key_checker(authorized) -> an ISSHPrivateKey checker
    Mistake("10.2", "a password checker instead of a key checker",
            ("SSHPublicKeyChecker(InMemorySSHKeyDB(authorized))",
             "checkers.InMemoryUsernamePasswordDatabaseDontUse(learner=b'x')"), hint="IUsernamePassword"),
    Mistake("10.2", "every known user's keys open every account",
            ("InMemorySSHKeyDB(authorized)",
             "InMemorySSHKeyDB({user: [k for ks in authorized.values() for k in ks] for user in authorized})"),
            hint="a key opens only the account it belongs to"),
    Mistake("10.2", "the checker's result is not returned",
            ("return SSHPublicKeyChecker", "SSHPublicKeyChecker"), hint="returned no checker"),
    # 10.3 TwoDoorRealm.requestAvatar: admin gets the manhole, everybody else the shell
    Mistake("10.3", "everybody gets the Python prompt",
            ("        if avatar_id == b\"admin\":\n            return", "        return"), hint="only admin may"),
    Mistake("10.3", "the avatar id compared with text", ("avatar_id == b\"admin\"", "avatar_id == \"admin\""),
            hint="admin got the command shell"),
    Mistake("10.3", "an empty namespace", ("ManholeUser(avatar_id, self.namespace)", "ManholeUser(avatar_id, {})"),
            hint="give ManholeUser the realm's namespace"),
    Mistake("10.3", "any interface served", ("        if IConchUser not in interfaces:\n"
                                             "            raise NotImplementedError(\"only SSH users here\")\n", ""),
            hint="refuse an interface it does not serve"),
    Mistake("10.3", "no logout function", ("return IConchUser, ShellUser(avatar_id), lambda: None",
                                           "return IConchUser, ShellUser(avatar_id)"), hint="the login failed"),
    # 10.4 run_remote(reactor, port, user, key, known_hosts, command) -> (output, status)
    Mistake("10.4", "the exit status lost", ("status = getattr(ended, \"exitCode\", 0) or 0", "status = 0"),
            hint="ProcessTerminated"),
    Mistake("10.4", "any host key trusted",
            (("    endpoint = SSHCommandClientEndpoint",
              "    class TrustEveryone:\n"
              "        def prompt(self, text):\n"
              "            return defer.succeed(True)\n\n"
              "        def warn(self, text):\n"
              "            pass\n\n"
              "    endpoint = SSHCommandClientEndpoint"),
             ("ui=NeverTrustUnknownHosts()", "ui=TrustEveryone()")),
            hint="never accept an unknown host key"),
    Mistake("10.4", "output and status swapped",
            ("return b\"\".join(collected.received).decode(\"utf-8\", \"replace\"), status",
             "return status, b\"\".join(collected.received).decode(\"utf-8\", \"replace\")"),
            hint="the output first"),
    Mistake("10.4", "the output left as bytes",
            ("b\"\".join(collected.received).decode(\"utf-8\", \"replace\")", "b\"\".join(collected.received)"),
            hint="decode it to text"),
    Mistake("10.4", "only the first piece of output kept",
            ("b\"\".join(collected.received)", "collected.received[0]"), hint="several dataReceived calls"),
    Mistake("10.4", "the pieces joined with newlines",
            ("b\"\".join(collected.received)", "b\"\\n\".join(collected.received)"), hint="several dataReceived calls"),
]

TestChapter10 = exercise_tests(10, MISTAKES)
