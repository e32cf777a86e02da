"""What the interop tests share: the triage table of a real server's known deviations, and checking a run against it.

A real server's run is green when every verdict is pass, not-applicable, or an
entry of that server's table (:class:`Known`): the verdicts it may get, a
phrase of the failure it must show, the only requirements it may fail or warn
on, and why -- the RFC sentence and what the server does instead.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

POSTEL = Path(sys.executable).with_name("postel")
RUN_TIMEOUT = 600  # seconds for one `postel run`; the slowest (nginx) takes ~40 s
EXPECTED = ("pass", "not-applicable")


@dataclass(frozen=True)
class Known:
    """A verdict other than pass that one server gets, and why."""

    verdicts: tuple[str, ...]  # the verdicts the test may get
    phrase: str  # in the failure message or a warning's actual text
    requirements: frozenset[str]  # the only requirements the test may fail or warn on
    why: str  # the RFC sentence and what the server does instead
    harness: bool = False  # the suite's mistake, not the server's: see the entry's fix


def known(verdicts: tuple[str, ...], phrase: str, requirements: str | tuple[str, ...], why: str, *, harness: bool = False) -> Known:
    reqs = (requirements,) if isinstance(requirements, str) else requirements
    return Known(verdicts, phrase, frozenset(reqs), why, harness)


def skip_or_fail(reason: str, install: str) -> None:
    """Skip where the real server is missing; in CI (``CI`` set) fail instead: there the test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: in CI this interop test must run, not skip (.ci/run must install {install})")
    pytest.skip(reason)


def masked(url: str) -> str:
    """The URL without its password (pop3://user:***@host:port/)."""
    return re.sub(r"^([a-z0-9+]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


def postel_run(url: str, report_dir: Path, options: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess, dict, float]:
    """``postel run URL ARGS`` with ``options``, no xdist inside; the process, its results.json and the seconds it took."""
    argv = [str(POSTEL), "run", url, "--report-dir", str(report_dir), "-n", "0", *args]
    for key, value in options.items():
        argv += ["--target-option", f"{key}={value}"]
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=report_dir)
    seconds = time.monotonic() - started
    results_file = report_dir / "results.json"
    assert results_file.exists(), f"postel run {masked(url)} wrote no results.json (exit {proc.returncode})\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc, json.loads(results_file.read_text()), seconds


def _text(test: dict) -> str:
    """What a phrase is looked up in: the failure message and every warning's actual value."""
    parts = [test["message"] or ""]
    parts += [f"{w['requirement']}: {w['actual']}" for w in test.get("warnings") or []]
    return "\n".join(parts)


def _short(test: dict) -> str:
    failure = test.get("failure")
    if failure:
        return f"{failure['requirement']}: {failure['actual']}"
    warnings = test.get("warnings") or []
    if warnings:
        return "; ".join(f"{w['requirement']}: {w['actual']}" for w in warnings)
    return (test["message"] or "").splitlines()[0] if test["message"] else ""


def print_observed(name: str, url: str, exit_code: int, results: dict, table: dict[str, Known]) -> None:
    """Every verdict other than pass, with its triage, for a human reading `pytest -s`."""
    counts = results["gate"]["counts"]
    print(f"\n{name} at {url}: postel exit {exit_code}, " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    seen = set()
    for test in results["tests"]:
        if test["verdict"] == "pass":
            continue
        seen.add(test["test_id"])
        entry = table.get(test["test_id"])
        label = "" if entry is None else (" [harness mistake]" if entry.harness else " [deviation]")
        print(f"  {test['verdict']:<13} {test['test_id']}{label}\n                {_short(test)[:160]}")
    for test_id in sorted(set(table) - seen):
        print(f"  listed, not seen (passes now): {test_id}")


def check_verdicts(name: str, results: dict, table: dict[str, Known]) -> None:
    problems = []
    for test in results["tests"]:
        if test["verdict"] in EXPECTED:
            continue
        entry = table.get(test["test_id"])
        if entry and test["verdict"] in entry.verdicts and entry.phrase in _text(test):
            off = {rid for rid, v in test["requirements"].items() if v in ("fail", "warn")} - entry.requirements
            if off:
                problems.append(f"{test['test_id']}: {test['verdict']} on {sorted(off)}, expected only {sorted(entry.requirements)}")
        else:
            problems.append(f"{test['test_id']}: {test['verdict']}: {_short(test) or test['message']}")
    assert not problems, f"{name} got unexpected verdicts:\n" + "\n".join(problems)


def check_run(name: str, service: str, proc: subprocess.CompletedProcess, results: dict, table: dict[str, Known]) -> None:
    assert results["tests"], f"no test ran\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert {t["service"] for t in results["tests"]} == {service}
    assert not [t for t in results["tests"] if t["verdict"] == "error"], "postel itself broke:\n" + "\n".join(
        f"{t['test_id']}: {t['message']}" for t in results["tests"] if t["verdict"] == "error"
    )
    check_verdicts(name, results, table)
    failed = any(t["verdict"] == "fail" for t in results["tests"])
    assert proc.returncode == (1 if failed else 0), f"postel run exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
