"""Proof that the HTTP checks catch faults: `postel run` against the reference HTTP server with one fault switched on.

Why: a suite that passes the reference server proves nothing by itself -- a
check that never fails passes it too.  Each switch in ``FAULTS`` of
``postel.protocols.http.server`` breaks one rule; a run against that server
must exit 1, name the rule's requirement as failed (in the per-requirement
rows, in a test record and in the printed summary) and fail no requirement
beyond the ones listed in ``CAUGHT`` -- each extra one with the reason it is
right for that fault.  The same server without a fault, run the same way, and
the embedded reference must pass without a single fail or warn.

The faulty servers are run as a third-party target would be (``http://127.0.0.1:PORT/``
with target options naming the sample site), so the suites cannot lean on
knowing they talk to the reference.  The last section checks, with plain
sockets, that each switch does what its name says: a fault "caught" above
could otherwise be a server that is broken in some other way.
"""

from __future__ import annotations

import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from postel.protocols.http.dates import format_http_date, parse_http_date
from postel.protocols.http.server import FAULTS, HttpServer
from postel.protocols.http.site import SECRET_NAME, SECRET_TEXT, make_sample_site
from postel.serving import ServerThread
from tests import runs
from tests.runs import assert_all_settled, assert_caught, assert_harness_did_not_break, results_of, row_verdicts

RUN_LIMIT = 240  # seconds; a run that takes longer is hanging
SLOW_LIMIT = HttpServer.head_timeout + 3  # the reference drops a slowloris peer after head_timeout
NOT_SLOWLORIS = "not slow_request"  # test_a_slow_request_is_timed_out waits out SLOW_LIMIT; no fault is about timeouts


def site_options(timeout: str) -> list[str]:
    """The target options that tell the suites the sample site's paths (see suites/http/checks.py)."""
    options = {
        "resource": "/index.html",
        "directory": "/dir",
        "post": "/_postel/sink",
        "symlink": "/escape",
        # The secret lies one level above the root; the probes climb 1..8 levels, so depth 1 is among them.
        "traversal_file": SECRET_NAME,
        "traversal_marker": SECRET_TEXT,
        "slow_limit": f"{SLOW_LIMIT:g}",
        "timeout": timeout,
    }
    return [arg for key, value in options.items() for arg in ("--target-option", f"{key}={value}")]


@dataclass(frozen=True)
class Caught(runs.Caught):
    """tests/runs.py's Caught, with the target option a fault's run needs."""

    timeout: str = "2"  # the target option "timeout" (seconds per exchange)


CAUGHT = {
    # "If a Content-Length header field is present, its value in bytes represents the length of the Entity-Body."
    # (The strict client reads every response, so every test that fetches something reports it.)
    "wrong_content_length": Caught("rfc1945/7.2.2/1", diagnosis=("1 of the Content-Length octets missing",)),
    # "the server MUST NOT send content in the response" (HEAD).  The strict client reports the
    # octets after the bodiless response as RFC 9110's sentence, before RFC 1945 8.2's check runs.
    "body_on_head": Caught("rfc9110/9.3.2/1", diagnosis=("octets after the end of the response",)),
    # "An origin server with a clock ... MUST generate a Date header field"
    "no_date": Caught("rfc9110/6.6.1/2", diagnosis=("no Date field",)),
    # "HTTP-version is case-sensitive."
    "lowercase_status_line": Caught("rfc9112/2.3/2", diagnosis=("http/1.0 200 ok",)),
    # "If the unrecoverable error is in a request message, the server MUST respond with a 400 ... and then
    # close the connection."  The fault answers 200 to every request the codec refuses before its
    # head is complete, so every invalid-request sentence that allows no 2xx breaks too:
    "ok_for_malformed": Caught(
        "rfc9112/6.3/5",
        also=(
            "rfc9112/5.1/2",  # "Host : x" served: MUST reject whitespace before the colon with 400
            "rfc9112/2.3/2",  # "GET / http/1.0" served as HTTP/1.0: the version is case-sensitive
            "rfc9112/3/4",  # a 100 KiB request-target the codec refuses (over its limit) served: MUST be 414
        ),
        diagnosis=("HTTP/1.0 200 OK",),
    ),
    # "A server MUST reject, with a response status code of 400 (Bad Request), any received request
    # message that contains whitespace between a header field name and colon."
    "space_before_colon_ok": Caught("rfc9112/5.1/2", diagnosis=("HTTP/1.0 200 OK",)),
    # "... closed by the server after sending the response."  Every connection stays open, so the
    # other sentences that make the server close break as well:
    "keep_open": Caught(
        "rfc1945/1.3/1",
        also=(
            "rfc1945/6/3",  # a Simple-Response "is terminated by the server closing the connection"
            "rfc9112/9.6/2",  # HTTP/1.1 with "Connection: close": MUST initiate closure
        ),
        diagnosis=("still open",),
        # Each fetch waits out the timeout for a close that never comes (72 traversal probes alone):
        # a short one keeps the run near a minute.  An answer on loopback takes milliseconds.
        timeout="0.5",
    ),
    # "an HTTP server must disallow any such construct in the Request-URI if it would otherwise allow
    # access to a resource outside those intended"
    "traversal": Caught(
        "rfc1945/12.5/3",
        # The switch also turns off the check that the resolved file lies inside the real root, which is
        # what stops the /escape symlink too: "must take special care not to serve files that were not intended"
        also=("rfc1945/12.5/2",),
        diagnosis=("with the file's content", SECRET_TEXT),
    ),
    # "If an HTTP/1.0 server receives a Simple-Request, it must respond with an HTTP/0.9 Simple-Response."
    "full_response_to_simple_request": Caught("rfc1945/5/1", diagnosis=("a Full-Response", "HTTP/1.0 200")),
    # "If the resource has not been modified since a valid If-Modified-Since date, the server shall return a 304"
    "ignores_if_modified_since": Caught("rfc1945/10.9/4", diagnosis=("HTTP/1.0 200 OK",)),
    # "A server MUST accept the absolute-form in requests"
    "absolute_form_404": Caught("rfc9112/3.2.2/2", diagnosis=("404",)),
    # "Regardless, the server MUST close the connection after responding to such a request" (CL + TE), and
    # RFC 9931 8: "... when rejecting a CONNECT request without processing any further requests on that connection"
    "answers_twice": Caught(
        "rfc9112/6.1/4",
        # Each smuggler of test_invalid_requests.py: a CONNECT, and Transfer-Encoding in HTTP/1.0,
        # must end the connection after the response (RFC 9931 8, RFC 9112 6.1).
        also=("rfc9931/8/2", "rfc9112/6.1/5"),
        diagnosis=("2 responses",),
    ),
    # "the sender MUST generate those timestamps in the IMF-fixdate format"
    "date_in_asctime": Caught("rfc9110/5.6.7/2", diagnosis=("(asctime)",)),
    # An invalid Content-Length is an unrecoverable error: 400, then close (RFC 9112 6.3).
    "ignores_content_length_errors": Caught("rfc9112/6.3/5", diagnosis=("HTTP/1.0 200 OK",)),
}


