"""Checks the TCP and UDP time suites share (h2spec's Verify* helpers, for RFC 868)."""

from __future__ import annotations

import datetime

from postel.protocols.time.codec import TimeValue, to_datetime, to_unix
from postel.target import Target
from postel.verdict import Expect

DEFAULT_TOLERANCE = 5.0  # seconds; target option "tolerance"


def tolerance(target: Target) -> float:
    return float(target.options.get("tolerance", DEFAULT_TOLERANCE))


def expect_current_time(expect: Expect, target: Target, value: TimeValue, received_at: float) -> None:
    """The value is seconds since 1900-01-01T00:00Z and agrees with our clock within the tolerance."""
    allowed = tolerance(target)
    offset = to_unix(value) - received_at
    ours = datetime.datetime.fromtimestamp(received_at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    expect.must(
        abs(offset) <= allowed,
        "rfc868/time/1",
        expected=[f"seconds since 1900-01-01T00:00Z within {allowed:g}s of {ours} (the harness's clock)"],
        actual=f"{value.seconds} = {to_datetime(value):%Y-%m-%dT%H:%M:%SZ}, {offset:+.0f}s off{_diagnose(value, received_at)}",
    )


def _diagnose(value: TimeValue, now: float) -> str:
    """Name the usual mistakes, so the failure says what the server probably did."""
    swapped = int.from_bytes(value.seconds.to_bytes(4, "big"), "little")
    if abs(to_unix(TimeValue(swapped)) - now) < 3600:
        return " (the octets are in little-endian order)"
    if abs(value.seconds - now) < 3600:
        return " (seconds since 1970: a POSIX time, not RFC 868's 1900 epoch)"
    hours = (to_unix(value) - now) / 3600
    if abs(hours) >= 0.9 and abs(hours - round(hours)) < 0.02:
        return f" (exactly {round(hours):+d} h: a time zone or DST offset, not GMT)"
    return ""


def on_loopback(target: Target) -> bool:
    """Datagrams are not lost on loopback, so an unanswered one was dropped by the server."""
    import ipaddress

    host = target.host or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def expect_on_port_37(expect: Expect, target: Target, requirement: str) -> None:
    if target.port != 37:
        expect.not_applicable(f"the target listens on port {target.port}, not the RFC's port 37 (a choice of the URL)")
    expect.must(True, requirement, expected="a server on port 37", actual=f"{target.redacted_url()} answered")
