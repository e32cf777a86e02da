"""The wire: every byte a check sends or receives goes through here.

Why one module: so that every connect, read and write has a deadline, every
read has a size limit, and every byte lands in a :class:`Transcript`.  A peer
that accepts and never answers, answers forever, or resets cannot hang a run:
it raises a :class:`WireError` subclass within the deadline, which the plugin
turns into ``inconclusive`` unless a check has already decided ``fail``.

The connections are blocking sockets with per-operation timeouts computed
from one overall deadline; suites are plain (synchronous) pytest tests.
"""

from __future__ import annotations

import errno
import select
import socket
import string
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "Deadline",
    "LimitExceeded",
    "TcpConnection",
    "Transcript",
    "UdpEndpoint",
    "WireClosed",
    "WireError",
    "WireReset",
    "WireTimeout",
    "WireUnreachable",
]

DEFAULT_TIMEOUT = 5.0  # seconds for one operation against a live server
MAX_READ = 1 << 20  # no single read_until_close keeps more than 1 MiB


class WireError(Exception):
    """The connection did not behave well enough to decide anything."""


class WireTimeout(WireError):
    """A deadline passed with the operation unfinished."""


class WireClosed(WireError):
    """The peer closed the connection before the data a check needed."""


class WireReset(WireError):
    """The peer reset the connection."""


class WireUnreachable(WireError):
    """Could not connect at all: refused, no route, name not found."""


class LimitExceeded(WireError):
    """The peer sent more than the limit for one read (a line, a reply, a body)."""