# ---------------------------------------------------------------- running a server and postel


@contextmanager
def serve(*faults: str) -> Iterator[tuple[str, ServerThread]]:
    """The reference HTTP server on the sample site, with ``faults`` on; yields (url, thread)."""
    with tempfile.TemporaryDirectory(prefix="postel-http-faults-") as folder:
        root = make_sample_site(Path(folder) / "root")  # the secret file lands in ``folder``, beside the root
        thread = ServerThread(HttpServer(root=root, faults=frozenset(faults)), "http").start()
        try:
            host, port = thread.server.address
            yield f"http://{host}:{port}/", thread
        finally:
            thread.stop()


def postel_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return runs.postel_run(tmp_path, *args, limit=RUN_LIMIT)


# ---------------------------------------------------------------- each fault is caught


def _slowest_first(name: str) -> tuple[bool, str]:
    return (name != "keep_open", name)  # xdist hands out tests in order: start the longest run first


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT, key=_slowest_first))
def test_fault_fails_the_requirement_it_breaks(fault, tmp_path):
    caught = CAUGHT[fault]
    with serve(fault) as (url, thread):
        proc = postel_run(tmp_path, url, *site_options(caught.timeout), "-k", NOT_SLOWLORIS)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, [thread])
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert {t["service"] for t in results["tests"]} == {"http"}
    assert_caught(proc, results, caught)


# ---------------------------------------------------------------- the reference passes


@pytest.mark.slow
def test_the_server_without_a_fault_passes_as_a_third_party_target(tmp_path):
    """The control for every fault above: the same server and options, no fault, the whole suite (slowloris too)."""
    with serve() as (url, thread):
        proc = postel_run(tmp_path, url, *site_options("2"))
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, [thread])
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert_all_settled(proc, results)
    rows = row_verdicts(results)
    # The checks the faults fail were reached and decided, not skipped.
    decided = {c.requirement for c in CAUGHT.values()}
    assert {rid: rows[rid] for rid in decided} == dict.fromkeys(decided, "pass")
    assert rows["rfc9110/2.3/1"] == "pass", rows  # the slowloris peer was dropped within the limit


@pytest.mark.slow
def test_the_embedded_reference_passes(tmp_path):
    runs.assert_the_embedded_reference_passes(tmp_path, "http", limit=RUN_LIMIT)


# ---------------------------------------------------------------- every fault has a proof


def test_every_fault_switch_is_caught_and_probed():
    assert sorted(FAULTS) == sorted(CAUGHT)
    assert sorted(FAULTS) == sorted(PROBES)


# ---------------------------------------------------------------- the faults do what they say
#
# Plain sockets, no suite: the raw answer to one request, once with the fault
# and once without.  The predicate must hold for the faulty server only.


