"""Practice servers: stand-ins, on 127.0.0.1, for the parts of the internet the book's examples reached.

Each module holds one protocol family with fixed, documented fixtures. Every server has a name in the catalogue
(``servers.CATALOGUE``, also ``servers.REGISTRY``), starts in a notebook with ``labkit.serve("NAME")`` and on its
own with ``python -m servers NAME [--port N] [--tls]``. Importing this package imports no family: each is imported
when one of its servers is first built. Every server listens through :func:`servers.listening.plan`.
"""

from servers.catalogue import CATALOGUE, REGISTRY, Entry, ServerUnavailable, build, entry

__all__ = ["CATALOGUE", "Entry", "REGISTRY", "ServerUnavailable", "build", "entry"]

