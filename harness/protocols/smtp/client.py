"""The reference SMTP client: strict, synchronous, and it says what the server did wrong.

It drives the codec's CLIENT role over a :class:`~postel.wire.TcpConnection`,
so every read has a deadline and a size limit and every octet lands in the
transcript.  What the codec can judge (reply grammar, multiline codes, a reply
that answers no command, EHLO keyword lines) raises
:class:`RemoteProtocolError` naming the requirement; the plugin turns it into
a ``fail`` (or ``warn``) of that sentence.  A server that goes silent or closes
raises a :class:`~postel.wire.WireError` (``inconclusive`` unless a test
decides otherwise).

Every reply is kept in :attr:`SmtpClient.log` with what it answered and its
wire lines, so the suites can judge codes against RFC 5321 4.3.2 and the
enhanced status codes of RFC 2034 line by line without parsing twice.

``send_raw`` and ``send_content_raw`` bypass the codec's checks of what *we*
send (suites send what the strict codec refuses on purpose) while keeping its
reply bookkeeping in step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.smtp.codec import CLIENT, NEED_DATA, Connection
from postel.protocols.smtp.events import Command, ConnectionClosed, EndOfData, MessageData, Reply, ehlo_keywords
from postel.protocols.smtp.state import CLOSED, END_OF_DATA, ERROR, GREETING
from postel.wire import DEFAULT_TIMEOUT, Deadline, TcpConnection, Transcript, WireClosed, WireTimeout

__all__ = ["GROUP_LAST", "Answer", "SmtpClient"]

# "The EHLO, DATA, VRFY, EXPN, TURN, QUIT, and NOOP commands can only appear as the last
# command in a group" (RFC 2920 3.1)
GROUP_LAST = frozenset({b"EHLO", b"DATA", b"VRFY", b"EXPN", b"TURN", b"QUIT", b"NOOP"})
QUIT_WAIT = 1.0  # seconds the context manager gives a polite QUIT on the way out


@dataclass(frozen=True)
class Answer:
    """One reply and what it answered (a verb, ``GREETING`` or ``END_OF_DATA``), with its wire lines."""

    answers: object
    reply: Reply
    raw: tuple[bytes, ...]  # each line as received, CRLF included

    @property
    def code(self) -> int:
        return self.reply.code

    def describe(self) -> str:
        what = self.answers.decode("latin-1") if isinstance(self.answers, bytes) else repr(self.answers)
        text = b" | ".join(line.rstrip(b"\r\n") for line in self.raw).decode("latin-1")
        return f"{text[:200]} (to {what})"


class SmtpClient:
    """One SMTP session with the server at ``address``; the connection opens when built."""

    def __init__(self, address: tuple[str, int], *, timeout: float = DEFAULT_TIMEOUT, transcript: Transcript | None = None) -> None:
        self.timeout = timeout
        self.transcript = transcript if transcript is not None else Transcript(label=f"smtp {address[0]}:{address[1]}")
        self.codec = Connection(CLIENT)
        self.conn = TcpConnection.connect(address, self.transcript, timeout)
        self.log: list[Answer] = []
        self.greeting: Reply | None = None
        self.ehlo_reply: Reply | None = None
        self.keywords: dict[str, list[str]] = {}  # the EHLO keywords (upper-case) and their parameters
        self.data_reply: Reply | None = None  # the reply to the last DATA command (354, or its refusal)
        self.closed = False  # the server closed the connection
        self._lines: list[bytes] = []  # complete reply lines received and not yet part of an Answer
        self._partial = b""

    # ---------------------------------------------------------------- the context manager

    def __enter__(self) -> SmtpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        """A polite QUIT when the session can still take one (RFC 5321 4.1.1.10: the client ends with QUIT), then close."""
        if not self.closed and self.codec.state not in (CLOSED, ERROR) and not self.codec.in_data and not self.codec.awaiting:
            self.timeout = min(self.timeout, QUIT_WAIT)
            try:
                self.quit()
            except Exception:  # noqa: BLE001 - leaving: what the server does now decides nothing
                pass
        self.close()

    def close(self) -> None:
        self.conn.close()

    # ---------------------------------------------------------------- commands

    def greet(self) -> Reply:
        """The connection greeting (220, or 554 to refuse the session, RFC 5321 3.1)."""
        if self.greeting is None:
            self.greeting = self.read_reply()
        return self.greeting

    def command(self, command: Command) -> Reply:
        """Send one command and read its reply (lock-step, RFC 5321 4.3.1)."""
        self.greet()
        self._send(self.codec.send(command))
        return self.read_reply()

    def ehlo(self, domain: bytes | str) -> Reply:
        reply = self.command(Command(b"EHLO", _b(domain)))
        self.ehlo_reply = reply if reply.code == 250 else None
        self.keywords = ehlo_keywords(reply) if reply.code == 250 else {}
        return reply

    def helo(self, domain: bytes | str) -> Reply:
        reply = self.command(Command(b"HELO", _b(domain)))
        self.keywords = {}
        return reply

    def mail(self, path: bytes | str, params: dict[bytes, bytes | None] | None = None) -> Reply:
        return self.command(Command.mail(_b(path), params))

    def rcpt(self, path: bytes | str, params: dict[bytes, bytes | None] | None = None) -> Reply:
        return self.command(Command.rcpt(_b(path), params))

    def data(self, body: bytes) -> Reply:
        """DATA, then (after 354) ``body`` dot-stuffed by the codec and ``<CRLF>.<CRLF>``; the last reply.

        A body whose last line lacks CRLF gets one (RFC 5321 4.1.1.4: the client
        "MUST either reject the message as invalid or add <CRLF>").  The reply
        to DATA itself stays in :attr:`data_reply`.
        """
        self.data_reply = self.command(Command(b"DATA"))
        if self.data_reply.code != 354:
            return self.data_reply
        return self.send_content(body)

    def send_content(self, body: bytes) -> Reply:
        """After a 354: the mail data, stuffed, then the end of data; the reply to it."""
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        out = self.codec.send(MessageData(body)) if body else b""
        self._send(out + self.codec.send(EndOfData()))
        return self.read_reply()

    def rset(self) -> Reply:
        return self.command(Command(b"RSET"))

    def noop(self, argument: bytes | str = b"") -> Reply:
        return self.command(Command(b"NOOP", _b(argument)))

    def vrfy(self, argument: bytes | str) -> Reply:
        return self.command(Command(b"VRFY", _b(argument)))

    def expn(self, argument: bytes | str) -> Reply:
        return self.command(Command(b"EXPN", _b(argument)))

    def help(self, argument: bytes | str = b"") -> Reply:
        return self.command(Command(b"HELP", _b(argument)))

    def quit(self) -> Reply:
        return self.command(Command(b"QUIT"))

    def pipeline(self, commands: Sequence[Command]) -> list[Reply]:
        """Send ``commands`` in one write and read their replies in order (RFC 2920).

        Only after the server offered PIPELINING (else "the sender MUST wait for
        this response before sending further commands", RFC 5321 4.3.1), and
        EHLO, DATA, VRFY, EXPN, TURN, QUIT and NOOP only last (RFC 2920 3.1).
        """
        if "PIPELINING" not in self.keywords:
            raise LocalProtocolError("pipelining without PIPELINING in the EHLO reply", requirement="rfc5321/4.3.1/1")
        for command in commands[:-1]:
            if command.verb in GROUP_LAST:
                raise LocalProtocolError(f"{command.verb.decode()} can only be the last command of a group", requirement="rfc2920/3.1/3")
        self.greet()
        self._send(b"".join(self.codec.send(command) for command in commands))
        return [self.read_reply() for _ in commands]

    # ---------------------------------------------------------------- raw octets

    def send_raw(self, data: bytes, *, answers: Iterable[object] | None = None) -> None:
        """Octets exactly as given; ``answers`` says what each reply they provoke will answer.

        By default one reply per CRLF-ended line, answering the line's first
        word (upper-cased): ``send_raw(b"XYZZY\\r\\n")`` then ``read_reply()``.
        """
        if answers is None:
            answers = [line.split(b" ", 1)[0].upper() for line in data.split(b"\r\n")[:-1]]
        self.codec.awaiting.extend(answers)
        self._send(data)

    def send_content_raw(self, octets: bytes) -> Reply:
        """After a 354: mail data octets exactly as given (stuffed or not: the caller's choice), then ``.\\r\\n``."""
        self._send(octets + self.codec.send(EndOfData()))
        return self.read_reply()

    # ---------------------------------------------------------------- reading

    def read_reply(self) -> Reply:
        """The next reply; :class:`WireTimeout` or :class:`WireClosed` if the server gives none."""
        deadline = Deadline(self.timeout)
        while True:
            answers = self.codec.awaiting[0] if self.codec.awaiting else None
            event = self.codec.next_event()
            if isinstance(event, Reply):
                self._answered(answers, event)
                if not self.codec.awaiting:
                    self._drain()  # octets already here beyond the last due reply: judged now
                return event
            if isinstance(event, ConnectionClosed):
                raise WireClosed(f"the server closed the connection instead of replying to {_name(answers)}")
            assert event is NEED_DATA
            try:
                data = self.conn.recv_some(deadline)
            except WireTimeout:
                self._unfinished_reply(answers)
                raise
            self._receive(data)

    def unsolicited(self, wait: float) -> bytes:
        """What the server sends within ``wait`` seconds while no reply is due (``b""``: nothing).

        A whole reply among it raises :class:`RemoteProtocolError` ("Every
        command MUST generate exactly one reply", RFC 5321 4.2).
        """
        got = b""
        deadline = Deadline(wait)
        self._drain()
        while not self.closed:
            try:
                data = self.conn.poll(deadline.remaining())
            except WireTimeout:
                break
            if data is None:
                break
            self._receive(data)
            got += data
            self._drain()
        return got

    def wait_closed(self, wait: float) -> bool:
        """True once the server has closed the connection, within ``wait`` seconds."""
        deadline = Deadline(wait)
        while not self.closed:
            try:
                data = self.conn.recv_some(deadline)
            except WireTimeout:
                return False
            self._receive(data)
            self._drain()  # octets after the last reply: a whole reply to nothing raises
        return True

    # ---------------------------------------------------------------- internals

    def _send(self, data: bytes) -> None:
        if data:
            self.conn.send(data)

    def _receive(self, data: bytes) -> None:
        self.codec.receive_data(data)
        if not data:
            self.closed = True
            return
        self._partial += data
        *lines, self._partial = self._partial.split(b"\n")
        self._lines.extend(line + b"\n" for line in lines)

    def _drain(self) -> None:
        """Let the codec read what is buffered while no reply is due: a complete reply raises (RFC 5321 4.2)."""
        if self.codec.state in (CLOSED, ERROR) and not self.codec.awaiting:
            return
        while (event := self.codec.next_event()) is not NEED_DATA:
            if isinstance(event, ConnectionClosed):
                return
            if isinstance(event, Reply):  # only when something was awaited after all
                self._answered(None, event)

    def _answered(self, answers: object, reply: Reply) -> Reply:
        raw, self._lines = tuple(self._lines[: len(reply.lines)]), self._lines[len(reply.lines) :]
        self.log.append(Answer(answers, reply, raw))
        return reply

    def _unfinished_reply(self, answers: object) -> None:
        """The deadline passed inside a multiline reply: its last line never came.

        "The last line will begin with the reply code, followed immediately by
        <SP>" (RFC 5321 4.2.1): continuation lines and then silence for the
        whole deadline are a reply that does not end, not a slow server.
        """
        if self._lines and all(len(line) >= 4 and line[3:4] == b"-" for line in self._lines):
            lines = b"".join(self._lines)[:300]
            raise RemoteProtocolError(
                f"the reply to {_name(answers)} never ended: {len(self._lines)} line(s) {lines!r}, all with '-' after the code,"
                f" and no last line within {self.timeout:g}s",
                requirement="rfc5321/4.2.1/2",
            )


def _b(value: bytes | str) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


def _name(answers: object) -> str:
    if answers is GREETING:
        return "the connection (greeting)"
    if answers is END_OF_DATA:
        return "the end of mail data"
    if isinstance(answers, bytes):
        return answers.decode("latin-1")
    return "nothing (no command was awaiting a reply)"
