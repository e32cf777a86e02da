"""What the HTTP suites share: which resource to ask for, how to ask, and the checks many tests make.

A third-party target names its resources with target options (``--target-option k=v``):

- ``resource``: a path that serves a file (default: the URL's path, else ``/``);
- ``directory``: a directory path without its trailing slash, for the redirect check;
- ``post``: a path that accepts POST (the reference's sink);
- ``traversal_file``/``traversal_marker``: a file outside the document root and
  a string in it (default ``/etc/passwd`` and ``root:``);
- ``slow_limit``: seconds within which the server must drop a slowloris peer.

The embedded reference server serves :mod:`postel.protocols.http.site`, so its
defaults are that site's files.
"""

from __future__ import annotations

import datetime
import secrets
import time

from postel.protocols.http.client import Exchange, exchange, send_raw
from postel.protocols.http.dates import DateError, parse_http_date
from postel.protocols.http.events import Request
from postel.protocols.http.server import SINK_PATH
from postel.references import HTTP_HEAD_TIMEOUT
from postel.requirements import Level
from postel.protocols.http.site import SAMPLE_RESOURCE, SECRET_NAME, SECRET_TEXT
from postel.session import Wire
from postel.target import Target
from postel.verdict import Expect

REFERENCE_HEAD_TIMEOUT = HTTP_HEAD_TIMEOUT  # the embedded reference drops a head that takes longer
DATE_TOLERANCE = 60.0  # seconds between the server's Date and our clock; target option "tolerance"


def resource(target: Target) -> bytes:
    """A path the server answers with 200 and a file."""
    if "resource" in target.options:
        return target.options["resource"].encode()
    if target.is_reference:
        return SAMPLE_RESOURCE.encode()
    return (target.path or "/").encode()


def directory(target: Target) -> bytes | None:
    if "directory" in target.options:
        return target.options["directory"].rstrip("/").encode()
    return b"/dir" if target.is_reference else None


def post_path(target: Target) -> bytes | None:
    if "post" in target.options:
        return target.options["post"].encode()
    return SINK_PATH.encode() if target.is_reference else None


def missing(target: Target) -> bytes:
    """A path no server has: a random name beside the resource."""
    base = resource(target).rsplit(b"/", 1)[0]
    return base + b"/postel-missing-" + secrets.token_hex(6).encode()


def traversal_goal(target: Target) -> tuple[str, str, int]:
    """(file outside the root, marker in it, how many levels up the root may be)."""
    if target.is_reference and "traversal_file" not in target.options:
        return SECRET_NAME, SECRET_TEXT, 1
    path = target.options.get("traversal_file", "/etc/passwd").lstrip("/")
    return path, target.options.get("traversal_marker", "root:"), 8


def slow_limit(target: Target) -> float:
    """Seconds within which a peer that never finishes its request must be dropped."""
    if "slow_limit" in target.options:
        return float(target.options["slow_limit"])
    return REFERENCE_HEAD_TIMEOUT + 3.0 if target.is_reference else 75.0  # nginx: client_header_timeout 60s


def host(target: Target) -> bytes:
    hostname, port = target.address
    hostname = f"[{hostname}]" if ":" in hostname else hostname
    return f"{hostname}:{port}".encode()


def request(target: Target, method: bytes = b"GET", path: bytes | None = None, *, version: bytes = b"1.0", fields=()) -> Request:
    """An HTTP/1.0 request with Host (harmless in 1.0, and what name-based servers need)."""
    return Request(method, resource(target) if path is None else path, version, [(b"Host", host(target)), *fields])


def fetch(target: Target, wire: Wire, req: Request, body: bytes = b"", label: str | None = None) -> Exchange:
    label = label or f"{req.method.decode()} {req.target[:60].decode('latin-1')}"
    return exchange(target.address, wire.transcript(label), req, body, timeout=wire.timeout)


def send(target: Target, wire: Wire, data: bytes, label: str, *, method: bytes = b"GET", half_close: bool = True) -> Exchange:
    """Octets as they are, then half-close: the server has all we will send."""
    return send_raw(target.address, wire.transcript(label), data, method=method, timeout=wire.timeout, half_close=half_close)


