"""One run's results: test records in, per-requirement verdicts, coverage and the gate out.

Test records are plain dicts (they cross from xdist workers to the controller
on the pytest report).  This module is the only place that aggregates them, so
``results.json``, the HTML and Markdown reports, the terminal summary and the
exit code all agree.  The schema is documented in ``reports/SCHEMA.md``.
"""

from __future__ import annotations

import datetime
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from postel import __version__
from postel.baseline import Baseline
from postel.requirements import Level, Requirements
from postel.verdict import Verdict, worst

__all__ = ["Gate", "ExitCode", "build_results", "decide_gate"]

SCHEMA = "postel-results"
SCHEMA_VERSION = 1


class ExitCode:
    OK = 0  # no unbaselined MUST failure
    FAILED = 1  # a MUST failure (a SHOULD failure with --strict)
    UNUSABLE = 2  # bad URL, unreachable target, nothing ran, harness error, too many inconclusive
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class Gate:
    exit_code: int
    reason: str
    new_failures: tuple[tuple[str, str], ...]
    baselined_failures: tuple[tuple[str, str], ...]
    fixed_baseline_entries: tuple[tuple[str, str], ...]
    counts: dict[str, int]

    def to_dict(self, max_inconclusive: int | None) -> dict:
        pairs = lambda items: [{"test_id": t, "requirement": r} for t, r in items]  # noqa: E731
        return {
            "exit_code": self.exit_code,
            "reason": self.reason,
            "counts": self.counts,
            "new_failures": pairs(self.new_failures),
            "baselined_failures": pairs(self.baselined_failures),
            "fixed_baseline_entries": pairs(self.fixed_baseline_entries),
            "inconclusive": self.counts.get(Verdict.INCONCLUSIVE.value, 0),
            "max_inconclusive": max_inconclusive,
        }


def _blocking(records: Iterable[dict], requirements: Requirements, strict: bool) -> list[tuple[str, str]]:
    """(test, requirement) pairs whose verdict fails the gate, baselined or not."""
    out = []
    for record in records:
        for rid, verdict in record["requirements"].items():
            if verdict == Verdict.FAIL.value or (strict and verdict == Verdict.WARN.value):
                out.append((record["test_id"], rid))
    return out


def decide_gate(
    records: Sequence[dict],
    requirements: Requirements,
    *,
    baseline: Baseline,
    strict: bool,
    max_inconclusive: int | None,
    interrupted: bool = False,
) -> Gate:
    counts = {v.value: 0 for v in Verdict}
    for record in records:
        counts[record["verdict"]] += 1
    blocking = _blocking(records, requirements, strict)
    new = tuple(p for p in blocking if p not in baseline)
    baselined = tuple(p for p in blocking if p in baseline)
    # A baseline entry whose test ran and no longer fails can be pruned.
    ran = {(r["test_id"], rid) for r in records for rid in r["requirements"]}
    fixed = tuple(sorted(p for p in baseline.entries if p in ran and p not in set(blocking)))
    decided = counts["pass"] + counts["fail"] + counts["warn"]
    inconclusive = counts["inconclusive"]

    if interrupted:
        code, reason = ExitCode.INTERRUPTED, "interrupted"
    elif counts["error"]:
        code, reason = ExitCode.UNUSABLE, f"{counts['error']} test(s) could not run: the harness or its setup broke"
    elif new:
        level = "MUST or SHOULD (--strict)" if strict else "MUST"
        code, reason = ExitCode.FAILED, f"{len(new)} {level} failure(s) not in the baseline"
    elif decided == 0:
        code, reason = ExitCode.UNUSABLE, "nothing was tested: no test reached a pass, fail or warn verdict"
    elif max_inconclusive is not None and inconclusive > max_inconclusive:
        code, reason = ExitCode.UNUSABLE, f"{inconclusive} inconclusive test(s), more than --max-inconclusive {max_inconclusive}"
    else:
        code = ExitCode.OK
        reason = "no MUST failure" + (" outside the baseline" if baselined else "")
    return Gate(code, reason, new, baselined, fixed, counts)


def build_results(
    records: Sequence[dict],
    requirements: Requirements,
    *,
    gate: Gate,
    target: dict,
    run: dict,
    max_inconclusive: int | None,
) -> dict:
    """The ``results.json`` document (schema version 1, see reports/SCHEMA.md)."""
    by_requirement: dict[str, list[tuple[str, str]]] = {}
    for record in records:
        for rid, verdict in record["requirements"].items():
            by_requirement.setdefault(rid, []).append((record["test_id"], verdict))

    protocols_run = {r["protocol"] for r in records}
    rows = []
    for rid, req in requirements.items():
        if requirements.protocol_of(rid) not in protocols_run:
            continue
        tests = by_requirement.get(rid, [])
        verdict = worst(Verdict(v) for _, v in tests)
        rows.append(
            {
                "id": rid,
                "rfc": req.rfc,
                "section": req.section,
                "level": req.level.value,
                "role": req.role,
                "text": req.text,
                "url": req.url,
                "verdict": verdict.value if verdict else "not-tested",
                "tests": sorted({t for t, _ in tests}),
            }
        )
    coverage = []
    for catalog in requirements.catalogs:
        if catalog.protocol not in protocols_run:
            continue
        ids = [r.id for r in catalog.requirements]
        covered = [rid for rid in ids if rid in by_requirement]
        coverage.append(
            {
                "rfc": catalog.rfc,
                "title": catalog.title,
                "protocol": catalog.protocol,
                "requirements": len(ids),
                "covered": len(covered),
                "must_total": catalog.must_total,
                "must_covered": sum(1 for rid in covered if requirements[rid].level is Level.MUST),
            }
        )
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "run": {"postel_version": __version__, "python": platform.python_version(), **run},
        "target": target,
        "gate": gate.to_dict(max_inconclusive),
        "tests": list(records),
        "requirements": rows,
        "coverage": coverage,
    }


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
