"""The requirement catalog: RFC sentences in ``specs/*.toml``, loaded and validated.

Every conformance test cites requirement IDs (``rfc868/tcp/3``) from here, and
every verdict is reported per requirement.  The loader refuses a catalog that
would let a citation lie: duplicate IDs, an ID that does not match its RFC and
section, a level or role outside the vocabulary, or a level that does not
follow from the text by the catalog's rule (see ``LEVEL_RULES``).
"""

from __future__ import annotations

import difflib
import enum
import importlib.resources
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Catalog", "CatalogError", "Level", "Requirement", "Requirements", "load_requirements"]


class Level(enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


ROLES = ("server", "client")

# How a requirement's level is justified, per catalog (``[catalog] levels``).
#
# "bcp14": the RFC uses RFC 2119/8174 key words; only UPPERCASE words are
#   normative, and the text must contain a key word of the level.
# "pre-2119": the RFC predates RFC 2119 (868, 959, 1939, 1945 ...).  Each
#   requirement records its ``basis``, and the level follows from it:
#     basis "declarative": a rule the protocol is defined by, stated in the
#       present tense or as a protocol step ("S: Send the time as a 32 bit
#       binary number", "the server returns ... and closes the connection").
#       A peer that does otherwise is not speaking the protocol, so: MUST.
#     basis "must" / "should" / "may": the sentence uses the lowercase word
#       (or "shall"/"required", "recommended", "optional"); the level is that
#       word's BCP 14 meaning.
#   Descriptive, historical and motivating sentences are not kept.
LEVEL_RULES: Mapping[str, str] = {
    "bcp14": "RFC 2119/8174 key words; only UPPERCASE is normative",
    "pre-2119": "declarative protocol rule => MUST; lowercase must/should/may => that level",
}
_BASIS_LEVEL = {"declarative": Level.MUST, "must": Level.MUST, "should": Level.SHOULD, "may": Level.MAY}
_BCP14_WORDS = {
    Level.MUST: re.compile(r"\b(MUST|SHALL|REQUIRED)\b"),
    Level.SHOULD: re.compile(r"\b(SHOULD|RECOMMENDED)\b"),
    Level.MAY: re.compile(r"\b(MAY|OPTIONAL)\b"),
}
_ID = re.compile(r"rfc(?P<rfc>[0-9]+)/(?P<section>[A-Za-z0-9.\-]+)/(?P<k>[0-9]+)")


class CatalogError(ValueError):
    """A catalog file that cannot be trusted; the message names the file and the entry."""


@dataclass(frozen=True)
class Requirement:
    id: str
    rfc: int
    section: str
    level: Level
    role: str
    text: str
    basis: str | None = None
    note: str | None = None

    @property
    def url(self) -> str:
        """A link to the RFC section (numbered sections only; RFC 868 has none)."""
        base = f"https://www.rfc-editor.org/rfc/rfc{self.rfc}"
        return f"{base}#section-{self.section}" if re.fullmatch(r"[0-9.]+", self.section) else base


@dataclass(frozen=True)
class Catalog:
    rfc: int
    title: str
    protocol: str
    levels: str
    path: Path
    requirements: tuple[Requirement, ...]

    @property
    def must_total(self) -> int:
        return sum(1 for r in self.requirements if r.level is Level.MUST)


class Requirements(Mapping[str, Requirement]):
    """All catalogs, indexed by requirement ID."""

    def __init__(self, catalogs: tuple[Catalog, ...]) -> None:
        self.catalogs = catalogs
        self._by_id: dict[str, Requirement] = {}
        self._protocol: dict[str, str] = {}
        for catalog in catalogs:
            for req in catalog.requirements:
                if req.id in self._by_id:
                    raise CatalogError(f"{catalog.path.name}: requirement {req.id} is defined twice")
                self._by_id[req.id] = req
                self._protocol[req.id] = catalog.protocol

    def __getitem__(self, key: str) -> Requirement:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def protocol_of(self, requirement_id: str) -> str:
        return self._protocol[requirement_id]

    def catalog_of(self, requirement_id: str) -> Catalog:
        rfc = self[requirement_id].rfc
        return next(c for c in self.catalogs if c.rfc == rfc)

    def suggest(self, unknown: str) -> str | None:
        """The nearest known ID, for "did you mean" in collection errors."""
        close = difflib.get_close_matches(unknown, list(self._by_id), n=1, cutoff=0.6)
        return close[0] if close else None


def specs_dir() -> Path:
    return Path(str(importlib.resources.files("postel.specs")))


def load_requirements(directory: Path | None = None) -> Requirements:
    """Load and validate every ``*.toml`` catalog in ``directory`` (default: the installed specs)."""
    directory = directory or specs_dir()
    paths = sorted(directory.glob("rfc*.toml"))
    if not paths:
        raise CatalogError(f"no catalogs (rfc*.toml) found in {directory}")
    return Requirements(tuple(load_catalog(p) for p in paths))


def load_catalog(path: Path) -> Catalog:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path.name}: not valid TOML: {exc}") from None
    head = data.get("catalog")
    if not isinstance(head, dict):
        raise CatalogError(f"{path.name}: missing [catalog] table (rfc, title, protocol, levels)")
    for key in ("rfc", "title", "protocol", "levels"):
        if key not in head:
            raise CatalogError(f"{path.name}: [catalog] has no {key!r}")
    rfc, levels = head["rfc"], head["levels"]
    if levels not in LEVEL_RULES:
        raise CatalogError(f"{path.name}: levels = {levels!r}; expected one of {sorted(LEVEL_RULES)}")
    if path.stem != f"rfc{rfc}":
        raise CatalogError(f"{path.name}: [catalog] rfc = {rfc} does not match the file name")
    entries = data.get("requirement", [])
    if not entries:
        raise CatalogError(f"{path.name}: no [[requirement]] entries")
    reqs = tuple(_requirement(path.name, rfc, levels, e) for e in entries)
    return Catalog(rfc=rfc, title=head["title"], protocol=head["protocol"], levels=levels, path=path, requirements=reqs)


