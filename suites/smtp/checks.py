"""What the SMTP suites share: who sends to whom, how a session opens, and the checks many tests make.

A third-party target names its addresses with target options (``--target-option k=v``):

- ``sender``: our reverse-path (default ``postel-suite@postel.test``);
- ``recipient``: a mailbox the server delivers to; tests that send mail are
  not-applicable without it (the embedded reference: ``postel@postel.test``).
  Tests that only ask (RCPT, no DATA) fall back to ``<Postmaster>``, which
  every server "MUST" accept (RFC 5321 2.3.5, 4.5.1);
- ``relay_recipient``: an address in a domain the server must not relay to
  (default ``postel-relay-probe@example.com``);
- ``helo``: the domain we give in EHLO/HELO (default ``client.postel.test``);
- ``maildir``: the recipient's Maildir on this host, so a delivered message can
  be read back (unstuffing, the Received field); checks that need it are
  not-applicable without it;
- ``delivery_wait``: seconds a delivered message may take to appear there
  (default 10; the reference writes it before its 250);
- ``helo_required``: ``yes`` if the server refuses mail transactions before
  EHLO/HELO (the reference does), ``no`` if it processes them; unknown by
  default, when a 250 to MAIL before EHLO is not judged.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from postel.protocols.errors import RemoteProtocolError
from postel.protocols.smtp.client import Answer, SmtpClient
from postel.protocols.smtp.events import DOMAIN_OR_LITERAL, Command, Reply
from postel.protocols.smtp.sequences import MEANING_REQUIREMENT, judge
from postel.requirements import Level
from postel.session import Wire
from postel.target import Target
from postel.verdict import Expect, Inconclusive

DEFAULT_SENDER = "postel-suite@postel.test"
DEFAULT_RELAY_RECIPIENT = "postel-relay-probe@example.com"
DEFAULT_HELO = "client.postel.test"  # RFC 2606 reserves .test; a syntactically valid Domain for EHLO and HELO
POSTMASTER = "Postmaster"  # RCPT TO:<Postmaster>, no domain: "MUST be accepted" (2.3.5)
DELIVERY_WAIT = 10.0
ENHANCED_AT_START = re.compile(rb"(?P<code>(?P<class>[0-9])\.(?P<subject>[0-9]+)\.(?P<detail>[0-9]+))(?P<space> +|$)")
STATUS_CODE = re.compile(rb"[245]\.[0-9]{1,3}\.[0-9]{1,3}")  # status-code ::= class "." subject "." detail (RFC 2034 4)


# ---------------------------------------------------------------- target options


def sender(target: Target) -> str:
    return target.options.get("sender", DEFAULT_SENDER)


def recipient(target: Target) -> str | None:
    """A mailbox that receives mail, or None: a test that delivers is then not-applicable."""
    return target.options.get("recipient") or None


def probe_recipient(target: Target) -> str:
    """A forward-path every server accepts, for tests that send RCPT but no mail."""
    return recipient(target) or POSTMASTER


def relay_recipient(target: Target) -> str:
    return target.options.get("relay_recipient", DEFAULT_RELAY_RECIPIENT)


def helo(target: Target) -> str:
    return target.options.get("helo", DEFAULT_HELO)


def maildir(target: Target) -> Path | None:
    value = target.options.get("maildir")
    return Path(value) if value else None


def helo_required(target: Target) -> bool | None:
    value = target.options.get("helo_required", "").strip().lower()
    if value in ("yes", "true", "1"):
        return True
    if value in ("no", "false", "0"):
        return False
    return True if target.is_reference else None


def need_recipient(expect: Expect, target: Target) -> str:
    """The recipient of a test that delivers mail; not-applicable without one."""
    rcpt = recipient(target)
    if rcpt is None:
        expect.not_applicable("this test delivers mail: pass --target-option recipient=<a mailbox of the server>")
    return rcpt


# ---------------------------------------------------------------- sessions


def connect(target: Target, wire: Wire, label: str) -> SmtpClient:
    """A connection and its greeting; a server that refuses the session makes the test inconclusive."""
    client = SmtpClient(target.address, timeout=wire.timeout, transcript=wire.transcript(label))
    try:
        greeting = client.greet()
    except BaseException:
        client.close()
        raise
    if greeting.code != 220:
        client.close()
        raise_inconclusive(f"the server did not open the session: {client.log[-1].describe()}")
    return client


@contextmanager
def session(target: Target, wire: Wire, label: str = "session", *, greet_with: str | None = "EHLO") -> Iterator[SmtpClient]:
    """An open session, after EHLO (or HELO, or neither), ended with QUIT."""
    client = connect(target, wire, label)
    with client:
        if greet_with is not None:
            reply = client.ehlo(helo(target)) if greet_with == "EHLO" else client.helo(helo(target))
            if reply.code != 250:
                raise_inconclusive(f"{greet_with} was not accepted ({client.log[-1].describe()}): nothing else can be tested")
        yield client


def raise_inconclusive(reason: str) -> None:
    raise Inconclusive(reason)


def start_mail(client: SmtpClient, target: Target, params: dict[bytes, bytes | None] | None = None) -> None:
    """MAIL accepted, or the test is inconclusive (the server refuses our sender for its own reasons)."""
    if client.mail(sender(target), params).code // 100 != 2:
        raise_inconclusive(f"MAIL was refused ({client.log[-1].describe()}); set --target-option sender=")


def open_transaction(client: SmtpClient, target: Target, rcpt: str, params: dict[bytes, bytes | None] | None = None) -> None:
    """MAIL and RCPT accepted, or the test is inconclusive (the server refuses our envelope for its own reasons)."""
    start_mail(client, target, params)
    if client.rcpt(rcpt).code // 100 != 2:
        raise_inconclusive(f"RCPT was refused ({client.log[-1].describe()}); set --target-option recipient=")


def extension(expect: Expect, client: SmtpClient, keyword: str) -> list[str]:
    """The parameters of an EHLO keyword; not-applicable when the server does not offer it."""
    if keyword not in client.keywords:
        expect.not_applicable(f"the server does not offer {keyword} in its EHLO reply ({', '.join(client.keywords) or 'no extensions'})")
    return client.keywords[keyword]


# ---------------------------------------------------------------- checks


def at_level(expect: Expect, requirement: str):
    """The check of ``requirement``'s own level."""
    level = expect.requirements[requirement].level
    return {Level.MUST: expect.must, Level.SHOULD: expect.should, Level.MAY: expect.may}[level]


