"""Nothing acknowledged is lost, nothing unacknowledged is half-delivered: the SMTP server killed mid-session.

RFC 5321 6.1: once the server has sent "250 OK" to the final dot "it is accepting
responsibility for delivering or relaying the message ... It MUST NOT lose the
message for frivolous reasons, such as because the host later crashes"
(rfc5321/6.1/1, rfc5321/6.1/2).  And the same section on the other side of the
reply: "To avoid receiving duplicate messages as the result of timeouts, a
receiver-SMTP MUST seek to minimize the time required to respond to the final
<CRLF>.<CRLF>" (rfc5321/6.1/8) -- the window in which a crash leaves a
delivered message unacknowledged, which the client will send again: a
duplicate, never a loss.

Each test runs the reference server in a subprocess on a temporary Maildir and
kills it (SIGKILL, or the ``crash_after_fsync`` fault's own ``os._exit``) at one
point of the session, then reads the Maildir as POP3 would: ``new/`` and
``cur/`` hold whole messages only; ``tmp/`` may hold a leftover, which no reader
lists.  A process kill keeps the page cache, so these tests prove the order of
write, rename and reply, not the fsync itself (``Maildir.deliver`` does that).
The ``reply_before_fsync`` fault shows the check failing on a server that
answers first.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import Maildir
from postel.protocols.smtp.server import CRASH_EXIT_CODE, split_trace

TIMEOUT = 10.0
SERVER = r"""
import asyncio, sys
from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp.server import SmtpServer
from postel.serving import run

async def main():
    server = SmtpServer(MailStore(sys.argv[1], users={"postel": "pw"}), faults=frozenset(sys.argv[2:]))
    await server.start()
    print(server.address[1], flush=True)
    await asyncio.Event().wait()

