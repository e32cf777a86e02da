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
import hashlib
import html
import mimetypes
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from postel import __version__
from postel.protocols.errors import RemoteProtocolError
from postel.protocols.http.codec import NEED_DATA, SERVER, Connection
from postel.protocols.http.dates import DateError, format_http_date, parse_http_date
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
        candidate = self.root.joinpath(*segments) if segments else self.root
        resolved = Path(os.path.realpath(candidate))
        inside = resolved == self.root or self.root in resolved.parents
        if not inside and "traversal" not in self.faults:
            return self._error(404, "Not found.")  # a symlink out of the root is as good as absent
        if resolved.is_dir():
            if not raw_path.endswith(b"/"):
                # "301 Moved Permanently ... The new URL must be given by the Location field" -- RFC 1945 9.3
                location = raw_path + b"/"
                return self._redirect(301, location, request)
            index = resolved / "index.html"
            if index.is_file():
                resolved = index
            else:
                return self._ok(200, _listing(resolved, raw_path), b"text/html; charset=utf-8", request=request, mtime=resolved.stat().st_mtime)
        if not resolved.is_file():
            return self._error(404, "Not found.")
        try:
            stat = resolved.stat()
            body = resolved.read_bytes()
        except OSError:
            return self._error(403, "Not readable.")
        ctype = (mimetypes.guess_type(resolved.name)[0] or "application/octet-stream").encode()
        return self._ok(200, body, ctype, request=request, mtime=stat.st_mtime)

    def _ok(self, status: int, body: bytes, ctype: bytes, *, request: Request | None = None, mtime: float | None = None) -> tuple[Response, bytes]:
        fields = [(b"Content-Type", ctype)]
        if mtime is not None:
            modified = datetime.datetime.fromtimestamp(int(mtime), datetime.UTC)
            fields.append((b"Last-Modified", format_http_date(modified).encode()))
            since = request.headers.get(b"if-modified-since") if request else None
            if since is not None and _not_modified_since(since, modified):
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
            head.append((b"Date", format_http_date(datetime.datetime.now(datetime.UTC)).encode()))
        length = len(body) + (1 if "wrong_content_length" in self.faults else 0)
        if status != 304:
            head.append((b"Content-Length", str(length).encode()))
        head.append((b"Connection", b"close"))
        return Response(status, REASONS.get(status, b"Unknown"), b"1.0", head + fields), body


def _not_modified_since(value: bytes, modified: datetime.datetime) -> bool:
    try:
        since, _form = parse_http_date(value)
    except DateError:
        # "A recipient MUST ignore If-Modified-Since if ... the field value is not a valid HTTP-date" -- RFC 9110 13.1.3
        return False
    return modified <= since


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
        self.transport: asyncio.Transport | None = None
        self.request: Request | None = None
        self.body = bytearray()
        self.answered = False
        self.loop = asyncio.get_running_loop()
        self.head_timer: asyncio.TimerHandle | None = None
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if len(self.server._open) >= self.server.max_connections:
            self._send_bytes(self._error_bytes(503, "Too many connections."))
            return
        self.server._open.add(self.transport)
        self.head_timer = self.loop.call_later(self.server.head_timeout, self._timed_out)
        self._touch()

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return  # one request per connection; later octets are never a request
        self._touch()
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
        for timer in (self.head_timer, self.idle_timer):
            if timer:
                timer.cancel()
        if self.transport is not None:
            self.server._open.discard(self.transport)

    def _touch(self) -> None:
        if self.idle_timer:
            self.idle_timer.cancel()
        self.idle_timer = self.loop.call_later(self.server.idle_timeout, self._timed_out)

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
                    if self.head_timer:
                        self.head_timer.cancel()
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
                self._answer(*self.server._ok(200, b"fine\n", b"text/plain"))
                return
            if "space_before_colon_ok" in self.server.faults and "between field name" in str(exc):
                self._answer(*self.server._ok(200, b"fine\n", b"text/plain"))
                return
            self._send_bytes(self._error_bytes(exc.reply_hint or 400, str(exc)))

    def _answer(self, response: Response, body: bytes) -> None:
        assert self.request is not None
        if self.request.simple:
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
        self._send_bytes(head + payload, keep_open="keep_open" in self.server.faults)

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
            self.loop.call_later(2.0, self.transport.abort)
