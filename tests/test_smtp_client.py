"""The reference SMTP client against scripted servers on loopback (and against the reference server).

A scripted server answers each command line with whatever the test says,
right or wrong, so each strictness of the client (a reply that never ends,
one reply too many, a multiline reply that changes its code) is shown to
raise with the sentence it breaks, and each convenience (stuffing, pipelining,
raw octets, the reply log) to put the right octets on the wire.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.smtp.client import SmtpClient
from postel.protocols.smtp.events import Command
from postel.protocols.smtp.state import END_OF_DATA, GREETING
from postel.wire import Transcript, WireClosed, WireTimeout

EHLO_OK = b"250-fake.test hello\r\n250-SIZE 1000\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n"

Respond = Callable[[bytes], bytes | None]  # a command line (no CRLF) or b"<data>" + content -> octets to send; None: close


def standard(line: bytes) -> bytes | None:
    """A well-behaved server, enough for the client's happy paths."""
    verb = line.split(b" ", 1)[0].upper()
    if line.startswith(b"<data>"):
        return b"250 2.0.0 queued\r\n"
    return {
        b"EHLO": EHLO_OK,
        b"HELO": b"250 fake.test\r\n",
        b"MAIL": b"250 2.1.0 ok\r\n",
        b"RCPT": b"250 2.1.5 ok\r\n",
        b"DATA": b"354 go ahead\r\n",
        b"RSET": b"250 2.0.0 ok\r\n",
        b"NOOP": b"250 2.0.0 ok\r\n",
        b"VRFY": b"252 2.1.5 cannot verify\r\n",
        b"HELP": b"214-2.0.0 commands:\r\n214 2.0.0 EHLO HELO MAIL RCPT DATA\r\n",
        b"QUIT": b"221 2.0.0 bye\r\n",
    }.get(verb, b"500 5.5.1 unknown\r\n")


class ScriptedServer:
    """One connection at a time: the greeting, then ``respond`` per command line; mail data collected to ``.``."""

    def __init__(self, respond: Respond = standard, greeting: bytes = b"220 fake.test ESMTP\r\n", close_after_quit: bool = True) -> None:
        self.respond = respond
        self.greeting = greeting
        self.close_after_quit = close_after_quit
        self.received = b""
        self.contents: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.address = self.listener.getsockname()[:2]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(5)
            sock.sendall(self.greeting)
            buffer, in_data = b"", False
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.received += chunk
                buffer += chunk
                while True:
                    if in_data:
                        end = buffer.find(b"\r\n.\r\n") if not buffer.startswith(b".\r\n") else -2
                        if end == -1:
                            break
                        content, buffer = (b"", buffer[3:]) if end == -2 else (buffer[: end + 2], buffer[end + 5 :])
                        self.contents.append(content)
                        in_data = False
                        out = self.respond(b"<data>" + content)
                    else:
                        end = buffer.find(b"\r\n")
                        if end < 0:
                            break
                        line, buffer = buffer[:end], buffer[end + 2 :]
                        out = self.respond(line)
                        in_data = bool(out and out.startswith(b"354"))
                    if out is None:
                        return
                    if out:
                        sock.sendall(out)
                    if out.startswith(b"221") and self.close_after_quit:
                        return

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


@contextmanager
def scripted(respond: Respond = standard, **kwargs) -> Iterator[ScriptedServer]:
    server = ScriptedServer(respond, **kwargs)
    try:
        yield server
    finally:
        server.close()


def client_for(server: ScriptedServer, timeout: float = 2.0) -> SmtpClient:
    return SmtpClient(server.address, timeout=timeout, transcript=Transcript(label="test"))


# ---------------------------------------------------------------- the happy paths


def test_a_session_puts_each_command_on_the_wire_and_logs_each_reply():
    with scripted() as server, client_for(server) as client:
        assert client.greet().code == 220
        reply = client.ehlo("client.postel.test")
        assert reply.code == 250 and reply.lines[0] == b"fake.test hello"
        assert client.keywords == {"SIZE": ["1000"], "PIPELINING": [], "ENHANCEDSTATUSCODES": []}
        assert client.mail("a@postel.test", {b"SIZE": b"10"}).code == 250
        assert client.rcpt("b@postel.test").code == 250
        assert client.data(b"Subject: x\r\n\r\nhello\r\n").code == 250
        assert client.data_reply.code == 354
        assert client.vrfy("b").code == 252
        assert client.help().code == 214
        assert client.noop().code == 250 and client.rset().code == 250
        assert client.quit().code == 221
        assert client.wait_closed(2)
    sent = server.received
    assert sent.startswith(b"EHLO client.postel.test\r\nMAIL FROM:<a@postel.test> SIZE=10\r\nRCPT TO:<b@postel.test>\r\nDATA\r\n")
    assert b"Subject: x\r\n\r\nhello\r\n.\r\nVRFY b\r\nHELP\r\nNOOP\r\nRSET\r\nQUIT\r\n" in sent
    answered = [a.answers for a in client.log]
    assert answered == [GREETING, b"EHLO", b"MAIL", b"RCPT", b"DATA", END_OF_DATA, b"VRFY", b"HELP", b"NOOP", b"RSET", b"QUIT"]
    assert client.log[1].raw == tuple(line + b"\r\n" for line in EHLO_OK.split(b"\r\n")[:-1])
    assert client.log[2].reply.enhanced == "2.1.0"
    directions = {who for _, who, _ in client.transcript.entries}
    assert {"C", "S", "*"} <= directions


