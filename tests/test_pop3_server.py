"""The reference POP3 server, over real loopback sockets, and its session logic without them.

Why raw sockets first: the suites judge the server with postel's own codec,
and a codec and a server written together can share a misreading.  The
socket tests here read the server's octets with a few lines of their own
(``Raw``), so what they check is the wire, not the codec's opinion of it;
the tests at the end go through the reference client as a user would.

The session tests (``Pop3Session``) walk the rules of RFC 1939 4 to 7 one
command at a time, with no socket and no clock.  The fault tests prove that
each switch in ``FAULTS`` changes exactly what its name says, so a suite
check that "catches" a fault is not catching some other breakage.

RETR and TOP are read from the file in chunks (``maildrop.CHUNK_SIZE``); the
chunk tests shrink it to a few octets so that every kind of cut -- after a
CRLF before a "." line, inside a long line, at the header's blank line --
is crossed, sans-I/O and over a socket.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.mail.maildir import MailStore, MaildropLocked
from postel.protocols.mail.samples import SAMPLE_MESSAGES, seed
from postel.protocols.pop3 import maildrop
from postel.protocols.pop3.client import Pop3Client, Pop3Error
from postel.protocols.pop3.codec import NEED_DATA, SERVER, Connection
from postel.protocols.pop3.events import Command, Data, EndOfMultiline, Response, apop_digest
from postel.protocols.pop3.maildrop import CAPABILITIES, CHUNK_SIZE, MessageReader, Pop3Session, top_of_message
from postel.protocols.pop3.server import FAULTS, Pop3Server
from postel.protocols.pop3.state import AUTHORIZATION, CLOSED, TRANSACTION
from postel.serving import ServerThread

USER, PASSWORD = "postel", "correct horse"  # a space: PASS keeps it (RFC 1939 7)
OTHER, OTHER_PASSWORD = "other", "s3cret"
LOGIN_DELAY = 0.4  # small, so the failed-login tests stay quick; measured loosely (>= half)
TIMEOUT = 10.0  # every socket read; nothing here should take more than milliseconds but the delays
GREETING = re.compile(rb"\+OK POP3 postel ready (<[0-9]+\.[0-9]+\.[0-9]+@postel\.test>)")

# What the contract fixes: the suites helper names these switches.
CONTRACT_FAULTS = {
    "no_dot_stuffing", "unterminated_multiline", "wrong_multiline_termination", "dele_without_quit",
    "uidl_changes", "err_without_space", "stat_list_mismatch", "deleted_still_listed", "no_login_delay",
}


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    store = MailStore(tmp_path / "mail", users={USER: PASSWORD, OTHER: OTHER_PASSWORD})
    seed(store.mailbox(USER))
    return store


@pytest.fixture
def serve(store: MailStore) -> Iterator[Callable[..., ServerThread]]:
    """Start a Pop3Server on ``store`` (keyword arguments as Pop3Server's); all are stopped at the end."""
    threads: list[ServerThread] = []

    def start(**kwargs) -> ServerThread:
        kwargs.setdefault("login_delay", LOGIN_DELAY)
        thread = ServerThread(Pop3Server(store, **kwargs), "pop3").start()
        threads.append(thread)
        return thread

    yield start
    for thread in threads:
        thread.stop()
        thread.check()  # an exception inside the server fails the test that met it


@pytest.fixture
def server(serve) -> ServerThread:
    return serve()


class Raw:
    """A POP3 peer made of a socket and a readline: nothing of postel's codec."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self) -> bytes:
        """One line, which must end with CRLF; returned without it."""
        raw = self.file.readline(4096)
        assert raw.endswith(b"\r\n"), f"line not ended by CRLF: {raw!r}"
        return raw[:-2]

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: bytes) -> bytes:
        self.send(line + b"\r\n")
        return self.line()

    def body(self) -> list[bytes]:
        """The lines of a multi-line body as sent (still byte-stuffed), up to the "." line."""
        lines = []
        while (line := self.line()) != b".":
            lines.append(line)
        return lines

    def multi(self, line: bytes) -> tuple[bytes, list[bytes]]:
        status = self.cmd(line)
        assert status.startswith(b"+OK"), status
        return status, self.body()

    def login(self, user: str = USER, password: str = PASSWORD) -> bytes:
        assert self.cmd(b"USER " + user.encode()).startswith(b"+OK")
        return self.cmd(b"PASS " + password.encode())

    def closed(self) -> bool:
        """Whether the server closed (EOF) without sending anything more."""
        try:
            return self.file.read(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "Raw":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unstuff(lines: list[bytes]) -> bytes:
    """RFC 1939 3, the client's rule: strip the first "." of a line that starts with one."""
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


def stored(store: MailStore, n: int) -> bytes:
    box = store.mailbox(USER)
    return box.read(box.keys()[n - 1])


# ---------------------------------------------------------------- greeting, login


def test_greeting_is_positive_with_a_fresh_apop_timestamp_each_time(server):
    with Raw(server.server.address) as a, Raw(server.server.address) as b:
        first, second = GREETING.fullmatch(a.greeting), GREETING.fullmatch(b.greeting)
        assert first and second, (a.greeting, b.greeting)
        assert first[1] != second[1]  # "MUST be different each time the POP3 server issues a banner greeting"


def test_user_pass_logs_in_and_a_password_with_spaces_is_one_argument(server):
    with Raw(server.server.address) as raw:
        assert raw.login() == b"+OK maildrop has %d messages (%d octets)" % (
            len(SAMPLE_MESSAGES), sum(map(len, SAMPLE_MESSAGES)))


def test_a_wrong_password_gets_auth_code_after_the_delay_and_a_retry_works(server):
    with Raw(server.server.address) as raw:
        assert raw.cmd(b"USER " + USER.encode()).startswith(b"+OK")
        started = time.monotonic()
        assert raw.cmd(b"PASS wrong") == b"-ERR [AUTH] invalid user name or password"
        assert time.monotonic() - started >= 0.5 * LOGIN_DELAY
        assert raw.cmd(b"STAT").startswith(b"-ERR")  # still AUTHORIZATION (rfc1939/7/26)
        assert raw.login().startswith(b"+OK maildrop has")


def test_an_unknown_user_gets_ok_to_user_and_the_same_error_as_a_wrong_password(server):
    with Raw(server.server.address) as raw:
        assert raw.cmd(b"USER nobody").startswith(b"+OK")  # no clue which names exist (RFC 1939 13)
        assert raw.cmd(b"PASS " + PASSWORD.encode()) == b"-ERR [AUTH] invalid user name or password"


def test_commands_pipelined_behind_a_failed_login_wait_and_keep_their_order(server):
    with Raw(server.server.address) as raw:
        started = time.monotonic()
        raw.send(b"USER postel\r\nPASS nope\r\nNOOP\r\nUSER postel\r\nPASS " + PASSWORD.encode() + b"\r\nNOOP\r\n")
        answers = [raw.line() for _ in range(6)]
        assert time.monotonic() - started >= 0.5 * LOGIN_DELAY
        assert [a.split(b" ")[0] for a in answers] == [b"+OK", b"-ERR", b"-ERR", b"+OK", b"+OK", b"+OK"]
        assert answers[1].startswith(b"-ERR [AUTH]") and answers[4].startswith(b"+OK maildrop has")


def test_apop_with_the_greeting_timestamp_logs_in_and_a_wrong_digest_does_not(server):
    with Raw(server.server.address) as raw:
        stamp = GREETING.fullmatch(raw.greeting)[1]
        wrong = hashlib.md5(stamp + b"guess").hexdigest().encode()
        assert raw.cmd(b"APOP postel " + wrong).startswith(b"-ERR [AUTH]")
        right = hashlib.md5(stamp + PASSWORD.encode()).hexdigest().encode()
        assert raw.cmd(b"APOP postel " + right.upper()).startswith(b"-ERR")  # "lower-case ASCII characters"
        assert raw.cmd(b"APOP postel " + right).startswith(b"+OK maildrop has")


def test_a_second_session_gets_in_use_and_gets_in_once_the_first_quits(server):
    with Raw(server.server.address) as first, Raw(server.server.address) as second:
        assert first.login().startswith(b"+OK")
        assert second.login() == b"-ERR [IN-USE] maildrop already in use by another session"
        # [IN-USE] says the credentials were right: a wrong password still gets [AUTH].
        assert second.login(password="wrong").startswith(b"-ERR [AUTH]")
        assert second.login(OTHER, OTHER_PASSWORD).startswith(b"+OK")  # another maildrop is free
        assert first.cmd(b"QUIT").startswith(b"+OK")
    with Raw(server.server.address) as third:
        assert third.login().startswith(b"+OK")


def test_a_dropped_session_releases_the_lock(server, store):
    with Raw(server.server.address) as raw:
        assert raw.login().startswith(b"+OK")
    _wait_for_unlock(store)
    with Raw(server.server.address) as raw:
        assert raw.login().startswith(b"+OK")


def _wait_for_unlock(store: MailStore, user: str = USER) -> None:
    """The server releases the lock when it sees the connection go, a moment after the client closed."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            store.mailbox(user).lock().release()
            return
        except MaildropLocked:
            assert time.monotonic() < deadline, "the maildrop lock was never released"
            time.sleep(0.02)


def test_commands_in_the_wrong_state_and_unknown_ones_get_err_and_the_session_goes_on(server):
    with Raw(server.server.address) as raw:
        for line in (b"STAT", b"LIST", b"RETR 1", b"DELE 1", b"NOOP", b"RSET", b"TOP 1 0", b"UIDL", b"PASS x"):
            assert raw.cmd(line).startswith(b"-ERR "), line
        assert raw.cmd(b"XYZ") == b"-ERR unknown command"
        assert raw.cmd(b"XYZZY").startswith(b"-ERR syntax error")  # a keyword is 3 or 4 characters
        assert raw.cmd(b"stat") == b"-ERR STAT is not valid in the AUTHORIZATION state"  # keywords case-insensitive
        assert raw.login().startswith(b"+OK")
        for line in (b"USER postel", b"PASS x", b"APOP postel 0123"):
            assert raw.cmd(line).startswith(b"-ERR "), line
        assert raw.cmd(b"noop") == b"+OK"


def test_an_over_long_command_gets_err_and_the_next_command_is_read(server):
    with Raw(server.server.address) as raw:
        assert raw.cmd(b"NOOP " + b"x" * 300) == b"-ERR command line too long (255 octets at most, RFC 2449 4)"
        assert raw.cmd(b"USER " + b"n" * 248) == b"+OK send PASS"  # 255 octets with CRLF: still a command
        assert raw.cmd(b"CAPA").startswith(b"+OK")


def test_capa_lists_the_same_capabilities_before_and_after_login(server):
    with Raw(server.server.address) as raw:
        before = raw.multi(b"CAPA")[1]
        raw.login()
        after = raw.multi(b"CAPA")[1]
    assert before == after == [c for c in CAPABILITIES]
    assert {line.split(b" ")[0] for line in before} == {
        b"TOP", b"USER", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING", b"EXPIRE", b"IMPLEMENTATION"}


def test_quit_before_login_says_goodbye_and_closes(server):
    with Raw(server.server.address) as raw:
        assert raw.cmd(b"QUIT") == b"+OK postel POP3 server signing off"
        assert raw.closed()


# ---------------------------------------------------------------- TRANSACTION


def test_stat_list_and_uidl_agree_with_each_other_and_the_store(server, store):
    with Raw(server.server.address) as raw:
        raw.login()
        stat = raw.cmd(b"STAT")
        scan = raw.multi(b"LIST")[1]
        uids = raw.multi(b"UIDL")[1]
        box = store.mailbox(USER)
        sizes = [box.size(key) for key in box.keys()]
        assert stat == b"+OK %d %d" % (len(sizes), sum(sizes))
        assert scan == [b"%d %d" % (n, size) for n, size in enumerate(sizes, 1)]
        assert uids == [b"%d %s" % (n, key.encode()) for n, key in enumerate(box.keys(), 1)]
        assert raw.cmd(b"LIST 2") == b"+OK 2 %d" % sizes[1]
        assert raw.cmd(b"UIDL 2") == b"+OK 2 " + box.keys()[1].encode()
        for bad in (b"0", b"6", b"x", b"-1", b"+1"):
            assert raw.cmd(b"LIST " + bad) == b"-ERR no such message", bad


def test_retr_sends_the_stored_octets_byte_stuffed(server, store):
    with Raw(server.server.address) as raw:
        raw.login()
        status, lines = raw.multi(b"RETR 2")  # "dot lines": lines that start with "."
    message = stored(store, 2)
    assert status == b"+OK %d octets" % len(message)
    assert b"..starts with a dot" in lines and b"...starts with two dots" in lines and b".." in lines
    assert unstuff(lines) == message


def test_retr_of_each_sample_gives_exactly_its_listed_size(server, store):
    with Raw(server.server.address) as raw:
        raw.login()
        scan = dict(line.split(b" ") for line in raw.multi(b"LIST")[1])
        for n in range(1, len(SAMPLE_MESSAGES) + 1):
            body = unstuff(raw.multi(b"RETR %d" % n)[1])
            assert body == stored(store, n) and len(body) == int(scan[b"%d" % n])


def test_top_sends_the_header_the_blank_line_and_n_body_lines(server, store):
    with Raw(server.server.address) as raw:
        raw.login()
        message = stored(store, 2)
        head, body = message.split(b"\r\n\r\n", 1)
        assert unstuff(raw.multi(b"TOP 2 0")[1]) == head + b"\r\n\r\n"
        assert unstuff(raw.multi(b"TOP 2 2")[1]) == head + b"\r\n\r\n" + b"".join(body.splitlines(keepends=True)[:2])
        assert unstuff(raw.multi(b"TOP 2 999")[1]) == message
        assert raw.cmd(b"TOP 9 0") == b"-ERR no such message"
        assert raw.cmd(b"TOP 2").startswith(b"-ERR")
        assert raw.cmd(b"TOP 2 -1").startswith(b"-ERR")


def test_dele_marks_and_rset_unmarks(server):
    with Raw(server.server.address) as raw:
        raw.login()
        before = raw.cmd(b"STAT")
        assert raw.cmd(b"DELE 1") == b"+OK message 1 deleted"
        for line in (b"DELE 1", b"RETR 1", b"LIST 1", b"TOP 1 0", b"UIDL 1"):
            assert raw.cmd(line) == b"-ERR message 1 already deleted", line
        assert raw.multi(b"LIST")[1][0].startswith(b"2 ")  # message 1 not listed, 2 keeps its number
        assert raw.multi(b"UIDL")[1][0].startswith(b"2 ")
        assert raw.cmd(b"STAT") != before
        assert raw.cmd(b"RSET").startswith(b"+OK maildrop has")
        assert raw.cmd(b"STAT") == before


def test_dele_then_quit_removes_exactly_the_marked_messages(server, store):
    box = store.mailbox(USER)
    keys = box.keys()
    with Raw(server.server.address) as raw:
        raw.login()
        assert raw.cmd(b"DELE 1").startswith(b"+OK") and raw.cmd(b"DELE 3").startswith(b"+OK")
        assert box.keys() == keys  # nothing removed before UPDATE (rfc1939/5/29)
        assert raw.cmd(b"QUIT") == b"+OK postel POP3 server signing off (%d messages left)" % (len(keys) - 2)
        assert raw.closed()
    assert box.keys() == [keys[1], *keys[3:]]
    with Raw(server.server.address) as raw:
        raw.login()
        assert raw.cmd(b"STAT").startswith(b"+OK %d " % (len(keys) - 2))


def test_dele_then_a_dropped_connection_removes_nothing(server, store):
    box = store.mailbox(USER)
    keys = box.keys()
    with Raw(server.server.address) as raw:
        raw.login()
        assert raw.cmd(b"DELE 1").startswith(b"+OK")
    _wait_for_unlock(store)
    assert box.keys() == keys


def test_uidl_is_the_same_in_the_next_session_even_without_quit(server):
    with Raw(server.server.address) as raw:
        raw.login()
        first = raw.multi(b"UIDL")[1]
    with Raw(server.server.address) as raw:
        for _ in range(50):  # the lock goes a moment after the drop
            if raw.login().startswith(b"+OK"):
                break
            time.sleep(0.02)
        assert raw.multi(b"UIDL")[1] == first
        raw.cmd(b"QUIT")
    with Raw(server.server.address) as raw:
        raw.login()
        assert raw.multi(b"UIDL")[1] == first


def test_an_empty_maildrop_lists_nothing(serve, store):
    server = serve()
    with Raw(server.server.address) as raw:
        assert raw.login(OTHER, OTHER_PASSWORD) == b"+OK maildrop has 0 messages (0 octets)"
        assert raw.cmd(b"STAT") == b"+OK 0 0"
        assert raw.multi(b"LIST") == (b"+OK 0 messages (0 octets)", [])
        assert raw.multi(b"UIDL")[1] == []
        assert raw.cmd(b"RETR 1") == b"-ERR no such message"


def test_pipelined_commands_are_answered_in_order(server):
    with Raw(server.server.address) as raw:
        raw.login()
        raw.send(b"STAT\r\nLIST 1\r\nRETR 1\r\nNOOP\r\nUIDL 1\r\nBOGUS\r\n")
        assert raw.line().startswith(b"+OK 5 ")
        assert raw.line().startswith(b"+OK 1 ")
        assert raw.line().startswith(b"+OK ") and raw.body()
        assert raw.line() == b"+OK"
        assert raw.line().startswith(b"+OK 1 ")
        assert raw.line().startswith(b"-ERR")


def test_a_message_stored_with_lf_line_ends_is_sent_with_crlf(serve, store):
    store.mailbox(OTHER).deliver(b"Subject: lf\n\n.dot\nbody\n")
    server = serve()
    with Raw(server.server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        assert raw.multi(b"RETR 1")[1] == [b"Subject: lf", b"", b"..dot", b"body"]


# ---------------------------------------------------------------- RETR and TOP in chunks

# Every way a chunk can end: a "." line after a CRLF, a long line cut inside (a "." there is no line start),
# CR and LF side by side, an empty body line, a last line without CRLF.
AWKWARD = (
    b"Subject: chunks\r\nX-Long: " + b"h" * 40 + b"\r\n\r\n"
    b".first body line\r\n" + b"a" * 30 + b".not a line start" + b"b" * 30 + b"\r\n"
    b"\r\n..\r\n.\r\nplain\r\n" + b"c" * 50 + b"\r\n.last line, no CRLF"
)


def lf_lines(content: bytes) -> list[bytes]:
    return re.findall(rb"[^\n]*\n|[^\n]+$", content)


def top_by_hand(content: bytes, k: int) -> bytes:
    """RFC 1939 7 TOP, the slow obvious way: the lines up to the first empty one, then k more."""
    lines = lf_lines(content)
    blank = next((i for i, line in enumerate(lines) if line in (b"\n", b"\r\n")), None)
    return content if blank is None else b"".join(lines[: blank + 1 + k])


def chunks(content: bytes, lines: int | None = None) -> list[bytes]:
    reader = MessageReader(io.BytesIO(content), size=len(content), lines=lines)
    return list(iter(reader.read, b""))


def stuffed_by_the_codec(pieces: list[bytes]) -> bytes:
    server = Connection(SERVER)
    server.send(Response(True))
    server.receive_data(b"RETR 1\r\n")
    assert server.next_event() is not NEED_DATA
    server.send(Response(True))
    return b"".join(server.send(Data(piece)) for piece in pieces) + server.send(EndOfMultiline())


@pytest.mark.parametrize("size", [*range(1, 24), 60, 100, len(AWKWARD) - 1, len(AWKWARD), CHUNK_SIZE])
def test_the_reader_cuts_at_line_ends_and_stuffing_survives_every_cut(monkeypatch, size):
    monkeypatch.setattr(maildrop, "CHUNK_SIZE", size)
    pieces = chunks(AWKWARD)
    assert b"".join(pieces) == AWKWARD and all(pieces)
    for piece, following in zip(pieces, pieces[1:]):
        # A cut falls after a LF, or inside a line longer than a chunk, never between CR and LF.
        assert piece.endswith(b"\n") or (b"\n" not in piece and not piece.endswith(b"\r")), (piece, following)
        assert len(piece) <= 2 * size
    # The codec stuffs the chunks as it stuffs the whole: "." lines get their extra ".", the "." inside
    # the long line (whatever cut falls before it) does not.
    assert stuffed_by_the_codec(pieces) == stuffed_by_the_codec([AWKWARD])
    assert b"\r\n...\r\n" in stuffed_by_the_codec(pieces) and b"a.not" in stuffed_by_the_codec(pieces)


def test_the_reader_starts_with_a_small_chunk_and_grows_to_chunk_size(monkeypatch):
    monkeypatch.setattr(maildrop, "FIRST_CHUNK_SIZE", 4)
    monkeypatch.setattr(maildrop, "CHUNK_SIZE", 64)
    content = b"".join(b".%04d\r\n" % i for i in range(200))
    pieces = chunks(content)
    assert b"".join(pieces) == content
    # 4 octets first (inside a line), then 8, 16, 32, 64 each time: 1400 octets in 25 chunks, not 350.
    assert len(pieces[0]) == 4 and max(map(len, pieces)) <= 2 * 64 and len(pieces) < 30
    assert stuffed_by_the_codec(pieces) == stuffed_by_the_codec([content])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 40, CHUNK_SIZE])
@pytest.mark.parametrize("content", [
    AWKWARD,
    AWKWARD.replace(b"\r\n", b"\n"),  # stored by another program with LF line ends
    b"\r\nno header at all\r\nsecond\r\n",
    b"A: 1\r\nB: 2\r\n",  # no blank line: all header
    b"",
], ids=["crlf", "lf", "no-header", "no-body", "empty"])
def test_top_in_chunks_is_the_header_the_blank_line_and_k_lines(monkeypatch, size, content):
    monkeypatch.setattr(maildrop, "CHUNK_SIZE", size)
    for k in range(len(lf_lines(content)) + 2):
        assert b"".join(chunks(content, k)) == top_by_hand(content, k), k


def test_retr_and_top_stream_in_small_chunks_and_stay_in_order(serve, store, monkeypatch):
    monkeypatch.setattr(maildrop, "CHUNK_SIZE", 7)  # every answer in many writes
    store.mailbox(OTHER).deliver(AWKWARD)
    store.mailbox(OTHER).deliver(AWKWARD.replace(b"\r\n", b"\n"))
    server = serve()
    with Raw(server.server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        raw.send(b"RETR 1\r\nNOOP\r\nTOP 1 2\r\nRETR 2\r\nTOP 2 1\r\nLIST\r\nNOOP\r\n")
        assert raw.line() == b"+OK %d octets" % len(AWKWARD)
        assert unstuff(raw.body()) == AWKWARD + b"\r\n"  # the codec ends the last line before "."
        assert raw.line() == b"+OK"
        assert raw.line().startswith(b"+OK") and unstuff(raw.body()) == top_by_hand(AWKWARD, 2)
        assert raw.line().startswith(b"+OK") and unstuff(raw.body()) == AWKWARD + b"\r\n"  # LF file: CRLF lines
        assert raw.line().startswith(b"+OK") and unstuff(raw.body()) == top_by_hand(AWKWARD, 1)
        assert raw.line().startswith(b"+OK 2 messages") and len(raw.body()) == 2
        assert raw.line() == b"+OK"


def test_a_message_removed_by_another_program_gets_err_not_a_cut_answer(server, store):
    box = store.mailbox(USER)
    with Raw(server.server.address) as raw:
        raw.login()
        key = box.keys()[1]
        for path in (box.path / "new").iterdir():
            if path.name.startswith(key):
                path.unlink()  # behind the lock's back
        assert raw.cmd(b"RETR 2") == b"-ERR [SYS/TEMP] message cannot be read"
        assert raw.cmd(b"TOP 2 0") == b"-ERR [SYS/TEMP] message cannot be read"
        assert raw.cmd(b"NOOP") == b"+OK"  # the session goes on
        assert unstuff(raw.multi(b"RETR 3")[1]) == SAMPLE_MESSAGES[2]


def test_a_read_error_after_the_ok_cuts_the_connection_instead_of_ending_the_answer(serve, store, monkeypatch):
    monkeypatch.setattr(maildrop, "CHUNK_SIZE", 64)
    real = MessageReader.read
    calls = []

    def failing(self: MessageReader) -> bytes:
        calls.append(self)
        if len(calls) > 1:
            raise OSError(5, "Input/output error")
        return real(self)

    monkeypatch.setattr(MessageReader, "read", failing)
    keys = store.mailbox(USER).keys()
    with Raw(serve().server.address) as raw:
        raw.login()
        raw.cmd(b"DELE 1")
        raw.send(b"RETR 2\r\nNOOP\r\n")
        assert raw.line() == b"+OK %d octets" % len(SAMPLE_MESSAGES[1])
        rest = b""
        try:
            while data := raw.file.read1(65536):
                rest += data
        except ConnectionResetError:
            pass
    assert 0 < len(rest) < len(SAMPLE_MESSAGES[1]) and not rest.endswith(b"\r\n.\r\n") and b"+OK" not in rest
    assert calls[0].file.closed
    _wait_for_unlock(store)
    assert store.mailbox(USER).keys() == keys  # no UPDATE (rfc1939/6/3)


def test_a_client_that_leaves_in_the_middle_of_a_retr_closes_the_file(serve, store, monkeypatch):
    readers: list[MessageReader] = []
    real = MessageReader.__init__

    def recording(self: MessageReader, *args, **kwargs) -> None:
        real(self, *args, **kwargs)
        readers.append(self)

    monkeypatch.setattr(MessageReader, "__init__", recording)
    store.mailbox(OTHER).deliver(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 10_000)  # 10 MB
    with Raw(serve().server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        assert raw.cmd(b"RETR 1").startswith(b"+OK")  # then not another octet read
    deadline = time.monotonic() + TIMEOUT
    while not (readers and readers[0].file.closed):
        assert time.monotonic() < deadline, "the message file stayed open"
        time.sleep(0.02)
    _wait_for_unlock(store, OTHER)


def test_a_client_that_stops_reading_a_retr_is_logged_out(serve, store):
    store.mailbox(OTHER).deliver(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 20_000)  # 20 MB: more than the socket buffers
    server = serve(idle_timeout=0.3)
    with Raw(server.server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        raw.send(b"RETR 1\r\n")
        _wait_for_unlock(store, OTHER)  # the autologout: the session ends while the answer is unread
        received = b""
        try:
            while data := raw.file.read1(1 << 20):
                received += data
        except ConnectionResetError:
            pass
    assert not received.endswith(b"\r\n.\r\n")


# ---------------------------------------------------------------- timers, limits, shutdown


def test_the_idle_timer_closes_silently_and_removes_nothing(serve, store):
    server = serve(idle_timeout=0.3)
    keys = store.mailbox(USER).keys()
    with Raw(server.server.address) as raw:
        raw.login()
        raw.cmd(b"DELE 1")
        assert raw.closed()  # no -ERR, just the close (rfc1939/3/33)
    _wait_for_unlock(store)
    assert store.mailbox(USER).keys() == keys


def test_each_command_resets_the_idle_timer(serve):
    server = serve(idle_timeout=0.8)
    with Raw(server.server.address) as raw:
        raw.login()
        for _ in range(7):  # 1.4 s in all, well over the timeout
            time.sleep(0.2)
            assert raw.cmd(b"NOOP") == b"+OK"


@pytest.mark.parametrize("loop", ["default", "asyncio"])
def test_a_client_that_does_not_read_holds_back_its_pipelined_commands(serve, store, monkeypatch, loop):
    if loop == "asyncio":  # the default is uvloop where installed; their flow control differs
        _plain_asyncio(monkeypatch)
    big = b"Subject: big\r\n\r\n" + (b"." + b"y" * 998 + b"\r\n") * 1000  # 1 MB, every line stuffed
    store.mailbox(OTHER).deliver(big)
    server = serve()
    count = 40  # 40 MB of answers: far more than the socket buffers hold
    with Raw(server.server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        raw.send(b"RETR 1\r\n" * count)
        time.sleep(0.5)  # the server writes until the client's window and its own high-water mark are full

        async def buffered() -> list[int]:
            return [c.transport.get_write_buffer_size() for c in server.server._open]

        # One chunk and the high-water mark at most sit in the server's buffer, not the 1 MB answer (a RETR is
        # written as the client takes it), let alone 40 of them: the rest of the commands wait unread.
        assert max(server.call(buffered)) < 2 * CHUNK_SIZE + 256 * 1024 < len(big)
        for _ in range(count):
            status, lines = raw.line(), raw.body()
            assert status == b"+OK %d octets" % len(big) and unstuff(lines) == big


def test_one_connection_over_the_limit_is_told_and_closed(serve):
    server = serve(max_connections=1)
    with Raw(server.server.address) as first:
        with Raw(server.server.address) as second:
            assert second.greeting == b"-ERR [SYS/TEMP] too many sessions, try later"
            assert second.closed()
        assert first.cmd(b"NOOP").startswith(b"-ERR")  # the first still works


def test_closing_the_server_ends_sessions_without_update_and_frees_the_lock(serve, store):
    server = serve()
    keys = store.mailbox(USER).keys()
    raw = Raw(server.server.address)
    raw.login()
    raw.cmd(b"DELE 1")
    server.call(server.server.close)  # what ServerThread.stop does first; the fixture stops the thread
    assert raw.closed()
    raw.close()
    store.mailbox(USER).lock().release()  # raises MaildropLocked if close() kept it
    assert store.mailbox(USER).keys() == keys


def test_closing_the_server_while_a_failed_login_waits(serve):
    server = serve(login_delay=30.0)
    with Raw(server.server.address) as raw:
        raw.send(b"USER postel\r\nPASS wrong\r\n")
        assert raw.line().startswith(b"+OK")
        server.call(server.server.close)
        assert raw.closed()  # at once, not after the delay; the fixture's check() sees no error in the loop


def test_the_server_runs_on_plain_asyncio_too(serve, store, monkeypatch):
    """ServerThread picks uvloop where installed; the EOF paths differ between the two loops."""
    _plain_asyncio(monkeypatch)
    server = serve()
    keys = store.mailbox(USER).keys()
    with Raw(server.server.address) as raw:
        raw.login()
        raw.send(b"RETR 2\r\n" * 200 + b"DELE 1\r\n")
        for _ in range(200):
            assert raw.line().startswith(b"+OK") and unstuff(raw.body()) == SAMPLE_MESSAGES[1]
        assert raw.line() == b"+OK message 1 deleted"
        raw.sock.shutdown(socket.SHUT_WR)  # EOF without QUIT
        assert raw.closed()
    _wait_for_unlock(store)
    assert store.mailbox(USER).keys() == keys


def _plain_asyncio(monkeypatch) -> None:
    import asyncio

    import postel.serving

    monkeypatch.setattr(postel.serving, "new_event_loop", asyncio.new_event_loop)


def test_unknown_faults_are_refused(store):
    with pytest.raises(ValueError, match="unknown faults"):
        Pop3Server(store, faults=frozenset({"nonsense"}))


# ---------------------------------------------------------------- each fault does what its name says


def test_the_fault_names_are_the_contracts():
    assert CONTRACT_FAULTS <= FAULTS  # the later switches: tests/test_pop3_server_faults.py


def test_fault_no_dot_stuffing(serve, store):
    with Raw(serve(faults={"no_dot_stuffing"}).server.address) as raw:
        raw.login()
        lines = raw.multi(b"RETR 2")[1]  # ends at the lone "." line of the body: the rest follows unread
    assert b".starts with a dot" in lines and b"..starts with a dot" not in lines


def test_fault_unterminated_multiline(serve, store):
    with Raw(serve(faults={"unterminated_multiline"}).server.address) as raw:
        raw.login()
        raw.send(b"RETR 1\r\nNOOP\r\n")
        assert raw.line().startswith(b"+OK")
        lines = []
        while (line := raw.line()) != b"+OK":  # NOOP's answer comes straight after the body
            assert line != b".", "RETR's body was terminated"
            lines.append(line)
        assert unstuff(lines) == stored(store, 1)
        raw.send(b"LIST\r\n")  # other multi-line answers are still terminated
        assert raw.line().startswith(b"+OK") and len(raw.body()) == len(SAMPLE_MESSAGES)


def test_fault_wrong_multiline_termination(serve):
    with Raw(serve(faults={"wrong_multiline_termination"}).server.address) as raw:
        assert raw.multi(b"CAPA")[1]  # CAPA is left right, for the suites to read
        raw.login()
        raw.send(b"LIST\r\n")
        raw.line()
        lines = [raw.file.readline() for _ in range(len(SAMPLE_MESSAGES) + 1)]
    assert lines[-1] == b".\n"


def test_fault_dele_without_quit(serve, store):
    keys = store.mailbox(USER).keys()
    with Raw(serve(faults={"dele_without_quit"}).server.address) as raw:
        raw.login()
        assert raw.cmd(b"DELE 1").startswith(b"+OK")
        assert store.mailbox(USER).keys() == keys[1:]  # gone before any QUIT


def test_fault_uidl_changes(serve):
    address = serve(faults={"uidl_changes"}).server.address
    uids = []
    for _ in range(2):
        with Raw(address) as raw:
            raw.login()
            uids.append(raw.multi(b"UIDL")[1])
            raw.cmd(b"QUIT")
    assert len(uids[0]) == len(uids[1]) == len(SAMPLE_MESSAGES) and uids[0] != uids[1]
    assert all(re.fullmatch(rb"[0-9]+ [\x21-\x7e]{1,70}", line) for line in uids[0])


def test_fault_err_without_space(serve):
    with Raw(serve(faults={"err_without_space"}).server.address) as raw:
        raw.login()
        assert raw.cmd(b"RETR 99") == b"-ERRno such message"
        assert raw.cmd(b"NOOP") == b"+OK"


def test_fault_stat_list_mismatch(serve):
    with Raw(serve(faults={"stat_list_mismatch"}).server.address) as raw:
        raw.login()
        octets = int(raw.cmd(b"STAT").split(b" ")[2])
        listed = sum(int(line.split(b" ")[1]) for line in raw.multi(b"LIST")[1])
    assert octets != listed


def test_fault_deleted_still_listed(serve):
    with Raw(serve(faults={"deleted_still_listed"}).server.address) as raw:
        raw.login()
        before = raw.cmd(b"STAT")
        raw.cmd(b"DELE 1")
        assert raw.cmd(b"STAT") == before
        assert raw.multi(b"LIST")[1][0].startswith(b"1 ")
        assert raw.multi(b"UIDL")[1][0].startswith(b"1 ")


def test_fault_no_login_delay(serve):
    # With a delay of a minute, an answer inside the read timeout (10 s) can only be an undelayed one.
    with Raw(serve(faults={"no_login_delay"}, login_delay=60.0).server.address) as raw:
        raw.cmd(b"USER postel")
        assert raw.cmd(b"PASS wrong").startswith(b"-ERR [AUTH]")


# ---------------------------------------------------------------- through the reference client


def test_reference_client_session(server, store):
    box = store.mailbox(USER)
    with Pop3Client(server.server.address, timeout=TIMEOUT) as client:
        assert set(client.capa()) == {"TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE", "IMPLEMENTATION"}
        assert client.capa()["EXPIRE"] == ["NEVER"]
        client.login(USER, PASSWORD)
        assert client.stat() == (len(SAMPLE_MESSAGES), sum(map(len, SAMPLE_MESSAGES)))
        assert client.list() == {n: len(m) for n, m in enumerate(SAMPLE_MESSAGES, 1)}
        assert client.uidl() == {n: key.encode() for n, key in enumerate(box.keys(), 1)}
        assert client.list_one(3) == (3, len(SAMPLE_MESSAGES[2]))
        assert client.uidl_one(3) == (3, box.keys()[2].encode())
        for n, message in enumerate(SAMPLE_MESSAGES, 1):
            assert client.retr(n) == message
            assert client.top(n, 1) == top_of_message(message, 1)
        client.dele(2)
        with pytest.raises(Pop3Error, match="already deleted"):
            client.retr(2)
        client.rset()
        client.dele(5)
        assert client.quit().ok
    assert len(box.keys()) == len(SAMPLE_MESSAGES) - 1


def test_reference_client_apop_and_pipelining(server):
    with Pop3Client(server.server.address, timeout=TIMEOUT) as client:
        client.apop(USER, PASSWORD)
        answers = client.pipeline([Command(b"STAT"), Command(b"RETR", (b"2",)), Command(b"LIST"), Command(b"NOOP"),
                                   Command(b"UIDL", (b"9",)), Command(b"TOP", (b"1", b"0"))])
        assert [r.ok for r, _body in answers] == [True, True, True, True, False, True]
        assert answers[1][1] == SAMPLE_MESSAGES[1]
        assert answers[4][0].text == b"no such message"


def test_reference_client_sees_in_use_and_auth_codes(server):
    with Pop3Client(server.server.address, timeout=TIMEOUT) as first, Pop3Client(server.server.address, timeout=TIMEOUT) as second:
        first.login(USER, PASSWORD)
        second.user(USER)
        with pytest.raises(Pop3Error) as refused:
            second.pass_(PASSWORD)
        assert refused.value.response.has_code("IN-USE")
        second.user(USER)
        with pytest.raises(Pop3Error) as refused:
            second.pass_("wrong")
        assert refused.value.response.has_code("AUTH")


@pytest.mark.parametrize(("fault", "requirement"), [
    ("no_dot_stuffing", "rfc1939/3/16"),
    ("err_without_space", "rfc2449/3/6"),
])
def test_the_strict_client_rejects_a_faulty_wire(serve, fault, requirement):
    with Pop3Client(serve(faults={fault}).server.address, timeout=TIMEOUT) as client:
        client.login(USER, PASSWORD)
        with pytest.raises(RemoteProtocolError) as broken:
            client.command(Command(b"RETR", (b"2" if fault == "no_dot_stuffing" else b"99",)))
        assert broken.value.requirement == requirement


# ---------------------------------------------------------------- the session, without sockets

STAMP = b"<1.1.1@postel.test>"


def test_the_session_module_imports_no_network_or_event_loop():
    """maildrop.py is the sans-I/O half: the wire and the clock stay in server.py (as tests/test_codec_purity.py)."""
    import ast

    import postel.protocols.pop3.maildrop as maildrop

    imported = set()
    for node in ast.walk(ast.parse(Path(maildrop.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"socket", "asyncio", "selectors", "ssl", "time"}


def session(store: MailStore, **kwargs) -> Pop3Session:
    return Pop3Session(store, STAMP, login_delay=kwargs.pop("login_delay", 1.5), **kwargs)


def login(s: Pop3Session, user: str = USER, password: str = PASSWORD) -> None:
    assert s.handle(b"USER", (user.encode(),)).ok
    assert s.handle(b"PASS", (password.encode(),)).ok


def test_session_states_follow_rfc1939(store):
    s = session(store)
    assert s.state is AUTHORIZATION
    login(s)
    assert s.state is TRANSACTION
    reply = s.handle(b"QUIT", ())
    assert reply.ok and reply.close and s.state is CLOSED
    assert s.handle(b"NOOP", ()).ok is False


def test_session_pass_must_follow_user_immediately(store):
    s = session(store)
    assert s.handle(b"USER", (b"postel",)).ok
    assert s.handle(b"CAPA", ()).ok
    assert s.handle(b"PASS", (PASSWORD.encode(),)).text == b"send USER first"
    assert s.handle(b"USER", (b"postel",)).ok
    assert s.handle(b"USER", (b"postel",)).text == b"USER already given"
    assert not s.handle(b"PASS", (PASSWORD.encode(),)).ok  # the second USER was unsuccessful: no name pending
    login(s)


def test_session_failed_login_asks_for_the_delay_unless_the_fault_is_on(store):
    assert session(store).handle(b"APOP", (b"postel", b"0" * 32)).delay == 1.5
    s = session(store)
    s.handle(b"USER", (b"postel",))
    assert s.handle(b"PASS", (b"wrong",)).delay == 1.5
    assert session(store, faults=frozenset({"no_login_delay"})).handle(b"APOP", (b"postel", b"0" * 32)).delay == 0


def test_session_apop_checks_the_digest_of_its_timestamp(store):
    s = session(store)
    assert not s.handle(b"APOP", (b"postel", apop_digest(b"<other@stamp>", PASSWORD.encode()))).ok
    assert not s.handle(b"APOP", (b"postel",)).ok
    assert not s.handle(b"APOP", (b"nobody", apop_digest(STAMP, PASSWORD.encode()))).ok
    assert s.handle(b"APOP", (b"postel", apop_digest(STAMP, PASSWORD.encode()))).ok


def test_session_end_releases_the_lock_and_removes_nothing(store):
    s = session(store)
    login(s)
    s.handle(b"DELE", (b"1",))
    with pytest.raises(MaildropLocked):
        store.mailbox(USER).lock()
    s.end()
    store.mailbox(USER).lock().release()
    assert len(store.mailbox(USER).keys()) == len(SAMPLE_MESSAGES)


def test_session_a_failed_removal_makes_quit_negative_and_still_releases(store, monkeypatch):
    s = session(store)
    login(s)
    s.handle(b"DELE", (b"1",))

    def broken(key: str) -> None:
        raise PermissionError(key)

    monkeypatch.setattr(store.mailbox(USER), "remove", broken)
    reply = s.handle(b"QUIT", ())
    assert (reply.ok, reply.code, reply.close) == (False, b"SYS/TEMP", True)
    store.mailbox(USER).lock().release()


def test_session_refused_line_forgets_the_user(store):
    s = session(store)
    s.handle(b"USER", (b"postel",))
    assert not s.refuse(b"command line too long").ok
    assert s.handle(b"PASS", (PASSWORD.encode(),)).text == b"send USER first"


def test_session_argument_counts_are_checked(store):
    s = session(store)
    assert not s.handle(b"USER", ()).ok
    assert not s.handle(b"CAPA", (b"x",)).ok
    login(s)
    for verb, args in ((b"STAT", (b"1",)), (b"LIST", (b"1", b"2")), (b"RETR", ()), (b"DELE", ()), (b"NOOP", (b"x",)),
                       (b"RSET", (b"x",)), (b"UIDL", (b"1", b"2")), (b"TOP", (b"1",)), (b"QUIT", (b"now",))):
        assert not s.handle(verb, args).ok, verb
    assert s.state is TRANSACTION


@pytest.mark.parametrize(("message", "lines", "expected"), [
    (b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n", 0, b"A: 1\r\nB: 2\r\n\r\n"),
    (b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n", 1, b"A: 1\r\nB: 2\r\n\r\none\r\n"),
    (b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n", 5, b"A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n"),
    (b"A: 1\r\n\r\n\r\nafter an empty line\r\n", 1, b"A: 1\r\n\r\n\r\n"),
    (b"A: 1\r\n", 3, b"A: 1\r\n"),  # no blank line: all header
    (b"\r\nbody only\r\n", 0, b"\r\n"),
    (b"A: 1\r\n\r\nno final CRLF", 1, b"A: 1\r\n\r\nno final CRLF"),
])
def test_top_of_message(message, lines, expected):
    assert top_of_message(message, lines) == expected
