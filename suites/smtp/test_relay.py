"""No open relay: RCPT for a domain the server neither serves nor relays for is refused (RFC 5321 3.6, 7.9).

RFC 5321 lets a server decline to relay (3.3, 3.6.1 MAY) and says how: "If it
declines to relay mail to a particular address for policy reasons, a 550
response SHOULD be returned" (3.6.2), and 7.9 again asks for 550.  Both are
SHOULDs: an open relay gets ``warn`` (``fail`` with ``--strict``).  The
address comes from the target option ``relay_recipient`` (default
``postel-relay-probe@example.com``); no mail is sent.
"""

from __future__ import annotations

import pytest

from postel.suites.smtp.checks import helo, relay_recipient, session, start_mail

pytestmark = pytest.mark.service("smtp")


@pytest.mark.requirement("rfc5321/3.6.2/1", "rfc5321/7.9/2")
def test_rcpt_to_a_foreign_domain_is_refused_with_550(target, wire, expect):
    """MAIL, then RCPT TO:<relay_recipient>: 550, not 250/251 (relaying) nor a 4yz (come back later)."""
    with session(target, wire, "relay") as client:
        start_mail(client, target)
        client.rcpt(relay_recipient(target))
        answer = client.log[-1]
        verdict = "relayed: an open relay" if answer.code // 100 == 2 else "refused"
        for requirement in ("rfc5321/3.6.2/1", "rfc5321/7.9/2"):
            expect.should(answer.code == 550, requirement, expected=["550: relaying declined for policy reasons"], actual=f"{answer.describe()} ({verdict})")


@pytest.mark.requirement("rfc5321/4.1.1.3/2", "rfc5321/3.6.2/1")
def test_a_source_route_does_not_open_the_relay(target, wire, expect):
    """RCPT TO:<@our-helo-domain:relay_recipient>: parsed (not 501), and the final mailbox still refused as a relay."""
    with session(target, wire, "source route") as client:
        start_mail(client, target)
        client.rcpt(f"@{helo(target)}:{relay_recipient(target)}")
        answer = client.log[-1]
        expect.must(answer.code != 501, "rfc5321/4.1.1.3/2", expected=["the source route syntax recognized (no 501)"], actual=answer.describe())
        expect.should(answer.code == 550, "rfc5321/3.6.2/1", expected=["550: the route is stripped and the foreign mailbox refused"], actual=answer.describe())
