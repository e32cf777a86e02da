"""The SMTP suites against postfix and the POP3 suites against dovecot: servers we did not write.

The suites were written against postel's reference mail pair; postfix and
dovecot (Debian's packages, started by tests/mail_servers.py on free high
ports, postfix delivering into the Maildir dovecot serves) are independent
readings of RFC 5321 and RFC 1939/2449.  Every verdict here is a pass,
not-applicable, or an entry of that server's ``ALSO_EXPECTED`` table, which
says which RFC sentence the server deviates from and what it does instead,
confirmed on the wire.

An entry marked ``harness=True`` would be the suite's mistake, not the
server's (a check stricter than the sentence it cites), listed with its fix
and allowing ``pass``, as in tests/test_interop_http.py; there is none now
(the three these runs found were fixed in the suites).  Where a server setting
removes a deviation, ``*_FIXED_BY`` names it, and a test runs the suite tests
concerned against a pair so configured: they pass, so the deviation is the
server's default, not a misreading of the suite.

Each suite run gets a pair of its own, so neither run sees the other's mail.
The POP3 run's maildrop starts with the reference maildrop's five sample
messages (harness/protocols/mail/samples.py) and 40 older plain ones, all
delivered through postfix: a real maildrop holds mail, more than the 30
messages a POP3 check scans at most (suites/pop3/checks.py MAX_SCANNED).

``pytest -s tests/test_interop_mail.py`` prints what was observed.
"""

from __future__ import annotations

import json
import poplib
import secrets
import smtplib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from postel.protocols.mail.samples import SAMPLE_MESSAGES
from tests.mail_servers import (
    DOMAIN,
    HELO,
    RELAY_RECIPIENT,
    SENDER,
    MailServers,
    deliver,
    dovecot_version,
    mail_pair,
    mail_pair_unavailable,
    pop3_target_options,
    postfix_version,
    smtp_target_options,
)
from tests.interop import check_run, known, masked, postel_run, print_observed, skip_or_fail

pytestmark = pytest.mark.slow

OLDER_MESSAGES = 40  # plain messages in the POP3 maildrop besides the samples
TIMEOUT = 10.0  # seconds for each socket operation of the tests' own clients
DOVECOT_LOCK_WAIT = 10  # seconds dovecot (pop3_lock_session = yes) waits for a held maildrop before -ERR [IN-USE]

