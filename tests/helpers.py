"""Feeding codecs the three ways h11's tests do: whole, a byte at a time, with trailing data."""

from __future__ import annotations

from collections.abc import Callable


def drain(codec, need_data) -> list:
    events = []
    while (event := codec.next_event()) is not need_data:
        events.append(event)
        if type(event).__name__ == "ConnectionClosed":
            break
    return events


def feed_three_ways(make: Callable[[], object], data: bytes, need_data, eof: bool = True) -> list[list]:
    """Events for ``data`` fed whole, byte by byte, and split in two; all three must agree."""
    results = []
    for chunks in ([data], [data[i : i + 1] for i in range(len(data))], [data[: len(data) // 2], data[len(data) // 2 :]]):
        codec = make()
        events = []
        for chunk in chunks:
            if chunk:  # b"" means EOF to a codec
                codec.receive_data(chunk)
                events += drain(codec, need_data)
        if eof and not (events and type(events[-1]).__name__ == "ConnectionClosed"):
            codec.receive_data(b"")
            events += drain(codec, need_data)
        results.append(events)
    return results
