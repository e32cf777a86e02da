"""The reference SMTP server over real loopback sockets: every command, the order rules, relay refusal,
SIZE, pipelining, transparency into the Maildir byte for byte, the trace fields, limits, timeouts, 421,
and each fault switch doing the one thing it names.

The client side here is raw sockets and a small reply reader written for these tests (not the codec's
CLIENT role): a server and a codec written together can share a misreading, and the wire bytes these
tests send and expect are spelled out.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp import replies as R
from postel.protocols.smtp.codec import MAX_TEXT_LINE
from postel.protocols.smtp.events import Reply, ehlo_keywords
from postel.protocols.smtp.server import FAULTS, SmtpServer, split_trace
from postel.serving import ServerThread

TIMEOUT = 5.0
USERS = {"postel": "pw", "alice": "pw2"}
LOCAL = b"postel@postel.test"

# RFC 5321 4.3.2: the codes each command may return, plus 500, 501 and 421 for any command.
ANY_COMMAND = {500, 501, 421}
ALLOWED = {
    "GREETING": {220, 554},
    "EHLO": {250, 504, 550, 502},
    "HELO": {250, 504, 550, 502},
    "MAIL": {250, 552, 451, 452, 550, 553, 503, 455, 555},
    "RCPT": {250, 251, 550, 551, 552, 553, 450, 451, 452, 503, 455, 555},
    "DATA": {354, 503, 554},
    "END_OF_DATA": {250, 552, 554, 451, 452, 450, 550},
    "RSET": {250},
    "VRFY": {250, 251, 252, 550, 551, 553, 502, 504},
    "EXPN": {250, 252, 550, 500, 502, 504},
    "HELP": {211, 214, 502, 504},
    "NOOP": {250},
    "QUIT": {221},
}
_LINE = re.compile(rb"(?P<code>[2-5][0-5][0-9])(?P<sep>[ -])(?P<text>[\t\x20-\x7e]*)")
_ENHANCED = re.compile(rb"[245]\.[0-9]{1,3}\.[0-9]{1,3} ")


class Client:
    """A raw SMTP client: bytes out as given, replies read line by line and checked for 4.2's grammar."""

    def __init__(self, address: tuple[str, int], *, greet: bool = True) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.buffer = bytearray()
        self.raw: list[bytes] = []  # the lines of the last reply, CRLF removed
        if greet:
            assert self.reply().code == 220

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"server closed; unterminated: {bytes(self.buffer)!r}")
            self.buffer += chunk
        end = self.buffer.index(b"\r\n")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def reply(self) -> Reply:
        self.raw = []
        while True:
            line = self.line()
            match = _LINE.fullmatch(line)
            assert match, f"not a reply line: {line!r}"
            assert not self.raw or match["code"] == self.raw[0][:3], f"multiline reply changes code: {self.raw + [line]}"
            self.raw.append(line)
            if match["sep"] == b" ":
                return Reply(int(match["code"]), tuple(_LINE.fullmatch(r)["text"] for r in self.raw))

    def command(self, line: bytes) -> Reply:
        self.send(line + b"\r\n")
        return self.reply()

    def enhanced(self) -> set[bytes]:
        """The enhanced status code at the head of each line of the last reply (b"" where none)."""
        return {(_ENHANCED.match(line[4:]) or [b""])[0].strip() for line in self.raw}

    def closed(self, within: float = TIMEOUT) -> bool:
        """The server closed: EOF (or reset) arrives within ``within`` seconds, after any replies."""
        self.sock.settimeout(within)
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
            return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(TIMEOUT)

    def transaction(self, wire_body: bytes, *, rcpts: tuple[bytes, ...] = (LOCAL,), sender: bytes = b"sender@client.example") -> Reply:
        """MAIL, RCPT..., DATA, the already-stuffed ``wire_body`` and ".": the reply to the final dot."""
        assert self.command(b"MAIL FROM:<" + sender + b">").code == 250
        for rcpt in rcpts:
            assert self.command(b"RCPT TO:<" + rcpt + b">").code == 250
        assert self.command(b"DATA").code == 354
        self.send(wire_body + b".\r\n")
        return self.reply()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path / "mail", domains=("postel.test",), users=USERS)


@contextlib.contextmanager
def serving(store: MailStore, **options) -> Iterator[ServerThread]:
    thread = ServerThread(SmtpServer(store, **options), "smtp").start()
    try:
        yield thread
        thread.check()
    finally:
        thread.stop()


@pytest.fixture
def smtp(store: MailStore) -> Iterator[ServerThread]:
    with serving(store) as thread:
        yield thread


@pytest.fixture
def client(smtp: ServerThread) -> Iterator[Client]:
    c = Client(smtp.server.address)
    yield c
    c.close()


