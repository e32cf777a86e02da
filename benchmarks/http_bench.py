"""HTTP/1.0: how fast the reference server serves next to ``python -m http.server``, and what xdist saves the HTTP suite.

Method
------
(1) Throughput.  Two servers, each in its own subprocess, serve the same
    directory (``make_sample_site``) on loopback:

    - postel: the reference ``HttpServer`` under ``asyncio.run`` (a small
      ``python -c`` script, below; it does not need a ``postel serve`` CLI);
    - http.server: ``python -m http.server 0 --bind 127.0.0.1 --protocol
      HTTP/1.0 --directory ROOT`` (stdlib, a thread per connection; its
      per-request log line goes to /dev/null).

    The load generator is this process: C client threads, each looping
    connect, send ``GET /bytes.bin HTTP/1.0`` + ``Host``, read until the
    server closes, check the status is 200 and the body is the file's octets
    (anything else, timeouts included, counts as an error and is printed, not
    as a request served).  Every socket operation has a timeout.  After a
    warm-up, each (clients, server) cell runs for --seconds in all, split into
    --rounds slices; the two servers take turns slice by slice (ABBA order), so
    drift in CPU frequency or other load falls on both alike.  requests/s
    counts the good responses completed within the slices, over their
    duration; requests in flight when a slice ends still complete (they
    count for CPU, not for the rate).  The target: postel >= 3x http.server.

    Also each server's CPU time per request, from /proc/PID/stat (utime +
    stime of the whole process, all threads, kernel TCP work included), which
    does not depend on whether the client or the server was the bottleneck.
    A server's CPU is read at the start of each of its slices and --settle
    seconds after the last, so work it defers past a slice (the reference
    server aborts each transport 2 s after answering) is charged to it.
    Further rows: latency percentiles; the kernel's listen-queue overflows
    (a connection attempt dropped at a full accept queue is retried by the
    client's kernel after the 1 s SYN timeout: the p99 shows it); and this
    process's CPU as a share of one core: near 100% the Python client (one
    GIL) is the bottleneck, and requests/s are a lower bound for the faster
    server.  --floor adds a third column: a bare asyncio server that writes
    the same octets canned (no parsing, no file system, no timers), the most
    a Python asyncio server could reach here.

(2) The HTTP suite's wall time, ``python -m pytest -p no:cacheprovider -q
    suites/http`` with ``-n 0`` and with ``-n auto`` (after one untimed
    ``--collect-only`` run, so neither pays for compiling bytecode).
    Skipped when suites/http does not exist yet, or with --no-suite.

Absolute numbers depend on the machine (cores, frequency, kernel, other
load) and move from run to run; the two servers are measured side by side in
one run so that their ratio means something.  Quote ratios, not absolutes.

    python benchmarks/http_bench.py                       # ~20 s, then the suite (~30 s here)
    python benchmarks/http_bench.py --floor --rounds 6    # steadier ratios, and the floor
    python benchmarks/http_bench.py --seconds 2 --no-suite
    python benchmarks/http_bench.py --profile-reference /tmp/ref.prof   # cProfile the reference server
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

# benchmarks/sidebyside.py (the script's folder is on sys.path): servers in subprocesses, loaded side by side
from sidebyside import REPO, SERVE_SCRIPT, Address, CpuLedger, Server, alternating, begin, check_alive, loop_name
from sidebyside import micros, python_script, ratio, run_clients, run_main, start_server, stop_process

SUITE = REPO / "suites" / "http"
RESOURCE = "/bytes.bin"  # 1024 octets in make_sample_site
TARGET = 3.0  # the reference server should serve >= 3x what http.server does
MIN_CPU = 0.05  # seconds of server CPU below which /proc's 10 ms ticks say too little

# The reference server in its own process, in sidebyside's frame.  argv: ROOT [PROFILE_OUT]:
# cProfile stats written to PROFILE_OUT when it stops.
REFERENCE_SCRIPT = SERVE_SCRIPT + r"""
from pathlib import Path
from postel.protocols.http.server import HttpServer

async def start():
    server = HttpServer(Path(sys.argv[1]))
    await server.start()
    return server.address[1], server.close

profile_out = sys.argv[2] if len(sys.argv) > 2 else ""
if profile_out:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
try:
    main(start)
