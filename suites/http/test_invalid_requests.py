"""Invalid requests: the server rejects them (4xx), never serves them (2xx), and never answers twice.

Request smuggling (RFC 9112 11.2) lives in the gap between two parsers that
frame one message differently; RFC 9112 6.3 and 6.1 close it by making each
ambiguous framing an error.  Each case below is one sentence of those rules;
where the RFC allows a choice ("reject ... or replace each ... with SP"),
every allowed answer passes and only the others fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.http.client import send_raw
from postel.suites.http.checks import at_level, describe, expect_answer, fetch, host, request, resource

pytestmark = pytest.mark.service("http")


def _only(*codes: int) -> Callable[[int], bool]:
    return lambda code: code in codes


def _classes(*classes: int) -> Callable[[int], bool]:
    return lambda code: code // 100 in classes


@dataclass(frozen=True)
class Invalid:
    id: str
    wire: bytes  # {R}: the resource, {H}: the Host value
    requirement: str
    answer: str  # what the sentence allows, in words
    allowed: Callable[[int], bool]
    # A server that cannot find a version in the request-line may read it as "not specified",
    # i.e. HTTP/0.9 (RFC 1945 3.1), and answer its error as a Simple-Response (the entity body
    # alone, as python's http.server does): allowed, unless that response is the resource itself.
    simple_error_ok: bool = False


LONG_FIELDS = b"".join(b"X-Postel-%03d: %s\r\n" % (i, b"a" * 8000) for i in range(128))  # 1 MiB

CASES = [
    Invalid("space-before-colon", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nX-Postel : 1\r\n\r\n", "rfc9112/5.1/2", "400", _only(400)),
    Invalid("content-length-letters", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: abc\r\n\r\nabc", "rfc9112/6.3/5", "400", _only(400)),
    Invalid("content-length-negative", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: -1\r\n\r\nabc", "rfc9112/6.3/5", "400", _only(400)),
    Invalid(
        "content-length-conflict",
        b"GET {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "rfc9112/6.3/5",
        "400",
        _only(400),
    ),
    Invalid("content-length-list", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: 3, 4\r\n\r\nabcd", "rfc9112/6.3/5", "400", _only(400)),
    # A valid (1*DIGIT) but huge length, so 6.3's 400 does not apply: a 4xx, or the GET's
    # answer (body never read, connection closed) show no overflow.  A wrap to a small
    # length is caught by SMUGGLERS' "content-length-wraps".
    Invalid(
        "content-length-overflow",
        b"GET {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: 18446744073709551617\r\n\r\nabc",
        "rfc9110/8.6/5",
        "a 4xx (400 or 413), or the GET's answer: not a crash or a 5xx",
        _classes(2, 3, 4),
    ),
    Invalid("extra-token-in-request-line", b"GET {R} HTTP/1.0 postel\r\nHost: {H}\r\n\r\n", "rfc9112/3.2/2", "400 (or 301)", _only(400, 301), simple_error_ok=True),
    Invalid("space-in-request-target", b"GET {R} x HTTP/1.0\r\nHost: {H}\r\n\r\n", "rfc9112/3.2/2", "400 (or 301)", _only(400, 301), simple_error_ok=True),
    Invalid("lowercase-http-version", b"GET {R} http/1.0\r\nHost: {H}\r\n\r\n", "rfc9112/2.3/2", "an error, not HTTP/1.0 service", _classes(4, 5), simple_error_ok=True),
    Invalid("bare-cr-in-field", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nX-Postel: a\rb\r\n\r\n", "rfc9112/2.2/4", "400, or the GET's answer (CR read as SP)", _classes(2, 3, 4)),
    Invalid("obs-fold", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nX-Postel: a\r\n b\r\n\r\n", "rfc9112/5.2/2", "400, or the GET's answer (fold read as SP)", _classes(2, 3, 4)),
    Invalid(
        "whitespace-before-first-field",
        b"GET {R} HTTP/1.0\r\n X-Postel: a\r\nHost: {H}\r\n\r\n",
        "rfc9112/2.2/8",
        "400, or the GET's answer (the indented line ignored)",
        _classes(2, 3, 4),
    ),
    Invalid("nul-in-field-value", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nX-Postel: a\x00b\r\n\r\n", "rfc9110/5.5/2", "400, or the GET's answer (NUL read as SP)", _classes(2, 3, 4)),
    Invalid("bare-lf-line-ends", b"GET {R} HTTP/1.0\nHost: {H}\n\n", "rfc9112/2.2/2", "the GET's answer (LF accepted) or 400", _classes(2, 3, 4)),
    Invalid("leading-empty-line", b"\r\nGET {R} HTTP/1.0\r\nHost: {H}\r\n\r\n", "rfc9112/2.2/6", "the GET's answer (the empty line ignored)", _classes(2, 3)),
    Invalid("header-section-1mib", b"GET {R} HTTP/1.0\r\nHost: {H}\r\n" + LONG_FIELDS + b"\r\n", "rfc9110/5.4/1", "431 or another 4xx (or service, if it wishes to process 1 MiB)", _classes(2, 3, 4)),
    Invalid("request-target-100kib", b"GET /" + b"a" * 100_000 + b" HTTP/1.0\r\nHost: {H}\r\n\r\n", "rfc9112/3/4", "414 (or 404 if it parsed the URI)", _only(414, 404)),
    Invalid("method-10kib", b"P" * 10_000 + b" {R} HTTP/1.0\r\nHost: {H}\r\n\r\n", "rfc9112/3/3", "501 (or 414 for the line)", _only(501, 414)),
]


def _wire(case: Invalid, target) -> bytes:
    return case.wire.replace(b"{R}", resource(target)).replace(b"{H}", host(target))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=pytest.mark.requirement(c.requirement)) for c in CASES])
def test_invalid_request_is_rejected_not_served(target, wire, expect, case):
    """Sends the invalid request, half-closes, and judges the one response."""
    ex = send_raw(target.address, wire.transcript(case.id), _wire(case, target), timeout=wire.timeout, half_close=True)
    expect_answer(expect, ex, case.requirement, f"a response: {case.answer}", simple_ok=case.simple_error_ok)
    if ex.response.simple and case.simple_error_ok:
        served = fetch(target, wire, request(target), label="GET, for comparison")
        ok = ex.body != served.body
    else:
        ok = not ex.response.simple and case.allowed(ex.response.status_code)
    at_level(expect, case.requirement)(
        ok,
        case.requirement,
        expected=[case.answer],
        actual=describe(ex),
    )


STATUS_LINE = re.compile(rb"(?m)^HTTP/[0-9]\.[0-9] [0-9]{3}")

SMUGGLERS = [
    # "A server MAY reject a request that contains both Content-Length and Transfer-Encoding ...
    # Regardless, the server MUST close the connection after responding to such a request" -- RFC 9112 6.1
    ("te-and-content-length", b"POST {R} HTTP/1.0\r\nHost: {H}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "rfc9112/6.1/4"),
    # "proxy servers MUST close the underlying connection when rejecting a CONNECT request without
    # processing any further requests on that connection" -- RFC 9931 8
    ("connect-with-optimistic-data", b"CONNECT {H} HTTP/1.0\r\nHost: {H}\r\n\r\n", "rfc9931/8/2"),
    # "A server or client that receives an HTTP/1.0 message containing a Transfer-Encoding header
    # field MUST treat the message as if the framing is faulty, even if a Content-Length is present,
    # and close the connection after processing the message." -- RFC 9112 6.1 (any answer, then close)
    ("transfer-encoding-in-http10", b"GET {R} HTTP/1.0\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", "rfc9112/6.1/5"),
    # 2^64 + 4: a parser that wraps at 64 bits reads "abcd" as the body, then the smuggled GET.
    ("content-length-wraps", b"GET {R} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 18446744073709551620\r\n\r\nabcd", "rfc9110/8.6/5"),
]


@pytest.mark.parametrize(
    ("first", "requirement"),
    [pytest.param(w, r, id=i, marks=pytest.mark.requirement(r)) for i, w, r in SMUGGLERS],
)
def test_no_second_request_is_answered(target, wire, expect, first, requirement):
    """A request that must end the connection, then a smuggled GET: one response, then close."""
    smuggled = b"GET /postel-smuggled HTTP/1.0\r\nHost: {H}\r\n\r\n"
    data = (first + smuggled).replace(b"{R}", resource(target)).replace(b"{H}", host(target))
    transcript = wire.transcript("request + smuggled GET")
    try:
        ex = send_raw(target.address, transcript, data, method=b"POST", timeout=wire.timeout, half_close=True)
        raw, closed = ex.raw, ex.closed and not ex.timed_out
    except RemoteProtocolError:
        raw, closed = transcript.received(), True  # octets after the first response: counted below
    responses = STATUS_LINE.findall(raw)
    if requirement == "rfc9931/8/2" and responses and responses[0][9:10] == b"2":
        expect.not_applicable("the server accepted CONNECT (it is a proxy); the check is for a rejected CONNECT")
    expect.must(
        len(responses) <= 1,
        requirement,
        expected=["one response, then the server closes: the bytes after the request are never a request"],
        actual=f"{len(responses)} responses: {[r.decode() for r in responses]}",
    )
    expect.must(closed, requirement, expected=["the server closes after its response"], actual="the connection stayed open")
