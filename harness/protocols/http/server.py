"""The reference HTTP/1.0 server: static files from a root, a POST sink, nothing clever.

What it promises, and where each promise comes from:
- GET and HEAD of files under ``root``; HEAD has the same fields as GET and
  no body (RFC 1945 8.2, RFC 9110 9.3.2); POST only to ``SINK_PATH``, which
  stores nothing and answers with the octet count and a SHA-256.
- Date, Server, Content-Type, Content-Length, Last-Modified on every file;
  If-Modified-Since gives 304 (RFC 1945 10.9); unknown methods 501.
- Malformed requests 400, an over-long request-line 414, a header section
  over the limit 431: the codec's typed errors carry the status.
- Any request version 1.x is answered as HTTP/1.0; one request per
  connection, then the server closes (RFC 1945 1.3).  HTTP/0.9
  Simple-Requests get a Simple-Response (RFC 1945 4.1).
- No path traversal: paths are decoded per segment, dot segments and encoded
  slashes are refused, and the resolved file must lie inside the real root
  (so a symlink cannot lead out of it).  Directory listings only of
  directories inside the root.
- A slow client cannot hold a connection: the head must arrive within
  ``head_timeout`` and no gap may exceed ``idle_timeout`` (408, then close);
  at most ``max_connections`` at once.

``faults`` switches on one deliberate deviation, for the harness's own tests
that prove each check can fail; the reference never runs with one by default.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import hashlib
import html
import mimetypes
import os
import re
import stat as statmod
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from postel import __version__
from postel.protocols.errors import RemoteProtocolError
from postel.protocols.http.codec import NEED_DATA, SERVER, Connection
from postel.protocols.http.dates import DAYS, MONTHS, DateError, format_http_date, parse_http_date
from postel.protocols.http.events import ConnectionClosed, Data, EndOfMessage, Request, Response
from postel.protocols.http.targets import TargetError, parse_request_target

__all__ = ["FAULTS", "HttpServer", "SINK_PATH"]

SINK_PATH = "/_postel/sink"  # POST here: the body is counted and hashed, not kept
SERVER_NAME = f"postel/{__version__}".encode()
REASONS = {
    200: b"OK", 201: b"Created", 204: b"No Content", 301: b"Moved Permanently", 302: b"Moved Temporarily",
    304: b"Not Modified", 400: b"Bad Request", 401: b"Unauthorized", 403: b"Forbidden", 404: b"Not Found",
    405: b"Method Not Allowed", 408: b"Request Timeout", 413: b"Content Too Large", 414: b"URI Too Long",
    431: b"Request Header Fields Too Large", 500: b"Internal Server Error", 501: b"Not Implemented",
    503: b"Service Unavailable", 505: b"HTTP Version Not Supported",
}
IMPLEMENTED = (b"GET", b"HEAD", b"POST")
LINGER = 2.0  # seconds the socket stays open after the response has left, before the reset

# Deliberate deviations, one per seeded fault of the harness's own tests.
FAULTS = frozenset({
    "wrong_content_length",  # declares one octet more than it sends
    "body_on_head",  # sends the entity body after a HEAD response
    "no_date",  # omits Date
    "lowercase_status_line",  # "http/1.0 200 ok"
    "ok_for_malformed",  # answers 200 to requests the codec refuses
    "space_before_colon_ok",  # accepts "Host : x"
    "keep_open",  # does not close after the response
    "traversal",  # resolves ".." against the root
    "full_response_to_simple_request",  # answers an HTTP/0.9 Simple-Request with status-line and fields
    "ignores_if_modified_since",  # never 304: If-Modified-Since is not read
    "absolute_form_404",  # 404 for a request-target in absolute-form
    "answers_twice",  # after a CONNECT, or a request with Transfer-Encoding (and Content-Length), reads and answers the next request
    "date_in_asctime",  # Date in asctime-date ("Sun Nov  6 08:49:37 1994"), not IMF-fixdate
    "ignores_content_length_errors",  # reads an invalid Content-Length leniently (leading digits, else 0) and serves the request
})


@dataclass
class HttpServer:
    root: Path
    host: str = "127.0.0.1"
    port: int = 0
    head_timeout: float = 10.0
    idle_timeout: float = 5.0
    max_connections: int = 256
    faults: frozenset[str] = field(default_factory=frozenset)
    remove_on_close: Path | None = None  # a temporary folder the server owns (the sample site)

    def __post_init__(self) -> None:
        unknown = set(self.faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        self.root = Path(self.root).resolve()
        self._root_str = str(self.root)
        self._root_prefix = os.path.join(self._root_str, "")  # "/srv/site/": what lies inside starts so
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.Transport] = set()

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "server not started"
        return self._server.sockets[0].getsockname()[:2]

    async def start(self) -> None:
        if not self.root.is_dir():
            raise NotADirectoryError(f"HTTP root {self.root} is not a directory")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _HttpConnection(self), self.host, self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for transport in list(self._open):
                transport.abort()
            await self._server.wait_closed()
        if self.remove_on_close is not None:
            import shutil

            shutil.rmtree(self.remove_on_close, ignore_errors=True)

    # ---------------------------------------------------------------- what to answer

    def respond(self, request: Request, body: bytes) -> tuple[Response, bytes]:
        """The response head and entity body for one complete request."""
        if not request.simple and request.http_version[:1] != b"1":
            # "505 (HTTP Version Not Supported) ... the server does not support, or refuses to
            # support, the major version of HTTP that was used in the request message" -- RFC 9110 15.6.6
            return self._error(505, "Only HTTP/1.x and HTTP/0.9 are served here.")
        if request.method not in IMPLEMENTED:
            return self._error(501, f"{request.method.decode('latin-1')} is not implemented.", allow=True)
        try:
            target = parse_request_target(request.target, request.method)
            if target.form not in ("origin", "absolute"):
                return self._error(400, "This server serves origin-form and absolute-form targets only.")
            if target.form == "absolute" and "absolute_form_404" in self.faults:
                return self._error(404, "Not found.")
            segments = target.segments() if "traversal" not in self.faults else _unsafe_segments(target.path)
        except TargetError as exc:
            return self._error(exc.status, str(exc))
        path = "/" + "/".join(segments)
        if request.method == b"POST":
            if path != SINK_PATH:
                return self._error(405, f"POST is accepted at {SINK_PATH} only.", allow=True)
            digest = hashlib.sha256(body).hexdigest()
            return self._ok(201, f"received {len(body)} octets, sha256 {digest}\n".encode(), b"text/plain; charset=utf-8")
        return self._static(request, segments, target.path)

    def _static(self, request: Request, segments: list[str], raw_path: bytes) -> tuple[Response, bytes]:
        # Strings and one stat, not pathlib: the same checks at a third of the cost.
        resolved = os.path.realpath(os.path.join(self._root_str, *segments))
        inside = resolved == self._root_str or resolved.startswith(self._root_prefix)
        if not inside and "traversal" not in self.faults:
            return self._error(404, "Not found.")  # a symlink out of the root is as good as absent
        info = _stat(resolved)
        if info is not None and statmod.S_ISDIR(info.st_mode):
            if not raw_path.endswith(b"/"):
                # "301 Moved Permanently ... The new URL must be given by the Location field" -- RFC 1945 9.3
                location = raw_path + b"/"
                return self._redirect(301, location, request)
            index = os.path.join(resolved, "index.html")
            index_info = _stat(index)
            if index_info is not None and statmod.S_ISREG(index_info.st_mode):
                resolved, info = index, index_info
            else:
                return self._ok(200, _listing(Path(resolved), raw_path), b"text/html; charset=utf-8", request=request, mtime=info.st_mtime)
        if info is None or not statmod.S_ISREG(info.st_mode):
            return self._error(404, "Not found.")
        try:
            with open(resolved, "rb") as file:
                body = file.read()
        except OSError:
            return self._error(403, "Not readable.")
        return self._ok(200, body, _content_type(os.path.basename(resolved)), request=request, mtime=info.st_mtime)

    def _ok(self, status: int, body: bytes, ctype: bytes, *, request: Request | None = None, mtime: float | None = None) -> tuple[Response, bytes]:
        fields = [(b"Content-Type", ctype)]
        if mtime is not None:
            modified = datetime.datetime.fromtimestamp(int(mtime), datetime.UTC)
            fields.append((b"Last-Modified", _http_date(int(mtime))))
            since = request.headers.get(b"if-modified-since") if request else None
            if since is not None and "ignores_if_modified_since" not in self.faults and _not_modified_since(since, modified):
                return self._response(304, fields, b"")
        return self._response(status, fields, body)

    def _redirect(self, status: int, location: bytes, request: Request) -> tuple[Response, bytes]:
        # RFC 1945 10.11: Location = "Location" ":" absoluteURI
        host = request.headers.get(b"host") or b"%s:%d" % (self.host.encode(), self.address[1])
        absolute = b"http://" + host + location
        return self._response(status, [(b"Location", absolute), (b"Content-Type", b"text/plain")], b"Moved to " + absolute + b"\n")

    def _error(self, status: int, message: str, *, allow: bool = False) -> tuple[Response, bytes]:
        body = f"<html><body><h1>{status} {REASONS.get(status, b'').decode()}</h1><p>{html.escape(message)}</p></body></html>\n".encode()
        fields = [(b"Content-Type", b"text/html; charset=utf-8")]
        if allow:
            fields.append((b"Allow", b"GET, HEAD" if status == 405 else b"GET, HEAD, POST"))
        return self._response(status, fields, body)

    def _response(self, status: int, fields: list[tuple[bytes, bytes]], body: bytes) -> tuple[Response, bytes]:
        head = [(b"Server", SERVER_NAME)]
        if "no_date" not in self.faults:
            # "An origin server with a clock ... MUST generate a Date header field" -- RFC 9110 6.6.1
            now = datetime.datetime.now(datetime.UTC)
            date = _http_date(int(now.timestamp())) if "date_in_asctime" not in self.faults else _asctime(now).encode()
            head.append((b"Date", date))
        length = len(body) + (1 if "wrong_content_length" in self.faults else 0)
        if status != 304:
            head.append((b"Content-Length", str(length).encode()))
        head.append((b"Connection", b"close"))
        return Response(status, REASONS.get(status, b"Unknown"), b"1.0", head + fields), body


@functools.lru_cache(maxsize=256)
def _http_date(second: int) -> bytes:
    """IMF-fixdate of a whole second: Date changes once a second, Last-Modified once per file."""
    return format_http_date(datetime.datetime.fromtimestamp(second, datetime.UTC)).encode()


@functools.lru_cache(maxsize=256)
def _content_type(name: str) -> bytes:
    return (mimetypes.guess_type(name)[0] or "application/octet-stream").encode()


def _stat(path: str) -> os.stat_result | None:
    """``os.stat``, or None where pathlib's is_dir()/is_file() would say False."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def _not_modified_since(value: bytes, modified: datetime.datetime) -> bool:
    try:
        since, _form = parse_http_date(value)
    except DateError:
        # "A recipient MUST ignore If-Modified-Since if ... the field value is not a valid HTTP-date" -- RFC 9110 13.1.3
        return False
    return modified <= since


