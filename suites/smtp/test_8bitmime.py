"""8BITMIME (RFC 6152) as it reaches the mailbox, and the MAIL parameters a server cannot implement.

The delivered-copy checks read the recipient's Maildir (target option
``maildir``): what a server stores is only visible there.  Each 8BITMIME check
is not-applicable when the EHLO reply does not offer the extension.
"""

from __future__ import annotations

import pytest

from postel.suites.smtp.checks import (
    deliver_and_read,
    expect_code,
    expect_delivered_whole,
    extension,
    maildir,
    message,
    need_recipient,
    new_marker,
    send_message,
    sender,
    session,
)

pytestmark = pytest.mark.service("smtp")

EVERY_HIGH_OCTET = bytes(range(0x80, 0x100))  # no CR or LF among them: one line of every octet with the 8th bit set
EIGHT_BIT_HEAD = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
UNKNOWN_KEYWORD = b"XPOSTEL-UNKNOWN"  # an esmtp-keyword no extension defines (and no server offers)


def _need_maildir(expect, target) -> None:
    if maildir(target) is None:
        expect.not_applicable("reading the delivered copy needs --target-option maildir=<the recipient's Maildir on this host>")


@pytest.mark.destructive
@pytest.mark.requirement("rfc6152/3/8")
def test_every_high_bit_octet_is_delivered_unchanged(target, wire, expect):
    """8BITMIME offered, BODY=8BITMIME, a body holding each octet 0x80-0xFF: the stored copy has every bit.

    "Once a server SMTP supporting the 8bit-MIMEtransport service extension accepts a content body containing
    octets with the high-order (8th) bit set, the server SMTP must deliver or relay the content in such a way as
    to preserve all bits in each octet." (RFC 6152 3)
    """
    rcpt = need_recipient(expect, target)
    _need_maildir(expect, target)
    marker = new_marker()
    body = b"each octet with the 8th bit set:\r\n" + EVERY_HIGH_OCTET + b"\r\n" + b"\xe9t\xe9 \xfcber \xa9\r\n"
    content = EIGHT_BIT_HEAD + message(target, marker, body, rcpt=rcpt)
    with session(target, wire, "8-bit octets") as client:
        extension(expect, client, "8BITMIME")
        reply = send_message(client, target, rcpt, content, {b"BODY": b"8BITMIME"})
        if reply.code != 250:
            expect.inconclusive(f"the 8-bit message was not accepted: {client.log[-1].describe()}")
    expect_delivered_whole(expect, target, marker, content, "rfc6152/3/8", "each octet 0x80-0xFF stored with all 8 bits")


@pytest.mark.destructive
@pytest.mark.requirement("rfc6152/3/6")
def test_the_crlf_before_the_final_dot_is_part_of_the_content(target, wire, expect):
    """8BITMIME offered, BODY=8BITMIME: the stored copy ends with the last line's CRLF (the one before ".").

    "Further, it should be noted that the CR-LF pair immediately preceding the final dot is considered part
    of the content." (RFC 6152 3)
    """
    rcpt = need_recipient(expect, target)
    _need_maildir(expect, target)
    marker = new_marker()
    last = f"the last line {marker}".encode()
    content = EIGHT_BIT_HEAD + message(target, marker, b"caf\xe9\r\n" + last + b"\r\n", rcpt=rcpt)
    stored = deliver_and_read(expect, target, wire, "final CRLF", rcpt, marker, content, {b"BODY": b"8BITMIME"}, needs="8BITMIME")
    ending = last + (b"\r\n" if b"\r\n" in stored else b"\n")
    expect.must(
        stored.endswith(ending),
        "rfc6152/3/6",
        expected=[f"the stored copy ends {ending!r}: the CRLF before the final dot is content"],
        actual=f"it ends {stored[-len(ending) - 8 :]!r}",
    )


@pytest.mark.requirement("rfc5321/4.1.1.11/1")
def test_a_mail_parameter_the_server_does_not_know_gets_555(target, wire, expect):
    """MAIL ... XPOSTEL-UNKNOWN=1 gets 555; with 8BITMIME offered, MAIL ... BODY=POSTEL is refused (555 or 501).

    "If the server SMTP does not recognize or cannot implement one or more of the parameters associated with a
    particular MAIL FROM or RCPT TO command, it will return code 555." (RFC 5321 4.1.1.11)  RFC 6152 gives
    body-value = "7BIT" / "8BITMIME" and nothing else; another value is a parameter the server cannot
    implement (555) or an argument that is not acceptable ("a 501 failure reply MUST be returned", 4.1.4).
    """
    with session(target, wire, "unknown parameter") as client:
        client.mail(sender(target), {UNKNOWN_KEYWORD: b"1"})
        expect_code(expect, client, {555}, "rfc5321/4.1.1.11/1", f"to MAIL with {UNKNOWN_KEYWORD.decode()}=1, a parameter no extension defines")
        if client.log[-1].code // 100 == 2:
            client.rset()
        if "8BITMIME" not in client.keywords:
            return
        client.mail(sender(target), {b"BODY": b"POSTEL"})
        expect_code(expect, client, {555, 501}, "rfc5321/4.1.1.11/1", "to MAIL with BODY=POSTEL, not a body-value of RFC 6152")
