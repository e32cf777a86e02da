"""The catalogs: every quoted sentence is really in its RFC, and the loader refuses bad entries."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from postel.requirements import CatalogError, Level, load_catalog, load_requirements

RFC_DIR = Path(os.environ.get("POSTEL_RFC_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "rfcs"))
_FOOTER = re.compile(r"^\S.*\[Page \d+\]\s*$")
_HEADER = re.compile(r"^RFC \d+ .*\b(19|20)\d\d\s*$")


def _rfc_text(number: int) -> str:
    path = RFC_DIR / f"rfc{number}.txt"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: in CI the catalog check must run, not skip (set POSTEL_RFC_DIR)")
        pytest.skip(f"{path} not found; set POSTEL_RFC_DIR to the RFC texts")
    lines = []
    for line in path.read_text(encoding="utf-8").replace("\f", "\n").splitlines():
        if _FOOTER.match(line) or _HEADER.match(line):
            continue  # page furniture, which a sentence may straddle
        lines.append(line)
    return " ".join(" ".join(lines).split())


CATALOG = load_requirements()


@pytest.mark.parametrize("requirement", list(CATALOG.values()), ids=list(CATALOG))
def test_text_occurs_in_the_rfc(requirement):
    assert requirement.text in _rfc_text(requirement.rfc), f"{requirement.id}: text not found verbatim in rfc{requirement.rfc}.txt"


def test_rfc868_has_every_normative_statement():
    """RFC 868's protocol steps and rules: 2 opening rules, 9 TCP, 8 UDP, 1 time base."""
    ids = [r.id for r in CATALOG.values() if r.rfc == 868]
    sections = {s: sum(1 for i in ids if i.startswith(f"rfc868/{s}/")) for s in ("intro", "tcp", "udp", "time")}
    assert sections == {"intro": 2, "tcp": 9, "udp": 8, "time": 1}
    # lowercase "should" sentences are SHOULD, the declarative steps MUST (the pre-2119 rule)
    assert CATALOG["rfc868/tcp/9"].level is Level.SHOULD and CATALOG["rfc868/udp/8"].level is Level.SHOULD
    assert CATALOG["rfc868/tcp/3"].level is Level.MUST and CATALOG["rfc868/tcp/3"].basis == "declarative"


def test_levels_follow_the_catalog_rule():
    for req in CATALOG.values():
        catalog = CATALOG.catalog_of(req.id)
        if catalog.levels == "pre-2119":
            word = {"should": "should", "may": "may"}.get(req.basis)
            if word:
                assert re.search(rf"\b{word}\b", req.text, re.IGNORECASE), f"{req.id}: basis {req.basis!r} but the text lacks the word"


GOOD = """
[catalog]
rfc = 9999
title = "Test"
protocol = "time"
levels = "{levels}"

[[requirement]]
id = "{id}"
section = "{section}"
level = "{level}"
role = "{role}"
text = "{text}"
{extra}
"""


def _write(tmp_path, **fields):
    values = dict(levels="bcp14", id="rfc9999/4.1/1", section="4.1", level="MUST", role="server", text="A server MUST answer.", extra="")
    values.update(fields)
    path = tmp_path / "rfc9999.toml"
    path.write_text(GOOD.format(**values))
    return path


def test_a_good_catalog_loads(tmp_path):
    catalog = load_catalog(_write(tmp_path))
    assert catalog.requirements[0].url == "https://www.rfc-editor.org/rfc/rfc9999#section-4.1"
    assert catalog.must_total == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"level": "MUSTN'T"}, "is not MUST, SHOULD or MAY"),
        ({"role": "proxy"}, "role 'proxy'"),
        ({"id": "rfc9999/4.2/1"}, "id must be rfc9999/4.1/<k>"),
        ({"id": "rfc1/4.1/1"}, "id must be"),
        ({"text": "A server answers."}, "has no MUST key word"),
        ({"level": "SHOULD"}, "has no SHOULD key word"),
        ({"levels": "pre-2119"}, "need basis"),
        ({"levels": "pre-2119", "extra": 'basis = "should"'}, "gives SHOULD, not MUST"),
        ({"levels": "ietf"}, "levels = 'ietf'"),
        ({"text": ""}, "'text' is missing or empty"),
    ],
)
def test_the_loader_refuses_bad_entries(tmp_path, fields, message):
    with pytest.raises(CatalogError, match=re.escape(message)):
        load_catalog(_write(tmp_path, **fields))


def test_duplicate_ids_are_refused(tmp_path):
    path = _write(tmp_path)
    text = path.read_text()
    path.write_text(text + text[text.index("[[requirement]]") :])
    with pytest.raises(CatalogError, match="defined twice"):
        load_requirements(tmp_path)


def test_file_name_must_match_rfc(tmp_path):
    path = _write(tmp_path)
    path.rename(tmp_path / "rfc1234.toml")
    with pytest.raises(CatalogError, match="does not match the file name"):
        load_requirements(tmp_path)


def test_unknown_ids_get_a_suggestion():
    assert CATALOG.suggest("rfc868/tcp/33") in {"rfc868/tcp/3", "rfc868/tcp/7", "rfc868/tcp/8", "rfc868/tcp/9"}
    assert CATALOG.suggest("completely-different") is None


