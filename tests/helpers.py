"""Feeding codecs the three ways h11's tests do: whole, a byte at a time, with trailing data.

Shared by the codec tests of every protocol; each binds its own ``NEED_DATA``
(and SMTP its ``PAUSED``) and its own data event in a one-line wrapper.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from postel.protocols.errors import RemoteProtocolError


def drain(codec, *stops) -> list:
    """Every event the codec has now, up to the first of ``stops`` (its NEED_DATA; SMTP's PAUSED too) or a ConnectionClosed."""
    events = []
    while True:
        event = codec.next_event()
        if any(event is stop for stop in stops):
            break
        events.append(event)
        if type(event).__name__ == "ConnectionClosed":
            break
    return events


def feed_three_ways(make: Callable[[], object], data: bytes, *stops, eof: bool = True) -> list[list]:
    """Events for ``data`` fed whole, byte by byte, and split in two; all three must agree."""
    results = []
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))], [data[: len(data) // 2], data[len(data) // 2 :]]):
        codec = make()
        events = []
        for chunk in chunks:
            if chunk:  # b"" means EOF to a codec
                codec.receive_data(chunk)
                events += drain(codec, *stops)
        if eof and not (events and type(events[-1]).__name__ == "ConnectionClosed"):
            codec.receive_data(b"")
            events += drain(codec, *stops)
        results.append(events)
    return results


def events_and_errors(codec, chunks: Iterable[bytes], need_data) -> tuple[list, list[RemoteProtocolError]]:
    """Events and remote errors for ``chunks`` fed in turn: a codec that refuses a line raises, then reads on."""
    events: list = []
    errors: list[RemoteProtocolError] = []
    for chunk in chunks:
        codec.receive_data(chunk)
        while True:
            try:
                event = codec.next_event()
            except RemoteProtocolError as error:
                errors.append(error)
                continue
            if event is need_data:
                break
            events.append(event)
    return events, errors


def merge_data(events: list, data_type: type) -> list:
    """``events`` with each run of ``data_type`` events joined into one: how a body is cut is the wire's business."""
    out: list = []
    for event in events:
        if isinstance(event, data_type) and out and isinstance(out[-1], data_type):
            out[-1] = data_type(out[-1].data + event.data)
        else:
            out.append(event)
    return out
