"""What the POP3 server tests share: a store with the samples, a server per test, and a codec-free peer."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore, MaildropLocked
from postel.protocols.mail.samples import seed
from postel.protocols.pop3.server import Pop3Server
from postel.serving import ServerThread

USER, PASSWORD = "postel", "correct horse"  # a space: PASS keeps it (RFC 1939 7)
OTHER, OTHER_PASSWORD = "other", "s3cret"
LOGIN_DELAY = 0.4  # small, so the failed-login tests stay quick; measured loosely (>= half)
TIMEOUT = 10.0  # every socket read; nothing here should take more than milliseconds but the delays
GREETING = re.compile(rb"\+OK POP3 postel ready (<[0-9]+\.[0-9]+\.[0-9]+@postel\.test>)")


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    store = MailStore(tmp_path / "mail", users={USER: PASSWORD, OTHER: OTHER_PASSWORD})
    seed(store.mailbox(USER))
    return store


@pytest.fixture
def serve(store: MailStore) -> Iterator[Callable[..., ServerThread]]:
    """Start a Pop3Server on ``store`` (keyword arguments as Pop3Server's); all are stopped at the end."""
    threads: list[ServerThread] = []

    def start(**kwargs) -> ServerThread:
        kwargs.setdefault("login_delay", LOGIN_DELAY)
        thread = ServerThread(Pop3Server(store, **kwargs), "pop3").start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.stop()
        thread.check()  # an exception inside the server fails the test that met it


@pytest.fixture
def server(serve) -> ServerThread:
    return serve()


class Raw:
    """A POP3 peer made of a socket and a readline: nothing of postel's codec."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self) -> bytes:
        """One line, which must end with CRLF; returned without it."""
        raw = self.file.readline(4096)
        assert raw.endswith(b"\r\n"), f"line not ended by CRLF: {raw!r}"
        return raw[:-2]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.line()

    def body(self) -> list[bytes]:
        """The lines of a multi-line body as sent (still byte-stuffed), up to the "." line."""
        lines = []
        while (line := self.line()) != b".":
            lines.append(line)
        return lines

    def multi(self, line: bytes) -> tuple[bytes, list[bytes]]:
        status = self.cmd(line)
        assert status.startswith(b"+OK"), status
        return status, self.body()

    def login(self, user: str = USER, password: str = PASSWORD) -> bytes:
        assert self.cmd(b"USER " + user.encode()).startswith(b"+OK")
        return self.cmd(b"PASS " + password.encode())

    def closed(self) -> bool:
        """Whether the server closed (EOF) without sending anything more."""
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unstuff(lines: list[bytes]) -> bytes:
    """RFC 1939 3, the client's rule: strip the first "." of a line that starts with one."""
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


def stored(store: MailStore, n: int) -> bytes:
    box = store.mailbox(USER)
    return box.read(box.keys()[n - 1])


def wait_for_unlock(store: MailStore, user: str = USER) -> None:
    """The server releases the lock when it sees the connection go, a moment after the client closed."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            store.mailbox(user).lock().release()
            return
        except MaildropLocked:
            assert time.monotonic() < deadline, "the maildrop lock was never released"
            time.sleep(0.02)
