"""The TRANSACTION state (RFC 1939 5 and 7): listings that agree, exact sizes, multi-line framing, TOP, DELE and RSET.

Every test works inside one session and compares what that session lists:
other clients (and the SMTP suites) may deliver into the maildrop meanwhile,
but a session's message-numbers and sizes stay fixed until it ends (RFC 1939 4).
"""

from __future__ import annotations

import re

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.pop3.events import body_lines, drop_listing, scan_listing as parse_scan, unique_id_listing
from postel.protocols.pop3.state import ERROR
from postel.suites.pop3.checks import (
    MAX_RETR, on_the_wire, retrieve, scan_listing, session, split_status, unique_ids,
)
from postel.suites.pop3.messages import DOT_LINES, has_dot_line, session_with, session_with_mail
from postel.wire import WireError

pytestmark = pytest.mark.service("pop3")

FEW = 5  # messages a per-message check looks at


@pytest.mark.requirement("rfc1939/5/7", "rfc1939/5/14", "rfc1939/4/14")
def test_stat_agrees_with_list(target, wire, expect):
    """STAT, then LIST: the count is the number of scan listings, the octets their sum; numbers run 1..n."""
    with session(expect, target, wire, "STAT and LIST") as s:
        count, octets = drop_listing(s.send(b"STAT").response)
        sizes = scan_listing(expect, s)
    expect.must(
        count == len(sizes) and octets == sum(sizes.values()),
        "rfc1939/5/7",
        expected=[f"STAT: {len(sizes)} messages, {sum(sizes.values())} octets (the scan listings' count and sum)"],
        actual=f"STAT: {count} messages, {octets} octets",
    )
    expect.must(sorted(sizes) == list(range(1, len(sizes) + 1)), "rfc1939/4/14", expected=["messages numbered 1..n"], actual=f"LIST numbers {sorted(sizes)[:20]}")


@pytest.mark.requirement("rfc1939/5/12", "rfc1939/5/17")
def test_list_of_one_message_matches_its_scan_listing(target, wire, expect, request):
    """LIST n for the first few messages: one line "+OK n octets", the size LIST gave."""
    with session_with_mail(expect, target, wire, request, "LIST n") as s:
        sizes = scan_listing(expect, s)
        for n in sorted(sizes)[:FEW]:
            answer = s.send(b"LIST", n)
            expect.must(answer.ok and answer.body is None, "rfc1939/5/12", expected=[f"+OK {n} {sizes[n]}"], actual=answer.show())
            expect.must(parse_scan(answer.response.text) == (n, sizes[n]), "rfc1939/5/17", expected=[f"+OK {n} {sizes[n]}"], actual=answer.show())


NO_SUCH_MESSAGE = [("LIST", (), "rfc1939/5/21"), ("RETR", (), "rfc1939/5/25"), ("DELE", (), "rfc1939/5/30"), ("TOP", ("0",), "rfc1939/7/18"), ("UIDL", (), "rfc1939/7/18")]


@pytest.mark.parametrize("which", ["n+1", "0"])
@pytest.mark.parametrize(
    ("verb", "more", "requirement"),
    [pytest.param(v, m, r, id=v, marks=pytest.mark.requirement(r, "rfc1939/4/14")) for v, m, r in NO_SUCH_MESSAGE],
)
def test_a_message_number_not_in_the_maildrop_gets_err(target, wire, expect, verb, more, requirement, which):
    """LIST/RETR/DELE/TOP/UIDL of message 0 and of n+1: -ERR (no such message)."""
    with session(expect, target, wire, f"{verb} {which}") as s:
        count = len(scan_listing(expect, s))
        n = count + 1 if which == "n+1" else 0
        answer = s.send(verb, n, *more)
        expect.must(not answer.ok, requirement, expected=[f"-ERR no such message ({count} in the maildrop)"], actual=f"{verb} {n} -> {answer.show()}")


