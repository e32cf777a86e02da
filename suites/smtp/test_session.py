"""The session: greeting, EHLO/HELO, the simple commands, and the reply code each command may get.

RFC 5321 4.3.2 lists the replies of each command.  A reply class (first
digit) the list does not give a command changes what the code means for it
("354 to RSET": send the data) and fails rfc5321/4.3.1/5 (MUST); another code
of a listed class, or an unlisted 4yz/5yz, only warns on the row's SHOULD
(see postel.protocols.smtp.sequences).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.smtp.client import SmtpClient
from postel.protocols.smtp.events import Command
from postel.suites.smtp.checks import (
    connect,
    domain_first_problem,
    expect_code,
    expect_listed,
    extra_replies,
    helo,
    probe_recipient,
    sender,
    session,
)
from postel.wire import WireError

pytestmark = pytest.mark.service("smtp")

MEANING = "rfc5321/4.3.1/5"


@pytest.mark.requirement("rfc5321/4.2/6", "rfc5321/4.3.1/3", "rfc5321/4.3.2/7", MEANING)
def test_greeting_is_220_and_names_the_server(target, wire, expect):
    """Connects and reads the greeting: "220 " Domain [SP text] (4.2), one 4.3.2 lists for the connection."""
    client = SmtpClient(target.address, timeout=wire.timeout, transcript=wire.transcript("greeting"))
    with client:
        client.greet()
        answer = client.log[-1]
        expect_listed(expect, answer)
        if answer.code != 220:
            expect.inconclusive(f"the server refused the session ({answer.describe()}): its greeting grammar is not judged")
        problem = domain_first_problem(answer)
        expect.must(problem is None, "rfc5321/4.2/6", expected=['"220 " (Domain / address-literal) [ SP textstring ] CRLF'], actual=problem)
        expect.must(problem is None, "rfc5321/4.3.1/3", expected=["the server's domain as the first word after 220"], actual=problem)


@pytest.mark.requirement("rfc5321/2.2.1/2", "rfc5321/4.1.1.1/9", "rfc5321/4.1.1.1/10", "rfc5321/4.1.1.1/11", "rfc5321/4.2.1/1")
def test_ehlo_reply_is_one_multiline_250_of_keywords(target, wire, expect):
    """EHLO: one 250 reply, "250-" on every line but the last, the server's domain first, then ehlo-lines."""
    client = connect(target, wire, "EHLO")
    with client:
        try:
            reply = client.ehlo(helo(target))
            extra = extra_replies(client)
        except RemoteProtocolError as exc:
            if exc.requirement not in ("rfc5321/4.2/1", "rfc5321/4.2.1/2"):
                raise
            reply, extra = None, f"{exc}; received {client.transcript.received()[-400:]!r}"
        expect.must(
            extra is None,
            "rfc5321/4.1.1.1/9",
            expected=['one reply: "250-" on each line but the last, "250 " on the last'],
            actual=extra or "",
        )
        assert reply is not None
        expect.must(reply.code == 250, "rfc5321/2.2.1/2", expected=["250: servers MUST support EHLO"], actual=client.log[-1].describe())
        answer = client.log[-1]
        continuation = [raw[:4] for raw in answer.raw]
        expect.must(
            all(c == b"250-" for c in continuation[:-1]) and continuation[-1] in (b"250 ", b"250\r"),
            "rfc5321/4.2.1/1",
            expected=["250- on every line but the last"],
            actual=repr(continuation),
        )
        problem = domain_first_problem(answer)
        expect.must(problem is None, "rfc5321/4.1.1.1/10", expected=['"250" SP/"-" Domain [ SP ehlo-greet ]'], actual=problem)
        # rfc5321/4.1.1.1/11, ehlo-line = ehlo-keyword *( SP ehlo-param ): the strict client's ehlo() raised if a line was not