def ehlo(c: Client, name: bytes = b"client.example") -> Reply:
    reply = c.command(b"EHLO " + name)
    assert reply.code == 250
    return reply


def delivered(store: MailStore, user: str = "postel") -> list[bytes]:
    box = store.mailbox(user)
    return [box.read(key) for key in box.keys()]


def on_loop(thread: ServerThread, fn):
    async def call():
        return fn()

    return thread.call(call)


def stuff(body: bytes) -> bytes:
    """RFC 5321 4.5.2, written out independently of the codec: a line starting with "." gets one more."""
    return re.sub(rb"(?m)^\.", b"..", body)


# ---------------------------------------------------------------- greeting, EHLO, HELO


def test_greeting_names_the_host_and_carries_no_enhanced_code(smtp):
    c = Client(smtp.server.address, greet=False)
    assert c.reply() == Reply(220, [b"postel.test ESMTP postel"])
    assert c.enhanced() == {b""}  # rfc2034/4/3: not on the greeting
    c.close()


def test_ehlo_lists_exactly_what_is_implemented(client):
    reply = ehlo(client)
    assert client.raw[0] == b"250-postel.test greets client.example"
    assert all(line.startswith(b"250-") for line in client.raw[:-1]) and client.raw[-1].startswith(b"250 ")
    assert ehlo_keywords(reply) == {"SIZE": [str(10 * 1024 * 1024)], "8BITMIME": [], "PIPELINING": [], "ENHANCEDSTATUSCODES": [], "HELP": []}
    assert client.enhanced() == {b""}  # rfc2034/4/3: not on replies to EHLO


def test_helo_gets_one_line(client):
    assert client.command(b"HELO client.example") == Reply(250, [b"postel.test greets client.example"])
    assert len(client.raw) == 1  # "Servers MUST NOT return the extended EHLO-style response to a HELO command" (3.2)


# ---------------------------------------------------------------- every command, every code allowed by 4.3.2

# (commands sent first, the command, expected code, expected enhanced code or None)
COMMANDS = [
    ([], b"EHLO [192.0.2.1]", 250, b""),
    ([], b"NOOP", 250, b"2.0.0"),
    ([], b"NOOP anything at all", 250, b"2.0.0"),
    ([b"EHLO c.example"], b"RSET", 250, b"2.0.0"),
    ([], b"RSET", 250, b"2.0.0"),
    ([b"EHLO c.example"], b"VRFY postel", 252, b"2.5.0"),
    ([], b"VRFY <someone@elsewhere.example>", 252, b"2.5.0"),
    ([b"EHLO c.example"], b"EXPN staff", 502, b"5.5.1"),
    ([], b"HELP", 214, b"2.0.0"),
    ([], b"HELP mail", 214, b"2.0.0"),
    ([], b"HELP NOSUCH", 504, b"5.5.4"),
    ([b"EHLO c.example"], b"MAIL FROM:<a@b.example>", 250, b"2.1.0"),
    ([b"EHLO c.example"], b"MAIL FROM:<>", 250, b"2.1.0"),
    ([], b"MAIL FROM:<a@b.example>", 503, b"5.5.1"),
    ([b"EHLO c.example"], b"MAIL FROM:a@b.example", 501, b"5.5.4"),
    ([b"EHLO c.example"], b"MAIL FROM: <a@b.example>", 501, b"5.5.4"),
    ([b"EHLO c.example", b"MAIL FROM:<a@b.example>"], b"MAIL FROM:<a@b.example>", 503, b"5.5.1"),
    ([b"EHLO c.example"], b"RCPT TO:<postel@postel.test>", 503, b"5.5.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"RCPT TO:<postel@postel.test>", 250, b"2.1.5"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"RCPT TO:<nobody@postel.test>", 550, b"5.1.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"RCPT TO:<victim@elsewhere.example>", 550, b"5.7.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"RCPT TO:<postel@postel.test> NOTIFY=NEVER", 555, b"5.5.4"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"RCPT TO:<>", 501, b"5.5.4"),
    ([b"EHLO c.example"], b"DATA", 503, b"5.5.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>"], b"DATA", 503, b"5.5.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>", b"RCPT TO:<x@elsewhere.example>"], b"DATA", 554, b"5.5.1"),
    ([b"EHLO c.example", b"MAIL FROM:<>", b"RCPT TO:<postel@postel.test>"], b"DATA", 354, b""),
    ([], b"DATA now", 501, b"5.5.4"),
    ([], b"RSET x", 501, b"5.5.4"),
    ([], b"QUIT x", 501, b"5.5.4"),
    ([], b"EHLO", 501, b"5.5.4"),
    ([], b"STARTTLS", 500, b"5.5.2"),
    ([], b"M4IL FROM:<a@b.example>", 500, b"5.5.2"),
    ([], b"NOOP caf\xc3\xa9", 501, b"5.5.4"),  # "MUST reject that command with a 501 response" (4.1.2)
    ([], b"QUIT", 221, b"2.0.0"),
]


