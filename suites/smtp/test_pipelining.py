"""PIPELINING (RFC 2920 3.2): when a server must send the replies it owes, and that it loses no input.

test_extensions.py judges the order of pipelined replies; these tests judge
their timing and completeness: replies to a group that ends in MAIL, RCPT or
RSET come once the input runs out; the reply to an unrecognized command comes
at once, even while the next command line is only half sent; nothing read
together with a refused line is thrown away.  Judged only where the EHLO reply
offers PIPELINING (else not-applicable): without it the client "MUST wait" for
each reply (RFC 5321 4.3.1) and none of this can be seen.
"""

from __future__ import annotations

import pytest

from postel.protocols.smtp.events import Command
from postel.suites.smtp.checks import extension, probe_recipient, sender, session
from postel.wire import WireClosed, WireTimeout

pytestmark = pytest.mark.service("smtp")

UNKNOWN = b"XPOSTELUNKNOWN"  # no registered verb; "X" is the private-use prefix (RFC 5321 4.1.5)


def _replies(client, count: int) -> tuple[list[int], str | None]:
    """Up to ``count`` replies: their codes, and what went wrong if fewer came within the wire timeout."""
    codes: list[int] = []
    try:
        for _ in range(count):
            codes.append(client.read_reply().code)
    except (WireTimeout, WireClosed) as exc:
        return codes, f"{len(codes)} of {count} replies, then {type(exc).__name__}: {exc}"
    return codes, None


@pytest.mark.requirement("rfc2920/3.2/7", "rfc2920/3/1")
def test_replies_to_a_group_ending_in_rcpt_come_when_the_input_runs_out(target, wire, expect):
    """PIPELINING offered: MAIL, RCPT, RSET in one write and nothing after: all three replies arrive.

    RFC 2920 3.2 (7): "MUST send all pending responses immediately whenever the
    local TCP input buffer is emptied."  A server may hold replies to MAIL, RCPT
    and RSET to send them as a unit, but not wait for a command that never comes.
    """
    with session(target, wire, "group, then nothing") as client:
        extension(expect, client, "PIPELINING")
        group = [Command.mail(sender(target).encode()), Command.rcpt(probe_recipient(target).encode()), Command(b"RSET")]
        client.send_raw(b"".join(client.codec.send(c) for c in group), answers=[c.verb for c in group])
        codes, problem = _replies(client, len(group))
        expected = ["three replies (MAIL, RCPT, RSET) with no further command sent"]
        expect.must(problem is None, "rfc2920/3.2/7", expected=expected, actual=problem)
        expect.must(problem is None, "rfc2920/3/1", expected=expected, actual=problem)


@pytest.mark.requirement("rfc2920/3.2/6", "rfc2920/3.2/9")
def test_an_unrecognized_command_is_answered_while_the_next_line_is_half_sent(target, wire, expect):
    """PIPELINING offered: "XPOSTELUNKNOWN<CRLF>RS" in one write: the 500 comes; then "ET<CRLF>": 250 to RSET.

    RFC 2920 3.2 (6): "MUST NOT buffer responses to unrecognized commands."
    (9): "MUST NOT flush or otherwise lose the contents of the TCP input buffer
    under any circumstances whatsoever." -- the "RS" read with the unknown
    command is the start of the RSET that follows.
    """
    with session(target, wire, "unknown, half a line") as client:
        extension(expect, client, "PIPELINING")
        client.send_raw(UNKNOWN + b"\r\nRS", answers=[UNKNOWN])
        codes, problem = _replies(client, 1)
        expected = ["a reply to the unrecognized command while the next line is incomplete"]
        expect.must(problem is None, "rfc2920/3.2/6", expected=expected, actual=problem)
        if codes[0] // 100 == 2:
            expect.inconclusive(f"the server accepted {UNKNOWN.decode()} ({client.log[-1].describe()})")
        client.send_raw(b"ET\r\n", answers=[b"RSET"])
        codes, problem = _replies(client, 1)
        actual = problem or client.log[-1].describe()
        # Its own code is RSET's business (test_session.py); a 5yz means "ET" was read alone: "RS" was lost.
        kept = problem is None and codes[0] // 100 != 5
        expect.must(kept, "rfc2920/3.2/9", expected=["a reply to RSET, whose first octets came with the unknown command"], actual=actual)


@pytest.mark.requirement("rfc2920/3.2/9")
def test_commands_sent_with_an_unrecognized_one_are_all_answered(target, wire, expect):
    """PIPELINING offered: MAIL, an unknown command, RCPT, RSET in one write: four replies, RCPT's still 2yz.

    RFC 2920 3.2 (9): "MUST NOT flush or otherwise lose the contents of the TCP
    input buffer under any circumstances whatsoever."
    """
    with session(target, wire, "unknown in a group") as client:
        extension(expect, client, "PIPELINING")
        lines = [client.codec.send(Command.mail(sender(target).encode())), UNKNOWN + b"\r\n"]
        lines += [client.codec.send(Command.rcpt(probe_recipient(target).encode())), client.codec.send(Command(b"RSET"))]
        client.send_raw(b"".join(lines), answers=[b"MAIL", UNKNOWN, b"RCPT", b"RSET"])
        codes, problem = _replies(client, 4)
        expected = ["four replies: 250 (MAIL), 500 (unknown), 250/251 (RCPT), 250 (RSET)"]
        expect.must(problem is None, "rfc2920/3.2/9", expected=expected, actual=problem)
        if codes[0] != 250:
            expect.inconclusive(f"MAIL was refused: {client.log[-4].describe()}")
        # Only the unknown command is refused; the order is rfc2920/3.2/1's business (test_extensions.py).
        lost = sum(code // 100 == 5 for code in codes) != 1
        expect.must(not lost, "rfc2920/3.2/9", expected=expected, actual=", ".join(map(str, codes)))
