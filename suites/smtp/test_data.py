"""Mail data: the 354/250 exchange, transparency (RFC 5321 4.5.2), line and message size floors (4.5.3.1).

Most tests here deliver mail (``destructive``).  Over SMTP alone a server that
keeps a stuffed dot cannot be told from one that removes it; with the
``maildir`` target option the delivered copy is read back, so unstuffing and
the Received field (4.4) are judged on what the recipient would see.
"""

from __future__ import annotations

import re

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.smtp.sequences import MEANING_REQUIREMENT
from postel.suites.smtp.checks import (
    as_stored,
    data_gets_one_reply,
    deliver_and_read,
    expect_code,
    expect_delivered_whole,
    expect_listed,
    extension,
    extra_replies,
    first_difference,
    message,
    need_recipient,
    new_marker,
    open_transaction,
    probe_recipient,
    send_message,
    session,
    start_data,
    start_mail,
    trace_head,
)

pytestmark = pytest.mark.service("smtp")

DOT_LINES = (
    b".starts with a dot\r\n"
    b"..starts with two dots\r\n"
    b".\r\n"  # a lone dot inside the body: stuffed, so not the end of the data
    b"a . inside a line\r\n"
    b". a dot and a space\r\n"
    b"..\r\n"
    b"last line\r\n"
)


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/3.3/11", "rfc5321/4.1.1.4/9", "rfc5321/4.3.2/11", MEANING_REQUIREMENT)
def test_data_gets_354_and_the_final_dot_gets_250(target, wire, expect):
    """MAIL, RCPT, DATA: 354; a small message and <CRLF>.<CRLF>: 250."""
    rcpt = need_recipient(expect, target)
    with session(target, wire, "DATA") as client:
        reply = send_message(client, target, rcpt, message(target, new_marker(), b"Hello from postel.\r\n", rcpt=rcpt))
        for answer in client.log[-2:]:
            expect_listed(expect, answer)
        expect.must(client.data_reply.code == 354, "rfc5321/3.3/11", expected=["354 Intermediate reply"], actual=client.log[-2].describe())
        expect.must(reply.code == 250, "rfc5321/4.1.1.4/9", expected=['"250 OK" after <CRLF>.<CRLF>'], actual=client.log[-1].describe())


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.4/2", "rfc5321/4.5.2/2")
def test_dot_lines_inside_the_data_do_not_end_it(target, wire, expect):
    """Lines ".x", "..x", ".", " . ", "..": one reply, to the real end; a NOOP after it gets its own 250."""
    rcpt = need_recipient(expect, target)
    with session(target, wire, "dot lines") as client:
        try:
            send_message(client, target, rcpt, message(target, new_marker(), DOT_LINES, rcpt=rcpt))
            problem = extra_replies(client)
        except RemoteProtocolError as exc:
            if exc.requirement != "rfc5321/4.2/1":
                raise
            problem = f"{exc}: the data ended early and its rest was read as commands"
        expect.must(problem is None, "rfc5321/4.1.1.4/2", expected=["one reply, after the line holding only a period"], actual=problem)
        client.noop()
        expect_code(expect, client, {250}, "rfc5321/4.5.2/2", "to the NOOP after the message (the data ended where it should)")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.5.2/3", "rfc5321/4.5.2/4", "rfc5321/4.4/1", "rfc5321/4.4/7", "rfc5321/4.1.1.4/14")
def test_the_delivered_copy_is_unstuffed_with_received_on_top(target, wire, expect):
    """Delivers the dot lines; reads the copy from ``maildir``: each stuffed dot gone, a Received field above the message."""
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    content = message(target, marker, DOT_LINES + b"tab\there, trailing space \r\n\x0bvertical tab\r\n", rcpt=rcpt)
    stored = deliver_and_read(expect, target, wire, "delivery", rcpt, marker, content)
    sent = as_stored(stored, content)
    sent_lines = sent.splitlines()
    kept_dots = [b for a, b in zip(sent_lines, stored.splitlines()[-len(sent_lines) :], strict=False) if a != b and b == b"." + a]
    expect.must(
        not kept_dots,
        "rfc5321/4.5.2/3",
        expected=['"If the first character is a period and there are other characters on the line, the first character is deleted."'],
        actual=f"stored lines still stuffed: {kept_dots[:4]!r}",
    )
    expect.must(stored.endswith(sent), "rfc5321/4.5.2/4", expected=["the message as sent, every character delivered"], actual=first_difference(sent, stored))
    head = trace_head(stored, content) or b""
    received = re.search(rb"(?im)^Received:", head) is not None
    for requirement in ("rfc5321/4.4/1", "rfc5321/4.1.1.4/14", "rfc5321/4.4/7"):
        expect.must(received, requirement, expected=["a Received: field above the message's own header"], actual=f"trace above it: {head[:300]!r}")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.5.3.1.6/1", "rfc5321/4.5.2/4")
def test_998_octet_lines_are_accepted(target, wire, expect):
    """A 998-octet line + CRLF, and a dot-led 998-octet line (999 stuffed): 250; unchanged in ``maildir`` if given."""
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    body = b"x" * 998 + b"\r\n" + b"." + b"y" * 997 + b"\r\nshort\r\n"
    content = message(target, marker, body, rcpt=rcpt)
    with session(target, wire, "long lines") as client:
        reply = send_message(client, target, rcpt, content)
        expected = ["250: 1000-octet text lines (CRLF included) are accepted"]
        expect.must(reply.code == 250, "rfc5321/4.5.3.1.6/1", expected=expected, actual=client.log[-1].describe())
    if "maildir" in target.options:
        expect_delivered_whole(expect, target, marker, content, "rfc5321/4.5.2/4", "both long lines delivered whole")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/3.3/15")