@pytest.mark.parametrize(("before", "line", "code", "enhanced"), COMMANDS, ids=[f"{i}-{c[1][:24].decode('latin-1')}" for i, c in enumerate(COMMANDS)])
def test_each_command_gets_a_code_4_3_2_allows_with_an_enhanced_code(client, before, line, code, enhanced):
    for earlier in before:
        client.command(earlier)
    reply = client.command(line)
    verb = line.split(b" ")[0].decode().upper()
    assert reply.code == code, client.raw
    assert code in ALLOWED.get(verb, set()) | ANY_COMMAND
    assert client.enhanced() == {enhanced}  # on every line (rfc2034/4/5), before EHLO too (rfc2034/4/6)


def test_a_bad_command_never_ends_the_session(client):
    for line in (b"BOGUS", b"MAIL", b"RCPT TO:<x", b"X" * 600):
        assert client.command(line).code in (500, 501)
    assert client.command(b"NOOP").code == 250  # 3.8: tolerant of unknown commands


def test_vrfy_names_a_mailbox_and_verifies_nothing(client):
    for argument, named in ((b"postel", b"<postel@postel.test>"), (b"nobody@postel.test", b"<nobody@postel.test>"), (b"<a@b.example>", b"<a@b.example>")):
        reply = client.command(b"VRFY " + argument)
        assert reply.code == 252 and named in reply.lines[0]  # 7.3: 252; 3.5.2: <local-part@domain>


def test_help_lists_the_commands(client):
    reply = client.command(b"HELP")
    assert reply.code == 214 and len(reply.lines) > 1
    for verb in (b"EHLO", b"HELO", b"MAIL", b"RCPT", b"DATA", b"RSET", b"NOOP", b"QUIT", b"VRFY"):
        assert verb in reply.text


# ---------------------------------------------------------------- order of commands (4.1.4, 3.3)


def test_mail_before_helo_is_503_and_leaves_the_state(client):
    assert client.command(b"MAIL FROM:<a@b.example>").code == 503
    assert client.command(b"RCPT TO:<postel@postel.test>").code == 503
    ehlo(client)
    assert client.command(b"MAIL FROM:<a@b.example>").code == 250


def test_ehlo_and_rset_clear_the_transaction(client, store):
    ehlo(client)
    for reset in (b"RSET", b"EHLO client.example", b"HELO client.example"):
        assert client.command(b"MAIL FROM:<a@b.example>").code == 250
        assert client.command(b"RCPT TO:<postel@postel.test>").code == 250
        assert client.command(reset).code == 250
        assert client.command(b"DATA").code == 503
    assert delivered(store) == []


def test_a_refused_mail_keeps_no_envelope(client):
    ehlo(client)
    assert client.command(b"MAIL FROM:<a@b.example> SIZE=x").code == 501
    assert client.command(b"RCPT TO:<postel@postel.test>").code == 503  # still no transaction (4.1.4)


def test_the_buffers_are_cleared_after_each_message(client, store):
    ehlo(client)
    assert client.transaction(b"one\r\n").code == 250
    assert client.command(b"RCPT TO:<postel@postel.test>").code == 503  # 4.1.1.4: "these buffers are cleared"
    assert client.command(b"DATA").code == 503
    assert client.transaction(b"two\r\n").code == 250
    assert [split_trace(m)[1] for m in delivered(store)] == [b"one\r\n", b"two\r\n"]


# ---------------------------------------------------------------- recipients: local, unknown, foreign, postmaster


@pytest.mark.parametrize("rcpt", [b"<Postmaster>", b"<postmaster>", b"<POSTMASTER@postel.test>", b"<postmaster@POSTEL.TEST>"])
def test_postmaster_is_accepted_in_any_case(client, store, rcpt):
    ehlo(client)
    client.command(b"MAIL FROM:<a@b.example>")
    assert client.command(b"RCPT TO:" + rcpt).code == 250  # 4.5.1
    assert client.command(b"DATA").code == 354
    client.send(b"to the postmaster\r\n.\r\n")
    assert client.reply().code == 250
    assert [split_trace(m)[1] for m in delivered(store)] == [b"to the postmaster\r\n"]


