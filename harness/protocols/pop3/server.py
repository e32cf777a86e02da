"""The reference POP3 server: RFC 1939 with RFC 2449's CAPA and response codes, over a shared MailStore.

What it promises, and where each promise comes from (the session's rules are
in ``maildrop.py``; this module is the wire and the clock):

- The greeting "+OK POP3 postel ready <pid.n.time@hostname>": a positive
  response (rfc1939/4/2) with an APOP timestamp that differs at every
  greeting (rfc1939/7/30).
- One response per command, in order, also when the client pipelines
  (rfc1939/5/2, rfc2449/6.6/2): commands are read from the codec one at a
  time, and none is read while a reply is held back (the failed-login delay)
  or while the client is not reading what was written.
- A line the codec refuses (over 255 octets, rfc2449/4/1; not printable
  ASCII) gets ``-ERR`` and the session goes on (rfc1939/3/27).
- Multi-line bodies byte-stuffed and ended with ".\\r\\n" by the codec
  (rfc1939/3/15, 3/16).  RETR and TOP are written chunk by chunk as the
  transport drains (``pause_writing``/``resume_writing``): the first octets
  leave while the rest is still on disk, so a sequential client's reading
  overlaps the server's work, and a session holds one chunk
  (``maildrop.CHUNK_SIZE``) plus the transport's buffer, whatever the message
  size.  No command is read while a body is being written, so pipelined
  answers stay in order.
- An inactivity autologout after ``idle_timeout`` seconds without a command
  and without progress in writing (600 by default, "at least 10 minutes",
  rfc1939/3/30); it closes silently and removes nothing (rfc1939/3/32, 3/33).
- At most ``max_connections`` sessions; one more is told
  "-ERR [SYS/TEMP] too many sessions" and closed.
- :meth:`Pop3Server.close` aborts every session: no UPDATE, locks released.

``faults`` switches on one deliberate deviation, for the harness's own tests
that prove each suite check can fail; the reference never runs with one by
default.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.mail.maildir import MailStore
from postel.protocols.pop3.codec import NEED_DATA, SERVER, Connection
from postel.protocols.pop3.events import Command, ConnectionClosed, Data, EndOfMultiline, Response
from postel.protocols.pop3.maildrop import SESSION_FAULTS, MessageReader, Pop3Session, Reply, with_crlf
from postel.protocols.pop3.requirements import REQ
from postel.protocols.pop3.state import ERROR

__all__ = ["FAULTS", "Pop3Server"]

LINGER = 2.0  # seconds the socket stays open after the last response has left, before the reset

# Deliberate deviations, one per seeded fault of the harness's own tests.
WIRE_FAULTS = frozenset({
    "no_dot_stuffing",  # multi-line bodies go out as stored: a line starting with "." is not stuffed
    "unterminated_multiline",  # RETR's body is not followed by ".\r\n"
    "wrong_multiline_termination",  # multi-line responses but CAPA's end with ".\n" instead of ".\r\n"
    "err_without_space",  # "-ERRno such message": no space between the status and the text
    "noop_without_cr",  # NOOP's "+OK" ends with a bare LF
})
FAULTS = WIRE_FAULTS | SESSION_FAULTS


@dataclass
class Pop3Server:
    store: MailStore
    host: str = "127.0.0.1"
    port: int = 0
    faults: frozenset[str] = field(default_factory=frozenset)
    idle_timeout: float = 600.0
    login_delay: float = 1.0
    max_connections: int = 256
    hostname: str = "postel.test"  # the domain of the APOP timestamp

    def __post_init__(self) -> None:
        self.faults = frozenset(self.faults)
        unknown = self.faults - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self._server: asyncio.Server | None = None
        self._open: set[_Pop3Connection] = set()
        self._greetings = itertools.count(1)

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[:2]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Pop3Connection(self), self.host, self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._open):
                connection.abort()
            await self._server.wait_closed()

    def timestamp(self) -> bytes:
        # "The syntax of the timestamp corresponds to the `msg-id' in [RFC822], and MUST be different each
        # time the POP3 server issues a banner greeting." -- rfc1939/7/30: process, counter and start second.
        return b"<%d.%d.%d@%s>" % (os.getpid(), next(self._greetings), int(time.time()), self.hostname.encode())


class _Pop3Connection(asyncio.Protocol):
    """One session: read a command, answer it, read the next; a held-back answer holds the reading too."""

    def __init__(self, server: Pop3Server) -> None:
        self.server = server
        self.faults = server.faults
        self.codec = Connection(SERVER)
        self.session = Pop3Session(server.store, server.timestamp(), login_delay=server.login_delay, faults=server.faults)
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.held: asyncio.TimerHandle | None = None  # a reply waiting out the login delay
        self.body: _Body | None = None  # a multi-line body being written
        self.writing_paused = False  # the transport's write buffer is over its high-water mark
        self.closing = False  # the last response is written; nothing more is read
        self.peer_eof = False  # the client closed its side
        self.idle_timer: asyncio.TimerHandle | None = None
        self.last_command = 0.0
        self.written = 0  # octets handed to the transport
        self.last_out = 0  # octets that had left the write buffer when the idle timer last looked
        self.abort_timer: asyncio.TimerHandle | None = None

    # ---------------------------------------------------------------- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server._open) >= self.server.max_connections:
            transport.write(Response(False, b"too many sessions, try later", b"SYS/TEMP").wire())  # type: ignore[attr-defined]
            self.session.end()
            self._close()
            return
        self.server._open.add(self)
        self.last_command = self.loop.time()
        self.idle_timer = self.loop.call_at(self.last_command + self.server.idle_timeout, self._check_idle)
        # "When the connection is established, the POP3 server sends a greeting." -- rfc1939/3/2
        self._write(self.codec.send(Response(True, self.session.greeting().text)))

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return  # after QUIT's answer nothing more is read (RFC 1939 6: the connection closes)
        self.codec.receive_data(data)
        self._drive()

    def eof_received(self) -> bool:
        self.peer_eof = True
        if self.closing:
            if self.transport is not None:
                self.transport.close()  # our answer is out and the client is done
            return False
        self.codec.receive_data(b"")
        self._drive()
        return True  # our side stays open until the pipelined answers are written

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.body is not None:
            self._pump()  # reading stays paused until the body is out: the next command waits its turn
        if (self.held is None and self.body is None and not self.writing_paused and not self.closing
                and self.transport is not None and not self.transport.is_closing()):
            self.transport.resume_reading()
            self._drive()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.held, self.idle_timer, self.abort_timer):
            if timer is not None:
                timer.cancel()
        self.held = None
        self._end_body()
        # "If a session terminates for some reason other than a client-issued QUIT command, the POP3 session
        # does NOT enter the UPDATE state and MUST not remove any messages from the maildrop." -- rfc1939/6/3
        self.session.end()
        self.server._open.discard(self)

    def abort(self) -> None:
        """The server is closing: end the session without UPDATE and drop the connection."""
        self.session.end()
        if self.transport is not None:
            self.transport.abort()

    # ---------------------------------------------------------------- commands in, replies out

    def _drive(self) -> None:
        """Answer every complete command in the codec, in order, until one must wait."""
        while self.held is None and self.body is None and not self.writing_paused and not self.closing:
            if self.codec.state is ERROR:
                self._close()
                return
            try:
                event = self.codec.next_event()
            except RemoteProtocolError as exc:
                # "A server MUST respond to an unrecognized, unimplemented, or syntactically invalid command
                # by responding with a negative status indicator." -- rfc1939/3/27; the codec skipped the line.
                self._answer(None, self.session.refuse(_refusal(exc)))
                continue
            if event is NEED_DATA:
                return
            if isinstance(event, ConnectionClosed):
                self.session.end()  # the client left without QUIT: nothing is removed (rfc1939/6/3)
                self._close()
                return
            if isinstance(event, Command):
                # "The receipt of any command from the client during that interval should suffice to reset
                # the autologout timer." -- rfc1939/3/31
                self.last_command = self.loop.time()
                reply = self.session.handle(event.verb, event.args)
                if reply.delay > 0:
                    self._hold(event, reply)
                    return
                self._answer(event, reply)

    def _hold(self, command: Command, reply: Reply) -> None:
        """A failed login: the answer, and every command after it, waits ``reply.delay`` seconds."""
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.pause_reading()

        def release() -> None:
            self.held = None
            if self.transport is None or self.transport.is_closing():
                return
            self._answer(command, reply)
            if not self.closing and not self.writing_paused and self.body is None:
                self.transport.resume_reading()
            self._drive()

        self.held = self.loop.call_later(reply.delay, release)

    def _answer(self, command: Command | None, reply: Reply) -> None:
        """Write one response for ``command`` (None: a line the codec refused), and start its multi-line body."""
        status = self.codec.send(Response(reply.ok, reply.text, reply.code))
        if not reply.ok and "err_without_space" in self.faults:
            status = status.replace(b"-ERR ", b"-ERR", 1)
        if "noop_without_cr" in self.faults and command is not None and command.verb.upper() == b"NOOP":
            status = status[: -len(b"\r\n")] + b"\n"
        if not (reply.ok and reply.body is not None):
            self._write(status)
            self._after(reply)
            return
        self.body = _Body(command.verb if command is not None else b"", reply, status)
        self._pump()

    def _pump(self) -> None:
        """Write the open body chunk by chunk until it ends or the transport asks us to wait (resume_writing goes on).

        A write carries the status line with the first chunk and the end with the last: a message of
        one chunk, like a listing, goes out in one write.
        """
        while (body := self.body) is not None and not self.writing_paused:
            if self.transport is None or self.transport.is_closing():
                self._end_body()
                return
            try:
                chunk = body.next_chunk()
            except OSError:
                # The file failed under us after the +OK: no honest end can follow.  Cut the connection, so the
                # client sees an unfinished answer (and the session no UPDATE, rfc1939/6/3), not a short message.
                self._end_body()
                self.closing = True  # nothing more is read or answered
                self.session.end()
                self.transport.abort()
                return
            parts = [body.take_status()]
            if chunk:
                parts.append(self._stuffed(chunk))
            if body.done:
                parts.append(self._terminator(body.verb))
                self._end_body()
            parts = [part for part in parts if part]
            self._write(parts[0] if len(parts) == 1 else b"".join(parts))  # a big chunk alone is not copied
            if self.body is None:
                self._after(body.reply)

    def _stuffed(self, chunk: bytes) -> bytes:
        """One chunk of a body as it goes on the wire: byte-stuffed by the codec, its lines ended by CRLF."""
        try:
            stuffed = self.codec.send(Data(chunk))
        except LocalProtocolError as exc:
            if exc.requirement != REQ["multiline_crlf"]:
                raise
            # A file another program stored with LF line ends.  The codec's check is the only bare-LF scan
            # the store's CRLF messages pay for; only a chunk it refuses is rewritten (rfc1939/3/14).
            chunk = with_crlf(chunk)
            stuffed = self.codec.send(Data(chunk))
        return chunk if "no_dot_stuffing" in self.faults else stuffed

    def _terminator(self, verb: bytes) -> bytes:
        """The end of a multi-line body: "." CRLF (after a CRLF if the body did not end with one), or a fault's."""
        end = self.codec.send(EndOfMultiline())
        if "unterminated_multiline" in self.faults and verb == b"RETR":
            end = end[: -len(b".\r\n")]  # a CRLF the codec adds to an unended body stays; the "." line goes
        elif "wrong_multiline_termination" in self.faults and verb != b"CAPA":
            end = end[: -len(b".\r\n")] + b".\n"  # CAPA stays right: the suites read it to decide what applies
        return end

    def _end_body(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def _after(self, reply: Reply) -> None:
        if reply.close:
            # "the server then releases any exclusive-access lock on the maildrop and closes the TCP
            # connection" -- rfc1939/6/7 (the session released the lock before answering)
            self._close()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.written += len(data)
            self.transport.write(data)

    # ---------------------------------------------------------------- timers and closing

    def _check_idle(self) -> None:
        """The autologout: no command for ``idle_timeout`` and nothing written meanwhile reached the client."""
        self.idle_timer = None
        if self.transport is None or self.transport.is_closing():
            return
        pending = self.transport.get_write_buffer_size()
        out = self.written - pending
        deadline = self.last_command + self.server.idle_timeout
        if pending and out != self.last_out:
            deadline = self.loop.time() + self.server.idle_timeout  # a slow reader of a long RETR is not idle
        self.last_out = out
        if self.held is None and self.loop.time() >= deadline - 0.001:
            # "When the timer expires, the session does NOT enter the UPDATE state--the server should close
            # the TCP connection without removing any messages or sending any response to the client."
            # -- rfc1939/3/32, 3/33.  Abort, not close: what is still unwritten was for a peer that stopped reading.
            self.session.end()
            self.transport.abort()
            return
        self.idle_timer = self.loop.call_at(max(deadline, self.loop.time() + 0.01), self._check_idle)

    def _close(self) -> None:
        """FIN after the last response, then a reset if the client neither closes nor reads (as http/server.py)."""
        self.closing = True
        if self.transport is None or self.transport.is_closing():
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._linger(None)
        else:
            self.transport.close()

    def _linger(self, before: int | None) -> None:
        assert self.transport is not None
        if self.transport.is_closing():
            return
        pending = self.transport.get_write_buffer_size()
        if pending == 0 and self.peer_eof:
            self.transport.close()  # both sides are done
        elif pending == 0:
            self.abort_timer = self.loop.call_later(LINGER, self.transport.abort)
        elif before is not None and pending >= before:
            self.transport.abort()  # no progress for idle_timeout: a peer that does not read
        else:
            self.abort_timer = self.loop.call_later(self.server.idle_timeout, self._linger, pending)


class _Body:
    """A multi-line response on its way out: a listing in one piece, or a message file chunk by chunk."""

    def __init__(self, verb: bytes, reply: Reply, status: bytes) -> None:
        self.verb = verb
        self.reply = reply
        self._status = status  # the status line, written with the first chunk
        self._reader = reply.body if isinstance(reply.body, MessageReader) else None
        self._rest = reply.body if isinstance(reply.body, bytes) else b""

    @property
    def done(self) -> bool:
        """Every chunk has been handed out: the end of the body goes with the last one."""
        return self._reader.done if self._reader is not None else not self._rest

    def next_chunk(self) -> bytes:
        if self._reader is not None:
            return self._reader.read()
        chunk, self._rest = self._rest, b""
        return chunk

    def take_status(self) -> bytes:
        status, self._status = self._status, b""
        return status

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _refusal(exc: RemoteProtocolError) -> bytes:
    """The -ERR text for a line the codec refused: short, ASCII, no CR or LF."""
    if exc.requirement == REQ["command_length"]:
        return b"command line too long (255 octets at most, RFC 2449 4)"
    reason = str(exc).encode("ascii", "replace")[:200]
    return b"syntax error: " + bytes(c if 0x20 <= c < 0x7F else 0x3F for c in reason)