def test_mail_data_is_dot_stuffed_and_ends_with_crlf_dot_crlf():
    body = b".leading dot\r\n.\r\nmiddle . dot\r\n..two\r\nno final crlf"
    with scripted() as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        client.mail("a@postel.test")
        client.rcpt("b@postel.test")
        assert client.data(body).code == 250
    assert server.contents == [b"..leading dot\r\n..\r\nmiddle . dot\r\n...two\r\nno final crlf\r\n"]


def test_an_empty_body_is_just_the_end_of_data():
    with scripted() as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        client.mail("a@postel.test")
        client.rcpt("b@postel.test")
        assert client.data(b"").code == 250
    assert server.contents == [b""]
    assert server.received.endswith(b"DATA\r\n.\r\nQUIT\r\n")


def test_a_refused_data_command_returns_the_refusal_and_sends_no_data():
    def refuse_data(line: bytes) -> bytes | None:
        return b"503 5.5.1 need RCPT\r\n" if line == b"DATA" else standard(line)

    with scripted(refuse_data) as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        reply = client.data(b"never sent\r\n")
        assert reply.code == 503 and client.data_reply is reply
        assert client.noop().code == 250
    assert b"never sent" not in server.received


def test_pipelined_commands_go_in_one_write_and_replies_come_in_order():
    with scripted() as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        replies = client.pipeline([Command.mail(b"a@postel.test"), Command.rcpt(b"b@postel.test"), Command(b"DATA")])
        assert [r.code for r in replies] == [250, 250, 354]
        assert client.send_content(b"x\r\n").code == 250
    group = b"MAIL FROM:<a@postel.test>\r\nRCPT TO:<b@postel.test>\r\nDATA\r\n"
    assert group in [data for _, who, data in client.transcript.entries if who == "C"]


def test_pipelining_needs_the_extension_and_group_enders_last():
    def no_pipelining(line: bytes) -> bytes | None:
        return b"250-fake.test\r\n250 SIZE\r\n" if line.startswith(b"EHLO") else standard(line)

    with scripted(no_pipelining) as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        with pytest.raises(LocalProtocolError) as info:
            client.pipeline([Command(b"RSET"), Command(b"NOOP")])
        assert info.value.requirement == "rfc5321/4.3.1/1"
    with scripted() as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        with pytest.raises(LocalProtocolError) as info:
            client.pipeline([Command(b"NOOP"), Command(b"RSET")])
        assert info.value.requirement == "rfc2920/3.1/3"


def test_raw_octets_go_out_unchanged_and_their_reply_is_read():
    with scripted() as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        client.send_raw(b"XYZZY frobnicate\r\n")
        reply = client.read_reply()
        assert reply.code == 500 and client.log[-1].answers == b"XYZZY"
        client.mail("a@postel.test")
        client.rcpt("b@postel.test")
        assert client.command(Command(b"DATA")).code == 354
        assert client.send_content_raw(b".not stuffed\r\n").code == 250
        assert client.noop().code == 250
    assert server.contents == [b".not stuffed\r\n"]
    assert b"XYZZY frobnicate\r\n" in server.received


# ---------------------------------------------------------------- strictness: what the server did wrong


def test_a_multiline_reply_that_changes_its_code_is_the_servers_fault():
    def bad_help(line: bytes) -> bytes | None:
        return b"214-help\r\n250 end\r\n" if line == b"HELP" else standard(line)

    with scripted(bad_help) as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        with pytest.raises(RemoteProtocolError) as info:
            client.help()
    assert info.value.requirement == "rfc5321/4.2.1/5"


def test_a_reply_too_many_is_the_servers_fault():
    def twice(line: bytes) -> bytes | None:
        return b"250 ok\r\n250 again\r\n" if line == b"NOOP" else standard(line)

    with scripted(twice) as server, client_for(server) as client:
        client.ehlo("client.postel.test")
        with pytest.raises(RemoteProtocolError) as info:
            client.noop()  # both lines arrive in one read: the second is judged with the first
            client.unsolicited(0.5)  # or, had they come apart, here
    assert info.value.requirement == "rfc5321/4.2/1"