def test_relay_is_refused_and_nothing_is_sent_anywhere(client, store):
    ehlo(client)
    client.command(b"MAIL FROM:<a@b.example>")
    reply = client.command(b"RCPT TO:<victim@elsewhere.example>")
    assert (reply.code, reply.enhanced) == (550, "5.7.1")  # 3.6.2: 550 for policy reasons
    assert client.command(b"RCPT TO:<@postel.test:victim@elsewhere.example>").code == 550  # a source route does not help
    assert client.command(b"DATA").code == 554
    assert all(delivered(store, user) == [] for user in USERS)


def test_local_parts_are_case_sensitive_and_quoting_does_not_matter(client, store):
    ehlo(client)
    client.command(b"MAIL FROM:<a@b.example>")
    assert client.command(b"RCPT TO:<POSTEL@postel.test>").code == 550  # 2.4: the local-part is case sensitive
    assert client.command(b'RCPT TO:<"postel"@postel.test>').code == 250  # 4.1.2: quoted forms are equivalent
    assert client.command(b"RCPT TO:<postel@Postel.Test>").code == 250  # domains are not case sensitive
    assert client.command(b"RCPT TO:<@relay.example:alice@postel.test>").code == 250  # 4.1.1.3: the route is stripped
    assert client.command(b"DATA").code == 354
    client.send(b"x\r\n.\r\n")
    assert client.reply().code == 250
    assert len(delivered(store, "postel")) == 1 and len(delivered(store, "alice")) == 1  # one copy per mailbox


def test_too_many_recipients_is_452_after_the_first_hundred(client, store):
    ehlo(client)
    client.command(b"MAIL FROM:<a@b.example>")
    client.send(b"RCPT TO:<postel@postel.test>\r\n" * 100 + b"RCPT TO:<alice@postel.test>\r\n")
    replies = [client.reply() for _ in range(101)]
    assert [r.code for r in replies] == [250] * 100 + [452]  # 4.5.3.1.8: 100 are buffered; 4.5.3.1.10: then 452
    assert replies[-1].enhanced == "4.5.3"
    assert client.command(b"DATA").code == 354  # the 100 accepted are kept, not discarded
    client.send(b"hi\r\n.\r\n")
    assert client.reply().code == 250
    assert len(delivered(store, "postel")) == 1 and delivered(store, "alice") == []


# ---------------------------------------------------------------- SIZE, BODY, parameters


def test_size_parameter(store):
    with serving(store, max_message_size=70000) as smtp:
        c = Client(smtp.server.address)
        assert ehlo_keywords(ehlo(c))["SIZE"] == ["70000"]
        cases = [
            (b"SIZE=70000", 250),
            (b"SIZE=70001", 552),  # RFC 1870 6.1: "552 message size exceeds fixed maximium message size"
            (b"SIZE=" + b"9" * 21, 501),  # size-value ::= 1*20DIGIT
            (b"SIZE=12x", 501),
            (b"SIZE", 501),
            (b"SIZE=1 SIZE=2", 501),  # only one SIZE parameter
            (b"BODY=8BITMIME", 250),
            (b"BODY=7bit", 250),
            (b"BODY=BINARYMIME", 555),
            (b"BODY=8BITMIME BODY=7BIT", 501),
            (b"X-UNKNOWN=1", 555),  # 4.1.1.11
            (b"SIZE=100 BODY=8BITMIME", 250),
        ]
        for params, code in cases:
            reply = c.command(b"MAIL FROM:<a@b.example> " + params)
            assert reply.code == code, (params, c.raw)
            if code == 552:
                assert reply.enhanced == "5.3.4"
            if code == 250:
                c.command(b"RSET")
        c.close()


def test_extension_parameters_after_helo_are_refused(client):
    client.command(b"HELO client.example")
    assert client.command(b"MAIL FROM:<a@b.example> SIZE=10").code == 555  # no extension was offered (4.1.1)
    assert client.command(b"MAIL FROM:<a@b.example>").code == 250


def test_mail_data_over_the_size_limit_is_552_and_not_delivered(store):
    with serving(store, max_message_size=65536) as smtp:
        c = Client(smtp.server.address)
        ehlo(c)
        line = b"x" * 998 + b"\r\n"
        assert c.transaction(line * 66).code == 552  # 66,000 octets
        assert delivered(store) == []
        assert c.transaction(line * 65).code == 250  # 65,000: fine (4.5.3.1.7: at least 64K)
        assert c.command(b"QUIT").code == 221
        c.close()


def test_mail_command_may_be_26_octets_longer_for_size(client):
    ehlo(client)
    head = b"MAIL FROM:<a@b.example> SIZE=100 X-PAD="
    line = head + b"v" * (512 + 26 - 2 - len(head))
    assert client.command(line).code == 555  # read whole and judged: RFC 1870 3, "increased by 26 characters"
    assert client.command(line + b"v").code == 500  # one more: too long
    assert client.command(b"MAIL FROM:<a@b.example> SIZE=100").code == 250


