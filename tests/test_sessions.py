"""labkit.sessions: pictures of POP3, SMTP and IMAP sessions with the server's states, from hand-made chunks and
from real sessions of the standard library's clients with the practice servers."""

from __future__ import annotations

import imaplib
import poplib
import smtplib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labkit
from labkit.sessions import PROTOCOLS, SessionPicture
from labkit.wire import Transcript
from servers import accounts

C, S = "client", "server"
ACCOUNT = accounts.accounts("mail")[0]
WAIT = 10

POP3_SESSION = [
    (S, b"+OK <1.2@localhost>\r\n"),
    (C, b"USER learner\r\n"), (S, b"+OK send PASS\r\n"),
    (C, b"PASS wrong\r\n"), (S, b"-ERR Authentication failed\r\n"),
    (C, b"PASS mail-practice\r\n"), (S, b"+OK Authentication succeeded\r\n"),
    (C, b"LIST\r\n"), (S, b"+OK 6\r\n1 350\r\n2 671\r\n3 382\r\n4 20\r\n5 30\r\n6 40\r\n.\r\n"),
    (C, b"DELE 1\r\n"), (S, b"+OK\r\n"),
    (C, b"QUIT\r\n"), (S, b"+OK bye\r\n"),
    ("note", "Connection was closed cleanly."),
]


def picture(protocol, chunks):
    return SessionPicture.from_chunks(protocol, chunks)


def test_pop3_states_and_plain_text():
    shown = picture("pop3", POP3_SESSION)
    assert shown.states == ["AUTHORIZATION", "TRANSACTION", "UPDATE"]
    assert str(shown).splitlines() == [
        "POP3 session: AUTHORIZATION -> TRANSACTION -> UPDATE",
        "[AUTHORIZATION]",
        "  S: +OK <1.2@localhost>",
        "  C: USER learner",
        "  S: +OK send PASS",
        "  C: PASS wrong",
        "  S: -ERR Authentication failed",
        "  C: PASS mail-practice",
        "  S: +OK Authentication succeeded",
        "  => TRANSACTION",
        "[TRANSACTION]",
        "  C: LIST",
        "  S: +OK 6",
        "  S: 1 350",
        "  S: 2 671",
        "  S: 3 382",
        "  S: … 3 more lines …",
        "  S: .",
        "  C: DELE 1",
        "  S: +OK",
        "  C: QUIT",
        "  S: +OK bye",
        "  => UPDATE",
        "[UPDATE]",
        "  -- connection closed (Connection was closed cleanly.)",
    ]
    steps = [(e.state, e.verb, e.after) for e in shown.exchanges if not e.note]
    assert steps[2] == ("AUTHORIZATION", "PASS", "AUTHORIZATION")  # a refused login changes nothing
    assert steps[3] == ("AUTHORIZATION", "PASS", "TRANSACTION")


def test_the_same_session_arriving_a_byte_at_a_time_gives_the_same_picture():
    dribbled = [(side, data[i:i + 1]) for side, data in POP3_SESSION if side != "note"
                for i in range(len(data))] + [POP3_SESSION[-1]]
    assert str(picture("pop3", dribbled)) == str(picture("pop3", POP3_SESSION))


def test_pop3_quit_before_login_never_reaches_update():
    shown = picture("pop3", [(S, b"+OK hi\r\n"), (C, b"QUIT\r\n"), (S, b"+OK\r\n")])
    assert shown.states == ["AUTHORIZATION"]


def test_pop3_auth_with_a_challenge_is_one_step_with_the_answers_in_order():
    shown = picture("pop3", [(S, b"+OK hi\r\n"), (C, b"AUTH PLAIN\r\n"), (S, b"+ \r\n"),
                             (C, b"AGxlYXJuZXIAcHc=\r\n"), (S, b"+OK welcome\r\n"), (C, b"STAT\r\n"),
                             (S, b"+OK 1 2\r\n")])
    auth = shown.exchanges[1]
    assert auth.rows() == [(["AUTH PLAIN"], ["+ "]), (["AGxlYXJuZXIAcHc="], ["+OK welcome"])]
    assert (auth.state, auth.after) == ("AUTHORIZATION", "TRANSACTION")
    assert shown.exchanges[2].state == "TRANSACTION"


SMTP_SESSION = [
    (S, b"220 mail.example.test ESMTP\r\n"),
    (C, b"EHLO me\r\n"), (S, b"250-mail.example.test\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n"),
    (C, b"AUTH LOGIN\r\n"), (S, b"334 VXNlcm5hbWU6\r\n"), (C, b"bGVhcm5lcg==\r\n"), (S, b"334 UGFzc3dvcmQ6\r\n"),
    (C, b"cHc=\r\n"), (S, b"235 ok\r\n"),
    (C, b"MAIL FROM:<ada@example.test>\r\n"), (S, b"250 ok\r\n"),
    (C, b"RCPT TO:<nobody@elsewhere.test>\r\n"), (S, b"550 no relaying\r\n"),
    (C, b"RCPT TO:<learner@example.test>\r\n"), (S, b"250 ok\r\n"),
    (C, b"DATA\r\n"), (S, b"354 go ahead\r\n"),
    (C, b"Subject: hi\r\n\r\nhello\r\n..a dot\r\n.\r\n"), (S, b"250 taken\r\n"),
    (C, b"QUIT\r\n"), (S, b"221 bye\r\n"),
]


