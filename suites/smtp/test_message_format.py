"""The message format (RFC 5322) of what the server writes into a message: its trace block, read back from ``maildir``.

The message sent already carries a Received field from an earlier hop, then
its own header fields.  On the stored copy, the server's trace block
(Return-Path, Received, and whatever else it puts on top) must be well-formed
header lines (2.1.1, 2.2), its Received date-time must mean a real moment
(3.3), and the message as sent must follow it unchanged: trace blocks are
prepended, never inserted among or below older ones (3.6; RFC 5321 4.4).
Everything here is not-applicable without the ``maildir`` target option.
"""

from __future__ import annotations

import calendar
import datetime
import re

import pytest

from postel.suites.smtp.checks import as_stored, deliver_and_read, message, need_recipient, new_marker
from postel.target import Target
from postel.verdict import Expect

pytestmark = [pytest.mark.service("smtp"), pytest.mark.destructive]

HARD_LIMIT = 998  # "Each line of characters MUST be no more than 998 characters ... excluding the CRLF." (2.1.1)
SOFT_LIMIT = 78  # "... and SHOULD be no more than 78 characters" (2.1.1)
FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # "printable US-ASCII characters ... except colon" (2.2)
# An earlier hop's trace field, semantically valid (2 January 2026 was a Friday): the server must leave it be.
EARLIER_HOP = b"Received: from origin.postel.test (origin.postel.test [192.0.2.1])\r\n\tby client.postel.test with ESMTP id %s;\r\n\tFri, 02 Jan 2026 10:00:00 +0000\r\n"

