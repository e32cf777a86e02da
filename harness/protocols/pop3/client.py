"""The reference POP3 client: strict, synchronous, and it says what the server did wrong.

Every octet goes through :class:`postel.wire.TcpConnection` (deadlines, a
transcript) and every response through the codec, so a malformed status line,
an unstuffed body line or a multi-line answer cut short raises
:class:`RemoteProtocolError` with the requirement it broke.  A ``-ERR`` where
the caller wanted ``+OK`` raises :class:`Pop3Error` (a server may say no: that
is not a protocol fault); :meth:`Pop3Client.command` returns any answer as is.

Listings (STAT, LIST, UIDL, CAPA) are judged by the grammar functions of
``events.py``.  Passwords given to :meth:`Pop3Client.pass_` and
:meth:`Pop3Client.login` are redacted from the transcript.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.pop3.codec import CLIENT, NEED_DATA, Connection
from postel.protocols.pop3.events import (
    Command, ConnectionClosed, Data, EndOfMultiline, Response, apop_digest, body_lines, capabilities,
    drop_listing, scan_listing, timestamp, unique_id_listing,
)
from postel.protocols.pop3.requirements import REQ
from postel.protocols.pop3.state import INVALID_COMMAND
from postel.wire import Deadline, LimitExceeded, TcpConnection, Transcript, WireClosed

__all__ = ["MAX_BODY", "Pop3Client", "Pop3Error"]

MAX_BODY = 64 << 20  # octets kept of one multi-line body; RFC 1939 sets no limit, this is the harness's
RECV = 65536


class Pop3Error(Exception):
    """The server answered ``-ERR`` where ``+OK`` was wanted."""

    def __init__(self, response: Response, command: Command | None = None) -> None:
        what = command.verb.decode() if command is not None else "the greeting"
        super().__init__(f"{what}: {response.wire().decode('ascii', 'replace').rstrip()}")
        self.response = response
        self.command = command


class Pop3Client:
    """One POP3 session over TCP; the greeting is read on construction (``greeting``).

    ``timeout`` bounds the connect and each response (status line, and a
    multi-line body separately).  ``transcript`` is the :class:`Transcript`
    the bytes are recorded in (a suite's ``wire.transcript(label)``); one is
    made when None.
    """

    def __init__(self, address: tuple[str, int], *, timeout: float = 10.0, transcript: Transcript | None = None, max_body: int = MAX_BODY) -> None:
        self.address = address
        self.timeout = timeout
        self.max_body = max_body
        self.transcript = transcript if transcript is not None else Transcript(label=f"pop3 {address[0]}:{address[1]}")
        self.codec = Connection(CLIENT)
        self.closed_by_server = False
        self._conn = TcpConnection.connect(address, self.transcript, timeout)
        try:
            self.greeting = self.read_response()
        except BaseException:
            self.close()
            raise
        if not self.greeting.ok:
            # "This can be any positive response." (RFC 1939 4); a -ERR greeting refuses the session.
            self.close()
            raise Pop3Error(self.greeting)

    def __enter__(self) -> Pop3Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def wait_closed(self, wait: float) -> bool:
        """True once the server has closed the connection within ``wait`` seconds (octets meanwhile are only recorded)."""
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            data = self._conn.poll(left)
            if data is None:
                return False
            if data == b"":
                self.closed_by_server = True
                return True
        return False

    @property
    def state(self) -> type:
        """The session state as the responses read so far put it (``state.py``)."""
        return self.codec.state

    # ------------------------------------------------------------- raw access

    def send_raw(self, data: bytes, *, answers: Sequence[Command | None] | None = None) -> None:
        """Send octets as they are; the responses they will get are matched in order.

        ``answers`` says what each expected response answers (a Command, or None
        for a line the server should refuse); by default every LF-terminated line
        of ``data`` is one, read as a Command when it parses as one.  That tells
        the reader which answers are multi-line.
        """
        if answers is None:
            answers = [_as_command(line) for line in data.split(b"\n")[:-1]]
        for answer in answers:
            self.codec.awaiting.append(INVALID_COMMAND if answer is None else answer)
        self._conn.send(data)

    def send(self, *commands: Command) -> None:
        """Send commands without waiting (PIPELINING, RFC 2449 6.6); read their answers with :meth:`read_response`."""
        wire = b"".join(self.codec.send(command) for command in commands)
        self._conn.send(wire)

    def read_response(self) -> Response:
        """The status line answering the oldest command sent; after a multi-line ``+OK``, :meth:`read_body` follows."""
        if self.codec.in_multiline:
            raise LocalProtocolError("read the open multi-line body (read_body) before the next response")
        deadline = Deadline(self.timeout)
        answers = self.codec.awaiting[0] if self.codec.awaiting else None
        while True:
            event = self._next_event(deadline)
            if isinstance(event, Response):
                return event
            if isinstance(event, ConnectionClosed):
                self.closed_by_server = True
                what = answers.verb.decode() if isinstance(answers, Command) else repr(answers)
                raise WireClosed(f"server closed the connection before answering {what}")
            raise RemoteProtocolError(f"unexpected {type(event).__name__}")  # pragma: no cover - codec order

    def read_body(self) -> bytes:
        """The de-stuffed body of the multi-line response just read (CRLF lines), up to its "." line."""
        if not self.codec.in_multiline:
            raise LocalProtocolError("no multi-line body is open")
        deadline = Deadline(self.timeout)
        body = bytearray()
        while True:
            event = self._next_event(deadline)
            if isinstance(event, Data):
                body += event.data
                if len(body) > self.max_body:
                    raise LimitExceeded(f"multi-line body longer than {self.max_body} octets")
            elif isinstance(event, EndOfMultiline):
                return bytes(body)
            else:  # pragma: no cover - the codec raises on EOF inside a body
                raise RemoteProtocolError(f"unexpected {type(event).__name__} inside a multi-line body", requirement=REQ["multiline_terminator"])

    def _next_event(self, deadline: Deadline):
        while True:
            event = self.codec.next_event()
            if event is not NEED_DATA:
                return event
            self.codec.receive_data(self._conn.recv_some(deadline, RECV))

    # ------------------------------------------------------------- commands

    def command(self, command: Command) -> tuple[Response, bytes | None]:
        """Send one command; its response and, when multi-line, its body.  ``-ERR`` is returned, not raised."""
        self.send(command)
        response = self.read_response()
        return response, (self.read_body() if self.codec.in_multiline else None)

    def pipeline(self, commands: Iterable[Command]) -> list[tuple[Response, bytes | None]]:
        """Send all commands at once, then read the answers in order (RFC 2449 6.6)."""
        commands = list(commands)
        self.send(*commands)
        results = []
        for _ in commands:
            response = self.read_response()
            results.append((response, self.read_body() if self.codec.in_multiline else None))
        return results

    def _ok(self, command: Command) -> tuple[Response, bytes | None]:
        response, body = self.command(command)
        if not response.ok:
            raise Pop3Error(response, command)
        return response, body

    def capa(self) -> dict[str, list[str]] | None:
        """The capabilities, tags upper-cased; None on ``-ERR`` ("the capability command is not implemented")."""
        response, body = self.command(Command(b"CAPA"))
        return capabilities(body or b"") if response.ok else None

    def user(self, name: str | bytes) -> Response:
        return self._ok(Command(b"USER", (_b(name),)))[0]

    def pass_(self, password: str | bytes) -> Response:
        self._redact(_b(password))
        return self._ok(Command(b"PASS", (_b(password),)))[0]

    def login(self, name: str | bytes, password: str | bytes) -> Response:
        """USER then PASS (RFC 1939 7)."""
        self.user(name)
        return self.pass_(password)

    def apop(self, name: str | bytes, secret: str | bytes) -> Response:
        """APOP with the digest of the greeting's timestamp and ``secret`` (RFC 1939 7)."""
        stamp = timestamp(self.greeting.text)
        if stamp is None:
            raise LocalProtocolError("the greeting has no APOP timestamp", requirement=REQ["timestamp_msg_id"])
        return self._ok(Command(b"APOP", (_b(name), apop_digest(stamp, _b(secret)))))[0]

    def stat(self) -> tuple[int, int]:
        """``(count, octets)`` of the maildrop, messages marked as deleted not counted."""
        return drop_listing(self._ok(Command(b"STAT"))[0])

    def list(self) -> dict[int, int]:
        """``{msg: octets}`` from the scan listings."""
        return dict(scan_listing(line) for line in body_lines(self._ok(Command(b"LIST"))[1] or b""))

    def list_one(self, n: int) -> tuple[int, int]:
        return scan_listing(self._ok(Command(b"LIST", (b"%d" % n,)))[0].text)

    def uidl(self) -> dict[int, bytes]:
        """``{msg: unique-id}`` from the unique-id listings."""
        return dict(unique_id_listing(line) for line in body_lines(self._ok(Command(b"UIDL"))[1] or b""))

    def uidl_one(self, n: int) -> tuple[int, bytes]:
        return unique_id_listing(self._ok(Command(b"UIDL", (b"%d" % n,)))[0].text)

    def retr(self, n: int) -> bytes:
        """Message ``n`` as the server holds it: de-stuffed, CRLF lines."""
        return self._ok(Command(b"RETR", (b"%d" % n,)))[1] or b""

    def top(self, n: int, lines: int) -> bytes:
        """The headers, the blank line and the first ``lines`` lines of the body of message ``n``."""
        return self._ok(Command(b"TOP", (b"%d" % n, b"%d" % lines)))[1] or b""

    def dele(self, n: int) -> Response:
        return self._ok(Command(b"DELE", (b"%d" % n,)))[0]

    def noop(self) -> Response:
        return self._ok(Command(b"NOOP"))[0]

    def rset(self) -> Response:
        return self._ok(Command(b"RSET"))[0]

    def quit(self) -> Response:
        """QUIT: in TRANSACTION the session enters UPDATE and the server removes what was marked (RFC 1939 6)."""
        response = self.command(Command(b"QUIT"))[0]
        if not response.ok:
            raise Pop3Error(response, Command(b"QUIT"))
        return response

    def _redact(self, secret: bytes) -> None:
        if secret and secret not in self.transcript.secrets:
            self.transcript.secrets = (*self.transcript.secrets, secret)


def _b(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _as_command(line: bytes) -> Command | None:
    try:
        return Command.parse(line[:-1] if line.endswith(b"\r") else line)
    except RemoteProtocolError:
        return None