def test_smtp_states_auth_challenges_and_the_message_as_one_step():
    shown = picture("smtp", SMTP_SESSION)
    assert shown.states == ["connected", "greeted", "ready", "sender given", "recipients given",
                            "receiving the message", "ready", "closing"]
    steps = [e for e in shown.exchanges if not e.note]
    assert [e.verb for e in steps] == ["", "EHLO", "AUTH", "MAIL", "RCPT", "RCPT", "DATA", "", "QUIT"]
    assert steps[2].rows() == [(["AUTH LOGIN"], ["334 VXNlcm5hbWU6"]), (["bGVhcm5lcg=="], ["334 UGFzc3dvcmQ6"]),
                               (["cHc="], ["235 ok"])]
    assert (steps[4].state, steps[4].after) == ("sender given", "sender given")  # a refused recipient
    assert steps[7].message and steps[7].command == ["Subject: hi", "", "hello", "..a dot", "."]
    assert steps[7].reply == ["250 taken"] and steps[7].after == "ready"
    assert steps[1].reply == ["250-mail.example.test", "250-AUTH LOGIN", "250 STARTTLS"]


def test_smtp_starttls_stops_reading_and_counts_the_encrypted_bytes():
    shown = picture("smtp", [(S, b"220 hi\r\n"), (C, b"EHLO me\r\n"), (S, b"250 STARTTLS\r\n"),
                             (C, b"STARTTLS\r\n"), (S, b"220 go ahead\r\n"), (C, b"\x16\x03\x01" + b"x" * 97),
                             (S, b"\x16\x03\x03" + b"y" * 197), (C, b"QUIT\r\n")])
    assert shown.exchanges[-1].note == "TLS handshake: from here on the session is encrypted"
    assert shown.encrypted_bytes == {C: 106, S: 200}
    assert shown.states == ["connected", "greeted", "ready", "greeted"]
    assert "QUIT" not in str(shown)


def test_implicit_tls_is_encrypted_from_the_first_byte():
    shown = picture("pop3", [(C, b"\x16\x03\x01abc"), (S, b"\x16\x03\x03defg"), ("note", "closed")])
    assert str(shown).splitlines()[2] == "  -- TLS from the first byte (implicit TLS): everything is encrypted"
    assert shown.encrypted_bytes == {C: 6, S: 7}


def test_imap_matches_pipelined_replies_by_tag_and_follows_its_states():
    shown = picture("imap", [
        (S, b"* OK ready\r\n"),
        (C, b"a1 LOGIN learner pw\r\n"), (S, b"a1 OK done\r\n"),
        (C, b"a2 SELECT Nowhere\r\n"), (S, b"a2 NO no such folder\r\n"),
        (C, b"a3 SELECT INBOX\r\na4 UID FETCH 1:* (UID)\r\n"),
        (S, b"* 4 EXISTS\r\na3 OK [READ-WRITE] selected\r\n* 1 FETCH (UID 1001)\r\na4 OK\r\n"),
        (C, b"a5 CLOSE\r\n"), (S, b"a5 OK\r\n"),
        (C, b"a6 LOGOUT\r\n"), (S, b"* BYE see you\r\na6 OK\r\n"),
    ])
    steps = [(e.tag, e.verb, e.state, e.after) for e in shown.exchanges]
    assert steps == [("", "", "not authenticated", "not authenticated"),
                     ("a1", "LOGIN", "not authenticated", "authenticated"),
                     ("a2", "SELECT", "authenticated", "authenticated"),
                     ("a3", "SELECT", "authenticated", "selected"),
                     ("a4", "UID FETCH", "selected", "selected"),
                     ("a5", "CLOSE", "selected", "authenticated"),
                     ("a6", "LOGOUT", "authenticated", "logout")]
    assert shown.exchanges[3].reply == ["* 4 EXISTS", "a3 OK [READ-WRITE] selected"]
    assert shown.exchanges[4].reply == ["* 1 FETCH (UID 1001)", "a4 OK"]


def test_imap_preauth_greeting_and_a_literal_kept_with_its_command():
    shown = picture("imap", [(S, b"* PREAUTH hello\r\n"), (C, b"a1 SELECT {5}\r\n"), (S, b"+ go on\r\n"),
                             (C, b"INBOX\r\n"), (S, b"a1 OK\r\n")])
    assert shown.states == ["not authenticated", "authenticated", "selected"]
    assert shown.exchanges[1].command == ["a1 SELECT {5}", "INBOX"]


def test_a_command_still_waiting_shows_so_and_the_html_escapes_what_it_shows():
    shown = picture("pop3", [(S, b"+OK <1.2@x>\r\n"), (C, b"RETR 1\r\n")])
    assert str(shown).splitlines()[-1] == "  S: (no reply yet)"
    page = shown._repr_html_()
    assert "(no reply yet)" in page and "&lt;1.2@x&gt;" in page and "<1.2@x>" not in page
    assert "AUTHORIZATION" in page