# What postfix 3.7 (the configuration of tests/mail_servers.py: its defaults but for relaying) does that the RFCs do not.
POSTFIX_ALSO_EXPECTED = {
    # RFC 5321 4.1.1.4: "In particular, the sequence "<LF>.<LF>" (bare line feeds,
    # without carriage returns) MUST NOT be treated as equivalent to <CRLF>.<CRLF>
    # as the end of mail data indication."  smtpd reads a bare LF as a line end
    # unless smtpd_forbid_bare_newline is set, and 3.7's default is "no": the data
    # ends at "<LF>.<LF>", the rest of the message is read as commands (the
    # "SMTP smuggling" of CVE-2023-51764).  "normalize" (the default from 3.9 on)
    # fixes it: test_postfix_deviations_go_with_the_settings_that_cause_them.
    "smtp/test_data.py::test_bare_lf_dot_lf_does_not_end_the_data": known(
        ("fail",), "<LF>.<LF> ended the data", "rfc5321/4.1.1.4/7", "smtpd_forbid_bare_newline = no (3.7's default): a bare LF ends a line"
    ),
    # RFC 5321 3.6.2: "If it declines to relay mail to a particular address for
    # policy reasons, a 550 response SHOULD be returned." and 7.9: "a 550 code
    # SHOULD be used in response to ... RCPT".  postfix answers "554 5.7.1 Relay
    # access denied": relay_domains_reject_code defaults to 554 (a code 4.3.2 does
    # not even list for RCPT).  relay_domains_reject_code = 550 fixes it.
    "smtp/test_relay.py::test_rcpt_to_a_foreign_domain_is_refused_with_550": known(
        ("warn",), "554 5.7.1", ("rfc5321/3.6.2/1", "rfc5321/7.9/2"), "relay_domains_reject_code = 554 (the default), not 550"
    ),
    "smtp/test_relay.py::test_a_source_route_does_not_open_the_relay": known(
        ("warn",), "554 5.7.1", "rfc5321/3.6.2/1", "relay_domains_reject_code = 554 (the default), not 550"
    ),
    # RFC 5321 4.1.1.8: "SMTP servers SHOULD support HELP without arguments and MAY
    # support it with arguments."  smtpd has no HELP command: "500 5.5.2 Error:
    # command not recognized", and no setting adds one.
    "smtp/test_session.py::test_help_gets_211_or_214": known(
        ("warn",), "command not recognized (to HELP)", "rfc5321/4.1.1.8/3", "no HELP command at all (500)"
    ),
    # RFC 5321 4.3.2: "commands that are specified in this document as not
    # accepting arguments (DATA, RSET, QUIT) SHOULD return a 501 message if
    # arguments are supplied in the absence of EHLO-advertised extensions." (and
    # 4.1.1's "servers SHOULD reject commands containing them").  smtpd answers
    # "QUIT postel" with "221 2.0.0 Bye" and closes (RSET and DATA with an
    # argument do get 501); no setting changes that.
    "smtp/test_session.py::test_syntax_errors_get_501_and_change_nothing": known(
        ("warn",), "221 2.0.0 Bye (to QUIT)", ("rfc5321/4.1.1/5", "rfc5321/4.3.2/6"), "QUIT with an argument: 221, not 501"
    ),
}

# Settings that remove a deviation above: name -> (value, the suite tests that then pass).
POSTFIX_FIXED_BY = {
    "smtpd_forbid_bare_newline": ("normalize", ["smtp/test_data.py::test_bare_lf_dot_lf_does_not_end_the_data"]),
    "relay_domains_reject_code": (
        "550",
        ["smtp/test_relay.py::test_rcpt_to_a_foreign_domain_is_refused_with_550", "smtp/test_relay.py::test_a_source_route_does_not_open_the_relay"],
    ),
}

# What dovecot 2.3 (POP3, its defaults) does that the RFCs do not.
DOVECOT_ALSO_EXPECTED = {
    # RFC 2449 5: "Capabilities available in the AUTHORIZATION state MUST be
    # announced in both states."  USER and SASL are "Announced states / possible
    # differences: both / no" (6.2, 6.3).  dovecot's pop3-login lists them before
    # login; after it the pop3 process answers CAPA with its own list, without
    # USER and SASL.  No setting adds them.
    "pop3/test_capa.py::test_capa_answers_in_both_states_and_keeps_its_tags": known(
        ("fail",), "missing after login: ['SASL', 'USER']", "rfc2449/5/3", "CAPA after login drops USER and SASL"
    ),
    # RFC 1939 4: "the POP3 server then acquires an exclusive-access lock on the
    # maildrop, as necessary to prevent messages from being modified or removed
    # before the session enters the UPDATE state."  pop3_lock_session defaults to
    # no: a second session logs in beside the first, and its DELE 1 + QUIT
    # removes a message the first still lists (which then gets "-ERR Message 1
    # expunged." to RETR 1).  pop3_lock_session = yes fixes it: the second
    # session waits ~10 s for the lock, then gets -ERR [IN-USE].
    "pop3/test_update.py::test_a_second_session_is_refused_while_the_first_holds_the_maildrop": known(
        ("fail",), "PASS *** -> +OK", "rfc1939/4/6", "pop3_lock_session = no (the default): no exclusive-access lock"
    ),
}

# Settings that remove a deviation above: name -> (value, the suite tests that then pass).
DOVECOT_FIXED_BY = {
    "pop3_lock_session": ("yes", ["pop3/test_update.py::test_a_second_session_is_refused_while_the_first_holds_the_maildrop"]),
}


