"""RFC 868 over TCP: "S: Send the time as a 32 bit binary number. ... S: Close the connection."."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.time.client import TcpAnswer, query_tcp
from postel.protocols.time.strategies import client_junk
from postel.suites.time.checks import expect_current_time, expect_on_port_37
from postel.wire import WireError

pytestmark = pytest.mark.service("time")

CONCURRENT_CLIENTS = 16


def _value_or_judge(expect, wire, answer: TcpAnswer) -> None:
    """A silent server broke tcp/8; one that closed without a value says it cannot tell the time."""
    expect.must(
        not (answer.timed_out and answer.value is None),
        "rfc868/tcp/8",
        expected=["4 octets, then close, as soon as the connection is established (the client sends nothing)"],
        actual=f"nothing within {wire.timeout:g}s: the server did not send the time (does it wait for client data?)",
    )
    if answer.value is None:
        expect.inconclusive("the server closed without sending anything: per rfc868/tcp/9 it cannot determine the time")


@pytest.mark.requirement("rfc868/tcp/3", "rfc868/tcp/8")
def test_sends_32_bit_value_without_client_data(target, wire, expect):
    """Connects, sends nothing, reads until the server closes: exactly 4 octets."""
    answer = query_tcp(target.address, wire.transcript("tcp query"), timeout=wire.timeout)
    _value_or_judge(expect, wire, answer)
    # More or fewer than 4 octets is raised by the strict codec as rfc868/tcp/3.


@pytest.mark.requirement("rfc868/tcp/6", "rfc868/tcp/8")
def test_closes_after_sending(target, wire, expect):
    """Connects, sends nothing, waits: the server closes right after the value."""
    answer = query_tcp(target.address, wire.transcript("tcp query"), timeout=wire.timeout)
    _value_or_judge(expect, wire, answer)
    expect.must(
        answer.closed,
        "rfc868/tcp/6",
        expected=["the server closes the connection after the 4 octets"],
        actual=f"the connection was still open {wire.timeout:g}s after the value arrived",
    )


@pytest.mark.requirement("rfc868/time/1", "rfc868/intro/1", "rfc868/tcp/8")
def test_value_is_current_time(target, wire, expect):
    """Reads one value and compares it with the harness's clock."""
    answer = query_tcp(target.address, wire.transcript("tcp query"), timeout=wire.timeout)
    _value_or_judge(expect, wire, answer)
    expect_current_time(expect, target, answer.value, answer.received_at)


@pytest.mark.requirement("rfc868/tcp/8", "rfc868/tcp/3")
@given(junk=client_junk())
def test_client_data_is_ignored(target, wire, expect, junk):
    """Sends junk first (the RFC's client sends nothing): still 4 octets, then close."""
    answer = query_tcp(target.address, wire.transcript("tcp query with junk"), timeout=wire.timeout, send=junk)
    _value_or_judge(expect, wire, answer)
    expect.must(answer.closed, "rfc868/tcp/8", expected=["4 octets, then close"], actual="the server kept the connection open")


@pytest.mark.requirement("rfc868/tcp/8")
def test_half_closed_client_gets_the_time(target, wire, expect):
    """Half-closes at once (SHUT_WR), as "U: Close the connection" clients may: the value still comes."""
    answer = query_tcp(target.address, wire.transcript("tcp query, half-closed"), timeout=wire.timeout, half_close=True)
    _value_or_judge(expect, wire, answer)
    expect.must(answer.closed, "rfc868/tcp/8", expected=["4 octets, then close"], actual="the server kept the connection open")


@pytest.mark.requirement("rfc868/tcp/8", "rfc868/tcp/3")
def test_concurrent_clients_each_get_the_time(target, wire, expect):
    """Opens 16 connections at once; each gets its own 4 octets and close."""
    transcripts = [wire.transcript(f"tcp client {i}") for i in range(CONCURRENT_CLIENTS)]

    def one(transcript):
        try:
            return query_tcp(target.address, transcript, timeout=wire.timeout)
        except (RemoteProtocolError, WireError) as exc:  # judged below, after every client ran
            return exc

    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        answers = list(pool.map(one, transcripts))
    first_violation = next((a for a in answers if isinstance(a, RemoteProtocolError)), None)
    if first_violation is not None:
        raise first_violation
    served = sum(1 for a in answers if isinstance(a, TcpAnswer) and a.value is not None and a.closed)
    problems = sorted({str(a) for a in answers if isinstance(a, WireError)})
    expect.must(
        served == CONCURRENT_CLIENTS,
        "rfc868/tcp/8",
        expected=[f"all {CONCURRENT_CLIENTS} concurrent connections get 4 octets and a close"],
        actual=f"{served} of {CONCURRENT_CLIENTS} did" + (f"; the others: {'; '.join(problems)}" if problems else ""),
    )


@pytest.mark.requirement("rfc868/tcp/1", "rfc868/tcp/7")
def test_listens_on_port_37(target, expect):
    """The well-known port: checked only when the target URL names port 37."""
    expect_on_port_37(expect, target, "rfc868/tcp/1")