def expect_code(expect: Expect, client: SmtpClient, allowed: set[int] | frozenset[int], requirement: str, what: str = "") -> Answer:
    """The last reply has one of ``allowed``; judged at ``requirement``'s level."""
    answer = client.log[-1]
    codes = " or ".join(str(c) for c in sorted(allowed))
    at_level(expect, requirement)(answer.code in allowed, requirement, expected=[f"{codes}{' ' + what if what else ''}"], actual=answer.describe())
    return answer


def expect_listed(expect: Expect, answer: Answer) -> None:
    """The code is one RFC 5321 4.3.2 gives the command it answers (see sequences.py for the weighing)."""
    judged = judge(answer.answers, answer.code)
    if judged is None:
        return
    expect.must(
        judged.meaning_kept,
        MEANING_REQUIREMENT,
        expected=judged.expected(),
        actual=f"{answer.describe()}: a {answer.code // 100}yz reply, a class this command's sequence does not have",
    )
    expect.should(judged.listed, judged.sequence.requirement, expected=judged.expected(), actual=answer.describe())


def enhanced_problems(answer: Answer) -> list[tuple[str, str]]:
    """(requirement, what is wrong) for each line of a reply that breaks RFC 2034's rules."""
    problems: list[tuple[str, str]] = []
    first: bytes | None = None
    for raw in answer.raw:
        text = raw[4:].rstrip(b"\r\n")
        match = ENHANCED_AT_START.match(text)
        if match is None:
            problems.append(("rfc2034/4/3", f"no status code at the start of {raw.rstrip()!r}"))
            continue
        if not STATUS_CODE.fullmatch(match["code"]):
            problems.append(("rfc2034/4/2", f"{match['code']!r} is not class.subject.detail (class 2, 4 or 5; 1-3 digits each)"))
        elif int(match["class"]) != answer.code // 100:
            problems.append(("rfc2034/4/4", f"{match['code'].decode()} in a {answer.code} reply"))
        if not match["space"]:
            problems.append(("rfc2034/3/4", f"{raw.rstrip()!r}: the status code is not followed by a space"))
        if first is None:
            first = match["code"]
        elif match["code"] != first:
            problems.append(("rfc2034/4/5", f"{match['code'].decode()} on a continuation line of a {first.decode()} reply"))
    return problems


