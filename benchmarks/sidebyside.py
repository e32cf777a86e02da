"""Servers in subprocesses, loaded side by side from client threads: what http_bench.py and mail_bench.py share.

Each benchmark runs every server in its own subprocess, so /proc can tell
its CPU apart from the client's; loads it from threads in this process in
short slices, the servers taking turns (ABBA), so drift in CPU frequency or
other load falls on all alike; and charges each server's CPU to the slice it
served.  None of that depends on the protocol, so it lives here once; what a
client does in a slice and how a cell sums it stays in each benchmark.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import resource
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from procstat import cpu_seconds  # benchmarks/procstat.py: the script's folder is on sys.path

REPO = Path(__file__).resolve().parents[1]
Address = tuple[str, int]
T = TypeVar("T")
R = TypeVar("R")

# ---------------------------------------------------------------- a server script's frame

# A server script is SERVE_SCRIPT followed by an ``async def start()`` that returns
# ``(port, close)`` and a call ``main(start)``.  The frame prints "PORT n" once listening;
# stops on SIGTERM/SIGINT or when stdin closes (the benchmark died); and runs on
# postel.serving.run, uvloop where installed, as `postel serve` and the embedded references.
SERVE_SCRIPT = r"""
import asyncio, signal, sys

async def serve(start):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    def stdin_readable():
        if not sys.stdin.buffer.raw.read(4096):
            stop.set()
    loop.add_reader(sys.stdin.fileno(), stdin_readable)
    port, close = await start()
    print("PORT", port, flush=True)
    await stop.wait()
    loop.remove_reader(sys.stdin.fileno())
    try:
        await asyncio.wait_for(close(), 3)
    except asyncio.TimeoutError:
        pass

def main(start):
    from postel.serving import run
    run(serve(start))
"""


def python_script(script: str, *args: str) -> list[str]:
    """The argv that runs ``script`` in this Python with ``args`` as its sys.argv[1:]."""
    return [sys.executable, "-c", script, *args]


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    address: Address
    log: Path | None = None  # its stderr; None: thrown away


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the benchmark dies, however it dies (Linux; best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _port_line(line: str) -> int:
    """The port in SERVE_SCRIPT's "PORT n"."""
    return int(line.split()[1])


def start_server(
    stack: ExitStack,
    name: str,
    argv: list[str],
    *,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    port_of: Callable[[str], int] = _port_line,
    timeout: float = 15.0,
) -> Server:
    """One server subprocess, stopped when ``stack`` closes; waits for the first line it prints and reads its port there.

    Its stderr goes to ``log``, or nowhere (a server that logs each request must
    never fill a pipe nobody reads).
    """
    with open(log, "wb") if log is not None else contextlib.nullcontext(subprocess.DEVNULL) as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,  # a Ctrl-C in the terminal reaches us; we stop the servers in order
            preexec_fn=_die_with_parent,
        )
    stack.callback(stop_process, proc)
    deadline = time.monotonic() + timeout
    buffer = b""
    assert proc.stdout is not None
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            said = log.read_text(errors="replace")[-800:] if log is not None else f"said {buffer!r}"
            raise RuntimeError(f"{name} did not start within {timeout:g} s (exit {proc.poll()}): {said}")
        ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                proc.wait(timeout=left)
            buffer += chunk
    port = port_of(buffer.split(b"\n", 1)[0].decode(errors="replace"))
    return Server(name, proc, ("127.0.0.1", port), log)


