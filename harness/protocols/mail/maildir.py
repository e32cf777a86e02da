"""Where the reference SMTP server delivers and the reference POP3 server reads: Maildir.

Why Maildir: a delivery is one file written under ``tmp/`` and renamed into
``new/``, so a reader never sees half a message and a crash leaves at most a
stray file in ``tmp/`` (which no reader lists).  RFC 5321 6.1 asks that a
server not lose a message it acknowledged: :meth:`Maildir.deliver` fsyncs the
file and then the ``new/`` directory before it returns, and the SMTP server
answers 250 only after that.

Messages are stored exactly as they crossed SMTP after dot-unstuffing (CRLF
line ends, the Received field on top), not with the LF ends mail tools often
write: the POP3 server then serves the same octets, and LIST's sizes are
exact without conversion.

The key of a message is its Maildir unique name (``cur/`` files add
``:2,flags``, which the key omits).  It is printable ASCII without spaces and
at most 70 characters, so POP3 can use it as the UIDL unique-id, and it
never changes while the message exists.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

__all__ = ["MailStore", "Maildir", "MaildropLocked", "UnknownMessage"]

LOCK_NAME = ".postel-lock"  # the POP3 maildrop lock (RFC 1939 8), a flock on this file
_counter = itertools.count(1)
_KEY = re.compile(r"(?P<sec>[0-9]+)\.M(?P<usec>[0-9]+)P(?P<pid>[0-9]+)Q(?P<n>[0-9]+)\.")


class MaildropLocked(Exception):
    """Another session holds this maildrop's lock."""


class UnknownMessage(KeyError):
    """No message with this key (removed since the listing, or never there)."""


def _hostname() -> str:
    # Maildir names the host in the unique name; "/" and ":" would break the file name and the info suffix.
    name = socket.gethostname() or "localhost"
    return re.sub(r"[^A-Za-z0-9.-]", "_", name)[:30]


def _order(key: str) -> tuple:
    match = _KEY.match(key)
    if match is None:
        return (1, key)  # a name another program delivered: after ours, by name
    return (0, int(match["sec"]), int(match["usec"]), int(match["pid"]), int(match["n"]), key)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Maildir:
    """One mailbox: ``tmp/``, ``new/``, ``cur/`` under ``path``."""

    def __init__(self, path: Path | str, *, create: bool = True) -> None:
        self.path = Path(path)
        if create:
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._paths: dict[str, Path] = {}

    def deliver(self, data: bytes) -> str:
        """Write one message durably; return its key.  Nothing is visible in ``new/`` until it is whole."""
        now = time.time()
        key = f"{int(now)}.M{int(now * 1_000_000) % 1_000_000}P{os.getpid()}Q{next(_counter)}.{_hostname()}"
        tmp = self.path / "tmp" / key
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        try:
            os.rename(tmp, self.path / "new" / key)
            _fsync_dir(self.path / "new")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return key

    def keys(self) -> list[str]:
        """Every message's key, oldest delivery first (new/ and cur/; tmp/ is never listed)."""
        paths: dict[str, Path] = {}
        for sub in ("new", "cur"):
            try:
                entries = os.scandir(self.path / sub)
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    paths[entry.name.split(":", 1)[0]] = Path(entry.path)
        self._paths = paths
        return sorted(paths, key=_order)

    def _path(self, key: str) -> Path:
        path = self._paths.get(key)
        if path is None or not path.exists():
            self.keys()
            path = self._paths.get(key)
        if path is None:
            raise UnknownMessage(key)
        return path

    def open(self, key: str) -> BinaryIO:
        """The message's file, unbuffered, for reading in chunks; a second look when it just moved new/ -> cur/."""
        for _attempt in range(2):
            try:
                return open(self._path(key), "rb", buffering=0)  # noqa: SIM115 - the caller closes it
            except FileNotFoundError:
                self._paths.pop(key, None)
        raise UnknownMessage(key)

    def read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise UnknownMessage(key) from None

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise UnknownMessage(key) from None

    def remove(self, key: str) -> None:
        try:
            self._path(key).unlink()
        except (FileNotFoundError, UnknownMessage):
            pass  # already gone: removing is idempotent
        self._paths.pop(key, None)

    def sync(self) -> None:
        """Make removals durable (POP3's UPDATE state ends with this)."""
        for sub in ("new", "cur"):
            _fsync_dir(self.path / sub)

    def lock(self) -> MaildropLock:
        """The exclusive maildrop lock, held until ``release()`` (RFC 1939 8); raises :class:`MaildropLocked`."""
        return MaildropLock(self.path / LOCK_NAME)


class MaildropLock:
    """An flock on the lock file: per open file, so two sessions of one process exclude each other too."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._fd)
            self._fd = None
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise MaildropLocked(str(path.parent)) from None
            raise

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> MaildropLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class MailStore:
    """The mail a reference server pair serves: local domains, and one Maildir per user under ``root``.

    ``users`` maps a mailbox (the local-part, as written) to its POP3 password.
    Mail to ``postmaster`` at a local domain goes to the first user's mailbox:
    RFC 5321 4.5.1 makes every SMTP server that accepts mail accept it.
    """

    root: Path
    domains: tuple[str, ...] = ("postel.test",)
    users: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.domains = tuple(d.lower() for d in self.domains)
        for user in self.users:
            if not re.fullmatch(r"[A-Za-z0-9._+-]+", user) or user.startswith("."):
                raise ValueError(f"mailbox name {user!r} is not a plain local-part")
        self._boxes: dict[str, Maildir] = {}

    def mailbox(self, user: str) -> Maildir:
        if user not in self.users:
            raise KeyError(f"no mailbox {user!r}")
        if user not in self._boxes:
            self._boxes[user] = Maildir(self.root / user)
        return self._boxes[user]

    def mailbox_for(self, address: bytes) -> str | None:
        """The mailbox a forward-path mailbox (``local@domain``, no brackets) delivers to, if any."""
        local, sep, domain = address.rpartition(b"@")
        if not sep and address.lower() == b"postmaster" and self.users:
            return next(iter(self.users))  # "<Postmaster>" without a domain (RFC 5321 4.1.1.3)
        if not sep or domain.decode("ascii", "replace").lower() not in self.domains:
            return None
        name = local.decode("ascii", "replace")
        if name in self.users:
            return name
        if name.lower() == "postmaster" and self.users:
            return next(iter(self.users))
        return None

    def accepts(self, address: bytes) -> str:
        """``"local"``, ``"unknown-user"`` (a local domain, no such mailbox) or ``"foreign"`` (would be a relay)."""
        if self.mailbox_for(address) is not None:
            return "local"
        if b"@" not in address:
            return "unknown-user"
        _local, sep, domain = address.rpartition(b"@")
        if sep and domain.decode("ascii", "replace").lower() in self.domains:
            return "unknown-user"
        return "foreign"

    def check_password(self, user: str, password: str) -> bool:
        import hmac

        expected = self.users.get(user)
        return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