def _exchange(url: str, data: bytes, *, half_close: bool, wait: float = 2.0) -> tuple[bytes, bool]:
    """(octets received, whether the server closed) within ``wait`` seconds."""
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    received, deadline = b"", time.monotonic() + wait
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            if not chunk:
                return received, True
            received += chunk
    return received, False


def _head_and_body(raw: bytes) -> tuple[bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def _field(raw: bytes, name: bytes) -> bytes | None:
    match = re.search(rb"(?im)^" + re.escape(name) + rb":[ \t]*([^\r\n]*)", _head_and_body(raw)[0])
    return match[1] if match else None


def _date_form(raw: bytes) -> str | None:
    value = _field(raw, b"Date")
    return parse_http_date(value)[1] if value is not None else None


INDEX = b"/index.html"
GET = b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n"
TOMORROW = format_http_date(time.time() + 86400).encode()  # after any Last-Modified of the sample site


@dataclass(frozen=True)
class Probe:
    request: Callable[[str], bytes]  # from the server's URL
    faulty: Callable[[bytes, bool], bool]  # (octets, closed) -> the deviation is there
    half_close: bool = True
    wait: float = 2.0


PROBES = {
    "wrong_content_length": Probe(
        lambda url: GET, lambda raw, closed: _field(raw, b"Content-Length") == str(len(_head_and_body(raw)[1]) + 1).encode()
    ),
    "body_on_head": Probe(lambda url: GET.replace(b"GET", b"HEAD", 1), lambda raw, closed: _head_and_body(raw)[1] != b""),
    "no_date": Probe(lambda url: GET, lambda raw, closed: raw.startswith(b"HTTP/1.0 200") and _field(raw, b"Date") is None),
    "lowercase_status_line": Probe(lambda url: GET, lambda raw, closed: raw.startswith(b"http/1.0 200 ok\r\n")),
    "ok_for_malformed": Probe(lambda url: b"GET /index.html http/1.0\r\nHost: x\r\n\r\n", lambda raw, closed: raw.startswith(b"HTTP/1.0 200 ")),
    "space_before_colon_ok": Probe(lambda url: b"GET /index.html HTTP/1.0\r\nHost : x\r\n\r\n", lambda raw, closed: raw.startswith(b"HTTP/1.0 200 ")),
    "keep_open": Probe(lambda url: GET, lambda raw, closed: raw.startswith(b"HTTP/1.0 200 ") and not closed, half_close=False, wait=1.0),
    "traversal": Probe(
        lambda url: b"GET /../" + SECRET_NAME.encode() + b" HTTP/1.0\r\nHost: x\r\n\r\n",
        lambda raw, closed: raw.startswith(b"HTTP/1.0 200 ") and SECRET_TEXT.encode() in raw,
    ),
    "full_response_to_simple_request": Probe(lambda url: b"GET /index.html\r\n", lambda raw, closed: raw.startswith(b"HTTP/1.0 200 "), half_close=False),
    "ignores_if_modified_since": Probe(
        lambda url: b"GET /index.html HTTP/1.0\r\nHost: x\r\nIf-Modified-Since: %s\r\n\r\n" % TOMORROW,
        lambda raw, closed: raw.startswith(b"HTTP/1.0 200 "),
    ),
    "absolute_form_404": Probe(lambda url: b"GET " + url.rstrip("/").encode() + INDEX + b" HTTP/1.0\r\n\r\n", lambda raw, closed: raw.startswith(b"HTTP/1.0 404 ")),
    "answers_twice": Probe(
        lambda url: b"CONNECT x:1 HTTP/1.0\r\nHost: x:1\r\n\r\n" + GET,
        lambda raw, closed: len(re.findall(rb"(?m)^HTTP/1\.0 [0-9]{3} ", raw)) == 2,
    ),
    "date_in_asctime": Probe(lambda url: GET, lambda raw, closed: _date_form(raw) == "asctime"),
    "ignores_content_length_errors": Probe(
        lambda url: b"GET /index.html HTTP/1.0\r\nHost: x\r\nContent-Length: abc\r\n\r\nabc",
        lambda raw, closed: raw.startswith(b"HTTP/1.0 200 ") and b"<title>postel</title>" in raw,
    ),
}


@pytest.mark.parametrize("fault", sorted(PROBES))
def test_the_fault_switch_makes_the_server_deviate(fault):
    probe = PROBES[fault]
    answers = {}
    for faults in ((fault,), ()):
        with serve(*faults) as (url, thread):
            answers[faults] = _exchange(url, probe.request(url), half_close=probe.half_close, wait=probe.wait)
        assert not thread.errors, f"the server with {faults or 'no fault'} raised: {thread.errors}"
    assert probe.faulty(*answers[(fault,)]), f"{fault} is on, but the server answered as if not: {answers[(fault,)]}"
    assert not probe.faulty(*answers[()]), f"the reference shows {fault}'s deviation: {answers[()]}"