def test_empty_bodies_are_accepted(target, wire, expect):
    """A header with an empty body, then no content at all: 250 each (no rejection for perceived defects)."""
    rcpt = need_recipient(expect, target)
    for label, content in (("empty body", message(target, new_marker(), b"", rcpt=rcpt)), ("no content", b"")):
        with session(target, wire, label) as client:
            send_message(client, target, rcpt, content)
            expect_code(expect, client, {250}, "rfc5321/3.3/15", f"to the end of data of a message with {label}")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.5.3.1.7/1")
def test_a_64k_message_is_accepted(target, wire, expect):
    """A message of 64 KiB (minimum every server takes): 250."""
    rcpt = need_recipient(expect, target)
    line = b"0123456789abcdef" * 4 + b"\r\n"
    head = message(target, new_marker(), b"", rcpt=rcpt)
    content = head + line * ((64 * 1024 - len(head)) // len(line) + 1)
    with session(target, wire, "64K") as client:
        send_message(client, target, rcpt, content)
        expect_code(expect, client, {250}, "rfc5321/4.5.3.1.7/1", f"to a message of {len(content)} octets")


@pytest.mark.destructive
@pytest.mark.requirement("rfc6152/3/1", "rfc6152/3/4")
def test_8bit_data_with_body_8bitmime_is_accepted_and_kept(target, wire, expect):
    """8BITMIME offered: MAIL ... BODY=8BITMIME, a body with octets over 127: 250, every bit kept (``maildir``)."""
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    body = "Grüße aus Köln, ½ € — 8-bit text\r\n".encode("utf-8") + bytes(range(0x80, 0x100)) + b"\r\n"
    head = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    content = head + message(target, marker, body, rcpt=rcpt)
    with session(target, wire, "8BITMIME") as client:
        extension(expect, client, "8BITMIME")
        reply = send_message(client, target, rcpt, content, {b"BODY": b"8BITMIME"})
        expect.must(reply.code == 250, "rfc6152/3/1", expected=["250: the server accepts 8-bit MIME with BODY=8BITMIME"], actual=client.log[-1].describe())
    if "maildir" in target.options:
        expect_delivered_whole(expect, target, marker, content, "rfc6152/3/4", "all bits of each octet preserved")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.4/8")
def test_the_end_of_data_clears_the_transaction(target, wire, expect):
    """After the 250 to the final dot, RCPT without a new MAIL gets 503."""
    rcpt = need_recipient(expect, target)
    with session(target, wire, "after the data") as client:
        send_message(client, target, rcpt, message(target, new_marker(), b"one\r\n", rcpt=rcpt))
        client.rcpt(rcpt)
        expect_code(expect, client, {503}, "rfc5321/4.1.1.4/8", "to RCPT after the transaction completed")


@pytest.mark.destructive
@pytest.mark.requirement("rfc5321/4.1.1.4/7")
def test_bare_lf_dot_lf_does_not_end_the_data(target, wire, expect):
    """Mail data with "<LF>.<LF>" then a NOOP line, then the real end: one reply only (no SMTP smuggling)."""
    rcpt = need_recipient(expect, target)
    content = message(target, new_marker(), b"before\n.\nNOOP smuggled\r\nafter\r\n", rcpt=rcpt)
    with session(target, wire, "LF.LF") as client:
        open_transaction(client, target, rcpt)
        start_data(expect, client)
        problem = data_gets_one_reply(client, content, "<LF>.<LF> ended the data and the NOOP after it was answered", raw=True)
        expect.must(problem is None, "rfc5321/4.1.1.4/7", expected=["one reply, to <CRLF>.<CRLF> only"], actual=problem)


@pytest.mark.requirement("rfc5321/4.5.3.1.4/1", "rfc5321/4.3.2/5", "rfc5321/4.5.3.1.1/1", "rfc5321/4.5.3.1.3/1")
def test_command_lines_and_paths_at_the_limits_are_not_refused_as_too_long(target, wire, expect):
    """A 512-octet NOOP line, a 64-octet local-part, a 256-octet path: none gets 500 (too long) or 501."""
    with session(target, wire, "limits") as client:
        client.noop("x" * (512 - len("NOOP \r\n")))
        for requirement in ("rfc5321/4.5.3.1.4/1", "rfc5321/4.3.2/5"):
            expected = ["not 500 'line too long' for a 512-octet command line"]
            expect.must(client.log[-1].code != 500, requirement, expected=expected, actual=client.log[-1].describe())
        start_mail(client, target)
        domain = probe_recipient(target).rpartition("@")[2] or "postel.test"
        local = "p" * 64
        client.rcpt(f"{local}@{domain}")
        answer = client.log[-1]
        expect.must(answer.code not in (500, 501), "rfc5321/4.5.3.1.1/1", expected=["no 500/501 for a 64-octet local-part"], actual=answer.describe())
        long_domain = "b" * 60 + "." + "b" * 60 + "." + "b" * 62 + ".test"  # 189 octets: "<" 64 "@" 189 ">" = 256
        path = f"{local}@{long_domain}"
        assert len(path) + 2 == 256, len(path)
        client.rcpt(path)
        answer = client.log[-1]
        expect.must(answer.code not in (500, 501), "rfc5321/4.5.3.1.3/1", expected=["no 500/501 for a 256-octet path"], actual=answer.describe())