def test_eight_bit_data_is_kept_with_either_body(client, store):
    ehlo(client)
    body = "Grüße, ça va? \u00ff\r\n".encode() + bytes(range(0x80, 0x100)).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"
    for param in (b" BODY=8BITMIME", b" BODY=7BIT", b""):
        client.command(b"MAIL FROM:<a@b.example>" + param)
        client.command(b"RCPT TO:<postel@postel.test>")
        client.command(b"DATA")
        client.send(body + b".\r\n")
        assert client.reply().code == 250
    assert [split_trace(m)[1] for m in delivered(store)] == [body] * 3  # RFC 6152 3: preserve all bits


# ---------------------------------------------------------------- pipelining (RFC 2920)


def test_pipelined_commands_are_answered_in_order(client, store):
    ehlo(client)
    client.send(
        b"MAIL FROM:<a@b.example>\r\nRCPT TO:<postel@postel.test>\r\nRCPT TO:<x@elsewhere.example>\r\n"
        b"BOGUS\r\nRCPT TO:<nobody@postel.test>\r\nRCPT TO:<alice@postel.test>\r\nDATA\r\n"
    )
    assert [client.reply().code for _ in range(7)] == [250, 250, 550, 500, 550, 250, 354]
    client.send(b"Subject: pipelined\r\n\r\n.\r\n.\r\nNOOP\r\nVRFY x\r\nQUIT\r\n")  # the message ends at the first lone dot
    assert [client.reply().code for _ in range(5)] == [250, 500, 250, 252, 221]  # the second "." is a bad command
    assert client.closed()
    assert [split_trace(m)[1] for m in delivered(store)] == [b"Subject: pipelined\r\n\r\n"]


def test_pipelined_replies_after_the_final_dot_wait_for_the_delivery(client, store):
    ehlo(client)
    wire = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<postel@postel.test>\r\nDATA\r\n"
    client.send(wire)
    assert [client.reply().code for _ in range(3)] == [250, 250, 354]
    client.send(b"one\r\n.\r\n" + wire)  # the next transaction in the same write as the dot
    assert [client.reply().code for _ in range(4)] == [250, 250, 250, 354]
    client.send(b"two\r\n.\r\nQUIT\r\n")
    assert [client.reply().code for _ in range(2)] == [250, 221]
    assert [split_trace(m)[1] for m in delivered(store)] == [b"one\r\n", b"two\r\n"]


def test_commands_after_a_half_close_are_still_answered_and_quit_closes(client):
    client.send(b"NOOP\r\nBOGUS\r\nQUIT\r\n")
    client.sock.shutdown(socket.SHUT_WR)
    assert [client.reply().code for _ in range(3)] == [250, 500, 221]
    assert client.closed()


# ---------------------------------------------------------------- transparency and the stored message


def test_dot_unstuffing_into_the_maildir_byte_for_byte(client, store):
    ehlo(client)
    wire = b"..\r\n...\r\n..x\r\n...x\r\n.. \r\nx.\r\n\r\n \r\n.\r\n"  # ends at the lone "."
    stored = b".\r\n..\r\n.x\r\n..x\r\n. \r\nx.\r\n\r\n \r\n"
    client.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<postel@postel.test>\r\nDATA\r\n")
    assert [client.reply().code for _ in range(3)] == [250, 250, 354]
    client.send(wire)
    assert client.reply().code == 250
    assert split_trace(delivered(store)[0])[1] == stored  # 4.5.2: "the first character is deleted"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"Subject: t\r\n\r\n",
        b"x" * 998 + b"\r\n" + b"." + b"y" * 997 + b"\r\n",  # 1000-octet lines, one stuffed (4.5.3.1.6)
        b"\tcontrol \x01\x07\x0b\x0c\x1b chars\r\n",  # 4.5.2: "including ... control characters"
        b"no blank line, no header\r\n.\r\n..\r\n",
    ],
    ids=["empty", "header-only", "998-octets", "controls", "dots"],
)
def test_bodies_arrive_as_sent(client, store, body):
    ehlo(client)
    assert client.transaction(stuff(body)).code == 250
    assert split_trace(delivered(store)[0])[1] == body


