"""SMTP sans-I/O, in h11's shape.

Theory of operation.  ``Connection(SERVER)`` reads commands and mail data and
writes replies; ``Connection(CLIENT)`` writes commands and mail data and reads
replies.  ``receive_data(b"")`` is EOF.  ``next_event()`` returns a
:class:`Command`, :class:`MessageData`, :class:`EndOfData`, :class:`Reply` or
:class:`ConnectionClosed`, ``NEED_DATA``, or (server side, after a DATA command
until its reply is sent) ``PAUSED``.

Every command awaits exactly one reply (RFC 5321 4.2); the connection keeps the
queue (``awaiting``), so PIPELINING (RFC 2920) works, and the session state of
``state.py`` moves when a reply answers its command.

Errors.  A peer that breaks a rule raises :class:`RemoteProtocolError` naming
the requirement and (for a client's fault) the reply a server should answer.
SMTP recovers from a bad command: "a 501 failure reply MUST be returned and the
SMTP server MUST stay in the same state" (4.1.4), so on the server side the bad
line is consumed (a too-long one up to its CRLF) and reading goes on, even after
the client's EOF; the line takes its place in ``awaiting`` (``UNREADABLE``), so
its reply keeps the replies to pipelined commands in order.  A bad
line *inside* mail data is raised when seen; the codec then discards up to the
``<CRLF>.<CRLF>`` and returns :class:`EndOfData`, after which the server sends
the hinted reply.  On the client side a bad reply puts the server in ERROR:
without a trustworthy reply there is no telling which command it answered.

This module imports neither ``socket`` nor ``asyncio`` (a test checks).
"""

from __future__ import annotations

import re
from collections import deque

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.sentinel import Sentinel
from postel.protocols.smtp.events import Command, ConnectionClosed, EndOfData, MessageData, Reply, ehlo_keywords
from postel.protocols.smtp.requirements import REQ
from postel.protocols.smtp.state import (
    CLIENT, CLOSED, END_OF_DATA, ERROR, GREETING, SERVER, UNREADABLE, WAIT_GREETING, after_reply,
)

__all__ = ["CLIENT", "NEED_DATA", "PAUSED", "SERVER", "Connection", "ehlo_keywords"]

# RFC 5321 4.5.3.1: "Every implementation MUST be able to receive objects of at least these sizes."
MAX_COMMAND_LINE = 512  # 4.5.3.1.4, "including the command word and the <CRLF>"
MAX_REPLY_LINE = 512  # 4.5.3.1.5, "including the reply code and the <CRLF>"
MAX_TEXT_LINE = 1000  # 4.5.3.1.6, "including the <CRLF> ... (not counting the leading dot duplicated for transparency)"
DATA_CHUNK = 64 * 1024  # MessageData events are at most about this big

CR, LF, DOT = 13, 10, 46
_REPLY_LINE = re.compile(rb"(?P<code>[0-9]{3})(?P<sep>[ -]?)(?P<text>.*)", re.DOTALL)


class NEED_DATA(Sentinel): ...


class PAUSED(Sentinel): ...


Event = Command | Reply | MessageData | EndOfData | ConnectionClosed


