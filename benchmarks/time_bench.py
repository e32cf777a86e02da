"""RFC 868 time: what a conformance check costs, and how fast the reference server serves.

Method
------
(a) Cost per example, against the reference ``TimeServer`` on a ``ServerThread``
    in this process (the way ``postel run`` runs it):

    - bare socket: ``socket.create_connection`` + ``recv`` until the server
      closes, N times;
    - query_tcp: the reference client with a ``Transcript``, which is what one
      check (one Hypothesis example) does, N times;
    - TCP suite: ``postel run time://127.0.0.1:PORT -n 0`` in a subprocess
      against the same server; the mean of the per-test durations in
      results.json, and the wall time of the whole run (interpreter start,
      collection and reports included).

    The two loops alternate in blocks, so drift (CPU frequency, other load)
    falls on both alike.

(b) Throughput of the reference ``TimeServer`` and of xinetd's built-in time
    service (``tests/xinetd_time.py``, rate limit ``cps`` off), measured with
    the same client: T threads in ONE separate process (so the client does not
    share the reference server's GIL), each looping connect + read until close
    (TCP) or one empty datagram + wait for its answer (UDP; no answer within
    --udp-timeout counts as lost), for D seconds after a short warm-up.  Also
    the server's CPU time per request, from /proc (the ServerThread's thread;
    xinetd's process), which does not depend on whether the client or the
    server was the bottleneck.

Everything is on loopback, every loop is bounded by a count or a deadline.
The numbers compare things on one machine: quote ratios, not absolutes.

    python benchmarks/time_bench.py            # ~30 s
    python benchmarks/time_bench.py --quick    # ~10 s
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from procstat import cpu_seconds  # benchmarks/procstat.py: the script's folder is on sys.path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.xinetd_time

from postel.protocols.time.client import query_tcp  # noqa: E402
from postel.protocols.time.server import TimeServer  # noqa: E402
from postel.serving import ServerThread  # noqa: E402
from postel.wire import Transcript  # noqa: E402

Address = tuple[str, int]
MIN_CPU = 0.05  # seconds of server CPU below which /proc's 10 ms ticks say too little


# ---------------------------------------------------------------- (a) cost per example


def bare_round_trip(address: Address) -> None:
    with socket.create_connection(address, timeout=5.0) as sock:
        data = b""
        while chunk := sock.recv(64):
            data += chunk
    if len(data) != 4:
        raise RuntimeError(f"bare socket got {len(data)} octets, not 4")


def checked_round_trip(address: Address) -> None:
    answer = query_tcp(address, Transcript("bench"), timeout=5.0)
    if answer.value is None or not answer.closed:
        raise RuntimeError(f"query_tcp got {answer}")


def time_alternating(loops: dict[str, Callable[[], None]], iterations: int, blocks: int = 10) -> dict[str, float]:
    """Mean seconds per call of each loop, the loops taking turns in blocks."""
    for loop in loops.values():  # warm-up: imports, first connections
        for _ in range(20):
            loop()
    spent = dict.fromkeys(loops, 0.0)
    per_block = max(1, iterations // blocks)
    for _ in range(blocks):
        for name, loop in loops.items():
            started = time.perf_counter()
            for _ in range(per_block):
                loop()
            spent[name] += time.perf_counter() - started
    return {name: total / (per_block * blocks) for name, total in spent.items()}


def run_suite(address: Address) -> dict:
    """The TCP suite as a user runs it; per-test durations from results.json."""
    postel = Path(sys.executable).with_name("postel")
    command = [str(postel)] if postel.exists() else [sys.executable, "-c", "from postel.cli import main; raise SystemExit(main())"]
    with tempfile.TemporaryDirectory(prefix="postel-bench-") as tmp:
        started = time.perf_counter()
        proc = subprocess.run(
            [*command, "run", f"time://{address[0]}:{address[1]}", "--report-dir", tmp, "-n", "0"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        wall = time.perf_counter() - started
        results_file = Path(tmp) / "results.json"
        if not results_file.exists():
            raise RuntimeError(f"postel run exited {proc.returncode} without results.json:\n{proc.stdout}\n{proc.stderr}")
        tests = json.loads(results_file.read_text())["tests"]
    durations = [t["duration"] for t in tests]
    return {
        "exit": proc.returncode,
        "tests": len(tests),
        "mean": sum(durations) / len(durations),
        "wall": wall,
        "verdicts": sorted({t["verdict"] for t in tests}),
    }


# ---------------------------------------------------------------- (b) throughput (runs in a child process)


def load(kind: str, address: Address, threads: int, duration: float, udp_timeout: float) -> dict:
    """T threads asking one service for ``duration`` s after a warm-up; returns the counts."""
    warmup = min(0.3, duration / 5)
    start_at = time.monotonic() + warmup
    stop_at = start_at + duration
    results: list[tuple[int, int, int]] = []  # (answered in window, lost in window, requests in total)
    lock = threading.Lock()

    def tcp_client() -> None:
        ok = lost = total = 0
        while (now := time.monotonic()) < stop_at:
            try:
                with socket.create_connection(address, timeout=2.0) as sock:
                    data = b""
                    while chunk := sock.recv(64):
                        data += chunk
                good = len(data) == 4
            except OSError:
                good = False
            total += 1
            if now >= start_at:
                ok += good
                lost += not good
        with lock:
            results.append((ok, lost, total))

    def udp_client() -> None:
        ok = lost = total = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.settimeout(udp_timeout)
            while (now := time.monotonic()) < stop_at:
                try:
                    sock.send(b"")  # RFC 868: "U: Send an empty datagram to port 37."
                    good = len(sock.recv(64)) == 4
                except OSError:  # timeout, or ICMP port unreachable
                    good = False
                total += 1
                if now >= start_at:
                    ok += good
                    lost += not good
        with lock:
            results.append((ok, lost, total))

    workers = [threading.Thread(target=tcp_client if kind == "tcp" else udp_client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(duration + warmup + 30)
    return {
        "per_second": sum(r[0] for r in results) / duration,
        "lost": sum(r[1] for r in results),
        "requests": sum(r[0] + r[1] for r in results),
        "total": sum(r[2] for r in results),
    }


def measure(pool: ProcessPoolExecutor, kind: str, address: Address, stat_path: str, args: argparse.Namespace, threads: int) -> dict:
    before = cpu_seconds(stat_path)
    result = pool.submit(load, kind, address, threads, args.duration, args.udp_timeout).result(timeout=args.duration + 60)
    after = cpu_seconds(stat_path)
    served = result["total"]
    enough = before is not None and after is not None and after - before >= MIN_CPU and served
    result["cpu_per_request"] = (after - before) / served if enough else None  # too few clock ticks to say
    return result


# ---------------------------------------------------------------- output


def ratio(a: float | None, b: float | None) -> str:
    if a is None or not b:
        return "-"
    r = a / b
    return f"{r:.2f}x" if r >= 0.1 or r == 0 else f"{r:.4f}x (1/{1 / r:.0f})"


def count(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "-"


def micros(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e3:.1f} ms" if seconds >= 0.01 else f"{seconds * 1e6:.0f} us"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations and 1 s phases (~10 s in all)")
    parser.add_argument("-n", "--iterations", type=int, default=None, help="round trips per loop in (a) (default 2000; --quick 300)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per throughput phase in (b) (default 3; --quick 1)")
    parser.add_argument("--threads", type=int, default=4, help="client threads in (b) (default %(default)s)")
    parser.add_argument("--udp-timeout", type=float, default=0.2, help="seconds before a UDP request counts as lost (default %(default)s)")
    parser.add_argument("--no-suite", action="store_true", help="skip the `postel run` of the TCP suite")
    args = parser.parse_args(argv)
    args.iterations = args.iterations or (300 if args.quick else 2000)
    args.duration = args.duration or (1.0 if args.quick else 3.0)
    started = time.perf_counter()

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"postel time benchmark: {now}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")

    server = TimeServer()
    thread = ServerThread(server, "time").start()
    try:
        tcp, udp = server.tcp_address, server.udp_address
        assert udp is not None

        print(f"\n(a) cost per example, against the reference server (in-process ServerThread), N={args.iterations}")
        means = time_alternating(
            {"bare": lambda: bare_round_trip(tcp), "query_tcp": lambda: checked_round_trip(tcp)},
            args.iterations,
        )
        bare = means["bare"]
        print(f"    bare socket round trip        {micros(bare):>10}")
        print(f"    query_tcp + Transcript        {micros(means['query_tcp']):>10}    query_tcp / bare socket = {ratio(means['query_tcp'], bare)}")
        if args.no_suite:
            print("    TCP suite: skipped (--no-suite)")
        else:
            suite = run_suite(tcp)
            print(
                f"    TCP suite, mean of {suite['tests']} tests  {micros(suite['mean']):>10}    suite test / bare socket = {ratio(suite['mean'], bare)}"
                f"  (exit {suite['exit']}, verdicts {', '.join(suite['verdicts'])})"
            )
            print(f"    TCP suite, whole `postel run` {suite['wall']:>8.2f} s    = {suite['wall'] / bare:.0f} bare round trips")

        print(f"\n(b) throughput: {args.threads} client threads in one separate process, {args.duration:g} s per phase")
        reference_stat = f"/proc/self/task/{thread.call(native_thread_id)}/stat"
        phases = [("TCP", "tcp", args.threads), ("UDP", "udp", args.threads), ("UDP", "udp", 1)]
        udp_losses = False
        print(f"    {'':<28}{'reference':>12}{'xinetd':>12}{'xinetd / reference':>20}")
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool, ExitStack() as stack:
            pool.submit(time.sleep, 0).result()  # start the child before any timing
            xinetd, why_not = start_xinetd(stack)
            for label, kind, threads in phases:  # reference and xinetd take turns, phase by phase
                ref = measure(pool, kind, tcp if kind == "tcp" else udp, reference_stat, args, threads)
                xi = None
                if xinetd is not None:
                    xi = measure(pool, kind, ("127.0.0.1", xinetd[0] if kind == "tcp" else xinetd[1]), f"/proc/{xinetd.pid}/stat", args, threads)
                unit = "connections/s" if label == "TCP" else "requests/s"
                rate = xi["per_second"] if xi else None
                cpu = xi["cpu_per_request"] if xi else None
                name = f"{label} {unit}, {threads} thr"
                print(f"    {name:<28}{ref['per_second']:>12.0f}{count(rate):>12}{ratio(rate, ref['per_second']):>20}")
                print(f"    {'  server CPU per request':<28}{micros(ref['cpu_per_request']):>12}{micros(cpu):>12}{ratio(cpu, ref['cpu_per_request']):>20}")
                lost_ref = f"{ref['lost']}/{ref['requests']}"
                lost_xi = f"{xi['lost']}/{xi['requests']}" if xi else "-"
                print(f"    {'  lost (no 4-octet answer)':<28}{lost_ref:>12}{lost_xi:>12}")
                if kind == "udp" and xi and xi["lost"]:
                    udp_losses = True
        if why_not:
            print(f"    xinetd: {why_not}")
        if udp_losses:
            print(
                "    xinetd's UDP losses: after answering a datagram it drains its socket (service.c svc_request -> drain()),\n"
                "    discarding what arrived meanwhile; a client that asks again at once is not answered and waits --udp-timeout."
            )
    finally:
        thread.stop()
    if thread.errors:
        # Not fatal for a benchmark, but worth seeing: the server logged exceptions.
        print(f"\nnote: the reference server logged {len(thread.errors)} exception(s), first: {thread.errors[0]}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    return 0


def start_xinetd(stack: ExitStack):
    """xinetd's time service for the rest of ``stack``, or None and why not."""
    from tests.xinetd_time import XinetdError, XinetdUnavailable, xinetd_time

    try:
        return stack.enter_context(xinetd_time()), ""
    except XinetdUnavailable:
        return None, "xinetd not installed: skipped"
    except XinetdError as exc:
        return None, f"xinetd did not start: skipped ({str(exc).splitlines()[0]})"


async def native_thread_id() -> int:
    """Run on the server's loop: the kernel's ID of its thread, for /proc/self/task/ID/stat."""
    return threading.get_native_id()


if __name__ == "__main__":
    sys.exit(main())
