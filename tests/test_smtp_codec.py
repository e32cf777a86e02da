"""SMTP codec: round trips both ways, dot-stuffing, limits, and every refusal citing a catalog requirement."""

from __future__ import annotations


import pytest
from hypothesis import given
from hypothesis import strategies as st

from postel.protocols.errors import LocalProtocolError, RemoteProtocolError
from postel.protocols.smtp.codec import CLIENT, NEED_DATA, PAUSED, SERVER, Connection
from postel.protocols.smtp.events import Command, ConnectionClosed, EndOfData, MessageData, Reply, ehlo_keywords
from postel.protocols.smtp.requirements import REQ
from postel.protocols.smtp.state import GREETED, IN_DATA, IN_TRANSACTION, INITIALIZED, UNREADABLE
from tests import helpers
from tests.test_catalogs import CATALOG


def drain(conn) -> list:
    """Every event up to NEED_DATA, or PAUSED: a command that awaits its reply before more is read."""
    return helpers.drain(conn, NEED_DATA, PAUSED)


def feed_three_ways(make, data: bytes, eof: bool = True) -> list[list]:
    return helpers.feed_three_ways(make, data, NEED_DATA, PAUSED, eof=eof)


def merged(events):
    return helpers.merge_data(events, MessageData)


def in_data_server(body_wire: bytes = b"", **limits) -> Connection:
    """A server that has greeted, accepted EHLO/MAIL/RCPT and answered DATA with 354."""
    server = Connection(SERVER, **limits)
    server.send(Reply(220, [b"mx.example ESMTP"]))
    server.receive_data(b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
    assert [e.verb for e in drain(server)] == [b"EHLO", b"MAIL", b"RCPT", b"DATA"]
    assert server.next_event() is PAUSED  # DATA awaits its reply before anything more is read
    for code in (250, 250, 250, 354):
        server.send(Reply(code))
    assert server.state is IN_DATA and server.in_data
    if body_wire:
        server.receive_data(body_wire)
    return server


def in_data_client(**limits) -> Connection:
    client = Connection(CLIENT, **limits)
    for command in (Command(b"EHLO", b"c.example"), Command.mail(b"a@b.example"), Command.rcpt(b"c@d.example"), Command(b"DATA")):
        client.send(command)
    client.receive_data(b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go ahead\r\n")
    assert [r.code for r in drain(client)] == [220, 250, 250, 250, 354]
    assert client.state is IN_DATA
    return client


def server_reads(body_wire: bytes, **limits) -> list:
    return merged(drain(in_data_server(body_wire, **limits)))


def assert_cites(error: pytest.ExceptionInfo, key: str, hint: int | None = None):
    assert error.value.requirement == REQ[key]
    assert error.value.requirement in CATALOG
    if hint is not None:
        assert error.value.reply_hint == hint


# ---------------------------------------------------------------- commands

COMMAND_CASES = [
    (Command(b"EHLO", b"client.example"), b"EHLO client.example\r\n"),
    (Command(b"HELO", b"client.example"), b"HELO client.example\r\n"),
    (Command(b"EHLO", b"[192.0.2.1]"), b"EHLO [192.0.2.1]\r\n"),
    (Command.mail(b"", {b"SIZE": b"100", b"BODY": b"8BITMIME"}), b"MAIL FROM:<> SIZE=100 BODY=8BITMIME\r\n"),
    (Command.mail(b"joe@example.com"), b"MAIL FROM:<joe@example.com>\r\n"),
    (Command.rcpt(b"@relay.example:jane@example.com"), b"RCPT TO:<@relay.example:jane@example.com>\r\n"),
    (Command(b"RCPT", b"TO:<Postmaster>"), b"RCPT TO:<Postmaster>\r\n"),
    (Command(b"RCPT", b'TO:<"john q"@example.com> NOTIFY=NEVER'), b'RCPT TO:<"john q"@example.com> NOTIFY=NEVER\r\n'),
    (Command(b"DATA"), b"DATA\r\n"),
    (Command(b"RSET"), b"RSET\r\n"),
    (Command(b"VRFY", b"postmaster"), b"VRFY postmaster\r\n"),
    (Command(b"EXPN", b"list"), b"EXPN list\r\n"),
    (Command(b"HELP"), b"HELP\r\n"),
    (Command(b"HELP", b"MAIL"), b"HELP MAIL\r\n"),
    (Command(b"NOOP", b"anything at all"), b"NOOP anything at all\r\n"),
    (Command(b"QUIT"), b"QUIT\r\n"),
]


@pytest.mark.parametrize(("command", "wire"), COMMAND_CASES, ids=[c.verb.decode() + str(i) for i, (c, _) in enumerate(COMMAND_CASES)])
def test_commands_written_and_read_back(command, wire):
    client = Connection(CLIENT)
    assert client.send(command) == wire
    for events in feed_three_ways(lambda: Connection(SERVER), wire):
        assert events[0] == command and events[0].path == command.path and events[0].params == command.params
        # after DATA the server pauses until it has replied, so EOF is not read yet
        assert events[1:] == ([] if command.verb == b"DATA" else [ConnectionClosed()])


def test_mail_and_rcpt_parse_paths_and_params():
    mail = Command(b"mail", b"from:<> size=10 X-FLAG")
    assert (mail.verb, mail.path, mail.params) == (b"MAIL", b"", ((b"SIZE", b"10"), (b"X-FLAG", None)))
    rcpt = Command(b"RCPT", b"TO:<@a.example,@b.example:u@c.example>")
    assert rcpt.path == b"@a.example,@b.example:u@c.example" and rcpt.mailbox == b"u@c.example"


def test_verbs_are_case_insensitive_and_trailing_space_tolerated():
    server = Connection(SERVER)
    server.receive_data(b"noop  \r\nQuit\r\n")
    assert drain(server) == [Command(b"NOOP"), Command(b"QUIT")]


COMMAND_REFUSALS = [
    (b"EHLO c.example\n", "bare_line_end_client", 500),
    (b"EHLO c\r.example\r\n", "bare_line_end_client", 500),
    (b"STARTTLS\r\n", "unknown_command", 500),
    (b"M4IL FROM:<a@b.c>\r\n", "command_syntax", 500),
    (b"NOOP caf\xc3\xa9\r\n", "non_ascii_command", 501),
    (b"EHLO\r\n", "ehlo_syntax", 501),
    (b"HELO [192.0.2.1]\r\n", "ehlo_syntax", 501),
    (b"MAIL TO:<a@b.c>\r\n", "mail_syntax", 501),
    (b"MAIL FROM: <a@b.c>\r\n", "space_around_colon", 501),
    (b"MAIL FROM :<a@b.c>\r\n", "space_around_colon", 501),
    (b"MAIL FROM:a@b.c\r\n", "path_syntax", 501),
    (b"MAIL FROM:<a@b.c> SIZE==1\r\n", "mail_syntax", 501),
    (b"RCPT TO:<>\r\n", "path_syntax", 501),
    (b"RCPT TO:<a@b.c>x\r\n", "rcpt_syntax", 501),
    (b"RCPT TO:<" + b"a" * 65 + b"@b.c>\r\n", "local_part_length", 501),
    (b"RCPT TO:<a@" + b"b." * 127 + b"cc>\r\n", "domain_length", 501),
    (b"RCPT TO:<@" + b"r." * 60 + b"cc:" + b"a" * 64 + b"@" + b"d." * 40 + b"cc>\r\n", "path_length", 501),
    (b"DATA now\r\n", "data_syntax", 501),
    (b"RSET x\r\n", "rset_syntax", 501),
    (b"QUIT x\r\n", "quit_syntax", 501),
    (b"VRFY\r\n", "vrfy_syntax", 501),
    (b"EXPN\r\n", "expn_syntax", 501),
    (b"NOOP " + b"x" * 506 + b"\r\n", "command_line_length", 500),
]


@pytest.mark.parametrize(("wire", "key", "hint"), COMMAND_REFUSALS, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(COMMAND_REFUSALS)])
def test_bad_commands_are_refused_and_reading_goes_on(wire, key, hint):
    server = Connection(SERVER)
    server.receive_data(wire + b"NOOP\r\n")
    with pytest.raises(RemoteProtocolError) as error:
        drain(server)
    assert_cites(error, key, hint)
    # "a 501 failure reply MUST be returned and the SMTP server MUST stay in the same state" (4.1.4)
    assert drain(server) == [Command(b"NOOP")]


def test_a_refused_line_is_queued_for_its_reply_and_eof_does_not_end_recovery():
    """Every command gets one reply (4.2), a refused one too: pipelined replies stay matched, even after a half-close."""
    server = Connection(SERVER)
    server.send(Reply(220))
    server.receive_data(b"NOOP\r\nBOGUS\r\nQUIT\r\n")
    server.receive_data(b"")
    assert server.next_event() == Command(b"NOOP")
    with pytest.raises(RemoteProtocolError):
        server.next_event()
    assert server.next_event() == Command(b"QUIT")
    assert list(server.awaiting) == [b"NOOP", UNREADABLE, b"QUIT"]
    assert [server.send(Reply(code)) for code in (250, 500, 221)] == [b"250 \r\n", b"500 \r\n", b"221 \r\n"]


def test_command_line_limit_is_512_octets_including_crlf():
    server = Connection(SERVER)
    server.receive_data(b"NOOP " + b"x" * 505 + b"\r\n")  # 512 octets
    assert drain(server) == [Command(b"NOOP", b"x" * 505)]
    # Without a line end in sight, the 513th octet is enough to refuse; the rest of the line is discarded.
    server.receive_data(b"NOOP " + b"x" * 600)
    with pytest.raises(RemoteProtocolError) as error:
        drain(server)
    assert_cites(error, "command_line_length", 500)
    server.receive_data(b"y" * 300 + b"\r\nQUIT\r\n")
    assert drain(server) == [Command(b"QUIT")]


def test_events_refuse_to_be_built_badly():
    with pytest.raises(LocalProtocolError):
        Command(b"NOOP", b"a\r\nQUIT")
    with pytest.raises(LocalProtocolError):
        Command.mail(b"no-at-sign")
    with pytest.raises(LocalProtocolError):
        Reply(199)
    with pytest.raises(LocalProtocolError):
        Reply(260)
    with pytest.raises(LocalProtocolError):
        Reply(250, [b"ok"], enhanced="5.1.1")
    with pytest.raises(LocalProtocolError):
        Connection(CLIENT).send(Command(b"NOOP", b"x" * 510))


# ---------------------------------------------------------------- replies

REPLY_CASES = [
    (Reply(220, [b"mx.example ESMTP ready"]), b"220 mx.example ESMTP ready\r\n"),
    (Reply(250, [b"mx.example", b"PIPELINING", b"SIZE 1000000", b"8BITMIME"]), b"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n"),
    (Reply(250, [b"Ok"], "2.1.0"), b"250 2.1.0 Ok\r\n"),
    (Reply(550, [b"no such user", b"really"], "5.1.1"), b"550-5.1.1 no such user\r\n550 5.1.1 really\r\n"),
    (Reply(354, [b"End data with <CR><LF>.<CR><LF>"]), b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    (Reply(221), b"221 \r\n"),
]


@pytest.mark.parametrize(("reply", "wire"), REPLY_CASES)
def test_replies_written_and_read_back(reply, wire):
    server = Connection(SERVER)
    assert server.send(reply) == wire  # the greeting slot takes any reply
    for events in feed_three_ways(lambda: Connection(CLIENT), wire):
        assert events == [reply, ConnectionClosed()]


def test_enhanced_codes_are_parsed_when_present():
    client = Connection(CLIENT)
    client.receive_data(b"220 mx\r\n")
    client.send(Command(b"NOOP"))
    client.receive_data(b"250 2.0.0   fine\r\n")
    assert drain(client)[1] == Reply(250, [b"fine"], "2.0.0")
    # a code whose class disagrees is left in the text
    assert Reply(250, [b"5.0.0 odd"]) == Reply(250, [b"5.0.0 odd"], None)


def test_code_alone_is_accepted():
    """ "clients MUST be prepared for it [the SP] to be omitted" (4.2.1)"""
    client = Connection(CLIENT)
    client.receive_data(b"220\r\n")
    assert drain(client) == [Reply(220)]


REPLY_REFUSALS = [
    (b"250-mx\r\n251 ok\r\n", "multiline_same_code"),
    (b"250-mx\r\n250-a\r\n550 b\r\n", "multiline_same_code"),
    (b"220 mx\n", "bare_line_end_server"),
    (b"220 m\rx\r\n", "bare_line_end_server"),
    (b"120 wait\r\n", "reply_code_range"),
    (b"2x0 ok\r\n", "reply_code_range"),
    (b"260 ok\r\n", "reply_code_range"),
    (b"220mx\r\n", "reply_syntax"),
    (b"220 caf\xc3\xa9\r\n", "reply_syntax"),
    (b"220 " + b"x" * 508 + b"\r\n", "reply_line_length"),
    (b"220 mx\r\n250 unasked\r\n", "one_reply_per_command"),
]


@pytest.mark.parametrize(("wire", "key"), REPLY_REFUSALS)
def test_bad_replies_are_refused(wire, key):
    for split in (len(wire), 1):
        client = Connection(CLIENT)
        with pytest.raises(RemoteProtocolError) as error:
            for i in range(0, len(wire), split):
                client.receive_data(wire[i : i + split])
                drain(client)
        assert_cites(error, key)
        with pytest.raises(RemoteProtocolError):
            client.next_event()  # the server is in ERROR now


def test_reply_of_512_octets_is_accepted():
    client = Connection(CLIENT)
    client.receive_data(b"220 " + b"x" * 506 + b"\r\n")
    assert drain(client)[0].lines == (b"x" * 506,)


def test_ehlo_keywords():
    reply = Reply(250, [b"mx.example greets you", b"SIZE 1000", b"pipelining", b"AUTH PLAIN LOGIN", b"8BITMIME"])
    assert ehlo_keywords(reply) == {"SIZE": ["1000"], "PIPELINING": [], "AUTH": ["PLAIN", "LOGIN"], "8BITMIME": []}
    assert ehlo_keywords(Reply(250, [b"mx.example"])) == {}
    with pytest.raises(RemoteProtocolError) as error:
        ehlo_keywords(Reply(250, [b"mx", b"AUTH=LOGIN"]))
    assert_cites(error, "ehlo_line_syntax")


def test_session_state_follows_the_replies_on_both_sides():
    client, server = Connection(CLIENT), Connection(SERVER)
    wire = client.send(Command(b"EHLO", b"c.example")) + client.send(Command.mail(b"a@b.example"))
    server.receive_data(wire)
    assert len(drain(server)) == 2
    replies = server.send(Reply(220, [b"mx"])) + server.send(Reply(250, [b"mx"])) + server.send(Reply(250, [b"ok"]))
    assert server.state is IN_TRANSACTION
    client.receive_data(replies)
    assert [r.code for r in drain(client)] == [220, 250, 250] and client.state is IN_TRANSACTION
    server.receive_data(client.send(Command(b"RSET")))
    drain(server)
    client.receive_data(server.send(Reply(250)))
    drain(client)
    assert client.state is server.state is INITIALIZED
    # a rejected MAIL leaves the state alone (4.1.4)
    server.receive_data(client.send(Command.mail(b"a@b.example")))
    drain(server)
    client.receive_data(server.send(Reply(550, [b"no"])))
    drain(client)
    assert client.state is server.state is INITIALIZED


def test_greeting_554_still_waits_for_quit():
    client = Connection(CLIENT)
    client.receive_data(b"554 go away\r\n")
    drain(client)
    assert client.state is GREETED


def test_data_needs_a_354_and_a_reply_needs_a_command():
    client = Connection(CLIENT)
    client.send(Command(b"DATA"))
    with pytest.raises(LocalProtocolError) as error:
        client.send(MessageData(b"hi\r\n"))
    assert error.value.requirement == REQ["data_before_354"]
    server = Connection(SERVER)
    server.send(Reply(220))
    with pytest.raises(LocalProtocolError) as error:
        server.send(Reply(250))
    assert error.value.requirement == REQ["one_reply_per_command"]


# ---------------------------------------------------------------- mail data

STUFFING = [
    (b"", b".\r\n"),
    (b"Subject: hi\r\n\r\nbody\r\n", b"Subject: hi\r\n\r\nbody\r\n.\r\n"),
    (b".\r\n", b"..\r\n.\r\n"),
    (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
    (b"..x\r\n", b"...x\r\n.\r\n"),
    (b".hidden\r\n..\r\n", b"..hidden\r\n...\r\n.\r\n"),
    (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
]


@pytest.mark.parametrize(("body", "wire"), STUFFING)
def test_dot_stuffing_both_ways(body, wire):
    client = in_data_client()
    written = client.send(MessageData(body)) + client.send(EndOfData())
    assert written == wire
    expected = ([MessageData(body)] if body else []) + [EndOfData()]
    for events in feed_three_ways(lambda: in_data_server(), wire, eof=False):
        assert merged(events) == expected


def test_stuffing_works_across_chunk_boundaries():
    client = in_data_client()
    chunks = [b"a\r", b"\n", b".", b"b\r\n.", b"\r\n"]
    assert b"".join(client.send(MessageData(c)) for c in chunks) == b"a\r\n..b\r\n..\r\n"


def test_commands_after_end_of_data_are_read():
    server = in_data_server(b"body\r\n.\r\nQUIT\r\n")
    assert merged(drain(server)) == [MessageData(b"body\r\n"), EndOfData(), Command(b"QUIT")]
    assert list(server.awaiting) == [server.awaiting[0], b"QUIT"]  # END_OF_DATA, then QUIT


def test_998_octet_lines_are_accepted_and_999_refused():
    line = b"x" * 998 + b"\r\n"
    assert server_reads(line + b".\r\n") == [MessageData(line), EndOfData()]
    assert server_reads(b"." + line + b".\r\n") == [MessageData(line), EndOfData()]  # the stuffed dot does not count
    client = in_data_client()
    assert client.send(MessageData(line)) == line
    with pytest.raises(LocalProtocolError):
        in_data_client().send(MessageData(b"x" * 999 + b"\r\n"))
    for split in (None, 1):
        server = in_data_server()
        wire = b"ok\r\n" + b"x" * 999 + b"\r\nmore\r\n.\r\nNOOP\r\n"
        chunks = [wire] if split is None else [wire[i : i + 1] for i in range(len(wire))]
        events, errors = helpers.events_and_errors(server, chunks, NEED_DATA)
        assert merged(events) == [MessageData(b"ok\r\n"), EndOfData(), Command(b"NOOP")]
        assert [(e.requirement, e.reply_hint) for e in errors] == [(REQ["text_line_length"], 500)]


DATA_REFUSALS = [
    (b"a\nb\r\n", "bare_line_end_client", 500),
    (b"a\r\n.\n", "bare_line_end_client", 500),
    (b"a\rb\r\n", "bare_line_end_client", 500),
]


@pytest.mark.parametrize(("body", "key", "hint"), DATA_REFUSALS)
def test_bad_mail_data_is_refused_then_discarded_to_the_terminator(body, key, hint):
    server = in_data_server(body + b"junk\n.\nstill data\r\n.\r\nQUIT\r\n")
    events = []
    with pytest.raises(RemoteProtocolError) as error:
        events += drain(server)
    assert_cites(error, key, hint)
    # "<LF>.<LF>" is not the end of data (4.1.1.4); only <CRLF>.<CRLF> is
    events += drain(server)
    assert [type(e) for e in merged(events)][-2:] == [EndOfData, Command]
    assert not server.in_data


def test_message_size_limit_gives_552():
    server = in_data_server(b"12345678\r\n12345678\r\n.\r\n", max_message_size=15)
    with pytest.raises(RemoteProtocolError) as error:
        drain(server)
    assert_cites(error, "message_size", 552)


def test_client_refuses_bare_line_ends_and_unterminated_bodies():
    for body in (b"a\nb\r\n", b"a\rb\r\n"):
        with pytest.raises(LocalProtocolError) as error:
            in_data_client().send(MessageData(body))
        assert error.value.requirement == REQ["bare_line_end_client"]
    client = in_data_client()
    client.send(MessageData(b"no line end"))
    with pytest.raises(LocalProtocolError) as error:
        client.send(EndOfData())
    assert error.value.requirement == REQ["unterminated_last_line"]


def test_eof_inside_mail_data_is_refused():
    server = in_data_server(b"half a message\r\n")
    server.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as error:
        drain(server)
    assert_cites(error, "close_without_quit")


_LINE = st.binary(max_size=998).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@given(lines=st.lists(_LINE, max_size=20), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_any_body_survives_stuffing_and_unstuffing(lines, cuts):
    body = b"".join(line + b"\r\n" for line in lines)
    client = in_data_client()
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    wire = b"".join(client.send(MessageData(body[a:b])) for a, b in zip(points, points[1:])) + client.send(EndOfData())
    server = in_data_server(wire)
    assert merged(drain(server)) == ([MessageData(body)] if body else []) + [EndOfData()]


def test_round_trip_of_a_whole_session():
    client, server = Connection(CLIENT), Connection(SERVER)
    transcript = []

    def to_server(*events):
        server.receive_data(b"".join(client.send(e) for e in events))
        transcript.extend(merged(drain(server)))

    def to_client(*replies):
        client.receive_data(b"".join(server.send(r) for r in replies))
        transcript.extend(drain(client))

    to_client(Reply(220, [b"mx.example ESMTP"]))
    to_server(Command(b"EHLO", b"c.example"))
    to_client(Reply(250, [b"mx.example", b"PIPELINING", b"SIZE 1000"]))
    to_server(Command.mail(b"a@b.example"), Command.rcpt(b"c@d.example"), Command(b"DATA"))
    to_client(Reply(250), Reply(250), Reply(354, [b"go"]))
    to_server(MessageData(b"Subject: t\r\n\r\n.dot\r\n"), EndOfData(), Command(b"QUIT"))
    to_client(Reply(250, [b"queued"], "2.0.0"), Reply(221, [b"bye"], "2.0.0"))
    assert transcript[-4:] == [EndOfData(), Command(b"QUIT"), Reply(250, [b"queued"], "2.0.0"), Reply(221, [b"bye"], "2.0.0")]
    assert MessageData(b"Subject: t\r\n\r\n.dot\r\n") in transcript
    assert client.state.__name__ == server.state.__name__ == "CLOSED"
