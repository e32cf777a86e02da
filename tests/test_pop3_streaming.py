"""RETR and TOP read from the file in chunks (``maildrop.CHUNK_SIZE``), sans-I/O and over a socket.

The tests shrink the chunk to a few octets so that every kind of cut -- after a
CRLF before a "." line, inside a long line, at the header's blank line -- is crossed.
"""

from __future__ import annotations

import io
import re
import time

import pytest

from postel.protocols.mail.samples import SAMPLE_MESSAGES
from postel.protocols.pop3 import maildrop
from postel.protocols.pop3.codec import NEED_DATA, SERVER, Connection
from postel.protocols.pop3.events import Data, EndOfMultiline, Response
from postel.protocols.pop3.maildrop import CHUNK_SIZE, MessageReader


from tests.pop3_kit import wait_for_unlock, OTHER, OTHER_PASSWORD, TIMEOUT, USER, Raw, serve, server, store, unstuff  # noqa: F401 (fixtures)


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
    wait_for_unlock(store)
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
    wait_for_unlock(store, OTHER)


def test_a_client_that_stops_reading_a_retr_is_logged_out(serve, store):
    store.mailbox(OTHER).deliver(b"Subject: big\r\n\r\n" + (b"z" * 998 + b"\r\n") * 20_000)  # 20 MB: more than the socket buffers
    server = serve(idle_timeout=0.3)
    with Raw(server.server.address) as raw:
        raw.login(OTHER, OTHER_PASSWORD)
        raw.send(b"RETR 1\r\n")
        wait_for_unlock(store, OTHER)  # the autologout: the session ends while the answer is unread
        received = b""
        try:
            while data := raw.file.read1(1 << 20):
                received += data
        except ConnectionResetError:
            pass
    assert not received.endswith(b"\r\n.\r\n")
