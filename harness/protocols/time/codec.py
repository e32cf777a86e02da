"""RFC 868 Time protocol, sans-I/O.

Theory of operation.  Over TCP the server sends one 32-bit big-endian number
and closes; the client sends nothing.  Over UDP any arriving datagram is
answered with one 4-byte datagram.  :class:`Connection` is the TCP codec in
h11's shape (``receive_data`` / ``next_event`` / ``send``); UDP has no stream
state, so :func:`encode_datagram` / :func:`decode_datagram` serve it.

The value, as scapy's NTP layer draws it::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |        seconds since 1900-01-01T00:00:00Z, modulo 2**32       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The 2036 wrap.  "this base will serve until the year 2036": 2**32 seconds
after 1900 is 2036-02-07T06:28:16Z, where the value wraps to 0.  To read a
value we use the pivot of RFC 4330 section 3 (SNTP, same 1900 epoch): a value
with the top bit set lies in 1968-01-20T03:14:08Z .. 2036-02-07T06:28:15Z, a
value with the top bit clear lies in 2036-02-07T06:28:16Z .. 2104-02-26.
Writing is plain modulo 2**32, so it is right on both sides of the wrap.

This module imports neither ``socket`` nor ``asyncio`` (a test checks).
"""

from __future__ import annotations

import datetime
import struct
from dataclasses import dataclass

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.sentinel import Sentinel

__all__ = [
    "CLIENT",
    "CLOSED",
    "EPOCH_OFFSET",
    "ERROR",
    "NEED_DATA",
    "SERVER",
    "WRAP",
    "Connection",
    "ConnectionClosed",
    "TimeValue",
    "decode_datagram",
    "encode_datagram",
    "from_datetime",
    "from_unix",
    "to_datetime",
    "to_unix",
]

EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01 (RFC 868 "The Time")
WIRE_SIZE = 4  # "a 32 bit binary number" (RFC 868 tcp/3, udp/4)
WRAP = 1 << 32  # the value space; 1900 + 2**32 s = 2036-02-07T06:28:16Z
PIVOT = 1 << 31  # top bit set: era 0 (1968..2036); clear: era 1 (2036..2104)
_STRUCT = struct.Struct(">I")  # network byte order: most significant octet first


class CLIENT(Sentinel): ...


class SERVER(Sentinel): ...


# States, in the words of RFC 868's TCP exchange.
class SEND_TIME(Sentinel): ...  # "S: Send the time as a 32 bit binary number."


class CLOSE(Sentinel): ...  # "S: Close the connection." / "U: Close the connection."


class CLOSED(Sentinel): ...


class ERROR(Sentinel): ...


class NEED_DATA(Sentinel): ...


@dataclass(frozen=True)
class TimeValue:
    """The 32-bit time value: seconds since 1900-01-01T00:00Z, modulo 2**32."""

    seconds: int

    def __post_init__(self) -> None:
        # "the time as a 32 bit binary number" -- rfc868/tcp/3, rfc868/udp/4
        if not isinstance(self.seconds, int) or not 0 <= self.seconds < WRAP:
            raise LocalProtocolError(f"time value {self.seconds!r} does not fit in 32 bits", requirement="rfc868/tcp/3")


@dataclass(frozen=True)
class ConnectionClosed:
    """The server closed the TCP connection; ``sent_time`` says whether a value came first."""

    sent_time: bool


# The whole TCP state machine.  It does not know which side we are: the
# server's SEND_TIME is left by sending a TimeValue, the client's by receiving
# one, and in both cases the next state is CLOSE, then CLOSED on the close.
TRANSITIONS: dict[type, dict[type, type]] = {
    SEND_TIME: {TimeValue: CLOSE, ConnectionClosed: CLOSED},
    CLOSE: {ConnectionClosed: CLOSED},
}


