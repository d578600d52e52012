"""Practice servers: stand-ins, on 127.0.0.1, for the parts of the internet the book's examples reached.

Each module holds one protocol family with fixed, documented fixtures. Every server is registered by name
(``servers.REGISTRY``), starts in a notebook with ``labkit.serve("NAME")`` and on its own with
``python -m servers NAME [--port N]``.
"""

from servers.registry import REGISTRY, MultiPort, PracticeServer, build, is_web, listen, practice_server
from servers import tcp  # noqa: E402,F401  (registers chapter 2's servers)
from servers import web  # noqa: E402,F401

__all__ = ["REGISTRY", "MultiPort", "PracticeServer", "build", "is_web", "listen", "practice_server"]