run(main())
"""


@contextmanager
def server_process(root: Path, *faults: str) -> Iterator[tuple[subprocess.Popen, int]]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(root), *faults], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        line = proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            proc.kill()
            raise AssertionError(f"the server did not start: {line!r} {proc.communicate(timeout=TIMEOUT)[1].decode(errors='replace')}")
        yield proc, int(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()


class Session:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""
        assert self.reply().startswith(b"220 ")

    def reply(self) -> bytes:
        """The last line of the next reply, or b"" if the server closed first."""
        while True:
            while b"\r\n" not in self.buffer:
                try:
                    chunk = self.sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    return b""
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            if line[3:4] != b"-":
                return line

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def start_data(self) -> None:
        for line in (b"EHLO client.example", b"MAIL FROM:<a@client.example>", b"RCPT TO:<postel@postel.test>"):
            assert self.command(line).startswith(b"250 ")
        assert self.command(b"DATA").startswith(b"354 ")


def message(n: int, size: int = 4000) -> bytes:
    line = b"message %d " % n
    return b"Subject: crash test %d\r\n\r\n" % n + (line + b"x" * 70 + b"\r\n") * (size // 80)


def stored(root: Path) -> list[bytes]:
    """The message bodies a POP3 session would see, trace fields removed."""
    box = Maildir(root / "postel", create=False)
    return [split_trace(box.read(key))[1] for key in box.keys()]


def check_nothing_lost(root: Path, acknowledged: list[bytes], sent: list[bytes]) -> None:
    """Every acknowledged message is there, whole; everything there is whole and was sent."""
    there = stored(root)
    for body in acknowledged:
        assert body in there, "a message acknowledged with 250 is missing after the crash (rfc5321/6.1/2)"
    for body in there:
        assert body in sent, f"a message in new/ is not one that was sent whole: {body[:60]!r}..."


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(TIMEOUT)


def test_acknowledged_messages_survive_a_kill(tmp_path):
    with server_process(tmp_path) as (proc, port):
        s = Session(port)
        s.command(b"EHLO client.example")
        sent = [message(n) for n in range(3)]
        acknowledged = []
        for body in sent:
            assert s.command(b"MAIL FROM:<a@client.example>").startswith(b"250 ")
            assert s.command(b"RCPT TO:<postel@postel.test>").startswith(b"250 ")
            assert s.command(b"DATA").startswith(b"354 ")
            s.sock.sendall(body + b".\r\n")
            assert s.reply().startswith(b"250 ")
            acknowledged.append(body)
        kill(proc)  # right after the last 250
    check_nothing_lost(tmp_path, acknowledged, sent)
    assert stored(tmp_path) == sent


def test_a_session_killed_before_the_final_dot_leaves_nothing(tmp_path):
    with server_process(tmp_path) as (proc, port):
        s = Session(port)
        s.start_data()
        s.sock.sendall(message(1, 200_000))  # all but the final dot
        time.sleep(0.2)  # let the server read it
        kill(proc)
    assert stored(tmp_path) == []
    assert not (tmp_path / "postel" / "new").exists() or os.listdir(tmp_path / "postel" / "new") == []


BIG = message(7, 2_000_000)


def send_big(port: int, *, wait: float | None) -> tuple[bytes, float]:
    """BIG and its final dot; then the reply if it comes within ``wait`` seconds (None: however long it takes)."""
    s = Session(port)
    s.start_data()
    s.sock.sendall(BIG)
    start = time.monotonic()
    s.sock.sendall(b".\r\n")
    if wait is not None:
        time.sleep(wait)
        s.sock.setblocking(False)
    try:
        answer = s.reply()
    except BlockingIOError:
        answer = b""
    return answer, time.monotonic() - start


@pytest.fixture(scope="module")
def time_to_250(tmp_path_factory) -> float:
    """How long this machine takes from BIG's final dot to the 250: the kills below land at fractions of it."""
    with server_process(tmp_path_factory.mktemp("calibrate")) as (_proc, port):
        answer, elapsed = send_big(port, wait=None)
    assert answer.startswith(b"250 ")
    return elapsed


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.8, 0.9, 0.95, 1.0, 1.1, 1.5])
def test_a_kill_around_the_final_dot_loses_nothing_acknowledged_and_halves_nothing(tmp_path, time_to_250, fraction):
    """A 2 MB message, killed while it is read, written or answered: new/ holds it whole or not at all, and whole if acknowledged."""
    with server_process(tmp_path) as (proc, port):
        answer, _ = send_big(port, wait=fraction * time_to_250)
        kill(proc)
    check_nothing_lost(tmp_path, [BIG] if answer.startswith(b"250 ") else [], [BIG])
    if (tmp_path / "postel").exists():
        box = Maildir(tmp_path / "postel", create=False)
        assert all(box.size(key) > len(BIG) for key in box.keys())  # only whole files are listed; tmp/ leftovers are not


def test_crash_after_fsync_leaves_the_message_whole_and_unacknowledged(tmp_path):
    """The server dies between the fsync and the 250: the message is in new/ whole.  The client saw no reply and
    will send it again -- a duplicate (what rfc5321/6.1/8 asks to keep rare), never a loss (rfc5321/6.1/2)."""
    body = message(9, 100_000)
    with server_process(tmp_path, "crash_after_fsync") as (proc, port):
        s = Session(port)
        s.start_data()
        s.sock.sendall(body + b".\r\n")
        assert s.reply() == b""  # no 250: the connection just ends
        assert proc.wait(TIMEOUT) == CRASH_EXIT_CODE
    assert stored(tmp_path) == [body]
    assert os.listdir(tmp_path / "postel" / "tmp") == []


def test_the_check_catches_a_server_that_answers_before_writing(tmp_path):
    """The ``reply_before_fsync`` fault: its 250 comes first, the kill lands before the write, the message is gone."""
    body = message(5)
    with server_process(tmp_path, "reply_before_fsync") as (proc, port):
        s = Session(port)
        s.start_data()
        s.sock.sendall(body + b".\r\n")
        assert s.reply().startswith(b"250 ")
        kill(proc)
    with pytest.raises(AssertionError, match="acknowledged with 250 is missing"):
        check_nothing_lost(tmp_path, [body], [body])
