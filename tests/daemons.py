"""Real servers as child processes for the interop tests: start on a free port, wait, stop.

A free port can be taken between our probe and the server's bind, so a start
is retried when the server says "Address already in use"; any other problem
is raised at once with what the server logged.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

STOP_TIMEOUT = 5.0  # seconds after SIGTERM before SIGKILL
ATTEMPTS = 3


class DaemonError(RuntimeError):
    """A real server could not be started; the message says why, with its log."""


def start_on_free_port(
    what: str,
    free_port: Callable[[], int],
    launch: Callable[[int, int], subprocess.Popen],
    wait: Callable[[subprocess.Popen, int], str],
    explain: Callable[[int], str] = lambda port: "",
    error: type[DaemonError] = DaemonError,
) -> tuple[subprocess.Popen, int]:
    """``launch(port, attempt)`` a server, ``wait(proc, port)`` until it serves ('' once it does)."""
    for attempt in range(ATTEMPTS):
        port = free_port()
        proc = launch(port, attempt)
        try:
            problem = wait(proc, port)
        except BaseException:
            stop(proc)
            raise
        if not problem:
            return proc, port
        stop(proc)
        if "Address already in use" not in problem or attempt == ATTEMPTS - 1:
            raise error(f"{what} did not serve on port {port}: {problem}{explain(port)}")
    raise AssertionError("unreachable")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL to its process group (``start_new_session``: the server and its workers).

    The group is signalled only while the server is still alive, so its ID
    cannot have been reused.
    """
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(STOP_TIMEOUT)


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "".join(f"  {path.name}: {line}\n" for line in text)
