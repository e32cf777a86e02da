"""Real SMTP clients against the reference SMTP server: Python's smtplib, curl and swaks.

The suites read the server with postel's own codec, and a codec and a server
written together can share a misreading.  These clients are independent
writers: each sends mail its own way (its own dot-stuffing, its own use of
SIZE, 8BITMIME and PIPELINING) and every check reads the delivered file back
from the Maildir, after the server's trace fields.

Without curl or swaks (Debian packages ``curl``, ``swaks``) their tests skip,
but fail when ``CI`` is set.
"""

from __future__ import annotations

import email.parser
import email.policy
import smtplib
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp.server import SmtpServer, split_trace
from postel.serving import ServerThread
from tests.processes import installed

TIMEOUT = 20
USERS = {"postel": "pw", "alice": "pw2"}
LIMIT = 200_000  # the SIZE the server offers here
# A body with every transparency case a client must stuff: lines starting with ".", a lone "." (not last), 8-bit octets.
BODY = b".leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n" + b"x" * 998 + b"\r\nlast\r\n"


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path / "mail", domains=("postel.test",), users=USERS)


@pytest.fixture
def smtp(store: MailStore) -> Iterator[tuple[str, int]]:
    thread = ServerThread(SmtpServer(store, max_message_size=LIMIT), "smtp").start()
    try:
        yield thread.server.address
        thread.check()
    finally:
        thread.stop()


def delivered(store: MailStore, user: str = "postel") -> list[bytes]:
    box = store.mailbox(user)
    return [split_trace(box.read(key))[1] for key in box.keys()]


# ---------------------------------------------------------------- smtplib


def test_smtplib_send_message(smtp, store):
    message = EmailMessage()
    message["From"] = "Sender <sender@client.example>"
    message["To"] = "postel@postel.test"
    message["Subject"] = "smtplib send_message"
    message.set_content(".a line that starts with a dot\n.\nGrüße aus Köln\n", cte="8bit")
    with smtplib.SMTP(*smtp, timeout=TIMEOUT) as client:
        code, _ = client.ehlo("client.example")
        assert code == 250
        for extension in ("size", "8bitmime", "pipelining", "enhancedstatuscodes"):
            assert client.has_extn(extension), extension
        assert client.esmtp_features["size"] == str(LIMIT)
        assert client.send_message(message, mail_options=["BODY=8BITMIME"]) == {}
    (stored,) = delivered(store)
    assert stored == message.as_bytes(policy=email.policy.SMTP)  # what smtplib sent, unstuffed, CRLF ends
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(stored)
    assert parsed["Subject"] == "smtplib send_message"
    assert parsed.get_content().replace("\r\n", "\n") == ".a line that starts with a dot\n.\nGrüße aus Köln\n"


def test_smtplib_sendmail_bytes_and_several_recipients(smtp, store):
    wire = b"Subject: raw\r\n\r\n" + BODY
    with smtplib.SMTP(*smtp, timeout=TIMEOUT) as client:
        refused = client.sendmail("sender@client.example", ["postel@postel.test", "alice@postel.test", "nobody@postel.test"], wire)
    assert set(refused) == {"nobody@postel.test"} and refused["nobody@postel.test"][0] == 550
    assert delivered(store, "postel") == delivered(store, "alice") == [wire]


