"""Across sessions (RFC 1939 4, 6 and 7): the maildrop lock, deletion only in the UPDATE state, unique-ids that persist.

Messages are recognised across sessions by content (a SHA-256 of what RETR
sends), never by number: numbers are a session's own (RFC 1939 4), and other
clients may deliver meanwhile.  The unique-id checks compare the unique-ids of
the messages present, by content, in both sessions.
"""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest

from postel.suites.pop3.checks import MAX_RETR, MAX_SCANNED, Session, authenticate, scan_listing, session, unique_ids
from postel.suites.pop3.messages import fresh_message, session_with_mail
from postel.verdict import Expect

pytestmark = pytest.mark.service("pop3")


def digests(expect: Expect, s: Session, numbers: list[int] | None = None) -> dict[int, bytes]:
    """{message-number: SHA-256 of its content} for the first messages (at most MAX_SCANNED, each <= MAX_RETR)."""
    sizes = scan_listing(expect, s)
    wanted = numbers if numbers is not None else sorted(sizes)[:MAX_SCANNED]
    found = {}
    for n in wanted:
        if sizes.get(n, MAX_RETR + 1) <= MAX_RETR:
            answer = s.send(b"RETR", n)
            if not answer.ok:
                expect.inconclusive(f"RETR {n} of a listed message was refused: {answer.show()}")
            found[n] = hashlib.sha256(answer.body or b"").digest()
    return found


def holding(expect: Expect, s: Session, digest: bytes, size: int) -> list[int]:
    """The messages of this session that LIST gives ``size`` octets and whose content has ``digest``."""
    sizes = scan_listing(expect, s)
    same = [k for k in sorted(sizes) if sizes[k] == size][:MAX_SCANNED]
    return [k for k, d in digests(expect, s, same).items() if d == digest]


@pytest.mark.destructive
@pytest.mark.requirement("rfc1939/5/29", "rfc1939/6/3")
def test_a_message_deleted_in_a_dropped_session_is_still_there(target, wire, expect, request):
    """DELE n, then close the connection without QUIT; the next session still has message n (same content)."""
    with session_with_mail(expect, target, wire, request, "DELE, then drop") as s:
        sizes = scan_listing(expect, s)
        n = max(n for n in sizes if sizes[n] <= MAX_RETR) if any(v <= MAX_RETR for v in sizes.values()) else None
        if n is None:
            expect.not_applicable(f"every message is over {MAX_RETR} octets")
        digest = digests(expect, s, [n])[n]
        if not s.send(b"DELE", n).ok:
            expect.inconclusive(f"DELE {n} was refused")
    with session(expect, target, wire, "the next session") as s:
        kept = holding(expect, s, digest, sizes[n])
    expect.must(
        kept,
        "rfc1939/6/3",
        expected=[f"message {n} still in the maildrop: a session that ends without QUIT removes nothing"],
        actual=f"no message of the next session has message {n}'s content",
    )


@pytest.mark.destructive
@pytest.mark.requirement("rfc1939/6/1", "rfc1939/6/4", "rfc1939/6/6", "rfc1939/6/7", "rfc1939/7/13")
def test_dele_then_quit_removes_that_message_and_no_other(target, wire, expect, request):
    """A message sent for the test: DELE it, QUIT (+OK, close); the next session lacks it, has every other, same unique-ids."""
    with fresh_message(expect, target, wire, request, label="DELE, then QUIT") as (s, n, content):
        before = digests(expect, s)
        uids_before = unique_ids(s)
        size = scan_listing(expect, s)[n]
        gone = hashlib.sha256(content).digest()
        if not s.send(b"DELE", n).ok:
            expect.inconclusive(f"DELE {n} was refused")
        answer = s.quit()
        expect.must(answer.ok, "rfc1939/6/4", expected=["+OK: the marked message removed"], actual=answer.show())
        expect.must(s.server_closed(), "rfc1939/6/7", expected=["the server closes the connection after QUIT"], actual=f"still open {s.timeout:g}s after the answer")
    with session(expect, target, wire, "the next session") as s:
        sums = digests(expect, s, list(range(1, MAX_SCANNED + 2)))
        uids_after = unique_ids(s)
        still = holding(expect, s, gone, size)
    after = Counter(sums.values())
    expect.must(not still, "rfc1939/6/4", expected=["the message deleted before QUIT is gone"], actual=f"the next session still has it, as message {still}")
    kept = Counter(d for k, d in before.items() if k != n)
    missing = [k for k, d in before.items() if k != n and after[d] < kept[d]]
    expect.must(not missing, "rfc1939/6/6", expected=["every message not marked as deleted still there"], actual=f"messages {missing} of the earlier session are gone")
    if uids_before is not None and uids_after is not None:
        # The unique-id "persists across sessions": each message kept has the one it had.
        was = {d: uids_before[k] for k, d in before.items() if k in uids_before and k != n}
        now = {d: uids_after[k] for k, d in sums.items() if k in uids_after}
        changed = sorted(f"{was[d].decode('latin-1')} -> {now[d].decode('latin-1')}" for d in was.keys() & now.keys() if was[d] != now[d])
        expect.must(not changed, "rfc1939/7/13", expected=["the messages kept keep their unique-ids"], actual="; ".join(changed[:4]))


@pytest.mark.requirement("rfc1939/4/6", "rfc1939/4/9")
def test_a_second_session_is_refused_while_the_first_holds_the_maildrop(target, wire, expect):
    """Session A logs in and stays; session B logs in with the same credentials: -ERR (the lock); A still works."""
    with session(expect, target, wire, "session A (holds the lock)") as a:
        b = Session(target, wire, "session B")
        try:
            answer = authenticate(expect, target, b)
        finally:
            b.drop()
        expect.must(
            not answer.ok,
            "rfc1939/4/6",
            expected=["-ERR (e.g. [IN-USE]): session A holds the maildrop's exclusive-access lock"],
            actual=f"{answer.command.decode('latin-1')} -> {answer.show()}",
        )
        still = a.send(b"STAT")
        expect.must(still.ok, "rfc1939/4/9", expected=["+OK to STAT in session A: B's refusal leaves A alone"], actual=still.show())


@pytest.mark.requirement("rfc1939/7/14")
def test_unique_ids_persist_across_sessions(target, wire, expect, request):
    """UIDL in two sessions (the first dropped, no QUIT): each message present in both has the same unique-id."""
    seen = []
    for label in ("first session", "second session"):
        with session_with_mail(expect, target, wire, request, label) as s:
            uids = unique_ids(s)
            if uids is None:
                expect.not_applicable("UIDL is refused: the optional command is not offered")
            sums = digests(expect, s)
            seen.append({sums[n]: uids[n] for n in sums})
    first, second = seen
    changed = {d: (first[d], second[d]) for d in first.keys() & second.keys() if first[d] != second[d]}
    expect.must(
        not changed,
        "rfc1939/7/14",
        expected=["the same unique-id for the same message in the next session"],
        actual="; ".join(f"{a.decode('latin-1')} became {b.decode('latin-1')}" for a, b in list(changed.values())[:4]),
    )
