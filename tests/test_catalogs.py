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
