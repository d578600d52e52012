"""The practice mailboxes' fixed messages, the same in every mail server of the workbook.

Promises: :func:`practice_messages` returns the same list of RFC 5322 messages (bytes, CR LF line ends) every
time: a plain text note, a MIME message with a small attachment, one whose headers are not ASCII (encoded words),
and a large one (:data:`LARGE_SIZE` bytes or a little more). Each has a fixed ``Message-ID`` and ``Date``, so a
client's download can be compared byte for byte. :data:`DOMAINS` are the practice mail domains.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

__all__ = ["DOMAINS", "LARGE_SIZE", "SUBJECTS", "practice_messages"]

DOMAINS = ("example.test", "lists.example.test")
LARGE_SIZE = 256 * 1024
SUBJECTS = ("Welcome to the practice mailbox", "The picture you asked for", "Grüße aus Köln: naïve café menu",
            "A large message")


def _base(number: int, subject: str, sender: str = "Ada Lovelace <ada@example.test>") -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = "Learner <learner@example.test>"
    message["Subject"] = subject
    message["Date"] = f"Mon, 0{number} Dec 2025 09:00:00 +0000"
    message["Message-ID"] = f"<practice-{number}@example.test>"
    return message


def practice_messages() -> list[bytes]:
    """The practice messages, in the order they arrived."""
    plain = _base(1, SUBJECTS[0])
    plain.set_content("Hello,\n\nthis mailbox holds four messages for you to download.\n\nAda\n")

    attached = _base(2, SUBJECTS[1])
    attached.set_content("Here is the picture (a tiny PNG).\n")
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082")
    attached.add_attachment(png, maintype="image", subtype="png", filename="dot.png")
    attached.set_boundary("practice-boundary-2")  # a random boundary would change the bytes every run

    accented = _base(3, SUBJECTS[2], sender="Jürgen Müller <juergen@example.test>")
    accented.set_content("Schöne Grüße! Der Kuchen kostet 3 €.\n")

    large = _base(4, SUBJECTS[3])
    line = "All work and no play makes a large message for the practice mailbox.\n"
    large.set_content(line * (LARGE_SIZE // len(line) + 1))

    return [message.as_bytes() for message in (plain, attached, accented, large)]
