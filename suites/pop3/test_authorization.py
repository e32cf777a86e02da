"""The AUTHORIZATION state (RFC 1939 4 and 7): the greeting, USER/PASS, APOP, refusals, QUIT before login."""

from __future__ import annotations

import secrets

import pytest

from postel.protocols.pop3.events import MSG_ID, apop_digest, timestamp
from postel.suites.pop3.checks import Session, credentials, session, uses_apop
from postel.wire import WireClosed, WireReset, WireTimeout

pytestmark = pytest.mark.service("pop3")


@pytest.mark.requirement("rfc1939/3/2", "rfc1939/4/1", "rfc1939/4/2", "rfc2449/3/3", "rfc2449/4/4")
def test_greeting_is_one_positive_line(target, wire, expect):
    """Connects and reads: the server speaks first, one "+OK" line of at most 512 octets."""
    try:
        s = Session(target, wire, "greeting")
    except (WireTimeout, WireClosed, WireReset) as exc:  # connected, but no greeting
        expect.must(False, "rfc1939/3/2", expected=["a greeting once the connection is established"], actual=str(exc))
    s.drop()
    line = s.greeting_raw
    expect.must(line.endswith(b"\r\n") and line.count(b"\r\n") == 1, "rfc1939/4/1", expected=["one line, ended by CRLF"], actual=repr(line[:200]))
    expect.must(s.greeting.ok, "rfc1939/4/2", expected=["a positive response: +OK ..."], actual=repr(line[:200]))
    expect.must(len(line) <= 512, "rfc2449/4/4", expected=["a greeting of at most 512 octets with its CRLF"], actual=f"{len(line)} octets")
    # greeting = "+OK" [resp-code] *gchar [timestamp] *gchar CRLF; gchar excludes "<", so at most one timestamp.
    expect.must(line.count(b"<") <= 1, "rfc2449/3/3", expected=["at most one '<': the one that opens the APOP timestamp"], actual=repr(line[:200]))


@pytest.mark.requirement("rfc1939/7/29", "rfc1939/7/30", "rfc2449/3/7")
def test_apop_timestamp_is_a_msg_id_new_at_every_greeting(target, wire, expect):
    """Two connections: each greeting's <timestamp> is an RFC 822 msg-id, and they differ."""
    stamps = []
    for label in ("first greeting", "second greeting"):
        with session(expect, target, wire, label, login=False) as s:
            stamps.append(timestamp(s.greeting.text))
    if stamps[0] is None:
        expect.not_applicable("the greeting carries no <timestamp>: the server does not offer APOP (RFC 2449 6)")
    for stamp in stamps:
        expect.must(stamp is not None and MSG_ID.fullmatch(stamp), "rfc2449/3/7", expected=["<local-part@domain>, an RFC 822 msg-id"], actual=repr(stamp))
    expect.must(stamps[0] != stamps[1], "rfc1939/7/30", expected=["a different timestamp at each greeting"], actual=f"{stamps[0]!r} twice")


@pytest.mark.requirement("rfc1939/7/26", "rfc1939/4/7", "rfc1939/3/23")
def test_user_and_pass_open_the_maildrop(target, wire, expect):
    """USER name, PASS secret: +OK, and STAT then works (the TRANSACTION state)."""
    user, password = credentials(expect, target)
    if uses_apop(target):
        expect.not_applicable("the URL asks for APOP (;auth=+APOP): USER/PASS may not be allowed for this user (RFC 1939 13)")
    with session(expect, target, wire, "USER/PASS", login=False) as s:
        answer = s.send(b"USER", user)
        if not answer.ok:
            expect.not_applicable(f"USER is refused ({answer.show()}): the server does not offer USER/PASS (RFC 1939 7: optional)")
        answer = s.send(b"PASS", password)
        expect.must(answer.ok, "rfc1939/7/26", expected=["+OK: the URL's user and password open the maildrop"], actual=answer.show())
        stat = s.send(b"STAT")
        expect.must(stat.ok, "rfc1939/3/23", expected=["+OK to STAT: the session is in the TRANSACTION state"], actual=stat.show())


