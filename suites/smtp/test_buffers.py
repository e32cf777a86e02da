"""The envelope buffers across transactions (RFC 5321 3.3, 4.1.1.2): a new MAIL starts with no recipients.

test_ordering.py shows RSET and EHLO clearing a transaction; this shows MAIL
itself does, after a transaction that ended with the final dot: the
recipients of the last message are not carried into the next one.
"""

from __future__ import annotations

import pytest

from postel.protocols.smtp.events import Command
from postel.suites.smtp.checks import message, need_recipient, new_marker, raise_inconclusive, send_message, sender, session

pytestmark = pytest.mark.service("smtp")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/3.3/1", "rfc5321/4.1.1.2/1")
def test_a_new_mail_carries_no_recipient_of_the_last_message(target, wire, expect):
    """A message sent (250); then MAIL (250) and DATA with no RCPT: 503 or 554, never 354.

    RFC 5321 3.3: MAIL "tells the SMTP-receiver that a new mail transaction is
    starting and to reset all its state tables and buffers, including any
    recipients or mail data."  4.1.1.2: "This command clears the reverse-path
    buffer, the forward-path buffer, and the mail data buffer".  A 354 would
    start a message to the last transaction's recipients.
    """
    rcpt = need_recipient(expect, target)
    with session(target, wire, "MAIL after a message") as client:
        reply = send_message(client, target, rcpt, message(target, new_marker(), b"the first message\r\n", rcpt=rcpt))
        if reply.code != 250:
            raise_inconclusive(f"the first message was not accepted: {client.log[-1].describe()}")
        if client.mail(sender(target)).code != 250:
            raise_inconclusive(f"the second MAIL was refused: {client.log[-1].describe()}")
        data = client.command(Command(b"DATA"))
        expected = ["503 or 554 to DATA: the new transaction has no recipient"]
        for requirement in ("rfc5321/3.3/1", "rfc5321/4.1.1.2/1"):
            expect.must(data.code != 354 and data.code // 100 != 2, requirement, expected=expected, actual=client.log[-1].describe())
