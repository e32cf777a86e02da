"""Hypothesis strategies for RFC 868, from its one rule: a 32-bit count of seconds since 1900."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st

from postel.protocols.time.codec import PIVOT, WRAP, TimeValue

__all__ = ["client_junk", "datagram_payloads", "moments", "time_values"]


def time_values() -> st.SearchStrategy[TimeValue]:
    """Any 32-bit value, with the edges (0, the pivot, 2**32 - 1) tried first."""
    return st.one_of(st.sampled_from([0, 1, PIVOT - 1, PIVOT, WRAP - 1]), st.integers(0, WRAP - 1)).map(TimeValue)


def moments() -> st.SearchStrategy[datetime.datetime]:
    """Whole-second UTC instants in the window the pivot can read: 1968-01-20T03:14:08Z .. 2104."""
    return st.datetimes(
        min_value=datetime.datetime(1968, 1, 20, 3, 14, 8),
        max_value=datetime.datetime(2104, 2, 26, 9, 42, 23),
    ).map(lambda d: d.replace(microsecond=0, tzinfo=datetime.UTC))


def client_junk() -> st.SearchStrategy[bytes]:
    """What a confused client might send before reading: text commands, binary, a lone newline."""
    return st.one_of(
        st.sampled_from([b"\r\n", b"GET / HTTP/1.0\r\n\r\n", b"\x00" * 4, b"time\n"]),
        st.binary(min_size=1, max_size=512),
    )


def datagram_payloads() -> st.SearchStrategy[bytes]:
    """Non-empty request datagrams: "When a datagram arrives" covers any datagram."""
    return st.one_of(st.sampled_from([b"\x00", b"\n", b"\x00" * 4]), st.binary(min_size=1, max_size=512))