class Deadline:
    """One point in time that several socket operations share."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0:
            raise WireTimeout(f"deadline of {self.seconds:g}s passed")
        return left


# ---------------------------------------------------------------- transcript

_PRINTABLE = set(bytes(string.printable, "ascii")) - set(b"\r\n\t\x0b\x0c")


@dataclass
class Transcript:
    """Timestamped C:/S: bytes of one connection (or UDP exchange).

    ``C`` is what the harness (the client) sent, ``S`` what the server sent,
    ``*`` an event (connect, close, reset, timeout).  Secrets registered with
    :meth:`redact` are replaced before anything is stored.
    """

    label: str
    peer: tuple[str, int] | None = None
    local: tuple[str, int] | None = None
    transport: str = "tcp"
    entries: list[tuple[float, str, bytes]] = field(default_factory=list)
    secrets: tuple[bytes, ...] = ()
    started: float = field(default_factory=time.time)

    def redact(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(s.encode() for s in secrets if s)

    def record(self, direction: str, data: bytes) -> None:
        for secret in self.secrets:
            data = data.replace(secret, b"***")
        self.entries.append((time.time() - self.started, direction, data))

    def event(self, text: str) -> None:
        self.record("*", text.encode())

    def sent(self) -> bytes:
        return b"".join(d for _, who, d in self.entries if who == "C")

    def received(self) -> bytes:
        return b"".join(d for _, who, d in self.entries if who == "S")

    def render(self, limit: int = 60) -> str:
        """Human-readable lines; the last ``limit`` lines when longer."""
        lines = [f"# {self.label} ({self.transport} {_addr(self.local)} -> {_addr(self.peer)})"]
        for t, who, data in self.entries:
            if who == "*":
                lines.append(f"{t:8.3f} *  {data.decode(errors='replace')}")
            else:
                lines.extend(f"{t:8.3f} {who}: {chunk}" for chunk in _printable_lines(data))
        if len(lines) > limit + 1:
            lines = [lines[0], f"         ... {len(lines) - limit - 1} earlier lines omitted", *lines[-limit:]]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "transport": self.transport,
            "peer": _addr(self.peer),
            "local": _addr(self.local),
            "started": self.started,
            "entries": [{"t": round(t, 6), "dir": who, "hex": data.hex(), "text": _escape(data)} for t, who, data in self.entries],
        }


def _addr(addr: tuple[str, int] | None) -> str:
    return f"{addr[0]}:{addr[1]}" if addr else "?"


def _escape(data: bytes) -> str:
    """Printable ASCII as is, CR/LF/TAB as escapes, everything else as \\xNN."""
    out = []
    for b in data:
        if b in _PRINTABLE:
            out.append(chr(b))
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _printable_lines(data: bytes) -> Iterator[str]:
    """Split at LF so a multi-line reply reads as lines; binary shows as hex too."""
    if not data:
        yield "(0 bytes)"
        return
    binary = any(b not in _PRINTABLE and b not in (0x0D, 0x0A, 0x09) for b in data)
    for piece in data.splitlines(keepends=True):
        text = _escape(piece)
        yield f"{text}    [{piece.hex(' ')}]" if binary else text


# ---------------------------------------------------------------- TCP


class TcpConnection:
    """A client TCP connection whose every operation has a deadline and a limit."""

    def __init__(self, sock: socket.socket, transcript: Transcript, timeout: float) -> None:
        self._sock = sock
        self.transcript = transcript
        self.timeout = timeout
        self._buffer = b""
        self.eof = False

    @classmethod
    def connect(cls, address: tuple[str, int], transcript: Transcript, timeout: float = DEFAULT_TIMEOUT) -> TcpConnection:
        try:
            sock = socket.create_connection(address, timeout=timeout)
        except TimeoutError:
            transcript.event(f"connect to {_addr(address)} timed out after {timeout:g}s")
            raise WireTimeout(f"connect to {_addr(address)} timed out after {timeout:g}s") from None
        except OSError as exc:
            transcript.event(f"connect to {_addr(address)} failed: {exc.strerror or exc}")
            raise WireUnreachable(f"cannot connect to {_addr(address)}: {exc.strerror or exc}") from None
        transcript.peer, transcript.local = sock.getpeername()[:2], sock.getsockname()[:2]
        transcript.event("connected")
        return cls(sock, transcript, timeout)

    def __enter__(self) -> TcpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.transcript.record("C", data)
        deadline = Deadline(self.timeout)
        try:
            self._sock.settimeout(deadline.remaining())
            self._sock.sendall(data)
        except TimeoutError:
            raise self._failed(WireTimeout(f"send of {len(data)} bytes did not finish in {self.timeout:g}s")) from None
        except OSError as exc:
            raise self._os_error(exc) from None

    def shutdown_write(self) -> None:
        """Half-close: tell the server we will send nothing more."""
        self.transcript.event("client half-closed (SHUT_WR)")
        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise self._os_error(exc) from None

    def recv_some(self, deadline: Deadline, max_bytes: int = 65536) -> bytes:
        """One read: buffered bytes first; ``b""`` means the peer closed."""
        if self._buffer:
            data, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
            return data
        if self.eof:
            return b""
        try:
            self._sock.settimeout(deadline.remaining())
            data = self._sock.recv(max_bytes)
        except TimeoutError:
            raise self._failed(WireTimeout(f"no data within {deadline.seconds:g}s")) from None
        except OSError as exc:
            raise self._os_error(exc) from None
        if data:
            self.transcript.record("S", data)
        else:
            self.eof = True
            self.transcript.event("server closed the connection")
        return data

    def poll(self, wait: float) -> bytes | None:
        """What the server sent within ``wait`` seconds: ``None`` for nothing yet, ``b""`` once it closed."""
        if self._buffer or self.eof:
            return self.recv_some(Deadline(wait))
        ready, _, _ = select.select([self._sock], [], [], wait)
        if not ready:
            return None
        return self.recv_some(Deadline(wait))

    def read_until_close(self, limit: int = MAX_READ, timeout: float | None = None) -> bytes:
        """Everything until the server closes; more than ``limit`` bytes raises :class:`LimitExceeded`."""
        deadline = Deadline(timeout or self.timeout)
        chunks, total = [], 0
        while True:
            data = self.recv_some(deadline, min(65536, limit + 1 - total))
            if not data:
                return b"".join(chunks)
            chunks.append(data)
            total += len(data)
            if total > limit:
                self._buffer = b"".join(chunks)
                raise self._failed(LimitExceeded(f"server sent more than {limit} bytes without closing"))

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        deadline = Deadline(timeout or self.timeout)
        data = b""
        while len(data) < n:
            chunk = self.recv_some(deadline, n - len(data))
            if not chunk:
                raise WireClosed(f"server closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def read_line(self, limit: int, timeout: float | None = None, terminator: bytes = b"\n") -> bytes:
        """One line including its terminator; a longer line raises :class:`LimitExceeded`."""
        deadline = Deadline(timeout or self.timeout)
        while True:
            end = self._buffer.find(terminator)
            if end >= 0:
                if end + len(terminator) > limit:
                    raise self._failed(LimitExceeded(f"line longer than {limit} bytes"))
                line, self._buffer = self._buffer[: end + len(terminator)], self._buffer[end + len(terminator) :]
                return line
            if len(self._buffer) > limit:
                raise self._failed(LimitExceeded(f"no line end within {limit} bytes"))
            if self.eof:
                raise WireClosed(f"server closed in the middle of a line ({len(self._buffer)} bytes)")
            try:
                self._sock.settimeout(deadline.remaining())
                data = self._sock.recv(65536)
            except TimeoutError:
                raise self._failed(WireTimeout(f"no complete line within {deadline.seconds:g}s")) from None
            except OSError as exc:
                raise self._os_error(exc) from None
            if data:
                self.transcript.record("S", data)
                self._buffer += data
            else:
                self.eof = True
                self.transcript.event("server closed the connection")

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._sock.close()
            self.transcript.event("client closed")

    def _failed(self, exc: WireError) -> WireError:
        self.transcript.event(str(exc))
        return exc

    def _os_error(self, exc: OSError) -> WireError:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            return self._failed(WireReset(f"connection reset by peer ({errno.errorcode.get(exc.errno, exc.errno)})"))
        return self._failed(WireError(f"socket error: {exc.strerror or exc}"))


# ---------------------------------------------------------------- UDP


class UdpEndpoint:
    """A connected UDP socket: datagrams from anyone but the target are ignored by the kernel."""

    def __init__(self, address: tuple[str, int], transcript: Transcript, timeout: float = DEFAULT_TIMEOUT) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        self.transcript = transcript
        self.timeout = timeout
        transcript.transport = "udp"
        try:
            self._sock.connect(address)
        except OSError as exc:
            self._sock.close()
            raise WireUnreachable(f"cannot reach {_addr(address)}: {exc.strerror or exc}") from None
        transcript.peer, transcript.local = self._sock.getpeername()[:2], self._sock.getsockname()[:2]

    def __enter__(self) -> UdpEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, datagram: bytes) -> None:
        self.transcript.record("C", datagram)
        try:
            self._sock.send(datagram)
        except OSError as exc:
            raise self._os_error(exc) from None

    def receive(self, timeout: float | None = None, max_bytes: int = 65535) -> bytes:
        """One datagram; :class:`WireTimeout` if none arrives in time."""
        deadline = Deadline(timeout or self.timeout)
        try:
            self._sock.settimeout(deadline.remaining())
            data = self._sock.recv(max_bytes)
        except TimeoutError:
            self.transcript.event(f"no datagram within {deadline.seconds:g}s")
            raise WireTimeout(f"no datagram within {deadline.seconds:g}s") from None
        except OSError as exc:
            raise self._os_error(exc) from None
        self.transcript.record("S", data)
        return data

    def close(self) -> None:
        self._sock.close()

    def _os_error(self, exc: OSError) -> WireError:
        # On a connected UDP socket, an ICMP port unreachable comes back as ECONNREFUSED.
        if exc.errno == errno.ECONNREFUSED:
            self.transcript.event("ICMP port unreachable (connection refused)")
            return WireUnreachable("nothing listens on that UDP port (ICMP port unreachable)")
        self.transcript.event(f"socket error: {exc.strerror or exc}")
        return WireError(f"socket error: {exc.strerror or exc}")