finally:
    if profile_out:
        profiler.disable()
        profiler.dump_stats(profile_out)
"""

# --floor: the least an asyncio server in Python can do per connection -- read until the
# blank line, write a canned response (the same octets postel sends), FIN, close.  No
# parsing, no file system, no timers.  argv: FILE.  Not a server anyone should run.
FLOOR_SCRIPT = r"""
import asyncio, signal, sys
body = open(sys.argv[1], "rb").read()
canned = b"HTTP/1.0 200 OK\r\nServer: floor\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body

class Canned(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.head = transport, b""
    def data_received(self, data):
        self.head += data
        if b"\r\n\r\n" in self.head and self.transport.can_write_eof():
            self.transport.write(canned)
            self.transport.write_eof()
    def eof_received(self):
        self.transport.close()

async def main():
    server = await asyncio.get_running_loop().create_server(Canned, "127.0.0.1", 0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.raw.read(4096) or stop.set())
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()

asyncio.run(main())
"""



# ---------------------------------------------------------------- servers


def start_reference(stack: ExitStack, root: Path, profile_out: str | None) -> Server:
    return start_server(stack, "postel", python_script(REFERENCE_SCRIPT, str(root), *([profile_out] if profile_out else [])))


def start_http_server(stack: ExitStack, root: Path) -> Server:
    argv = [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--protocol", "HTTP/1.0", "--directory", str(root)]
    # "Serving HTTP on 127.0.0.1 port 40321 (http://127.0.0.1:40321/) ..."; its per-request log lines go nowhere
    return start_server(stack, "http.server", argv, port_of=lambda line: int(line.split(" port ", 1)[1].split()[0]))


def start_floor(stack: ExitStack, file: Path) -> Server:
    return start_server(stack, "floor", python_script(FLOOR_SCRIPT, str(file)))


# ---------------------------------------------------------------- load


def fetch(address: Address, request: bytes, expected: bytes, timeout: float) -> str | None:
    """One request on a new connection; None if it was a 200 with the file's octets, else what went wrong."""
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            sock.sendall(request)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return type(exc).__name__
    data = b"".join(chunks)
    head, blank, body = data.partition(b"\r\n\r\n")
    if not blank:
        return f"no header section ({len(data)} octets)"
    status_line = head.split(b"\r\n", 1)[0]
    status = status_line.split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        return f"status-line {status_line[:40]!r}"
    if body != expected:
        return f"body of {len(body)} octets, not the file's {len(expected)}"
    return None


@dataclass
class Cell:
    """What one server did at one client count, summed over the slices."""

    ok: int = 0  # 200 with the file's octets, completed within the slice
    late: int = 0  # the same, started within the slice but completed after it
    errors: collections.Counter = field(default_factory=collections.Counter)
    elapsed: float = 0.0  # the slices' durations
    wall: float = 0.0  # from each slice's start until its last request ended
    server_cpu: float | None = 0.0
    listen_overflows: int | None = 0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_request(self) -> float | None:
        served = self.ok + self.late + sum(self.errors.values())
        if self.server_cpu is None or self.server_cpu < MIN_CPU or not served:
            return None  # too few clock ticks to say
        return self.server_cpu / served


def listen_overflows() -> int | None:
    """The kernel's count of connections dropped at a full accept queue (TcpExt ListenOverflows, system-wide)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table["ListenOverflows"]) if "ListenOverflows" in table else None
    return None


def run_slice(server: Server, clients: int, seconds: float, request: bytes, expected: bytes, timeout: float, cell: Cell | None) -> None:
    """``clients`` threads requesting for ``seconds``; added to ``cell`` (None: a warm-up)."""

    def client(stop_at: float) -> tuple[int, int, collections.Counter, list[float]]:
        ok, late, errors, latencies = 0, 0, collections.Counter(), []
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            problem = fetch(server.address, request, expected, timeout)
            if problem is None:
                latencies.append(time.perf_counter() - began)
                if time.monotonic() <= stop_at:
                    ok += 1
                else:
                    late += 1  # served, but not within the window the rate is over
            else:
                errors[problem] += 1
        return ok, late, errors, latencies

    overflows_before = listen_overflows()
    # a request started just before stop_at ends within its timeouts
    done = run_clients(f"clients against {server.name}", clients, seconds, client, join_slack=timeout + 10)
    overflows_after = listen_overflows()
    check_alive(server)
    if cell is None:
        return
    cell.elapsed += seconds
    cell.wall += done.wall
    for ok, late, errors, latencies in done.outcomes:
        cell.ok += ok
        cell.late += late
        cell.errors.update(errors)
        cell.latencies.extend(latencies)
    if overflows_before is None or overflows_after is None or cell.listen_overflows is None:
        cell.listen_overflows = None
    else:
        cell.listen_overflows += overflows_after - overflows_before
    cell.client_cpu += done.client_cpu


# ---------------------------------------------------------------- the suite


def run_pytest(args: list[str], timeout: float) -> tuple[float, int, str]:
    """Wall time, exit code and last summary line of one pytest run; its process group is killed on timeout or error."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # pytest and its xdist workers: one group, killed together
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out = f"timed out after {timeout:g} s"
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
    wall = time.perf_counter() - started
    lines = [line for line in out.strip().splitlines() if line.strip()]
    return wall, proc.returncode, lines[-1] if lines else ""


def suite_part(args: argparse.Namespace) -> None:
    suite = SUITE
    print(f"\n(2) HTTP suite wall time, `python -m pytest -p no:cacheprovider -q {suite.relative_to(REPO)} -n 0|auto`")
    if args.no_suite:
        print("    skipped (--no-suite)")
        return
    if not suite.is_dir():
        print("    suites/http not present: skipped")
        return
    run_pytest(["-q", "--collect-only", str(suite)], args.suite_timeout)  # untimed: bytecode, imports, page cache
    walls = {}
    for workers in ("0", "auto"):
        wall, code, summary = run_pytest(["-q", str(suite), "-n", workers], args.suite_timeout)
        walls[workers] = wall
        print(f"    -n {workers:<5} {wall:8.2f} s   exit {code}   {summary}")
    print(f"    xdist speed-up, wall(-n 0) / wall(-n auto) = {ratio(walls['0'], walls['auto'])}  ({os.cpu_count()} CPUs)")


# ---------------------------------------------------------------- output


def count(value: int | None) -> str:
    return "-" if value is None else str(value)


def percentile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def latency(cell: Cell) -> str:
    p50, p99 = percentile(cell.latencies, 50), percentile(cell.latencies, 99)
    if p50 is None or p99 is None:
        return "-"
    return f"{p50 * 1e3:.2f}/{p99 * 1e3:.2f}"


def errors_text(cell: Cell) -> str:
    return str(sum(cell.errors.values()))


def print_table(clients_list: list[int], cells: dict[tuple[int, str], Cell], names: list[str]) -> list[str]:
    """One column per server; the ratio column is always the first (postel) over the second (http.server)."""
    ref, other = names[:2]
    notes: list[str] = []

    def row(label: str, values: list[str], tail: str = "") -> None:
        print(f"    {label:<30}" + "".join(f"{v:>14}" for v in values) + tail)

    row("", names, f"{f'{ref} / {other}':>24}")
    for clients in clients_list:
        column = [cells[clients, name] for name in names]
        a, b = column[:2]
        met = a.per_second >= TARGET * b.per_second
        verdict = f"target >= {TARGET:g}x: {'met' if met else 'NOT met'}"
        print(f"  {clients} client{'s' if clients != 1 else ''}")
        row("requests/s", [f"{c.per_second:.0f}" for c in column], f"{ratio(a.per_second, b.per_second):>24}   {verdict}")
        row("server CPU per request", [micros(c.cpu_per_request) for c in column], f"{ratio(a.cpu_per_request, b.cpu_per_request):>24}   (lower is better)")
        row("latency p50/p99, ms", [latency(c) for c in column])
        row("errors", [errors_text(c) for c in column])
        row("listen queue overflows", [count(c.listen_overflows) for c in column], "   (kernel TcpExt, system-wide)")
        share = [c.client_cpu / c.wall if c.wall else 0.0 for c in column]
        row("client CPU, share of one core", [f"{x:.0%}" for x in share])
        for name, cell in zip(names, column):
            for problem, n in cell.errors.most_common():
                notes.append(f"{name}, {clients} clients: {n} x {problem}")
            if cell.listen_overflows:
                notes.append(f"{name}, {clients} clients: {cell.listen_overflows} connection attempts overflowed the listen queue"
                             " and were retried after the 1 s SYN timeout (see its p99)")
        if max(share) >= 0.9:
            notes.append(f"{clients} clients: the client process used ~a full core; requests/s are a lower bound for the faster server")
    return notes


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per (clients, server) cell (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="slices each cell is split into, servers alternating (default %(default)s)")
    parser.add_argument("--clients", default="1,32", help="concurrent clients, comma-separated (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=0.5, help="seconds of untimed load per server first (default %(default)s)")
    parser.add_argument("--settle", type=float, default=2.5, help="idle seconds after the warm-up and at the end, so deferred server work is charged (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=5.0, help="socket timeout of every client operation (default %(default)s)")
    parser.add_argument("--no-suite", action="store_true", help="skip part (2), the HTTP suite's wall time")
    parser.add_argument("--suite-timeout", type=float, default=900.0, help="seconds before a pytest run is killed (default %(default)s)")
    parser.add_argument("--floor", action="store_true", help="a third column: a bare asyncio server writing a canned response (what Python itself costs)")
    parser.add_argument("--profile-reference", metavar="FILE", help="run the reference server under cProfile; write its stats to FILE and print the top")
    args = parser.parse_args(argv)
    try:
        clients_list = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients {args.clients!r}: comma-separated integers, please")
    if not clients_list or min(clients_list) < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--clients must be positive integers, --seconds > 0, --rounds >= 1")

    started = begin("HTTP")

    from postel.protocols.http.site import make_sample_site

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="postel-http-bench-")))
        root = make_sample_site(tmp / "site")
        expected = (root / RESOURCE.lstrip("/")).read_bytes()
        request = b"GET " + RESOURCE.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n"

        reference = start_reference(stack, root, args.profile_reference)
        stdlib = start_http_server(stack, root)
        servers: tuple[Server, ...] = (reference, stdlib)
        if args.floor:
            servers += (start_floor(stack, root / RESOURCE.lstrip("/")),)
        for server in servers:
            problem = fetch(server.address, request, expected, args.timeout)
            if problem:
                raise RuntimeError(f"{server.name} at {server.address} does not serve {RESOURCE}: {problem}")

        slice_seconds = args.seconds / args.rounds
        print(f"\n(1) GET {RESOURCE} ({len(expected)} octets), HTTP/1.0, a new connection per request")
        print(f"    postel: HttpServer on {loop_name()} (pid {reference.proc.pid}); http.server: python -m http.server --protocol HTTP/1.0 (pid {stdlib.proc.pid})")
        print(f"    client: threads in this process (pid {os.getpid()}); {args.seconds:g} s per cell in {args.rounds} slices of {slice_seconds:.2f} s,"
              f" servers alternating, after {args.warmup:g} s warm-up")
        if args.profile_reference:
            print("    (the reference server runs under cProfile: its figures are slowed by the profiler)")
        for server in servers:
            run_slice(server, max(clients_list), args.warmup, request, expected, args.timeout, None)
            run_slice(server, 1, min(0.2, args.warmup), request, expected, args.timeout, None)
        time.sleep(args.settle)  # the warm-up's deferred work is done before any CPU is charged

        ledger = CpuLedger()

        cells = {(c, s.name): Cell() for c in clients_list for s in servers}
        for clients, server in alternating(args.rounds, clients_list, servers):
            ledger.charge(server, cells[clients, server.name])
            run_slice(server, clients, slice_seconds, request, expected, args.timeout, cells[clients, server.name])

        time.sleep(args.settle)  # the last slices' deferred work, charged to them
        for server in servers:
            ledger.charge(server, None)
        notes = print_table(clients_list, cells, [s.name for s in servers])
        for note in notes:
            print(f"    note: {note}")

        if args.profile_reference:
            stop_process(reference.proc)
            print_profile(args.profile_reference)
        stack.close()  # the servers stop before the suite runs
        suite_part(args)
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


def print_profile(path: str, top: int = 25) -> None:
    import pstats

    if not Path(path).exists():
        print(f"\n    no profile written to {path}")
        return
    print(f"\n    reference server profile ({path}), top {top} by own time:")
    stats = pstats.Stats(path, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    run_main(main)
