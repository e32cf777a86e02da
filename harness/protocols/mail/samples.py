"""The messages the embedded reference maildrop starts with: each one a case the POP3 suites need.

A line that starts with "." (byte-stuffing, RFC 1939 3), a lone "." line
inside the body, an empty body, a 998-octet line (RFC 5322 2.1.1's limit),
8-bit octets, and a plain one.  All in CRLF, as the SMTP server stores mail.
"""

from __future__ import annotations

from postel.protocols.mail.maildir import Maildir

__all__ = ["SAMPLE_MESSAGES", "seed"]


def _message(subject: str, body: bytes) -> bytes:
    head = (
        b"Received: from sample.postel.test by postel.test with ESMTP id sample; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        b"From: Sample Sender <sender@postel.test>\r\n"
        b"To: postel@postel.test\r\n"
        b"Subject: " + subject.encode() + b"\r\n"
        b"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@postel.test>\r\n"
    )
    return head + b"\r\n" + body


SAMPLE_MESSAGES: tuple[bytes, ...] = (
    _message("plain", b"Hello from the postel reference maildrop.\r\nSecond line.\r\n"),
    _message("dot lines", b".starts with a dot\r\n..starts with two dots\r\n.\r\nafter a lone dot\r\n"),
    _message("empty body", b""),
    _message("long line", b"x" * 998 + b"\r\n" + b"short\r\n"),
    _message("eight bit", "Grüße aus Köln, 8-bit octets.\r\n".encode("utf-8")),
)


def seed(mailbox: Maildir) -> list[str]:
    """Deliver the samples into ``mailbox``; return their keys in order."""
    return [mailbox.deliver(message) for message in SAMPLE_MESSAGES]