def _requirement(where: str, rfc: int, levels: str, entry: dict) -> Requirement:
    rid = entry.get("id", "<no id>")
    here = f"{where}: {rid}"
    for key in ("id", "section", "level", "role", "text"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise CatalogError(f"{here}: {key!r} is missing or empty")
    match = _ID.fullmatch(rid)
    if not match or int(match["rfc"]) != rfc or match["section"] != _id_section(entry["section"]):
        raise CatalogError(f"{here}: id must be rfc{rfc}/{_id_section(entry['section'])}/<k>")
    try:
        level = Level(entry["level"])
    except ValueError:
        raise CatalogError(f"{here}: level {entry['level']!r} is not MUST, SHOULD or MAY") from None
    if entry["role"] not in ROLES:
        raise CatalogError(f"{here}: role {entry['role']!r} is not one of {ROLES}")
    text = " ".join(entry["text"].split())
    basis = entry.get("basis")
    if levels == "pre-2119":
        if basis not in _BASIS_LEVEL:
            raise CatalogError(f"{here}: pre-2119 catalogs need basis = one of {sorted(_BASIS_LEVEL)}")
        if _BASIS_LEVEL[basis] is not level:
            raise CatalogError(f"{here}: basis {basis!r} gives {_BASIS_LEVEL[basis].value}, not {level.value}")
    elif not _BCP14_WORDS[level].search(text) and not entry.get("note"):
        # A level the text does not state needs a note saying where it comes from.
        raise CatalogError(f"{here}: text has no {level.value} key word; add a note explaining the level")
    return Requirement(
        id=rid,
        rfc=rfc,
        section=entry["section"],
        level=level,
        role=entry["role"],
        text=text,
        basis=basis,
        note=entry.get("note"),
    )


def _id_section(section: str) -> str:
    """Section as it appears in IDs: "4.5.3.1" stays, "TCP" becomes "tcp"."""
    return section.lower().replace(" ", "-")
