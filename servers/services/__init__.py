"""Chapter 11's practice server: the reverse-text service, the book's example of a deployable service.

``reverse``
    A line server: every line comes back reversed (by characters, read as UTF-8), ``quit`` gets ``Goodbye.`` and a
    close. Lines may end in CR LF or LF; answers end in CR LF. A line that is not UTF-8 gets
    ``error: send UTF-8 text`` and the talk goes on; a line longer than :data:`MAX_LINE` bytes closes the
    connection. :mod:`servers.services.reverse` holds it, with the ``IService`` that a ``.tac`` file or a
    ``twist`` plugin builds from it (``reverse.tac`` beside this module runs it under ``twistd``,
    :mod:`servers.services.tap` is what a plugin for ``twist reverse`` names).

Promises: building it imports nothing of the web, cred or mail.
"""

from servers.services.reverse import MAX_LINE, reverse, reverse_service

__all__ = ["MAX_LINE", "reverse", "reverse_service"]