def _asctime(moment: datetime.datetime) -> str:
    """The "date_in_asctime" fault: asctime-date, which a sender MUST NOT generate (RFC 9110 5.6.7)."""
    return f"{DAYS[moment.weekday()]} {MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {moment.year}"


def _lenient_content_length(headers) -> int | None:
    """The "ignores_content_length_errors" fault: the leading digits of the first value, else 0."""
    value = headers.get(b"content-length")
    if value is None:
        return None
    digits = re.match(rb"[ \t]*([0-9]+)", value)
    return int(digits[1]) if digits else 0


def _unsafe_segments(path: bytes) -> list[str]:
    """The "traversal" fault: decode and keep dot segments, as a naive server does."""
    return [urllib.parse.unquote(s) for s in path.decode("latin-1").split("/") if s]


def _listing(directory: Path, raw_path: bytes) -> bytes:
    base = raw_path.decode("latin-1")
    items = "".join(
        f'<li><a href="{urllib.parse.quote(base + p.name + ("/" if p.is_dir() else ""))}">{html.escape(p.name)}</a></li>'
        for p in sorted(directory.iterdir())
        if not p.is_symlink()
    )
    return f"<html><body><h1>Index of {html.escape(base)}</h1><ul>{items}</ul></body></html>\n".encode()


