"""RFC 5321 4.3.2 "Command-Reply Sequences" and the reply-code rules of 4.2, as data.

Why a table: the suites judge every reply against the row of the command it
answers, the stateful suite checks its model against it, and the reference
server may read it to pick its codes, so the RFC's list lives once.  The rows
are copied from the RFC text ("I" intermediate, "S" success, "E" error); each
names the catalog ID of its row (level SHOULD: "These SHOULD be strictly
adhered to", rfc5321/4.3.1/4).

How the suites weigh a reply (see :func:`judge`):

- "SMTP clients SHOULD, when possible, interpret only the first digit of the
  reply" (4.3.2), so the first digit is what the code means to a client: a
  2yz or 3yz class the command's row does not have ("354 to RSET": send data;
  "250 to DATA": no data wanted) changes it, and "the meanings and actions
  implied by the code numbers and by the specific command reply sequence MUST
  be preserved" (rfc5321/4.3.1/5, MUST);
- another code of a class the row has (a 250 to HELP, whose row says 211 or
  214), or an unlisted 4yz/5yz (still "not done"), breaks only the row, which
  "SHOULD be strictly adhered to" (rfc5321/4.3.1/4): 4.3.2 itself expects
  that "some servers may generate other replies under special circumstances";
- 500, 501 and 421 may answer any command (4.3.2, rfc5321/4.3.2/3).

This module is pure data and two small functions; it imports no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from postel.protocols.smtp.state import END_OF_DATA, GREETING

__all__ = [
    "ANY_COMMAND",
    "CLASSES",
    "KNOWN_CODES",
    "SEQUENCES",
    "Judgement",
    "Sequence",
    "code_is_valid",
    "judge",
    "sequence_for",
]

# "any SMTP command can return any of the following codes if the corresponding unusual
# circumstances are encountered: 500 ... 501 ... 421" (4.3.2)
ANY_COMMAND = frozenset({500, 501, 421})
ANY_COMMAND_REQUIREMENT = "rfc5321/4.3.2/3"

# "There are four values for the first digit of the reply code" (4.2.1)
CLASSES = {
    2: "Positive Completion reply",
    3: "Positive Intermediate reply",
    4: "Transient Negative Completion reply",
    5: "Permanent Negative Completion reply",
}

# 4.2.3 "Reply Codes in Numeric Order": "An SMTP server SHOULD send only the reply codes
# listed in this document" (rfc5321/4.2/8).
KNOWN_CODES = frozenset(
    {211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502, 503, 504, 550, 551, 552, 553, 554, 555}
)


def code_is_valid(code: int) -> bool:
    """Reply-code = %x32-35 %x30-35 %x30-39 (4.2, rfc5321/4.2/7; first digit 2-5, rfc5321/4.3.2/2)."""
    return isinstance(code, int) and 200 <= code <= 599 and (code // 10) % 10 <= 5


@dataclass(frozen=True)
class Sequence:
    """One row of 4.3.2: what may answer ``command``."""

    command: str  # as the RFC heads the row
    requirement: str  # the catalog ID of the row
    success: frozenset[int] = frozenset()
    error: frozenset[int] = frozenset()
    intermediate: frozenset[int] = frozenset()
    also: frozenset[int] = ANY_COMMAND  # the codes of 4.3.2's preamble; the greeting answers no command: 421 only

    @property
    def listed(self) -> frozenset[int]:
        """The row's codes plus those any command may get."""
        return self.success | self.error | self.intermediate | self.also

    @property
    def classes(self) -> frozenset[int]:
        """The first digits a reply to this command may have: the row's, and 4 and 5 (every command may fail)."""
        return frozenset({code // 100 for code in self.success | self.intermediate} | {4, 5})


def _codes(*codes: int) -> frozenset[int]:
    return frozenset(codes)


# Keys: a command verb as the codec holds it (upper-case bytes), GREETING (the connection
# opening) or END_OF_DATA (the reply after "<CRLF>.<CRLF>"), as in state.py.
SEQUENCES: dict[object, Sequence] = {
    # CONNECTION ESTABLISHMENT  S: 220  E: 554
    GREETING: Sequence("CONNECTION ESTABLISHMENT", "rfc5321/4.3.2/7", success=_codes(220), error=_codes(554), also=_codes(421)),
    # EHLO or HELO  S: 250  E: 504 (... only in fairly obscure cases), 550, 502 (... only with an old-style server ...)
    b"EHLO": Sequence("EHLO or HELO", "rfc5321/4.3.2/8", success=_codes(250), error=_codes(504, 550, 502)),
    b"HELO": Sequence("EHLO or HELO", "rfc5321/4.3.2/8", success=_codes(250), error=_codes(504, 550, 502)),
    # MAIL  S: 250  E: 552, 451, 452, 550, 553, 503, 455, 555
    b"MAIL": Sequence("MAIL", "rfc5321/4.3.2/9", success=_codes(250), error=_codes(552, 451, 452, 550, 553, 503, 455, 555)),
    # RCPT  S: 250, 251 (but see Section 3.4 for discussion of 251 and 551)
    #       E: 550, 551, 552, 553, 450, 451, 452, 503, 455, 555
    b"RCPT": Sequence(
        "RCPT", "rfc5321/4.3.2/10", success=_codes(250, 251), error=_codes(550, 551, 552, 553, 450, 451, 452, 503, 455, 555)
    ),
    # DATA  I: 354 -> data -> S: 250 ...;  E: 503, 554
    b"DATA": Sequence("DATA", "rfc5321/4.3.2/11", intermediate=_codes(354), error=_codes(503, 554)),
    # ... -> data -> S: 250  E: 552, 554, 451, 452  E: 450, 550 (rejections for policy reasons)
    END_OF_DATA: Sequence("DATA (after the data)", "rfc5321/4.3.2/11", success=_codes(250), error=_codes(552, 554, 451, 452, 450, 550)),
    # RSET  S: 250
    b"RSET": Sequence("RSET", "rfc5321/4.3.2/12", success=_codes(250)),
    # VRFY  S: 250, 251, 252  E: 550, 551, 553, 502, 504
    b"VRFY": Sequence("VRFY", "rfc5321/4.3.2/13", success=_codes(250, 251, 252), error=_codes(550, 551, 553, 502, 504)),
    # EXPN  S: 250, 252  E: 550, 500, 502, 504
    b"EXPN": Sequence("EXPN", "rfc5321/4.3.2/14", success=_codes(250, 252), error=_codes(550, 500, 502, 504)),
    # HELP  S: 211, 214  E: 502, 504
    b"HELP": Sequence("HELP", "rfc5321/4.3.2/15", success=_codes(211, 214), error=_codes(502, 504)),
    # NOOP  S: 250
    b"NOOP": Sequence("NOOP", "rfc5321/4.3.2/16", success=_codes(250)),
    # QUIT  S: 221
    b"QUIT": Sequence("QUIT", "rfc5321/4.3.2/17", success=_codes(221)),
}

MEANING_REQUIREMENT = "rfc5321/4.3.1/5"  # "the meanings and actions implied by the code numbers ... MUST be preserved"


def sequence_for(answers: object) -> Sequence | None:
    """The row for what a reply answers (a verb, GREETING or END_OF_DATA); None for a command 4.3.2 does not list."""
    return SEQUENCES.get(answers)


@dataclass(frozen=True)
class Judgement:
    """How one reply code stands against its command's row."""

    code: int
    sequence: Sequence
    meaning_kept: bool  # False: a 2yz/3yz class the row does not give this command (MUST, rfc5321/4.3.1/5)
    listed: bool  # False: a code the row does not list (SHOULD, the row's requirement)

    def expected(self) -> list[str]:
        seq = self.sequence
        parts = []
        if seq.intermediate:
            parts.append("I: " + ", ".join(map(str, sorted(seq.intermediate))))
        if seq.success:
            parts.append("S: " + ", ".join(map(str, sorted(seq.success))))
        if seq.error:
            parts.append("E: " + ", ".join(map(str, sorted(seq.error))))
        also = ", ".join(map(str, sorted(seq.also)))
        return [f"{seq.command}: " + "; ".join(parts) + f" (RFC 5321 4.3.2), or {also} (any command)"]


def judge(answers: object, code: int) -> Judgement | None:
    """``code`` weighed against the row of what it answers; None when 4.3.2 has no row for it."""
    seq = sequence_for(answers)
    if seq is None:
        return None
    meaning_kept = code // 100 in seq.classes
    return Judgement(code, seq, meaning_kept, code in seq.listed)
