"""The strict POP3 client against a scripted fake server on loopback: results, refusals with their IDs, no hangs."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.pop3.client import Pop3Client, Pop3Error
from postel.protocols.pop3.events import Command, Response
from postel.protocols.pop3.requirements import REQ
from postel.protocols.pop3.state import AUTHORIZATION, TRANSACTION, UPDATE
from postel.wire import Transcript, WireClosed, WireTimeout
from tests.test_catalogs import CATALOG

GREETING = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"


class FakeServer:
    """Accepts one connection and plays a script: ``(expected client octets, reply octets)`` steps.

    The greeting is the first reply (expected ``b""``).  It reads until it has
    as many octets as expected (so pipelined commands arrive as one step), keeps
    what it read in ``received``, and after the script either closes or (with
    ``linger``) waits for the client to close.
    """

    def __init__(self, script: list[tuple[bytes, bytes]], *, linger: bool = False) -> None:
        self.script = script
        self.linger = linger
        self.received = b""
        self.mismatch: str | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(5)
        self.address = self._listener.getsockname()[:2]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except OSError:
            return
        with sock:
            sock.settimeout(5)
            try:
                for expected, reply in self.script:
                    got = b""
                    while len(got) < len(expected):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    self.received += got
                    if got != expected:
                        self.mismatch = f"expected {expected!r}, got {got!r}"
                        return
                    if reply:
                        sock.sendall(reply)
                if self.linger:
                    while chunk := sock.recv(65536):
                        self.received += chunk
            except OSError:
                pass

    def close(self) -> None:
        self._listener.close()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def fake():
    servers: list[FakeServer] = []

    def make(script, **kwargs) -> FakeServer:
        server = FakeServer(script, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def cites(error: Exception, key: str) -> None:
    assert error.requirement == REQ[key], f"{error} cites {error.requirement}, not {REQ[key]}"
    assert error.requirement in CATALOG


def test_a_whole_session(fake):
    server = fake([
        (b"", GREETING),
        (b"CAPA\r\n", b"+OK Capability list follows\r\nTOP\r\nUSER\r\nuidl\r\nIMPLEMENTATION fake 1\r\n.\r\n"),
        (b"USER postel\r\n", b"+OK\r\n"),
        (b"PASS sec ret\r\n", b"+OK maildrop has 2 messages (320 octets)\r\n"),
        (b"STAT\r\n", b"+OK 2 320\r\n"),
        (b"LIST\r\n", b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"),
        (b"LIST 2\r\n", b"+OK 2 200\r\n"),
        (b"UIDL\r\n", b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"),
        (b"UIDL 1\r\n", b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"),
        (b"RETR 1\r\n", b"+OK 120 octets\r\nSubject: dots\r\n\r\n..leading dot\r\n..\r\nend\r\n.\r\n"),
        (b"TOP 1 0\r\n", b"+OK\r\nSubject: dots\r\n\r\n.\r\n"),
        (b"DELE 1\r\n", b"+OK message 1 deleted\r\n"),
        (b"NOOP\r\n", b"+OK\r\n"),
        (b"RSET\r\n", b"+OK maildrop has 2 messages\r\n"),
        (b"QUIT\r\n", b"+OK dewey POP3 server signing off\r\n"),
    ])
    transcript = Transcript(label="session")
    with Pop3Client(server.address, timeout=5, transcript=transcript) as client:
        assert client.greeting == Response(True, b"POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
        assert client.capa() == {"TOP": [], "USER": [], "UIDL": [], "IMPLEMENTATION": ["fake", "1"]}
        client.login("postel", "sec ret")
        assert client.state is TRANSACTION
        assert client.stat() == (2, 320)
        assert client.list() == {1: 120, 2: 200}
        assert client.list_one(2) == (2, 200)
        assert client.uidl() == {1: b"whqtswO00WBw418f9t5JxYwZ", 2: b"QhdPYR:00WBw1Ph7x7"}
        assert client.uidl_one(1) == (1, b"whqtswO00WBw418f9t5JxYwZ")
        assert client.retr(1) == b"Subject: dots\r\n\r\n.leading dot\r\n.\r\nend\r\n"
        assert client.top(1, 0) == b"Subject: dots\r\n\r\n"
        assert client.dele(1).text == b"message 1 deleted"
        client.noop()
        client.rset()
        assert client.quit().ok
        assert client.state is UPDATE
    assert server.mismatch is None
    # Every octet is in the transcript, the password is not.
    assert transcript.received().startswith(GREETING) and transcript.received().endswith(b"signing off\r\n")
    assert b"USER postel\r\nPASS ***\r\nSTAT\r\n" in transcript.sent()
    assert b"sec ret" not in transcript.sent()


def test_apop_sends_the_digest_of_the_greeting_timestamp(fake):
    """The example of RFC 1939 7: timestamp, secret "tanstaaf"."""
    server = fake([(b"", GREETING), (b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n", b"+OK mrose's maildrop has 2 messages\r\n")])
    with Pop3Client(server.address, timeout=5) as client:
        client.apop("mrose", "tanstaaf")
        assert client.state is TRANSACTION
    assert server.mismatch is None


def test_err_raises_pop3error_with_the_response_code(fake):
    server = fake([
        (b"", b"+OK ready\r\n"),
        (b"USER postel\r\n", b"+OK\r\n"),
        (b"PASS pw\r\n", b"-ERR [IN-USE] Do you have another POP session running?\r\n"),
        (b"CAPA\r\n", b"-ERR unknown command\r\n"),
        (b"RETR 1\r\n", b"-ERR not in this state\r\n"),
        (b"STAT\r\n", b"+OK 0 0\r\n"),
    ])
    with Pop3Client(server.address, timeout=5) as client:
        with pytest.raises(Pop3Error) as info:
            client.login("postel", "pw")
        assert info.value.response.has_code("IN-USE") and info.value.command == Command(b"PASS", (b"pw",))
        assert client.state is AUTHORIZATION
        assert client.capa() is None  # "the client will have to probe for capabilities as before"
        response, body = client.command(Command(b"RETR", (b"1",)))
        assert not response.ok and body is None  # no body after -ERR: the next line is the next answer
        assert client.stat() == (0, 0)


def test_negative_greeting_raises(fake):
    server = fake([(b"", b"-ERR [SYS/TEMP] too many connections\r\n")])
    with pytest.raises(Pop3Error) as info:
        Pop3Client(server.address, timeout=5)
    assert info.value.response.has_code("SYS")


def test_pipelined_commands_go_out_together_and_answers_match_in_order(fake):
    commands = b"STAT\r\nLIST\r\nRETR 1\r\nUIDL 1\r\n"
    server = fake([
        (b"", b"+OK ready\r\n"),
        (commands, b"+OK 1 5\r\n+OK\r\n1 5\r\n.\r\n+OK\r\nabc\r\n.\r\n+OK 1 u1\r\n"),
    ])
    with Pop3Client(server.address, timeout=5) as client:
        results = client.pipeline([Command(b"STAT"), Command(b"LIST"), Command(b"RETR", (b"1",)), Command(b"UIDL", (b"1",))])
    assert server.mismatch is None and server.received == commands
    assert results == [
        (Response(True, b"1 5"), None),
        (Response(True), b"1 5\r\n"),
        (Response(True), b"abc\r\n"),
        (Response(True, b"1 u1"), None),
    ]


@pytest.mark.parametrize(
    ("reply", "key"),
    [
        (b"-ERRno such message\r\n", "single_line_grammar"),
        (b"+ok 1 5\r\n", "status_upper_case"),
        (b"+OK 1  5\r\n", "stat_format"),
        (b"+OK\n", "response_crlf"),
        (b"+OK " + b"x" * 600 + b"\r\n", "first_line_length"),
    ],
)
def test_malformed_answers_raise_with_their_requirement(fake, reply, key):
    server = fake([(b"", b"+OK ready\r\n"), (b"STAT\r\n", reply)], linger=True)
    with Pop3Client(server.address, timeout=5) as client, pytest.raises(RemoteProtocolError) as info:
        client.stat()
    cites(info.value, key)


@pytest.mark.parametrize(
    ("call", "reply", "key"),
    [
        ("retr", b"+OK\r\n.unstuffed\r\n.\r\n", "byte_stuffing"),
        ("retr", b"+OK\r\nbare LF\n.\r\n", "multiline_crlf"),
        ("uidl", b"+OK\r\n1 has space\r\n.\r\n", "unique_id_nothing_follows"),
        ("list", b"+OK\r\n1 twelve\r\n.\r\n", "scan_listing_format"),
        ("capa", b"+OK\r\nX.Y\r\n.\r\n", "capa_grammar"),
    ],
)
def test_malformed_bodies_raise_with_their_requirement(fake, call, reply, key):
    command = {"retr": b"RETR 1\r\n", "uidl": b"UIDL\r\n", "list": b"LIST\r\n", "capa": b"CAPA\r\n"}[call]
    server = fake([(b"", b"+OK ready\r\n"), (command, reply)], linger=True)
    with Pop3Client(server.address, timeout=5) as client, pytest.raises(RemoteProtocolError) as info:
        getattr(client, call)(*([1] if call == "retr" else []))
    cites(info.value, key)


def test_unterminated_multiline_then_close_is_an_error(fake):
    server = fake([(b"", b"+OK ready\r\n"), (b"RETR 1\r\n", b"+OK\r\nline one\r\nline two\r\n")])
    with Pop3Client(server.address, timeout=5) as client, pytest.raises(RemoteProtocolError) as info:
        client.retr(1)
    cites(info.value, "multiline_terminator")


def test_unterminated_multiline_and_silence_times_out_not_hangs(fake):
    server = fake([(b"", b"+OK ready\r\n"), (b"RETR 1\r\n", b"+OK\r\nline one\r\n")], linger=True)
    started = time.monotonic()
    with Pop3Client(server.address, timeout=0.5) as client, pytest.raises(WireTimeout):
        client.retr(1)
    assert time.monotonic() - started < 3


def test_close_before_the_answer_is_wire_closed(fake):
    server = fake([(b"", b"+OK ready\r\n"), (b"NOOP\r\n", b"")])
    with Pop3Client(server.address, timeout=5) as client:
        with pytest.raises(WireClosed):
            client.noop()
        assert client.closed_by_server


def test_send_raw_counts_each_line_as_one_answer(fake):
    raw = b"STAT  extra\r\nLIST\r\n"
    server = fake([(b"", b"+OK ready\r\n"), (raw, b"-ERR bad syntax\r\n+OK\r\n1 5\r\n.\r\n")])
    with Pop3Client(server.address, timeout=5) as client:
        client.send_raw(raw)
        assert client.read_response() == Response(False, b"bad syntax")
        assert client.read_response() == Response(True)
        assert client.read_body() == b"1 5\r\n"
    assert server.mismatch is None


def test_apop_without_a_timestamp_is_refused_locally(fake):
    server = fake([(b"", b"+OK ready\r\n")], linger=True)
    with Pop3Client(server.address, timeout=5) as client, pytest.raises(Exception, match="timestamp"):
        client.apop("postel", "secret")


# ------------------------------------------------------------------ against the reference server


@pytest.fixture
def reference(tmp_path):
    """A reference POP3 server (optionally with faults) over a fresh maildrop holding two messages."""
    from postel.protocols.mail.maildir import MailStore
    from postel.protocols.pop3.server import Pop3Server
    from postel.serving import ServerThread

    threads = []

    def start(faults=frozenset()):
        store = MailStore(tmp_path / f"mail{len(threads)}", users={"postel": "secret"})
        box = store.mailbox("postel")
        box.deliver(b"Subject: one\r\n\r\n.starts with a dot\r\n.\r\n..\r\nend\r\n")
        box.deliver(b"Subject: two\r\n\r\nsecond\r\n")
        thread = ServerThread(Pop3Server(store, faults=frozenset(faults), login_delay=0.05), "pop3").start()
        threads.append(thread)
        return thread.server

    yield start
    for thread in threads:
        thread.stop()
        thread.check()


def test_reference_server_session(reference):
    server = reference()
    with Pop3Client(server.address, timeout=5) as client:
        capa = client.capa()
        assert {"TOP", "UIDL", "USER", "PIPELINING", "RESP-CODES"} <= set(capa)
        client.apop("postel", "secret")
        count, octets = client.stat()
        listing = client.list()
        assert count == 2 and octets == sum(listing.values())
        assert client.retr(1) == b"Subject: one\r\n\r\n.starts with a dot\r\n.\r\n..\r\nend\r\n"
        assert len(client.retr(1)) == listing[1]
        uids = client.uidl()
        assert sorted(uids) == [1, 2] and len(set(uids.values())) == 2
        client.dele(1)
        assert client.stat() == (1, listing[2])
        results = client.pipeline([Command(b"RSET"), Command(b"STAT"), Command(b"TOP", (b"2", b"0"))])
        assert [r.ok for r, _ in results] == [True, True, True] and results[2][1] == b"Subject: two\r\n\r\n"
        client.quit()
    with Pop3Client(server.address, timeout=5) as client:
        with pytest.raises(Pop3Error) as info:
            client.login("postel", "wrong")
        assert info.value.response.has_code("AUTH")
        client.login("postel", "secret")
        assert client.stat()[0] == 2  # RSET unmarked message 1 before QUIT
        client.quit()


@pytest.mark.parametrize(
    ("fault", "key"),
    [
        ("no_dot_stuffing", "byte_stuffing"),
        ("wrong_multiline_termination", "multiline_crlf"),
        ("err_without_space", "single_line_grammar"),
    ],
)
def test_the_client_catches_seeded_faults(reference, fault, key):
    server = reference({fault})
    with Pop3Client(server.address, timeout=5) as client, pytest.raises(RemoteProtocolError) as info:
        client.login("postel", "secret")
        client.command(Command(b"RETR", (b"9",)))  # -ERR no such message
        client.retr(1)
    cites(info.value, key)


def test_the_client_does_not_hang_on_an_unterminated_multiline(reference):
    server = reference({"unterminated_multiline"})
    with Pop3Client(server.address, timeout=0.5) as client:
        client.login("postel", "secret")
        with pytest.raises(WireTimeout):
            client.retr(2)
