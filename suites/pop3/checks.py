"""What the POP3 suites share: one session per connection, logging in, and the checks many tests make.

The target is ``pop3://user:password@host:port`` (RFC 2384; ``;auth=+APOP`` in
the userinfo logs in with APOP instead of USER/PASS).  The password is a
secret: ``Target.secrets()`` masks it in transcripts and reports, and no
message written here quotes it.

A POP3 session holds the maildrop's exclusive lock (RFC 1939 4), so a test
ends each session before it opens the next.  :func:`session` ends it by
dropping the connection, never with QUIT: a session that ends without QUIT
does not enter the UPDATE state (RFC 1939 6), so nothing a test marked is
removed.  A test that means to delete calls :meth:`Session.quit` itself and is
marked ``destructive``.

Every command goes through the strict reference client
(:class:`postel.protocols.pop3.client.Pop3Client`): a response it cannot read
raises :class:`RemoteProtocolError` naming the sentence broken, which the
plugin records as that requirement's ``fail``.  Each :class:`Answer` also keeps
the octets the server sent for it, cut from the transcript, for the checks that
judge the wire itself (byte-stuffing, the terminating line).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from postel.protocols.pop3.client import Pop3Client, Pop3Error
from postel.protocols.pop3.codec import SERVER, Connection
from postel.protocols.pop3.events import (
    Command, Data, EndOfMultiline, Response, apop_digest, body_lines, capabilities, timestamp, unique_id_listing,
)
from postel.protocols.pop3.events import scan_listing as parse_scan_listing
from postel.session import SETTINGS_KEY, Wire
from postel.target import Target
from postel.verdict import Expect
from postel.wire import Transcript

LOCK_RETRIES = (0.1, 0.25, 0.5, 1.0, 2.0, 2.0)  # seconds between logins while the previous session's lock is still held (~6 s in all: a loaded machine)
MAX_RETR = 1 << 20  # a message larger than this is not fetched to look for a property
MAX_SCANNED = 30  # messages a search fetches at most


@dataclass(frozen=True)
class Answer:
    """One command and what came back: the status line, the body (de-stuffed) and the octets on the wire."""

    command: bytes  # the line sent, without CRLF (PASS's argument masked)
    response: Response
    body: bytes | None  # the multi-line body, de-stuffed; None for a single-line answer
    raw: bytes  # every octet the server sent for this answer

    @property
    def ok(self) -> bool:
        return self.response.ok

    def show(self) -> str:
        """The status line as sent, for an ``actual``."""
        return self.raw.split(b"\r\n", 1)[0].decode("latin-1") or repr(self.raw[:80])


class Session:
    """One connection to the target: the strict client, its transcript, and what it answered."""

    def __init__(self, target: Target, wire: Wire, label: str) -> None:
        self.transcript: Transcript = wire.transcript(label)
        self.timeout = wire.timeout
        self.closed = False
        try:
            self.client = Pop3Client(target.address, timeout=wire.timeout, transcript=self.transcript)
        except Pop3Error as refused:  # a -ERR greeting: the client closed already
            self.client, self.closed = None, True
            self.greeting = refused.response
        else:
            self.greeting = self.client.greeting
        self.greeting_raw = self.transcript.received()

    # ------------------------------------------------------------ commands

    def send(self, verb: bytes | str, *args: bytes | str | int) -> Answer:
        """One command through the codec; ``-ERR`` is an answer like ``+OK``, not an exception."""
        command = Command(_b(verb), tuple(_b(a) for a in args))
        mark = len(self.transcript.received())
        response, body = self.client.command(command)
        return Answer(self._shown(command.wire()), response, body, self.transcript.received()[mark:])

    def send_line(self, line: bytes) -> Answer:
        """A line as it is (malformed or over a limit on purpose), then its response (and body, if multi-line)."""
        mark = len(self.transcript.received())
        self.client.send_raw(line)
        response = self.client.read_response()
        body = self.client.read_body() if self.client.codec.in_multiline else None
        return Answer(self._shown(line), response, body, self.transcript.received()[mark:])

    def pipeline(self, commands: list[Command]) -> list[Answer]:
        """Every command in one write, then the answers in order (RFC 2449 6.6); their octets stay in the transcript."""
        return [Answer(self._shown(c.wire()), r, b, b"") for c, (r, b) in zip(commands, self.client.pipeline(commands))]

    def _shown(self, line: bytes) -> bytes:
        """The line for messages: without CRLF, PASS's argument and any secret masked."""
        line = line.rstrip(b"\r\n")[:120]
        if line[:5].upper() == b"PASS ":
            line = line[:5] + b"***"
        for secret in self.transcript.secrets:
            line = line.replace(secret, b"***")
        return line

    def mark(self) -> int:
        return len(self.transcript.received())

    def received_since(self, mark: int) -> bytes:
        return self.transcript.received()[mark:]

    # ------------------------------------------------------------ the end

    def quit(self) -> Answer:
        """QUIT, which in the TRANSACTION state removes what is marked (RFC 1939 6)."""
        return self.send(b"QUIT")

    def server_closed(self, wait: float | None = None) -> bool:
        """Whether the server closes the connection within ``wait`` seconds (octets it sends meanwhile are only recorded)."""
        if self.client is None:
            return True
        return self.client.wait_closed(self.timeout if wait is None else wait)

    def drop(self) -> None:
        """Close the connection without QUIT: the session does not enter the UPDATE state."""
        if not self.closed:
            self.closed = True
            self.client.close()