def describe(ex: Exchange) -> str:
    if ex.response is None:
        if ex.timed_out:
            return "no response, and the connection still open when the deadline passed"
        return "the server closed the connection without a response"
    r = ex.response
    if r.simple:
        return f"a Simple-Response (no status-line) of {len(ex.body)} octets"
    return f"HTTP/{r.http_version.decode()} {r.status_code} {r.reason.decode('latin-1')}"


def at_level(expect: Expect, requirement: str):
    """The check of ``requirement``'s own level, for helpers that serve tests of every level."""
    level = expect.requirements[requirement].level
    return {Level.MUST: expect.must, Level.SHOULD: expect.should, Level.MAY: expect.may}[level]


def expect_answer(expect: Expect, ex: Exchange, requirement: str, what: str = "a response", *, simple_ok: bool = False) -> None:
    """The server answered at all; a silent or vanished server broke ``requirement``.

    A response without a readable Status-Line (lowercase "http/1.0", garbage)
    is the status-line test's to fail; every other check cannot tell its
    status, head or body apart, so it is inconclusive, never blamed.
    """
    at_level(expect, requirement)(ex.response is not None, requirement, expected=[what], actual=describe(ex))
    if ex.response is None:
        expect.inconclusive(f"no response to judge: {describe(ex)}")
    if ex.response.simple and not simple_ok:
        expect.inconclusive(f"the response has no readable Status-Line ({ex.raw[:40]!r}): test_status_line_is_http_version_code_reason judges that")


def expect_closed(expect: Expect, ex: Exchange, requirement: str, timeout: float) -> None:
    at_level(expect, requirement)(
        ex.closed and not ex.timed_out,
        requirement,
        expected=["the server closes the connection after sending the response"],
        actual=f"the connection was still open {timeout:g}s after the response began",
    )


def expect_date(expect: Expect, target: Target, ex: Exchange) -> None:
    """Date present (RFC 9110 6.6.1), in IMF-fixdate (5.6.7), and about now."""
    assert ex.response is not None
    status = ex.response.status_code
    value = ex.response.headers.get(b"date")
    expect.must(
        value is not None,
        "rfc9110/6.6.1/2",
        expected=[f"a Date field in the {status} response (a 2xx, 3xx or 4xx from an origin server with a clock)"],
        actual=f"no Date field among {[n.decode('latin-1') for n, _ in ex.response.headers]}",
    )
    assert value is not None
    try:
        moment, form = parse_http_date(value)
    except DateError as exc:
        moment, form = None, str(exc)
    expect.must(
        form == "imf-fixdate",
        "rfc9110/5.6.7/2",
        expected=["Date in IMF-fixdate, e.g. 'Sun, 06 Nov 1994 08:49:37 GMT'"],
        actual=f"Date: {value.decode('latin-1')} ({form})",
    )
    assert moment is not None
    allowed = float(target.options.get("tolerance", DATE_TOLERANCE))
    offset = moment.timestamp() - time.time()
    expect.should(
        abs(offset) <= allowed,
        "rfc9110/6.6.1/1",
        expected=[f"the time the message was generated, within {allowed:g}s of the harness's clock"],
        actual=f"Date: {value.decode('latin-1')}, {offset:+.0f}s from {datetime.datetime.now(datetime.UTC):%H:%M:%S} GMT",
    )


def expect_length_of_get(expect: Expect, ex: Exchange, get_body: bytes, requirement: str) -> None:
    """A bodiless response (HEAD, 304) may send Content-Length only as the GET's content would have it (RFC 9110 8.6)."""
    assert ex.response is not None
    length = ex.response.headers.get(b"content-length")
    expect.must(
        length is None or length == str(len(get_body)).encode(),
        requirement,
        expected=[f"no Content-Length, or Content-Length: {len(get_body)} (what GET sends)"],
        actual=f"Content-Length: {length.decode('latin-1') if length else ''}",
    )


def status_class(ex: Exchange) -> int:
    return ex.response.status_code // 100 if ex.response is not None and not ex.response.simple else 0


def field_names(ex: Exchange) -> set[bytes]:
    assert ex.response is not None
    return {name.lower() for name, _ in ex.response.headers}
