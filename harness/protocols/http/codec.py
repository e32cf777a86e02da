"""HTTP/1.0 (with HTTP/0.9) sans-I/O, in h11's shape.

Theory of operation.  ``Connection(SERVER)`` reads requests and writes
responses; ``Connection(CLIENT)`` the reverse.  ``receive_data(b"")`` is EOF.
``next_event()`` returns a :class:`Request`/:class:`Response`, then
:class:`Data`, then :class:`EndOfMessage`, then :class:`ConnectionClosed`, or
``NEED_DATA``.  A peer that breaks a rule raises :class:`RemoteProtocolError`
naming the requirement and the status a server should answer
(``reply_hint``); the peer's state becomes ERROR.

Parsing follows RFC 9112 (which governs HTTP/1.0 parsing today), with RFC
1945's HTTP/0.9 and its version rules.  Readers are picked by the peer's
(role, state) from ``READERS``; each returns an event, ``None`` for "need more
data", or raises.  Every buffer is bounded by a limit named below.

This module imports neither ``socket`` nor ``asyncio`` (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.http import abnf
from postel.protocols.http.events import ConnectionClosed, Data, EndOfMessage, Headers, Request, Response
from postel.protocols.http.requirements import REQ
from postel.protocols.http.state import CLIENT, CLOSED, DONE, ERROR, IDLE, MUST_CLOSE, SEND_BODY, SERVER, next_state
from postel.protocols.sentinel import Sentinel

__all__ = ["CLIENT", "SERVER", "Connection", "NEED_DATA"]

# "It is RECOMMENDED that all HTTP senders and recipients support, at a
# minimum, request-line lengths of 8000 octets." -- RFC 9112 section 3
MAX_REQUEST_LINE = 8000
# The whole header section; h11, nginx and Apache all default to 8-16 KiB.
MAX_HEADER_SECTION = 16 * 1024
MAX_FIELDS = 100
# The reference server's POST sink; a client reads any size (close-delimited).
MAX_REQUEST_BODY = 1 << 20
# "a server ... SHOULD ignore at least one empty line (CRLF) received prior to
# the request-line" -- RFC 9112 section 2.2; more than this many is junk.
MAX_LEADING_EMPTY_LINES = 4


class NEED_DATA(Sentinel): ...


Event = Request | Response | Data | EndOfMessage | ConnectionClosed


class Connection:
    def __init__(
        self,
        our_role: type,
        *,
        max_request_line: int = MAX_REQUEST_LINE,
        max_header_section: int = MAX_HEADER_SECTION,
        max_request_body: int = MAX_REQUEST_BODY,
    ) -> None:
        if our_role not in (CLIENT, SERVER):
            raise ValueError("role must be CLIENT or SERVER")
        self.our_role = our_role
        self.their_role = SERVER if our_role is CLIENT else CLIENT
        self.states: dict[type, type] = {CLIENT: IDLE, SERVER: IDLE}
        self.max_request_line = max_request_line
        self.max_header_section = max_header_section
        self.max_request_body = max_request_body
        self._buffer = bytearray()
        self._eof = False
        self.request: Request | None = None  # the exchange's request, sent or received
        self.response: Response | None = None
        self._body_left: int | None = None  # octets still due in the body being read
        self._body_until_close = False
        self._send_left: int | None = None  # octets still due in the body we send
        self._pending: list[Event] = []

    # ---------------------------------------------------------------- state

    @property
    def our_state(self) -> type:
        return self.states[self.our_role]

    @property
    def their_state(self) -> type:
        return self.states[self.their_role]

    # ---------------------------------------------------------------- receiving

    @property
    def trailing_data(self) -> tuple[bytes, bool]:
        """(octets received but not yet read, whether EOF came): h11's name for the same thing."""
        return bytes(self._buffer), self._eof

    def receive_data(self, data: bytes) -> None:
        if data:
            if self._eof:
                raise RuntimeError("received data after EOF")
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> Event | type[NEED_DATA]:
        if self.their_state is ERROR:
            raise RemoteProtocolError("can't receive data when the peer is in ERROR")
        if self._pending:
            return self._advance(self._pending.pop(0))
        try:
            reader = READERS.get((self.their_role, self.their_state))
            event = reader(self) if reader else self._read_after_message()
        except RemoteProtocolError:
            self.states[self.their_role] = ERROR
            raise
        if event is None:
            if self._eof:
                return self._advance(self._at_eof())
            return NEED_DATA
        return self._advance(event)

    def _advance(self, event: Event) -> Event:
        new = next_state(self.their_role, self.their_state, event)
        if new is None:
            raise LocalProtocolError(f"{type(event).__name__} in {self.their_role}/{self.their_state}")
        self.states[self.their_role] = new
        return event

    def _at_eof(self) -> Event:
        """The peer closed: what that means depends on where it was."""
        state = self.their_state
        if state is SEND_BODY and self._body_until_close:
            if self._buffer:
                return Data(self._take(len(self._buffer)))
            self._pending.append(ConnectionClosed())
            return EndOfMessage()
        if state is SEND_BODY and self._body_left:
            self.states[self.their_role] = ERROR
            raise RemoteProtocolError(
                f"peer closed with {self._body_left} of the Content-Length octets missing",
                # A request cut short is the server's to judge (RFC 9112 6.3); a response
                # shorter than its Content-Length broke RFC 1945 7.2.2.
                requirement=REQ["incomplete_body"] if self.their_role is CLIENT else REQ["response_length"],
                reply_hint=400,
            )
        if state in (IDLE, SEND_BODY) and self._buffer:
            self.states[self.their_role] = ERROR
            raise RemoteProtocolError(
                f"peer closed in the middle of a message head ({len(self._buffer)} octets)",
                requirement=REQ["request_grammar"] if self.their_role is CLIENT else REQ["status_line"],
                reply_hint=400,
            )
        return ConnectionClosed()

    def _read_after_message(self) -> Event | None:
        if self.their_role is CLIENT:
            # One request per connection: octets after it are never a second
            # request (RFC 9931's concern).  Discard them, bounded.
            self._buffer.clear()
            return None
        if self._buffer:
            extra = bytes(self._buffer[:40])
            raise RemoteProtocolError(
                f"{len(self._buffer)} octets after the end of the response ({extra!r}...)",
                requirement=self._rule_for_extra_octets(),
            )
        return None

    def _rule_for_extra_octets(self) -> str:
        """Octets after a bodiless response are a body the rules forbid; else the length lied."""
        status = self.response.status_code if self.response else 0
        if self.request is not None and self.request.method == b"HEAD":
            return REQ["body_on_head"]
        if status in (204, 304) or 100 <= status < 200:
            return REQ["body_on_bodiless_status"]
        return REQ["content_length_value"]

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _line(self, limit: int, what: str, hint: int, requirement: str) -> bytes | None:
        """One line without its terminator (CRLF, or a lone LF: RFC 9112 2.2 MAY)."""
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > limit:
                raise RemoteProtocolError(f"{what} longer than {limit} octets", requirement=requirement, reply_hint=hint)
            return None
        if end > limit:
            raise RemoteProtocolError(f"{what} longer than {limit} octets", requirement=requirement, reply_hint=hint)
        line = self._take(end + 1)[:-1]
        if line.endswith(b"\r"):
            line = line[:-1]
        if b"\r" in line:
            # "A recipient of such a bare CR MUST consider that element to be invalid" -- RFC 9112 2.2
            raise RemoteProtocolError(f"bare CR in {what}: {line!r}", requirement=REQ["bare_cr"], reply_hint=400)
        return line

    # ---------------------------------------------------------------- heads

    def _read_request_head(self) -> Event | None:
        for _ in range(MAX_LEADING_EMPTY_LINES):
            if self._buffer.startswith(b"\r\n"):
                del self._buffer[:2]
            elif self._buffer.startswith(b"\n"):
                del self._buffer[:1]
            else:
                break
        head_end = _head_end(self._buffer)
        if head_end is None:
            self._check_head_limits()
            first = self._line_peek()
            if first is not None and abnf.SIMPLE_REQUEST.fullmatch(first):
                return self._simple_request()
            return None
        first = self._line(self.max_request_line, "request-line", 414, REQ["request_line_length"])
        assert first is not None
        if simple := abnf.SIMPLE_REQUEST.fullmatch(first):
            # An HTTP/0.9 Simple-Request ends at its line; what followed is not its head.
            return self._finish_simple_request(simple)
        match = abnf.REQUEST_LINE.fullmatch(first)
        if not match:
            raise RemoteProtocolError(f"invalid request-line {first[:100]!r}", requirement=REQ["request_grammar"], reply_hint=400)
        headers = self._fields()
        version = match["version"][5:]
        request = Request(method=match["method"], target=match["target"], http_version=version, headers=headers)
        self._frame_request(request)
        self.request = request
        return request

    def _line_peek(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            return None
        return bytes(self._buffer[:end]).rstrip(b"\r")

    def _simple_request(self) -> Event:
        line = self._line(self.max_request_line, "request-line", 414, REQ["request_line_length"])
        assert line is not None
        match = abnf.SIMPLE_REQUEST.fullmatch(line)
        assert match is not None
        return self._finish_simple_request(match)

    def _finish_simple_request(self, match) -> Event:
        request = Request(method=b"GET", target=match["target"], simple=True)
        self.request = request
        self._body_left = 0
        self._pending.append(EndOfMessage())
        return request

    def _check_head_limits(self) -> None:
        first_end = self._buffer.find(b"\n")
        if first_end < 0 and len(self._buffer) > self.max_request_line:
            hint = 414 if self.their_role is CLIENT else 400
            raise RemoteProtocolError(f"start-line longer than {self.max_request_line} octets", requirement=REQ["request_line_length"], reply_hint=hint)
        if len(self._buffer) > self.max_request_line + self.max_header_section:
            raise RemoteProtocolError(f"header section longer than {self.max_header_section} octets", requirement=REQ["header_too_large"], reply_hint=431)

    def _fields(self) -> Headers:
        fields: list[list[bytes]] = []
        total = 0
        while True:
            line = self._line(self.max_header_section, "field line", 431, REQ["header_too_large"])
            assert line is not None  # the caller found the end of the head
            if not line:
                return Headers(tuple((name, value) for name, value in fields))
            total += len(line) + 2
            if total > self.max_header_section or len(fields) >= MAX_FIELDS:
                raise RemoteProtocolError(f"header section over {self.max_header_section} octets or {MAX_FIELDS} fields", requirement=REQ["header_too_large"], reply_hint=431)
            if line[:1] in (b" ", b"\t"):
                if not fields:
                    # "A recipient that receives whitespace between the start-line and the first
                    # header field MUST either reject the message as invalid or consume ..." -- RFC 9112 2.2
                    raise RemoteProtocolError("whitespace between the start-line and the first field line", requirement=REQ["start_line_whitespace"], reply_hint=400)
                # obs-fold: "replace each received obs-fold with one or more SP octets" -- RFC 9112 5.2
                continuation = line.strip(abnf.OWS)
                fields[-1][1] = (fields[-1][1] + b" " + continuation).strip(abnf.OWS)
                continue
            name, colon, value = line.partition(b":")
            if not colon:
                raise RemoteProtocolError(f"field line without a colon: {line[:60]!r}", requirement=REQ["field_grammar"], reply_hint=400)
            if name[-1:] in (b" ", b"\t"):
                # "A server MUST reject, with a response status code of 400 (Bad Request), any received
                # request message that contains whitespace between a header field name and colon." -- RFC 9112 5.1
                raise RemoteProtocolError(f"whitespace between field name {name.strip()!r} and colon", requirement=REQ["space_before_colon"], reply_hint=400)
            if not abnf.FIELD_NAME.fullmatch(name):
                raise RemoteProtocolError(f"field name {name[:60]!r} is not a token", requirement=REQ["field_grammar"], reply_hint=400)
            value = value.strip(abnf.OWS)
            if not abnf.FIELD_VALUE.fullmatch(value):
                raise RemoteProtocolError(f"control octets in the value of {name!r}", requirement=REQ["field_grammar"], reply_hint=400)
            fields.append([name, value])

    def _content_length(self, headers: Headers) -> int | None:
        values = headers.get_all(b"content-length")
        if not values:
            return None
        # "unless the field value can be successfully parsed as a comma-separated list ..., all values
        # in the list are valid, and all values in the list are the same" -- RFC 9112 6.3 (5)
        items = [item.strip(abnf.OWS) for value in values for item in value.split(b",")]
        if not all(abnf.CONTENT_LENGTH.fullmatch(item) for item in items) or len(set(map(int, items))) != 1:
            raise RemoteProtocolError(
                f"invalid Content-Length {b', '.join(values)!r}", requirement=REQ["content_length_invalid"], reply_hint=400
            )
        return int(items[0])

    def _frame_request(self, request: Request) -> None:
        if b"transfer-encoding" in request.headers:
            if request.http_version == b"1.0":
                # "A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding
                # header field MUST treat the message as if the framing is faulty" -- RFC 9112 6.1
                raise RemoteProtocolError("Transfer-Encoding in an HTTP/1.0 request", requirement=REQ["te_in_http10"], reply_hint=400)
            raise RemoteProtocolError("Transfer-Encoding is not implemented by an HTTP/1.0 server", requirement=REQ["te_unknown"], reply_hint=501)
        length = self._content_length(request.headers)
        if length is not None and length > self.max_request_body:
            raise RemoteProtocolError(f"request body of {length} octets is over the limit", requirement=REQ["body_too_large"], reply_hint=413)
        # "If this is a request message and none of the above are true, then the message body length
        # is zero" -- RFC 9112 6.3 (7)
        self._body_left = length or 0
        self._body_until_close = False

    def _read_response_head(self) -> Event | None:
        if len(self._buffer) < 5 and not self._eof:
            return None
        if not self._buffer.startswith(b"HTTP/"):
            if not self._buffer and self._eof:
                return None
            # "the client should assume that the response is a Simple-Response" -- RFC 1945 6
            self.response = Response(200, simple=True, http_version=b"0.9")
            self._body_left, self._body_until_close = None, True
            return self.response
        head_end = _head_end(self._buffer)
        if head_end is None:
            self._check_head_limits()
            return None
        line = self._line(self.max_request_line, "status-line", 502, REQ["status_line"])
        assert line is not None
        match = abnf.STATUS_LINE.fullmatch(line)
        if not match:
            raise RemoteProtocolError(f"invalid status-line {line[:100]!r}", requirement=REQ["status_line"])
        headers = self._fields()
        response = Response(int(match["status"]), match["reason"], match["version"][5:], headers)
        self.response = response
        self._frame_response(response)
        return response

    def _frame_response(self, response: Response) -> None:
        status = response.status_code
        method = self.request.method if self.request else None
        if method == b"HEAD" or 100 <= status < 200 or status in (204, 304):
            # "Any response to a HEAD request and any response with a 1xx, 204, or 304 status code is
            # always terminated by the first empty line after the header fields" -- RFC 9112 6.3 (1)
            self._body_left, self._body_until_close = 0, False
            return
        if b"transfer-encoding" in response.headers:
            self._body_left, self._body_until_close = None, True  # RFC 9112 6.3 (4): read until close
            return
        length = self._content_length(response.headers)
        self._body_left, self._body_until_close = length, length is None

    # ---------------------------------------------------------------- bodies

    def _read_body(self) -> Event | None:
        if self._body_until_close:
            return Data(self._take(len(self._buffer))) if self._buffer else None
        if not self._body_left:
            return EndOfMessage()
        if not self._buffer:
            return None
        chunk = self._take(min(self._body_left, len(self._buffer)))
        self._body_left -= len(chunk)
        return Data(chunk)

    # ---------------------------------------------------------------- sending

    def send(self, event: Event) -> bytes:
        new = next_state(self.our_role, self.our_state, event)
        if new is None:
            raise LocalProtocolError(f"can't send {type(event).__name__} in {self.our_role}/{self.our_state}")
        data = self._write(event)
        self.states[self.our_role] = new
        return data

    def _write(self, event: Event) -> bytes:
        if isinstance(event, Request):
            self.request = event
            if event.simple:
                return b"GET " + event.target + b"\r\n"
            self._send_left = _declared_length(event.headers) or 0
            line = b"%s %s HTTP/%s\r\n" % (event.method, event.target, event.http_version)
            return line + _write_fields(event.headers)
        if isinstance(event, Response):
            self.response = event
            no_body = (self.request is not None and self.request.method == b"HEAD") or event.status_code in (204, 304) or event.status_code < 200
            self._send_left = 0 if no_body else _declared_length(event.headers)
            if event.simple:
                return b""
            line = b"HTTP/%s %d %s\r\n" % (event.http_version, event.status_code, event.reason)
            return line + _write_fields(event.headers)
        if isinstance(event, Data):
            if self._send_left is not None:
                if len(event.data) > self._send_left:
                    raise LocalProtocolError(f"{len(event.data)} octets of body exceed the declared length by {len(event.data) - self._send_left}")
                self._send_left -= len(event.data)
            return event.data
        if isinstance(event, EndOfMessage):
            if self._send_left:
                raise LocalProtocolError(f"message ended {self._send_left} octets short of its Content-Length")
            return b""
        return b""


def _head_end(buffer: bytearray) -> int | None:
    """Where the header section ends (after the empty line), or None."""
    ends = [buffer.find(t) + len(t) for t in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if buffer.find(t) >= 0]
    return min(ends) if ends else None


def _declared_length(headers: Headers) -> int | None:
    value = headers.get(b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _write_fields(headers: Headers) -> bytes:
    return b"".join(b"%s: %s\r\n" % (name, value) for name, value in headers) + b"\r\n"


READERS: dict[tuple[type, type], Callable[[Connection], Event | None]] = {
    (CLIENT, IDLE): Connection._read_request_head,
    (CLIENT, SEND_BODY): Connection._read_body,
    (SERVER, IDLE): Connection._read_response_head,
    (SERVER, SEND_BODY): Connection._read_body,
}

# States after which nothing more is read but EOF; kept for the diagrams.
FINAL_STATES = (DONE, MUST_CLOSE, CLOSED)