@pytest.mark.requirement("rfc5321/2.2.1/4", "rfc5321/4.1.1.1/5", "rfc5321/3.2/2")
def test_helo_gets_a_one_line_250_without_keywords(target, wire, expect):
    """HELO <domain>: 250, on one line: "Servers MUST NOT return the extended EHLO-style response to a HELO"."""
    client = connect(target, wire, "HELO")
    with client:
        client.helo(helo(target))
        expect_code(expect, client, {250}, "rfc5321/2.2.1/4", "(HELO is supported)")
        answer = expect_code(expect, client, {250}, "rfc5321/4.1.1.1/5", "(servers MUST support HELO and reply properly)")
        expect.must(len(answer.raw) == 1, "rfc5321/3.2/2", expected=["a single-line 250"], actual=answer.describe())


@pytest.mark.requirement("rfc5321/4.1.1.10/1", "rfc5321/3.8/1")
def test_quit_gets_221_and_the_server_closes(target, wire, expect):
    """QUIT: 221, then the server closes the connection."""
    with session(target, wire, "QUIT") as client:
        client.quit()
        expect_code(expect, client, {221}, "rfc5321/4.1.1.10/1")
        closed = client.wait_closed(wire.timeout)
        for requirement in ("rfc5321/4.1.1.10/1", "rfc5321/3.8/1"):
            expect.must(closed, requirement, expected=["221, and then the server closes the connection"], actual=f"still open {wire.timeout:g}s after the 221")


@pytest.mark.requirement("rfc5321/4.1.1.9/1", "rfc5321/4.1.1.9/3", "rfc5321/4.1.1/2")
def test_noop_gets_250_with_or_without_a_parameter(target, wire, expect):
    """NOOP, NOOP with a parameter, NOOP with trailing white space: 250 each."""
    with session(target, wire, "NOOP") as client:
        client.noop()
        expect_code(expect, client, {250}, "rfc5321/4.1.1.9/1")
        client.noop("postel says hello")
        expect_code(expect, client, {250}, "rfc5321/4.1.1.9/3", "(the parameter string is ignored)")
        client.send_raw(b"NOOP \r\n")
        client.read_reply()
        expect_code(expect, client, {250}, "rfc5321/4.1.1/2", 'to "NOOP " (trailing white space tolerated)')


@pytest.mark.requirement("rfc5321/4.1.1.5/2", "rfc5321/4.1.1.5/3")
def test_rset_gets_250_before_ehlo_and_inside_a_transaction(target, wire, expect):
    """RSET before EHLO, after EHLO, and after MAIL: 250 each time, and the connection stays open."""
    client = connect(target, wire, "RSET")
    with client:
        client.rset()
        expect_code(expect, client, {250}, "rfc5321/4.1.1.5/2", "(RSET before EHLO)")
        client.ehlo(helo(target))
        client.rset()
        expect_code(expect, client, {250}, "rfc5321/4.1.1.5/2", "(RSET after EHLO)")
        client.mail(sender(target))
        client.rset()
        expect_code(expect, client, {250}, "rfc5321/4.1.1.5/2", "(RSET after MAIL)")
        client.noop()
        expect.must(client.log[-1].code == 250, "rfc5321/4.1.1.5/3", expected=["the session goes on after RSET"], actual=client.log[-1].describe())


@pytest.mark.requirement("rfc5321/4.5.1/1", "rfc5321/3.5.3/2", "rfc5321/3.5.1/3", "rfc5321/4.3.2/13", MEANING)
def test_vrfy_is_implemented_and_never_verifies_a_made_up_name(target, wire, expect):
    """VRFY of a random local-part: not 500/502 (VRFY is required), and never 250 (nothing was verified)."""
    with session(target, wire, "VRFY") as client:
        client.vrfy("postel-nobody-7f3a9c")
        answer = client.log[-1]
        expect_listed(expect, answer)
        expect.must(answer.code not in (500, 502), "rfc5321/4.5.1/1", expected=["VRFY implemented: 250/251/252 or a 5yz of 3.5"], actual=answer.describe())
        expect.must(answer.code != 250, "rfc5321/3.5.3/2", expected=["no 250 for a mailbox that does not exist"], actual=answer.describe())
        client.vrfy(probe_recipient(target).split("@")[0])
        answer = client.log[-1]
        expect_listed(expect, answer)
        if answer.code == 250:
            text = answer.reply.lines[0]
            expect.must(b"@" in text, "rfc5321/3.5.1/3", expected=["User Name <local-part@domain> or local-part@domain"], actual=answer.describe())


