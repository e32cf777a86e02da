"""The shapes RFC 1939 fixes for parsing (5, 7): drop, scan and unique-id listings as sent, the minimal commands, QUIT.

Why judged on the octets: the strict client and ``events.py`` accept what
RFC 1939 allows after a drop or scan listing (" more information"), so these
checks read the lines themselves, to tell the MUST (the listing's form, in
decimal) from the SHOULD (a minimal server ends the line after the size).
Each check stays within one session: other clients may deliver meanwhile.
"""

from __future__ import annotations

import re

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.pop3.events import body_lines
from postel.suites.pop3.checks import session, split_status, unique_ids
from postel.suites.pop3.messages import fresh_message, session_with_mail
from postel.wire import WireError

pytestmark = pytest.mark.service("pop3")

DROP_LISTING = re.compile(rb"\+OK [0-9]+ [0-9]+(?: [^\r\n]*)?\r\n")  # "+OK" SP count SP octets [SP more] CRLF
BARE_DROP_LISTING = re.compile(rb"\+OK [0-9]+ [0-9]+\r\n")
SCAN_LISTING = re.compile(rb"[0-9]+ [0-9]+(?: .*)?", re.DOTALL)  # msg SP octets [SP more]
BARE_SCAN_LISTING = re.compile(rb"[0-9]+ [0-9]+")
UNIQUE_ID_LISTING = re.compile(rb"[0-9]+ [\x21-\x7e]{1,70}")  # msg SP unique-id, and nothing after it
MINIMAL = [(b"STAT", ()), (b"LIST", ()), (b"LIST", (1,)), (b"RETR", (1,)), (b"NOOP", ()), (b"RSET", ())]
STATUS_LINE = re.compile(rb"(\+OK|-ERR)(?: [^\r\n]*)?\r\n")
# Single-line and multi-line answers, +OK and -ERR, but no message: a stored message's own line ends are RFC 1939 3/14's.
SAMPLED = [(b"NOOP", ()), (b"STAT", ()), (b"LIST", ()), (b"LIST", (1,)), (b"UIDL", ()), (b"CAPA", ()), (b"XPST", ()), (b"LIST", (0,)), (b"RSET", ())]


@pytest.mark.requirement("rfc1939/5/5", "rfc1939/5/6", "rfc1939/5/8")
def test_stat_answers_one_drop_listing_line(target, wire, expect):
    """STAT: "The positive response consists of "+OK" followed by a single space, the number of messages in the
    maildrop, a single space, and the size of the maildrop in octets" -- in decimal; "Minimal implementations
    should just end that line of the response with a CRLF pair."
    """
    with session(expect, target, wire, "STAT line") as s:
        answer = s.send(b"STAT")
    status, _rest = split_status(answer.raw)
    expect.must(answer.ok, "rfc1939/5/5", expected=["+OK with the maildrop's drop listing"], actual=answer.show())
    expect.must(
        DROP_LISTING.fullmatch(status),
        "rfc1939/5/6",
        expected=['"+OK" SP count SP octets, both in decimal digits, then CRLF (or SP and more)'],
        actual=repr(status[:80]),
    )
    expect.should(BARE_DROP_LISTING.fullmatch(status), "rfc1939/5/8", expected=["nothing after the maildrop size: '+OK nn mm' CRLF"], actual=repr(status[:80]))


@pytest.mark.requirement("rfc1939/5/13", "rfc1939/5/16", "rfc1939/7/8", "rfc1939/7/10", "rfc1939/7/12", "rfc1939/5/18")
def test_list_and_uidl_send_one_listing_per_line(target, wire, expect, request):
    """LIST and UIDL without an argument: multi-line; each line "msg SP octets" (decimal) or "msg SP unique-id".

    "If no argument was given and the POP3 server issues a positive response, then the response given is
    multi-line."  "No information follows the unique-id in the unique-id listing."  After a scan listing's
    size, "Minimal implementations should just end that line of the response with a CRLF pair."
    """
    with session_with_mail(expect, target, wire, request, "LIST and UIDL lines") as s:
        try:
            listing = s.send(b"LIST")
        except WireError as exc:
            expect.must(False, "rfc1939/5/13", expected=["+OK, then the scan listings and '.' CRLF"], actual=f"no end of a multi-line answer: {exc}")
        if not listing.ok:
            expect.inconclusive(f"LIST was refused ({listing.show()}) with mail in the maildrop")
        uidl = s.send(b"UIDL")
    expect.must(listing.body is not None, "rfc1939/5/13", expected=["a multi-line answer"], actual=listing.show())
    lines = body_lines(listing.body)
    expect.must(lines, "rfc1939/5/16", expected=["a scan listing for each message (the maildrop has mail)"], actual="no scan listing")
    for line in lines:
        expect.must(SCAN_LISTING.fullmatch(line), "rfc1939/5/16", expected=["msg SP octets, both in decimal digits"], actual=repr(line[:80]))
        expect.should(BARE_SCAN_LISTING.fullmatch(line), "rfc1939/5/18", expected=["nothing after the message size"], actual=repr(line[:80]))
    if not uidl.ok:
        return  # UIDL is optional (RFC 1939 7): nothing more to judge
    expect.must(uidl.body is not None, "rfc1939/7/8", expected=["a multi-line answer"], actual=uidl.show())
    for line in body_lines(uidl.body):
        if not UNIQUE_ID_LISTING.fullmatch(line) and re.fullmatch(rb"[0-9]+ [\x21-\x7e]{1,70} .*", line, re.DOTALL):
            expect.must(False, "rfc1939/7/12", expected=["msg SP unique-id CRLF: nothing after the unique-id"], actual=f"something follows the unique-id: {line[:80]!r}")
        expect.must(UNIQUE_ID_LISTING.fullmatch(line), "rfc1939/7/10", expected=["msg SP unique-id (1 to 70 octets 0x21-0x7E)"], actual=repr(line[:80]))


