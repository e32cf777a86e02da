"""Service extensions, each judged only where the EHLO reply offers it (else not-applicable).

SIZE (RFC 1870), 8BITMIME (RFC 6152), PIPELINING (RFC 2920),
ENHANCEDSTATUSCODES (RFC 2034 with RFC 3463's class.subject.detail).
"""

from __future__ import annotations

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.smtp.events import Command
from postel.protocols.smtp.state import GREETING
from postel.suites.smtp.checks import (
    connect,
    enhanced_problems,
    expect_code,
    extension,
    helo,
    message,
    need_recipient,
    new_marker,
    open_transaction,
    probe_recipient,
    relay_recipient,
    sender,
    session,
    start_data,
)

pytestmark = pytest.mark.service("smtp")

MAX_OVERSIZE_PROBE = 16 * 1024 * 1024  # octets we are willing to send to prove a SIZE limit holds


def _size_limit(expect, client) -> int:
    params = extension(expect, client, "SIZE")
    if not params or not params[0].isdigit() or int(params[0]) == 0:
        expect.not_applicable(f"SIZE {' '.join(params)}: no fixed maximum message size to exceed")
    return int(params[0])


@pytest.mark.parametrize(
    ("keyword", "requirement"),
    [
        pytest.param(k, r, id=k, marks=pytest.mark.requirement(r))
        for k, r in (("SIZE", "rfc1870/3/2"), ("8BITMIME", "rfc6152/2/2"), ("PIPELINING", "rfc2920/2/2"), ("ENHANCEDSTATUSCODES", "rfc2034/3/2"))
    ],
)
def test_extension_keyword_parameters(target, wire, expect, keyword, requirement):
    """The EHLO line of the extension: SIZE with at most one decimal number, the others with no parameter."""
    with session(target, wire, keyword) as client:
        params = extension(expect, client, keyword)
        if keyword == "SIZE":
            ok, want = len(params) <= 1 and all(p.isdigit() and len(p) <= 20 for p in params), "SIZE [1*20DIGIT]"
        else:
            ok, want = not params, f"{keyword} with no parameter"
        expect.must(ok, requirement, expected=[want], actual=f"{keyword} {' '.join(params)}".strip())


@pytest.mark.requirement("rfc1870/4/3", "rfc1870/6.1/6", "rfc1870/7/2")
def test_mail_declaring_more_than_the_size_limit_gets_552(target, wire, expect):
    """SIZE n offered: MAIL ... SIZE=100 gets 250; after RSET, MAIL ... SIZE=n+1 gets 552."""
    with session(target, wire, "SIZE") as client:
        limit = _size_limit(expect, client)
        client.mail(sender(target), {b"SIZE": b"100"})
        expect_code(expect, client, {250}, "rfc1870/4/3", "to MAIL with SIZE=100 (the extended MAIL command is accepted)")
        client.rset()
        client.mail(sender(target), {b"SIZE": str(limit + 1).encode()})
        expect_code(expect, client, {552}, "rfc1870/6.1/6", f"to MAIL declaring SIZE={limit + 1}, over the advertised {limit}")
        expect_code(expect, client, {552}, "rfc1870/7/2")


