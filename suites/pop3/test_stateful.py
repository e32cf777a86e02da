"""A POP3 session as a Hypothesis state machine: the model is RFC 1939's state and the deletion marks.

The model holds the session state (AUTHORIZATION, TRANSACTION), the scan
listing read once at login (message-numbers and sizes are fixed for the
session, RFC 1939 4) and the set of messages marked as deleted.  Each rule
sends one command and checks that the server answers "+OK" or "-ERR" exactly
as the model predicts; the invariant checks STAT against the model's
undeleted messages after every step.

The machine never sends QUIT in the TRANSACTION state: every example ends by
dropping the connection, so no mark is ever carried out (RFC 1939 6).  DELE
is one of its rules only when the run may change the target (the reference,
or ``--allow-destructive``): against a server that deletes at once it would
lose mail.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from postel.protocols.pop3.events import drop_listing
from postel.suites.pop3.checks import LOCK_RETRIES, authenticate, in_use, may_change, open_session, scan_listing, unique_ids

pytestmark = pytest.mark.service("pop3")

STEPS = 12  # commands per example: a session is short, the examples many
# Wrong-state and unknown commands per state of one session.  Servers may end a session that sends
# many (dovecot's pop3-login answers the third with "-ERR Too many invalid bad commands." and closes);
# RFC 1939 asks only for the -ERR, which two of them show as well as ten.
BAD_COMMANDS = 2
NUMBERS = st.integers(min_value=0, max_value=12)  # 0 and numbers past the last message are "no such message"

# The sentence that answers for a wrong status, per command: when the message is there, when it is not.
SERVED = {"LIST": "rfc1939/5/12", "RETR": "rfc1939/5/23", "DELE": "rfc1939/5/27", "TOP": "rfc1939/7/3", "UIDL": "rfc1939/7/7"}
NO_SUCH = {"LIST": "rfc1939/5/21", "RETR": "rfc1939/5/25", "DELE": "rfc1939/5/30", "TOP": "rfc1939/7/18", "UIDL": "rfc1939/7/18"}
MARKED = "rfc1939/5/28"  # "Any future reference to the message-number ... generates an error."
TRANSACTION_ONLY = [("STAT",), ("LIST",), ("LIST", "1"), ("RETR", "1"), ("DELE", "1"), ("NOOP",), ("RSET",), ("UIDL",), ("TOP", "1", "0")]
AUTHORIZATION_ONLY = [("USER", "postel-nobody"), ("PASS", "postel-not-the-password"), ("APOP", "postel-nobody", "0" * 32)]
UNKNOWN = st.sampled_from([("XPST",), ("XPST", "1"), ("LST",), ("RTRV", "1")])


def session_machine(expect, target, wire, allow_dele: bool) -> type[RuleBasedStateMachine]:
    """The machine class for one target; the connection opens in ``initialize`` and is dropped in ``teardown``."""

    class Pop3SessionMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.s = None
            self.logged_in = False
            self.sizes: dict[int, int] = {}
            self.deleted: set[int] = set()
            self.uids: dict[int, bytes] | None = None
            self.has_top = False
            self.bad = 0  # wrong-state and unknown commands sent in the current state

        @initialize()
        def connect(self) -> None:
            self.s = open_session(expect, target, wire, "stateful session", login=False)

        def teardown(self) -> None:
            if self.s is not None:
                self.s.drop()  # never QUIT: nothing marked is removed

        # ------------------------------------------------------------ the model

        def live(self) -> dict[int, int]:
            return {n: size for n, size in self.sizes.items() if n not in self.deleted}

        def judge(self, verb: str, n: int, ok: bool, shown: str) -> None:
            if n in self.deleted:
                want, requirement = False, MARKED
            elif n in self.sizes:
                want, requirement = True, SERVED[verb]
            else:
                want, requirement = False, NO_SUCH[verb]
            expect.must(ok == want, requirement, expected=[f"{'+OK' if want else '-ERR'} to {verb} {n} ({self.describe()})"], actual=shown)

        def describe(self) -> str:
            return f"messages {sorted(self.sizes)}, marked as deleted {sorted(self.deleted)}"

        # ------------------------------------------------------------ AUTHORIZATION

        @precondition(lambda self: not self.logged_in)
        @rule()
        def login(self) -> None:
            for pause in (*LOCK_RETRIES, None):
                answer = authenticate(expect, target, self.s)
                if answer.ok:
                    break
                if pause is None or not in_use(answer):
                    expect.inconclusive(f"the login was refused: {answer.show()}")
                time.sleep(pause)  # the previous example's session may not have let go of the lock yet
            self.logged_in, self.bad = True, 0
            self.sizes = scan_listing(expect, self.s)
            self.uids = unique_ids(self.s)
            self.has_top = bool(self.sizes) and self.s.send(b"TOP", min(self.sizes), 0).ok

        @precondition(lambda self: not self.logged_in and self.bad < BAD_COMMANDS)
        @rule(command=st.sampled_from(TRANSACTION_ONLY))
        def transaction_command_before_login(self, command) -> None:
            self.bad += 1
            answer = self.s.send(*command)
            expect.must(not answer.ok, "rfc1939/3/28", expected=[f"-ERR to {' '.join(command)} in the AUTHORIZATION state"], actual=answer.show())

        # ------------------------------------------------------------ TRANSACTION

        @precondition(lambda self: self.logged_in and self.bad < BAD_COMMANDS)
        @rule(command=st.sampled_from(AUTHORIZATION_ONLY))
        def authorization_command_after_login(self, command) -> None:
            self.bad += 1
            answer = self.s.send(*command)
            expect.must(not answer.ok, "rfc1939/3/28", expected=[f"-ERR to {command[0]} in the TRANSACTION state"], actual=answer.show())

        @precondition(lambda self: self.logged_in)
        @rule()
        def list_all(self) -> None:
            listed = scan_listing(expect, self.s)
            expect.must(listed == self.live(), "rfc1939/5/20", expected=[f"LIST of {sorted(self.live())}: marked messages are not listed"], actual=f"LIST of {sorted(listed)}")

        @precondition(lambda self: self.logged_in)
        @rule(n=NUMBERS)
        def list_one(self, n: int) -> None:
            answer = self.s.send(b"LIST", n)
            self.judge("LIST", n, answer.ok, answer.show())

        @precondition(lambda self: self.logged_in)
        @rule(n=NUMBERS)
        def retr(self, n: int) -> None:
            answer = self.s.send(b"RETR", n)
            self.judge("RETR", n, answer.ok, answer.show())
            if answer.ok:
                expect.must(len(answer.body) == self.sizes[n], "rfc1939/5/17", expected=[f"{self.sizes[n]} octets, as LIST said"], actual=f"{len(answer.body)} octets")

        @precondition(lambda self: self.logged_in and self.has_top)
        @rule(n=NUMBERS, lines=st.integers(min_value=0, max_value=3))
        def top(self, n: int, lines: int) -> None:
            answer = self.s.send(b"TOP", n, lines)
            self.judge("TOP", n, answer.ok, answer.show())

        @precondition(lambda self: self.logged_in and self.uids is not None)
        @rule(n=NUMBERS)
        def uidl_one(self, n: int) -> None:
            answer = self.s.send(b"UIDL", n)
            self.judge("UIDL", n, answer.ok, answer.show())
            if answer.ok:
                expect.must(
                    answer.response.text == b"%d %s" % (n, self.uids[n]), "rfc1939/7/7", expected=[f"+OK {n} {self.uids[n].decode()}"], actual=answer.show()
                )

        @precondition(lambda self: self.logged_in and allow_dele)
        @rule(n=NUMBERS)
        def dele(self, n: int) -> None:
            answer = self.s.send(b"DELE", n)
            self.judge("DELE", n, answer.ok, answer.show())
            if answer.ok:
                self.deleted.add(n)

        @precondition(lambda self: self.logged_in)
        @rule()
        def rset(self) -> None:
            answer = self.s.send(b"RSET")
            expect.must(answer.ok, "rfc1939/5/35", expected=["+OK to RSET"], actual=answer.show())
            self.deleted.clear()

        @precondition(lambda self: self.logged_in)
        @rule()
        def noop(self) -> None:
            answer = self.s.send(b"NOOP")
            expect.must(answer.ok, "rfc1939/5/32", expected=["+OK to NOOP"], actual=answer.show())

        # ------------------------------------------------------------ either state

        @precondition(lambda self: self.bad < BAD_COMMANDS)
        @rule(command=UNKNOWN)
        def unknown_command(self, command) -> None:
            self.bad += 1
            answer = self.s.send(*command)
            expect.must(not answer.ok, "rfc1939/3/27", expected=[f"-ERR to the unknown command {command[0]}"], actual=answer.show())

        @precondition(lambda self: self.logged_in)
        @invariant()
        def stat_counts_the_undeleted_messages(self) -> None:
            count, octets = drop_listing(self.s.send(b"STAT").response)
            live = self.live()
            expect.must(
                (count, octets) == (len(live), sum(live.values())),
                "rfc1939/5/10",
                expected=[f"STAT {len(live)} {sum(live.values())}: {self.describe()}"],
                actual=f"STAT {count} {octets}",
            )

    return Pop3SessionMachine


@pytest.mark.requirement(
    "rfc1939/3/27", "rfc1939/3/28", "rfc1939/5/10", "rfc1939/5/12", "rfc1939/5/17", "rfc1939/5/20", "rfc1939/5/21",
    "rfc1939/5/23", "rfc1939/5/25", "rfc1939/5/27", "rfc1939/5/28", "rfc1939/5/30", "rfc1939/5/32", "rfc1939/5/35",
    "rfc1939/7/3", "rfc1939/7/7", "rfc1939/7/18",
)
def test_a_pop3_session_answers_as_the_model_predicts(target, wire, expect, request):
    """Random sessions of USER/PASS, STAT, LIST, RETR, TOP, UIDL, DELE, RSET, NOOP and wrong or unknown commands; dropped, never QUIT."""
    machine = session_machine(expect, target, wire, allow_dele=may_change(request, target))
    run_state_machine_as_test(machine, settings=settings(stateful_step_count=STEPS))