@pytest.mark.requirement("rfc1939/7/1")
def test_the_minimal_commands_are_supported(target, wire, expect, request):
    """STAT, LIST, LIST 1, RETR 1, NOOP and RSET get +OK: "The POP3 commands discussed above must be supported by
    all minimal implementations of POP3 servers."  (QUIT, the other one besides DELE, is the next test's.)
    """
    with session_with_mail(expect, target, wire, request, "minimal commands") as s:
        answers = [(verb, args, s.send(verb, *args)) for verb, args in MINIMAL]
    for verb, args, answer in answers:
        name = b" ".join([verb, *(b"%d" % a for a in args)]).decode()
        expect.must(answer.ok, "rfc1939/7/1", expected=[f"+OK to {name}: every minimal server supports it"], actual=answer.show())


@pytest.mark.requirement("rfc1939/3/24", "rfc1939/3/25", "rfc1939/3/26")
def test_quit_in_the_transaction_state_says_goodbye_and_closes(target, wire, expect):
    """QUIT with nothing marked: +OK, and the server closes the connection.

    "When the client has issued the QUIT command, the session enters the UPDATE state.  In this state, the
    POP3 server releases any resources acquired during the TRANSACTION state and says goodbye.  The TCP
    connection is then closed."
    """
    with session(expect, target, wire, "QUIT") as s:
        try:
            answer = s.quit()
        except (RemoteProtocolError, WireError) as exc:
            expect.must(False, "rfc1939/3/25", expected=["+OK: the server says goodbye"], actual=str(exc))
        expect.must(answer.ok, "rfc1939/3/25", expected=["+OK: nothing was marked, so nothing can fail to be removed"], actual=answer.show())
        closed = s.server_closed()
    expect.must(closed, "rfc1939/3/26", expected=["the server closes the connection after QUIT's answer"], actual=f"still open {s.timeout:g}s after {answer.show()!r}")


@pytest.mark.requirement("rfc1939/3/10", "rfc1939/3/9")
def test_every_response_line_ends_with_crlf(target, wire, expect, request):
    """The greeting, the login and NOOP, STAT, LIST, LIST 1, UIDL, CAPA, an unknown command, LIST 0, RSET, on the wire.

    "Responses in the POP3 consist of a status indicator and a keyword possibly followed by additional
    information.  All responses are terminated by a CRLF pair."
    """
    statuses, problem = [], ""
    with session_with_mail(expect, target, wire, request, "CRLF everywhere") as s:
        for verb, args in SAMPLED:
            mark = s.mark()
            try:
                s.send(verb, *args)
            except (RemoteProtocolError, WireError) as exc:
                problem = f" ({verb.decode()}: {exc})"
            statuses.append((verb, split_status(s.received_since(mark))[0]))
            if problem:
                break  # the strict client cannot read on: judged from the octets so far
        raw = s.transcript.received()
    bare = [line for line in raw.split(b"\n")[:-1] if not line.endswith(b"\r")]
    expect.must(
        not bare and raw.endswith(b"\r\n"),
        "rfc1939/3/10",
        expected=["every line the server sent ended by CR LF"],
        actual=f"lines ending in a bare LF: {bare[:3]}; the last octets {raw[-12:]!r}{problem}",
    )
    for verb, status in statuses:
        expect.must(STATUS_LINE.fullmatch(status), "rfc1939/3/9", expected=['"+OK" or "-ERR", then SP and text or nothing'], actual=f"{verb.decode()} -> {status[:80]!r}")


@pytest.mark.destructive
@pytest.mark.requirement("rfc1939/7/15")
def test_a_new_message_does_not_get_a_deleted_ones_unique_id(target, wire, expect, request):
    """A message sent for the test: its unique-id, DELE, QUIT; then another sent: it gets another unique-id.

    "The server should never reuse an unique-id in a given maildrop, for as long as the entity using the
    unique-id exists."
    """
    with fresh_message(expect, target, wire, request, label="the message to delete") as (s, n, _content):
        uids = unique_ids(s)
        if uids is None:
            expect.not_applicable("UIDL is refused: the optional command is not offered")
        gone = uids[n]
        if not s.send(b"DELE", n).ok or not s.quit().ok:
            expect.inconclusive(f"DELE {n} then QUIT did not both get +OK")
    with fresh_message(expect, target, wire, request, label="the next message") as (s, n, _content):
        uids = unique_ids(s) or {}
    expect.should(uids.get(n) != gone, "rfc1939/7/15", expected=[f"a unique-id other than the deleted message's {gone!r}"], actual=f"the new message {n} has {uids.get(n)!r}")
