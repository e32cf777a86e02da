"""RFC 868 codec: the RFC's worked values, the 2036 wrap both ways, strict reading, the state table."""

from __future__ import annotations

import datetime
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.time import codec
from postel.protocols.time.codec import (
    CLIENT,
    SERVER,
    Connection,
    ConnectionClosed,
    NEED_DATA,
    TimeValue,
    decode_datagram,
    encode_datagram,
    from_datetime,
    to_datetime,
)
from postel.protocols.time.strategies import moments, time_values
from tests.helpers import feed_three_ways

UTC = datetime.UTC

# "the time 2,208,988,800 corresponds to 00:00 1 Jan 1970 GMT, ..." -- RFC 868, The Time
RFC_EXAMPLES = [
    (2_208_988_800, datetime.datetime(1970, 1, 1, tzinfo=UTC)),
    (2_398_291_200, datetime.datetime(1976, 1, 1, tzinfo=UTC)),
    (2_524_521_600, datetime.datetime(1980, 1, 1, tzinfo=UTC)),
    (2_629_584_000, datetime.datetime(1983, 5, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("seconds", "moment"), RFC_EXAMPLES)
def test_rfc_worked_examples(seconds, moment):
    assert from_datetime(moment) == TimeValue(seconds)
    assert to_datetime(TimeValue(seconds)) == moment


def test_rfc_negative_example_is_outside_the_32_bit_value():
    """"-1,297,728,000 corresponds to 00:00 17 Nov 1858": not representable in an unsigned 32-bit value."""
    with pytest.raises(LocalProtocolError):
        TimeValue(-1_297_728_000)


def test_the_2036_wrap_both_ways():
    wrap = datetime.datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC)
    assert from_datetime(wrap) == TimeValue(0)
    assert to_datetime(TimeValue(0)) == wrap
    assert to_datetime(TimeValue(2**32 - 1)) == wrap - datetime.timedelta(seconds=1)
    assert encode_datagram(from_datetime(wrap + datetime.timedelta(seconds=1))) == b"\x00\x00\x00\x01"


def test_the_pivot_is_1968():
    pivot = datetime.datetime(1968, 1, 20, 3, 14, 8, tzinfo=UTC)
    assert to_datetime(TimeValue(2**31)) == pivot
    assert to_datetime(TimeValue(2**31 - 1)).year == 2104


@given(moments())
def test_any_moment_in_the_window_round_trips(moment):
    assert to_datetime(decode_datagram(encode_datagram(from_datetime(moment)))) == moment


@given(time_values())
def test_any_value_round_trips_through_the_wire(value):
    wire = encode_datagram(value)
    assert len(wire) == 4 and int.from_bytes(wire, "big") == value.seconds
    assert decode_datagram(wire) == value


@pytest.mark.parametrize("seconds", [-1, 2**32, 1.5, "0"])
def test_values_outside_32_bits_are_refused(seconds):
    with pytest.raises(LocalProtocolError):
        TimeValue(seconds)


def test_client_reads_value_then_close_whole_bytewise_and_split():
    wire = encode_datagram(TimeValue(3_000_000_000))
    for events in feed_three_ways(lambda: Connection(CLIENT), wire, NEED_DATA):
        assert events == [TimeValue(3_000_000_000), ConnectionClosed(sent_time=True)]


def test_client_sees_close_without_value():
    for events in feed_three_ways(lambda: Connection(CLIENT), b"", NEED_DATA):
        assert events == [ConnectionClosed(sent_time=False)]


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 4, b"\r\n"])
def test_more_than_four_octets_is_tcp3(extra):
    client = Connection(CLIENT)
    client.receive_data(b"\x83\xaa\x7e\x80" + extra)
    assert client.next_event() == TimeValue(2_208_988_800)
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    assert info.value.requirement == "rfc868/tcp/3"
    assert client.state is codec.ERROR
    with pytest.raises(RemoteProtocolError):
        client.next_event()


@pytest.mark.parametrize("short", [b"\x01", b"\x01\x02", b"\x01\x02\x03"])
def test_fewer_than_four_octets_then_close_is_tcp3(short):
    client = Connection(CLIENT)
    client.receive_data(short)
    assert client.next_event() is NEED_DATA
    client.receive_data(b"")
    with pytest.raises(RemoteProtocolError, match="of 4 octets") as info:
        client.next_event()
    assert info.value.requirement == "rfc868/tcp/3"


@pytest.mark.parametrize("size", [0, 3, 5, 8])
def test_udp_datagram_of_wrong_size_is_udp4(size):
    with pytest.raises(RemoteProtocolError) as info:
        decode_datagram(b"\x00" * size)
    assert info.value.requirement == "rfc868/udp/4"


def test_server_sends_value_and_ignores_client_data():
    server = Connection(SERVER)
    server.receive_data(b"junk from a confused client")
    assert server.next_event() is NEED_DATA
    assert server.send(TimeValue(1)) == b"\x00\x00\x00\x01"
    with pytest.raises(LocalProtocolError):
        server.send(TimeValue(2))  # one value per connection


def test_client_role_cannot_send():
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send(TimeValue(1))


STATES = [codec.SEND_TIME, codec.CLOSE, codec.CLOSED]
EVENTS = [TimeValue(7), ConnectionClosed(sent_time=True)]


@pytest.mark.parametrize(("state", "event"), list(itertools.product(STATES, EVENTS)))
def test_every_state_and_event_is_in_the_table_or_refused(state, event):
    """h2's habit: the table either has the transition, or the codec refuses it."""
    server = Connection(SERVER)
    server.state = state
    if type(event) in codec.TRANSITIONS.get(state, {}):
        server.send(event)
        assert server.state is codec.TRANSITIONS[state][type(event)]
    else:
        with pytest.raises(LocalProtocolError):
            server.send(event)
        assert server.state is state


@given(st.binary(max_size=12))
def test_client_never_raises_anything_but_remote_protocol_error(data):
    """"If this method raises any exception besides RemoteProtocolError then that's a bug" (h11)."""
    client = Connection(CLIENT)
    client.receive_data(data)
    client.receive_data(b"")
    try:
        while True:
            event = client.next_event()
            if isinstance(event, ConnectionClosed):
                break
            assert event is not NEED_DATA
    except RemoteProtocolError as exc:
        assert exc.requirement == "rfc868/tcp/3"
        assert len(data) != 4
    else:
        assert len(data) in (0, 4)
