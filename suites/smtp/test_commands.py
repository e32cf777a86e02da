"""Command details a server must get right: EXPN in a transaction, quoted local-parts, source routes, the case
of a local-part, and enhanced status codes for a client that never said EHLO."""

from __future__ import annotations

import pytest

from postel.suites.smtp.checks import (
    at_level,
    connect,
    enhanced_problems,
    extension,
    helo,
    message,
    need_recipient,
    new_marker,
    open_transaction,
    probe_recipient,
    raise_inconclusive,
    recipient,
    sender,
    session,
    start_mail,
    stored_copy,
)

pytestmark = pytest.mark.service("smtp")

SYNTAX_REFUSALS = {500, 501, 555}  # "command unrecognized", "syntax error in parameters or arguments", "parameters not recognized"


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.7/1")
def test_expn_inside_a_transaction_leaves_it_as_it_was(target, wire, expect):
    """MAIL, RCPT, EXPN, then DATA: 354 -- EXPN emptied neither the reverse-path nor the forward-path buffer.

    "This command has no effect on the reverse-path buffer, the forward-path buffer, or the mail data buffer,
    and it may be issued at any time." (RFC 5321 4.1.1.7, EXPN)  Whatever EXPN itself answers (502 where it is
    not implemented) is not judged here.
    """
    rcpt = need_recipient(expect, target)
    with session(target, wire, "EXPN in a transaction") as client:
        open_transaction(client, target, rcpt)
        client.expn("postel-list")
        expn = client.log[-1].describe()
        client.data(message(target, new_marker(), b"after EXPN\r\n", rcpt=rcpt))
        data = next(a for a in reversed(client.log) if a.answers == b"DATA")
        if data.code // 100 == 4:
            expect.inconclusive(f"DATA was deferred: {data.describe()}")
        expect.must(
            data.code == 354,
            "rfc5321/4.1.1.7/1",
            expected=["354 to DATA: the transaction opened before EXPN is still there"],
            actual=f"{data.describe()} (after {expn})",
        )


@pytest.mark.requirement("rfc5321/4.1.2/4")
def test_a_quoted_local_part_is_the_same_mailbox(target, wire, expect):
    """RCPT TO:<"local"@domain> gets the reply RCPT TO:<local@domain> gets (both 2yz for the recipient).

    "For any purposes that require generating or comparing Local-parts (e.g., to specific mailbox names), all
    quoted forms MUST be treated as equivalent" (RFC 5321 4.1.2)
    """
    rcpt = recipient(target)
    if rcpt is None:
        expect.not_applicable("this test needs a mailbox with a domain: pass --target-option recipient=<a mailbox of the server>")
    local, at, domain = rcpt.rpartition("@")
    if not at or local.startswith('"'):
        expect.not_applicable(f"the recipient {rcpt!r} has no plain local-part to quote")
    with session(target, wire, "quoted local-part") as client:
        start_mail(client, target)
        plain = client.rcpt(rcpt).code
        if plain // 100 != 2:
            raise_inconclusive(f"RCPT was refused ({client.log[-1].describe()}); set --target-option recipient=")
        quoted = f'"{local}"@{domain}'
        client.rcpt(quoted)
        expect.must(
            client.log[-1].code // 100 == 2,
            "rfc5321/4.1.2/4",
            expected=[f"2yz to RCPT TO:<{quoted}>, as to RCPT TO:<{rcpt}> ({plain})"],
            actual=client.log[-1].describe(),
        )


def _route(target) -> str:
    return f"@{helo(target)},@relay.postel.test:"


@pytest.mark.requirement("rfc5321/4.1.2/2")
def test_a_source_route_in_mail_is_accepted(target, wire, expect):
    """MAIL FROM:<@a,@b:sender>: no syntax refusal (500/501/555).

    "Reverse-path = Path / "<>" ... Path = "<" [ A-d-l ":" ] Mailbox ">"" (RFC 5321 4.1.2), where the A-d-l
    "MUST BE accepted, SHOULD NOT be generated, and SHOULD be ignored."
    """
    with session(target, wire, "source route in MAIL") as client:
        client.mail(_route(target) + sender(target))
        answer = client.log[-1]
        expect.must(answer.code not in SYNTAX_REFUSALS, "rfc5321/4.1.2/2", expected=["a Path with a source route parsed (no 500/501/555)"], actual=answer.describe())


