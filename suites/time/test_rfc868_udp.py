"""RFC 868 over UDP: "S: Send a datagram containing the time as a 32 bit binary number."."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given

from postel.protocols.time.client import UdpAnswer, burst_udp, query_udp
from postel.protocols.time.strategies import datagram_payloads
from postel.suites.time.checks import expect_current_time, expect_on_port_37, on_loopback
from postel.wire import WireError

pytestmark = pytest.mark.service("time+udp")

LINGER = 0.5  # seconds to wait for a second (duplicate) answer
CONCURRENT_CLIENTS = 16
BURST = 16


def _expect_one_answer(expect, wire, answer: UdpAnswer) -> None:
    expect.must(
        bool(answer.datagrams),
        "rfc868/udp/7",
        expected=["one datagram holding the 32-bit time value"],
        actual=f"no answer to {answer.sent} datagram(s) within {wire.timeout:g}s "
        "(a server that cannot tell the time may stay silent, rfc868/udp/8; on a reachable host this is a failure)",
    )
    answer.value  # noqa: B018 - the strict decode raises rfc868/udp/4 for anything but 4 octets


@pytest.mark.requirement("rfc868/udp/3", "rfc868/udp/4", "rfc868/udp/7")
def test_empty_datagram_gets_one_4_octet_datagram(target, wire, expect):
    """Sends the RFC's empty datagram; expects exactly one 4-octet datagram back."""
    answer = query_udp(target.address, wire.transcript("udp query"), timeout=wire.timeout, linger=LINGER)
    _expect_one_answer(expect, wire, answer)
    expect.must(
        answer.sent == 1 or not on_loopback(target),
        "rfc868/udp/7",
        expected=["the first datagram is answered"],
        actual=f"only the datagram sent {answer.sent}th was answered: the server dropped the earlier ones",
    )
    expect.must(
        len(answer.datagrams) == 1,
        "rfc868/udp/7",
        expected=["exactly one datagram for one request"],
        actual=f"{len(answer.datagrams)} datagrams within {LINGER}s of the first",
    )


@pytest.mark.requirement("rfc868/time/1", "rfc868/intro/1", "rfc868/udp/7")
def test_value_is_current_time(target, wire, expect):
    """Sends an empty datagram and compares the answer with the harness's clock."""
    answer = query_udp(target.address, wire.transcript("udp query"), timeout=wire.timeout)
    _expect_one_answer(expect, wire, answer)
    expect_current_time(expect, target, answer.value, answer.received_at)


@pytest.mark.requirement("rfc868/udp/7", "rfc868/udp/4")
@given(payload=datagram_payloads())
def test_any_datagram_is_answered(target, wire, expect, payload):
    """Sends a non-empty datagram: "When a datagram arrives" the time comes back all the same."""
    answer = query_udp(target.address, wire.transcript("udp query with payload"), timeout=wire.timeout, payload=payload)
    _expect_one_answer(expect, wire, answer)


@pytest.mark.requirement("rfc868/udp/7")
def test_concurrent_clients_each_get_one_answer(target, wire, expect):
    """16 sockets send one datagram each, at once; every datagram gets its answer."""
    transcripts = [wire.transcript(f"udp client {i}") for i in range(CONCURRENT_CLIENTS)]
    # Each client sends once: a retry's answer would hide a dropped request.
    # Off loopback a datagram may be lost on the way, which decides nothing.
    loopback = on_loopback(target)

    def one(transcript):
        try:
            return query_udp(target.address, transcript, timeout=wire.timeout, attempts=1 if loopback else 3)
        except WireError as exc:  # judged below, after every client ran
            return exc

    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        answers = list(pool.map(one, transcripts))
    served = sum(1 for a in answers if isinstance(a, UdpAnswer) and a.datagrams)
    problems = sorted({str(a) for a in answers if isinstance(a, WireError)})
    if served < CONCURRENT_CLIENTS and not loopback:
        expect.inconclusive(f"{CONCURRENT_CLIENTS - served} of {CONCURRENT_CLIENTS} datagrams unanswered; off loopback they may have been lost")
    expect.must(
        served == CONCURRENT_CLIENTS,
        "rfc868/udp/7",
        expected=[f"each of {CONCURRENT_CLIENTS} datagrams sent at once is answered"],
        actual=f"{CONCURRENT_CLIENTS - served} of {CONCURRENT_CLIENTS} were never answered within {wire.timeout:g}s"
        + (f"; {'; '.join(problems)}" if problems else ""),
    )


@pytest.mark.requirement("rfc868/udp/7")
def test_back_to_back_datagrams_are_each_answered(target, wire, expect):
    """Sends 16 empty datagrams back to back from one socket; expects 16 answers."""
    answers = burst_udp(target.address, wire.transcript("udp burst"), count=BURST, timeout=wire.timeout)
    if len(answers) < BURST and not on_loopback(target):
        expect.inconclusive(f"{BURST - len(answers)} of {BURST} datagrams unanswered; off loopback they may have been lost")
    expect.must(
        len(answers) == BURST,
        "rfc868/udp/7",
        expected=[f"{BURST} answers: one for each datagram that arrived"],
        actual=f"{len(answers)} answers to {BURST} datagrams (a server that drains its socket after each answer discards the rest)",
    )


@pytest.mark.requirement("rfc868/udp/1", "rfc868/udp/6")
def test_listens_on_port_37(target, expect):
    """The well-known port: checked only when the target URL names port 37."""
    expect_on_port_37(expect, target, "rfc868/udp/1")
