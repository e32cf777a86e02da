"""A short Markdown summary of a postel run, for a PR comment or ``$GITHUB_STEP_SUMMARY``.

Why short: a PR comment is read at a glance; the full evidence (RFC text,
transcripts, replay commands) lives in the HTML report.  This gives the gate
line, verdict counts, coverage per RFC, the failures (capped at
:data:`MAX_FAILURES`, with a note when truncated) and baselined failures that
now pass.

Why escape: test ids, requirement ids and above all ``actual`` values come from
the data and partly from the server under test.  :func:`_cell` backslash-escapes
the Markdown that could break a table (``|``), open a code span (`````) or
inject HTML/links/images (``<``, ``[`` ...) and flattens newlines, so the
rendered summary shows exactly the characters the server sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["render_markdown", "MAX_FAILURES"]

MAX_FAILURES = 50
MAX_ACTUAL_CHARS = 120
VERDICTS: tuple[str, ...] = ("pass", "fail", "warn", "not-applicable", "inconclusive", "error")
_LISTED_VERDICTS: tuple[str, ...] = ("fail", "error")  # warnings and inconclusives are only counted here

# CommonMark allows a backslash before any ASCII punctuation; these are the ones that matter here.
_MARKDOWN_SPECIAL = re.compile(r"([\\`|*_\[\]<>&!#~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _cell(value: object) -> str:
    """One line of data, safe inside a Markdown table cell or list item."""
    text = _CONTROL.sub(" ", "" if value is None else str(value)).strip()
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _one_line(value: object, limit: int = MAX_ACTUAL_CHARS) -> str:
    """The first line of ``value``, shortened to ``limit`` characters (before escaping)."""
    lines = ("" if value is None else str(value)).strip().splitlines()
    first = lines[0] if lines else ""
    shortened = first if len(first) <= limit else first[: limit - 1] + "…"
    return shortened + (" …" if len(lines) > 1 and shortened == first else "")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(value) if isinstance(value, str) and value.isdigit() else 0


def _table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A GitHub table; ``align`` gives one letter per column: l (default) or r."""
    marks = [("---:" if align[i:i + 1] == "r" else "---") for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |", *("| " + " | ".join(r) + " |" for r in rows)]


def _gate_line(results: Mapping[str, Any]) -> str:
    gate, target = _dict(results.get("gate")), _dict(results.get("target"))
    exit_code = gate.get("exit_code")
    if exit_code == 0:
        icon, state = "✅", "passed"
    elif exit_code is None:
        icon, state = "❔", "unknown"
    else:
        icon, state = "❌", "failed"
    reason = f": {_cell(gate['reason'])}" if gate.get("reason") else ""
    line = f"{icon} **postel gate {state}** (exit code {_cell(exit_code if exit_code is not None else '?')}){reason}"
    if target.get("url"):
        line += f" — target {_cell(target['url'])}"
    return line


def _counts(results: Mapping[str, Any]) -> dict[str, int]:
    gate_counts = _dict(_dict(results.get("gate")).get("counts"))
    if gate_counts:
        return {v: _int(gate_counts.get(v)) for v in VERDICTS}
    counts = dict.fromkeys(VERDICTS, 0)
    for test in map(_dict, _list(results.get("tests"))):
        if test.get("verdict") in counts:
            counts[test["verdict"]] += 1
    return counts


def _counts_section(results: Mapping[str, Any]) -> list[str]:
    counts = _counts(results)
    return ["### Verdicts", "", *_table(list(VERDICTS), [[str(counts[v]) for v in VERDICTS]], "r" * len(VERDICTS))]


def _coverage_section(results: Mapping[str, Any]) -> list[str]:
    rows = [
        [
            f"RFC {_cell(c.get('rfc'))}",
            _cell(c.get("title", "")),
            _cell(c.get("protocol", "")),
            f"{_cell(c.get('covered'))}/{_cell(c.get('requirements'))}",
            f"{_cell(c.get('must_covered'))}/{_cell(c.get('must_total'))}",
        ]
        for c in map(_dict, _list(results.get("coverage")))
    ]
    if not rows:
        return []
    return ["### Coverage per RFC", "", *_table(["RFC", "Title", "Protocol", "Covered", "MUST covered"], rows, "lllrr")]


def _baselined_pairs(results: Mapping[str, Any]) -> set[tuple[str, str]]:
    entries = _list(_dict(results.get("gate")).get("baselined_failures"))
    return {(str(_dict(e).get("test_id")), str(_dict(e).get("requirement"))) for e in entries}


def _failure_row(test: Mapping[str, Any], baselined: set[tuple[str, str]]) -> tuple[bool, list[str]]:
    """(is baselined, table cells) for one failed or errored test."""
    failure = _dict(test.get("failure"))
    test_id = str(test.get("test_id", test.get("nodeid", "")))
    requirement = failure.get("requirement") or next(
        (rid for rid, verdict in _dict(test.get("requirements")).items() if verdict == test.get("verdict")), ""
    )
    is_baselined = bool(_list(test.get("baselined"))) or (test_id, str(requirement)) in baselined
    actual = failure.get("actual") if failure else test.get("message")
    level = f" ({_cell(failure['level'])})" if failure.get("level") else ""
    verdict = _cell(test.get("verdict", "")) + (" (baselined)" if is_baselined else "")
    return is_baselined, [f"{_cell(requirement) or '—'}{level}", _cell(test_id), verdict, _cell(_one_line(actual)) or "—"]


def _failures_section(results: Mapping[str, Any]) -> list[str]:
    baselined = _baselined_pairs(results)
    listed = [t for t in map(_dict, _list(results.get("tests"))) if t.get("verdict") in _LISTED_VERDICTS]
    rows = [_failure_row(t, baselined) for t in listed]
    rows.sort(key=lambda row: row[0])  # new problems first, baselined ones after; stable otherwise
    if not rows:
        return []
    shown = rows[:MAX_FAILURES]
    lines = [f"### Failures and errors ({len(rows)})", "", *_table(["Requirement", "Test", "Verdict", "Actual"], [cells for _, cells in shown])]
    if len(rows) > MAX_FAILURES:
        lines += ["", f"_Showing the first {MAX_FAILURES} of {len(rows)} failures; {len(rows) - MAX_FAILURES} more are in the HTML report._"]
    return lines


def _fixed_section(results: Mapping[str, Any]) -> list[str]:
    fixed = [_dict(e) for e in _list(_dict(results.get("gate")).get("fixed_baseline_entries"))]
    if not fixed:
        return []
    lines = [f"### Baselined failures now passing ({len(fixed)})", ""]
    lines += [f"- {_cell(e.get('requirement'))} in {_cell(e.get('test_id'))}" for e in fixed[:MAX_FAILURES]]
    if len(fixed) > MAX_FAILURES:
        lines += ["", f"_Showing the first {MAX_FAILURES} of {len(fixed)} entries._"]
    lines += ["", "These entries can be removed from the baseline."]
    return lines


def render_markdown(results: dict) -> str:
    """The PR-comment summary for one run, ending with a newline."""
    sections = [
        [_gate_line(results)],
        _counts_section(results),
        _coverage_section(results),
        _failures_section(results),
        _fixed_section(results),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