@pytest.mark.requirement("rfc5321/4.1.1.8/3", "rfc5321/4.3.2/15", MEANING)
def test_help_gets_211_or_214(target, wire, expect):
    """HELP without an argument: "SMTP servers SHOULD support HELP without arguments"."""
    with session(target, wire, "HELP") as client:
        client.help()
        expect_listed(expect, client.log[-1])
        expect_code(expect, client, {211, 214}, "rfc5321/4.1.1.8/3")


@pytest.mark.requirement("rfc5321/4.2.4/2", "rfc5321/3.8/4", "rfc5321/3.8/5")
def test_unknown_command_gets_500_and_the_session_goes_on(target, wire, expect):
    """XYZZY: 500, then NOOP still gets 250 (closing on an unknown command violates 3.8)."""
    with session(target, wire, "unknown command") as client:
        client.send_raw(b"XYZZY postel\r\n")
        client.read_reply()
        expect_code(expect, client, {500}, "rfc5321/4.2.4/2", '"command not recognized"')
        expect_code(expect, client, {500}, "rfc5321/3.8/5", "and awaiting further instructions")
        try:
            client.noop()
            actual = client.log[-1].describe()
        except WireError as exc:
            actual = f"NOOP after the unknown command got no reply: {exc}"
        went_on = client.log[-1].code == 250 and client.log[-1].answers == b"NOOP"
        expect.must(went_on, "rfc5321/3.8/4", expected=["the session goes on: NOOP gets 250"], actual=actual)


@pytest.mark.requirement("rfc5321/4.1.4/15", "rfc5321/4.1.1/5", "rfc5321/4.3.2/6", "rfc5321/4.1.4/5", "rfc5321/4.1.4/6")
def test_syntax_errors_get_501_and_change_nothing(target, wire, expect):
    """A MAIL that does not parse, DATA/RSET/QUIT with arguments, EHLO with no domain: 501, state unchanged."""
    with session(target, wire, "syntax errors") as client:
        client.send_raw(b"MAIL FROM:<postel-suite@postel.test\r\n")
        client.read_reply()
        expect_code(expect, client, {501}, "rfc5321/4.1.4/15", "to a MAIL whose path does not parse")
        client.rcpt(probe_recipient(target))
        expect_code(expect, client, {503}, "rfc5321/4.1.4/15", "to RCPT: the rejected MAIL opened no transaction")
        client.send_raw(b"EHLO\r\n")
        client.read_reply()
        expect_code(expect, client, {501, 500, 502, 550}, "rfc5321/4.1.4/5", "to EHLO without a domain")
        client.mail(sender(target))
        expect_code(expect, client, {250}, "rfc5321/4.1.4/6", "to MAIL: the refused EHLO left the session initialized")
        # Last, since a server that takes "QUIT postel" for QUIT ends the session.
        for raw in (b"RSET postel\r\n", b"QUIT postel\r\n"):
            client.send_raw(raw)
            client.read_reply()
            expect_code(expect, client, {501}, "rfc5321/4.1.1/5", f"to {raw.strip().decode()!r}")
            expect_code(expect, client, {501}, "rfc5321/4.3.2/6", "(no arguments without an extension)")


CASE_STEPS = ("EHLO {helo}", "MAIL FROM:<{sender}>", "RCPT TO:<{rcpt}>", "RSET", "NOOP")


@pytest.mark.requirement("rfc5321/2.4/1")
def test_verbs_and_keywords_are_case_insensitive(target, wire, expect):
    """EHLO, MAIL FROM:, RCPT TO:, RSET, NOOP in upper case, then in lower and mixed case: the same reply codes."""
    values = {"helo": helo(target), "sender": sender(target), "rcpt": probe_recipient(target)}
    codes = {}
    for label, spell in (("upper", str.upper), ("lower", str.lower), ("mixed", str.title)):
        client = connect(target, wire, f"{label} case")
        with client:
            for step in CASE_STEPS:
                command, _, rest = step.partition(" ")
                keyword, colon, path = rest.partition(":")
                text = spell(command) + (" " + (spell(keyword) + colon + path if colon else keyword) if rest else "")
                client.send_raw(text.format(**values).encode() + b"\r\n", answers=[command.encode()])
                client.read_reply()
            codes[label] = [a.code for a in client.log[1:]]
    for label in ("lower", "mixed"):
        expect.must(
            codes[label] == codes["upper"],
            "rfc5321/2.4/1",
            expected=[f"the upper-case replies {codes['upper']}"],
            actual=f"{label} case: {codes[label]}",
        )