@pytest.mark.requirement("rfc1939/7/9", "rfc1939/7/13", "rfc1939/7/11")
def test_unique_ids_are_listed_once_each_and_unique(target, wire, expect):
    """UIDL: one listing per message of LIST, 1-70 octets 0x21-0x7E each, no two messages alike but in content."""
    with session(expect, target, wire, "UIDL") as s:
        sizes = scan_listing(expect, s)
        uids = unique_ids(s)
        if uids is None:
            expect.not_applicable("UIDL is refused: the optional command is not offered")
        expect.must(sorted(uids) == sorted(sizes), "rfc1939/7/9", expected=[f"a unique-id listing for each of {len(sizes)} messages"], actual=f"listings for {sorted(uids)[:20]}")
        by_uid: dict[bytes, list[int]] = {}
        for n, uid in uids.items():
            expect.must(re.fullmatch(rb"[\x21-\x7e]{1,70}", uid), "rfc1939/7/13", expected=["1 to 70 characters 0x21-0x7E"], actual=repr(uid))
            by_uid.setdefault(uid, []).append(n)
        for uid, numbers in by_uid.items():
            if len(numbers) > 1:
                # "two identical copies of a message in a maildrop" may share one (RFC 1939 7): compare them.
                contents = {retrieve(expect, s, n).body for n in numbers[:4]}
                expect.must(len(contents) == 1, "rfc1939/7/13", expected=["a unique-id that identifies one message"], actual=f"messages {numbers} differ but share {uid!r}")


@pytest.mark.requirement("rfc1939/7/7", "rfc1939/7/11")
def test_uidl_of_one_message_matches_its_listing(target, wire, expect, request):
    """UIDL n for the first few messages: one line "+OK n unique-id", as UIDL listed it."""
    with session_with_mail(expect, target, wire, request, "UIDL n") as s:
        uids = unique_ids(s)
        if uids is None:
            expect.not_applicable("UIDL is refused: the optional command is not offered")
        for n in sorted(uids)[:FEW]:
            answer = s.send(b"UIDL", n)
            expect.must(answer.ok and answer.body is None, "rfc1939/7/7", expected=[f"+OK {n} {uids[n].decode()}"], actual=answer.show())
            expect.must(unique_id_listing(answer.response.text) == (n, uids[n]), "rfc1939/7/11", expected=[f"+OK {n} {uids[n].decode()}"], actual=answer.show())


@pytest.mark.requirement("rfc1939/5/17", "rfc1939/11/2", "rfc1939/5/23")
def test_retr_sends_exactly_the_listed_size(target, wire, expect, request):
    """RETR n for the first messages: +OK, multi-line, and the de-stuffed message has LIST's exact size."""
    with session_with_mail(expect, target, wire, request, "RETR sizes") as s:
        sizes = scan_listing(expect, s)
        for n in [n for n in sorted(sizes) if sizes[n] <= MAX_RETR][: 2 * FEW]:
            answer = s.send(b"RETR", n)
            expect.must(answer.ok and answer.body is not None, "rfc1939/5/23", expected=[f"+OK and message {n}, multi-line"], actual=answer.show())
            expect.must(
                len(answer.body) == sizes[n],
                "rfc1939/5/17",
                expected=[f"{sizes[n]} octets, LIST's exact size (CRLF line ends, a leading '.' counted once)"],
                actual=f"message {n} has {len(answer.body)} octets once un-stuffed",
            )


@pytest.mark.requirement("rfc1939/3/16", "rfc1939/5/24", "rfc1939/11/2")
def test_lines_starting_with_a_dot_are_byte_stuffed(target, wire, expect, request):
    """RETR of a message with lines ".x", "..x" and ".": on the wire each has one more "."; the message keeps its size."""
    want = "a line that starts with '.'"
    with session_with(expect, target, wire, request, has_dot_line, DOT_LINES, want, "byte-stuffing") as (s, n, content):
        size = scan_listing(expect, s)[n]
        mark = s.mark()
        answer = retrieve(expect, s, n)
        s.server_closed(wait=0.3)  # let octets sent after a too-early "." line arrive, to show them
        raw = s.received_since(mark)
    _status, body = split_status(raw)
    expected = on_the_wire(answer.body)
    expect.must(
        body == expected,
        "rfc1939/3/16",
        expected=["each line that begins with '.' sent with one more '.' in front, then '.' CRLF"],
        actual=f"after {len(answer.body)} octets a '.' line ended the answer; then {body[len(expected):][:120]!r}",
    )
    expect.must(
        len(answer.body) == size,
        "rfc1939/3/16",
        expected=[f"{size} octets once un-stuffed: a stuffed line loses exactly its added '.'"],
        actual=f"{len(answer.body)} octets; its lines that start with '.': {[line for line in body_lines(answer.body) if line.startswith(b'.')][:6]}",
    )


