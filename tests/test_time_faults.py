"""Proof that the checks catch faults: `postel run` against RFC 868 servers that each break one rule.

Why: a suite that passes the reference server proves nothing by itself -- a
check that never fails passes it too.  Each faulty server in
``tests/faulty_time.py`` breaks one sentence of RFC 868; the run must exit 1,
name that sentence's requirement as failed (in the per-requirement rows, in a
test record and in the printed summary) and fail no other.  Correct servers
and the reference must pass, and a run that cannot do its job must say so in
one line and exit 2.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from postel.protocols.time.codec import EPOCH_OFFSET, from_unix
from tests.faulty_time import FAULTS, serve
from tests import runs
from tests.runs import Caught, assert_all_settled, assert_caught, assert_harness_did_not_break, output, results_of, row_verdicts

TIMEOUT = "timeout=2"
RUN_LIMIT = 180  # seconds; a run that takes longer is hanging


CAUGHT = {
    # "S: Send the time as a 32 bit binary number."
    "eight_bytes": Caught("rfc868/tcp/3"),
    # "The time is the number of seconds since 00:00 (midnight) 1 January 1900 GMT"
    "little_endian": Caught("rfc868/time/1", diagnosis=("little-endian",)),
    "unix_epoch": Caught("rfc868/time/1", diagnosis=("1970", "POSIX")),
    "hour_off": Caught("rfc868/time/1", diagnosis=("+1 h",)),
    # "S: Close the connection." -- and tcp/8, "returns a 32-bit time value and closes the connection"
    "never_closes": Caught("rfc868/tcp/6", also=("rfc868/tcp/8",)),
    # "When the connection is established, the server returns a 32-bit time value"
    "waits_for_client_data": Caught("rfc868/tcp/8"),
    # "When a datagram arrives, the server returns a datagram containing the 32-bit time value."
    "udp_silent": Caught("rfc868/udp/7"),
    "udp_twice": Caught("rfc868/udp/7"),
}


def postel_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Every run with a short per-operation timeout (Hypothesis' database lands in tmp_path too)."""
    return runs.postel_run(tmp_path, *args, "--target-option", TIMEOUT, limit=RUN_LIMIT)


def closed_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- each fault is caught


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT))
def test_fault_fails_the_requirement_it_breaks(fault, tmp_path):
    caught = CAUGHT[fault]
    with serve(fault) as port:
        url = FAULTS[fault].url(port)
        proc = postel_run(tmp_path, url)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results)
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert {t["service"] for t in results["tests"]} == {FAULTS[fault].scheme}
    assert_caught(proc, results, caught)


# ---------------------------------------------------------------- correct servers pass


@pytest.mark.slow
@pytest.mark.parametrize("name", ["correct", "udp_correct"])
def test_correct_server_passes(name, tmp_path):
    with serve(name) as port:
        url = FAULTS[name].url(port)
        proc = postel_run(tmp_path, url)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results)
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert_all_settled(proc, results)
    rows = row_verdicts(results)
    assert rows["rfc868/time/1"] == "pass", rows  # a value was read and judged


@pytest.mark.slow
@pytest.mark.parametrize("url", [None, "time+udp://reference"])
def test_reference_passes(url, tmp_path):
    proc = postel_run(tmp_path, *([url] if url else []))
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results)
    assert results["target"]["reference"]
    assert_all_settled(proc, results)
    services = {t["service"] for t in results["tests"]}
    assert "time+udp" in services
    if url is None:
        from postel.references import implemented_protocols

        # No URL: every implemented protocol's suites, time's two services among them.
        assert services == {"time+udp", *implemented_protocols()}


@pytest.mark.slow
def test_scheme_reference_runs_only_that_service(tmp_path):
    proc = postel_run(tmp_path, "time+udp://reference")
    assert proc.returncode == 0, output(proc)
    assert {t["service"] for t in results_of(tmp_path)["tests"]} == {"time+udp"}


# ---------------------------------------------------------------- could not do its job: exit 2, one line