def test_smtplib_size_over_the_limit_is_refused_at_mail(smtp, store):
    big = b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * (LIMIT // 100 + 10)
    with smtplib.SMTP(*smtp, timeout=TIMEOUT) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("sender@client.example", ["postel@postel.test"], big)  # smtplib sends SIZE= when offered
        assert refused.value.smtp_code == 552
        client.rset()
        assert client.sendmail("sender@client.example", ["postel@postel.test"], big[:LIMIT - 100] + b"\r\n") == {}
    assert len(delivered(store)) == 1


def test_smtplib_relay_is_refused(smtp, store):
    with smtplib.SMTP(*smtp, timeout=TIMEOUT) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("sender@client.example", ["victim@elsewhere.example"], b"Subject: relay?\r\n\r\nno\r\n")
        assert refused.value.recipients["victim@elsewhere.example"][0] == 550
    assert delivered(store) == []


def test_smtplib_helo_verify_help_noop(smtp, store):
    with smtplib.SMTP(*smtp, timeout=TIMEOUT) as client:
        assert client.helo("client.example")[0] == 250
        assert not client.does_esmtp
        assert client.verify("postel")[0] == 252
        assert client.help().startswith(b"2.0.0 ")
        assert client.noop()[0] == 250
        assert client.sendmail("sender@client.example", ["Postmaster"], b"Subject: helo\r\n\r\nhi\r\n") == {}  # no SIZE after HELO
    assert delivered(store) == [b"Subject: helo\r\n\r\nhi\r\n"]


# ---------------------------------------------------------------- curl


def curl(smtp: tuple[str, int], *args: str) -> subprocess.CompletedProcess:
    host, port = smtp
    return subprocess.run([installed("curl"), "-sS", "-v", f"smtp://{host}:{port}/client.example", *args], capture_output=True, timeout=TIMEOUT)


def test_curl_uploads_a_message(smtp, store, tmp_path):
    message = tmp_path / "message.eml"
    message.write_bytes(b"From: sender@client.example\r\nSubject: curl\r\n\r\n" + BODY)
    done = curl(smtp, "--mail-from", "sender@client.example", "--mail-rcpt", "postel@postel.test", "--upload-file", str(message))
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    transcript = done.stderr.decode(errors="replace")
    assert "> MAIL FROM:<sender@client.example> SIZE=%d" % message.stat().st_size in transcript  # curl uses the SIZE offered
    assert delivered(store) == [message.read_bytes()]


def test_curl_relay_is_refused(smtp, store, tmp_path):
    message = tmp_path / "message.eml"
    message.write_bytes(b"Subject: relay?\r\n\r\nno\r\n")
    done = curl(smtp, "--mail-from", "sender@client.example", "--mail-rcpt", "victim@elsewhere.example", "--upload-file", str(message))
    assert done.returncode == 55 and b"RCPT failed: 550" in done.stderr  # curl: (55) RCPT failed
    assert delivered(store) == []


def test_curl_vrfy(smtp):
    done = curl(smtp, "--mail-rcpt", "postel")
    assert done.returncode == 0 and done.stdout.startswith(b"252 2.5.0 ") and b"<postel@postel.test>" in done.stdout


# ---------------------------------------------------------------- swaks


def swaks(smtp: tuple[str, int], *args: str) -> subprocess.CompletedProcess:
    host, port = smtp
    return subprocess.run(
        [installed("swaks"), "--server", host, "--port", str(port), "--helo", "client.example", "--from", "sender@client.example", *args],
        capture_output=True,
        timeout=TIMEOUT,
    )


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "pipelined"])
def test_swaks_sends_a_message(smtp, store, tmp_path, pipeline):
    # swaks ends the data with CRLF "." CRLF after a data that ends in a newline too (an extra empty line), so the file has none
    body = BODY.replace(b"\r\n.\r\n", b"\r\n. \r\n")  # a lone "." line is swaks' own end-of-data marker
    data = tmp_path / "data.eml"
    data.write_bytes(b"From: sender@client.example\r\nSubject: swaks\r\n\r\n" + body.removesuffix(b"\r\n"))
    done = swaks(smtp, "--to", "postel@postel.test", "--data", "@" + str(data), *(["--pipeline"] if pipeline else []))
    out = done.stdout.decode(errors="replace")
    assert done.returncode == 0, out
    if pipeline:
        # MAIL, RCPT and DATA went out before the first of their replies came back
        assert out.index(" -> DATA") < out.index("<-  250 2.1.0")
    assert delivered(store) == [data.read_bytes() + b"\r\n"]


def test_swaks_relay_is_refused(smtp, store):
    done = swaks(smtp, "--to", "victim@elsewhere.example")
    assert done.returncode == 24, done.stdout.decode(errors="replace")  # swaks: "no RCPTs accepted"
    assert b"550 5.7.1" in done.stdout
    assert delivered(store) == []