def test_continuation_lines_without_a_last_line_are_a_reply_that_never_ends():
    def endless(line: bytes) -> bytes | None:
        return b"250-fake.test\r\n250-SIZE 1000\r\n250-PIPELINING\r\n" if line.startswith(b"EHLO") else standard(line)

    with scripted(endless) as server, client_for(server, timeout=0.5) as client:
        with pytest.raises(RemoteProtocolError) as info:
            client.ehlo("client.postel.test")
    assert info.value.requirement == "rfc5321/4.2.1/2"
    assert "never ended" in str(info.value)


def test_an_ehlo_line_that_is_not_a_keyword_is_the_servers_fault():
    def bad_keyword(line: bytes) -> bytes | None:
        return b"250-fake.test\r\n250 -SIZE\r\n" if line.startswith(b"EHLO") else standard(line)

    with scripted(bad_keyword) as server, client_for(server) as client:
        with pytest.raises(RemoteProtocolError) as info:
            client.ehlo("client.postel.test")
    assert info.value.requirement == "rfc5321/4.1.1.1/11"


def test_a_reply_code_outside_2_to_5_is_the_servers_fault():
    with scripted(greeting=b"120 later\r\n") as server, client_for(server) as client:
        with pytest.raises(RemoteProtocolError) as info:
            client.greet()
    assert info.value.requirement == "rfc5321/4.3.2/2"


def test_a_close_instead_of_a_reply_and_silence_are_wire_errors():
    with scripted(lambda line: None) as server, client_for(server) as client:
        with pytest.raises(WireClosed):
            client.noop()
    with scripted(lambda line: b"") as server, client_for(server, timeout=0.3) as client:
        with pytest.raises(WireTimeout):
            client.noop()


def test_wait_closed_tells_a_closing_server_from_one_that_stays():
    with scripted() as server, client_for(server) as client:
        assert client.quit().code == 221
        assert client.wait_closed(2)
    with scripted(close_after_quit=False) as server, client_for(server) as client:
        assert client.quit().code == 221
        assert not client.wait_closed(0.3)


def test_leaving_the_with_block_says_quit():
    with scripted() as server:
        with client_for(server) as client:
            client.ehlo("client.postel.test")
        server.thread.join(2)
    assert server.received.endswith(b"QUIT\r\n")
    assert client.log[-1].answers == b"QUIT"


# ---------------------------------------------------------------- against the reference server


@pytest.fixture
def reference_smtp(tmp_path):
    """The reference SMTP server on a fresh MailStore; yields (address, the postel mailbox)."""
    from postel.protocols.mail.maildir import MailStore
    from postel.protocols.smtp.server import SmtpServer
    from postel.serving import ServerThread

    store = MailStore(tmp_path, domains=("postel.test",), users={"postel": "pw"})
    thread = ServerThread(SmtpServer(store), "smtp").start()
    try:
        yield thread.server.address, store.mailbox("postel")
    finally:
        thread.stop()
    assert not thread.errors, thread.errors


def test_the_client_delivers_through_the_reference_server_unchanged(reference_smtp):
    address, mailbox = reference_smtp
    content = b"Subject: round trip\r\n\r\n.leading dot\r\n.\r\n..\r\nend\r\n"
    with SmtpClient(address, timeout=5) as client:
        assert client.greet().code == 220
        assert client.ehlo("client.postel.test").code == 250
        assert {"SIZE", "8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES"} <= set(client.keywords)
        replies = client.pipeline([Command.mail(b"a@postel.test"), Command.rcpt(b"postel@postel.test"), Command(b"DATA")])
        assert [r.code for r in replies] == [250, 250, 354]
        assert client.send_content(content).code == 250
        assert client.rcpt("postel@postel.test").code == 503
        assert client.quit().code == 221
        assert client.wait_closed(2)
    (key,) = mailbox.keys()
    stored = mailbox.read(key)
    assert stored.endswith(content) and stored.startswith(b"Return-Path: <a@postel.test>\r\nReceived: ")


def test_the_strict_client_reports_the_faulty_server_s_ehlo_lines(tmp_path):
    from postel.protocols.mail.maildir import MailStore
    from postel.protocols.smtp.server import SmtpServer
    from postel.serving import ServerThread

    store = MailStore(tmp_path, domains=("postel.test",), users={"postel": "pw"})
    thread = ServerThread(SmtpServer(store, faults=frozenset({"wrong_multiline_continuation"})), "smtp").start()
    try:
        with SmtpClient(thread.server.address, timeout=2) as client:
            with pytest.raises(RemoteProtocolError) as info:
                client.ehlo("client.postel.test")
                client.unsolicited(0.5)
    finally:
        thread.stop()
    assert info.value.requirement == "rfc5321/4.2/1"
