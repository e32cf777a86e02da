"""``postel serve`` and real client programs as child processes: what the client interop tests share.

``postel serve PROTOCOL`` is started as a user starts it and read until its
first line (which says where it listens), without ever blocking past a
timeout; it is killed on the way out, whatever happened.  A client program
(curl, swaks) that is not installed skips its tests, except in CI, where
every interop test must run (.ci/run installs them).
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import POSTEL

START_TIMEOUT = 20.0  # seconds for `postel serve` to print its line
STOP_TIMEOUT = 10.0


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The first line on the server's stdout, without blocking past ``timeout``."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
            raise AssertionError(f"postel serve printed no line within {timeout}s (so far: {line!r})")
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            proc.wait(STOP_TIMEOUT)
            raise AssertionError(f"postel serve exited {proc.returncode} before serving: {proc.stderr.read().decode(errors='replace')}")
        line += chunk
    return line.decode().rstrip("\n")


@contextlib.contextmanager
def postel_serve(protocol: str, *args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``postel serve PROTOCOL ARGS``; yields the process and the first line it printed.  Killed on the way out, whatever happened."""
    proc = subprocess.Popen([POSTEL, "serve", protocol, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        yield proc, read_line(proc, START_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(STOP_TIMEOUT)
        proc.stdout.close()
        proc.stderr.close()


def installed(program: str) -> str:
    """The path of a client program; a skip where it is missing, a failure in CI."""
    path = shutil.which(program)
    if path is None:
        reason = f"{program} is not installed (Debian/Ubuntu: apt-get install {program})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: in CI this interop test must run, not skip (.ci/run installs it)")
        pytest.skip(reason)
    return path
