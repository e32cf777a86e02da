"""The reference POP3 server's later fault switches, each over a raw socket: it changes what its name says and no more.

Why: tests/test_pop3_faults.py proves a suite check catches each switch; a
switch that broke something else as well would let a check "catch" the wrong
thing.  These are the switches added for the listing, minimal-command, QUIT and
capability-argument checks (suites/pop3/test_listings.py, test_capa_values.py);
the first ones are proved in tests/test_pop3_server.py; the fixtures and the
``Raw`` peer come from tests/pop3_kit.py.
"""

from __future__ import annotations

import re

import pytest

from postel.protocols.pop3.server import FAULTS
from tests.pop3_kit import Raw, serve, store  # noqa: F401 -- fixtures
from tests.test_pop3_server import CONTRACT_FAULTS

LATER_FAULTS = {
    "stat_not_decimal", "uidl_with_extra", "no_noop", "quit_keeps_connection", "implementation_without_tokens",
    "expire_shrinks_after_login", "expire_not_days", "noop_without_cr",
}


def capa(raw: Raw) -> list[bytes]:
    return raw.multi(b"CAPA")[1]


def test_the_fault_names_are_the_contracts_and_these():
    assert FAULTS == CONTRACT_FAULTS | LATER_FAULTS


def test_fault_stat_not_decimal(serve):
    with Raw(serve(faults={"stat_not_decimal"}).server.address) as raw:
        raw.login()
        stat = raw.cmd(b"STAT")
        listed = raw.multi(b"LIST")[1]
    assert re.fullmatch(rb"\+OK [0-9]+ 0x[0-9a-f]+", stat)
    assert int(stat.split(b" ")[2], 16) == sum(int(line.split(b" ")[1]) for line in listed)  # the right number, in hex


def test_fault_uidl_with_extra(serve):
    with Raw(serve(faults={"uidl_with_extra"}).server.address) as raw:
        raw.login()
        listing = raw.multi(b"UIDL")[1]
        sizes = raw.multi(b"LIST")[1]
        one = raw.cmd(b"UIDL 1")
    assert [line.rsplit(b" ", 1)[1] for line in listing] == [line.split(b" ")[1] for line in sizes]
    assert re.fullmatch(rb"\+OK 1 [\x21-\x7e]{1,70}", one)  # UIDL n is left right


def test_fault_no_noop(serve):
    with Raw(serve(faults={"no_noop"}).server.address) as raw:
        assert raw.login().startswith(b"+OK")
        assert raw.cmd(b"NOOP") == b"-ERR unknown command"
        assert raw.cmd(b"RSET").startswith(b"+OK")


def test_fault_quit_keeps_connection(serve, store):
    with Raw(serve(faults={"quit_keeps_connection"}).server.address) as raw:
        raw.login()
        keys = store.mailbox("postel").keys()
        raw.cmd(b"DELE 1")
        assert raw.cmd(b"QUIT").startswith(b"+OK")
        assert store.mailbox("postel").keys() == keys[1:]  # the UPDATE state happened
        raw.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            raw.file.read(1)  # neither EOF nor anything more: the connection stays open
    with Raw(serve(faults={"quit_keeps_connection"}).server.address) as raw:
        assert raw.cmd(b"QUIT").startswith(b"+OK") and raw.closed()  # QUIT before login still closes


def test_fault_implementation_without_tokens(serve):
    with Raw(serve(faults={"implementation_without_tokens"}).server.address) as raw:
        before = capa(raw)
        raw.login()
        after = capa(raw)
    assert b"IMPLEMENTATION" in before and b"IMPLEMENTATION" in after
    assert b"TOP" in before and b"EXPIRE NEVER" in before


def test_fault_expire_shrinks_after_login(serve):
    with Raw(serve(faults={"expire_shrinks_after_login"}).server.address) as raw:
        before = capa(raw)
        raw.login()
        after = capa(raw)
    assert b"EXPIRE NEVER" in before and b"EXPIRE 0" in after
    assert [c for c in before if not c.startswith(b"EXPIRE")] == [c for c in after if not c.startswith(b"EXPIRE")]


def test_fault_expire_not_days(serve):
    with Raw(serve(faults={"expire_not_days"}).server.address) as raw:
        before = capa(raw)
        raw.login()
        after = capa(raw)
    assert b"EXPIRE 1w" in before and b"EXPIRE 1w" in after


def test_fault_noop_without_cr(serve):
    with Raw(serve(faults={"noop_without_cr"}).server.address) as raw:
        raw.login()
        raw.send(b"NOOP\r\nSTAT\r\n")
        assert raw.file.readline() == b"+OK\n"
        assert raw.line().startswith(b"+OK ")  # the next answer is right