def test_unknown_protocol_and_unnamed_source_say_what_to_give():
    with pytest.raises(ValueError, match="pop3, smtp, imap"):
        picture("nntp", [])
    with pytest.raises(ValueError, match="say which protocol"):
        SessionPicture.from_transcript(Transcript("somewhere"))


@settings(max_examples=200, deadline=None)
@given(protocol=st.sampled_from(sorted(PROTOCOLS)),
       chunks=st.lists(st.tuples(st.sampled_from([C, S]),
                                 st.binary(max_size=40) | st.sampled_from([b"+ x\r\n", b"334 x\r\n", b".\r\n",
                                                                            b"a1 OK\r\n", b"DATA\r\n", b"354 go\r\n",
                                                                            b"x {3}\r\n", b"\x16\x03\x01"])),
                       max_size=20))
def test_whatever_crossed_the_wire_the_picture_never_raises(protocol, chunks):
    shown = picture(protocol, chunks)
    assert str(shown).startswith(f"{PROTOCOLS[protocol].name} session")
    shown._repr_html_()


# --- real sessions: the standard library's clients with the practice servers ----------------------------------------

@pytest.fixture
def served():
    started = []

    def serve(name):
        server = labkit.serve(name, name=name, show=False)
        started.append(server)
        return server

    yield serve
    for server in started:
        server.stop()


def closed(server) -> None:
    """Wait until the server has seen its connection close (the picture's last step)."""
    labkit.wait(_until(lambda: "closed" in str(server.transcript).splitlines()[-1]), timeout=WAIT)


async def _until(done):
    from twisted.internet import task

    reactor = labkit.get_reactor()
    while not done():
        await task.deferLater(reactor, 0.02, lambda: None)


def test_a_poplib_session_with_the_practice_server(served):
    server = served("pop3")
    client = poplib.POP3("127.0.0.1", server.port, timeout=WAIT)
    client.user(ACCOUNT.user)
    client.pass_(ACCOUNT.password)
    client.stat()
    client.top(1, 0)
    client.quit()
    closed(server)
    shown = SessionPicture.from_transcript(server)
    assert shown.title == "POP3 session (pop3, connection 1)"
    assert shown.states == ["AUTHORIZATION", "TRANSACTION", "UPDATE"]
    assert [e.verb for e in shown.exchanges] == ["", "USER", "PASS", "STAT", "TOP", "QUIT", ""]
    assert shown.exchanges[4].reply[-1] == "." and shown.exchanges[4].complete


def test_an_smtplib_session_with_the_practice_server(served):
    server = served("smtp")
    with smtplib.SMTP("127.0.0.1", server.port, timeout=WAIT) as client:
        client.ehlo("me.example.test")
        client.sendmail("ada@example.test", ["learner@example.test"], b"Subject: hi\r\n\r\nhello\r\n")
    closed(server)
    shown = SessionPicture.from_transcript(server, "smtp")
    assert shown.states == ["connected", "greeted", "ready", "sender given", "recipients given",
                            "receiving the message", "ready", "closing"]
    assert shown.exchanges[-1].note == "connection closed (Connection was closed cleanly.)"


def test_an_imaplib_session_with_the_practice_server_picks_the_connection_asked_for(served):
    server = served("imap")
    for _ in range(2):
        client = imaplib.IMAP4("127.0.0.1", server.port, timeout=WAIT)
        client.login(ACCOUNT.user, ACCOUNT.password)
        client.select("INBOX")
        client.logout()
    labkit.wait(_until(lambda: str(server.transcript).count("closed (") == 2), timeout=WAIT)
    first = SessionPicture.from_transcript(server, connection=1)
    last = SessionPicture.from_transcript(server)
    assert first.title.endswith("connection 1)") and last.title.endswith("connection 2)")
    assert last.states == ["not authenticated", "authenticated", "selected", "logout"]
    assert [e.verb for e in last.exchanges if not e.note] == ["", "CAPABILITY", "LOGIN", "SELECT", "LOGOUT"]


def test_a_pop3_session_over_tls_from_the_first_byte_reads_as_plain_text_recorded_inside_tls():
    import ssl

    from servers import tls

    server = labkit.serve("pop3", name="pop3s", tls=tls.server_options(), show=False)
    try:
        context = ssl.create_default_context(cadata=tls.ca_pem().decode())
        client = poplib.POP3_SSL("127.0.0.1", server.port, context=context, timeout=WAIT)
        client.user(ACCOUNT.user)
        client.pass_(ACCOUNT.password)
        client.quit()
        closed(server)
        shown = SessionPicture.from_transcript(server)  # its scheme, pop3s, says POP3
        assert shown.states == ["AUTHORIZATION", "TRANSACTION", "UPDATE"] and shown.encrypted_bytes == {C: 0, S: 0}
    finally:
        server.stop()