@contextmanager
def running_pair(**settings: dict[str, str]) -> Iterator[MailServers]:
    """:func:`mail_pair`, or a skip (a failure in CI) when postfix or dovecot cannot run here."""
    reason = mail_pair_unavailable()
    if reason is not None:
        skip_or_fail(reason, "postfix and dovecot-pop3d")
    with mail_pair(**settings) as servers:
        yield servers


@pytest.fixture
def mail_servers() -> Iterator[MailServers]:
    """A fresh postfix + dovecot pair for one test."""
    with running_pair() as servers:
        yield servers


def _older_message(i: int) -> bytes:
    return (
        f"From: Earlier Sender <earlier@{DOMAIN}>\r\n"
        f"To: <postel@{DOMAIN}>\r\n"
        f"Subject: older message {i}\r\n"
        "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
        f"Message-ID: <older-{i}@{DOMAIN}>\r\n"
        "\r\n"
        f"Mail that was here before the test, number {i}.\r\n"
    ).encode()


# ---------------------------------------------------------------- the pair itself


def test_postfix_delivers_what_dovecot_serves(mail_servers: MailServers):
    """smtplib sends one message through postfix; poplib finds it over dovecot. Relay and strangers are refused."""
    marker = "postel-" + secrets.token_hex(8)
    body = f"Subject: pair check {marker}\r\nMessage-ID: <{marker}@{DOMAIN}>\r\n\r\n.a line that starts with a dot\r\nlast line\r\n".encode()
    with smtplib.SMTP("127.0.0.1", mail_servers.smtp_port, local_hostname=HELO, timeout=TIMEOUT) as client:
        code, _ = client.ehlo()
        assert code == 250
        client.mail(SENDER)
        relay = client.rcpt(RELAY_RECIPIENT)
        stranger = client.rcpt(f"no-such-user@{DOMAIN}")
        local = client.rcpt(mail_servers.recipient)
        assert relay[0] // 100 == 5, f"postfix relays for 127.0.0.1: {relay}"
        assert stranger[0] // 100 == 5, f"postfix accepts an unknown user: {stranger}"
        assert local[0] == 250, local
        code, reply = client.data(body)
        assert code == 250, reply
    deadline = time.monotonic() + TIMEOUT
    while not any(marker.encode() in p.read_bytes() for sub in ("new", "cur") for p in (mail_servers.maildir / sub).iterdir()):
        assert time.monotonic() < deadline, f"not delivered into {mail_servers.maildir}"
        time.sleep(0.05)
    pop = poplib.POP3("127.0.0.1", mail_servers.pop3_port, timeout=TIMEOUT)
    try:
        pop.user(mail_servers.user)
        with pytest.raises(poplib.error_proto):
            pop.pass_(mail_servers.password + "-wrong")
    finally:
        pop.close()
    pop = poplib.POP3("127.0.0.1", mail_servers.pop3_port, timeout=TIMEOUT)
    try:
        pop.user(mail_servers.user)
        assert pop.pass_(mail_servers.password).startswith(b"+OK")
        count, _ = pop.stat()
        assert count == 1
        _, lines, _ = pop.retr(1)
        pop.quit()
    finally:
        pop.close()
    assert f"Message-ID: <{marker}@{DOMAIN}>".encode() in lines
    assert lines[-2:] == [b".a line that starts with a dot", b"last line"], lines[-4:]
    print(f"\n{postfix_version()} on {mail_servers.smtp_url} -> {dovecot_version()} on 127.0.0.1:{mail_servers.pop3_port}: delivered")


# ---------------------------------------------------------------- the suites


