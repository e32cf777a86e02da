"""RFC 5321 4.3.2 as data: each row's codes are the ones its catalog sentence (the RFC's text) lists."""

from __future__ import annotations

import re

import pytest

from postel.protocols.smtp.sequences import ANY_COMMAND, KNOWN_CODES, MEANING_REQUIREMENT, SEQUENCES, code_is_valid, judge
from postel.protocols.smtp.state import END_OF_DATA, GREETING
from postel.requirements import load_requirements

REQUIREMENTS = load_requirements()


@pytest.mark.parametrize("key", list(SEQUENCES), ids=repr)
def test_each_row_lists_exactly_the_codes_of_its_rfc_sentence(key):
    seq = SEQUENCES[key]
    text = REQUIREMENTS[seq.requirement].text
    assert seq.command.split(" (")[0] in text
    in_text = {int(code) for code in re.findall(r"\b[2-5][0-9][0-9]\b", text)}
    if key is END_OF_DATA:
        in_text -= {354, 503}  # the DATA row: 354 and the E: 503, 554 answer the DATA command itself
        in_text.add(554)
    elif key == b"DATA":
        in_text = {354, 503, 554}
    assert seq.success | seq.error | seq.intermediate == in_text
    assert seq.listed <= KNOWN_CODES


def test_the_ids_exist_and_the_preamble_codes_are_500_501_421():
    assert MEANING_REQUIREMENT in REQUIREMENTS
    assert ANY_COMMAND == {500, 501, 421}
    assert "any of the following codes" in REQUIREMENTS["rfc5321/4.3.2/3"].text
    assert SEQUENCES[GREETING].also == {421}


@pytest.mark.parametrize(
    ("answers", "code", "meaning_kept", "listed"),
    [
        (b"RSET", 250, True, True),
        (b"RSET", 354, False, False),  # the bad_reply_code fault: a 3yz RSET has no meaning
        (b"NOOP", 252, True, False),  # still a positive completion: only the row's SHOULD
        (b"DATA", 250, False, False),  # "done" where the client must be told to send the data
        (b"RCPT", 554, True, False),  # postfix's relay refusal: still "not done", only unlisted
        (b"MAIL", 500, True, True),  # any command may get 500, 501, 421
        (b"DATA", 354, True, True),
        (END_OF_DATA, 250, True, True),
        (END_OF_DATA, 354, False, False),
        (GREETING, 554, True, True),
        (GREETING, 500, True, False),
        (b"HELP", 250, True, False),  # aiosmtpd's HELP reply: a positive completion, not the row's 214
        (b"QUIT", 354, False, False),
    ],
)
def test_judge_weighs_meaning_and_listing(answers, code, meaning_kept, listed):
    judged = judge(answers, code)
    assert (judged.meaning_kept, judged.listed) == (meaning_kept, listed)
    assert judged.expected()[0].startswith(judged.sequence.command)


def test_a_command_4_3_2_does_not_list_is_not_judged():
    assert judge(b"XYZZY", 500) is None


def test_reply_code_syntax():
    """Reply-code = %x32-35 %x30-35 %x30-39 (4.2)."""
    assert all(code_is_valid(c) for c in (200, 250, 354, 421, 555, 559))
    assert not any(code_is_valid(c) for c in (199, 160, 260, 569, 600, 2500))
