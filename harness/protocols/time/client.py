"""The reference RFC 868 client: strict, and it reports what it saw instead of guessing.

A deviation the codec can name (a value that is not 4 octets) raises
:class:`~postel.protocols.errors.RemoteProtocolError` with the requirement; a
server that stays silent or never closes is *observed* (``timed_out``,
``closed``) and left to the check to judge, because whether silence breaks a
requirement depends on which requirement the check is about.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from postel.protocols.time.codec import CLIENT, NEED_DATA, Connection, ConnectionClosed, TimeValue, decode_datagram
from postel.wire import Deadline, TcpConnection, Transcript, UdpEndpoint, WireReset, WireTimeout

__all__ = ["TcpAnswer", "UdpAnswer", "burst_udp", "query_tcp", "query_udp"]


@dataclass(frozen=True)
class TcpAnswer:
    value: TimeValue | None  # None: nothing (or not all 4 octets) arrived
    closed: bool  # the server closed within the deadline
    timed_out: bool  # the deadline passed first
    received_at: float | None  # wall-clock time when the value arrived
    elapsed: float  # seconds from connect to the last event
    reset: bool = False  # the close was a TCP reset (after a complete value: still a close)


@dataclass(frozen=True)
class UdpAnswer:
    datagrams: list[bytes] = field(default_factory=list)
    sent: int = 0  # how many request datagrams went out (retries on loss)
    received_at: float | None = None

    @property
    def value(self) -> TimeValue | None:
        """The first answer, decoded strictly (not 4 octets raises RemoteProtocolError)."""
        return decode_datagram(self.datagrams[0]) if self.datagrams else None


def query_tcp(
    address: tuple[str, int],
    transcript: Transcript,
    *,
    timeout: float = 5.0,
    send: bytes = b"",
    half_close: bool = False,
) -> TcpAnswer:
    """Connect, optionally send ``send`` and half-close, then read until the server closes."""
    started = time.monotonic()
    codec = Connection(CLIENT)
    value: TimeValue | None = None
    received_at = None
    with TcpConnection.connect(address, transcript, timeout) as conn:
        if send:
            conn.send(send)
        if half_close:
            conn.shutdown_write()
        deadline = Deadline(timeout)
        while True:
            try:
                data = conn.recv_some(deadline, 64)
            except WireTimeout:
                return TcpAnswer(value, closed=False, timed_out=True, received_at=received_at, elapsed=time.monotonic() - started)
            except WireReset:
                # A server that closes with the client's junk unread makes its TCP send a RST
                # (RFC 1122 4.2.2.13).  After the 4 octets that is still "closes the connection";
                # before them the value is lost, which the caller cannot judge.
                if value is None:
                    raise
                return TcpAnswer(value, closed=True, timed_out=False, received_at=received_at, elapsed=time.monotonic() - started, reset=True)
            codec.receive_data(data)
            while (event := codec.next_event()) is not NEED_DATA:
                if isinstance(event, TimeValue):
                    value, received_at = event, time.time()
                elif isinstance(event, ConnectionClosed):
                    return TcpAnswer(value, closed=True, timed_out=False, received_at=received_at, elapsed=time.monotonic() - started)


def query_udp(
    address: tuple[str, int],
    transcript: Transcript,
    *,
    timeout: float = 2.0,
    payload: bytes = b"",
    attempts: int = 3,
    linger: float = 0.0,
) -> UdpAnswer:
    """Send ``payload`` (the RFC's empty datagram by default) until an answer comes.

    After the first answer, listen ``linger`` more seconds for extra datagrams;
    they count only when a single request went out (so a retry's answer is
    never mistaken for a duplicate).
    """
    with UdpEndpoint(address, transcript, timeout) as endpoint:
        for sent in range(1, attempts + 1):
            endpoint.send(payload)
            try:
                first = endpoint.receive(timeout / attempts)
            except WireTimeout:
                continue
            received_at = time.time()
            datagrams = [first]
            lingering = Deadline(linger) if linger > 0 else None
            while lingering is not None:
                try:
                    datagrams.append(endpoint.receive(lingering.remaining()))
                except WireTimeout:
                    break
            return UdpAnswer(datagrams if sent == 1 else datagrams[:1], sent=sent, received_at=received_at)
        return UdpAnswer([], sent=attempts)


def burst_udp(address: tuple[str, int], transcript: Transcript, *, count: int, timeout: float = 2.0) -> list[bytes]:
    """Send ``count`` empty datagrams back to back from one socket; return the answers that came."""
    answers: list[bytes] = []
    with UdpEndpoint(address, transcript, timeout) as endpoint:
        for _ in range(count):
            endpoint.send(b"")
        deadline = Deadline(timeout)
        while len(answers) < count:
            try:
                answers.append(endpoint.receive(deadline.remaining()))
            except WireTimeout:
                break
    return answers