@pytest.mark.parametrize("command", ["RETR", "LIST", "UIDL", "TOP"])
@pytest.mark.requirement("rfc1939/3/15", "rfc1939/3/17", "rfc1939/3/14")
def test_a_multi_line_answer_ends_with_crlf_dot_crlf(target, wire, expect, request, command):
    """RETR 1, LIST, UIDL, TOP 1 0: every line ends with CRLF, and the last five octets are CR LF "." CR LF."""
    with session_with_mail(expect, target, wire, request, f"{command} termination") as s:
        # Single-line answers only before the one judged: a multi-line LIST could break before the check.
        count, _octets = drop_listing(s.send(b"STAT").response)
        if count == 0:
            expect.not_applicable("the maildrop is empty: no message to RETR or TOP, no listing to end")
        first = s.send(b"LIST", 1)
        if not first.ok:
            expect.inconclusive(f"LIST 1 was refused ({first.show()}) with {count} messages in the maildrop")
        size = parse_scan(first.response.text)[1]
        args = {"RETR": (1,), "LIST": (), "UIDL": (), "TOP": (1, 0)}[command]
        mark = s.mark()
        try:
            answer = s.send(command, *args)
            problem = ""
        except (RemoteProtocolError, WireError) as exc:
            answer, problem = None, str(exc)
        raw = s.received_since(mark)
    status, body = split_status(raw)
    if answer is not None and not answer.ok:
        expect.not_applicable(f"{command} is refused ({answer.show()}): no multi-line answer to judge")
    if not status.startswith(b"+OK"):
        expect.inconclusive(f"no +OK status line to {command}: {raw[:80]!r} ({problem})")
    if problem and command == "RETR" and len(body) < size:
        expect.inconclusive(f"only {len(body)} of message 1's {size} octets arrived before: {problem}")
    expect.must(
        (b"\r\n" + body).endswith(b"\r\n.\r\n"),
        "rfc1939/3/15",
        expected=["a final line of '.' and CRLF: the answer ends with CRLF '.' CRLF"],
        actual=f"the answer ends {body[-24:]!r}" + (f" and then: {problem}" if problem else ""),
    )
    bare = [line for line in body.split(b"\n")[:-1] if not line.endswith(b"\r")]
    expect.must(not bare, "rfc1939/3/14", expected=["each line of the answer terminated by CRLF"], actual=f"lines ending in a bare LF: {bare[:3]}")


@pytest.mark.requirement("rfc1939/7/3", "rfc1939/7/4", "rfc1939/7/5")
def test_top_sends_the_headers_the_blank_line_and_n_body_lines(target, wire, expect, request):
    """TOP n 0, TOP n 1 and TOP n 100000 of a message with a body: the header, then 0, 1 and all body lines."""
    with session_with_mail(expect, target, wire, request, "TOP") as s:
        sizes = scan_listing(expect, s)
        n = min(sizes, key=lambda k: (sizes[k] > MAX_RETR, k))
        content = retrieve(expect, s, n).body
        head, blank, body = content.partition(b"\r\n\r\n")
        lines = [line + b"\r\n" for line in body_lines(body)]
        for k, want in ((0, head + blank), (1, head + blank + b"".join(lines[:1])), (100000, content)):
            answer = s.send(b"TOP", n, k)
            if not answer.ok and k == 0:
                expect.not_applicable(f"TOP is refused ({answer.show()}): the optional command is not offered")
            expect.must(answer.ok and answer.body is not None, "rfc1939/7/3", expected=["+OK and a multi-line answer"], actual=f"TOP {n} {k} -> {answer.show()}")
            requirement = "rfc1939/7/5" if k > len(lines) else "rfc1939/7/4"
            expect.must(
                answer.body == want,
                requirement,
                expected=[f"the {len(head) + 4}-octet header and blank line, then {min(k, len(lines))} of {len(lines)} body lines ({len(want)} octets)"],
                actual=f"TOP {n} {k}: {len(answer.body)} octets, ending {answer.body[-40:]!r}",
            )


@pytest.mark.requirement("rfc1939/5/32")
def test_noop_says_ok(target, wire, expect):
    """NOOP in the TRANSACTION state: +OK."""
    with session(expect, target, wire, "NOOP") as s:
        answer = s.send(b"NOOP")
        expect.must(answer.ok, "rfc1939/5/32", expected=["+OK"], actual=answer.show())


