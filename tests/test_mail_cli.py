"""``postel serve smtp`` and ``postel serve pop3``: two processes on one Maildir root make a working mail pair.

What a user of the CLI relies on: the first line says where each server
listens, a password given on the command line is not echoed (a generated one
is, since nobody else knows it), mail sent to the SMTP process is read from
the POP3 process, and bad arguments are one line and exit 2.
"""

from __future__ import annotations

import contextlib
import poplib
import re
import signal
import smtplib
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import POSTEL
from tests.processes import START_TIMEOUT, STOP_TIMEOUT, postel_serve

ANNOUNCEMENT = re.compile(r"postel: (?P<proto>smtp|pop3) server on (?P<url>\S+) .*\(Ctrl-C stops\)")
URL = re.compile(r"(?P<scheme>smtp|pop3)://(?:(?P<user>[^:@/]+)(?::(?P<password>[^@/]+))?@)?(?P<host>[0-9.]+):(?P<port>[0-9]+)/")


@contextlib.contextmanager
def postel_serve_mail(protocol: str, *args: str) -> Iterator[re.Match]:
    """``postel serve smtp|pop3 --port 0 ARGS``; yields its URL, parsed; on a clean way out, SIGTERM must stop it with exit 0."""
    with postel_serve(protocol, "--port", "0", *args) as (proc, line):
        match = ANNOUNCEMENT.fullmatch(line)
        assert match and match["proto"] == protocol, f"unexpected first line: {line!r}"
        url = URL.fullmatch(match["url"])
        assert url, match["url"]
        yield url
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(STOP_TIMEOUT) == 0


def test_mail_sent_to_serve_smtp_is_read_from_serve_pop3(tmp_path):
    args = ("--maildir", str(tmp_path / "new-folder"), "--user", "alice:s3cret-pw", "--domain", "example.test")
    with postel_serve_mail("smtp", *args) as smtp_url, postel_serve_mail("pop3", *args) as pop3_url:
        assert pop3_url["user"] == "alice" and pop3_url["password"] is None  # given on the command line: not echoed
        with smtplib.SMTP(smtp_url["host"], int(smtp_url["port"]), timeout=10) as client:
            refused = client.sendmail("bob@example.test", ["alice@example.test"], b"Subject: hi\r\n\r\n.dot line\r\nend\r\n")
            assert refused == {}
        pop = poplib.POP3(pop3_url["host"], int(pop3_url["port"]), timeout=10)
        try:
            pop.user("alice")
            pop.pass_("s3cret-pw")
            count, _size = pop.stat()
            assert count == 1  # a given --maildir is not seeded with samples
            lines = pop.retr(1)[1]
            assert lines[-4:] == [b"Subject: hi", b"", b".dot line", b"end"]
            assert any(line.startswith(b"Received: from") for line in lines)
        finally:
            pop.quit()


def test_serve_pop3_without_arguments_serves_the_samples_with_a_generated_password():
    with postel_serve_mail("pop3") as url:
        assert url["user"] == "postel" and url["password"]
        pop = poplib.POP3(url["host"], int(url["port"]), timeout=10)
        try:
            pop.user(url["user"])
            pop.pass_(url["password"])
            assert pop.stat()[0] >= 5
        finally:
            pop.quit()


@pytest.mark.parametrize(
    "args, message",
    [
        (["smtp", "--user", "nopassword"], "give NAME:PASSWORD"),
        (["pop3", "--maildir", "/dev/null"], "is not a directory"),
        (["pop3", "--maildir", "/dev/null/mail"], "cannot create --maildir"),
        (["smtp", "--user", "../x:pw"], "not a plain local-part"),
        (["http", "--user", "a:b"], "are for 'serve smtp' and 'serve pop3' only"),
        (["smtp", "--root", "."], "not for 'serve smtp'"),
        (["pop3", "--fault", "no_such_fault"], "unknown fault"),
    ],
)
def test_bad_serve_arguments_are_one_line_and_exit_2(args, message):
    proc = subprocess.run([POSTEL, "serve", *args], capture_output=True, text=True, timeout=START_TIMEOUT)
    assert proc.returncode == 2, proc
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
