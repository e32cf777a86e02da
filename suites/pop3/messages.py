"""Messages for the POP3 checks to work on: found in the maildrop, or sent there over SMTP.

A check that needs a particular message (a line that starts with ".", any
message at all) first looks for one among the messages the maildrop holds.
When there is none, and the run may change the target (the embedded
reference, or ``--allow-destructive``), it sends one over SMTP to the target
options ``smtp`` (an ``smtp://host:port`` URL of a server that delivers into
this maildrop) and ``recipient`` (the address it delivers to it), then waits
up to ``delivery_wait`` seconds (default 10) for it to appear.  Without those
options the check is not applicable.

Each message sent carries a random token in its Subject and Message-ID, so the
check can find it among the others by content: other tests and other clients
may deliver into the same maildrop meanwhile.
"""

from __future__ import annotations

import email.utils
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from postel.protocols.pop3.events import drop_listing
from postel.protocols.smtp.codec import CLIENT as SMTP_CLIENT
from postel.protocols.smtp.codec import NEED_DATA as SMTP_NEED_DATA
from postel.protocols.smtp.codec import Connection as SmtpConnection
from postel.protocols.smtp.events import Command as SmtpCommand
from postel.protocols.smtp.events import ConnectionClosed as SmtpClosed
from postel.protocols.smtp.events import EndOfData, MessageData, Reply
from postel.suites.pop3.checks import MAX_RETR, MAX_SCANNED, Session, may_change, open_session, scan_listing
from postel.target import TargetError, parse_target
from postel.verdict import Expect
from postel.wire import Deadline, TcpConnection

DELIVERY_WAIT = 10.0  # seconds for a sent message to show up in the maildrop (target option "delivery_wait")

# RFC 1939 3: lines that start with the termination octet, and a lone one, in the middle of a body.
DOT_LINES = b".starts with a dot\r\n..starts with two dots\r\n.\r\nafter a lone dot\r\n"


def has_dot_line(message: bytes) -> bool:
    """A line of the message starts with "." (the first line of a message never does: it is a header)."""
    return b"\r\n." in message


def compose(token: str, body: bytes, sender: str, recipient: str) -> bytes:
    """An RFC 5322 message that names ``token`` in its Subject and Message-ID."""
    head = (
        f"From: postel <{sender}>\r\n"
        f"To: <{recipient}>\r\n"
        f"Subject: postel pop3 suite {token}\r\n"
        f"Date: {email.utils.formatdate(usegmt=True)}\r\n"
        f"Message-ID: <{token}@postel.invalid>\r\n"
    )
    return head.encode("ascii") + b"\r\n" + body


# ---------------------------------------------------------------- finding one


def find(expect: Expect, s: Session, want: Callable[[bytes], bool], numbers: list[int] | None = None) -> tuple[int, bytes] | None:
    """The first message (by ``numbers``, default all) whose de-stuffed content ``want``s, with that content."""
    sizes = scan_listing(expect, s)
    candidates = [n for n in (numbers if numbers is not None else sorted(sizes)) if 0 < sizes.get(n, MAX_RETR + 1) <= MAX_RETR]
    for n in candidates[:MAX_SCANNED]:
        answer = s.send(b"RETR", n)
        if answer.ok and want(answer.body or b""):
            return n, answer.body or b""
    return None


@contextmanager
def session_with(
    expect: Expect,
    target,
    wire,
    request,
    want: Callable[[bytes], bool],
    body: bytes,
    what: str,
    label: str = "session",
) -> Iterator[tuple[Session, int, bytes]]:
    """A logged-in session and a message of it that ``want``s: found, or sent with ``body`` and then found.

    ``what`` names the message in a not-applicable reason.  The session is
    dropped (never QUIT) on the way out.
    """
    s = open_session(expect, target, wire, label)
    try:
        found = find(expect, s, want)
        if found is None:
            s.drop()
            token = deliver(expect, target, wire, request, body, f"no message in the maildrop has {what}")
            s, found = await_delivery(expect, target, wire, token, label)
        yield s, found[0], found[1]
    finally:
        s.drop()


