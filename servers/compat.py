"""Every use of a private Twisted name in the practice servers, each with the Twisted behaviour it works around.

Nothing else in :mod:`servers` names a private Twisted attribute, method or module. Each entry here says what it
relies on, and ``tests/test_servers_compat.py`` fails, naming the entry, when Twisted changes that (the private
name is gone or its signature moved) or no longer behaves in the way that made the entry necessary.

* :class:`EndOfDataReply` overrides ``twisted.mail.smtp.SMTP._messageHandled``.
* :class:`BadRequestAnswer` overrides ``twisted.web.http.HTTPChannel._respondToBadRequestAndDisconnect``.
"""

from __future__ import annotations

__all__ = ["BadRequestAnswer", "EndOfDataReply"]


class EndOfDataReply:
    """Mix in before ``twisted.mail.smtp.ESMTP`` (or ``SMTP``): a failed end of ``DATA`` may answer its own code.

    Works around: Twisted's SMTP server answers ``550 Could not send e-mail`` to every ``IMessage.eomReceived``
    that fails, whatever the failure; an ``SMTPServerError``'s code is honoured only when ``lineReceived`` raises
    it (Twisted 26.10; ticket #4904, "Allow more informative messages in SMTP._messageHandled", open since 2011).
    The only place to choose the reply is the private method that receives the results, ``_messageHandled``.

    A subclass defines :meth:`end_of_data_reply`; the first failed message it gives a reply for is answered with
    it, and anything else gets Twisted's own answer (``550`` with the failure logged, or ``250``).
    """

    def end_of_data_reply(self, failure) -> tuple[int, bytes] | None:
        """The ``(code, text)`` to answer a message whose ``eomReceived`` failed with ``failure``; None for 550."""
        return None

    # Twisted calls it with the DeferredList's [(success, result), ...], or with the text "thrown away" when
    # DATA had no message to hand the lines to.
    def _messageHandled(self, resultList):
        if isinstance(resultList, list):
            for succeeded, result in resultList:
                reply = None if succeeded else self.end_of_data_reply(result)
                if reply is not None:
                    self.sendCode(*reply)
                    return
        super()._messageHandled(resultList)


class BadRequestAnswer:
    """Mix in before ``twisted.web.http.HTTPChannel``: a request Twisted cannot parse is answered by
    :meth:`bad_request`.

    Works around: Twisted's channel answers every request it cannot parse (a malformed request line or header, a
    bad Content-Length or chunk, headers over ``totalHeadersSize``) with the bare bytes
    ``HTTP/1.1 400 Bad Request`` and a blank line: no ``Date`` (RFC 9110 section 6.6.1 requires it), no page
    saying what was wrong, and a close that can reset the connection before the client reads even that (Twisted
    26.10). The only place that answer is made is the private ``_respondToBadRequestAndDisconnect``.
    """

    def bad_request(self) -> None:
        """Answer the request being parsed as bad and close the connection (Twisted's answer unless overridden)."""
        super()._respondToBadRequestAndDisconnect()

    def _respondToBadRequestAndDisconnect(self):
        self.bad_request()