@pytest.mark.destructive
@pytest.mark.requirement("rfc1870/4/2")
def test_a_message_over_the_size_limit_is_refused_with_552(target, wire, expect):
    """SIZE n offered: a message of n+1 octets sent without declaring its size is refused with 552."""
    rcpt = need_recipient(expect, target)
    with session(target, wire, "over SIZE") as client:
        limit = _size_limit(expect, client)
        if limit + 1 > MAX_OVERSIZE_PROBE:
            expect.not_applicable(f"the limit of {limit} octets is more than this test sends ({MAX_OVERSIZE_PROBE})")
        head = message(target, new_marker(), b"", rcpt=rcpt)
        line = b"z" * 998 + b"\r\n"
        filler = line * ((limit + 1 - len(head)) // len(line) + 1)
        open_transaction(client, target, rcpt)
        start_data(expect, client)
        client.send_content(head + filler)
        expect_code(expect, client, {552}, "rfc1870/4/2", f"to a message of {len(head) + len(filler)} octets, over SIZE {limit}")


@pytest.mark.requirement("rfc6152/2/3", "rfc6152/3/1")
def test_mail_with_a_body_parameter_is_accepted(target, wire, expect):
    """8BITMIME offered: MAIL ... BODY=7BIT and MAIL ... BODY=8BITMIME get 250."""
    with session(target, wire, "BODY=") as client:
        extension(expect, client, "8BITMIME")
        for value, requirement in ((b"7BIT", "rfc6152/2/3"), (b"8BITMIME", "rfc6152/3/1")):
            client.mail(sender(target), {b"BODY": value})
            expect_code(expect, client, {250}, requirement, f"to MAIL with BODY={value.decode()}")
            client.rset()


@pytest.mark.requirement("rfc2920/3.2/1", "rfc5321/4.2/1")
def test_pipelined_commands_are_answered_in_order(target, wire, expect):
    """PIPELINING offered: MAIL, RCPT, RSET, RCPT, NOOP in one write: the 503 (RCPT after RSET) comes fourth."""
    with session(target, wire, "pipelined") as client:
        extension(expect, client, "PIPELINING")
        group = [Command.mail(sender(target).encode()), Command.rcpt(probe_recipient(target).encode()), Command(b"RSET"),
                 Command.rcpt(probe_recipient(target).encode()), Command(b"NOOP")]
        try:
            codes = [r.code for r in client.pipeline(group)]
        except RemoteProtocolError as exc:
            if exc.requirement != "rfc5321/4.2/1":
                raise
            expect.must(False, "rfc5321/4.2/1", expected=["one reply per pipelined command"], actual=str(exc))
        expected = ["250 (MAIL), 250/251 (RCPT), 250 (RSET), 503 (RCPT: no MAIL after the RSET), 250 (NOOP), in that order"]
        # Only the 503's place is judged: the other codes are each command's own business (and tests).
        in_order = codes[3] == 503 and 503 not in codes[:3] + codes[4:]
        expect.must(in_order, "rfc2920/3.2/1", expected=expected, actual=", ".join(map(str, codes)))


@pytest.mark.destructive
@pytest.mark.requirement("rfc2920/3.2/1")
def test_pipelined_mail_rcpt_rcpt_data_are_answered_in_order(target, wire, expect):
    """PIPELINING offered: MAIL, RCPT, RCPT (a relay address), DATA in one write: 354 comes last; then the message."""
    rcpt = need_recipient(expect, target)
    with session(target, wire, "pipelined DATA") as client:
        extension(expect, client, "PIPELINING")
        group = [Command.mail(sender(target).encode()), Command.rcpt(rcpt.encode()), Command.rcpt(relay_recipient(target).encode()), Command(b"DATA")]
        codes = [r.code for r in client.pipeline(group)]
        if codes[0] // 100 in (4, 5) and 354 not in codes:
            expect.inconclusive(f"MAIL was refused: {client.log[-4].describe()}")
        in_order = codes[-1] == 354 and codes[0] == 250 and codes[1] // 100 == 2 and 354 not in codes[:-1]
        expected = ["250 (MAIL), 250 (RCPT), any (RCPT to a relay), 354 (DATA), in that order"]
        expect.must(in_order, "rfc2920/3.2/1", expected=expected, actual=", ".join(map(str, codes)))
        client.send_content(message(target, new_marker(), b"pipelined\r\n", rcpt=rcpt))


# ---------------------------------------------------------------- ENHANCEDSTATUSCODES

ENHANCED_IDS = ("rfc2034/3/3", "rfc2034/3/4", "rfc2034/4/2", "rfc2034/4/3", "rfc2034/4/4", "rfc2034/4/5")


@pytest.mark.requirement(*ENHANCED_IDS)
def test_every_reply_after_ehlo_carries_an_enhanced_status_code(target, wire, expect):
    """ENHANCEDSTATUSCODES offered: successes, refusals and errors each start every line with a class-matching x.y.z."""
    with session(target, wire, "enhanced codes") as client:
        extension(expect, client, "ENHANCEDSTATUSCODES")
        client.noop()
        client.rcpt(probe_recipient(target))  # 503
        client.mail(sender(target))
        client.rcpt(relay_recipient(target))  # a refusal
        client.rcpt(probe_recipient(target))
        client.rset()
        client.vrfy("postmaster")
        client.help()
        client.send_raw(b"XYZZY\r\n")  # 500
        client.read_reply()
        client.send_raw(b"MAIL FROM:postel\r\n")  # 501
        client.read_reply()
        client.quit()
        judged = [a for a in client.log if a.answers not in (GREETING, b"EHLO", b"HELO") and a.code // 100 != 3]
        seen: dict[str, str] = {}
        for answer in judged:
            for requirement, problem in enhanced_problems(answer):
                seen.setdefault(requirement, f"{problem} (reply to {answer.describe()})")
        # "the text part of all 2xx, 4xx, and 5xx SMTP responses ... are prefaced with a status code"
        missing = seen.get("rfc2034/4/3")
        expect.must(missing is None, "rfc2034/3/3", expected=["x.y.z at the start of every reply's text"], actual=missing)
        for requirement in ENHANCED_IDS[1:]:
            expect.must(requirement not in seen, requirement, expected=[expect.requirements[requirement].text[:160]], actual=seen.get(requirement))


@pytest.mark.requirement("rfc2034/4/6")
def test_enhanced_status_codes_come_without_ehlo_too(target, wire, expect):
    """ENHANCEDSTATUSCODES offered after EHLO; a HELO session's NOOP and RSET replies carry codes as well."""
    with session(target, wire, "EHLO") as client:
        extension(expect, client, "ENHANCEDSTATUSCODES")
    client = connect(target, wire, "HELO")
    with client:
        client.helo(helo(target))
        client.noop()
        client.rset()
        for answer in client.log[-2:]:
            problems = enhanced_problems(answer) if answer.code // 100 != 3 else []  # 3yz carry none (RFC 2034 4)
            expect.must(not problems, "rfc2034/4/6", expected=["a status code after HELO as after EHLO"], actual=f"{answer.describe()}: {problems}")
