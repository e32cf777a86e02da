"""The reference RFC 868 server, TCP and UDP, on asyncio.

It does what the RFC's exchange says and nothing more: on a TCP connection it
sends the 4-octet value and closes, without reading; to any datagram it
answers one 4-octet datagram.  When its clock cannot say the time (the
``clock`` returns ``None``) it follows the RFC's SHOULDs: close without
sending (TCP), no reply (UDP).

Bounds: the server discards TCP data, so a client cannot fill a buffer; a
peer that does not close after our FIN is cut off after ``linger_timeout``; at
most ``max_connections`` are open at once (more are closed at once, which the
RFC allows a server that cannot serve: "refuse the connection").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from postel.protocols.time.codec import SERVER, Connection, TimeValue, encode_datagram, from_unix

__all__ = ["TimeServer"]

Clock = Callable[[], float | None]


@dataclass
class TimeServer:
    host: str = "127.0.0.1"
    tcp_port: int = 0
    udp_port: int | None = 0  # None: no UDP service
    clock: Clock = time.time
    linger_timeout: float = 2.0  # how long a client may keep its side open after our FIN
    max_connections: int = 1024

    def __post_init__(self) -> None:
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._open: set[asyncio.Transport] = set()

    @property
    def tcp_address(self) -> tuple[str, int]:
        assert self._tcp is not None, "server not started"
        return self._tcp.sockets[0].getsockname()[:2]

    @property
    def udp_address(self) -> tuple[str, int] | None:
        return self._udp.get_extra_info("sockname")[:2] if self._udp else None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tcp = await loop.create_server(lambda: _TcpTime(self), self.host, self.tcp_port, reuse_address=True)
        if self.udp_port is not None:
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpTime(self), local_addr=(self.host, self.udp_port))

    async def close(self) -> None:
        if self._tcp:
            self._tcp.close()
            for transport in list(self._open):
                transport.abort()
            await self._tcp.wait_closed()
        if self._udp:
            self._udp.close()

    def current_value(self) -> TimeValue | None:
        now = self.clock()
        return None if now is None else from_unix(now)


class _TcpTime(asyncio.Protocol):
    def __init__(self, server: TimeServer) -> None:
        self.server = server
        self.codec = Connection(SERVER)
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have write_eof and abort.
        self.transport = transport  # type: ignore[assignment]
        if len(self.server._open) >= self.server.max_connections:
            transport.abort()
            return
        self.server._open.add(transport)
        value = self.server.current_value()
        if value is not None:
            # "When the connection is established, the server returns a 32-bit
            # time value and closes the connection." -- rfc868/tcp/8
            transport.write(self.codec.send(value))
        # Close our side with a FIN (write_eof), not close(): closing a socket
        # with unread client data makes the kernel send a RST, which can
        # destroy the 4 octets before the client reads them.  Whatever the
        # client sends meanwhile is discarded; it gets linger_timeout to close
        # its side, then the connection is aborted so it cannot hold a slot.
        if transport.is_closing():
            return
        try:
            transport.write_eof()
        except OSError:  # the client already left (connect-and-close probes do)
            transport.abort()
            return
        self.timer = asyncio.get_running_loop().call_later(self.server.linger_timeout, transport.abort)

    def data_received(self, data: bytes) -> None:
        pass  # the RFC's server reads nothing; junk from the client is discarded

    def eof_received(self) -> bool:
        if self.transport is not None:
            self.transport.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer:
            self.timer.cancel()
        if self.transport:
            self.server._open.discard(self.transport)


class _UdpTime(asyncio.DatagramProtocol):
    def __init__(self, server: TimeServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        value = self.server.current_value()
        if value is not None and self.transport is not None:
            # "When a datagram arrives, the server returns a datagram containing
            # the 32-bit time value." -- rfc868/udp/7
            self.transport.sendto(encode_datagram(value), addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors for earlier replies: nothing to answer

