"""POP3 codec: grammar both ways, byte-stuffing round trips, pipelining, limits, EOF, each refusal citing a catalog ID."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.pop3.codec import CLIENT, NEED_DATA, SERVER, Connection
from postel.protocols.pop3.events import (
    MSG_ID, Command, ConnectionClosed, Data, EndOfMultiline, Response, apop_digest, capabilities, drop_listing,
    scan_listing, timestamp, unique_id_listing,
)
from postel.protocols.pop3.requirements import REQ
from postel.protocols.pop3.state import AUTHORIZATION, CLOSED, ERROR, INVALID_COMMAND, TRANSACTION, UPDATE, after_response
from tests import helpers
from tests.test_catalogs import CATALOG


def drain(conn) -> list:
    return helpers.drain(conn, NEED_DATA)


def feed_three_ways(make, data: bytes, eof: bool = True) -> list[list]:
    return [merged(events) for events in helpers.feed_three_ways(make, data, NEED_DATA, eof=eof)]


def merged(events):
    return helpers.merge_data(events, Data)


def cites(error: Exception, key: str) -> None:
    assert error.requirement == REQ[key], f"{error} cites {error.requirement}, not {REQ[key]}"
    assert error.requirement in CATALOG


def client_after(*commands: Command) -> Connection:
    client = Connection(CLIENT)
    for command in commands:
        client.send(command)
    return client


def greeted_client(*commands: Command) -> Connection:
    client = client_after(*commands)
    client.receive_data(b"+OK ready\r\n")
    assert drain(client) == [Response(True, b"ready")]
    return client


def greeted_server() -> Connection:
    server = Connection(SERVER)
    assert server.send(Response(True, b"POP3 ready <1.2@postel.test>")) == b"+OK POP3 ready <1.2@postel.test>\r\n"
    return server


def stuff_by_hand(body: bytes) -> bytes:
    """RFC 1939 3 read literally: every line that begins with "." gets one more."""
    lines = [line + b"\r\n" for line in body.split(b"\r\n")[:-1]]  # CRLF ends a line; a bare CR does not
    return b"".join(b"." + line if line.startswith(b".") else line for line in lines)


# ------------------------------------------------------------------ Command


def test_every_requirement_cited_exists():
    assert not [ref for ref in REQ.values() if ref not in CATALOG]


def test_command_keyword_is_case_insensitive_and_kept_upper_case():
    assert Command(b"stat") == Command(b"STAT")
    assert Command.parse(b"list 1") == Command(b"LIST", (b"1",))
    assert Command(b"Top", (b"1", b"10")).wire() == b"TOP 1 10\r\n"


def test_pass_keeps_spaces_as_one_argument():
    command = Command.parse(b"PASS secret with  spaces ")
    assert command.args == (b"secret with  spaces ",)
    assert command.wire() == b"PASS secret with  spaces \r\n"
    assert Command(b"PASS", (b"secret with space",)).args == (b"secret with space",)
    with pytest.raises(LocalProtocolError) as info:
        Command(b"PASS", (b"a", b"b"))
    cites(info.value, "pass_spaces")


@pytest.mark.parametrize(
    ("verb", "args", "key"),
    [
        (b"NO", (), "keyword_length"),
        (b"NOOPS", (), "keyword_length"),
        (b"", (), "keyword_length"),
        (b"ST\x00T", (), "command_printable"),
        (b"R\xc9TR", (), "command_printable"),
        (b"USER", (b"bob smith",), "command_single_space"),
        (b"LIST", (b"",), "command_single_space"),
        (b"USER", (b"b\xf6b",), "command_printable"),
        (b"USER", (b"bob\r\n",), "command_printable"),
        (b"PASS", (b"",), "command_single_space"),
        (b"PASS", (b"tab\there",), "command_printable"),
    ],
)
def test_malformed_commands_are_refused_with_their_rule(verb, args, key):
    with pytest.raises(LocalProtocolError) as info:
        Command(verb, args)
    cites(info.value, key)


def test_arguments_longer_than_40_are_allowed_up_to_the_255_octet_line():
    """RFC 2449 4 "increases the length restrictions on commands and parameters" of RFC 1939 3."""
    client = Connection(CLIENT)
    longest = Command(b"USER", (b"x" * (255 - len(b"USER \r\n")),))
    assert len(client.send(longest)) == 255
    with pytest.raises(LocalProtocolError) as info:
        client.send(Command(b"USER", (b"x" * (256 - len(b"USER \r\n")),)))
    cites(info.value, "command_length")
    assert list(client.awaiting)[1:] == [longest]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b"USER  bob", "command_single_space"),
        (b"STAT ", "command_single_space"),
        (b"STAT\rX", "command_crlf"),
        (b"", "keyword_length"),
        (b"RETRIEVE 1", "keyword_length"),
    ],
)
def test_malformed_command_lines_are_remote_errors(line, key):
    with pytest.raises(RemoteProtocolError) as info:
        Command.parse(line)
    cites(info.value, key)


@pytest.mark.parametrize(
    ("command", "multiline"),
    [
        (Command(b"RETR", (b"1",)), True),
        (Command(b"TOP", (b"1", b"0")), True),
        (Command(b"CAPA"), True),
        (Command(b"LIST"), True),
        (Command(b"UIDL"), True),
        (Command(b"LIST", (b"1",)), False),
        (Command(b"UIDL", (b"1",)), False),
        (Command(b"STAT"), False),
        (Command(b"XTND"), False),
    ],
)
def test_which_answers_are_multi_line(command, multiline):
    assert command.multiline is multiline


# ------------------------------------------------------------------ Response


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (Response(True), b"+OK\r\n"),
        (Response(False, b"no such message"), b"-ERR no such message\r\n"),
        (Response(False, b"busy", b"IN-USE"), b"-ERR [IN-USE] busy\r\n"),
        (Response(False, b"", b"SYS/TEMP"), b"-ERR [SYS/TEMP]\r\n"),
        (Response(True, b"2 320"), b"+OK 2 320\r\n"),
    ],
)
def test_response_wire_and_parse_agree(response, wire):
    assert response.wire() == wire
    assert Response.parse(wire[:-2]) == response


def test_a_leading_response_code_is_taken_from_the_text():
    assert Response(False, b"[IN-USE] busy") == Response(False, b"busy", b"IN-USE")
    parsed = Response.parse(b"-ERR [SYS/TEMP] try later")
    assert parsed.code == b"SYS/TEMP" and parsed.text == b"try later"
    assert parsed.has_code("SYS") and parsed.has_code(b"sys/temp") and not parsed.has_code("SYS/PERM")
    assert not parsed.has_code("AUTH")
    # Text that only looks like a code stays text: RFC 1939 servers without RESP-CODES may write "[".
    assert Response.parse(b"-ERR [not a code").code is None
    assert Response.parse(b"-ERR [not a code").text == b"[not a code"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b"-ERRno such message", "single_line_grammar"),
        (b"+OKready", "single_line_grammar"),
        (b"+ok", "status_upper_case"),
        (b"-err no", "status_upper_case"),
        (b"OK", "status_indicator"),
        (b"+ OK", "status_indicator"),
        (b"", "status_indicator"),
        (b"220 smtp.example ESMTP", "status_indicator"),
        (b"+OK caf\xc3\xa9", "single_line_grammar"),
        (b"+OK a\x00b", "single_line_grammar"),
        (b"+OK a\rb", "response_crlf"),
        (b"+OK " + b"x" * 507, "first_line_length"),
    ],
)
def test_malformed_status_lines(line, key):
    with pytest.raises(RemoteProtocolError) as info:
        Response.parse(line)
    cites(info.value, key)


def test_the_longest_status_line_is_512_octets_with_its_crlf():
    assert len(Response.parse(b"+OK " + b"x" * 506).wire()) == 512
    with pytest.raises(LocalProtocolError) as info:
        Response(True, b"x" * 507)
    cites(info.value, "first_line_length")


@pytest.mark.parametrize(("text", "code"), [(b"a\r\nb", None), (b"ok", b"A]B"), (b"ok", b"A//B"), (b"ok", b"")])
def test_bad_responses_are_not_built(text, code):
    with pytest.raises(LocalProtocolError):
        Response(True, text, code)


@given(
    ok=st.booleans(),
    text=st.binary(max_size=80).filter(lambda t: b"\r" not in t and b"\n" not in t and b"\x00" not in t and max(t, default=0) < 128),
    code=st.none() | st.from_regex(rb"\A[A-Z][A-Z-]{0,8}(/[A-Z]{1,5}){0,2}\Z"),
)
def test_response_round_trip(ok, text, code):
    response = Response(ok, text, code)
    assert Response.parse(response.wire()[:-2]) == response


# ------------------------------------------------------------------ APOP and listings


def test_apop_digest_of_rfc1939_example():
    greeting = Response.parse(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>")
    stamp = timestamp(greeting.text)
    assert stamp == b"<1896.697170952@dbc.mtview.ca.us>" and MSG_ID.fullmatch(stamp)
    assert apop_digest(stamp, b"tanstaaf") == b"c4c9334bac560ecc979e58001b3e22fb"


def test_timestamps():
    assert timestamp(b"POP3 ready") is None
    assert timestamp(b"[X] ready <a@b> and more") == b"<a@b>"
    assert not MSG_ID.fullmatch(timestamp(b"ready <no-at-sign>"))


def test_listings():
    assert drop_listing(Response(True, b"2 320")) == (2, 320)
    assert drop_listing(Response(True, b"2 320 more information")) == (2, 320)
    assert scan_listing(b"1 120") == (1, 120)
    assert unique_id_listing(b"1 whqtswO00WBw418f9t5JxYwZ") == (1, b"whqtswO00WBw418f9t5JxYwZ")
    assert capabilities(b"TOP\r\nsasl PLAIN LOGIN\r\nLOGIN-DELAY 900\r\n") == {"TOP": [], "SASL": ["PLAIN", "LOGIN"], "LOGIN-DELAY": ["900"]}
    assert capabilities(b"") == {}


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda: drop_listing(Response(True, b"2")), "stat_format"),
        (lambda: drop_listing(Response(True, b"two 320")), "stat_format"),
        (lambda: drop_listing(Response(True, b"2  320")), "stat_format"),
        (lambda: scan_listing(b"1 0x10"), "scan_listing_format"),
        (lambda: scan_listing(b"1"), "scan_listing_format"),
        (lambda: unique_id_listing(b"1 abc def"), "unique_id_nothing_follows"),
        (lambda: unique_id_listing(b"1 " + b"u" * 71), "unique_id_chars"),
        (lambda: unique_id_listing(b"1 "), "unique_id_chars"),
        (lambda: unique_id_listing(b"one abc"), "unique_id_listing_format"),
        (lambda: capabilities(b"X.Y\r\n"), "capa_grammar"),
        (lambda: capabilities(b"TOP  \r\n"), "capa_grammar"),
        (lambda: capabilities(b"IMPLEMENTATION " + b"x" * 496 + b"\r\n"), "capa_line_length"),
    ],
)
def test_malformed_listings(call, key):
    with pytest.raises(RemoteProtocolError) as info:
        call()
    cites(info.value, key)


# ------------------------------------------------------------------ state table


def test_state_table_in_the_rfcs_words():
    assert after_response(AUTHORIZATION, b"PASS", True) is TRANSACTION
    assert after_response(AUTHORIZATION, b"APOP", True) is TRANSACTION
    assert after_response(AUTHORIZATION, b"PASS", False) is AUTHORIZATION
    assert after_response(AUTHORIZATION, b"USER", True) is AUTHORIZATION
    assert after_response(TRANSACTION, b"PASS", True) is TRANSACTION
    assert after_response(TRANSACTION, b"QUIT", True) is UPDATE
    assert after_response(TRANSACTION, b"QUIT", False) is UPDATE  # "Whether the removal was successful or not"
    assert after_response(AUTHORIZATION, b"QUIT", True) is CLOSED  # "does NOT enter the UPDATE state"
    assert after_response(TRANSACTION, INVALID_COMMAND, False) is TRANSACTION


# ------------------------------------------------------------------ server side


def test_server_reads_pipelined_commands_and_follows_the_session():
    server = greeted_server()
    server.receive_data(b"USER postel\r\nPASS pass word\r\nSTAT\r\nQUIT\r\n")
    user, password, stat, quit_ = drain(server)
    assert (user, password, stat, quit_) == (
        Command(b"USER", (b"postel",)), Command(b"PASS", (b"pass word",)), Command(b"STAT"), Command(b"QUIT"),
    )
    assert list(server.awaiting) == [user, password, stat, quit_]
    assert server.send(Response(True)) == b"+OK\r\n"
    assert server.user_accepted and server.state is AUTHORIZATION
    server.send(Response(True, b"maildrop locked"))
    assert server.state is TRANSACTION and not server.user_accepted
    server.send(Response(True, b"0 0"))
    server.send(Response(True, b"bye"))
    assert server.state is UPDATE
    server.receive_data(b"NOOP\r\n")  # nothing is read after the answer to QUIT
    assert server.next_event() is NEED_DATA
    server.receive_data(b"")
    assert drain(server) == [ConnectionClosed()] and server.state is CLOSED


def test_server_events_do_not_depend_on_how_the_octets_arrive():
    wire = b"CAPA\r\nuser postel\r\nPASS a  b\r\nLIST\r\nTOP 1 10\r\nQUIT\r\n"
    expected = [
        Command(b"CAPA"), Command(b"USER", (b"postel",)), Command(b"PASS", (b"a  b",)), Command(b"LIST"),
        Command(b"TOP", (b"1", b"10")), Command(b"QUIT"), ConnectionClosed(),
    ]
    for events in feed_three_ways(greeted_server, wire):
        assert events == expected


def test_server_failed_pass_stays_in_authorization_and_quit_there_closes():
    server = greeted_server()
    server.receive_data(b"USER postel\r\nPASS wrong\r\nQUIT\r\n")
    assert len(drain(server)) == 3
    server.send(Response(True))
    server.send(Response(False, b"invalid login", b"AUTH"))
    assert server.state is AUTHORIZATION and not server.user_accepted
    server.send(Response(True))
    assert server.state is CLOSED


def test_server_drop_in_transaction_is_closed_not_update():
    server = greeted_server()
    server.receive_data(b"APOP postel c4c9334bac560ecc979e58001b3e22fb\r\nDELE 1\r\nRE")
    drain(server)
    server.send(Response(True))
    server.send(Response(True, b"message 1 deleted"))
    assert server.state is TRANSACTION
    server.receive_data(b"")  # a half-sent command at EOF is dropped with the connection
    assert drain(server) == [ConnectionClosed()] and server.state is CLOSED


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b"STAT\n", "command_crlf"),
        (b"\n", "command_crlf"),
        (b"STAT\rNOOP\r\n", "command_crlf"),
        (b"USER b\xf6b\r\n", "command_printable"),
        (b"US\r\n", "keyword_length"),
        (b"USER  bob\r\n", "command_single_space"),
        (b"USER " + b"x" * 251 + b"\r\n", "command_length"),
        (b"USER " + b"x" * 600 + b"\r\n", "command_length"),
    ],
)
def test_server_refuses_a_bad_line_answers_it_and_goes_on(line, key):
    for chunks in ([line + b"NOOP\r\n"], [bytes([b]) for b in line + b"NOOP\r\n"]):
        server = greeted_server()
        events, errors = helpers.events_and_errors(server, chunks, NEED_DATA)
        assert len(errors) == 1, errors
        cites(errors[0], key)
        assert events == [Command(b"NOOP")]
        assert list(server.awaiting) == [INVALID_COMMAND, Command(b"NOOP")]
        assert server.send(Response(False, b"bad command")) == b"-ERR bad command\r\n"
        assert server.send(Response(True)) == b"+OK\r\n"


def test_server_line_limit_is_configurable():
    server = Connection(SERVER, max_line=1024)
    server.send(Response(True))
    server.receive_data(b"XAUT " + b"x" * 600 + b"\r\n")
    assert server.next_event() == Command(b"XAUT", (b"x" * 600,))  # a capability may allow longer commands (RFC 2449 4)


def test_server_stuffs_multiline_bodies_and_terminates_them():
    server = greeted_server()
    server.receive_data(b"RETR 1\r\n")
    drain(server)
    out = server.send(Response(True, b"message follows"))
    out += server.send(Data(b".starts with a dot\r\nplain\r\n.\r\n"))
    out += server.send(Data(b"..two dots\r\nno final CRLF"))
    out += server.send(EndOfMultiline())
    assert out == (
        b"+OK message follows\r\n..starts with a dot\r\nplain\r\n..\r\n...two dots\r\nno final CRLF\r\n.\r\n"
    )


@pytest.mark.parametrize("split", range(1, 9))
def test_server_stuffs_across_chunk_boundaries(split):
    body = b"a\r\n.b\r\n\r\n.\r\n"
    server = greeted_server()
    server.receive_data(b"TOP 1 5\r\n")
    drain(server)
    server.send(Response(True))
    out = server.send(Data(body[:split])) + server.send(Data(body[split:])) + server.send(EndOfMultiline())
    assert out == stuff_by_hand(body) + b".\r\n"


def test_server_refuses_out_of_order_events():
    server = greeted_server()
    with pytest.raises(LocalProtocolError) as info:
        server.send(Response(True))  # nothing is awaiting an answer
    cites(info.value, "one_response_per_command")
    with pytest.raises(LocalProtocolError):
        server.send(Data(b"x\r\n"))
    with pytest.raises(LocalProtocolError):
        server.send(EndOfMultiline())
    server.receive_data(b"LIST\r\nSTAT\r\n")
    drain(server)
    server.send(Response(True))
    with pytest.raises(LocalProtocolError):
        server.send(Response(True))  # LIST's body is open
    with pytest.raises(LocalProtocolError) as info:
        server.send(Data(b"1 200\n"))
    cites(info.value, "multiline_crlf")
    with pytest.raises(LocalProtocolError):
        server.send(Command(b"NOOP"))


def test_server_sends_no_body_after_err_or_single_line_answers():
    server = greeted_server()
    server.receive_data(b"RETR 9\r\nLIST 1\r\n")
    drain(server)
    server.send(Response(False, b"no such message"))
    assert not server.in_multiline
    server.send(Response(True, b"1 120"))
    assert not server.in_multiline


# ------------------------------------------------------------------ client side


def test_client_matches_pipelined_responses_in_order():
    commands = [Command(b"LIST"), Command(b"LIST", (b"2",)), Command(b"RETR", (b"9",)), Command(b"RETR", (b"1",)), Command(b"UIDL", (b"1",))]
    wire = (
        b"+OK POP3 ready\r\n"
        b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
        b"+OK 2 200\r\n"
        b"-ERR no such message\r\n"
        b"+OK 120 octets\r\n..hidden\r\nSubject: x\r\n.\r\n"
        b"+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n"
    )
    expected = [
        Response(True, b"POP3 ready"),
        Response(True, b"2 messages"), Data(b"1 120\r\n2 200\r\n"), EndOfMultiline(),
        Response(True, b"2 200"),
        Response(False, b"no such message"),
        Response(True, b"120 octets"), Data(b".hidden\r\nSubject: x\r\n"), EndOfMultiline(),
        Response(True, b"1 whqtswO00WBw418f9t5JxYwZ"),
        ConnectionClosed(),
    ]
    for events in feed_three_ways(lambda: client_after(*commands), wire):
        assert events == expected


def test_client_follows_the_session_state():
    client = greeted_client(Command(b"USER", (b"postel",)), Command(b"PASS", (b"pw",)), Command(b"QUIT"))
    client.receive_data(b"+OK\r\n")
    drain(client)
    assert client.user_accepted and client.state is AUTHORIZATION
    client.receive_data(b"+OK maildrop has 0 messages\r\n")
    drain(client)
    assert client.state is TRANSACTION
    client.receive_data(b"+OK bye\r\n")
    drain(client)
    assert client.state is UPDATE
    client.receive_data(b"")
    assert drain(client) == [ConnectionClosed()] and client.state is CLOSED
    with pytest.raises(LocalProtocolError):
        client.send(Command(b"NOOP"))


def test_empty_listing_is_just_the_terminator():
    client = greeted_client(Command(b"LIST"))
    client.receive_data(b"+OK 0 messages\r\n.\r\n")
    assert drain(client) == [Response(True, b"0 messages"), EndOfMultiline()]


@pytest.mark.parametrize(
    ("wire", "key"),
    [
        (b"-ERRno such message\r\n", "single_line_grammar"),
        (b"+ok\r\n", "status_upper_case"),
        (b"OK\r\n", "status_indicator"),
        (b"+OK\n", "response_crlf"),
        (b"+OK " + b"x" * 507 + b"\r\n", "first_line_length"),
        (b"+OK " + b"x" * 600, "first_line_length"),
        (b"+OK\r\n.line\r\n.\r\n", "byte_stuffing"),
        (b"+OK\r\nline\n.\r\n", "multiline_crlf"),
        (b"+OK\r\n\n.\r\n", "multiline_crlf"),
        (b"+OK\r\nline\r\n", "multiline_terminator"),
        (b"+OK\r\nline\r\n.", "multiline_terminator"),
        (b"+OK\r\nline\r\n.\r", "multiline_terminator"),
        (b"+OK", "response_crlf"),
    ],
)
def test_client_refuses_malformed_answers_to_retr(wire, key):
    for chunks in ([wire], [bytes([b]) for b in wire]):
        client = greeted_client(Command(b"RETR", (b"1",)))
        with pytest.raises(RemoteProtocolError) as info:
            for chunk in chunks:
                client.receive_data(chunk)
                drain(client)
            client.receive_data(b"")  # EOF: an unfinished answer is an error, never a wait
            drain(client)
        cites(info.value, key)
        assert client.state is ERROR
        with pytest.raises(RemoteProtocolError):
            client.next_event()


def test_client_refuses_a_response_to_no_command():
    client = greeted_client(Command(b"NOOP"))
    client.receive_data(b"+OK\r\n+OK extra\r\n")
    assert client.next_event() == Response(True)
    with pytest.raises(RemoteProtocolError) as info:
        client.next_event()
    cites(info.value, "one_response_per_command")


def test_client_bounds_capa_lines_at_512_and_other_body_lines_at_its_limit():
    client = greeted_client(Command(b"CAPA"))
    client.receive_data(b"+OK\r\nIMPLEMENTATION " + b"x" * 600)
    with pytest.raises(RemoteProtocolError) as info:
        drain(client)
    cites(info.value, "capa_line_length")

    client = Connection(CLIENT, max_body_line=100)
    client.send(Command(b"RETR", (b"1",)))
    client.receive_data(b"+OK ready\r\n+OK\r\n" + b"x" * 99 + b"\r\n")
    with pytest.raises(RemoteProtocolError) as info:
        drain(client)
    assert info.value.requirement is None  # the harness's bound, not an RFC rule

    client = Connection(CLIENT, max_body_line=100)
    client.send(Command(b"RETR", (b"1",)))
    client.receive_data(b"+OK ready\r\n+OK\r\n" + b"x" * 98 + b"\r\n.\r\n")
    assert drain(client)[-2:] == [Data(b"x" * 98 + b"\r\n"), EndOfMultiline()]


def test_client_eof_with_commands_unanswered_is_a_clean_close():
    """The server may close after -ERR to PASS (RFC 1939 4) or on its idle timer (3): the client decides."""
    client = greeted_client(Command(b"PASS", (b"x",)), Command(b"STAT"))
    client.receive_data(b"-ERR [AUTH] no\r\n")
    client.receive_data(b"")
    assert drain(client) == [Response(False, b"no", b"AUTH"), ConnectionClosed()]
    assert list(client.awaiting) == [Command(b"STAT")]


def test_negative_greeting_closes_the_session():
    client = Connection(CLIENT)
    client.receive_data(b"-ERR [SYS/TEMP] too busy\r\n")
    assert drain(client) == [Response(False, b"too busy", b"SYS/TEMP")]
    assert client.state is CLOSED


# ------------------------------------------------------------------ round trips


_LINE = st.binary(max_size=120).map(lambda b: b.replace(b"\n", b"")) | st.sampled_from([b".", b"..", b".x", b"", b"\r", b". "])
_BODY = st.lists(_LINE | st.binary(min_size=1000, max_size=3000).map(lambda b: b.replace(b"\n", b"")), max_size=12)


@given(lines=_BODY, cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=6), rcuts=st.lists(st.integers(min_value=0, max_value=8000), max_size=6))
@example(lines=[], cuts=[], rcuts=[])
@example(lines=[b"."], cuts=[], rcuts=[])
@example(lines=[b"x" * 5000, b".", b"..", b".\r"], cuts=[1, 2, 5002, 5003], rcuts=[5, 5006])
def test_multiline_body_round_trip(lines, cuts, rcuts):
    """Server-side Data chunks + EndOfMultiline, then the client, cut anywhere, give back the body."""
    body = b"".join(line + b"\r\n" for line in lines)
    server = greeted_server()
    server.receive_data(b"RETR 1\r\n")
    drain(server)
    wire = b"+OK greeting\r\n" + server.send(Response(True, b"follows"))
    edges = sorted({0, len(body), *(c for c in cuts if c <= len(body))})
    for start, end in zip(edges, edges[1:]):
        wire += server.send(Data(body[start:end]))
    wire += server.send(EndOfMultiline())
    assert wire.endswith(b"\r\n.\r\n")

    client = client_after(Command(b"RETR", (b"1",)))
    redges = sorted({0, len(wire), *(c for c in rcuts if c <= len(wire))})
    events = []
    for start, end in zip(redges, redges[1:]):
        client.receive_data(wire[start:end])
        events += drain(client)
    events = merged(events)
    assert events[:2] == [Response(True, b"greeting"), Response(True, b"follows")]
    assert events[-1] == EndOfMultiline()
    received = b"".join(event.data for event in events[2:-1])
    assert received == body
    assert all(len(event.data) > 0 for event in events if isinstance(event, Data))


@given(lines=_BODY)
def test_stuffing_matches_the_rfc_read_literally(lines):
    body = b"".join(line + b"\r\n" for line in lines)
    server = greeted_server()
    server.receive_data(b"RETR 1\r\n")
    drain(server)
    server.send(Response(True))
    assert server.send(Data(body)) + server.send(EndOfMultiline()) == stuff_by_hand(body) + b".\r\n"
