"""The summary printed at the end of a run: gate last, so CI logs end with the answer."""

from __future__ import annotations

__all__ = ["render_summary"]

_ORDER = ("pass", "fail", "warn", "not-applicable", "inconclusive", "error")


def render_summary(results: dict, max_failures: int = 20) -> str:
    gate = results["gate"]
    tests = results["tests"]
    lines = [f"target: {results['target']['url']}"]
    by_protocol: dict[str, dict[str, int]] = {}
    for record in tests:
        counts = by_protocol.setdefault(record["protocol"], dict.fromkeys(_ORDER, 0))
        counts[record["verdict"]] += 1
    for protocol, counts in sorted(by_protocol.items()):
        shown = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
        lines.append(f"  {protocol:<8} {sum(counts.values()):>4} tests: {shown}")
    for row in results.get("coverage", []):
        lines.append(
            f"  RFC {row['rfc']:<5} {row['covered']}/{row['requirements']} requirements covered, "
            f"{row['must_covered']}/{row['must_total']} MUST"
        )
    failing = [r for r in tests if r["verdict"] in ("fail", "error") or (r["verdict"] == "warn")]
    for record in failing[:max_failures]:
        failure = record.get("failure") or {}
        reqs = ", ".join(rid for rid, v in record["requirements"].items() if v != "pass") or "-"
        mark = " (baselined)" if record.get("baselined") else ""
        lines.append(f"  {record['verdict'].upper():<5} {reqs}{mark}  {record['test_id']}")
        if failure.get("actual"):
            lines.append(f"        actual: {failure['actual'][:200]}")
    if len(failing) > max_failures:
        lines.append(f"  ... {len(failing) - max_failures} more; see the report")
    for entry in gate.get("fixed_baseline_entries", []):
        lines.append(f"  baselined failure now passes (prune it): {entry['test_id']} {entry['requirement']}")
    counts = ", ".join(f"{gate['counts'].get(v, 0)} {v}" for v in _ORDER)
    lines.append(f"postel: {counts}")
    lines.append(f"postel: exit {gate['exit_code']}: {gate['reason']}")
    return "\n".join(lines)