def test_trace_fields_on_top(client, store):
    ehlo(client, b"client.example")
    before = datetime.datetime.now(datetime.UTC)
    assert client.transaction(b"Received: from earlier.example by x; Thu, 1 Jan 2026 00:00:00 +0000\r\nSubject: t\r\n\r\nbody\r\n", sender=b"someone@client.example").code == 250
    message = delivered(store)[0]
    trace, rest = split_trace(message)
    assert rest.startswith(b"Received: from earlier.example")  # the client's own trace field is part of its message
    fields = re.findall(rb"(?m)^[^ \t\r\n][^\r\n]*(?:\r\n[ \t][^\r\n]*)*", message)
    # 4.4: final delivery inserts Return-Path; Received is prepended, existing lines keep their order
    assert fields[0] == b"Return-Path: <someone@client.example>"
    stamp = re.fullmatch(
        rb"Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby postel\.test with ESMTP id (?P<id>[0-9a-f]+);\r\n\t(?P<date>[^\r\n]+)",
        fields[1],
    )
    assert stamp, fields[1]
    date = email.utils.parsedate_to_datetime(stamp["date"].decode())
    assert re.search(rb" [+-][0-9]{4}$", stamp["date"])  # 4.4: explicit offsets
    assert abs((date - before).total_seconds()) < 60
    assert fields[2].startswith(b"Received: from earlier.example")
    assert client.raw[0].endswith(b" " + stamp["id"])  # the 250 names the id the trace field carries


def test_received_says_smtp_after_helo_and_names_the_ip_without_helo(store):
    with faulty(store, "accept_before_helo", greet=False) as c:
        assert c.transaction(b"x\r\n", sender=b"").code == 250  # no EHLO/HELO at all (the fault lets MAIL in)
        c.command(b"HELO client.example")
        assert c.transaction(b"y\r\n").code == 250
    first, second = (split_trace(m)[0] for m in delivered(store))
    assert b"Return-Path: <>\r\n" in first and b"Received: from [127.0.0.1] ([127.0.0.1])" in first
    assert b"Received: from client.example ([127.0.0.1])\r\n\tby postel.test with SMTP id" in second


def test_split_trace():
    assert split_trace(b"Return-Path: <a@b>\r\nReceived: from x\r\n\tby y;\r\n\tdate\r\nSubject: s\r\n\r\nb\r\n") == (
        b"Return-Path: <a@b>\r\nReceived: from x\r\n\tby y;\r\n\tdate\r\n",
        b"Subject: s\r\n\r\nb\r\n",
    )
    assert split_trace(b"") == (b"", b"")
    assert split_trace(b"Return-Path: <>\r\n\tindented body\r\n") == (b"Return-Path: <>\r\n", b"\tindented body\r\n")


# ---------------------------------------------------------------- bad lines (the codec's hints, sent)


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"bare\nLF\r\n", "bare LF"),
        (b"bare\rCR\r\n", "bare CR"),
        (b"x" * (MAX_TEXT_LINE - 1) + b"\r\n", "1001-octet line"),
        (b"fine\r\n" + b"y" * 5000 + b"\r\nmore\r\n", "5000-octet line"),
    ],
)
def test_a_bad_data_line_gets_500_and_nothing_is_delivered(client, store, wire, why):
    ehlo(client)
    reply = client.transaction(wire + b"junk\n.\nstill data\r\n")  # <LF>.<LF> does not end the data (4.1.1.4)
    assert (reply.code, reply.enhanced) == (500, "5.5.2"), why
    assert delivered(store) == []
    assert client.transaction(b"good\r\n").code == 250  # the session goes on


def test_command_lines_up_to_512_octets_are_read_and_longer_ones_refused(client):
    assert client.command(b"NOOP " + b"x" * 505).code == 250  # 512 with the CRLF (4.5.3.1.4)
    reply = client.command(b"NOOP " + b"x" * 600)
    assert (reply.code, reply.enhanced) == (500, "5.5.2")
    client.send(b"EHLO c.example\n")
    assert client.reply().code == 500  # 2.3.8: only CRLF ends a line
    assert client.command(b"NOOP").code == 250


@pytest.mark.parametrize("in_data", [False, True], ids=["command", "mail-data"])
def test_a_10_megabyte_line_does_not_grow_the_buffers(client, smtp, store, in_data):
    ehlo(client)
    if in_data:
        client.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<postel@postel.test>\r\nDATA\r\n")
        assert [client.reply().code for _ in range(3)] == [250, 250, 354]
    for _ in range(160):  # 10 MiB, no CRLF
        client.send(b"A" * 65536)
    time.sleep(0.2)
    assert [read <= 1 for read, _ in on_loop(smtp, smtp.server.buffered)] == [True]  # nothing kept of the line
    client.send(b"\r\n.\r\n" if in_data else b"\r\n")
    reply = client.reply()
    assert (reply.code, reply.enhanced) == (500, "5.5.2")  # refused once (4.5.3.1.9: "500 Line too long")
    assert client.command(b"NOOP").code == 250 and delivered(store) == []  # the session goes on


