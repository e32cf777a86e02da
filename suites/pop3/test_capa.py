"""CAPA and the capabilities it announces (RFC 2449): the list's format, and each capability doing what it says.

A server that answers CAPA with -ERR does not implement RFC 2449 ("the
client will have to probe for capabilities as before", 5): its checks are
not applicable.  A capability's own behaviour is checked only where it is
announced.
"""

from __future__ import annotations

import re

import pytest

from postel.protocols.pop3.events import RESP_CODE, Command
from postel.suites.pop3.checks import Session, authenticate, capa, scan_listing, session, split_status
from postel.suites.pop3.messages import session_with_mail
from postel.wire import WireError

pytestmark = pytest.mark.service("pop3")

CAPA_TAG = re.compile(rb"[\x21-\x2d\x2f-\x7f]+")  # capa-tag = 1*cchar: printable ASCII without "."
PARAM = re.compile(rb"[\x21-\x7e]+")  # param = 1*VCHAR


def announced(expect, s: Session) -> dict[str, list[str]]:
    found = capa(s)
    if found is None:
        expect.not_applicable("CAPA is refused: the server does not implement RFC 2449")
    return found


@pytest.mark.requirement("rfc2449/5/8", "rfc2449/3/2", "rfc2449/5/10", "rfc2449/5/11")
def test_capa_lists_one_capability_per_line(target, wire, expect):
    """CAPA before login: +OK, lines "tag *(SP param)" of at most 512 octets, then "." CRLF."""
    with session(expect, target, wire, "CAPA", login=False) as s:
        answer = s.send(b"CAPA")
    if not answer.ok:
        expect.not_applicable(f"CAPA is refused ({answer.show()}): the server does not implement RFC 2449")
    _status, body = split_status(answer.raw)
    expect.must((b"\r\n" + body).endswith(b"\r\n.\r\n"), "rfc2449/5/11", expected=["the list ends with '.' CRLF"], actual=repr(body[-20:]))
    lines = body[:-3].split(b"\r\n")[:-1] if body.endswith(b".\r\n") else []
    expect.must(lines, "rfc2449/5/8", expected=["at least one capability line"], actual="an empty list")
    for line in lines:
        tag, *params = line.split(b" ")
        expect.must(CAPA_TAG.fullmatch(tag) and all(PARAM.fullmatch(p) for p in params), "rfc2449/3/2", expected=["capa-tag *(SP param)"], actual=repr(line[:80]))
        expect.must(len(line) + 2 <= 512, "rfc2449/5/10", expected=["at most 512 octets with CRLF"], actual=f"{len(line) + 2} octets: {line[:40]!r}...")


@pytest.mark.requirement("rfc2449/5/2", "rfc2449/5/3")
def test_capa_answers_in_both_states_and_keeps_its_tags(target, wire, expect):
    """CAPA before and after login: +OK both times, and every tag of the first list is in the second."""
    with session(expect, target, wire, "CAPA before login", login=False) as s:
        before = announced(expect, s)
        login = authenticate(expect, target, s)
        if not login.ok:
            expect.inconclusive(f"the target refused the URL's credentials: {login.show()}")
        after = capa(s)
    expect.must(after is not None, "rfc2449/5/2", expected=["+OK to CAPA in the TRANSACTION state too"], actual="-ERR")
    missing = sorted(set(before) - set(after))
    expect.must(not missing, "rfc2449/5/3", expected=["every capability of the AUTHORIZATION state announced again"], actual=f"missing after login: {missing}")


@pytest.mark.requirement("rfc2449/6.1/1", "rfc2449/6.8/1")
@pytest.mark.parametrize("capability", ["TOP", "UIDL"])
def test_an_announced_command_is_available(target, wire, expect, request, capability):
    """TOP or UIDL, when CAPA names it: TOP 1 0 and UIDL get +OK."""
    requirement = {"TOP": "rfc2449/6.1/1", "UIDL": "rfc2449/6.8/1"}[capability]
    with session_with_mail(expect, target, wire, request, f"{capability} announced") as s:
        if capability not in announced(expect, s):
            expect.not_applicable(f"CAPA does not announce {capability}")
        answer = s.send(b"TOP", 1, 0) if capability == "TOP" else s.send(b"UIDL")
        expect.must(answer.ok, requirement, expected=[f"+OK: {capability} is announced"], actual=answer.show())