class _HttpConnection(asyncio.Protocol):
    """One connection: read one request, answer it, close."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.codec = Connection(SERVER)
        if "ignores_content_length_errors" in server.faults:
            self.codec._content_length = _lenient_content_length  # type: ignore[method-assign]
        self.transport: asyncio.Transport | None = None
        self.request: Request | None = None
        self.body = bytearray()
        self.answered = False
        self.loop = asyncio.get_running_loop()
        # One timer for both limits, re-armed when it fires rather than on every read; and the
        # abort 2 s after the FIN, cancelled as soon as the connection is gone.
        self.timer: asyncio.TimerHandle | None = None
        self.abort_timer: asyncio.TimerHandle | None = None
        self.head_deadline = 0.0
        self.head_received = False
        self.last_data = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server._open) >= self.server.max_connections:
            self._send_bytes(self._error_bytes(503, "Too many connections."))
            return
        self.server._open.add(self.transport)
        now = self.last_data = self.loop.time()
        self.head_deadline = now + self.server.head_timeout
        self.timer = self.loop.call_at(min(self.head_deadline, now + self.server.idle_timeout), self._check_deadlines)

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return  # one request per connection; later octets are never a request
        self.last_data = self.loop.time()
        self.codec.receive_data(data)
        self._drive()

    def eof_received(self) -> bool:
        if self.answered:
            if self.transport is not None:
                self.transport.close()  # the response is out and the client is done
            return False
        self.codec.receive_data(b"")
        self._drive()
        return True  # keep our side open until the response is written

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.timer, self.abort_timer):
            if timer:
                timer.cancel()  # lets go of the transport now, not 2 s later
        if self.transport is not None:
            self.server._open.discard(self.transport)

    def _check_deadlines(self) -> None:
        """The head within ``head_timeout``, no gap over ``idle_timeout``: else 408."""
        self.timer = None
        if self.answered:
            return
        deadline = self.last_data + self.server.idle_timeout
        if not self.head_received:
            deadline = min(deadline, self.head_deadline)
        if self.loop.time() >= deadline - 0.001:
            self._timed_out()
        else:
            self.timer = self.loop.call_at(deadline, self._check_deadlines)

    def _timed_out(self) -> None:
        if not self.answered:
            self._send_bytes(self._error_bytes(408, "The request did not arrive in time."))

    def _drive(self) -> None:
        try:
            while not self.answered:
                event = self.codec.next_event()
                if event is NEED_DATA:
                    return
                if isinstance(event, Request):
                    self.request = event
                    self.head_received = True
                elif isinstance(event, Data):
                    self.body += event.data
                elif isinstance(event, EndOfMessage):
                    assert self.request is not None
                    self._answer(*self.server.respond(self.request, bytes(self.body)))
                elif isinstance(event, ConnectionClosed):
                    self._close()
                    return
        except RemoteProtocolError as exc:
            if self.request is None and "ok_for_malformed" in self.server.faults:
                self._send_bytes(self._ok_bytes())  # no request to _answer: the codec refused its head
                return
            if "space_before_colon_ok" in self.server.faults and "between field name" in str(exc):
                self._send_bytes(self._ok_bytes())
                return
            if "answers_twice" in self.server.faults and "Transfer-Encoding" in str(exc):
                self._send_bytes(self._error_bytes(exc.reply_hint or 400, str(exc)), keep_open=True)
                self._read_next_request(skip=b"0\r\n\r\n")  # the chunked body a naive server reads
                self._drive()
                return
            self._send_bytes(self._error_bytes(exc.reply_hint or 400, str(exc)))

    def _answer(self, response: Response, body: bytes) -> None:
        assert self.request is not None
        if self.request.simple and "full_response_to_simple_request" not in self.server.faults:
            # "If an HTTP/1.0 server receives a Simple-Request, it must respond with an HTTP/0.9
            # Simple-Response." -- RFC 1945 4.1
            response = Response(response.status_code, simple=True, http_version=b"0.9")
        head = self.codec.send(response)
        if "lowercase_status_line" in self.server.faults and head:
            head = head.replace(b"HTTP/1.0", b"http/1.0", 1).replace(response.reason, response.reason.lower(), 1)
        no_body = self.request.method == b"HEAD" or response.status_code in (204, 304)
        payload = b""
        if not no_body:
            payload = self.codec.send(Data(body)) if "wrong_content_length" not in self.server.faults else body
        elif "body_on_head" in self.server.faults:
            payload = body
        if "wrong_content_length" not in self.server.faults:
            self.codec.send(EndOfMessage())
        if "answers_twice" in self.server.faults and self.request.method == b"CONNECT":
            self._send_bytes(head + payload, keep_open=True)
            self._read_next_request()  # the loop in _drive reads on from the fresh codec
            return
        self._send_bytes(head + payload, keep_open="keep_open" in self.server.faults)

    def _ok_bytes(self) -> bytes:
        """The faults that serve a request the codec refused: 200, written by a fresh codec."""
        response, body = self.server._ok(200, b"fine\n", b"text/plain")
        codec = Connection(SERVER)
        return codec.send(response) + codec.send(Data(body))

    def _read_next_request(self, skip: bytes = b"") -> None:
        """The "answers_twice" fault: the octets after a request that must end the connection are read as the next request."""
        rest, eof = self.codec.trailing_data
        self.codec, self.request, self.body, self.answered = Connection(SERVER), None, bytearray(), False
        if rest := rest.removeprefix(skip):
            self.codec.receive_data(rest)
        if eof:
            self.codec.receive_data(b"")  # (an empty receive_data is the EOF)

    def _error_bytes(self, status: int, message: str) -> bytes:
        response, body = self.server._error(status, message)
        if self.request is not None and self.request.simple:
            return body
        codec = Connection(SERVER)  # a fresh writer: ours may be in ERROR after a bad request
        return codec.send(response) + codec.send(Data(body))

    def _send_bytes(self, data: bytes, keep_open: bool = False) -> None:
        self.answered = True
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(data)
        if not keep_open:
            self._close()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            # FIN after the response; a client still sending gets no RST that
            # could destroy the response before it is read (see time/server.py).
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self._linger(None)

    def _linger(self, before: int | None) -> None:
        """Abort 2 s after the response has left; a reader that stalls for ``idle_timeout`` is dropped.

        A fixed 2 s from the write would reset a slow reader mid-body (a 30 MB
        file at 3 MB/s), which then sees fewer octets than Content-Length.
        """
        assert self.transport is not None
        pending = self.transport.get_write_buffer_size()
        if pending == 0:
            self.abort_timer = self.loop.call_later(LINGER, self.transport.abort)
        elif before is not None and pending >= before:
            self.transport.abort()  # no progress for idle_timeout: a peer that does not read
        else:
            self.abort_timer = self.loop.call_later(self.server.idle_timeout, self._linger, pending)