class Connection:
    def __init__(
        self,
        our_role: type,
        *,
        max_command_line: int = MAX_COMMAND_LINE,
        max_reply_line: int = MAX_REPLY_LINE,
        max_text_line: int = MAX_TEXT_LINE,
        max_message_size: int | None = None,
    ) -> None:
        if our_role not in (CLIENT, SERVER):
            raise ValueError("role must be CLIENT or SERVER")
        self.our_role = our_role
        self.their_role = SERVER if our_role is CLIENT else CLIENT
        self.state: type = WAIT_GREETING
        self.max_command_line = max_command_line
        self.max_reply_line = max_reply_line
        self.max_text_line = max_text_line
        self.max_message_size = max_message_size  # RFC 1870 SIZE: refuse larger content with 552
        # What each outstanding reply will answer, oldest first: GREETING, a verb, or END_OF_DATA.
        self.awaiting: deque[object] = deque([GREETING])
        self._content_open = False  # mail data is flowing (after 354, before <CRLF>.<CRLF>)
        self._buffer = bytearray()
        self._eof = False
        self._queued: list[Event] = []
        self._error: RemoteProtocolError | None = None
        # reading
        self._discard: str | None = None  # "line" (rest of a too-long command) or "data" (to <CRLF>.<CRLF>)
        self._line_start = True  # what was consumed of the mail data ends with CRLF
        self._data_size = 0
        self._reply_lines: list[bytes] = []
        self._reply_code: bytes | None = None
        # sending mail data
        self._out_line_start = True
        self._out_cr = False
        self._out_line_len = 0

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> None:
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | type[NEED_DATA] | type[PAUSED]:
        if self.state is ERROR:
            raise RemoteProtocolError("can't receive data when the peer is in ERROR", requirement=self._error.requirement if self._error else None)
        if self._queued:
            return self._queued.pop(0)
        try:
            if self.our_role is SERVER:
                event = self._server_event()
            else:
                event = self._read_reply()
        except RemoteProtocolError as error:
            # A server recovers from a bad command even when the client has already half-closed
            # (4.1.4): the commands buffered after it are still read and answered.
            if self.our_role is CLIENT:
                self.state, self._error = ERROR, error
            raise
        if event is None and self._eof:
            try:
                event = self._at_eof()
            except RemoteProtocolError as error:
                self.state, self._error = ERROR, error  # closed mid-command or mid-data: nothing more will come
                raise
        if event is None:
            return NEED_DATA
        if isinstance(event, ConnectionClosed):
            self.state = CLOSED
        return event

    def _at_eof(self) -> Event | None:
        if self.our_role is SERVER and (self._content_open or self._buffer.strip()):
            where = "inside the mail data" if self._content_open else f"in the middle of a command ({bytes(self._buffer[:40])!r})"
            raise RemoteProtocolError(f"client closed {where}", requirement=REQ["close_without_quit"])
        if self.our_role is CLIENT and (self._buffer or self._reply_lines):
            raise RemoteProtocolError("server closed in the middle of a reply", requirement=REQ["reply_unterminated"])
        return ConnectionClosed()

    def _server_event(self) -> Event | type[PAUSED] | None:
        if self._discard == "data":
            return self._discard_data()
        if self._discard == "line" and not self._discard_line():
            return None
        if self._content_open:
            return self._read_data()
        if self.state is CLOSED:
            self._buffer.clear()  # after QUIT/221 nothing more is read
            return None
        if b"DATA" in self.awaiting:
            # Until the reply to DATA is sent, what follows may be mail data or a command.
            return PAUSED
        return self._read_command()

    # ------------------------------------------------------- server: commands

    def _client_fault(self, message: str, key: str, hint: int) -> RemoteProtocolError:
        return RemoteProtocolError(message, requirement=REQ[key], reply_hint=hint)

    def _read_command(self) -> Command | None:
        try:
            return self._parse_command()
        except RemoteProtocolError:
            # "Every command MUST generate exactly one reply" (4.2): a refused line is answered too,
            # so it takes its place in the queue and pipelined replies stay in order.
            self.awaiting.append(UNREADABLE)
            raise

    def _parse_command(self) -> Command | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) >= self.max_command_line:
                self._discard = "line"
                self._discard_line()
                raise self._client_fault(f"command line longer than {self.max_command_line} octets", "command_line_length", 500)
            return None
        raw = self._take(end + 1)
        if end == 0 or raw[-2] != CR:
            raise self._client_fault(f"command line ends in a bare LF: {raw[:60]!r}", "bare_line_end_client", 500)
        if len(raw) > self.max_command_line:
            raise self._client_fault(f"command line of {len(raw)} octets, over {self.max_command_line}", "command_line_length", 500)
        line = raw[:-2]
        if b"\r" in line:
            raise self._client_fault(f"bare CR in a command line: {line[:60]!r}", "bare_line_end_client", 500)
        # "SMTP receivers SHOULD tolerate trailing white space before the terminating <CRLF>" (4.1.1)
        line = line.rstrip(b" \t")
        verb, _, argument = line.partition(b" ")
        try:
            command = Command(verb, argument)
        except LocalProtocolError as error:
            raise RemoteProtocolError(str(error), requirement=error.requirement, reply_hint=error.reply_hint) from error
        self.awaiting.append(command.verb)
        return command

    def _discard_line(self) -> bool:
        """Drop octets up to and including the next CRLF; True once it is gone."""
        end = self._buffer.find(b"\r\n")
        if end < 0:
            keep = 1 if self._buffer.endswith(b"\r") else 0
            del self._buffer[: len(self._buffer) - keep]
            return False
        del self._buffer[: end + 2]
        self._discard = None
        return True

    # ----------------------------------------------------- server: mail data

    def _read_data(self) -> Event | None:
        out = bytearray()
        while len(out) < DATA_CHUNK:
            buf = self._buffer
            end = buf.find(b"\n")
            limit = self.max_text_line + (1 if buf[:1] == b"." else 0)  # the stuffed dot does not count
            if end < 0:
                bare_cr = buf.find(b"\r")
                if 0 <= bare_cr < len(buf) - 1:
                    if out:
                        break
                    self._take(bare_cr + 1)
                    self._data_fault("bare CR in mail data", "bare_line_end_client", 500, line_start=False)
                if len(buf) >= limit:
                    if out:
                        break
                    self._take(len(buf) - (1 if buf.endswith(b"\r") else 0))
                    self._data_fault(f"text line longer than {self.max_text_line} octets", "text_line_length", 500, line_start=False)
                break
            if end == 0 or buf[end - 1] != CR:
                if out:
                    break
                self._take(end + 1)
                # "<LF>.<LF>" "MUST NOT be treated as equivalent to <CRLF>.<CRLF>" (4.1.1.4)
                self._data_fault("bare LF in mail data", "bare_line_end_client", 500, line_start=False)
            if b"\r" in buf[: end - 1]:
                if out:
                    break
                self._take(end + 1)
                self._data_fault("bare CR in mail data", "bare_line_end_client", 500, line_start=True)
            if end + 1 > limit:
                if out:
                    break
                self._take(end + 1)
                self._data_fault(f"text line of {end + 1} octets, over {self.max_text_line}", "text_line_length", 500, line_start=True)
            size = end - 1 - (1 if buf[:1] == b"." else 0) + 2
            if self.max_message_size is not None and buf[: end - 1] != b"." and self._data_size + size > self.max_message_size:
                if out:
                    break
                self._take(end + 1)
                self._data_fault(f"message content over {self.max_message_size} octets", "message_size", 552, line_start=True)
            line = self._take(end + 1)[:-2]
            if line == b".":
                # "If the line is composed of a single period, it is treated as the end of mail indicator." (4.5.2)
                self._end_of_data()
                if out:
                    self._queued.append(EndOfData())
                    return MessageData(bytes(out))
                return EndOfData()
            if line[:1] == b".":
                line = line[1:]  # "the first character is deleted" (4.5.2)
            self._data_size += len(line) + 2
            out += line + b"\r\n"
        return MessageData(bytes(out)) if out else None

    def _data_fault(self, message: str, key: str, hint: int, *, line_start: bool) -> None:
        self._discard, self._line_start = "data", line_start
        raise self._client_fault(message + "; the rest of the mail data up to <CRLF>.<CRLF> is discarded", key, hint)

    def _end_of_data(self) -> None:
        self._content_open = False
        self._discard = None
        self._data_size = 0
        self._line_start = True
        self.awaiting.append(END_OF_DATA)

    def _discard_data(self) -> Event | None:
        buf = self._buffer
        while True:
            if self._line_start:
                if buf.startswith(b".\r\n"):
                    del buf[:3]
                    self._end_of_data()
                    return EndOfData()
                if b".\r\n".startswith(bytes(buf[:3])) and len(buf) < 3:
                    return None
            end = buf.find(b"\r\n")
            if end < 0:
                keep = 1 if buf.endswith(b"\r") else 0
                if len(buf) > keep:
                    del buf[: len(buf) - keep]
                    self._line_start = False
                return None
            del buf[: end + 2]
            self._line_start = True

    # ---------------------------------------------------------- client: replies

    def _server_fault(self, message: str, key: str) -> RemoteProtocolError:
        self._reply_lines, self._reply_code = [], None
        return RemoteProtocolError(message, requirement=REQ[key])

    def _read_reply(self) -> Reply | None:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) >= self.max_reply_line:
                    raise self._server_fault(f"reply line longer than {self.max_reply_line} octets", "reply_line_length")
                return None
            if end == 0 or self._buffer[end - 1] != CR:
                raise self._server_fault(f"reply line ends in a bare LF: {bytes(self._buffer[:end])[:60]!r}", "bare_line_end_server")
            if end + 1 > self.max_reply_line:
                raise self._server_fault(f"reply line of {end + 1} octets, over {self.max_reply_line}", "reply_line_length")
            line = self._take(end + 1)[:-2]
            if b"\r" in line:
                raise self._server_fault(f"bare CR in a reply line: {line[:60]!r}", "bare_line_end_server")
            match = _REPLY_LINE.fullmatch(line)
            if not match or not (b"2" <= line[:1] <= b"5"):
                raise self._server_fault(f"reply line {line[:60]!r} does not start with a reply code 2yz-5yz", "reply_code_range")
            if match["sep"] == b"" and match["text"]:
                raise self._server_fault(f"reply code not followed by SP, '-' or CRLF: {line[:60]!r}", "reply_syntax")
            if self._reply_code is not None and match["code"] != self._reply_code:
                # "In a multiline reply, the reply code on each of the lines MUST be the same." (4.2.1)
                raise self._server_fault(f"multiline reply changes code from {self._reply_code.decode()} to {match['code'].decode()}", "multiline_same_code")
            self._reply_code = match["code"]
            self._reply_lines.append(match["text"])
            if match["sep"] == b"-":
                continue
            lines, code = self._reply_lines, int(match["code"])
            self._reply_lines, self._reply_code = [], None
            try:
                reply = Reply(code, tuple(lines))
            except LocalProtocolError as error:
                raise RemoteProtocolError(str(error), requirement=error.requirement) from error
            if not self.awaiting:
                # "Every command MUST generate exactly one reply." (4.2)
                raise RemoteProtocolError(f"reply {code} answers no command", requirement=REQ["one_reply_per_command"])
            answers = self.awaiting.popleft()
            if answers == b"DATA" and code // 100 == 3:
                self._start_data()
            self.state = after_reply(self.state, answers, code)
            return reply

    # ---------------------------------------------------------------- sending

    def send(self, event: Event) -> bytes:
        if self.state is CLOSED:
            raise LocalProtocolError(f"can't send {type(event).__name__}: the session is closed")
        if self.our_role is SERVER:
            if not isinstance(event, Reply):
                raise LocalProtocolError(f"a server sends replies, not {type(event).__name__}")
            return self._send_reply(event)
        if isinstance(event, Command):
            return self._send_command(event)
        if isinstance(event, MessageData):
            if not self._content_open:
                raise LocalProtocolError("mail data before a 354 reply to DATA", requirement=REQ["data_before_354"])
            return self._stuff(event.data)
        if isinstance(event, EndOfData):
            if not self._content_open:
                raise LocalProtocolError("end of data before a 354 reply to DATA", requirement=REQ["data_before_354"])
            if not self._out_line_start:
                raise LocalProtocolError("mail data must end with CRLF before <CRLF>.<CRLF>", requirement=REQ["unterminated_last_line"])
            self._content_open = False
            self.awaiting.append(END_OF_DATA)
            return b".\r\n"
        raise LocalProtocolError(f"a client sends commands and mail data, not {type(event).__name__}")

    def _send_reply(self, reply: Reply) -> bytes:
        if not self.awaiting:
            raise LocalProtocolError(f"reply {reply.code} answers no command", requirement=REQ["one_reply_per_command"])
        if self._content_open:
            raise LocalProtocolError("can't reply while mail data is being read")
        lines = reply.wire_lines()
        for line in lines:
            if len(line) > self.max_reply_line:
                raise LocalProtocolError(f"reply line of {len(line)} octets", requirement=REQ["reply_line_length"])
        answers = self.awaiting.popleft()
        if answers == b"DATA" and reply.code // 100 == 3:
            self._start_data()
        self.state = after_reply(self.state, answers, reply.code)
        return b"".join(lines)

    def _send_command(self, command: Command) -> bytes:
        if self._content_open:
            raise LocalProtocolError(f"can't send {command.verb.decode()} inside mail data; send EndOfData first")
        line = command.verb + (b" " + command.argument if command.argument else b"") + b"\r\n"
        if len(line) > self.max_command_line:
            raise LocalProtocolError(f"command line of {len(line)} octets", requirement=REQ["command_line_length"])
        self.awaiting.append(command.verb)
        return line

    def _start_data(self) -> None:
        self._content_open = True
        self._line_start = self._out_line_start = True
        self._out_cr, self._out_line_len, self._data_size = False, 0, 0

    def _stuff(self, data: bytes) -> bytes:
        """Dot-stuff (4.5.2) octets whose only line terminator is CRLF, across chunk boundaries."""
        out = bytearray()
        pos, n = 0, len(data)
        while pos < n:
            if self._out_cr:
                if data[pos] != LF:
                    raise LocalProtocolError("bare CR in mail data", requirement=REQ["bare_line_end_client"])
                out.append(LF)
                pos += 1
                self._out_cr, self._out_line_start, self._out_line_len = False, True, 0
                continue
            if self._out_line_start and data[pos] == DOT:
                out.append(DOT)  # "one additional period is inserted at the beginning of the line"
            self._out_line_start = False
            cr, lf = data.find(b"\r", pos), data.find(b"\n", pos)
            if lf >= 0 and (cr < 0 or lf < cr):
                raise LocalProtocolError("bare LF in mail data", requirement=REQ["bare_line_end_client"])
            end = cr if cr >= 0 else n
            out += data[pos:end]
            self._out_line_len += end - pos
            if self._out_line_len + 2 > self.max_text_line:
                raise LocalProtocolError(f"text line over {self.max_text_line} octets", requirement=REQ["text_line_length"])
            pos = end
            if cr >= 0:
                out.append(CR)
                pos += 1
                self._out_cr = True
        return bytes(out)

    # ---------------------------------------------------------------- helpers

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    @property
    def buffered(self) -> int:
        """Octets received and not yet consumed: what the line limits keep bounded."""
        return len(self._buffer)

    @property
    def in_data(self) -> bool:
        """Mail data is flowing: the client may send it / the server is reading it."""
        return self._content_open

