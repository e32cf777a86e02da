"""The SMTP catalogs (RFC 5321, 1870, 6152, 2920, 2034): each text lies in the section it names, in document order.

tests/test_catalogs.py already checks, for every catalog, that each text occurs
somewhere in its RFC, that levels follow the catalog's rule and that notes cite
existing IDs; this adds the section-level checks it applies to the HTTP
catalogs, the pre-2119 basis rules for RFC 1870, 6152 and 2034, and spot checks
of the rules the SMTP suites will cite.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from postel.requirements import Level
from postel.target import SCHEMES
from tests.test_catalogs import CATALOG, _k

SMTP_RFCS = (5321, 1870, 6152, 2920, 2034, 5322)  # 5322: what the delivering server writes into the message
SMTP_REQUIREMENTS = [r for r in CATALOG.values() if r.rfc in SMTP_RFCS]
PRE_2119 = (1870, 6152, 2034)
_K = re.compile(r"/([0-9]+)$")


def _find(rfc: int, section: str, fragment: str, role: str | None = None):
    hits = [r for r in CATALOG.values() if r.rfc == rfc and r.section == section and fragment in r.text and role in (None, r.role)]
    assert hits, f"rfc{rfc} section {section}: nothing holds {fragment!r}" + (f" for the {role}" if role else "")
    return hits[0]


def test_the_smtp_catalogs_load():
    catalogs = {c.rfc: c for c in CATALOG.catalogs if c.rfc in SMTP_RFCS}
    assert set(catalogs) == set(SMTP_RFCS)
    # the protocol is the suites folder, and the one the smtp target scheme names
    assert {c.protocol for c in catalogs.values()} == {SCHEMES["smtp"].protocol} == {"smtp"}
    assert catalogs[5321].levels == "bcp14"  # Section 1.3 cites RFC 2119
    assert catalogs[2920].levels == "bcp14"  # Section 1.1: capitalised key words, meanings from RFC 1123
    assert catalogs[5322].levels == "bcp14"  # Section 1.2.1 cites RFC 2119
    # 1870 (1995) and 2034 (1996) predate RFC 2119; 6152 (2011) never invokes it and keeps RFC 1652's lowercase words
    assert {catalogs[n].levels for n in PRE_2119} == {"pre-2119"}


def test_a_sentence_kept_twice_differs_in_role_or_level():
    """One sentence may bind both sides, or hold a MUST and a SHOULD: then each entry is a different (role, level)."""
    seen = Counter((r.rfc, r.section, r.text, r.role, r.level) for r in SMTP_REQUIREMENTS)
    twice = [key for key, count in seen.items() if count > 1]
    assert not twice, f"the same sentence, role and level kept more than once: {twice}"
    for (rfc, section, text), count in Counter((r.rfc, r.section, r.text) for r in SMTP_REQUIREMENTS).items():
        if count > 1:
            assert all(r.note for r in SMTP_REQUIREMENTS if (r.rfc, r.section, r.text) == (rfc, section, text)), f"rfc{rfc} {section}: a repeated sentence needs a note saying which half each entry is"


_WORDS = {
    "must": re.compile(r"\b(must|shall|required)\b", re.IGNORECASE),
    "should": re.compile(r"\b(should|recommended)\b", re.IGNORECASE),
    "may": re.compile(r"\b(may|optional)\b", re.IGNORECASE),
}


@pytest.mark.parametrize("rfc", PRE_2119)
def test_pre_2119_basis_names_its_word(rfc):
    for req in CATALOG.values():
        if req.rfc == rfc:
            assert req.basis in ("declarative", *_WORDS), f"{req.id}: basis {req.basis!r}"
            if req.basis in _WORDS:
                assert _WORDS[req.basis].search(req.text), f"{req.id}: basis {req.basis!r} but the text lacks the word"


@pytest.mark.parametrize("rfc", PRE_2119)
def test_pre_2119_declarative_key_words_are_explained(rfc):
    """A declarative rule whose text holds a key word ("Only one SIZE parameter may", "may not issue") says why in a note."""
    for req in CATALOG.values():
        if req.rfc == rfc and req.basis == "declarative" and any(w.search(req.text) for w in _WORDS.values()):
            assert req.note, f"{req.id}: declarative, but the text holds a key word and there is no note"


def test_rfc5321_covers_the_sections_the_suites_will_cite():
    defined = {r.section for r in CATALOG.values() if r.rfc == 5321}
    wanted = {"2.3.8", "2.4", "3.1", "3.2", "3.3", "3.5.1", "3.5.2", "3.5.3", "3.8", "4.1.2", "4.1.4", "4.2", "4.2.1", "4.3.2"}
    wanted |= {"4.4", "4.5.1", "4.5.2", "4.5.3.1", "4.5.3.2", "4.5.3.2.7", "6.1", "7.3", "7.9"}
    wanted |= {f"4.1.1.{n}" for n in range(1, 11)}  # EHLO MAIL RCPT DATA RSET VRFY EXPN HELP NOOP QUIT
    wanted |= {f"4.5.3.1.{n}" for n in range(1, 9)}  # local-part ... recipients buffer
    assert wanted <= defined, f"missing: {sorted(wanted - defined)}"
    assert {r.role for r in CATALOG.values() if r.rfc == 5321} == {"server", "client"}


def test_rfc5321_every_command_has_its_grammar_for_the_client():
    for section, verb in zip((f"4.1.1.{n}" for n in range(1, 11)), ("ehlo", "mail", "rcpt", "data", "rset", "vrfy", "expn", "help", "noop", "quit")):
        rule = _find(5321, section, f"{verb} = ")
        assert rule.role == "client" and rule.level is Level.MUST and rule.note


def test_rfc5321_size_limits():
    limits = {"4.5.3.1.1": "64 octets", "4.5.3.1.2": "255 octets", "4.5.3.1.3": "256 octets", "4.5.3.1.4": "512 octets", "4.5.3.1.5": "512 octets", "4.5.3.1.6": "1000 octets", "4.5.3.1.7": "64K octets", "4.5.3.1.8": "100 recipients"}
    for section, size in limits.items():
        assert _find(5321, section, size).level is not Level.MAY
    # receivers MUST take at least these sizes (4.5.3.1); the reply line is received by the client
    assert _find(5321, "4.5.3.1.4", "512 octets", "server").level is Level.MUST
    assert _find(5321, "4.5.3.1.5", "512 octets", "client").level is Level.MUST
    assert _find(5321, "4.5.3.1.6", "1000 octets", "server").level is Level.MUST


def test_rfc5321_keeps_the_rules_the_suites_will_cite():
    """Spot checks of sentences the brief names, at the level the text gives them."""
    assert _find(5321, "2.3.8", "MUST NOT transmit these characters").role == "client"
    assert _find(5321, "2.3.8", "any other character or character sequence as a line terminator", "server").level is Level.MUST
    assert _find(5321, "4.1.1.4", '"<LF>.<LF>"').level is Level.MUST
    assert _find(5321, "2.4", "MUST BE treated as case sensitive").level is Level.MUST
    assert _find(5321, "3.3", "without a previous MAIL command, the server MUST return a 503").level is Level.MUST
    assert _find(5321, "3.8", "a server that closes connections in response to commands that are not understood").level is Level.MUST
    assert _find(5321, "3.8", "SHOULD attempt to send a line containing a 421").level is Level.SHOULD
    assert _find(5321, "4.1.4", "a 503 failure reply MUST be returned").level is Level.MUST
    assert _find(5321, "4.2.1", "the reply code on each of the lines MUST be the same").level is Level.MUST
    assert _find(5321, "4.5.2", "the first character is deleted").level is Level.MUST  # dot-stuffing: a rule without a key word, see its note
    assert _find(5321, "6.1", "When the receiver-SMTP accepts a piece of mail").level is Level.MUST
    assert _find(5321, "7.3", "MUST return a 252 response").level is Level.MUST
    assert _find(5321, "4.2", "receiver- SMTP SHOULD test the first digit").role == "client"  # the receiver of the reply


def test_rfc5321_command_reply_sequences_keep_their_codes_in_the_note():
    """4.3.2: one SHOULD per command's list (4.3.1: "These SHOULD be strictly adhered to"), every code repeated in the note."""
    sequences = [r for r in CATALOG.values() if r.rfc == 5321 and r.section == "4.3.2" and " S: " in r.text]
    heads = ["CONNECTION ESTABLISHMENT", "EHLO or HELO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP", "NOOP", "QUIT"]
    assert [next(h for h in heads if r.text.startswith(h)) for r in sorted(sequences, key=_k)] == heads
    for req in sequences:
        assert req.level is Level.SHOULD and req.role == "server"
        missing = set(re.findall(r"\b[2-5][0-9][0-9]\b", req.text)) - set(re.findall(r"\b[2-5][0-9][0-9]\b", req.note or ""))
        assert not missing, f"{req.id}: codes {sorted(missing)} are not in the note"


def test_rfc2920_server_list():
    """Section 3.2's ten items, each kept with its own key word."""
    items = sorted((r for r in CATALOG.values() if r.rfc == 2920 and r.section == "3.2"), key=_k)
    assert [r.level for r in items] == [Level.MUST, Level.SHOULD, Level.SHOULD] + [Level.MUST] * 6 + [Level.SHOULD]
    assert {r.role for r in items} == {"server"}


def test_extension_keywords_are_defined():
    assert _find(1870, "3", '"SIZE"').level is Level.MUST
    assert _find(6152, "2", "8BITMIME;").level is Level.MUST
    assert _find(2920, "2", "PIPELINING;").level is Level.MUST
    assert _find(2034, "3", "ENHANCEDSTATUSCODES;").level is Level.MUST
    assert _find(1870, "6.1", "552 message size exceeds").basis == "declarative"
    assert _find(1870, "6", "Only one SIZE parameter may").level is Level.MUST  # a limit, not a permission