class Connection:
    """One RFC 868 TCP exchange seen from ``our_role``."""

    def __init__(self, our_role: type[Sentinel]) -> None:
        if our_role not in (CLIENT, SERVER):
            raise ValueError(f"role must be CLIENT or SERVER, not {our_role!r}")
        self.our_role = our_role
        self.state: type[Sentinel] = SEND_TIME
        self._buffer = bytearray()
        self._eof = False

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed."""
        if self._eof and data:
            raise RemoteProtocolError("data after the connection closed")
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self) -> TimeValue | ConnectionClosed | type[NEED_DATA]:
        if self.state is ERROR:
            raise RemoteProtocolError("can't receive data when the connection is in ERROR")
        try:
            event = self._read()
        except RemoteProtocolError:
            self.state = ERROR
            raise
        if event is not NEED_DATA:
            self._transition(event)
        return event

    def send(self, event: TimeValue | ConnectionClosed) -> bytes:
        if self.our_role is not SERVER:
            raise LocalProtocolError("an RFC 868 client sends nothing (RFC 868: the exchange is S: send, U: receive)")
        self._transition(event)
        return encode_datagram(event) if isinstance(event, TimeValue) else b""

    def _read(self) -> TimeValue | ConnectionClosed | type[NEED_DATA]:
        if self.our_role is SERVER:
            # The server does not read: it answers the connection, not data
            # ("When the connection is established, the server returns ...").
            # Whatever the client sends is dropped.
            self._buffer.clear()
            return ConnectionClosed(sent_time=self.state is CLOSE) if self._eof else NEED_DATA
        if self.state is SEND_TIME:
            if len(self._buffer) >= WIRE_SIZE:
                value = TimeValue(_STRUCT.unpack_from(self._buffer)[0])
                del self._buffer[:WIRE_SIZE]
                return value
            if self._eof:
                if self._buffer:
                    raise RemoteProtocolError(
                        f"server closed after {len(self._buffer)} of 4 octets of the time value", requirement="rfc868/tcp/3"
                    )
                return ConnectionClosed(sent_time=False)
            return NEED_DATA
        if self.state is CLOSE:
            if self._buffer:
                extra = len(self._buffer)
                raise RemoteProtocolError(
                    f"server sent {extra} octet(s) after the 32-bit time value (a 32 bit number is 4 octets)",
                    requirement="rfc868/tcp/3",
                )
            return ConnectionClosed(sent_time=True) if self._eof else NEED_DATA
        raise LocalProtocolError(f"nothing to read in state {self.state.__name__}: the exchange is over")

    def _transition(self, event: object) -> None:
        try:
            self.state = TRANSITIONS[self.state][type(event)]
        except KeyError:
            raise LocalProtocolError(f"can't handle {type(event).__name__} in state {self.state.__name__}") from None


def encode_datagram(value: TimeValue) -> bytes:
    """The 4 octets of a value, most significant first (TCP payload or UDP datagram)."""
    return _STRUCT.pack(value.seconds)


def decode_datagram(data: bytes) -> TimeValue:
    """A UDP answer: exactly one 32-bit value ("a datagram containing the time")."""
    if len(data) != WIRE_SIZE:
        raise RemoteProtocolError(f"time datagram has {len(data)} octets, not 4", requirement="rfc868/udp/4")
    return TimeValue(_STRUCT.unpack(data)[0])


def from_unix(unix_seconds: float) -> TimeValue:
    """The value a server sends at a POSIX time; modulo 2**32, right across the 2036 wrap."""
    return TimeValue(int(unix_seconds + EPOCH_OFFSET) % WRAP)


def to_unix(value: TimeValue) -> int:
    """POSIX seconds of a value, by the RFC 4330 pivot (see the module docstring)."""
    era = 0 if value.seconds >= PIVOT else 1
    return value.seconds + era * WRAP - EPOCH_OFFSET


def to_datetime(value: TimeValue) -> datetime.datetime:
    return datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=to_unix(value))


def from_datetime(moment: datetime.datetime) -> TimeValue:
    return from_unix(moment.timestamp())
