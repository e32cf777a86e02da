"""SIZE (RFC 1870) at its edges: the advertised limit itself, and a declared size that is not the real one.

test_extensions.py holds the refusals over the limit; these are the cases a
server gets wrong by being too eager: taking the limit as exclusive, taking
SIZE= as where the content ends, refusing a message of exactly its declared size.
Each is judged only where the EHLO reply offers SIZE (else not-applicable).
"""

from __future__ import annotations

import pytest

from postel.suites.smtp.checks import (
    as_stored,
    data_gets_one_reply,
    expect_code,
    extension,
    first_difference,
    maildir,
    message,
    need_recipient,
    new_marker,
    open_transaction,
    sender,
    session,
    start_data,
    stored_copy,
)

pytestmark = pytest.mark.service("smtp")

# Lines a client stuffs (".x" goes out as "..x"): RFC 1870 5 counts them once, without the added dot.
STUFFED_BODY = b".a line that starts with a dot\r\n..two dots\r\nplain text\r\n"


@pytest.mark.requirement("rfc1870/4/1", "rfc1870/3/4")
def test_mail_declaring_exactly_the_size_limit_is_accepted(target, wire, expect):
    """SIZE n offered: MAIL ... SIZE=n gets 250 (or 452, no room now): n is "the largest message ... willing to accept".

    RFC 1870 4: "If a numeric parameter follows the SIZE keyword value of the
    EHLO response, it indicates the size of the largest message that the server
    is willing to accept."  A 552 to exactly n treats the limit as exclusive.
    """
    with session(target, wire, "SIZE=limit") as client:
        params = extension(expect, client, "SIZE")
        if not params or not params[0].isdigit() or int(params[0]) == 0:
            expect.not_applicable(f"SIZE {' '.join(params)}: no fixed maximum message size")
        limit = int(params[0])
        client.mail(sender(target), {b"SIZE": str(limit).encode()})
        # 452 "insufficient system storage" is the temporary answer RFC 1870 6.1 gives a server short of room.
        expect_code(expect, client, {250, 452}, "rfc1870/4/1", f"to MAIL declaring SIZE={limit}, the advertised limit itself")
        expect_code(expect, client, {250, 452}, "rfc1870/3/4", "(the SIZE parameter of MAIL FROM is understood)")


@pytest.mark.destructive
@pytest.mark.requirement("rfc1870/6/6")
def test_a_declared_size_smaller_than_the_message_does_not_end_the_data(target, wire, expect):
    """SIZE offered: MAIL ... SIZE=<the header's length>, then a longer message: one reply, to the final dot, and
    (``maildir``) the stored copy ends with the whole message.

    RFC 1870 6: "Servers MUST NOT use the SIZE parameter to determine end of
    content in the DATA command."  Accepting (250) or refusing (552) the message
    is the server's choice; cutting it at the declared size is not.
    """
    rcpt = need_recipient(expect, target)
    marker = new_marker()
    body = b"".join(b"line %03d of a message longer than its declared size\r\n" % i for i in range(40)) + f"end {marker}\r\n".encode()
    content = message(target, marker, body, rcpt=rcpt)
    declared = content.index(b"\r\n\r\n") + 4  # the header and its blank line: the Message-ID survives a cut there
    with session(target, wire, "declared too small") as client:
        extension(expect, client, "SIZE")
        open_transaction(client, target, rcpt, {b"SIZE": str(declared).encode()})
        start_data(expect, client)
        problem = data_gets_one_reply(client, content, "the data was taken as ended before <CRLF>.<CRLF>")
        expected = [f"one reply (250 or 552) to <CRLF>.<CRLF> after all {len(content)} octets, declared SIZE={declared}"]
        expect.must(problem is None, "rfc1870/6/6", expected=expected, actual=problem)
        code = client.log[-1].code
        expect.must(code in (250, 552) or code // 100 == 4, "rfc1870/6/6", expected=expected, actual=client.log[-1].describe())
    if code == 250 and maildir(target) is not None:
        stored = stored_copy(expect, target, marker)
        sent = as_stored(stored, content)
        actual = f"{first_difference(sent, stored)} (stored {len(stored)} octets with the trace fields)"
        expect.must(stored.endswith(sent), "rfc1870/6/6", expected=[f"all {len(content)} octets stored, not the declared {declared}"], actual=actual)


@pytest.mark.destructive
@pytest.mark.requirement("rfc1870/6.3/1")
def test_a_message_of_exactly_its_declared_size_is_not_refused_with_552(target, wire, expect):
    """SIZE offered: MAIL ... SIZE=<the size RFC 1870 5 defines> (stuffed dots not counted), the message: no 552.

    RFC 1870 6.3: "Once a server has agreed (via the extended MAIL command) to
    accept a message of a particular size, it should not return a 552 reply code
    after the transfer phase of the DATA command, unless the actual size of the
    message transferred is greater than the declared message size."
    """
    rcpt = need_recipient(expect, target)
    content = message(target, new_marker(), STUFFED_BODY, rcpt=rcpt)
    with session(target, wire, "declared exactly") as client:
        extension(expect, client, "SIZE")
        open_transaction(client, target, rcpt, {b"SIZE": str(len(content)).encode()})
        start_data(expect, client)
        client.send_content(content)
        answer = client.log[-1]
        expected = [f"not 552 for a message of {len(content)} octets after MAIL ... SIZE={len(content)} got 250"]
        expect.should(answer.code != 552, "rfc1870/6.3/1", expected=expected, actual=answer.describe())
