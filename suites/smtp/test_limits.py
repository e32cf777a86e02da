"""Floors every server must meet and names it must know: 100 recipients (RFC 5321 4.5.3.1.8), "postmaster" in
any case (4.5.1), and the grammar of the Received field it adds (4.4, read back with the ``maildir`` option).
"""

from __future__ import annotations

import re

import pytest

from postel.suites.smtp.checks import (
    deliver_and_read,
    expect_code,
    helo,
    message,
    need_recipient,
    new_marker,
    probe_recipient,
    raise_inconclusive,
    recipient,
    sender,
    session,
    trace_head,
)

pytestmark = pytest.mark.service("smtp")

RECIPIENT_FLOOR = 100  # "The minimum total number of recipients that MUST be buffered is 100 recipients." (4.5.3.1.8)
POSTMASTER_CASES = ("POSTMASTER", "PostMaster", "pOSTMASTER")

# RFC 5322 3.3 date-time without the obs- forms (4.4: "MUST NOT be used"): a four-digit year, a numeric zone.
DAY_NAME = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
COMMENTS = rb"(?:\s*\([^()]*\))*\s*"  # CFWS as servers write it: "(UTC)", "(CET)"
DATE_TIME = re.compile(rb"\s*(?:" + DAY_NAME + rb"\s*,\s*)?[0-9]{1,2}\s+" + MONTH + rb"\s+[0-9]{4}\s+[0-9]{2}:[0-9]{2}(?::[0-9]{2})?\s+[+-][0-9]{4}" + COMMENTS)
ZONE = re.compile(rb"[0-9]{2}:[0-9]{2}(?::[0-9]{2})?\s+(\S+)")
# Stamp up to its ";": "FROM" FWS Extended-Domain, CFWS "BY" FWS Extended-Domain, Opt-info (4.4)
FROM_CLAUSE = re.compile(rb"(?i)from\s+(?P<from>[^\s;]+(?:\s*\([^()]*\))?)")
BY_CLAUSE = re.compile(rb"(?i)\s(?:\([^()]*\)\s*)*by\s+[^\s;()]+")


def _first_field(head: bytes, name: bytes) -> bytes | None:
    """The first ``name:`` field of ``head``, unfolded (CRLF before white space removed)."""
    match = re.search(rb"(?im)^" + name + rb":[ \t]*((?:.*)(?:\r?\n[ \t].*)*)", head)
    return None if match is None else re.sub(rb"\r?\n(?=[ \t])", b"", match.group(1)).rstrip(b"\r")


# ---------------------------------------------------------------- 100 recipients