@pytest.mark.destructive
@pytest.mark.requirement("rfc1939/5/27", "rfc1939/5/28", "rfc1939/5/26", "rfc1939/5/10", "rfc1939/5/20", "rfc1939/7/16")
def test_a_deleted_message_is_no_longer_listed_or_served(target, wire, expect, request):
    """DELE n (the last): +OK; then LIST n, RETR n and DELE n get -ERR, STAT, LIST and UIDL leave it out; then drop, no QUIT."""
    with session_with_mail(expect, target, wire, request, "DELE") as s:
        sizes = scan_listing(expect, s)
        count, octets = drop_listing(s.send(b"STAT").response)
        n = max(sizes)
        answer = s.send(b"DELE", n)
        expect.must(answer.ok, "rfc1939/5/27", expected=[f"+OK: message {n} marked as deleted"], actual=answer.show())
        for verb, requirement in (("LIST", "rfc1939/5/28"), ("RETR", "rfc1939/5/28"), ("DELE", "rfc1939/5/26")):
            again = s.send(verb, n)
            expect.must(not again.ok, requirement, expected=[f"-ERR to {verb} {n}: message {n} is marked as deleted"], actual=again.show())
        after = drop_listing(s.send(b"STAT").response)
        expect.must(after == (count - 1, octets - sizes[n]), "rfc1939/5/10", expected=[f"STAT {count - 1} {octets - sizes[n]}"], actual=f"STAT {after[0]} {after[1]}")
        listed = scan_listing(expect, s)
        expect.must(listed == {k: v for k, v in sizes.items() if k != n}, "rfc1939/5/20", expected=[f"LIST without {n}, the others unchanged"], actual=f"LIST {listed}")
        uids = unique_ids(s)
        if uids is not None:
            expect.must(n not in uids, "rfc1939/7/16", expected=[f"UIDL without {n}"], actual=f"UIDL lists {sorted(uids)}")


@pytest.mark.destructive
@pytest.mark.requirement("rfc1939/5/34", "rfc1939/5/35")
def test_rset_unmarks_the_deleted_messages(target, wire, expect, request):
    """DELE n, RSET: +OK, and STAT, LIST n and RETR n are as before the DELE; then drop, no QUIT."""
    with session_with_mail(expect, target, wire, request, "RSET") as s:
        sizes = scan_listing(expect, s)
        before = drop_listing(s.send(b"STAT").response)
        n = max(sizes)
        if not s.send(b"DELE", n).ok:
            expect.inconclusive(f"DELE {n} was refused: nothing to unmark")
        answer = s.send(b"RSET")
        expect.must(answer.ok, "rfc1939/5/35", expected=["+OK"], actual=answer.show())
        after = drop_listing(s.send(b"STAT").response)
        expect.must(after == before, "rfc1939/5/34", expected=[f"STAT {before[0]} {before[1]}, as before DELE"], actual=f"STAT {after[0]} {after[1]}")
        for verb in ("LIST", "RETR"):
            again = s.send(verb, n)
            expect.must(again.ok, "rfc1939/5/34", expected=[f"+OK to {verb} {n}: the message is unmarked"], actual=again.show())


ERRORS = [(b"XPST", ()), (b"RETR", ("0",)), (b"LIST", ("999999999",)), (b"DELE", ("abc",))]


@pytest.mark.requirement("rfc1939/3/12", "rfc1939/3/13", "rfc2449/3/6", "rfc2449/4/4")
def test_status_lines_are_status_then_space_or_crlf(target, wire, expect):
    """A few +OK and -ERR answers, judged on the wire: "+OK" or "-ERR" in capitals, then SP text or CRLF, <= 512 octets."""
    with session(expect, target, wire, "status lines") as s:
        lines = []
        for verb, args in [(b"STAT", ()), (b"NOOP", ()), *ERRORS]:
            mark = s.mark()
            try:
                s.send(verb, *args)
            except RemoteProtocolError:
                pass  # judged below from the octets
            lines.append(split_status(s.received_since(mark))[0])
            if s.client.state is ERROR:
                break  # the strict client read a line it could not parse: judged below, nothing more to read
    for line in lines:
        upper = line[:3] == b"+OK" or line[:4] == b"-ERR"
        expect.must(upper or not (line[:3].upper() == b"+OK" or line[:4].upper() == b"-ERR"), "rfc1939/3/13", expected=["'+OK' and '-ERR' in upper case"], actual=repr(line[:80]))
        expect.must(upper, "rfc1939/3/12", expected=["'+OK' or '-ERR'"], actual=repr(line[:80]))
        expect.must(re.match(rb"(\+OK|-ERR)( [^\r\n]*)?\r\n\Z", line), "rfc2449/3/6", expected=["status [SP text] CRLF"], actual=repr(line[:80]))
        expect.must(len(line) <= 512, "rfc2449/4/4", expected=["at most 512 octets with CRLF"], actual=f"{len(line)} octets")