@pytest.mark.requirement("rfc5321/2.3.5/3", "rfc5321/4.5.1/3")
def test_postmaster_without_a_domain_is_accepted(target, wire, expect):
    """RCPT TO:<Postmaster> and RCPT TO:<postmaster>: 250 (no domain needed, case-insensitive)."""
    with session(target, wire, "postmaster") as client:
        client.mail(sender(target))
        for name in ("Postmaster", "postmaster"):
            client.rcpt(name)
            expect_code(expect, client, {250}, "rfc5321/2.3.5/3", f"to RCPT TO:<{name}>")
            expect_code(expect, client, {250}, "rfc5321/4.5.1/3")


# ---------------------------------------------------------------- every command's code


@dataclass(frozen=True)
class Probe:
    verb: str
    requirement: str  # the 4.3.2 row
    send: Callable[[SmtpClient, object], object]
    ehlo: bool = True
    required: bool = True  # one of the nine of 4.5.1: never 500/502


REQUIRED_IDS = ("rfc5321/4.3.2/4", "rfc5321/4.5.1/1")  # the nine commands every server implements
PROBES = [
    Probe("EHLO", "rfc5321/4.3.2/8", lambda c, t: c.ehlo(helo(t)), ehlo=False),
    Probe("HELO", "rfc5321/4.3.2/8", lambda c, t: c.helo(helo(t)), ehlo=False),
    Probe("MAIL", "rfc5321/4.3.2/9", lambda c, t: c.mail(sender(t))),
    Probe("RCPT", "rfc5321/4.3.2/10", lambda c, t: (c.mail(sender(t)), c.rcpt(probe_recipient(t)))),
    Probe("DATA", "rfc5321/4.3.2/11", lambda c, t: c.command(Command(b"DATA"))),  # no transaction: refused, nothing sent
    Probe("RSET", "rfc5321/4.3.2/12", lambda c, t: (c.mail(sender(t)), c.rset())),
    Probe("VRFY", "rfc5321/4.3.2/13", lambda c, t: c.vrfy(probe_recipient(t).split("@")[0])),
    Probe("EXPN", "rfc5321/4.3.2/14", lambda c, t: c.expn("postel-list"), required=False),
    Probe("HELP", "rfc5321/4.3.2/15", lambda c, t: c.help(), required=False),
    Probe("NOOP", "rfc5321/4.3.2/16", lambda c, t: c.noop()),
    Probe("QUIT", "rfc5321/4.3.2/17", lambda c, t: c.quit()),
]


@pytest.mark.parametrize(
    "probe",
    [pytest.param(p, id=p.verb, marks=pytest.mark.requirement(MEANING, p.requirement, *REQUIRED_IDS if p.required else ())) for p in PROBES],
)
def test_every_reply_is_a_code_4_3_2_lists_for_its_command(target, wire, expect, probe):
    """Sends the command in a plain situation and judges its reply against the command's row."""
    client = connect(target, wire, probe.verb)
    with client:
        if probe.ehlo:
            client.ehlo(helo(target))
        probe.send(client, target)
        last = client.log[-1]
        assert last.answers == probe.verb.encode(), last
        expect_listed(expect, last)
        if probe.required:
            # "producing a "command not recognized" error in response to the required subset of these commands is a violation"
            expect.must(last.code != 500, "rfc5321/4.3.2/4", expected=[f"{probe.verb} recognized (not 500)"], actual=last.describe())
            expect.must(last.code not in (500, 502), "rfc5321/4.5.1/1", expected=[f"{probe.verb} implemented (not 500/502)"], actual=last.describe())