def domain_first_problem(answer: Answer) -> str | None:
    """The greeting and ehlo-ok-rsp start with the server's Domain or address literal (RFC 5321 4.2, 4.1.1.1): what is wrong, or None."""
    first = answer.raw[0][4:].rstrip(b"\r\n")
    domain = first.split(b" ", 1)[0]
    if not DOMAIN_OR_LITERAL.fullmatch(domain):
        return f"the first line {answer.raw[0].rstrip()!r} does not start with the server's Domain or address literal"
    return None


def extra_replies(client: SmtpClient, wait: float = 0.3) -> str | None:
    """None if the server sends nothing while no reply is due; else what it sent (a reply to nothing, says RFC 5321 4.2)."""
    try:
        got = client.unsolicited(wait)
    except RemoteProtocolError as exc:
        return f"{exc}: {client.transcript.received()[-300:]!r}"
    return f"{got[:300]!r} while no reply was due" if got.strip() else None


def start_data(expect: Expect, client: SmtpClient) -> None:
    """DATA in an open transaction; a refusal leaves nothing to judge (inconclusive)."""
    if client.command(Command(b"DATA")).code != 354:
        expect.inconclusive(f"DATA was refused: {client.log[-1].describe()}")


def data_gets_one_reply(client: SmtpClient, content: bytes, early_end: str, *, raw: bool = False) -> str | None:
    """After a 354: ``content`` (stuffed by the codec, or ``raw`` as it is) and the end of data.

    None when exactly one reply came, to <CRLF>.<CRLF>; else what shows the
    server took the data as ended earlier: a reply to nothing (RFC 5321 4.2),
    described with ``early_end``.
    """
    try:
        (client.send_content_raw if raw else client.send_content)(content)
        return extra_replies(client)
    except RemoteProtocolError as exc:
        if exc.requirement != "rfc5321/4.2/1":
            raise
        return f"{exc}: {early_end}"


# ---------------------------------------------------------------- messages


def new_marker() -> str:
    return "postel-" + secrets.token_hex(8)


def message(target: Target, marker: str, body: bytes, *, subject: str = "postel conformance test", rcpt: str | None = None) -> bytes:
    """A complete RFC 5322 message (From, To, Date, Message-ID: nothing a server would add) around ``body``."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    head = (
        f"From: postel suite <{sender(target)}>\r\n"
        f"To: <{rcpt or probe_recipient(target)}>\r\n"
        f"Subject: {subject} {marker}\r\n"
        f"Date: {date}\r\n"
        f"Message-ID: <{marker}@postel.test>\r\n"
    ).encode("ascii")
    return head + b"\r\n" + body


def delivered(target: Target, marker: str) -> bytes | None:
    """The stored copy of the message with ``marker`` in the target's ``maildir``, waiting up to ``delivery_wait``."""
    folder = maildir(target)
    assert folder is not None
    wait = float(target.options.get("delivery_wait", DELIVERY_WAIT))
    needle = f"<{marker}@postel.test>".encode()
    deadline = time.monotonic() + wait
    while True:
        for sub in ("new", "cur"):
            try:
                entries = sorted((folder / sub).iterdir())
            except FileNotFoundError:
                continue
            for path in entries:
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                if needle in data:
                    return data
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def as_stored(stored: bytes, sent: bytes) -> bytes:
    """``sent`` with the line ends the store uses: Maildir tools often write LF where SMTP carried CRLF."""
    return sent if b"\r\n" in stored else sent.replace(b"\r\n", b"\n")


