"""Command order (RFC 5321 3.3, 4.1.4): out-of-order commands get 503, and a 503 changes nothing.

"If the commands in a transaction are out of order to the degree that they
cannot be processed by the server, a 503 failure reply MUST be returned and
the SMTP server MUST stay in the same state" (4.1.4).  No test here sends mail.
"""

from __future__ import annotations

import pytest

from postel.protocols.smtp.events import Command
from postel.suites.smtp.checks import connect, expect_code, helo, helo_required, probe_recipient, sender, session

pytestmark = pytest.mark.service("smtp")


@pytest.mark.requirement("rfc5321/4.1.4/16")
def test_mail_before_ehlo_gets_503_where_the_server_requires_ehlo(target, wire, expect):
    """MAIL FROM before any EHLO/HELO: 503 from a server that requires the greeting (target option helo_required)."""
    client = connect(target, wire, "MAIL before EHLO")
    with client:
        client.mail(sender(target))
        code = client.log[-1].code
        required = helo_required(target)
        if required is None and code // 100 == 2:
            expect.not_applicable("the server processes MAIL before EHLO, which RFC 5321 leaves to it; --target-option helo_required=yes if it should not")
        if required is False:
            expect.not_applicable("target option helo_required=no: the server may process MAIL before EHLO")
        expect_code(expect, client, {503}, "rfc5321/4.1.4/16", "(bad sequence: the session was never initialized by EHLO or HELO)")


@pytest.mark.requirement("rfc5321/3.3/9", "rfc5321/4.1.4/16")
def test_rcpt_before_mail_gets_503(target, wire, expect):
    """EHLO, then RCPT without MAIL: "the server MUST return a 503"; a MAIL afterwards still works."""
    with session(target, wire, "RCPT before MAIL") as client:
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {503}, "rfc5321/3.3/9", '"Bad sequence of commands"')
        client.mail(sender(target))
        expect_code(expect, client, {250}, "rfc5321/4.1.4/16", "to MAIL: the 503 left the state as it was")


@pytest.mark.requirement("rfc5321/4.1.4/16", "rfc5321/3.3/12")
def test_data_before_rcpt_gets_503(target, wire, expect):
    """DATA with no MAIL, then DATA after MAIL with no RCPT: 503 (or 554, "no valid recipients"), never 354."""
    with session(target, wire, "DATA before RCPT") as client:
        client.command(Command(b"DATA"))
        expect_code(expect, client, {503, 554}, "rfc5321/4.1.4/16", "to DATA without MAIL (554 allowed by 3.3)")
        client.mail(sender(target))
        client.command(Command(b"DATA"))
        expect_code(expect, client, {503, 554}, "rfc5321/4.1.4/16", "to DATA after MAIL without RCPT")
        expect_code(expect, client, {503, 554}, "rfc5321/3.3/12")


@pytest.mark.requirement("rfc5321/4.1.4/16")
def test_mail_inside_a_transaction_gets_503(target, wire, expect):
    """MAIL, then MAIL again before the transaction ends: 503, and the first transaction goes on."""
    with session(target, wire, "nested MAIL") as client:
        client.mail(sender(target))
        client.mail(sender(target))
        expect_code(expect, client, {503}, "rfc5321/4.1.4/16", "to a MAIL while a transaction is open")
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {250, 251}, "rfc5321/4.1.4/16", "to RCPT: the first MAIL still stands")


@pytest.mark.requirement("rfc5321/4.1.1.5/1", "rfc5321/4.1.1.5/2")
def test_rset_clears_the_transaction(target, wire, expect):
    """MAIL, RCPT, RSET: then RCPT and DATA get 503, since sender and recipients are gone."""
    with session(target, wire, "RSET clears") as client:
        client.mail(sender(target))
        client.rcpt(probe_recipient(target))
        client.rset()
        expect_code(expect, client, {250}, "rfc5321/4.1.1.5/2")
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {503}, "rfc5321/4.1.1.5/1", "to RCPT after RSET (the reverse-path was discarded)")
        client.command(Command(b"DATA"))
        expect_code(expect, client, {503, 554}, "rfc5321/4.1.1.5/1", "to DATA after RSET (no recipients remain)")


@pytest.mark.requirement("rfc5321/4.1.4/4", "rfc5321/4.1.1.1/7")
def test_a_second_ehlo_clears_the_transaction(target, wire, expect):
    """MAIL, RCPT, EHLO again: "exactly as if a RSET command had been issued", so RCPT gets 503."""
    with session(target, wire, "EHLO again") as client:
        client.mail(sender(target))
        client.rcpt(probe_recipient(target))
        client.ehlo(helo(target))
        expect_code(expect, client, {250}, "rfc5321/4.1.1.1/7")
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {503}, "rfc5321/4.1.4/4", "to RCPT after the second EHLO")


@pytest.mark.requirement("rfc5321/4.1.1.6/1", "rfc5321/4.1.1.8/2", "rfc5321/4.1.1.9/2")
def test_vrfy_help_and_noop_leave_the_transaction_alone(target, wire, expect):
    """MAIL, then VRFY, HELP, NOOP: RCPT still gets 250 (the reverse-path buffer is intact)."""
    checks = [(lambda c: c.vrfy("postmaster"), "rfc5321/4.1.1.6/1"), (lambda c: c.help(), "rfc5321/4.1.1.8/2"), (lambda c: c.noop(), "rfc5321/4.1.1.9/2")]
    for command, requirement in checks:
        with session(target, wire, requirement) as client:
            client.mail(sender(target))
            command(client)
            client.rcpt(probe_recipient(target))
            expect_code(expect, client, {250, 251}, requirement, f"to RCPT after MAIL and {client.log[-2].describe()}")


@pytest.mark.requirement("rfc5321/4.1.4/11")
def test_noop_help_vrfy_rset_work_before_ehlo(target, wire, expect):
    """NOOP, HELP, VRFY, RSET before EHLO: "SMTP servers SHOULD process these normally (that is, not return a 503 code)"."""
    client = connect(target, wire, "before EHLO")
    with client:
        for send in (lambda: client.noop(), lambda: client.help(), lambda: client.vrfy("postmaster"), lambda: client.rset()):
            send()
            answer = client.log[-1]
            expect.should(answer.code != 503, "rfc5321/4.1.4/11", expected=["not 503: processed normally"], actual=answer.describe())


@pytest.mark.requirement("rfc5321/4.1.4/16", "rfc5321/4.1.1.10/2")
def test_the_session_recovers_after_errors(target, wire, expect):
    """RCPT before MAIL (503), XYZZY (500), EHLO without a domain (501): the session goes on, and MAIL, RCPT get 250."""
    with session(target, wire, "recovery") as client:
        client.rcpt(probe_recipient(target))
        client.send_raw(b"XYZZY\r\n")
        client.read_reply()
        client.send_raw(b"EHLO\r\n")
        client.read_reply()
        errors = [a.describe() for a in client.log[-3:]]
        client.noop()
        went_on = client.log[-1].code == 250
        expect.must(went_on, "rfc5321/4.1.1.10/2", expected=["the session open after three errors: NOOP gets 250"], actual=f"{errors}, then {client.log[-1].describe()}")
        client.mail(sender(target))
        expect_code(expect, client, {250}, "rfc5321/4.1.4/16", "to MAIL after the errors (each left the state as it was)")
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {250, 251}, "rfc5321/4.1.4/16", "to RCPT after the errors")
