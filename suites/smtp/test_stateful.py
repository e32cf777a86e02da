"""An SMTP session as a Hypothesis state machine whose model is the protocol state (RFC 5321 3.3, 4.1.4).

The model keeps what the server must remember: whether the session was
initialized (EHLO/HELO), whether a transaction is open (MAIL accepted), how
many recipients were accepted, and why there is no transaction (never opened,
RSET, a new EHLO, the end of the data): each reason has its own sentence.
Rules are the commands; after each, the reply must be a code RFC 5321 4.3.2
allows for that command, and 503 must come exactly when the model says the
sequence is bad.  One connection per example, opened in ``initialize`` and
closed in ``teardown``.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test

from postel.protocols.smtp.events import Command
from postel.protocols.smtp.sequences import MEANING_REQUIREMENT
from postel.suites.smtp.checks import (
    connect,
    expect_listed,
    helo,
    helo_required,
    message,
    new_marker,
    probe_recipient,
    raise_inconclusive,
    recipient,
    sender,
)

pytestmark = pytest.mark.service("smtp")

STEPS = 12  # commands per example: short runs, the profile decides how many examples
MAX_BAD_COMMANDS = 3

# Why no transaction is open -> the sentence that makes RCPT then a bad sequence.
NO_MAIL_BECAUSE = {
    "never opened": "rfc5321/3.3/9",  # "If a RCPT command appears without a previous MAIL command ... 503"
    "RSET": "rfc5321/4.1.1.5/1",  # "Any stored sender, recipients, and mail data MUST be discarded"
    "EHLO": "rfc5321/4.1.4/4",  # "... reset the state exactly as if a RSET command had been issued"
    "HELO": "rfc5321/4.1.1.1/7",  # "a "250 OK" reply to one of them, confirm that ... there is no transaction in progress"
    "end of data": "rfc5321/4.1.1.4/8",  # "on the completion of this command these buffers are cleared"
}
REQUIREMENTS = (
    MEANING_REQUIREMENT,
    "rfc5321/4.3.2/8", "rfc5321/4.3.2/9", "rfc5321/4.3.2/10", "rfc5321/4.3.2/11", "rfc5321/4.3.2/12", "rfc5321/4.3.2/13", "rfc5321/4.3.2/16",
    "rfc5321/2.2.1/2", "rfc5321/2.2.1/4", "rfc5321/4.1.4/16", "rfc5321/3.3/11", "rfc5321/4.1.1.4/9", "rfc5321/4.1.1.5/2",
    "rfc5321/4.1.1.9/1", "rfc5321/4.2.4/2", *NO_MAIL_BECAUSE.values(),
)  # fmt: skip


def session_machine(target, wire, expect) -> type[RuleBasedStateMachine]:
    """The state machine class for one target (a factory: Hypothesis builds a fresh instance per example)."""
    can_deliver = recipient(target) is not None

    class SmtpSession(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.client = None
            self.initialized = False
            self.in_transaction = False
            self.rcpts = 0
            self.no_mail_because = "never opened"

        @initialize(start_with_ehlo=st.booleans())
        def connect(self, start_with_ehlo: bool) -> None:
            self.client = connect(target, wire, "stateful session")
            if start_with_ehlo:
                self.ehlo()

        def teardown(self) -> None:
            if self.client is not None:
                self.client.__exit__(None, None, None)

        # ------------------------------------------------------------ the model

        def _clear(self, because: str) -> None:
            self.in_transaction, self.rcpts, self.no_mail_because = False, 0, because

        def _judge(self, bad_sequence: str | None, *, allowed_when_bad: frozenset[int] = frozenset({503})) -> int:
            """The last reply: listed for its command; a 503 (or ``allowed_when_bad``) exactly when the sequence is bad."""
            answer = self.client.log[-1]
            expect_listed(expect, answer)
            if bad_sequence is not None:
                codes = " or ".join(map(str, sorted(allowed_when_bad)))
                expect.must(answer.code in allowed_when_bad, bad_sequence, expected=[f"{codes}: {self._story()}"], actual=answer.describe())
            else:
                expect.must(answer.code != 503, MEANING_REQUIREMENT, expected=[f"not 503 (bad sequence): {self._story()}"], actual=answer.describe())
            return answer.code

        def _story(self) -> str:
            state = "initialized" if self.initialized else "not initialized"
            trans = f"MAIL accepted, {self.rcpts} recipient(s)" if self.in_transaction else f"no transaction ({self.no_mail_because})"
            return f"the session is {state}, {trans}"

        def _refused(self, code: int, what: str) -> None:
            if code // 100 in (4, 5) and code != 503:
                raise_inconclusive(f"{what} was refused for the server's own reasons: {self.client.log[-1].describe()}")

        # ------------------------------------------------------------ rules: one per command

        @rule()
        def ehlo(self) -> None:
            self.client.ehlo(helo(target))
            expect.must(self._judge(None) == 250, "rfc5321/2.2.1/2", expected=["250 to EHLO"], actual=self.client.log[-1].describe())
            self.initialized = True
            self._clear("EHLO" if self.in_transaction else self.no_mail_because)

        @rule()
        def helo(self) -> None:
            self.client.helo(helo(target))
            expect.must(self._judge(None) == 250, "rfc5321/2.2.1/4", expected=["250 to HELO"], actual=self.client.log[-1].describe())
            self.initialized = True
            self._clear("HELO" if self.in_transaction else self.no_mail_because)

        @rule()
        def mail(self) -> None:
            self.client.mail(sender(target))
            required = helo_required(target)
            if self.in_transaction:
                code = self._judge("rfc5321/4.1.4/16")  # a MAIL inside a transaction
            elif not self.initialized and required:
                code = self._judge("rfc5321/4.1.4/16")  # a MAIL before EHLO, where the server requires it
            elif not self.initialized and required is None:
                code = self.client.log[-1].code  # either is right: follow the server
                expect_listed(expect, self.client.log[-1])
            else:
                code = self._judge(None)
            if not self.in_transaction:
                self._refused(code, "MAIL")
                if code // 100 == 2:
                    self.in_transaction, self.rcpts = True, 0

        @rule()
        def rcpt(self) -> None:
            self.client.rcpt(probe_recipient(target))
            code = self._judge(None if self.in_transaction else NO_MAIL_BECAUSE[self.no_mail_because])
            if self.in_transaction:
                self._refused(code, "RCPT")
                self.rcpts += code // 100 == 2

        @precondition(lambda self: can_deliver or not (self.in_transaction and self.rcpts))
        @rule()
        def data(self) -> None:
            self.client.command(Command(b"DATA"))
            if not (self.in_transaction and self.rcpts):
                self._judge("rfc5321/4.1.4/16", allowed_when_bad=frozenset({503, 554}))
                return
            code = self._judge(None)
            expect.must(code == 354, "rfc5321/3.3/11", expected=[f"354: {self._story()}"], actual=self.client.log[-1].describe())
            self.client.send_content(message(target, new_marker(), b"from the stateful suite\r\n", rcpt=recipient(target)))
            expect_listed(expect, self.client.log[-1])
            expect.must(self.client.log[-1].code == 250, "rfc5321/4.1.1.4/9", expected=["250 after <CRLF>.<CRLF>"], actual=self.client.log[-1].describe())
            self._clear("end of data")

        @rule()
        def mail_transaction(self) -> None:
            """MAIL, RCPT, DATA in a row, as 3.3 lays a transaction out (random single steps seldom line up)."""
            self.mail()
            self.rcpt()
            if can_deliver:
                self.data()

        @rule()
        def rset(self) -> None:
            self.client.rset()
            expect.must(self._judge(None) == 250, "rfc5321/4.1.1.5/2", expected=["250 to RSET"], actual=self.client.log[-1].describe())
            self._clear("RSET" if self.in_transaction else self.no_mail_because)

        @rule()
        def noop(self) -> None:
            self.client.noop()
            expect.must(self._judge(None) == 250, "rfc5321/4.1.1.9/1", expected=["250 to NOOP"], actual=self.client.log[-1].describe())

        @rule()
        def vrfy(self) -> None:
            self.client.vrfy("postmaster")
            expect_listed(expect, self.client.log[-1])

        # "it would be reasonable for the server to close the connection after generating an appropriate
        # number of 5yz replies" (7.8): a few unknown commands per session, not a flood.
        @precondition(lambda self: self.client is not None and sum(a.answers == b"XYZZY" for a in self.client.log) < MAX_BAD_COMMANDS)
        @rule()
        def bad_command(self) -> None:
            self.client.send_raw(b"XYZZY\r\n")
            self.client.read_reply()
            answer = self.client.log[-1]
            expect.should(answer.code == 500, "rfc5321/4.2.4/2", expected=["500: command not recognized"], actual=answer.describe())

    return SmtpSession


@pytest.mark.destructive
@pytest.mark.requirement(*REQUIREMENTS)
def test_smtp_session_follows_the_protocol_state(target, wire, expect):
    """Random sequences of EHLO, HELO, MAIL, RCPT, DATA, RSET, NOOP, VRFY and an unknown command against the model."""
    run_state_machine_as_test(session_machine(target, wire, expect), settings=settings(stateful_step_count=STEPS))
