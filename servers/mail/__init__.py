"""The practice mail servers of chapters 7 and 8, sharing one set of practice messages and accounts.

``pop3`` (:mod:`servers.mail.pop3`)
    Twisted's POP3 server over Maildirs, with APOP and RETR fixed, STLS added, deletion only at QUIT.
``smtp`` (:mod:`servers.mail.smtp`)
    Twisted's ESMTP server for the practice domains, STARTTLS and AUTH, the newest accepted messages in ``outbox``.
``imap`` (:mod:`servers.mail.imap`)
    Twisted's IMAP4 server on fixed folders in memory (INBOX, Archive, Lists/Twisted), real UIDs, flags.

The messages are :func:`servers.mail.messages.practice_messages`; the accounts are the ``mail`` family of
:mod:`servers.accounts`. :mod:`servers.mail.probes` holds a stdlib client for each (``poplib``, ``smtplib``,
``imaplib``). Each builder lives in its module (``servers.mail.pop3:pop3``), so importing one server imports
neither of the others. Chapter 7's DNS server, for MX lookups of the same domains, is :mod:`servers.names`.
"""