# RFC 5322 3.3 date-time, read leniently (obs- forms too: RFC 5321 4.4's grammar test judges those) to judge its meaning.
DATE_TIME = re.compile(
    rb"\s*(?:(?P<weekday>[A-Za-z]{3})\s*,)?\s*(?P<day>[0-9]{1,2})\s+(?P<month>[A-Za-z]{3})\s+(?P<year>[0-9]{2,})\s+"
    rb"(?P<hour>[0-9]{2})\s*:\s*(?P<minute>[0-9]{2})(?:\s*:\s*(?P<second>[0-9]{2}))?\s+(?P<zone>[+-][0-9]{4}|[A-Za-z]{1,5})"
    rb"(?:\s*\([^()]*\))*\s*"
)
MONTHS = [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"]
DAY_NAMES = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"]
UT_NAMES = (b"ut", b"gmt", b"z")  # obs-zone names for Universal Time (RFC 5322 4.3)


def _deliver(expect: Expect, target: Target, wire, label: str) -> tuple[bytes, bytes]:
    """(stored copy, the content as sent in the store's line ends) of a message that starts with an earlier hop's Received."""
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    content = EARLIER_HOP % marker.encode() + message(target, marker, b"a message for its trace block\r\n", rcpt=rcpt)
    stored = deliver_and_read(expect, target, wire, label, rcpt, marker, content)
    return stored, as_stored(stored, content)


def _added(expect: Expect, stored: bytes, sent: bytes) -> bytes:
    """What the server put above the message as sent; not-applicable when the message's first line is not on its own line."""
    if stored.endswith(sent):
        return stored[: len(stored) - len(sent)]
    first_line = sent.split(b"\n", 1)[0] + b"\n"
    pos = stored.find(first_line)
    if pos < 0 or (pos > 0 and stored[pos - 1 : pos] != b"\n"):
        expect.not_applicable("the earlier hop's Received field is not in the stored copy as sent (judged by test_the_client_trace_and_header_fields_follow_unchanged)")
    return stored[:pos]


def _lines(block: bytes, stored: bytes) -> list[bytes]:
    """The block's lines without their ends: CRLF in a CRLF store, LF in a store that writes LF (Maildir tools often do)."""
    end = b"\r\n" if b"\r\n" in stored else b"\n"
    return block.split(end)[:-1] if block.endswith(end) else block.split(end)


def _fields(block: bytes) -> list[bytes]:
    """The header fields of ``block`` (up to its empty line), each with its continuation lines and line ends."""
    fields: list[bytes] = []
    for line in re.findall(rb"[^\n]*\n|[^\n]+$", block):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


# ---------------------------------------------------------------- the lines of the trace block


@pytest.mark.requirement("rfc5322/2.2/2", "rfc5322/2.2/1", "rfc5322/2.1.1/1", "rfc5322/2.1.1/2")
def test_the_trace_block_is_made_of_header_field_lines(target, wire, expect):
    """Every line the server puts on top: a field name and colon or a folded continuation, no bare CR or LF, <= 998 (78) octets.

    RFC 5322 2.2: "A field name MUST be composed of printable US-ASCII
    characters (i.e., characters that have values between 33 and 126,
    inclusive), except colon."  "A field body MUST NOT include CR and LF except
    when used in "folding" and "unfolding"".  2.1.1: "Each line of characters
    MUST be no more than 998 characters, and SHOULD be no more than 78
    characters, excluding the CRLF."
    """
    stored, sent = _deliver(expect, target, wire, "trace block lines")
    added = _added(expect, stored, sent)
    if not added:
        expect.not_applicable("the server put nothing above the message (no trace field: judged as rfc5321/4.4/1 by test_data.py)")
    lines = _lines(added, stored)
    bare = [line for line in lines if b"\r" in line or b"\n" in line]
    expected = ["CR and LF only as the line end, or before the white space of a folded line"]
    expect.must(not bare, "rfc5322/2.2/2", expected=expected, actual=f"bare CR or LF in {bare[:2]!r}")
    unnamed = [line for line in lines if line[:1] not in (b" ", b"\t") and not FIELD_NAME.fullmatch(line.split(b":", 1)[0] if b":" in line else b"")]
    expected = ["each field starts with a name of octets 33-126 but colon, then a colon"]
    expect.must(not unnamed, "rfc5322/2.2/1", expected=expected, actual=f"lines without a field name: {unnamed[:2]!r}")
    longest = max(lines, key=len)
    actual = f"a line of {len(longest)} octets: {longest[:120]!r}"
    expect.must(len(longest) <= HARD_LIMIT, "rfc5322/2.1.1/1", expected=[f"every line at most {HARD_LIMIT} octets before its line end"], actual=actual)
    expect.should(len(longest) <= SOFT_LIMIT, "rfc5322/2.1.1/2", expected=[f"every line at most {SOFT_LIMIT} octets (a long field folded)"], actual=actual)


# ---------------------------------------------------------------- the Received date-time


def _date_problem(date: bytes) -> str | None:
    """What makes ``date`` (a parsed DATE_TIME) not a real moment (RFC 5322 3.3), or None."""
    match = DATE_TIME.fullmatch(date)
    assert match is not None
    month_name = match["month"].lower()
    if month_name not in MONTHS:
        return f"no month {match['month']!r}"
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 2000 if year < 50 else 1900  # obs-year (RFC 5322 4.3)
    elif len(match["year"]) == 3:
        year += 1900
    month, day = MONTHS.index(month_name) + 1, int(match["day"])
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"day {day} of a month with {days} days"
    weekday = match["weekday"]
    implied = DAY_NAMES[datetime.date(year, month, day).weekday()]
    if weekday is not None and weekday.lower() != implied:
        return f"{weekday.decode()} is not the day of {day} {match['month'].decode()} {year}, a {implied.decode().title()}"
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 60:
        return f"time-of-day {match['hour'].decode()}:{match['minute'].decode()}:{(match['second'] or b'00').decode()} is past 23:59:60"
    zone = match["zone"]
    if zone[:1] in b"+-" and int(zone[3:]) > 59:
        return f"zone {zone.decode()}: minutes past 59"
    return None


@pytest.mark.requirement("rfc5322/3.3/3", "rfc5322/3.3/2", "rfc5322/3.3/1")
def test_the_received_date_time_is_semantically_valid(target, wire, expect):
    """The date-time after the last ";" of the server's Received field names a real day and time, and UT as "+0000".

    RFC 5322 3.3: "A date-time specification MUST be semantically valid.  That
    is, the day-of-week (if included) MUST be the day implied by the date, the
    numeric day-of-month MUST be between 1 and the number of days allowed for
    the specified month (in the specified year), the time-of-day MUST be in the
    range 00:00:00 through 23:59:60 ..., and the last two digits of the zone
    MUST be within the range 00 through 59."  'The form "+0000" SHOULD be used
    to indicate a time zone at Universal Time.'
    """
    stored, sent = _deliver(expect, target, wire, "Received date-time")
    added = _added(expect, stored, sent)
    received = next((f for f in _fields(added) if f.lower().startswith(b"received:")), None)
    if received is None:
        expect.not_applicable("the server added no Received field (judged as rfc5321/4.4/1 by test_data.py)")
    unfolded = re.sub(rb"\r?\n(?=[ \t])", b"", received).rstrip(b"\r\n")
    date = unfolded.rpartition(b";")[2]
    if DATE_TIME.fullmatch(date) is None:
        expect.not_applicable(f"no date-time to read after the last ';' of {unfolded[:200]!r} (its grammar: rfc5321/4.4/23 in test_limits.py)")
    problem = _date_problem(date)
    expected = ["a day-of-week that is the date's, a day in the month, 00:00:00-23:59:60, zone minutes 00-59"]
    for requirement in ("rfc5322/3.3/3", "rfc5322/3.3/2"):
        expect.must(problem is None, requirement, expected=expected, actual=f"{problem}: {date.strip()!r}")
    zone = DATE_TIME.fullmatch(date)["zone"]
    expect.should(zone.lower() not in UT_NAMES, "rfc5322/3.3/1", expected=['Universal Time written "+0000"'], actual=f"zone {zone.decode()!r}: {date.strip()!r}")


# ---------------------------------------------------------------- the order of the header


@pytest.mark.requirement("rfc5322/3.6/2", "rfc5321/4.4/7", "rfc5321/4.4/6", "rfc5322/3.6/3", "rfc5322/3.6/1")
def test_the_client_trace_and_header_fields_follow_unchanged(target, wire, expect):
    """The server's trace block sits above the message as sent; the earlier hop's Received and the other fields keep their order.

    RFC 5322 3.6: "More importantly, the trace header fields and resent header
    fields MUST NOT be reordered, and SHOULD be kept in blocks prepended to the
    message."  "header fields SHOULD NOT be reordered when a message is
    transported or transformed."  RFC 5321 4.4: "SMTP servers MUST prepend
    Received lines to messages; they MUST NOT change the order of existing lines
    or insert Received lines in any other location."  "An Internet mail program
    MUST NOT change or delete a Received: line that was previously added to the
    message header section."
    """
    stored, sent = _deliver(expect, target, wire, "header order")
    if stored.endswith(sent):
        return  # everything the server added is above the message as sent, which is unchanged
    ours = _fields(sent)
    theirs = _fields(stored)
    earlier = ours[0]  # the earlier hop's Received
    expected = [f"the earlier hop's Received field unchanged: {earlier[:100]!r}"]
    expect.must(earlier in theirs, "rfc5321/4.4/6", expected=expected, actual=f"stored header: {b''.join(theirs)[:400]!r}")
    start = theirs.index(earlier)
    below = [f for f in theirs[start:] if f not in ours]  # fields the server put among or below the message's own
    new_trace = [f for f in below if f.lower().startswith((b"received:", b"return-path:"))]
    actual = f"below the earlier hop's Received: {b''.join(theirs[start:])[:400]!r}"
    for requirement in ("rfc5322/3.6/2", "rfc5321/4.4/7"):
        expect.must(not new_trace, requirement, expected=["the new trace fields above the earlier hop's Received"], actual=actual)
    expect.should(not below, "rfc5322/3.6/3", expected=["the fields the server adds in one block on top of the message"], actual=actual)
    kept = [f for f in theirs if f in ours]
    expect.should(kept == ours, "rfc5322/3.6/1", expected=["the message's header fields in the order sent"], actual=f"stored order: {[f.split(b':', 1)[0] for f in kept]!r}")