# --- The HTTP catalogs (RFC 1945, 9110, 9112, 9931) ----------------------------
#
# Their sections are numbered, so each requirement can be checked against the
# section it names: the heading exists, the text lies inside that section (not
# merely somewhere in the RFC), and k follows the order of the sentences.

_HEADING = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)*|[A-Z](?:\.[0-9]+)*)\.?\s+\S")
HTTP_RFCS = (1945, 9110, 9112, 9931)
HTTP_REQUIREMENTS = [r for r in CATALOG.values() if r.rfc in HTTP_RFCS]


def _sections(number: int) -> dict[str, str]:
    """Section number -> its text (heading to the next heading), page furniture removed, whitespace normalised.

    Headings start in column 0; table-of-contents entries are indented, so they never match.
    """
    _rfc_text(number)  # skips (or fails in CI) when the file is missing
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (RFC_DIR / f"rfc{number}.txt").read_text(encoding="utf-8").replace("\f", "\n").splitlines():
        if _FOOTER.match(line) or _HEADER.match(line):
            continue
        heading = _HEADING.match(line)
        if heading:
            current = sections.setdefault(heading["number"], [])
        elif current is not None:
            current.append(line)
    return {number: " ".join(" ".join(lines).split()) for number, lines in sections.items()}


def test_the_http_catalogs_load():
    catalogs = {c.rfc: c for c in CATALOG.catalogs if c.rfc in HTTP_RFCS}
    assert set(catalogs) == set(HTTP_RFCS)
    assert {c.protocol for c in catalogs.values()} == {"http"}
    assert catalogs[1945].levels == "pre-2119"
    assert {catalogs[n].levels for n in (9110, 9112, 9931)} == {"bcp14"}


# Every catalog but RFC 868's (which has no numbered sections) names a numbered section.
SECTIONED_RFCS = tuple(sorted({c.rfc for c in CATALOG.catalogs} - {868}))
SECTIONED_REQUIREMENTS = [r for r in CATALOG.values() if r.rfc in SECTIONED_RFCS]


def _k(req) -> int:
    return int(req.id.rsplit("/", 1)[1])


@pytest.mark.parametrize("requirement", SECTIONED_REQUIREMENTS, ids=[r.id for r in SECTIONED_REQUIREMENTS])
def test_text_is_once_in_the_section_it_names(requirement):
    sections = _sections(requirement.rfc)
    assert requirement.section in sections, f"{requirement.id}: rfc{requirement.rfc}.txt has no heading {requirement.section!r}"
    body = sections[requirement.section]
    assert requirement.text in body, f"{requirement.id}: text is not in section {requirement.section}"
    # A text that occurs twice in its section does not say which sentence it is
    # (RFC 1939 repeats sentences per command): such texts quote enough context to be unique.
    assert body.count(requirement.text) == 1, f"{requirement.id}: text occurs {body.count(requirement.text)} times in section {requirement.section}"


@pytest.mark.parametrize("rfc", SECTIONED_RFCS)
def test_ids_number_the_sentences_in_document_order(rfc):
    sections = _sections(rfc)
    by_section: dict[str, list] = {}
    for req in CATALOG.values():
        if req.rfc == rfc:
            by_section.setdefault(req.section, []).append(req)
    assert by_section, f"no requirements for rfc{rfc}"
    for section, reqs in by_section.items():
        reqs.sort(key=_k)
        assert [_k(r) for r in reqs] == list(range(1, len(reqs) + 1)), f"rfc{rfc} {section}: k is not 1..n"
        positions = [sections.get(section, "").find(r.text) for r in reqs]
        assert positions == sorted(positions), f"rfc{rfc} {section}: k does not follow the order of the sentences"


def test_rfc1945_must_basis_names_its_word():
    """Basis "must" needs must/shall/required in the text, or (for a list item) quoted from the list's lead-in in the note."""
    word = re.compile(r"\b(must|shall|required)\b", re.IGNORECASE)
    for req in CATALOG.values():
        if req.rfc == 1945 and req.basis == "must":
            lead_in = re.search(r'"[^"]*\bmust:"', req.note or "")
            assert word.search(req.text) or lead_in, f"{req.id}: basis 'must' but no must/shall/required"


def test_ids_cited_in_notes_exist():
    cited = re.compile(r"\brfc[0-9]+/[a-z0-9.\-]+/[0-9]+\b")
    for req in CATALOG.values():
        for ref in cited.findall(req.note or ""):
            assert ref in CATALOG, f"{req.id}: note cites {ref}, which is not in the catalog"


@pytest.mark.parametrize("protocol", ["http", "smtp", "pop3"])
def test_every_requirement_a_protocol_package_cites_exists(protocol):
    """Codecs, clients and servers cite IDs through REQ or as literals; a renumbered catalog must not leave them dangling."""
    import importlib

    package = Path(__file__).resolve().parents[1] / "harness" / "protocols" / protocol
    cited = set(importlib.import_module(f"postel.protocols.{protocol}.requirements").REQ.values())
    for source in package.glob("*.py"):
        cited |= set(re.findall(r'"(rfc[0-9]+/[a-z0-9.]+/[0-9]+)"', source.read_text(encoding="utf-8")))
    missing = sorted(ref for ref in cited if ref not in CATALOG)
    assert not missing, f"cited but not in specs/: {missing}"
