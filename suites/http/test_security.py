"""Security as conformance: no file outside the root (RFC 1945 12.5), no starving by slow peers.

Path traversal: RFC 1945 12.5 says a server that maps URIs to files "must
disallow any such construct in the Request-URI if it would otherwise allow
access to a resource outside those intended" (a MUST).  RFC 9110 17.3 names
the same attack without a key word.  Each probe style below is a spelling of
".." that some server once decoded after checking, or never checked.

Slow peers: RFC 9110 17.5 warns of "very long (or very slow) streams of
data" but states no key word; the requirement the check cites is RFC 9110
2.3's "A recipient SHOULD parse a received protocol element defensively",
so a server starved by slowloris peers gets ``warn``, not ``fail``.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import ExitStack

import pytest

from postel.suites.http.checks import describe, fetch, host, request, slow_limit, traversal_goal
from postel.wire import TcpConnection, WireError

pytestmark = pytest.mark.service("http")

# (id, one level up, ...) -- the goal is appended after ``depth`` levels.
STYLES = {
    "plain": b"../",
    "percent-lower": b"%2e%2e/",
    "percent-upper": b"%2E%2E/",
    "half-encoded": b".%2e/",
    "encoded-slash": b"..%2f",
    "encoded-backslash": b"..%5c",
    "double-encoded": b"%252e%252e%252f",
    "overlong-utf8": b"%c0%ae%c0%ae/",
    "dot-dot-semicolon": b"..;/",
}


def _probes(target, style: bytes) -> list[bytes]:
    goal, _marker, levels = traversal_goal(target)
    return [b"/" + style * depth + goal.encode() for depth in range(1, levels + 1)]


@pytest.mark.requirement("rfc1945/12.5/3")
@pytest.mark.parametrize("style", list(STYLES), ids=list(STYLES))
def test_no_path_leads_out_of_the_root(target, wire, expect, style):
    """Every depth of one spelling of "..": none may return the file outside the root."""
    _goal, marker, _levels = traversal_goal(target)
    for path in _probes(target, STYLES[style]):
        ex = fetch(target, wire, request(target, path=path), label=f"GET {path[:60].decode('latin-1')}")
        leaked = ex.response is not None and marker.encode() in ex.body and (ex.response.simple or ex.response.status_code // 100 == 2)
        expect.must(
            not leaked,
            "rfc1945/12.5/3",
            expected=[f"a 4xx for {path.decode('latin-1')}: the construct leads outside the document root"],
            actual=f"{describe(ex)} with the file's content ({marker!r} in the body)",
        )


@pytest.mark.requirement("rfc1945/12.5/2")
def test_a_symlink_does_not_lead_out_of_the_root(target, wire, expect):
    """The reference site has ``/escape``, a symlink to a file beside the root; option ``symlink`` names one elsewhere."""
    path = target.options.get("symlink", "/escape" if target.is_reference else None)
    if path is None:
        expect.not_applicable("no symlink out of the root is known: set --target-option symlink=/path")
    _goal, marker, _levels = traversal_goal(target)
    ex = fetch(target, wire, request(target, path=path.encode()), label=f"GET {path}")
    expect.must(
        not (ex.response is not None and ex.response.status_code // 100 == 2 and marker.encode() in ex.body),
        "rfc1945/12.5/2",
        expected=["404 or 403: the symlink's target was not intended to be served"],
        actual=f"{describe(ex)} with the file's content",
    )


SLOW_PEERS = 32
TRICKLE_EVERY = 0.25  # seconds between two octets of a slowloris peer
SLOW_REQUEST_EVERY = 1.0  # the lone slow request: often enough to beat an idle timeout


def _trickle(conn_sock: socket.socket, stop: threading.Event, head: bytes) -> None:
    """Send ``head`` then one octet of a never-ending field every TRICKLE_EVERY seconds."""
    try:
        conn_sock.sendall(head)
        while not stop.wait(TRICKLE_EVERY):
            conn_sock.sendall(b"a")
    except OSError:
        pass  # the server dropped us: that is allowed


@pytest.mark.requirement("rfc9110/2.3/1")
def test_slow_peers_do_not_starve_other_clients(target, wire, expect):
    """32 slowloris connections trickle a header; meanwhile a plain GET is answered within the deadline."""
    stop = threading.Event()
    head = b"GET / HTTP/1.0\r\nHost: " + host(target) + b"\r\nX-Postel-Slow: "
    with ExitStack() as stack:
        threads = []
        for _ in range(SLOW_PEERS):
            try:
                sock = stack.enter_context(socket.create_connection(target.address, timeout=wire.timeout))
            except OSError:
                break  # a server may refuse connections beyond its limit
            thread = threading.Thread(target=_trickle, args=(sock, stop, head), daemon=True)
            thread.start()
            threads.append(thread)
        stack.callback(stop.set)
        time.sleep(4 * TRICKLE_EVERY)
        ex = fetch(target, wire, request(target), label=f"GET while {len(threads)} slow peers trickle")
        expect.should(
            ex.response is not None,
            "rfc9110/2.3/1",
            expected=[f"a response within {wire.timeout:g}s although {len(threads)} peers send one octet per {TRICKLE_EVERY:g}s"],
            actual=describe(ex),
        )


@pytest.mark.requirement("rfc9110/2.3/1", "rfc9112/8/1")
def test_a_slow_request_is_timed_out(target, wire, expect):
    """One peer trickles a header forever: the server drops it within ``slow_limit`` seconds (408 allowed)."""
    limit = slow_limit(target)
    conn = TcpConnection.connect(target.address, wire.transcript("slowloris peer"), wire.timeout)
    started = time.monotonic()
    received = b""
    with conn:
        try:
            conn.send(b"GET / HTTP/1.0\r\nHost: " + host(target) + b"\r\nX-Postel-Slow: ")
            while time.monotonic() - started < limit:
                conn.send(b"a")
                data = conn.poll(SLOW_REQUEST_EVERY)
                if data == b"":
                    break  # the server closed
                received += data or b""
        except WireError:
            pass  # reset or closed by the server: dropped, as it should be
    elapsed = time.monotonic() - started
    expect.should(
        elapsed < limit,
        "rfc9110/2.3/1",
        expected=[f"the server drops a peer that never finishes its header section within {limit:g}s"],
        actual=f"still reading after {elapsed:.1f}s of one octet per {SLOW_REQUEST_EVERY:g}s",
    )
    if received:
        expect.may(
            received[:5] == b"HTTP/" and received[9:10] == b"4",
            "rfc9112/8/1",
            expected=["408 (Request Timeout) or another 4xx before the close"],
            actual=repr(received[:60]),
        )
