"""HTTP codec: one case table for both directions, every input fed three ways (h11's habit)."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.http.codec import CLIENT, NEED_DATA, SERVER, Connection
from postel.protocols.http.dates import DateError, format_http_date, parse_http_date
from postel.protocols.http.events import ConnectionClosed, Data, EndOfMessage, Request, Response
from postel.protocols.http.requirements import REQ
from postel.protocols.http.strategies import mutated, requests
from postel.protocols.http.targets import TargetError, parse_request_target
from tests.helpers import feed_three_ways, merge_data

# (event, octets) pairs: the client writes the octets from the event and the
# server reads the event back from them.
REQUEST_CASES = [
    (Request(b"GET", b"/", b"1.0"), b"", b"GET / HTTP/1.0\r\n\r\n"),
    (Request(b"GET", b"/a?b=c", b"1.1", [(b"Host", b"example.com"), (b"Accept", b"*/*")]), b"", b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
    (Request(b"POST", b"/_postel/sink", b"1.0", [(b"Content-Length", b"5")]), b"hello", b"POST /_postel/sink HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"),
    (Request(b"GET", b"/old", simple=True), b"", b"GET /old\r\n"),
]


@pytest.mark.parametrize(("request_event", "body", "wire"), REQUEST_CASES)
def test_requests_written_and_read_back(request_event, body, wire):
    client = Connection(CLIENT)
    written = client.send(request_event) + (client.send(Data(body)) if body else b"") + client.send(EndOfMessage())
    assert written == wire
    expected = [request_event] + ([Data(body)] if body else []) + [EndOfMessage()]
    for events in feed_three_ways(lambda: Connection(SERVER), wire, NEED_DATA, eof=False):
        merged = merge_data(events, Data)
        assert merged == expected


RESPONSE_CASES = [
    (b"GET", Response(200, b"OK", b"1.0", [(b"Content-Length", b"2")]), b"hi", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"),
    (b"HEAD", Response(200, b"OK", b"1.0", [(b"Content-Length", b"2")]), b"", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n"),
    (b"GET", Response(304, b"Not Modified", b"1.0", []), b"", b"HTTP/1.0 304 Not Modified\r\n\r\n"),
    (b"GET", Response(200, b"OK", b"1.0", []), b"until close", b"HTTP/1.0 200 OK\r\n\r\nuntil close"),
]


@pytest.mark.parametrize(("method", "response", "body", "wire"), RESPONSE_CASES)
def test_responses_written_and_read_back(method, response, body, wire):
    server = Connection(SERVER)
    server.receive_data(b"%s / HTTP/1.0\r\n\r\n" % method)
    while server.next_event() is not NEED_DATA:
        pass
    written = server.send(response) + (server.send(Data(body)) if body else b"") + server.send(EndOfMessage())
    assert written == wire

    def client():
        codec = Connection(CLIENT)
        codec.send(Request(method, b"/"))
        codec.send(EndOfMessage())
        return codec

    for events in feed_three_ways(client, wire, NEED_DATA):
        assert merge_data(events, Data) == [response] + ([Data(body)] if body else []) + [EndOfMessage(), ConnectionClosed()]


def _read_request(wire: bytes):
    server = Connection(SERVER)
    server.receive_data(wire)
    events = []
    while (event := server.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, EndOfMessage):
            break
    return events


@pytest.mark.parametrize(
    ("wire", "requirement", "status"),
    [
        (b"GET / HTTP/1.0\r\nHost : x\r\n\r\n", "space_before_colon", 400),
        (b"GET / HTTP/1.0\r\nHost\t: x\r\n\r\n", "space_before_colon", 400),
        (b"GET / HTTP/1.0\r\nContent-Length: 1, 2\r\n\r\nab", "content_length_invalid", 400),
        (b"GET / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "content_length_invalid", 400),
        (b"GET / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", "content_length_invalid", 400),
        (b"GET / HTTP/1.0\r\nContent-Length: 0x10\r\n\r\n", "content_length_invalid", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "te_in_http10", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "te_unknown", 501),
        (b"GET /\rx HTTP/1.0\r\n\r\n", "bare_cr", 400),
        (b"GET / HTTP/1.0\r\nX: a\rb\r\n\r\n", "bare_cr", 400),
        (b"GET / HTTP/1.0\r\n Folded: x\r\n\r\n", "start_line_whitespace", 400),
        (b"GET  / HTTP/1.0\r\n\r\n", "request_grammar", 400),
        (b"get / HTTP/1.0 x\r\n\r\n", "request_grammar", 400),
        (b"GET / HTTP/1.0\r\nNo colon here\r\n\r\n", "field_grammar", 400),
        (b"GET / HTTP/1.0\r\nX: a\x00b\r\n\r\n", "field_grammar", 400),
        (b"GET / HTTP/1.0\r\nB@d: x\r\n\r\n", "field_grammar", 400),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.0\r\n\r\n", "request_line_length", 414),
        (b"GET / HTTP/1.0\r\n" + b"X: " + b"a" * 20000 + b"\r\n\r\n", "header_too_large", 431),
    ],
)
def test_invalid_requests_name_the_rule_and_the_status(wire, requirement, status):
    with pytest.raises(RemoteProtocolError) as info:
        _read_request(wire)
    assert info.value.requirement == REQ[requirement]
    assert info.value.reply_hint == status


def test_obs_fold_is_replaced_with_a_space():
    request = _read_request(b"GET / HTTP/1.0\r\nX: a\r\n  b\r\n\r\n")[0]
    assert request.headers.get(b"x") == b"a b"


def test_identical_content_lengths_are_one():
    events = _read_request(b"POST / HTTP/1.0\r\nContent-Length: 2, 2\r\n\r\nab")
    assert Data(b"ab") in events


def test_leading_empty_lines_and_bare_lf_are_tolerated():
    request = _read_request(b"\r\n\nGET / HTTP/1.0\nHost: x\n\n")[0]
    assert (request.method, request.headers.get(b"host")) == (b"GET", b"x")


def test_a_response_shorter_than_its_content_length_is_incomplete():
    client = Connection(CLIENT)
    client.send(Request(b"GET", b"/"))
    client.send(EndOfMessage())
    client.receive_data(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nabc")
    client.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as info:
        while client.next_event() is not NEED_DATA:
            pass
    assert info.value.requirement == REQ["response_length"]


def test_a_request_shorter_than_its_content_length_is_incomplete():
    server = Connection(SERVER)
    server.receive_data(b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nabc")
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as info:
        while server.next_event() is not NEED_DATA:
            pass
    assert info.value.requirement == REQ["incomplete_body"]


@pytest.mark.parametrize(
    ("method", "head", "rule"),
    [
        (b"HEAD", b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", "body_on_head"),
        (b"GET", b"HTTP/1.0 304 Not Modified\r\n\r\n", "body_on_bodiless_status"),
        (b"GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhe", "content_length_value"),
    ],
)
def test_octets_after_the_end_of_a_response_name_the_rule_they_break(method, head, rule):
    client = Connection(CLIENT)
    client.send(Request(method, b"/"))
    client.send(EndOfMessage())
    client.receive_data(head + b"llo")
    with pytest.raises(RemoteProtocolError) as info:
        while client.next_event() is not NEED_DATA:
            pass
    assert info.value.requirement == REQ[rule]


def test_octets_after_a_length_delimited_response_are_reported():
    client = Connection(CLIENT)
    client.send(Request(b"GET", b"/"))
    client.send(EndOfMessage())
    client.receive_data(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhelloworld")
    with pytest.raises(RemoteProtocolError) as info:
        while client.next_event() is not NEED_DATA:
            pass
    assert info.value.requirement == REQ["content_length_value"]


def test_simple_response_is_recognised():
    client = Connection(CLIENT)
    client.send(Request(b"GET", b"/", simple=True))
    client.receive_data(b"<html>hi</html>")
    client.receive_data(b"")
    events = []
    while (event := client.next_event()) is not NEED_DATA:
        events.append(event)
        if isinstance(event, ConnectionClosed):
            break
    assert events[0].simple and Data(b"<html>hi</html>") in events


def test_sender_cannot_exceed_or_fall_short_of_its_content_length():
    server = Connection(SERVER)
    server.receive_data(b"GET / HTTP/1.0\r\n\r\n")
    while server.next_event() is not NEED_DATA:
        pass
    server.send(Response(200, b"OK", headers=[(b"Content-Length", b"2")]))
    with pytest.raises(LocalProtocolError):
        server.send(Data(b"abc"))
    server.send(Data(b"a"))
    with pytest.raises(LocalProtocolError):
        server.send(EndOfMessage())


@given(requests())
def test_any_generated_request_round_trips(pair):
    request, body = pair
    client = Connection(CLIENT)
    wire = client.send(request) + (client.send(Data(body)) if body else b"") + client.send(EndOfMessage())
    events = merge_data(_read_request(wire), Data)
    assert events[0] == request
    assert events[-1] == EndOfMessage()


@given(mutated())
def test_a_mutated_request_is_read_or_refused_with_a_remote_error(wire):
    """"If this method raises any exception besides RemoteProtocolError then that's a bug" (h11)."""
    server = Connection(SERVER)
    server.receive_data(wire)
    server.receive_data(b"")
    try:
        for _ in range(10):
            event = server.next_event()
            if event is NEED_DATA or isinstance(event, ConnectionClosed):
                break
    except RemoteProtocolError as exc:
        assert exc.requirement is not None and exc.reply_hint is not None


# ---------------------------------------------------------------- dates


def test_the_three_date_formats_of_rfc_9110():
    moment = datetime.datetime(1994, 11, 6, 8, 49, 37, tzinfo=datetime.UTC)
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == (moment, "imf-fixdate")
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)) == (moment, "rfc850")
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == (moment, "asctime")
    assert format_http_date(moment) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_two_digit_years_more_than_50_years_ahead_are_in_the_past():
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    assert parse_http_date("Wednesday, 01-Jan-76 00:00:00 GMT", now=now)[0].year == 2076
    assert parse_http_date("Saturday, 01-Jan-77 00:00:00 GMT", now=now)[0].year == 1977


@pytest.mark.parametrize("text", ["Mon, 06 Nov 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "yesterday", "Sun, 31 Feb 1994 08:49:37 GMT"])
def test_invalid_dates_are_refused(text):
    with pytest.raises(DateError):
        parse_http_date(text)


@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(9999, 1, 1)))
def test_imf_fixdate_round_trips(moment):
    moment = moment.replace(microsecond=0, tzinfo=datetime.UTC)
    assert parse_http_date(format_http_date(moment)) == (moment, "imf-fixdate")


# ---------------------------------------------------------------- request targets


@pytest.mark.parametrize(
    ("target", "segments"),
    [(b"/", []), (b"/a/b.txt", ["a", "b.txt"]), (b"/a%20b/", ["a b"]), (b"http://h:1/x?y", ["x"]), (b"/caf%C3%A9", ["café"])],
)
def test_targets_decode_per_segment(target, segments):
    assert parse_request_target(target).segments() == segments


@pytest.mark.parametrize("target", [b"/../etc/passwd", b"/a/%2e%2e/b", b"/%2E%2E/x", b"/a%2Fb", b"/a%5cb", b"/a%00", b"/%zz", b"/./x"])
def test_traversal_and_encoded_separators_are_refused(target):
    with pytest.raises(TargetError):
        parse_request_target(target).segments()


def test_forms():
    assert parse_request_target(b"*", b"OPTIONS").form == "asterisk"
    assert parse_request_target(b"example.com:443", b"CONNECT").form == "authority"
    assert parse_request_target(b"http://example.com").path == b"/"
    with pytest.raises(TargetError):
        parse_request_target(b"ftp://example.com/")
