"""Requests from the grammar, and those requests mutated: the server answers well, never serves garbage, never hangs.

Well-formed requests come from :mod:`postel.protocols.http.strategies`
(methods, paths of RFC 3986 pchar, field names and values of RFC 9110 5.5).
Mutations flip a bit, truncate, insert or delete one octet.  The reference
codec, reading the mutated octets as a server would, says whether they are
still a valid request and, if not, which sentence they break; the server under
test must then not answer 2xx where that sentence demands a rejection.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.http.client import exchange, send_raw
from postel.protocols.http.codec import NEED_DATA, SERVER, Connection
from postel.protocols.http.events import ConnectionClosed, EndOfMessage
from postel.protocols.http.strategies import mutated, requests
from postel.suites.http.checks import describe, expect_answer, fetch, request

pytestmark = pytest.mark.service("http")

# Sentences that leave the server no choice but to reject (the others allow a repair,
# e.g. "reject ... or replace each bare CR with SP").  Codec rule -> the rejection rule.
MUST_REJECT = {
    "rfc9112/5.1/2": "rfc9112/5.1/2",  # whitespace between field name and colon: 400
    "rfc9112/6.3/4": "rfc9112/6.3/5",  # invalid Content-Length: 400, then close
}


def _judge(octets: bytes) -> str | None:
    """The sentence a server-side reading of ``octets`` (then EOF) breaks, or None."""
    codec = Connection(SERVER)
    codec.receive_data(octets)
    codec.receive_data(b"")
    try:
        while True:
            event = codec.next_event()
            if event is NEED_DATA or isinstance(event, (EndOfMessage, ConnectionClosed)):
                return None
    except RemoteProtocolError as exc:
        return exc.requirement


@pytest.mark.requirement("rfc1945/3.1/7", "rfc9110/15/1", "rfc9110/15.2/1", "rfc1945/1.3/1")
@given(pair=requests())
def test_requests_from_the_grammar_get_well_formed_responses(target, wire, expect, pair):
    """Any valid request (any token method, any pchar path, any fields) gets one well-formed response, then close."""
    req, body = pair
    req = request(target, req.method, req.target, version=req.http_version, fields=[f for f in req.headers if f[0] != b"Host"])
    ex = exchange(target.address, wire.transcript("generated request"), req, body, timeout=wire.timeout)
    expect_answer(expect, ex, "rfc1945/3.1/7", "a response (the strict codec checks its grammar)")
    code = ex.response.status_code
    if not ex.response.simple:
        expect.must(100 <= code <= 599, "rfc9110/15/1", expected=["a status code from 100 to 599"], actual=str(code))
        expect.must(code >= 200, "rfc9110/15.2/1", expected=["a final status, not 1xx, to an HTTP/1.x request"], actual=describe(ex))
    if req.http_version == b"1.0":
        expect.must(ex.closed and not ex.timed_out, "rfc1945/1.3/1", expected=["the server closes after the response"], actual="the connection stayed open")


@pytest.mark.requirement("rfc1945/1.3/4", "rfc1945/1.3/3", "rfc9112/5.1/2", "rfc9112/6.3/5")
@given(octets=mutated())
def test_mutated_requests_are_never_served_and_never_hang(target, wire, expect, octets):
    """Sends the mutated octets, half-closes; then checks the server still answers a plain GET."""
    broken = _judge(octets)
    # mutated() never starts from HEAD, so the response is read as a GET's.
    ex = send_raw(target.address, wire.transcript("mutated request"), octets, timeout=wire.timeout, half_close=True)
    expect.must(
        not ex.timed_out,
        "rfc1945/1.3/4",
        expected=["a response or a close once the client has closed its side: the close ends the request"],
        actual=f"nothing and no close within {wire.timeout:g}s after the client's FIN",
    )
    rule = MUST_REJECT.get(broken or "")
    if rule and ex.response is not None and not ex.response.simple:
        expect.must(
            ex.response.status_code // 100 != 2,
            rule,
            expected=[f"a rejection (400): the request breaks {broken}"],
            actual=describe(ex),
        )
    alive = fetch(target, wire, request(target), label="GET after the mutated request")
    expect.should(
        alive.response is not None,
        "rfc1945/1.3/3",
        expected=["the server still answers: a broken request is handled in a predictable fashion"],
        actual=describe(alive),
    )