def test_a_peer_that_does_not_read_is_not_read_either(smtp):
    """Pipelined HELPs (28 times as many octets back) from a peer that does not read: the replies waiting
    in the server stay near the 64 KiB high-water mark, because it stops reading; every reply arrives later."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.settimeout(30)
    sock.connect(smtp.server.address)
    count = 40_000  # 240 KB of commands, about 7 MB of replies
    sender = threading.Thread(target=sock.sendall, args=(b"HELP\r\n" * count,), daemon=True)
    sender.start()
    waiting = []
    for _ in range(10):
        time.sleep(0.1)
        waiting += [(read, written) for read, written in on_loop(smtp, smtp.server.buffered)]
    assert max(written for _, written in waiting) < 256 * 1024, waiting
    assert max(read for read, _ in waiting) < 1024 * 1024
    greeting = b"220 postel.test ESMTP postel\r\n"
    help_reply = b"".join(R.R214_HELP.wire_lines())
    expected = len(greeting) + count * len(help_reply)
    received = bytearray()
    while len(received) < expected:
        chunk = sock.recv(1 << 20)
        assert chunk, "closed early"
        received += chunk
    sender.join(10)
    assert bytes(received) == greeting + help_reply * count and not sender.is_alive()
    sock.close()


# ---------------------------------------------------------------- delivery: all or nothing


def test_each_mailbox_gets_one_copy(client, store):
    ehlo(client)
    assert client.transaction(b"to both\r\n", rcpts=(b"postel@postel.test", b"alice@postel.test", b"postmaster@postel.test")).code == 250
    assert [split_trace(m)[1] for m in delivered(store, "postel")] == [b"to both\r\n"]
    assert [split_trace(m)[1] for m in delivered(store, "alice")] == [b"to both\r\n"]


def test_a_failed_delivery_is_451_and_leaves_no_copy(client, store):
    ehlo(client)
    alice = store.mailbox("alice").path
    (alice / "new").rmdir()
    (alice / "new").write_bytes(b"not a directory")  # the rename into new/ fails (even for root)
    reply = client.transaction(b"doomed\r\n", rcpts=(b"postel@postel.test", b"alice@postel.test"))
    assert (reply.code, reply.enhanced) == (451, "4.3.0")
    assert delivered(store, "postel") == []  # the copy written first was taken back (4.1.1.4: no partial failure)
    assert list((store.mailbox("postel").path / "tmp").iterdir()) == [] and list((alice / "tmp").iterdir()) == []
    assert client.command(b"NOOP").code == 250


def test_a_session_dropped_in_the_data_delivers_nothing(client, store):
    ehlo(client)
    client.command(b"MAIL FROM:<a@b.example>")
    client.command(b"RCPT TO:<postel@postel.test>")
    client.command(b"DATA")
    client.send(b"half a message\r\n")
    client.close()
    time.sleep(0.2)
    assert delivered(store) == []


# ---------------------------------------------------------------- timeouts, limits, shutdown


def test_idle_session_gets_421_on_timeout(store):
    with serving(store, command_timeout=0.3) as smtp:
        c = Client(smtp.server.address)
        start = time.monotonic()
        reply = c.reply()
        assert (reply.code, reply.enhanced) == (421, "4.4.2")
        assert c.closed() and time.monotonic() - start < 2.0
        c.close()


def test_a_slowloris_is_dropped(store):
    """One octet every 50 ms keeps the line busy but never completes a command (or a data line): dropped."""
    with serving(store, command_timeout=0.5, data_timeout=0.5) as smtp:
        for prefix, codes in ((b"", []), (b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<postel@postel.test>\r\nDATA\r\n", [250, 250, 250, 354])):
            c = Client(smtp.server.address)
            c.send(prefix)
            assert [c.reply().code for _ in codes] == codes
            stop = threading.Event()
            trickle = threading.Thread(target=_trickle, args=(c.sock, stop), daemon=True)
            start = time.monotonic()
            trickle.start()
            try:
                reply = c.reply()
                assert (reply.code, reply.enhanced) == (421, "4.4.2")
                assert c.closed(within=2.0)
                assert time.monotonic() - start < 1.5
            finally:
                stop.set()
                trickle.join(2)
                c.close()


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while not stop.wait(0.05):
            sock.send(b"x")


def test_close_sends_421_to_every_open_session(store):
    smtp = ServerThread(SmtpServer(store), "smtp").start()
    try:
        a, b = Client(smtp.server.address), Client(smtp.server.address)
        ehlo(a)
        b.command(b"MAIL FROM:<a@b.example>")
    finally:
        smtp.stop()
    for c in (a, b):
        reply = c.reply()
        assert (reply.code, reply.enhanced) == (421, "4.3.2")
        assert reply.lines[0].startswith(b"postel.test ") and b"closing transmission channel" in reply.lines[0]
        assert c.closed()
        c.close()


def test_too_many_connections_get_421(store):
    with serving(store, max_connections=2) as smtp:
        a, b = Client(smtp.server.address), Client(smtp.server.address)
        c = Client(smtp.server.address, greet=False)
        assert c.reply().code == 421 and c.closed()
        for each in (a, b, c):
            each.close()


def test_unknown_faults_are_refused(store):
    with pytest.raises(ValueError, match="unknown faults"):
        SmtpServer(store, faults=frozenset({"no_such_fault"}))


# ---------------------------------------------------------------- each fault switch does what it names


@contextlib.contextmanager
def faulty(store: MailStore, fault: str, *, greet: bool = True, **options) -> Iterator[Client]:
    """A session with a server running one fault; EHLO already said unless ``greet`` is False."""
    with serving(store, faults=frozenset({fault}), **options) as smtp:
        c = Client(smtp.server.address)
        if greet:
            ehlo(c)
        yield c
        c.close()


def test_fault_no_dot_unstuffing(store):
    with faulty(store, "no_dot_unstuffing") as c:
        assert c.transaction(b"..x\r\nplain\r\n").code == 250
    assert split_trace(delivered(store)[0])[1] == b"..x\r\nplain\r\n"


def test_fault_open_relay(store):
    with faulty(store, "open_relay") as c:
        c.command(b"MAIL FROM:<a@b.example>")
        assert c.command(b"RCPT TO:<victim@elsewhere.example>").code == 250
        assert c.command(b"RCPT TO:<nobody@postel.test>").code == 550


def test_fault_wrong_multiline_continuation(store):
    with faulty(store, "wrong_multiline_continuation", greet=False) as c:
        c.send(b"EHLO client.example\r\n")
        assert all(c.line().startswith(b"250 ") for _ in range(6))
        assert c.command(b"NOOP").code == 250


def test_fault_accept_before_helo(store):
    with faulty(store, "accept_before_helo", greet=False) as c:
        assert c.command(b"MAIL FROM:<a@b.example>").code == 250


def test_fault_bad_reply_code(store):
    with faulty(store, "bad_reply_code") as c:
        assert (c.command(b"RSET").code, c.command(b"NOOP").code) == (354, 250)


def test_fault_pipelining_out_of_order(store):
    with faulty(store, "pipelining_out_of_order") as c:
        c.send(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nVRFY postel\r\n")
        assert [c.reply().code for _ in range(3)] == [252, 550, 250]


def test_fault_ignores_size(store):
    with faulty(store, "ignores_size", max_message_size=70000) as c:
        assert c.command(b"MAIL FROM:<a@b.example> SIZE=70001").code == 250


def test_fault_no_received(store):
    with faulty(store, "no_received") as c:
        assert c.transaction(b"x\r\n").code == 250
    trace, rest = split_trace(delivered(store)[0])
    assert b"Received:" not in trace and rest == b"x\r\n"


def test_every_fault_has_a_test_here_or_in_the_crash_tests():
    names = [*globals(), *vars(__import__("tests.test_smtp_server_faults", fromlist=["_"]))]  # the newer switches' tests are there
    assert FAULTS - {n.removeprefix("test_fault_") for n in names if n.startswith("test_fault_")} == {"crash_after_fsync"}  # os._exit: only in a subprocess (tests/test_smtp_crash.py)


def test_reply_constants_obey_4_3_2():
    named = {
        "RCPT": [R.R452_TOO_MANY_RECIPIENTS, R.R550_NO_SUCH_USER(b"x"), R.R550_RELAY_DENIED(b"x"), R.R555_PARAMETER(b"X"), R.R503_MAIL_FIRST],
        "MAIL": [R.R503_HELO_FIRST, R.R503_NESTED_MAIL, R.R552_SIZE_EXCEEDED, R.R555_PARAMETER(b"X")],
        "DATA": [R.R354_START_MAIL_INPUT, R.R503_RCPT_FIRST, R.R554_NO_VALID_RECIPIENTS],
        "END_OF_DATA": [R.R250_DELIVERED(b"id"), R.R451_LOCAL_ERROR, R.R552_SIZE_EXCEEDED],
        "EXPN": [R.R502_EXPN_NOT_IMPLEMENTED],
        "HELP": [R.R214_HELP, R.R504_HELP_TOPIC],
        "VRFY": [R.R252_CANNOT_VRFY(b"<a@b>")],
    }
    for verb, replies in named.items():
        for reply in replies:
            assert reply.code in ALLOWED[verb] | ANY_COMMAND, (verb, reply)
            assert (reply.enhanced is None) == (reply.code // 100 == 3)
