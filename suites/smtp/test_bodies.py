"""Properties over message bodies: whatever lines a body holds, the server takes it whole.

Bodies are made of the lines transparency (RFC 5321 4.5.2) is about: ".",
"..", ".x", " .", "a . b", empty lines, 998-octet lines (dot-led ones too),
tabs, printable text, and (where 8BITMIME is offered) octets over 127.  Over
SMTP alone the check is that the data ends exactly at the final
``<CRLF>.<CRLF>``: one reply to it, and a NOOP after it gets its own 250.  A
server that ended the data at an inner line would answer early and then read
the rest of the body as commands.  The byte-for-byte comparison with what is
delivered is the reference round-trip test's (and test_data.py's, with the
``maildir`` option).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postel.protocols.errors import RemoteProtocolError
from postel.suites.smtp.checks import expect_code, extension, extra_replies, message, need_recipient, new_marker, send_message, session

pytestmark = pytest.mark.service("smtp")

SPECIAL_LINES = [b"", b".", b"..", b"...", b". ", b" .", b".x", b"..x", b"a . b", b"\t", b"trailing space ", b"x" * 998, b"." + b"y" * 997, b"QUIT", b"RSET"]
PRINTABLE = st.binary(max_size=80).map(lambda b: bytes(c for c in b if 0x20 <= c <= 0x7E))
EIGHT_BIT = st.binary(min_size=1, max_size=80).map(lambda b: bytes(c for c in b if c not in (0x0A, 0x0D)))


def bodies(line: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Bodies of 0 to 12 lines, each ended by CRLF."""
    return st.lists(line, max_size=12).map(lambda lines: b"".join(item + b"\r\n" for item in lines))


SEVEN_BIT_BODIES = bodies(st.one_of(st.sampled_from(SPECIAL_LINES), PRINTABLE))
EIGHT_BIT_BODIES = bodies(st.one_of(st.sampled_from(SPECIAL_LINES), PRINTABLE, EIGHT_BIT))


def _deliver_and_check(target, wire, expect, body: bytes, *, eight_bit: bool) -> None:
    rcpt = need_recipient(expect, target)
    with session(target, wire, "body") as client:
        params = None
        if eight_bit:
            extension(expect, client, "8BITMIME")
            params = {b"BODY": b"8BITMIME"}
        try:
            send_message(client, target, rcpt, message(target, new_marker(), body, rcpt=rcpt), params)
            problem = extra_replies(client, 0.02)
        except RemoteProtocolError as exc:
            if exc.requirement != "rfc5321/4.2/1":
                raise
            problem = f"{exc}: the data ended before the final <CRLF>.<CRLF>"
        expect.must(problem is None, "rfc5321/4.1.1.4/2", expected=["one reply, to the line holding only a period"], actual=problem)
        final = client.log[-1]
        if final.code // 100 == 4:
            expect.inconclusive(f"the server deferred the message: {final.describe()}")
        expect_code(expect, client, {250}, "rfc5321/3.3/15", "(no rejection for what the body holds)")
        client.noop()
        expect_code(expect, client, {250}, "rfc5321/4.5.2/2", "to the NOOP after the message: the data ended at the final dot")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.4/2", "rfc5321/4.5.2/2", "rfc5321/3.3/15")
@given(body=SEVEN_BIT_BODIES)
def test_any_7bit_body_is_taken_whole(target, wire, expect, body):
    """A body of transparency-relevant 7-bit lines: one 250 at the final dot, then NOOP answered as NOOP."""
    _deliver_and_check(target, wire, expect, body, eight_bit=False)


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.4/2", "rfc5321/4.5.2/2", "rfc5321/3.3/15")
@given(body=EIGHT_BIT_BODIES)
def test_any_8bit_body_is_taken_whole_with_8bitmime(target, wire, expect, body):
    """8BITMIME offered: the same with octets over 127 and BODY=8BITMIME."""
    _deliver_and_check(target, wire, expect, body, eight_bit=True)
