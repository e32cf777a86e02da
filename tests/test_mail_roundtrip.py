"""Nothing lost between the reference SMTP and POP3 servers: a message is followed from submission to retrieval.

Why end to end: each server is tested alone elsewhere, but the promise a user
cares about spans both -- what the SMTP server acknowledged with 250 is what
POP3 hands out, octet for octet once the transparency rules are undone (RFC
5321 4.5.2 removes the stuffed dot on receipt, RFC 1939 3 stuffs it again on
the way out and the client removes it), with exactly one Return-Path and one Received
field added on top (RFC 5321 4.4).  Both servers run in this process on one Maildir store,
as the embedded references do (``postel.references.ReferenceMail``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postel.protocols.mail.maildir import MailStore
from postel.protocols.pop3.client import Pop3Client
from postel.protocols.pop3.server import Pop3Server
from postel.protocols.smtp.client import SmtpClient
from postel.protocols.smtp.server import SmtpServer, split_trace
from postel.serving import ServerThread

PASSWORD = "roundtrip-pw"
RECIPIENT = "postel@postel.test"
TIMEOUT = 10.0


@dataclass
class MailPair:
    store: MailStore
    smtp: tuple[str, int]
    pop3: tuple[str, int]


@pytest.fixture(scope="module")
def mail_pair(tmp_path_factory) -> Iterator[MailPair]:
    store = MailStore(tmp_path_factory.mktemp("mail"), domains=("postel.test",), users={"postel": PASSWORD})
    smtp = ServerThread(SmtpServer(store, hostname="postel.test"), "smtp").start()
    pop3 = ServerThread(Pop3Server(store, login_delay=0.05), "pop3").start()
    try:
        yield MailPair(store, smtp.server.address, pop3.server.address)
    finally:
        smtp.stop()
        pop3.stop()
    smtp.check()
    pop3.check()


def send(pair: MailPair, body: bytes, *, bits8: bool = False) -> None:
    with SmtpClient(pair.smtp, timeout=TIMEOUT) as client:
        assert client.greet().code == 220
        assert client.ehlo("client.postel.test").code == 250
        params = {b"BODY": b"8BITMIME"} if bits8 else None
        assert client.mail("sender@postel.test", params).code == 250
        assert client.rcpt(RECIPIENT).code == 250
        reply = client.data(body)
        assert reply.code == 250, reply
        client.quit()


def uids(pair: MailPair) -> dict[bytes, int]:
    with Pop3Client(pair.pop3, timeout=TIMEOUT) as client:
        client.login("postel", PASSWORD)
        listing = {uid: n for n, uid in client.uidl().items()}
        client.quit()
    return listing


def retrieve_new(pair: MailPair, before: dict[bytes, int]) -> bytes:
    """The one message whose unique-id was not there ``before``."""
    with Pop3Client(pair.pop3, timeout=TIMEOUT) as client:
        client.login("postel", PASSWORD)
        new = [(n, uid) for n, uid in client.uidl().items() if uid not in before]
        assert len(new) == 1, f"expected exactly one new message, found {len(new)}"
        message = client.retr(new[0][0])
        client.quit()
    return message


def without_trace(message: bytes) -> bytes:
    """The message minus the trace the delivering server put on top (RFC 5321 4.4: Return-Path, then Received)."""
    trace, rest = split_trace(message)
    assert trace.startswith(b"Return-Path:") and b"\r\nReceived:" in trace, f"no Return-Path and Received on top: {message[:120]!r}"
    return rest


# A line of mail data: any octets but CR and LF (8-bit included, sent as BODY=8BITMIME), at most 998
# before its CRLF (RFC 5321 4.5.3.1.6: 1000 with the CRLF); dots at the start are the interesting case.
_octet = st.integers(min_value=0, max_value=255).filter(lambda b: b not in (10, 13))
_text = st.lists(_octet, max_size=40).map(bytes)
_line = st.one_of(
    _text,
    _text.map(lambda t: b"." + t),
    st.just(b"."),
    st.just(b".."),
    _text.map(lambda t: b" " + t),  # white space at a line start: not a continuation of the trace
    st.integers(min_value=990, max_value=998).map(lambda n: b"." * (n % 3) + b"y" * (n - n % 3)),
)
bodies = st.lists(_line, max_size=30).map(lambda lines: b"".join(line + b"\r\n" for line in lines))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_what_smtp_acknowledged_pop3_returns_octet_for_octet(mail_pair, body):
    before = uids(mail_pair)
    send(mail_pair, body, bits8=any(b > 0x7F for b in body))
    assert without_trace(retrieve_new(mail_pair, before)) == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b".\r\n", id="lone-dot-line"),
        pytest.param(b"..\r\n.x\r\n", id="dot-lines"),
        pytest.param(b"x" * 998 + b"\r\n", id="998-octet-line"),
        pytest.param("Grüße\r\n".encode(), id="8-bit"),
        pytest.param(b"no final line end", id="unterminated"),
    ],
)
def test_the_edge_bodies_round_trip(mail_pair, body):
    before = uids(mail_pair)
    send(mail_pair, body, bits8=True)
    expected = body if body.endswith(b"\r\n") or not body else body + b"\r\n"  # the client completes the last line
    assert without_trace(retrieve_new(mail_pair, before)) == expected


def test_a_pop3_session_dropped_after_dele_leaves_the_mailbox_whole(mail_pair):
    """RFC 1939 6: only QUIT in TRANSACTION enters UPDATE; a dropped connection removes nothing."""
    for i in range(3):
        send(mail_pair, b"keep me %d\r\n" % i)
    before = uids(mail_pair)
    with Pop3Client(mail_pair.pop3, timeout=TIMEOUT) as client:
        client.login("postel", PASSWORD)
        for n in client.list():
            client.dele(n)
        assert client.stat()[0] == 0
        # no QUIT: the connection just goes
    assert uids(mail_pair) == before
    with Pop3Client(mail_pair.pop3, timeout=TIMEOUT) as client:
        client.login("postel", PASSWORD)
        kept = {without_trace(client.retr(n)) for n in client.list()}
        client.quit()
    assert {b"keep me %d\r\n" % i for i in range(3)} <= kept


def test_dele_then_quit_removes_exactly_the_marked_message(mail_pair):
    send(mail_pair, b"remove me\r\n")
    before = uids(mail_pair)
    with Pop3Client(mail_pair.pop3, timeout=TIMEOUT) as client:
        client.login("postel", PASSWORD)
        victim = max(before.values())
        client.dele(victim)
        client.quit()
    after = uids(mail_pair)
    gone = set(before) - set(after)
    assert len(gone) == 1 and {uid for uid, n in before.items() if n == victim} == gone
