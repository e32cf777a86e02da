"""The POP3 catalogs (RFC 1939, 2449, 2384): each text lies in the section it names, in document order.

tests/test_catalogs.py already checks, for every catalog, that each text occurs
somewhere in its RFC and that notes cite existing IDs; this adds the
section-level checks that it applies to the HTTP catalogs, and the pre-2119
basis rules for RFC 1939.
"""

from __future__ import annotations

import re


from postel.requirements import Level
from postel.target import SCHEMES
from tests.test_catalogs import CATALOG

POP3_RFCS = (1939, 2449, 2384)
POP3_REQUIREMENTS = [r for r in CATALOG.values() if r.rfc in POP3_RFCS]
_K = re.compile(r"/([0-9]+)$")


def test_the_pop3_catalogs_load():
    catalogs = {c.rfc: c for c in CATALOG.catalogs if c.rfc in POP3_RFCS}
    assert set(catalogs) == set(POP3_RFCS)
    # the protocol is the suites folder, and the one the pop/pop3 target schemes name
    assert {c.protocol for c in catalogs.values()} == {SCHEMES["pop3"].protocol, SCHEMES["pop"].protocol} == {"pop3"}
    assert catalogs[1939].levels == "pre-2119"  # May 1996, before RFC 2119
    assert catalogs[2449].levels == catalogs[2384].levels == "bcp14"  # both cite RFC 2119 in Section 2


_WORDS = {
    "must": re.compile(r"\b(must|shall|required)\b", re.IGNORECASE),
    "should": re.compile(r"\b(should|recommended)\b", re.IGNORECASE),
    "may": re.compile(r"\b(may|optional)\b", re.IGNORECASE),
}


def test_rfc1939_basis_names_its_word():
    """Basis must/should/may needs that word in the text (RFC 1939 capitalises some: "MUST", "MAY")."""
    for req in CATALOG.values():
        if req.rfc == 1939 and req.basis in _WORDS:
            assert _WORDS[req.basis].search(req.text), f"{req.id}: basis {req.basis!r} but the text lacks the word"


def test_rfc1939_declarative_key_words_are_explained():
    """A declarative rule whose text holds must/should/may ("may only be given", "In no case may") says why in a note."""
    for req in CATALOG.values():
        if req.rfc == 1939 and req.basis == "declarative":
            # also "should be given access" (4/6, 7/26), "may not have" (8/3), "(required)" arguments: the note says why
            if any(w.search(req.text) for w in _WORDS.values()):
                assert req.note, f"{req.id}: declarative, but the text holds a key word and there is no note"


def test_rfc1939_keeps_the_rules_the_suites_will_cite():
    """Spot checks of sentences the brief names, at the level the pre-2119 rule gives them."""

    def find(section: str, fragment: str):
        hits = [r for r in CATALOG.values() if r.rfc == 1939 and r.section == section and fragment in r.text]
        assert hits, f"rfc1939 section {section}: nothing holds {fragment!r}"
        return hits[0]

    assert find("3", "Servers MUST send").basis == "must"
    assert find("3", "512 characters").level is Level.MAY  # "may be up to": a permission by the rule; see its note
    assert find("3", '"byte-stuffed"').basis == "declarative"
    assert find("5", "does not actually delete").level is Level.MUST
    assert find("6", "for some reason other than a client-issued QUIT command").basis == "must"
    assert find("6", "In no case may").level is Level.MUST  # a prohibition, not a MAY
    assert find("7", "persists across sessions").level is Level.MUST
    assert find("7", "This persistence is required").basis == "must"
    assert find("7", "should never reuse").level is Level.SHOULD
    assert find("13", "should not allow both").level is Level.SHOULD
    restrictions = [r for r in CATALOG.values() if r.rfc == 1939 and "Restrictions: may only" in r.text]
    assert len(restrictions) == 11  # STAT LIST RETR DELE NOOP RSET TOP UIDL USER PASS APOP
    assert all(r.level is Level.MUST and r.basis == "declarative" for r in restrictions)


def test_rfc2449_keeps_both_response_codes():
    defined = {r.section for r in CATALOG.values() if r.rfc == 2449}
    assert {"8", "8.1.1", "8.1.2"} <= defined
    assert {f"6.{n}" for n in range(1, 10)} <= defined  # TOP USER SASL RESP-CODES LOGIN-DELAY PIPELINING EXPIRE UIDL IMPLEMENTATION


def test_rfc2384_binds_the_client_only():
    assert {r.role for r in CATALOG.values() if r.rfc == 2384} == {"client"}
