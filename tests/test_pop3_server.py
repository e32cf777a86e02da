"""The reference POP3 server over real loopback sockets.

Why raw sockets first: the suites judge the server with postel's own codec,
and a codec and a server written together can share a misreading.  The
socket tests here read the server's octets with a few lines of their own
(``Raw``), so what they check is the wire, not the codec's opinion of it;
the tests at the end go through the reference client as a user would.

The fault tests prove that each switch in ``FAULTS`` changes exactly what
its name says, so a suite check that "catches" a fault is not catching some
other breakage.  The session logic without sockets is in
tests/test_pop3_session.py, RETR and TOP in chunks in
tests/test_pop3_streaming.py, the shared fixtures in tests/pop3_kit.py.
"""

from __future__ import annotations

import hashlib
import re
import socket
import time

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.mail.maildir import MailStore, MaildropLocked
from postel.protocols.mail.samples import SAMPLE_MESSAGES
from postel.protocols.pop3.client import Pop3Client, Pop3Error
from postel.protocols.pop3.events import Command
from postel.protocols.pop3.maildrop import CAPABILITIES, CHUNK_SIZE, top_of_message
from postel.protocols.pop3.server import FAULTS, Pop3Server


from tests.pop3_kit import wait_for_unlock, GREETING, LOGIN_DELAY, OTHER, OTHER_PASSWORD, PASSWORD, TIMEOUT, USER, Raw, serve, server, store, stored, unstuff  # noqa: F401 (fixtures)

# What the contract fixes: the suites helper names these switches.
CONTRACT_FAULTS = {
    "no_dot_stuffing", "unterminated_multiline", "wrong_multiline_termination", "dele_without_quit",
    "uidl_changes", "err_without_space", "stat_list_mismatch", "deleted_still_listed", "no_login_delay",
}



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
    wait_for_unlock(store)
    with Raw(server.server.address) as raw:
        assert raw.login().startswith(b"+OK")


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
    wait_for_unlock(store)
    assert box.keys() == keys


def test_uidl_is_the_same_in_the_next_session_even_without_quit(server):
    with Raw(server.server.address) as raw:
        raw.login()
        first = raw.multi(b"UIDL")[1]
    with Raw(server.server.address) as raw:
        deadline = time.monotonic() + TIMEOUT
        while not (answer := raw.login()).startswith(b"+OK"):  # the lock goes a moment after the drop
            assert answer.startswith(b"-ERR [IN-USE]") and time.monotonic() < deadline, answer
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


# ---------------------------------------------------------------- timers, limits, shutdown


def test_the_idle_timer_closes_silently_and_removes_nothing(serve, store):
    server = serve(idle_timeout=0.3)
    keys = store.mailbox(USER).keys()
    with Raw(server.server.address) as raw:
        raw.login()
        raw.cmd(b"DELE 1")
        assert raw.closed()  # no -ERR, just the close (rfc1939/3/33)
    wait_for_unlock(store)
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
    wait_for_unlock(store)
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
