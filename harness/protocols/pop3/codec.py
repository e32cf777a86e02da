"""POP3 sans-I/O, in h11's shape.

Theory of operation.  ``Connection(SERVER)`` reads commands and writes
responses and multi-line bodies; ``Connection(CLIENT)`` writes commands and
reads them.  ``receive_data(b"")`` is EOF.  ``next_event()`` returns a
:class:`Command`, :class:`Response`, :class:`Data`, :class:`EndOfMultiline`,
:class:`ConnectionClosed`, or ``NEED_DATA``.

"After each command, the POP3 server issues a response" (RFC 1939 5): the
connection queues what each outstanding response answers (``awaiting``: the
GREETING first, then the commands), so PIPELINING works: "match server
responses to commands in order" (RFC 2449 6.6).  A ``+OK`` to a command whose
answer is multi-line (:attr:`Command.multiline`) is followed by the body,
byte-stuffed on the wire and not in the events (RFC 1939 3).  The session
state of ``state.py`` moves when a response answers its command.

Errors.  A server recovers from a bad command line: it is consumed (a too-long
one up to its LF), counts as a command (INVALID_COMMAND) and the server answers
``-ERR`` (RFC 1939 3).  The server codec does not refuse commands by state: the
server decides, so a faulty one can be built.  On the client side a bad
response puts the connection in ERROR: without a trustworthy response there is
no telling what the rest of the stream means.  EOF inside a response is a
:class:`RemoteProtocolError`, never a wait.

This module imports neither ``socket`` nor ``asyncio`` (a test checks).
"""

from __future__ import annotations

from collections import deque

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.pop3.events import (
    MAX_CAPA_LINE, MAX_COMMAND_LINE, MAX_FIRST_LINE, Command, ConnectionClosed, Data, EndOfMultiline, Response,
)
from postel.protocols.pop3.requirements import REQ
from postel.protocols.pop3.state import (
    AUTHORIZATION, CLIENT, CLOSED, ERROR, GREETING, INVALID_COMMAND, SERVER, UPDATE, after_response,
)
from postel.protocols.sentinel import Sentinel

__all__ = ["CLIENT", "MAX_BODY_LINE", "NEED_DATA", "SERVER", "Connection"]

# RFC 1939 sets no bound on a line of a multi-line body; this is the harness's, so a
# peer that never sends LF cannot grow the buffer without end.  Beyond it: an error
# without a requirement (it is not an RFC rule).
MAX_BODY_LINE = 64 * 1024
DATA_CHUNK = 64 * 1024  # Data events are at most about this big

CR = 13


class NEED_DATA(Sentinel): ...


Event = Command | Response | Data | EndOfMultiline | ConnectionClosed