@pytest.mark.requirement("rfc1939/7/26", "rfc1939/4/9", "rfc1939/3/28", "rfc1939/7/19", "rfc1939/4/10", "rfc2449/8.1.2/1")
def test_a_wrong_password_is_refused_and_the_session_stays_in_authorization(target, wire, expect):
    """USER name, PASS wrong: -ERR (never [IN-USE]); STAT is still refused; USER and the right PASS then work."""
    user, password = credentials(expect, target)
    wrong = b"postel-wrong-" + secrets.token_hex(6).encode()
    with session(expect, target, wire, "wrong password", login=False) as s:
        answer = s.send(b"USER", user)
        if not answer.ok:
            expect.not_applicable(f"USER is refused ({answer.show()}): the server does not offer USER/PASS")
        answer = s.send(b"PASS", wrong)
        expect.must(not answer.ok, "rfc1939/4/9", expected=["-ERR: the password is wrong"], actual=answer.show())
        expect.must(
            not answer.response.has_code("IN-USE"),
            "rfc2449/8.1.2/1",
            expected=["no [IN-USE]: it means the authentication was successful"],
            actual=answer.show(),
        )
        if s.server_closed(wait=0.2):
            return  # "After returning a negative status indicator, the server may close the connection." (4)
        stat = s.send(b"STAT")
        expect.must(not stat.ok, "rfc1939/3/28", expected=["-ERR to STAT: the session is still in the AUTHORIZATION state"], actual=stat.show())
        if uses_apop(target):
            return
        # USER is valid "after an unsuccessful USER or PASS command", and the failed PASS released any lock (4).
        again = s.send(b"USER", user)
        expect.must(again.ok, "rfc1939/7/19", expected=["+OK to USER after a failed PASS"], actual=again.show())
        answer = s.send(b"PASS", password)
        expect.must(answer.ok, "rfc1939/4/10", expected=["+OK: the right password after a wrong one opens the maildrop"], actual=answer.show())


@pytest.mark.requirement("rfc1939/7/36", "rfc1939/7/37", "rfc1939/7/38")
def test_apop_with_the_right_digest_opens_the_maildrop_and_a_wrong_one_does_not(target, wire, expect):
    """APOP name with a wrong digest: -ERR and still AUTHORIZATION; with the right one (URL ;auth=+APOP): +OK."""
    user, password = credentials(expect, target)
    with session(expect, target, wire, "APOP", login=False) as s:
        stamp = timestamp(s.greeting.text)
        if stamp is None:
            expect.not_applicable("the greeting carries no <timestamp>: the server does not offer APOP")
        wrong = s.send(b"APOP", user, apop_digest(stamp, b"postel-wrong-" + secrets.token_hex(6).encode()))
        expect.must(not wrong.ok, "rfc1939/7/38", expected=["-ERR to a digest made with the wrong secret"], actual=wrong.show())
        if s.server_closed(wait=0.2):
            return
        stat = s.send(b"STAT")
        expect.must(not stat.ok, "rfc1939/7/38", expected=["-ERR to STAT: the session remains in the AUTHORIZATION state"], actual=stat.show())
        right = s.send(b"APOP", user, apop_digest(stamp, password))
        if not uses_apop(target) and not right.ok:
            expect.not_applicable("APOP with the URL's password is refused; give ;auth=+APOP in the URL if the user has an APOP secret")
        expect.must(right.ok, "rfc1939/7/37", expected=["+OK: the digest of the timestamp and the shared secret"], actual=right.show())
        stat = s.send(b"STAT")
        expect.must(stat.ok, "rfc1939/7/37", expected=["+OK to STAT: the session entered the TRANSACTION state"], actual=stat.show())


TRANSACTION_ONLY = [
    ("STAT", (), "rfc1939/5/4"),
    ("LIST", (), "rfc1939/5/11"),
    ("LIST", ("1",), "rfc1939/5/11"),
    ("RETR", ("1",), "rfc1939/5/22"),
    ("DELE", ("1",), "rfc1939/5/26"),
    ("NOOP", (), "rfc1939/5/31"),
    ("RSET", (), "rfc1939/5/33"),
    ("TOP", ("1", "0"), "rfc1939/7/2"),
    ("UIDL", (), "rfc1939/7/6"),
]


@pytest.mark.parametrize(
    ("verb", "args", "restriction"),
    [pytest.param(v, a, r, id=" ".join((v, *a)), marks=pytest.mark.requirement(r, "rfc1939/3/28")) for v, a, r in TRANSACTION_ONLY],
)
def test_transaction_commands_are_refused_before_login(target, wire, expect, verb, args, restriction):
    """A TRANSACTION command right after the greeting gets -ERR: "may only be given in the TRANSACTION state"."""
    with session(expect, target, wire, f"{verb} before login", login=False) as s:
        answer = s.send(verb, *args)
        expect.must(not answer.ok, restriction, expected=[f"-ERR: {verb} before authentication"], actual=answer.show())