@pytest.mark.requirement("rfc5321/4.5.3.1.8/1")
def test_one_hundred_recipients_are_accepted(target, wire, expect):
    """MAIL, then 100 RCPT commands to an address every server accepts: no 452/552 "too many recipients".

    RFC 5321 4.5.3.1.8: "The minimum total number of recipients that MUST be
    buffered is 100 recipients."  Nothing is sent: the transaction ends with RSET.
    """
    rcpt = probe_recipient(target)
    with session(target, wire, "100 RCPT") as client:
        if client.mail(sender(target)).code != 250:
            raise_inconclusive(f"MAIL was refused: {client.log[-1].describe()}")
        if client.rcpt(rcpt).code // 100 != 2:
            raise_inconclusive(f"RCPT TO:<{rcpt}> was refused: {client.log[-1].describe()}")
        for n in range(2, RECIPIENT_FLOOR + 1):
            if client.rcpt(rcpt).code // 100 != 2:
                break
        answer = client.log[-1]
        expect.must(answer.code // 100 == 2, "rfc5321/4.5.3.1.8/1", expected=[f"2yz to all {RECIPIENT_FLOOR} RCPT commands"], actual=f"RCPT number {n}: {answer.describe()}")
        client.rset()


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.5.3.1.8/2")
def test_a_message_with_one_hundred_recipients_is_accepted(target, wire, expect):
    """MAIL, 100 RCPT (the recipient, repeated), DATA, a message: 250, nothing refused for too many recipients.

    RFC 5321 4.5.3.1.8: "Rejection of messages (for excessive recipients) with
    fewer than 100 RCPT commands is a violation of this specification."
    """
    rcpt = need_recipient(expect, target)
    with session(target, wire, "100 RCPT, DATA") as client:
        if client.mail(sender(target)).code != 250:
            raise_inconclusive(f"MAIL was refused: {client.log[-1].describe()}")
        refused = None
        for n in range(1, RECIPIENT_FLOOR + 1):
            if client.rcpt(rcpt).code // 100 != 2:
                refused = f"RCPT number {n}: {client.log[-1].describe()}"
                if n == 1:
                    raise_inconclusive(f"RCPT TO:<{rcpt}> was refused: {client.log[-1].describe()}")
                break
        expected = [f"2yz to {RECIPIENT_FLOOR} RCPT commands and 250 to the message"]
        expect.must(refused is None, "rfc5321/4.5.3.1.8/2", expected=expected, actual=refused)
        reply = client.data(message(target, new_marker(), b"one message, 100 RCPT commands\r\n", rcpt=rcpt))
        expect.must(reply.code == 250, "rfc5321/4.5.3.1.8/2", expected=expected, actual=client.log[-1].describe())


# ---------------------------------------------------------------- postmaster


@pytest.mark.requirement("rfc5321/4.5.1/2", "rfc5321/4.1.1.3/9")
def test_postmaster_is_accepted_in_any_case(target, wire, expect):
    """RCPT TO:<POSTMASTER>, <PostMaster>, <pOSTMASTER> (and each @ the recipient's domain, if known): 250.

    RFC 5321 4.5.1: "Any system that includes an SMTP server supporting mail
    relaying or delivery MUST support the reserved mailbox "postmaster" as a
    case-insensitive local name."  Only the case is judged here: the forms
    @domain are tried where "postmaster@domain" itself gets 250 (a server whose
    domain has no postmaster at all is not refusing a case).
    """
    domain = (recipient(target) or "").rpartition("@")[2]
    with session(target, wire, "postmaster") as client:
        if client.mail(sender(target)).code != 250:
            raise_inconclusive(f"MAIL was refused: {client.log[-1].describe()}")
        names = list(POSTMASTER_CASES)
        if domain and client.rcpt(f"postmaster@{domain}").code == 250:
            names += [f"{name}@{domain}" for name in POSTMASTER_CASES]
        for name in names:
            client.rcpt(name)
            expect_code(expect, client, {250}, "rfc5321/4.5.1/2", f"to RCPT TO:<{name}>")
            expect_code(expect, client, {250}, "rfc5321/4.1.1.3/9")


# ---------------------------------------------------------------- the Received field


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.4/22", "rfc5321/4.4/3", "rfc5321/4.4/2", "rfc5321/4.4/24", "rfc5321/4.4/23", "rfc5321/4.4/4", "rfc5321/4.4/8")
def test_the_received_field_follows_the_time_stamp_line_grammar(target, wire, expect):
    """The stored copy's Received field (``maildir``): "Received:" FWS, FROM, BY, ";" and a date-time without obs- forms.

    RFC 5321 4.4: "Time-stamp-line = "Received:" FWS Stamp <CRLF>", "Stamp =
    From-domain By-domain Opt-info [CFWS] ";" FWS date-time", "the "obs-" forms,
    especially two-digit years, are prohibited in SMTP and MUST NOT be used";
    "The FROM clause, which MUST be supplied in an SMTP environment, SHOULD
    contain both (1) the name of the source host as presented in the EHLO
    command and (2) an address literal"; "SHOULD use explicit offsets in the dates".
    """
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    content = message(target, marker, b"a message for its Received field\r\n", rcpt=rcpt)
    stored = deliver_and_read(expect, target, wire, "Received", rcpt, marker, content)
    head = trace_head(stored, content)
    field = _first_field(head or b"", b"Received")
    if field is None:
        expect.not_applicable("no Received field on the stored copy (judged as rfc5321/4.4/1 by test_data.py)")
    line = b"Received: " + field
    actual = repr(line[:300])
    fws = re.search(rb"(?im)^Received:(?:[ \t]|\r?\n[ \t])", head) is not None
    expect.must(fws, "rfc5321/4.4/22", expected=['"Received:" FWS Stamp'], actual=actual)
    stamp, semicolon, date = field.rpartition(b";")
    from_clause = FROM_CLAUSE.match(stamp)
    expect.must(from_clause is not None, "rfc5321/4.4/3", expected=['the FROM clause first: "FROM" FWS Extended-Domain'], actual=actual)
    shaped = semicolon and BY_CLAUSE.search(stamp, from_clause.end()) is not None
    for requirement in ("rfc5321/4.4/2", "rfc5321/4.4/24"):
        expect.must(shaped, requirement, expected=['From-domain By-domain Opt-info [CFWS] ";" FWS date-time'], actual=actual)
    expect.must(DATE_TIME.fullmatch(date) is not None, "rfc5321/4.4/23",
                expected=["an RFC 5322 date-time after the ';', four-digit year, no obs- forms"], actual=actual)
    source = from_clause.group("from")
    both = helo(target).encode().lower() in source.lower() and b"[" in source
    expect.should(both, "rfc5321/4.4/4", expected=[f"the EHLO name {helo(target)} and the client's address literal in FROM"], actual=actual)
    zone = ZONE.search(date)
    expect.should(zone is not None and re.fullmatch(rb"[+-][0-9]{4}", zone.group(1)) is not None, "rfc5321/4.4/8",
                  expected=["an explicit offset (e.g. -0800), not a zone name"], actual=actual)
