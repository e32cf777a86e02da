"""The reference HTTP/1.0 client: strict, and it says what the server did wrong.

A rule the codec can judge (status-line grammar, Content-Length framing,
octets after the response) raises :class:`RemoteProtocolError` with the
requirement.  Things that are wrong by one RFC and allowed by another, such as
a relative Location (RFC 1945 10.11 wants an absoluteURI; RFC 9110 10.2.2
allows a relative reference), are recorded in ``deviations`` and followed.
"""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.http.codec import CLIENT, NEED_DATA, Connection
from postel.protocols.http.events import ConnectionClosed, Data, EndOfMessage, Request, Response
from postel.protocols.http.state import DONE
from postel.wire import Deadline, LimitExceeded, TcpConnection, Transcript, WireClosed, WireReset, WireTimeout

__all__ = ["Deviation", "Exchange", "exchange", "follow", "send_raw"]

MAX_RESPONSE = 8 << 20  # octets kept of one response
# RFC 9112 sets no limit on a status-line or a response's header section; the
# client's limits are the harness's, far above what a server sends, so a long
# reason phrase (some servers echo the request into it) is not a violation.
MAX_STATUS_LINE = 64 << 10
MAX_RESPONSE_HEAD = 1 << 20


@dataclass(frozen=True)
class Deviation:
    requirement: str
    message: str


@dataclass
class Exchange:
    """One request and what came back, as the strict client saw it."""

    request: Request | None
    response: Response | None = None
    body: bytes = b""
    closed: bool = False  # the server closed after the response
    timed_out: bool = False  # the deadline passed before the server closed
    raw: bytes = b""  # every octet the server sent
    elapsed: float = 0.0
    deviations: list[Deviation] = field(default_factory=list)
    send_failed: str = ""  # the server closed or reset before the request was all sent


def exchange(
    address: tuple[str, int],
    transcript: Transcript,
    request: Request,
    body: bytes = b"",
    *,
    timeout: float = 5.0,
) -> Exchange:
    """Send one well-formed request through the codec and read the response until close."""
    codec = _client_codec()
    wire = codec.send(request)
    if body:
        wire += codec.send(Data(body))
    wire += codec.send(EndOfMessage())
    return _run(address, transcript, wire, codec, request, timeout)


def send_raw(address: tuple[str, int], transcript: Transcript, raw: bytes, *, method: bytes = b"GET", timeout: float = 5.0, half_close: bool = False) -> Exchange:
    """Send octets as they are (malformed on purpose) and read the response strictly.

    ``method`` tells the reader whether a body may follow (HEAD: none).
    """
    codec = _client_codec()
    codec.request = Request(method=method, target=b"/")  # framing of the response depends on it
    codec.states[CLIENT] = DONE  # what we sent is ours to judge, not the codec's
    return _run(address, transcript, raw, codec, None, timeout, half_close=half_close)


def _client_codec() -> Connection:
    return Connection(CLIENT, max_request_line=MAX_STATUS_LINE, max_header_section=MAX_RESPONSE_HEAD)


def _run(address, transcript, wire: bytes, codec: Connection, request: Request | None, timeout: float, half_close: bool = False) -> Exchange:
    started = time.monotonic()
    result = Exchange(request)
    body = bytearray()
    with TcpConnection.connect(address, transcript, timeout) as conn:
        try:
            conn.send(wire)
            if half_close:
                conn.shutdown_write()
        except (WireReset, WireClosed) as exc:
            # A server may answer an oversized request before it is all sent, then
            # close: its response is still in our receive queue, so read it.
            result.send_failed = str(exc)
        deadline = Deadline(timeout)
        while True:
            try:
                data = conn.recv_some(deadline, 65536)
            except WireTimeout:
                result.timed_out = True
                break
            except WireReset:
                if result.send_failed and result.raw:
                    result.closed = True  # reset after an early answer: the answer stands
                    break
                raise
            result.raw += data
            if len(result.raw) > MAX_RESPONSE:
                raise LimitExceeded(f"response longer than {MAX_RESPONSE} octets")
            codec.receive_data(data)
            done = False
            while (event := codec.next_event()) is not NEED_DATA:
                if isinstance(event, Response):
                    result.response = event
                elif isinstance(event, Data):
                    body += event.data
                elif isinstance(event, ConnectionClosed):
                    result.closed = True
                    done = True
                    break
            if done or not data:
                break
    result.body = bytes(body)
    result.elapsed = time.monotonic() - started
    return result


def follow(
    address: tuple[str, int],
    transcript_for,
    request: Request,
    *,
    timeout: float = 5.0,
    max_redirects: int = 5,
) -> list[Exchange]:
    """GET with redirects followed (301, 302), each hop an :class:`Exchange`.

    ``transcript_for(label)`` makes a transcript per hop.  Only hops to the
    same host and port are followed: the harness talks to its target only.
    """
    hops: list[Exchange] = []
    current = request
    for hop in range(max_redirects + 1):
        result = exchange(address, transcript_for(f"hop {hop}"), current, timeout=timeout)
        hops.append(result)
        response = result.response
        if response is None or response.status_code not in (301, 302):
            return hops
        location = response.headers.get(b"location")
        if location is None:
            raise RemoteProtocolError(
                f"{response.status_code} without a Location field",
                requirement="rfc1945/9.3/1" if response.status_code == 301 else "rfc1945/9.3/3",
            )
        parsed = urllib.parse.urlsplit(location.decode("latin-1"))
        if not parsed.scheme:
            # RFC 1945 10.11 "Location = "Location" ":" absoluteURI"; RFC 9110 10.2.2 allows a relative
            # reference, resolved against the target URI: follow it, but say so.
            result.deviations.append(Deviation("rfc1945/10.11/2", f"relative Location {location!r}"))
        base = f"http://{address[0]}:{address[1]}{current.target.decode('latin-1')}"
        absolute = urllib.parse.urljoin(base, location.decode("latin-1"))
        target = urllib.parse.urlsplit(absolute)
        if (target.hostname, target.port or 80) not in ((address[0], address[1]), ("localhost", address[1])):
            return hops  # off-target: the harness does not follow
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        current = Request(b"GET", path.encode("latin-1"), current.http_version, current.headers)
    return hops