def _b(value: bytes | str | int) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


# ---------------------------------------------------------------- credentials and login


def uses_apop(target: Target) -> bool:
    """``;auth=+APOP`` in the URL: log in with APOP (RFC 2384 4)."""
    return (target.auth or "").upper() == "+APOP"


def credentials(expect: Expect, target: Target) -> tuple[bytes, bytes]:
    if not target.user or target.password is None:
        expect.not_applicable("the target names no user and password: give pop3://user:password@host:port")
    return target.user.encode(), target.password.encode()


def may_change(request, target: Target) -> bool:
    """Whether this run may change the maildrop: the embedded reference, or --allow-destructive."""
    return target.is_reference or request.config.stash[SETTINGS_KEY].allow_destructive


def authenticate(expect: Expect, target: Target, s: Session) -> Answer:
    """USER/PASS, or APOP when the URL says ``;auth=+APOP``; the answer to PASS or APOP (``+OK`` or not)."""
    user, password = credentials(expect, target)
    if uses_apop(target):
        stamp = timestamp(s.greeting.text)
        if stamp is None:
            expect.not_applicable("the URL asks for APOP (;auth=+APOP) but the greeting carries no <timestamp>")
        return s.send(b"APOP", user, apop_digest(stamp, password))
    answer = s.send(b"USER", user)
    if not answer.ok:
        return answer
    return s.send(b"PASS", password)


def in_use(answer: Answer) -> bool:
    """A refusal that says the maildrop is locked: [IN-USE] (RFC 2449 8.1.2), or words to that effect."""
    text = answer.response.text.lower()
    return answer.response.has_code("IN-USE") or any(w in text for w in (b"lock", b"in use", b"busy"))


def open_session(expect: Expect, target: Target, wire: Wire, label: str, *, login: bool = True) -> Session:
    """A connection with its greeting read, and logged in unless ``login`` is false.

    A refused login is inconclusive for the tests that only need a session:
    wrong credentials in the URL, or the maildrop locked by someone else.  A
    lock still held by the session this test just ended is waited out.
    """
    for pause in (*LOCK_RETRIES, None):
        s = Session(target, wire, label)
        if not s.greeting.ok:
            expect.inconclusive(f"the server refused the connection: {s.greeting_raw[:120]!r}")
        if not login:
            return s
        answer = authenticate(expect, target, s)
        if answer.ok:
            return s
        s.drop()
        if pause is None or not in_use(answer):
            expect.inconclusive(f"the target refused the URL's credentials: {answer.command.decode('latin-1')} -> {answer.show()}")
        time.sleep(pause)
    raise AssertionError("unreachable")


@contextmanager
def session(expect: Expect, target: Target, wire: Wire, label: str = "session", *, login: bool = True) -> Iterator[Session]:
    """:func:`open_session`, dropped (never QUIT) on the way out."""
    s = open_session(expect, target, wire, label, login=login)
    try:
        yield s
    finally:
        s.drop()


# ---------------------------------------------------------------- what a session lists


def capa(s: Session) -> dict[str, list[str]] | None:
    """The capabilities, or None when CAPA is refused (RFC 2449 5: "the client will have to probe")."""
    answer = s.send(b"CAPA")
    if not answer.ok:
        return None
    return capabilities(answer.body or b"")


def scan_listing(expect: Expect, s: Session) -> dict[int, int]:
    """LIST, as {message-number: octets}; a refused LIST leaves nothing to judge."""
    answer = s.send(b"LIST")
    if not answer.ok:
        expect.inconclusive(f"LIST was refused ({answer.show()}): nothing to compare with")
    return dict(parse_scan_listing(line) for line in body_lines(answer.body or b""))


def unique_ids(s: Session) -> dict[int, bytes] | None:
    """UIDL, as {message-number: unique-id}; None when the optional command is refused."""
    answer = s.send(b"UIDL")
    if not answer.ok:
        return None
    return dict(unique_id_listing(line) for line in body_lines(answer.body or b""))


def retrieve(expect: Expect, s: Session, n: int) -> Answer:
    answer = s.send(b"RETR", n)
    if not answer.ok:
        expect.inconclusive(f"RETR {n} of a listed message was refused: {answer.show()}")
    return answer


def on_the_wire(content: bytes) -> bytes:
    """What a multi-line body of ``content`` looks like on the wire, stuffed and terminated by the codec (RFC 1939 3)."""
    codec = Connection(SERVER)
    codec.send(Response(True))  # the greeting
    codec.receive_data(b"RETR 1\r\n")
    codec.next_event()
    codec.send(Response(True))
    return codec.send(Data(content)) + codec.send(EndOfMultiline())


def split_status(raw: bytes) -> tuple[bytes, bytes]:
    """(status line with CRLF, the rest) of the octets of one answer."""
    end = raw.find(b"\r\n")
    return (raw, b"") if end < 0 else (raw[: end + 2], raw[end + 2 :])
