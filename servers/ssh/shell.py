"""The practice shell: a fixed set of commands with fixed answers, typed at a line editor or sent to exec.

Promises:

* :func:`run` answers one command line: ``(output, exit status)``. Known commands are :data:`COMMANDS`
  (``help`` lists them); anything else answers ``NAME: command not found`` with status 127, as a shell does.
  Nothing here runs a program, reads a file or evaluates code.
* :class:`PracticeShell` is the interactive side (``HistoricRecvLine`` over ``insults.ServerProtocol``): a
  prompt, line editing and history (arrow keys, the last :data:`HISTORY` lines), ``exit`` ends the session with status 0. A line longer than
  :data:`MAX_LINE` characters is refused once, with a message saying the limit, and the rest of it is dropped.
"""

from __future__ import annotations

from typing import Callable

from twisted.conch.recvline import HistoricRecvLine

__all__ = ["COMMANDS", "MAX_LINE", "PracticeShell", "run"]

MAX_LINE = 4096
HISTORY = 100
NOT_FOUND = 127


def _echo(user: str, words: list[str]) -> str:
    return " ".join(words)


COMMANDS: dict[str, tuple[str, Callable[[str, list[str]], str]]] = {
    "help": ("list the commands", lambda user, words: "commands: " + " ".join(sorted(COMMANDS))),
    "whoami": ("the user you logged in as", lambda user, words: user),
    "hostname": ("this server's name", lambda user, words: "practice-ssh"),
    "uptime": ("a fixed uptime", lambda user, words: "up 42 days, 1 user"),
    "echo": ("say the rest of the line back", _echo),
    "exit": ("end the session", lambda user, words: "bye"),
}


def run(user: str, line: str) -> tuple[str, int]:
    """The output (without a final newline) and exit status of ``line`` typed by ``user``."""
    words = line.split()
    if not words:
        return "", 0
    known = COMMANDS.get(words[0])
    if known is None:
        return f"{words[0][:80]}: command not found (try help)", NOT_FOUND
    return known[1](user, words[1:]), 0


class PracticeShell(HistoricRecvLine):
    """The shell a logged-in user types at. ``on_exit(status)`` ends the session."""

    ps = (b"$ ", b"> ")

    def __init__(self, user: str, on_exit: Callable[[int], None]):
        super().__init__()
        self.user = user
        self.on_exit = on_exit
        self.refused_long_line = False

    def connectionMade(self):
        super().connectionMade()
        self.terminal.write(f"Practice shell for {self.user}; type help.".encode())
        self.terminal.nextLine()
        self.terminal.write(self.ps[self.pn])

    def initializeScreen(self):
        self.setInsertMode()  # no reset and no prompt yet: the greeting comes first

    def characterReceived(self, ch, moreCharactersComing):
        if len(self.lineBuffer) < MAX_LINE:
            super().characterReceived(ch, moreCharactersComing)
        elif not self.refused_long_line:
            self.refused_long_line = True
            self.terminal.nextLine()
            self.terminal.write(f"line too long: at most {MAX_LINE} characters; the rest is dropped".encode())
            self.terminal.nextLine()

    def handle_RETURN(self):
        del self.historyLines[:-HISTORY]
        return super().handle_RETURN()

    def lineReceived(self, line: bytes):
        if self.refused_long_line:
            self.refused_long_line = False
            self.terminal.write(self.ps[self.pn])
            return
        text = line.decode("utf-8", "replace")
        output, _status = run(self.user, text)
        if output:
            self.terminal.write(output.encode("utf-8"))
            self.terminal.nextLine()
        if text.split()[:1] == ["exit"]:
            self.on_exit(0)
            return
        self.terminal.write(self.ps[self.pn])
