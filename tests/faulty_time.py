"""Small RFC 868 servers that each get one thing wrong, to prove the suites notice.

Why not the reference server with a switch: a fault injected into the code
under test could share its bugs with the checks.  These are separate, plain
threaded socket servers; they share only the arithmetic of the codec
(``from_unix`` for the seconds, ``encode_datagram`` for the correct octets).

Use::

    with serve("little_endian") as port:
        ...  # time://127.0.0.1:<port> answers with the octets reversed

Every server listens on 127.0.0.1 on an ephemeral port; leaving the ``with``
closes the listener and every accepted socket and joins every thread, so a
faulty server can neither outlive its test nor keep the interpreter alive.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from postel.protocols.time.codec import encode_datagram, from_unix

__all__ = ["FAULTS", "Fault", "serve"]

POLL = 0.1  # seconds between looks at the stop flag
LINGER = 3.0  # how long a server waits for the client to close after its FIN
HOLD = 30.0  # never_closes: how long a connection is held open at most


def correct_octets() -> bytes:
    """What a conformant server sends now: seconds since 1900, 32 bits, big-endian."""
    return encode_datagram(from_unix(time.time()))


# ---------------------------------------------------------------- TCP behaviours
#
# Each gets the accepted socket and the stop flag; the server closes the
# socket afterwards.  ``_finish`` is the polite end of a correct exchange: FIN
# first and read until the client closes, because closing a socket with unread
# client data makes the kernel send a RST that can destroy the octets in flight.


def _finish(conn: socket.socket, stop: threading.Event) -> None:
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        return
    deadline = time.monotonic() + LINGER
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue
        except OSError:
            return


def tcp_correct(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(correct_octets())
    _finish(conn, stop)


def tcp_eight_bytes(conn: socket.socket, stop: threading.Event) -> None:
    """A 64-bit count of seconds since 1900: four zero octets, then the 32-bit value."""
    conn.sendall(from_unix(time.time()).seconds.to_bytes(8, "big"))
    _finish(conn, stop)


def tcp_little_endian(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(struct.pack("<I", from_unix(time.time()).seconds))
    _finish(conn, stop)


def tcp_unix_epoch(conn: socket.socket, stop: threading.Event) -> None:
    """POSIX seconds (since 1970) where RFC 868 wants seconds since 1900."""
    conn.sendall(struct.pack(">I", int(time.time())))
    _finish(conn, stop)


def tcp_hour_off(conn: socket.socket, stop: threading.Event) -> None:
    """Local time one hour east of GMT, say CET: the value is 3600 s ahead."""
    conn.sendall(encode_datagram(from_unix(time.time() + 3600)))
    _finish(conn, stop)


def tcp_never_closes(conn: socket.socket, stop: threading.Event) -> None:
    """The right 4 octets, then the connection stays open (even after the client half-closes)."""
    conn.sendall(correct_octets())
    stop.wait(HOLD)


def tcp_waits_for_client_data(conn: socket.socket, stop: threading.Event) -> None:
    """Answers a request that RFC 868 never makes: nothing comes until the client sends."""
    while not stop.is_set():
        try:
            data = conn.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return  # the client closed (or half-closed) without sending: no answer
        conn.sendall(correct_octets())
        _finish(conn, stop)
        return


# ---------------------------------------------------------------- UDP behaviours
#
# Each gets the request datagram and returns the datagrams to send back.


def udp_correct(request: bytes) -> list[bytes]:
    return [correct_octets()]


def udp_silent(request: bytes) -> list[bytes]:
    return []


def udp_twice(request: bytes) -> list[bytes]:
    return [correct_octets(), correct_octets()]


@dataclass(frozen=True)
class Fault:
    name: str
    transport: str  # "tcp" | "udp"
    behaviour: Callable

    @property
    def scheme(self) -> str:
        return "time" if self.transport == "tcp" else "time+udp"

    def url(self, port: int) -> str:
        return f"{self.scheme}://127.0.0.1:{port}"


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("correct", "tcp", tcp_correct),
        Fault("eight_bytes", "tcp", tcp_eight_bytes),
        Fault("little_endian", "tcp", tcp_little_endian),
        Fault("unix_epoch", "tcp", tcp_unix_epoch),
        Fault("hour_off", "tcp", tcp_hour_off),
        Fault("never_closes", "tcp", tcp_never_closes),
        Fault("waits_for_client_data", "tcp", tcp_waits_for_client_data),
        Fault("udp_correct", "udp", udp_correct),
        Fault("udp_silent", "udp", udp_silent),
        Fault("udp_twice", "udp", udp_twice),
    )
}


# ---------------------------------------------------------------- the servers


class _Server:
    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        kind = socket.SOCK_STREAM if fault.transport == "tcp" else socket.SOCK_DGRAM
        self.listener = socket.socket(socket.AF_INET, kind)
        self.listener.settimeout(POLL)
        self.listener.bind(("127.0.0.1", 0))
        if fault.transport == "tcp":
            self.listener.listen(64)
        self.port = self.listener.getsockname()[1]

    def start(self) -> None:
        loop = self._accept_loop if self.fault.transport == "tcp" else self._datagram_loop
        self._spawn(loop)

    def close(self) -> None:
        self.stop.set()
        with self.lock:
            threads, sockets = list(self.threads), list(self.sockets)
        for thread in threads:
            thread.join(timeout=5)
        for sock in [*sockets, self.listener]:
            sock.close()
        alive = [t.name for t in threads if t.is_alive()]
        assert not alive, f"faulty server {self.fault.name}: threads still running: {alive}"

    def _spawn(self, target: Callable, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=f"faulty-{self.fault.name}", daemon=True)
        with self.lock:
            self.threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(POLL)
            with self.lock:
                if self.stop.is_set():
                    conn.close()
                    return
                self.sockets.append(conn)
            self._spawn(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.fault.behaviour(conn, self.stop)
        except OSError:
            pass  # the client went away: nothing to report from a faulty server
        finally:
            conn.close()

    def _datagram_loop(self) -> None:
        while not self.stop.is_set():
            try:
                request, peer = self.listener.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                continue  # ICMP errors for earlier replies
            for answer in self.fault.behaviour(request):
                try:
                    self.listener.sendto(answer, peer)
                except OSError:
                    break


@contextmanager
def serve(name: str) -> Iterator[int]:
    """Run the faulty server ``name`` (a key of :data:`FAULTS`); yields its port."""
    server = _Server(FAULTS[name])
    server.start()
    try:
        yield server.port
    finally:
        server.close()