def stored_copy(expect: Expect, target: Target, marker: str) -> bytes:
    """The delivered copy; not-applicable without ``maildir``, inconclusive if it never shows up."""
    if maildir(target) is None:
        expect.not_applicable("reading the delivered copy needs --target-option maildir=<the recipient's Maildir on this host>")
    data = delivered(target, marker)
    if data is None:
        expect.inconclusive(f"the message {marker} was acknowledged but is not in {maildir(target)} (is the maildir option right?)")
    return data


def send_message(client: SmtpClient, target: Target, rcpt: str, content: bytes, params: dict[bytes, bytes | None] | None = None) -> Reply:
    """MAIL, RCPT, DATA, the content: the reply to the end of data.

    A refused MAIL, RCPT or DATA (4yz/5yz) makes the test inconclusive; a DATA
    answered with anything but 354 or a refusal breaks "If accepted, the SMTP
    server returns a 354 Intermediate reply" (RFC 5321 3.3), as the strict
    client reports it.
    """
    open_transaction(client, target, rcpt, params)
    reply = client.data(content)
    data = next(a for a in reversed(client.log) if a.answers == b"DATA")
    if data.code // 100 in (4, 5):
        raise_inconclusive(f"DATA was refused after MAIL and RCPT were accepted: {data.describe()}")
    if data.code != 354:
        raise RemoteProtocolError(f"DATA after an accepted RCPT got {data.describe()}, not 354", requirement="rfc5321/3.3/11")
    return reply


def first_difference(sent: bytes, stored: bytes) -> str:
    """Where the stored copy's end stops matching what was sent, line by line."""
    sent_lines = sent.splitlines(keepends=True)
    stored_lines = stored.splitlines(keepends=True)[-len(sent_lines) :] if sent_lines else []
    for i, (a, b) in enumerate(zip(sent_lines, stored_lines, strict=False)):
        if a != b:
            return f"line {i + 1} of the message: sent {a[:120]!r}, stored {b[:120]!r}"
    return f"sent {len(sent)} octets, the stored copy ends differently ({stored[-120:]!r})"


def deliver_and_read(expect: Expect, target: Target, wire: Wire, label: str, rcpt: str, marker: str, content: bytes,
                     params: dict[bytes, bytes | None] | None = None, *, needs: str | None = None) -> bytes:
    """One message sent in its own session (after checking the ``needs`` extension is offered); its copy from ``maildir``.

    A message the server does not accept with 250 leaves nothing to read back: inconclusive.
    """
    with session(target, wire, label) as client:
        if needs is not None:
            extension(expect, client, needs)
        reply = send_message(client, target, rcpt, content, params)
        if reply.code != 250:
            expect.inconclusive(f"the message was not accepted: {client.log[-1].describe()}")
    return stored_copy(expect, target, marker)


def expect_delivered_whole(expect: Expect, target: Target, marker: str, content: bytes, requirement: str, expected: str) -> None:
    """The copy delivered to ``maildir`` ends with ``content`` as it was sent (line ends aside): nothing cut or changed."""
    stored = stored_copy(expect, target, marker)
    sent = as_stored(stored, content)
    expect.must(stored.endswith(sent), requirement, expected=[expected], actual=first_difference(sent, stored))


def trace_head(stored: bytes, content: bytes) -> bytes | None:
    """What the server put above the message it was sent (trace fields), or None if the message's first line is gone."""
    first_line = content.split(b"\r\n", 1)[0]
    pos = stored.find(first_line)
    return None if pos < 0 else stored[:pos]
