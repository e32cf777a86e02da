"""Baselines: failures a team has accepted, keyed by (test ID, requirement ID).

Test IDs are relative to the suites folder (``time/test_tcp.py::test_x``), so a
baseline written from a git checkout works against an installed wheel too.
Keys are names, never positions (h2spec's renumbering breaks baselines).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Baseline", "BaselineError"]

FORMAT = "postel-baseline"
VERSION = 1


class BaselineError(ValueError):
    """A baseline file that cannot be read; the message names the file."""


@dataclass(frozen=True)
class Baseline:
    entries: frozenset[tuple[str, str]]

    @classmethod
    def empty(cls) -> Baseline:
        return cls(frozenset())

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"baseline file {path} does not exist (write one with 'postel baseline')") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise BaselineError(f"baseline file {path} is not readable JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("accepted"), list):
            raise BaselineError(f"{path} is not a postel baseline (expected {{\"format\": \"{FORMAT}\", \"accepted\": [...]}})")
        try:
            return cls(frozenset((e["test"], e["requirement"]) for e in data["accepted"]))
        except (KeyError, TypeError):
            raise BaselineError(f"{path}: every accepted entry needs 'test' and 'requirement'") from None

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    @staticmethod
    def dump(failures: Iterable[tuple[str, str]], path: Path) -> int:
        accepted = sorted(set(failures))
        document = {
            "format": FORMAT,
            "version": VERSION,
            "accepted": [{"test": test, "requirement": req} for test, req in accepted],
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return len(accepted)