def test_smtp_suites_against_postfix(mail_servers: MailServers, tmp_path):
    """Everything holds but the deviations of POSTFIX_ALSO_EXPECTED (and the harness mistakes listed there)."""
    proc, results, seconds = postel_run(mail_servers.smtp_url, tmp_path, smtp_target_options(mail_servers), "--allow-destructive")
    print_observed(postfix_version(), mail_servers.smtp_url, proc.returncode, results, POSTFIX_ALSO_EXPECTED)
    print(f"  postel run took {seconds:.1f}s")
    check_run("postfix", "smtp", proc, results, POSTFIX_ALSO_EXPECTED)


def test_pop3_suites_against_dovecot(mail_servers: MailServers, tmp_path):
    """Everything holds but the deviations of DOVECOT_ALSO_EXPECTED (and the harness mistakes listed there)."""
    deliver(mail_servers, [*(_older_message(i) for i in range(1, OLDER_MESSAGES + 1)), *SAMPLE_MESSAGES])
    url = mail_servers.pop3_url
    proc, results, seconds = postel_run(url, tmp_path, pop3_target_options(mail_servers), "--allow-destructive")
    print_observed(dovecot_version(), masked(url), proc.returncode, results, DOVECOT_ALSO_EXPECTED)
    print(f"  postel run took {seconds:.1f}s")
    assert mail_servers.password not in proc.stdout + proc.stderr + json.dumps(results), "the POP3 password leaked into the output"
    check_run("dovecot", "pop3", proc, results, DOVECOT_ALSO_EXPECTED)


# ---------------------------------------------------------------- deviations that are settings


def _only(results: dict, tests: list[str]) -> dict[str, str]:
    verdicts = {t["test_id"]: t["verdict"] for t in results["tests"]}
    return {test: verdicts.get(test, "did not run") for test in tests}


def _keyword(tests: list[str]) -> str:
    """A ``-k`` expression selecting these tests by function name."""
    return " or ".join(sorted({test.split("::")[-1] for test in tests}))


def test_postfix_deviations_go_with_the_settings_that_cause_them(tmp_path):
    """With the settings of POSTFIX_FIXED_BY, the suite tests their entries excuse pass: the deviations are postfix's defaults."""
    settings = {name: value for name, (value, _) in POSTFIX_FIXED_BY.items()}
    tests = [test for _, fixed in POSTFIX_FIXED_BY.values() for test in fixed]
    assert set(tests) <= set(POSTFIX_ALSO_EXPECTED), "a setting fixes a deviation POSTFIX_ALSO_EXPECTED does not list"
    with running_pair(postfix_settings=settings) as servers:
        proc, results, _ = postel_run(servers.smtp_url, tmp_path, smtp_target_options(servers), "--allow-destructive", "-k", _keyword(tests))
    print(f"\n{postfix_version()} with {settings}: {_only(results, tests)}")
    assert _only(results, tests) == dict.fromkeys(tests, "pass"), f"{proc.stdout[-3000:]}"


def test_dovecot_deviations_go_with_the_settings_that_cause_them(tmp_path):
    """With the settings of DOVECOT_FIXED_BY, the suite tests their entries excuse pass: the deviations are dovecot's defaults."""
    settings = {name: value for name, (value, _) in DOVECOT_FIXED_BY.items()}
    tests = [test for _, fixed in DOVECOT_FIXED_BY.values() for test in fixed]
    assert set(tests) <= set(DOVECOT_ALSO_EXPECTED), "a setting fixes a deviation DOVECOT_ALSO_EXPECTED does not list"
    with running_pair(dovecot_settings=settings) as servers:
        # dovecot waits about 10 s for the maildrop lock before it answers -ERR [IN-USE].
        options = {**pop3_target_options(servers), "timeout": str(DOVECOT_LOCK_WAIT + 5)}
        proc, results, _ = postel_run(servers.pop3_url, tmp_path, options, "--allow-destructive", "-k", _keyword(tests))
    print(f"\n{dovecot_version()} with {settings}: {_only(results, tests)}")
    assert _only(results, tests) == dict.fromkeys(tests, "pass"), f"{proc.stdout[-3000:]}"