@pytest.mark.requirement("rfc5321/4.1.2/3", "rfc5321/3.3/6", "rfc5321/3.3/7", "rfc5321/4.1.1.3/3")
def test_a_source_route_in_rcpt_is_accepted_and_ignored(target, wire, expect):
    """RCPT TO:<@a,@b:recipient>: no syntax refusal; and the reply the bare recipient gets (the route ignored).

    "A-d-l = At-domain *( "," At-domain ) ; Note that this form, the so-called "source route", MUST BE accepted,
    SHOULD NOT be generated, and SHOULD be ignored." (RFC 5321 4.1.2)  "Servers MUST be prepared to encounter a
    list of source routes in the forward-path, but they SHOULD ignore the routes" (3.3)
    """
    route = _route(target)
    rcpt = probe_recipient(target)
    with session(target, wire, "source route in RCPT") as client:
        start_mail(client, target)
        client.rcpt(route + rcpt)
        answer = client.log[-1]
        # one observation, two statements of it: the route in a forward-path is accepted (4.1.2, 3.3)
        for requirement in ("rfc5321/4.1.2/3", "rfc5321/3.3/6"):
            expect.must(answer.code not in SYNTAX_REFUSALS, requirement, expected=["the source route of RCPT accepted (no 500/501/555)"], actual=answer.describe())
        if answer.code // 100 == 4:
            expect.inconclusive(f"RCPT was deferred: {answer.describe()}")
        client.rset()
        start_mail(client, target)
        if client.rcpt(rcpt).code // 100 != 2:
            return  # the mailbox itself is refused: whether the route was ignored cannot be told
        for requirement in ("rfc5321/3.3/7", "rfc5321/4.1.1.3/3"):
            at_level(expect, requirement)(
                answer.code // 100 == 2, requirement, expected=[f"2yz to RCPT TO:<{route}{rcpt}>, as to RCPT TO:<{rcpt}>: the route ignored"], actual=answer.describe()
            )


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/2.4/4")
def test_the_case_of_the_senders_local_part_is_kept(target, wire, expect):
    """MAIL FROM:<Mixed-Case-Local@domain>: the Return-Path of the delivered copy spells the local-part the same.

    "The local-part of a mailbox MUST BE treated as case sensitive.  Therefore, SMTP implementations MUST take
    care to preserve the case of mailbox local-parts." (RFC 5321 2.4)  The reverse-path reaches the mailbox as
    Return-Path (4.4: "it inserts a return-path line at the beginning of the mail data").
    """
    rcpt = need_recipient(expect, target)
    local, at, domain = sender(target).rpartition("@")
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(local))
    if not at or mixed.lower() == mixed or mixed.upper() == mixed:
        expect.not_applicable(f"the sender {sender(target)!r} has no local-part whose case can be mixed")
    path = f"{mixed}@{domain}"
    marker = new_marker()
    with session(target, wire, "local-part case") as client:
        if client.mail(path).code // 100 != 2:
            expect.inconclusive(f"MAIL FROM:<{path}> was refused: {client.log[-1].describe()}")
        if client.rcpt(rcpt).code // 100 != 2:
            expect.inconclusive(f"RCPT was refused: {client.log[-1].describe()}")
        reply = client.data(message(target, marker, b"case\r\n", rcpt=rcpt))
        if reply.code != 250:
            expect.inconclusive(f"the message was not accepted: {client.log[-1].describe()}")
    stored = stored_copy(expect, target, marker)
    head = stored.split(b"\r\n\r\n" if b"\r\n" in stored else b"\n\n", 1)[0]
    return_paths = [line for line in head.splitlines() if line.lower().startswith(b"return-path:")]
    if not return_paths:
        expect.inconclusive("the delivered copy has no Return-Path field to read the reverse-path from")
    value = return_paths[0].split(b":", 1)[1].strip().decode("ascii", "replace")
    expect.must(
        mixed + "@" in value,
        "rfc5321/2.4/4",
        expected=[f"Return-Path: <{path}>, the local-part as sent"],
        actual=return_paths[0].decode("ascii", "replace"),
    )


@pytest.mark.requirement("rfc2034/5/1")
def test_enhanced_status_codes_come_before_any_ehlo(target, wire, expect):
    """ENHANCEDSTATUSCODES offered after EHLO; a session that never says EHLO or HELO gets codes on NOOP, VRFY, MAIL.

    "a compliant server includes these codes in the responses it sends regardless of whether or not the client
    expects them." (RFC 2034 5)  The greeting is not judged (it comes before the client could say anything).
    """
    with session(target, wire, "EHLO") as client:
        extension(expect, client, "ENHANCEDSTATUSCODES")
    client = connect(target, wire, "no EHLO")
    with client:
        client.noop()
        client.vrfy("postmaster")
        client.mail(sender(target))  # 503 where EHLO is required first, 250 where it is not
        for answer in client.log[-3:]:
            problems = enhanced_problems(answer) if answer.code // 100 != 3 else []
            expect.must(not problems, "rfc2034/5/1", expected=["a status code before EHLO as after it"], actual=f"{answer.describe()}: {problems}")