def stop_process(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: this one process, nothing else."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def check_alive(server: Server) -> None:
    """Raise if the server has exited: its figures would be a dead server's."""
    if server.proc.poll() is not None:
        tail = f": {server.log.read_text(errors='replace')[-800:]}" if server.log is not None else ""
        raise RuntimeError(f"{server.name} exited ({server.proc.returncode}) during the benchmark{tail}")


# ---------------------------------------------------------------- slices


def alternating(rounds: int, rows: Sequence[R], servers: Sequence[Server]) -> Iterator[tuple[R, Server]]:
    """Every (row, server) once a round, the servers' order flipping from one row to the next (ABBA)."""
    for round_ in range(rounds):
        for i, row in enumerate(rows):
            for server in servers if (round_ + i) % 2 == 0 else servers[::-1]:
                yield row, server


@dataclass
class Slice:
    """What the client threads of one slice returned, and what the slice cost this process."""

    start_at: float  # time.monotonic() when the clients started
    stop_at: float  # when they were to start nothing new
    outcomes: list[Any]  # what each client returned
    wall: float  # from start_at until the last client ended
    client_cpu: float  # this process's CPU over the slice, user + system, every thread


def run_clients(label: str, clients: int, seconds: float, client: Callable[[float], T], join_slack: float) -> Slice:
    """``clients`` threads, each running ``client(stop_at)`` once, all started together; joined by ``stop_at + join_slack``.

    ``join_slack`` is what a client may take after ``stop_at`` to finish what it
    started (its timeouts); a thread still running then is an error, not a figure.
    """
    outcomes: list[tuple[T, float]] = []
    lock = threading.Lock()
    start_at = time.monotonic() + 0.05  # every thread created before the clock starts
    stop_at = start_at + seconds

    def run() -> None:
        time.sleep(max(0.0, start_at - time.monotonic()))
        outcome = client(stop_at)
        with lock:
            outcomes.append((outcome, time.monotonic()))

    threads = [threading.Thread(target=run, daemon=True, name=f"{label}-{i}") for i in range(clients)]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    for thread in threads:
        thread.start()
    join_by = stop_at + join_slack
    for thread in threads:
        thread.join(max(0.0, join_by - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"{label} threads did not finish by the deadline")
    if len(outcomes) < clients:
        raise RuntimeError(f"{clients - len(outcomes)} {label} thread(s) raised (the traceback is above)")
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    return Slice(start_at, stop_at, [o for o, _ in outcomes], max(t for _, t in outcomes) - start_at, client_cpu)


class CpuLedger:
    """Each server's CPU from the start of one of its slices to the start of its next, charged to the first one's cell.

    So work a server defers past the end of a slice (the HTTP reference aborts
    each transport 2 s after answering) is charged to it, not lost; only when
    consecutive slices of a server belong to different cells can some of it
    land in the other.  A cell's ``server_cpu`` is the whole process (every
    thread); with ``loop_thread`` also its ``loop_cpu``, the main thread alone
    (the event loop's; the rest is executor threads).  A figure /proc cannot
    give turns None.  ``charge(server, None)`` closes the last slice.
    """

    def __init__(self, *, loop_thread: bool = False) -> None:
        self.loop_thread = loop_thread
        self.open: dict[str, tuple[dict[str, float | None], Any]] = {}

    def charge(self, server: Server, cell: Any) -> None:
        pid = server.proc.pid
        now = {"server_cpu": cpu_seconds(f"/proc/{pid}/stat")}
        if self.loop_thread:
            now["loop_cpu"] = cpu_seconds(f"/proc/{pid}/task/{pid}/stat")
        before, previous = self.open.get(server.name, ({}, None))
        if previous is not None:
            for name, b in now.items():
                a, spent = before.get(name), getattr(previous, name)
                setattr(previous, name, None if a is None or b is None or spent is None else spent + b - a)
        self.open[server.name] = (now, cell)


# ---------------------------------------------------------------- the run and its output


def begin(title: str) -> float:
    """SIGTERM made to unwind like Ctrl-C (so the servers stop on the way out); the run's first line. Returns its start."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"postel {title} benchmark: {now}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    return time.perf_counter()


def run_main(main: Callable[[], int]) -> NoReturn:
    """``sys.exit(main())``; Ctrl-C (or SIGTERM, see :func:`begin`) ends it with the servers stopped."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        sys.exit(130)


def loop_name() -> str:
    """The event loop the servers run on (postel.serving.new_event_loop): uvloop where installed."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    return f"uvloop {uvloop.__version__}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "-"
    return f"{a / b:.2f}x"


def micros(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.2f} ms" if seconds >= 0.01 else f"{seconds * 1e6:.0f} us"