@contextmanager
def session_with_mail(expect: Expect, target, wire, request, label: str = "session") -> Iterator[Session]:
    """A logged-in session whose maildrop holds at least one message: sent over SMTP if it is empty.

    Dropped (never QUIT) on the way out.
    """
    s = open_session(expect, target, wire, label)
    try:
        if drop_listing(s.send(b"STAT").response)[0] == 0:  # STAT: a single line, so a check of LIST's framing still runs
            s.drop()
            token = deliver(expect, target, wire, request, b"Sent so the check has a message to work on.\r\n", "the maildrop is empty")
            s, _found = await_delivery(expect, target, wire, token, label)
        yield s
    finally:
        s.drop()


@contextmanager
def fresh_message(expect: Expect, target, wire, request, body: bytes = b"Sent to be deleted.\r\n", label: str = "session") -> Iterator[tuple[Session, int, bytes]]:
    """A session and a message sent for this test alone (to delete it, say); not applicable without SMTP."""
    token = deliver(expect, target, wire, request, body, "the check sends a message of its own to work on")
    s, found = await_delivery(expect, target, wire, token, label)
    try:
        yield s, found[0], found[1]
    finally:
        s.drop()


def await_delivery(expect: Expect, target, wire, token: str, label: str) -> tuple[Session, tuple[int, bytes]]:
    """A new session (new mail shows only in one) until the message that names ``token`` is there."""
    wait = float(target.options.get("delivery_wait", DELIVERY_WAIT))
    deadline = time.monotonic() + wait
    marker = token.encode()
    while True:
        s = open_session(expect, target, wire, label)
        sizes = scan_listing(expect, s)
        newest = sorted(sizes, reverse=True)[:MAX_SCANNED]
        found = find(expect, s, lambda content: marker in content, newest)
        if found is not None:
            return s, found
        s.drop()
        if time.monotonic() > deadline:
            expect.inconclusive(f"the message sent over SMTP (token {token}) was not in the maildrop after {wait:g}s")
        time.sleep(0.5)


# ---------------------------------------------------------------- sending one


def deliver(expect: Expect, target, wire, request, body: bytes, why: str) -> str:
    """Send a message over the ``smtp`` target option to ``recipient``; return its token.  ``why`` starts a not-applicable reason."""
    smtp, recipient = target.options.get("smtp"), target.options.get("recipient")
    if not smtp or not recipient:
        expect.not_applicable(f"{why}: give --target-option smtp=smtp://host:port and recipient=ADDRESS to send one")
    if not may_change(request, target):
        expect.not_applicable(f"{why}, and sending one changes the target: pass --allow-destructive")
    try:
        server = parse_target(smtp)
    except TargetError as exc:
        expect.inconclusive(f"target option smtp: {exc}")
    token = "postel-" + secrets.token_hex(8)
    sender = target.options.get("sender", recipient)
    message = compose(token, body, sender, recipient)
    _send_mail(expect, server.address, wire, sender.encode(), recipient.encode(), message)
    return token


def _send_mail(expect: Expect, address: tuple[str, int], wire, sender: bytes, recipient: bytes, message: bytes) -> None:
    """One SMTP transaction through the SMTP codec; any refusal leaves the check undecided."""
    codec = SmtpConnection(SMTP_CLIENT)
    with TcpConnection.connect(address, wire.transcript("SMTP delivery"), wire.timeout) as conn:

        def reply(expected: tuple[int, ...], step: str) -> Reply:
            deadline = Deadline(wire.timeout)
            while True:
                event = codec.next_event()
                if isinstance(event, Reply):
                    if event.code not in expected:
                        expect.inconclusive(f"the SMTP server answered {step} with {event.code} {event.text[:80]!r}: cannot deliver a message")
                    return event
                if isinstance(event, SmtpClosed):
                    expect.inconclusive(f"the SMTP server closed the connection at {step}")
                if event is SMTP_NEED_DATA:
                    codec.receive_data(conn.recv_some(deadline))

        def command(verb: bytes, argument: bytes, expected: tuple[int, ...]) -> Reply:
            conn.send(codec.send(SmtpCommand(verb, argument)))
            return reply(expected, verb.decode())

        reply((220,), "the greeting")
        command(b"EHLO", b"postel.invalid", (250,))
        conn.send(codec.send(SmtpCommand.mail(sender)))
        reply((250,), "MAIL")
        conn.send(codec.send(SmtpCommand.rcpt(recipient)))
        reply((250, 251), "RCPT")
        command(b"DATA", b"", (354,))
        conn.send(codec.send(MessageData(message)) + codec.send(EndOfData()))
        reply((250,), "the end of the data")
        command(b"QUIT", b"", (221,))
