"""The wire never hangs: silence, floods and resets end within the deadline as typed errors."""

from __future__ import annotations

import socket
import struct
import threading
import time
from contextlib import contextmanager

import pytest

from postel.wire import LimitExceeded, TcpConnection, Transcript, UdpEndpoint, WireClosed, WireReset, WireTimeout, WireUnreachable


@contextmanager
def peer(behaviour):
    """A one-connection TCP server running ``behaviour(conn)`` in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def run():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            behaviour(conn, stop)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def silent(conn, stop):
    stop.wait(10)


def flood(conn, stop):
    try:
        while not stop.is_set():
            conn.sendall(b"x" * 65536)
    except OSError:
        pass


def reset(conn, stop):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.05)


def lines(conn, stop):
    conn.sendall(b"short\r\n" + b"y" * 100 + b"\r\n")
    stop.wait(5)


def test_a_silent_peer_times_out_within_the_deadline():
    with peer(silent) as address:
        transcript = Transcript("t")
        with TcpConnection.connect(address, transcript, timeout=0.5) as conn:
            started = time.monotonic()
            with pytest.raises(WireTimeout):
                conn.read_until_close()
            assert time.monotonic() - started < 2
    assert "no data within 0.5s" in transcript.render()


def test_a_peer_that_answers_forever_hits_the_limit():
    with peer(flood) as address, TcpConnection.connect(address, Transcript("t"), timeout=5) as conn:
        with pytest.raises(LimitExceeded):
            conn.read_until_close(limit=100_000)


def test_a_reset_is_a_typed_error():
    with peer(reset) as address, TcpConnection.connect(address, Transcript("t"), timeout=2) as conn:
        with pytest.raises((WireReset, WireClosed)):
            conn.read_exactly(4)


def test_line_reader_limits_and_splits():
    with peer(lines) as address, TcpConnection.connect(address, Transcript("t"), timeout=2) as conn:
        assert conn.read_line(limit=50) == b"short\r\n"
        with pytest.raises(LimitExceeded):
            conn.read_line(limit=50)


def test_connect_refused_is_unreachable(closed_port):
    with pytest.raises(WireUnreachable, match="cannot connect"):
        TcpConnection.connect(("127.0.0.1", closed_port), Transcript("t"), timeout=1)


def test_udp_port_unreachable_is_reported(closed_port):
    with UdpEndpoint(("127.0.0.1", closed_port), Transcript("u"), timeout=1) as endpoint:
        endpoint.send(b"")
        with pytest.raises((WireUnreachable, WireTimeout)):
            endpoint.receive(1)


def test_transcript_redacts_secrets_and_shows_binary_as_hex():
    transcript = Transcript("t")
    transcript.redact(["hunter2"])
    transcript.record("C", b"PASS hunter2\r\n")
    transcript.record("S", b"\x00\xffok\r\n")
    text = transcript.render()
    assert "hunter2" not in text and "PASS ***\\r\\n" in text
    assert "[00 ff 6f 6b 0d 0a]" in text
    assert transcript.sent() == b"PASS ***\r\n"
    assert "hunter2" not in str(transcript.to_dict())
