"""The POP3 session logic (``Pop3Session``) without sockets or a clock: RFC 1939 4 to 7, one command at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore, MaildropLocked
from postel.protocols.mail.samples import SAMPLE_MESSAGES
from postel.protocols.pop3.events import apop_digest
from postel.protocols.pop3.maildrop import Pop3Session, top_of_message
from postel.protocols.pop3.state import AUTHORIZATION, CLOSED, TRANSACTION


from tests.pop3_kit import PASSWORD, USER, store  # noqa: F401 (a fixture)


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
