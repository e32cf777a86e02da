"""Real POP3 clients against the reference POP3 server: Python's poplib and curl.

The suites read the server with postel's own codec, and a codec and a server
written together can share a misreading.  poplib and curl are independent
readers: each must log in (poplib with USER/PASS and with APOP; curl picks
APOP by itself when the greeting has a timestamp), and get each message's
exact octets back after un-stuffing, the listings, and the deletions only
after QUIT.  The messages are put in with ``Maildir.deliver`` first, as the
SMTP server puts them.

Without curl the curl tests skip, but fail when ``CI`` is set (``.ci/run``
installs curl), as in tests/test_http_clients.py.
"""

from __future__ import annotations

import poplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore
from postel.protocols.mail.samples import SAMPLE_MESSAGES
from postel.protocols.pop3.server import Pop3Server
from postel.serving import ServerThread
from tests.processes import installed

USER, PASSWORD = "postel", "s3cret-pw"
TIMEOUT = 20  # seconds for one client command; each takes milliseconds
# Beside the samples (one starts lines with "."): a body whose lines are nothing but dots.
DOTS = b"Subject: dots\r\nFrom: a@postel.test\r\n\r\n.\r\n..\r\n...\r\nend\r\n"
MESSAGES = (*SAMPLE_MESSAGES, DOTS)


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path / "mail", users={USER: PASSWORD})


@pytest.fixture
def keys(store: MailStore) -> list[str]:
    box = store.mailbox(USER)
    return [box.deliver(message) for message in MESSAGES]


@pytest.fixture
def address(store: MailStore, keys: list[str]) -> Iterator[tuple[str, int]]:
    thread = ServerThread(Pop3Server(store, login_delay=0.2), "pop3").start()
    yield thread.server.address
    thread.stop()
    thread.check()


def joined(lines: list[bytes]) -> bytes:
    """poplib hands back lines without CRLF, already un-stuffed."""
    return b"".join(line + b"\r\n" for line in lines)


# ---------------------------------------------------------------- poplib


def test_poplib_user_pass_reads_listings_and_every_message(address, keys):
    pop = poplib.POP3(*address, timeout=TIMEOUT)
    try:
        assert pop.getwelcome().startswith(b"+OK")
        assert set(pop.capa()) >= {"TOP", "USER", "UIDL", "PIPELINING", "RESP-CODES"}
        pop.user(USER)
        pop.pass_(PASSWORD)
        assert pop.stat() == (len(MESSAGES), sum(map(len, MESSAGES)))
        assert pop.list()[1] == [b"%d %d" % (n, len(m)) for n, m in enumerate(MESSAGES, 1)]
        assert pop.uidl()[1] == [b"%d %s" % (n, key.encode()) for n, key in enumerate(keys, 1)]
        assert pop.uidl(2) == b"+OK 2 " + keys[1].encode()
        for n, message in enumerate(MESSAGES, 1):
            _response, lines, _octets = pop.retr(n)
            assert joined(lines) == message, n
        head = DOTS.split(b"\r\n\r\n", 1)[0]
        assert joined(pop.top(len(MESSAGES), 2)[1]) == head + b"\r\n\r\n.\r\n..\r\n"
        pop.dele(1)
        with pytest.raises(poplib.error_proto, match="already deleted"):
            pop.retr(1)
        assert pop.stat()[0] == len(MESSAGES) - 1
        pop.rset()
        assert pop.stat()[0] == len(MESSAGES)
        pop.dele(len(MESSAGES))
        assert pop.quit().startswith(b"+OK")
    finally:
        pop.close()


def test_poplib_dele_takes_effect_at_quit_and_not_on_a_drop(address, store, keys):
    box = store.mailbox(USER)
    pop = poplib.POP3(*address, timeout=TIMEOUT)
    pop.user(USER)
    pop.pass_(PASSWORD)
    pop.dele(1)
    pop.close()  # no QUIT
    pop = poplib.POP3(*address, timeout=TIMEOUT)
    try:
        pop.user(USER)
        for _ in range(50):  # the server lets go of the lock a moment after the drop
            try:
                pop.pass_(PASSWORD)
                break
            except poplib.error_proto as exc:
                assert b"IN-USE" in exc.args[0]
                pop.user(USER)
        assert pop.stat()[0] == len(MESSAGES)  # the dropped session removed nothing
        pop.dele(1)
        pop.quit()
    finally:
        pop.close()
    assert box.keys() == keys[1:]


def test_poplib_apop_and_wrong_password(address):
    pop = poplib.POP3(*address, timeout=TIMEOUT)
    try:
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            pop.apop(USER, "wrong")
        assert pop.apop(USER, PASSWORD).startswith(b"+OK")
        assert pop.stat()[0] == len(MESSAGES)
        pop.quit()
    finally:
        pop.close()


# ---------------------------------------------------------------- curl


@pytest.fixture(scope="module")
def curl() -> str:
    return installed("curl")


def run_curl(curl: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([curl, "-sS", "--max-time", str(TIMEOUT), *args], capture_output=True, timeout=TIMEOUT + 10)


def url(address: tuple[str, int], path: str = "", password: str = PASSWORD) -> str:
    return f"pop3://{USER}:{password}@{address[0]}:{address[1]}/{path}"


def test_curl_retrieves_each_message_exactly(curl, address):
    for n, message in enumerate(MESSAGES, 1):
        done = run_curl(curl, url(address, str(n)))
        assert done.returncode == 0, done.stderr
        assert done.stdout == message, n


def test_curl_logs_in_with_apop_from_the_greeting_timestamp(curl, address):
    done = run_curl(curl, "-v", url(address, "1"))
    assert done.returncode == 0, done.stderr
    assert b"> APOP postel " in done.stderr and b"> USER" not in done.stderr


def test_curl_lists(curl, address):
    for args in (["-l"], []):
        done = run_curl(curl, *args, url(address))
        assert done.returncode == 0, done.stderr
        assert done.stdout == b"".join(b"%d %d\r\n" % (n, len(m)) for n, m in enumerate(MESSAGES, 1))


def test_curl_uidl_and_dele(curl, address, store, keys):
    done = run_curl(curl, "-X", "UIDL", url(address))
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"".join(b"%d %s\r\n" % (n, key.encode()) for n, key in enumerate(keys, 1))
    done = run_curl(curl, "-X", "DELE 2", "-I", url(address))
    assert done.returncode == 0, done.stderr
    assert store.mailbox(USER).keys() == [keys[0], *keys[2:]]  # curl ends with QUIT: UPDATE removed it


def test_curl_wrong_password_is_an_authentication_failure(curl, address):
    done = run_curl(curl, url(address, "1", password="wrong"))
    assert done.returncode == 67, (done.returncode, done.stderr)  # CURLE_LOGIN_DENIED