@pytest.mark.requirement("rfc2449/6.4/1", "rfc2449/3/5", "rfc2449/8/6")
def test_response_codes_are_announced_and_well_formed(target, wire, expect):
    """Provokes -ERR answers (unknown command, no such message, wrong password): a text that starts with "[" is a response code, and RESP-CODES is announced."""
    with session(expect, target, wire, "response codes") as s:
        announced_codes = "RESP-CODES" in (capa(s) or {})
        answers = [s.send(b"XPST"), s.send(b"LIST", 0), s.send(b"RETR", 999999999)]
    with session(expect, target, wire, "wrong password", login=False) as s:
        if target.user:
            answers.append(s.send(b"USER", target.user))
            answers.append(s.send(b"PASS", b"postel-wrong-password"))
    texts = [split_status(a.raw)[0].split(b" ", 1)[1] for a in answers if b" " in split_status(a.raw)[0]]
    coded = [t for t in texts if t.startswith(b"[")]
    if not coded:
        return  # no response code sent: nothing to announce, nothing to judge
    expect.must(announced_codes, "rfc2449/8/6", expected=["RESP-CODES in CAPA, since response codes are sent"], actual=f"codes sent: {[t[:30] for t in coded]}")
    for text in coded:
        code = text[1 : text.find(b"]")] if b"]" in text else text[1:]
        expect.must(b"]" in text and RESP_CODE.fullmatch(code), "rfc2449/3/5", expected=['"[" resp-level *("/" resp-level) "]"'], actual=repr(text[:60]))


@pytest.mark.requirement("rfc2449/6.6/1", "rfc2449/6.6/2")
def test_pipelined_commands_are_answered_in_order(target, wire, expect, request):
    """STAT, LIST 1, RETR n+1, NOOP, LIST in one write: the answers are those the commands get one by one."""
    with session_with_mail(expect, target, wire, request, "PIPELINING") as s:
        if "PIPELINING" not in announced(expect, s):
            expect.not_applicable("CAPA does not announce PIPELINING")
        sizes = scan_listing(expect, s)
        commands = [Command(b"STAT"), Command(b"LIST", (b"1",)), Command(b"RETR", (b"%d" % (len(sizes) + 1),)), Command(b"NOOP"), Command(b"LIST")]
        one_by_one = [s.send(c.verb, *c.args) for c in commands]
        try:
            pipelined = s.pipeline(commands)
        except WireError as exc:
            expect.must(False, "rfc2449/6.6/1", expected=["an answer to each of the commands sent at once"], actual=str(exc))
    for command, alone, together in zip(commands, one_by_one, pipelined):
        name = command.wire().strip().decode()
        expect.must(
            (together.ok, together.body) == (alone.ok, alone.body) and (command.verb == b"NOOP" or together.response.text == alone.response.text),
            "rfc2449/6.6/2",
            expected=[f"{name} -> {alone.show()}, as when sent alone: each command processed in turn"],
            actual=f"{name} -> {'+OK' if together.ok else '-ERR'} {together.response.text[:60]!r}",
        )


@pytest.mark.requirement("rfc2449/4/2")
def test_a_255_octet_command_gets_one_answer(target, wire, expect):
    """USER with a 248-character name (255 octets in all), then CAPA: one answer to USER, then CAPA's list."""
    with session(expect, target, wire, "255-octet command", login=False) as s:
        announced(expect, s)
        line = b"USER " + b"p" * 248 + b"\r\n"  # 255 octets
        try:
            first = s.send_line(line)
            after = s.send(b"CAPA")
        except WireError as exc:
            expect.must(False, "rfc2449/4/2", expected=["one answer to the 255-octet command, then CAPA's"], actual=str(exc))
    expect.must(
        after.ok and after.body is not None,
        "rfc2449/4/2",
        expected=["+OK and the capability list to CAPA: the long line was one command"],
        actual=f"USER -> {first.show()}; CAPA -> {after.show()}",
    )