@pytest.mark.requirement("rfc1939/7/25", "rfc1939/3/28")
def test_pass_without_user_is_refused(target, wire, expect):
    """PASS right after the greeting: -ERR ("immediately after a successful USER command" only)."""
    _user, password = credentials(expect, target)
    with session(expect, target, wire, "PASS without USER", login=False) as s:
        answer = s.send(b"PASS", password)
        expect.must(not answer.ok, "rfc1939/7/25", expected=["-ERR: no USER came before"], actual=answer.show())


@pytest.mark.parametrize(
    ("verb", "restriction"),
    [pytest.param(v, r, id=v, marks=pytest.mark.requirement(r, "rfc1939/3/28")) for v, r in (("USER", "rfc1939/7/19"), ("PASS", "rfc1939/7/25"), ("APOP", "rfc1939/7/28"))],
)
def test_authorization_commands_are_refused_after_login(target, wire, expect, verb, restriction):
    """USER, PASS or APOP in the TRANSACTION state gets -ERR: "may only be given in the AUTHORIZATION state"."""
    user, password = credentials(expect, target)
    args = {"USER": (user,), "PASS": (b"postel-not-the-password",), "APOP": (user, b"0" * 32)}[verb]
    with session(expect, target, wire, f"{verb} after login") as s:
        answer = s.send(verb, *args)
        expect.must(not answer.ok, restriction, expected=[f"-ERR: {verb} in the TRANSACTION state"], actual=answer.show())


@pytest.mark.requirement("rfc1939/4/17", "rfc1939/6/2")
def test_quit_before_login_says_ok_and_closes(target, wire, expect):
    """QUIT right after the greeting: +OK, then the server closes the connection."""
    with session(expect, target, wire, "QUIT before login", login=False) as s:
        answer = s.quit()
        expect.must(answer.ok, "rfc1939/4/17", expected=["+OK (the only response listed)"], actual=answer.show())
        expect.must(s.server_closed(), "rfc1939/6/2", expected=["the session terminates: the server closes"], actual=f"still open {s.timeout:g}s after +OK")


@pytest.mark.requirement("rfc1939/3/27")
@pytest.mark.parametrize("state", ["authorization", "transaction"])
def test_an_unknown_command_gets_err_and_the_session_goes_on(target, wire, expect, state):
    """XPST (unrecognized), then a known command: -ERR first, and the session still answers."""
    with session(expect, target, wire, f"unknown command in {state}", login=state == "transaction") as s:
        answer = s.send(b"XPST")
        expect.must(not answer.ok, "rfc1939/3/27", expected=["-ERR to an unrecognized command"], actual=answer.show())
        after = s.send(b"NOOP") if state == "transaction" else s.send(b"QUIT")
        expect.must(after.ok, "rfc1939/3/27", expected=["the session goes on: +OK to the next command"], actual=after.show())


@pytest.mark.requirement("rfc1939/3/3")
def test_keywords_are_case_insensitive(target, wire, expect):
    """'user' and 'pass' in lower case log in like USER and PASS; 'stat' answers like STAT."""
    user, password = credentials(expect, target)
    if uses_apop(target):
        expect.not_applicable("the URL asks for APOP (;auth=+APOP)")
    with session(expect, target, wire, "lower-case keywords", login=False) as s:
        first = s.send_line(b"user " + user + b"\r\n")
        if not first.ok:
            upper = s.send(b"USER", user)
            expect.must(not upper.ok, "rfc1939/3/3", expected=["'user' answered like 'USER'"], actual=f"user -> {first.show()}, USER -> {upper.show()}")
            expect.not_applicable("USER is refused: the server does not offer USER/PASS")
        second = s.send_line(b"pass " + password + b"\r\n")
        expect.must(second.ok, "rfc1939/3/3", expected=["+OK to 'pass': keywords are case-insensitive"], actual=second.show())
        stat = s.send_line(b"sTaT\r\n")
        expect.must(stat.ok, "rfc1939/3/3", expected=["+OK to 'sTaT'"], actual=stat.show())