@pytest.mark.slow
@pytest.mark.parametrize(("scheme", "kind"), [("time", socket.SOCK_STREAM), ("time+udp", socket.SOCK_DGRAM)])
def test_unreachable_target_exits_2_with_one_line(scheme, kind, tmp_path):
    url = f"{scheme}://127.0.0.1:{closed_port(kind)}"
    proc = postel_run(tmp_path, url)
    assert proc.returncode == 2, output(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, output(proc)
    assert lines[0].startswith("postel: ") and url in lines[0], output(proc)
    assert not (tmp_path / "report" / "results.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("bogus://x", "bogus"),
        ("time://h:99999", "99999"),
        ("time://user:pw@host", "credentials"),
        ("time://user:pw@host:99999", "credentials"),
    ],
)
def test_unusable_url_exits_2_with_one_line(url, names, tmp_path):
    proc = postel_run(tmp_path, url)
    assert proc.returncode == 2, output(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, output(proc)
    assert lines[0].startswith("postel: ") and names in lines[0], output(proc)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "pw" not in proc.stdout + proc.stderr, output(proc)


@pytest.mark.slow
def test_password_is_not_printed_when_the_target_is_unreachable(tmp_path):
    port = closed_port()
    proc = postel_run(tmp_path, f"ftp://user:pw@127.0.0.1:{port}/")
    assert proc.returncode == 2, output(proc)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and f"ftp://user:***@127.0.0.1:{port}/" in lines[0], output(proc)
    assert "pw" not in proc.stdout + proc.stderr, output(proc)


# ---------------------------------------------------------------- the faulty servers do what they say
#
# Without these, a fault "caught" above could be a faulty server that is
# broken in some other way than its name says.


def _tcp_exchange(port: int, send: bytes = b"", wait: float = 2.0) -> tuple[bytes, bool]:
    """(bytes received, whether the server closed) within ``wait`` seconds."""
    data, deadline = b"", time.monotonic() + wait
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        if send:
            sock.sendall(send)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                chunk = sock.recv(64)
            except TimeoutError:
                return data, False
            if not chunk:
                return data, True
            data += chunk
    return data, False


def _udp_exchange(port: int, wait: float = 0.5) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        sock.send(b"")
        answers = []
        sock.settimeout(wait)
        while True:
            try:
                answers.append(sock.recv(64))
            except TimeoutError:
                return answers


def _near(value: int, expected: float) -> bool:
    return abs(value - expected) <= 2


def test_correct_server_sends_4_octets_then_closes():
    with serve("correct") as port:
        data, closed = _tcp_exchange(port, send=b"junk\r\n")
    assert closed and len(data) == 4 and _near(int.from_bytes(data, "big"), from_unix(time.time()).seconds)


@pytest.mark.parametrize(
    ("fault", "decode", "expected"),
    [
        ("eight_bytes", lambda d: len(d) == 8 and d[:4] == bytes(4) and int.from_bytes(d, "big"), lambda now: now + EPOCH_OFFSET),
        ("little_endian", lambda d: len(d) == 4 and int.from_bytes(d, "little"), lambda now: now + EPOCH_OFFSET),
        ("unix_epoch", lambda d: len(d) == 4 and int.from_bytes(d, "big"), lambda now: now),
        ("hour_off", lambda d: len(d) == 4 and int.from_bytes(d, "big"), lambda now: now + 3600 + EPOCH_OFFSET),
    ],
)
def test_wrong_value_servers_send_their_fault_and_close(fault, decode, expected):
    with serve(fault) as port:
        data, closed = _tcp_exchange(port)
    value = decode(data)
    assert closed and value is not False and _near(value, expected(time.time())), data.hex()


def test_never_closes_sends_4_octets_and_holds_even_a_half_closed_connection():
    with serve("never_closes") as port:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.shutdown(socket.SHUT_WR)
            data = b""
            while len(data) < 4:
                data += sock.recv(4 - len(data))
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(1)
    assert len(data) == 4


def test_waits_for_client_data_is_silent_until_the_client_sends():
    with serve("waits_for_client_data") as port:
        assert _tcp_exchange(port, wait=0.5) == (b"", False)
        data, closed = _tcp_exchange(port, send=b"\n")
    assert closed and len(data) == 4


@pytest.mark.parametrize(("fault", "count"), [("udp_correct", 1), ("udp_silent", 0), ("udp_twice", 2)])
def test_udp_servers_answer_as_many_times_as_they_say(fault, count):
    with serve(fault) as port:
        answers = _udp_exchange(port)
    assert len(answers) == count and all(len(a) == 4 for a in answers)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_server_stops_cleanly(fault):
    with serve(fault) as port:
        if FAULTS[fault].transport == "tcp":
            held = socket.create_connection(("127.0.0.1", port), timeout=1)  # left open on purpose
    assert not [t for t in threading.enumerate() if t.name == f"faulty-{fault}"]
    if FAULTS[fault].transport == "tcp":
        with held, pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