class Connection:
    """One POP3 session seen from ``our_role``.

    ``max_line`` bounds the lines we read outside bodies: commands on the
    server side (default 255, RFC 2449 4), status lines on the client side
    (default 512, RFC 2449 4).  ``max_body_line`` bounds a line of a
    multi-line body (CAPA's lines are 512 whatever it says, RFC 2449 5).
    """

    def __init__(self, our_role: type, *, max_line: int | None = None, max_body_line: int = MAX_BODY_LINE) -> None:
        if our_role not in (CLIENT, SERVER):
            raise ValueError("role must be CLIENT or SERVER")
        self.our_role = our_role
        self.their_role = SERVER if our_role is CLIENT else CLIENT
        self.state: type = AUTHORIZATION
        self.max_line = max_line if max_line is not None else (MAX_COMMAND_LINE if our_role is SERVER else MAX_FIRST_LINE)
        self.max_body_line = max_body_line
        # What each outstanding response answers, oldest first: GREETING, a Command or INVALID_COMMAND.
        self.awaiting: deque[object] = deque([GREETING])
        # "PASS ... may only be given in the AUTHORIZATION state immediately after a successful USER command" (7)
        self.user_accepted = False
        self._body_for: Command | None = None  # a multi-line body is open (read by a client, written by a server)
        self._buffer = bytearray()
        self._eof = False
        self._queued: list[Event] = []
        self._error: RemoteProtocolError | None = None
        self._discard = False  # server: drop the rest of a too-long command line
        self._out_line_start = True  # server: what was sent of the body ends with CRLF
        self._out_cr = False  # server: what was sent of the body ends with CR

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> None:
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | type[NEED_DATA]:
        if self.state is ERROR:
            raise RemoteProtocolError("can't read on: the peer broke the protocol", requirement=self._error.requirement if self._error else None)
        if self._queued:
            return self._queued.pop(0)
        try:
            event = self._server_event() if self.our_role is SERVER else self._client_event()
            if event is None and self._eof:
                event = self._at_eof()
        except RemoteProtocolError as error:
            if self.our_role is CLIENT:
                self.state, self._error = ERROR, error
            raise
        if event is None:
            return NEED_DATA
        if isinstance(event, ConnectionClosed):
            self.state = CLOSED
        return event

    def _at_eof(self) -> ConnectionClosed:
        if self.our_role is CLIENT:
            if self._body_for is not None:
                raise self._server_fault(
                    f"server closed inside the multi-line answer to {self._body_for.verb.decode()}, before \".\" CRLF",
                    "multiline_terminator",
                )
            if self._buffer:
                raise self._server_fault(f"server closed in the middle of a status line ({bytes(self._buffer[:40])!r})", "response_crlf")
        # A server: the client may drop the connection at any point; the session does NOT enter UPDATE (6).
        self._buffer.clear()
        return ConnectionClosed()

    # ------------------------------------------------------- server: commands

    def _server_event(self) -> Command | None:
        if self.state in (UPDATE, CLOSED):
            self._buffer.clear()  # after the answer to QUIT nothing more is read
            return None
        buf = self._buffer
        if self._discard:
            end = buf.find(b"\n")
            if end < 0:
                del buf[: len(buf) - (1 if buf.endswith(b"\r") else 0)]
                return None
            del buf[: end + 1]
            self._discard = False
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) >= self.max_line:
                self._discard = True
                del buf[:]
                raise self._client_fault(f"command line longer than {self.max_line} octets", "command_length")
            return None
        raw = self._take(end + 1)
        if end == 0 or raw[-2] != CR:
            raise self._client_fault(f"command line ends in a bare LF: {raw[:60]!r}", "command_crlf")
        if len(raw) > self.max_line:
            raise self._client_fault(f"command line of {len(raw)} octets, over {self.max_line}", "command_length")
        try:
            command = Command.parse(raw[:-2])
        except RemoteProtocolError:
            self.awaiting.append(INVALID_COMMAND)
            raise
        self.awaiting.append(command)
        return command

    def _client_fault(self, message: str, key: str) -> RemoteProtocolError:
        """A bad command line: consumed, answered with -ERR like any command (RFC 1939 3)."""
        self.awaiting.append(INVALID_COMMAND)
        return RemoteProtocolError(message, requirement=REQ[key])

    # ------------------------------------------------------- client: responses

    def _server_fault(self, message: str, key: str) -> RemoteProtocolError:
        return RemoteProtocolError(message, requirement=REQ[key])

    def _client_event(self) -> Event | None:
        if self._body_for is not None:
            return self._read_body()
        buf = self._buffer
        if buf and not self.awaiting:
            raise self._server_fault(f"{bytes(buf[:40])!r} answers no command", "one_response_per_command")
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) >= self.max_line:
                raise self._server_fault(f"status line longer than {self.max_line} octets", "first_line_length")
            return None
        if end == 0 or buf[end - 1] != CR:
            raise self._server_fault(f"status line ends in a bare LF: {bytes(buf[:end])[:60]!r}", "response_crlf")
        if end + 1 > self.max_line:
            raise self._server_fault(f"status line of {end + 1} octets, over {self.max_line}", "first_line_length")
        response = Response.parse(self._take(end + 1)[:-2])
        self._answered(self.awaiting.popleft(), response)
        return response

    def _read_body(self) -> Data | EndOfMultiline | None:
        buf = self._buffer
        capa = self._body_for is not None and self._body_for.verb == b"CAPA"
        limit = MAX_CAPA_LINE if capa else self.max_body_line
        out: list[bytes] = []
        size = pos = 0
        done = False
        while size < DATA_CHUNK:
            end = buf.find(b"\n", pos)
            if end < 0:
                if len(buf) - pos > limit:
                    del buf[:pos]
                    raise self._body_fault(capa, f"multi-line body line longer than {limit} octets")
                break
            if end == pos or buf[end - 1] != CR:
                raise self._server_fault(f"multi-line body line ends in a bare LF: {bytes(buf[pos:end])[:60]!r}", "multiline_crlf")
            if buf[pos] == 0x2E:  # the termination octet
                if end == pos + 2:
                    pos, done = end + 1, True  # ".CRLF": "the response from the POP server is ended" (3)
                    break
                if buf[pos + 1] != 0x2E:
                    raise self._server_fault(
                        f"body line {bytes(buf[pos:end])[:60]!r} begins with \".\" but is not byte-stuffed", "byte_stuffing"
                    )
                pos += 1  # "the first octet of the line (the termination octet) is stripped away" (3)
            if end + 1 - pos > limit:
                raise self._body_fault(capa, f"multi-line body line of {end + 1 - pos} octets, over {limit}")
            out.append(bytes(buf[pos : end + 1]))
            size += end + 1 - pos
            pos = end + 1
        del buf[:pos]
        if done:
            self._body_for = None
            if out:
                self._queued.append(EndOfMultiline())
            else:
                return EndOfMultiline()
        return Data(b"".join(out)) if out else None

    def _body_fault(self, capa: bool, message: str) -> RemoteProtocolError:
        if capa:
            return self._server_fault(message, "capa_line_length")
        return RemoteProtocolError(message + " (a bound of the harness, not of RFC 1939)", requirement=None)

    # ---------------------------------------------------------------- sending

    def send(self, event: Event) -> bytes:
        if self.state in (CLOSED, ERROR):
            raise LocalProtocolError(f"can't send {type(event).__name__}: the session is {self.state!r}")
        if self.our_role is CLIENT:
            if not isinstance(event, Command):
                raise LocalProtocolError(f"a client sends commands, not {type(event).__name__}")
            wire = event.wire()
            if len(wire) > MAX_COMMAND_LINE:
                raise LocalProtocolError(f"command line of {len(wire)} octets, over {MAX_COMMAND_LINE}", requirement=REQ["command_length"])
            self.awaiting.append(event)
            return wire
        if isinstance(event, Response):
            if self._body_for is not None:
                raise LocalProtocolError(f"the multi-line answer to {self._body_for.verb.decode()} is open: send EndOfMultiline first")
            if not self.awaiting:
                raise LocalProtocolError("a response that answers no command", requirement=REQ["one_response_per_command"])
            self._answered(self.awaiting.popleft(), event)
            return event.wire()
        if isinstance(event, Data):
            if self._body_for is None:
                raise LocalProtocolError("Data outside a multi-line response", requirement=REQ["multiline_grammar"])
            return self._stuff(event.data)
        if isinstance(event, EndOfMultiline):
            if self._body_for is None:
                raise LocalProtocolError("EndOfMultiline outside a multi-line response", requirement=REQ["multiline_grammar"])
            # "each terminated by a CRLF pair" (3): a body that does not end with one gets it here.
            head = b"" if self._out_line_start else b"\n" if self._out_cr else b"\r\n"
            self._body_for = None
            return head + b".\r\n"
        raise LocalProtocolError(f"a server sends responses and multi-line bodies, not {type(event).__name__}")

    def _answered(self, answers: object, response: Response) -> None:
        """A response answered ``answers``: open the body, move the state, track USER (both sides)."""
        command = answers if isinstance(answers, Command) else None
        if response.ok and command is not None and command.multiline:
            self._body_for = command
            self._out_line_start, self._out_cr = True, False
        if answers is not GREETING:
            self.user_accepted = response.ok and command is not None and command.verb == b"USER"
        verb = command.verb if command is not None else answers
        self.state = after_response(self.state, verb, response.ok)

    def _stuff(self, data: bytes) -> bytes:
        """Byte-stuff (RFC 1939 3) body octets whose line terminator is CRLF, across chunk boundaries."""
        if not data:
            return b""
        head = b""
        line_start = self._out_line_start
        if self._out_cr and data[:1] == b"\n":
            head, data, line_start = b"\n", data[1:], True
        if data.count(b"\n") != data.count(b"\r\n"):
            raise LocalProtocolError("bare LF in a multi-line body: lines end with CRLF", requirement=REQ["multiline_crlf"])
        body = data.replace(b"\r\n.", b"\r\n..")
        if line_start and data[:1] == b".":
            body = b"." + body  # "pre-pending the termination octet to that line" (3)
        if data:
            self._out_cr = data.endswith(b"\r")
            self._out_line_start = data.endswith(b"\r\n")
        else:
            self._out_cr, self._out_line_start = False, True
        return head + body

    # ---------------------------------------------------------------- helpers

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    @property
    def in_multiline(self) -> bool:
        """A multi-line body is open: the server is sending it / the client is reading it."""
        return self._body_for is not None
