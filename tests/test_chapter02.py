"""Chapter 2's checks, run as nbgrader runs them (labkit.testing): every solution from the complete notebook
passes, every learner copy fails in a short box, and each typical mistake, made from the solution, fails with
the hint that names its cause. The checks talk to practice servers from servers.tcp over real connections, or
run the learner's code on a task.Clock / MemoryReactor where timing or counting is the point."""

from labkit.testing import Mistake, exercise_tests

SEQUENTIAL_SCAN = '''    async def one_by_one():
        found = []
        for port in ports:
            try:
                await test_connect(reactor, host, port)
                found.append(port)
            except Exception:
                pass
        return found

    return defer.Deferred.fromCoroutine(one_by_one())
'''

MISTAKES = [
    # 2.1 countdown(reactor, n, tick) -> a Deferred firing "liftoff" after n seconds
    Mistake("2.1", "every tick after one second", ("callLater(step + 1,", "callLater(1,"), hint="the ticks came at"),
    Mistake("2.1", "counts up instead of down", ("tick, n - step)", "tick, step + 1)"), hint="they count down"),
    Mistake("2.1", "the first tick at once", ("callLater(step + 1,", "callLater(step,"),
            hint="a tick came before any time passed"),
    Mistake("2.1", "liftoff a second late", ("deferLater(reactor, n,", "deferLater(reactor, n + 1,"),
            hint="fires once, with the text 'liftoff'"),
    Mistake("2.1", "the Deferred not returned", ("return task.deferLater", "task.deferLater"),
            hint="countdown must return a Deferred"),
    # 2.2 HelloProtocol / HelloClientFactory
    Mistake("2.2", "no line end", ('write(b"hello\\r\\n")', 'write(b"hello")'), hint="the server got no line end"),
    Mistake("2.2", "text instead of bytes", ('write(b"hello\\r\\n")', 'write("hello\\r\\n")'),
            hint="A transport sends bytes"),
    Mistake("2.2", "never hangs up", ("        self.transport.loseConnection()\n", ""),
            hint="the connection was still open"),
    Mistake("2.2", "done given the Failure itself", ("callback(reason.getErrorMessage())", "callback(reason)"),
            hint="done failed with ConnectionDone"),
    Mistake("2.2", "a clean close treated as a failure", ("self.done.callback(reason.getErrorMessage())",
                                                          "self.done.errback(reason)"),
            hint="done failed with ConnectionDone"),
    Mistake("2.2", "the reason's kind instead of its words", ("reason.getErrorMessage()", "reason.type.__name__"),
            hint="other words than the reason's own message"),
    # 2.3 BrokenTestFactory.clientConnectionFailed (the learner copy's version is `pass`)
    Mistake("2.3", "the failure reported as a success", ("self.deferred.errback(reason)",
                                                         "self.deferred.callback(reason.getErrorMessage())"),
            hint="reported as a success (callback)"),
    Mistake("2.3", "a made-up error instead of the reason", ("errback(reason)", "errback(Exception('failed'))"),
            hint="another error than the connection's own"),
    Mistake("2.3", "the failure only printed", ("self.deferred.errback(reason)", "print(reason.getErrorMessage())"),
            hint="the Deferred never fired"),
    # 2.4 scan(reactor, host, ports) -> sorted open ports
    Mistake("2.4", "one port after the other", ("    attempts = [test_connect(reactor, host, port) for port in ports]\n",
                                                SEQUENTIAL_SCAN),
            hint="takes the sum of all the waits"),
    Mistake("2.4", "keeps the closed ports", ("if ok)", "if not ok)"), hint="closed ports are in the list"),
    Mistake("2.4", "not sorted", ("return sorted(port for", "return list(port for"), hint="in the wrong order"),
    Mistake("2.4", "the DeferredList's pairs returned", (".addCallback(open_ports)", ""),
            hint="(success, result) pairs"),
    Mistake("2.4", "only the first half of the ports tried", ("ports = list(ports)", "ports = list(ports)[:10]"),
            hint="ports given were tried"),
    Mistake("2.4", "failures left unhandled", (", consumeErrors=True", ""), hint="left unhandled"),
    Mistake("2.4", "the ports iterated twice", ("    ports = list(ports)\n", ""), hint="make a list of it"),
    # 2.5 Forwarder.dataReceived
    Mistake("2.5", "never normalises", ('data = re.sub(rb"\\r?\\n", b"\\r\\n", data)', "pass"),
            hint="lines went out with bare LF ends"),
    Mistake("2.5", "a CR LF doubled", ('rb"\\r?\\n"', 'rb"\\n"'), hint="went out as CR CR LF"),
    Mistake("2.5", "normalises whatever the flag says", ("if self.normalize_newlines:", "if True:"),
            hint="normalise only when it is set"),
    Mistake("2.5", "nothing passed on", ("        self.output.write(data)\n", ""), hint="the server received nothing"),
    Mistake("2.5", "a text pattern on bytes", ('rb"\\r?\\n", b"\\r\\n"', 'r"\\r?\\n", "\\r\\n"'),
            hint="cannot use a string pattern on a bytes-like object"),
    # 2.6 PoliteEchoProtocol.lineReceived (the learner copy's version is the book's text version)
    Mistake("2.6", "quit compared with text", ('if line == b"quit":', 'if line == "quit":'),
            hint="compare it with b'quit'"),
    Mistake("2.6", "the answer built from text", ('self.sendLine(b"You said: " + line)',
                                                  'self.sendLine("You said: " + line)'),
            hint="lines arrive as bytes"),
    Mistake("2.6", "stays connected after Goodbye", ("            self.transport.loseConnection()\n", ""),
            hint="kept the connection open"),
    Mistake("2.6", "the line echoed without its prefix", ('self.sendLine(b"You said: " + line)',
                                                          "self.sendLine(line)"),
            hint="each answer is 'You said: '"),
]

TestChapter02 = exercise_tests(2, MISTAKES)
