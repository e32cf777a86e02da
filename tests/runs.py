"""``postel run`` as a subprocess and its results.json: what the fault-proof tests share.

Every tests/test_<protocol>_faults.py proves its suites the same way: a run
against a server with one fault on must block on the requirement the fault
breaks -- in the exit code, the gate, the per-requirement rows, a test record
and the printed summary -- and on nothing beyond what its ``Caught`` lists; a
run without a fault must settle everywhere.  Those judgements live here once,
so the protocols cannot drift apart in what "caught" means.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from postel.serving import ServerThread

POSTEL = str(Path(sys.executable).with_name("postel"))
SETTLED = {"pass", "not-applicable"}


def postel_run(tmp_path: Path, *args: str, limit: float) -> subprocess.CompletedProcess:
    """``postel run ARGS`` in ``tmp_path``, reports in ``tmp_path/report``, no xdist inside (callers run side by side)."""
    command = [POSTEL, "run", *args, "--report-dir", str(tmp_path / "report"), "-n", "0"]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=limit, check=False)


def results_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report" / "results.json").read_text(encoding="utf-8"))


def output(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def row_verdicts(results: dict) -> dict[str, str]:
    return {row["id"]: row["verdict"] for row in results["requirements"]}


@dataclass(frozen=True)
class Caught:
    """How a fault must show up: the requirement it breaks, and what the failure says."""

    requirement: str
    also: tuple[str, ...] = ()  # other requirements the same fault rightly breaks
    diagnosis: tuple[str, ...] = ()  # words the failure's "actual" must contain
    strict: bool = False  # the requirement is a SHOULD: run with --strict, expect its warn to block

    @property
    def failing(self) -> set[str]:
        return {self.requirement, *self.also}


def failures(results: dict, requirements: set[str]) -> list[str]:
    """Which test failed (or warned on) each of ``requirements``, and what it saw: the message an unexpected failure needs."""
    lines = []
    for test in results["tests"]:
        for rid, verdict in test["requirements"].items():
            if verdict in ("fail", "warn") and rid in requirements:
                failure = test["failure"] if (test["failure"] or {}).get("requirement") == rid else None
                failure = failure or next((w for w in test.get("warnings", []) if w["requirement"] == rid), None)
                actual = failure["actual"] if failure else test["message"]
                lines.append(f"{rid} {verdict}  {test['test_id']}\n    actual: {str(actual)[:300]}")
    return lines


def assert_harness_did_not_break(proc: subprocess.CompletedProcess, results: dict, threads: Iterable[ServerThread] = ()) -> None:
    """No traceback, no harness error; and no server in ``threads`` raised."""
    assert "Traceback" not in proc.stdout + proc.stderr, output(proc)
    assert "INTERNALERROR" not in proc.stdout, output(proc)
    errors = [(t["test_id"], t["message"][-800:]) for t in results["tests"] if t["verdict"] == "error"]
    assert not errors, f"harness errors in {errors}\n{output(proc)}"
    for thread in threads:
        # A fault switch that crashes the server proves nothing about the check that then "fails".
        assert not thread.errors, f"the {thread.name} server raised: {thread.errors}"


def assert_caught(proc: subprocess.CompletedProcess, results: dict, caught: Caught) -> None:
    """The run blocked on ``caught.requirement`` wherever a user looks, and on nothing beyond ``caught.failing``."""
    blocking_verdicts = ("fail", "warn") if caught.strict else ("fail",)
    assert proc.returncode == 1, output(proc)
    assert results["gate"]["exit_code"] == 1
    assert caught.requirement in {e["requirement"] for e in results["gate"]["new_failures"]}

    # The per-requirement rows: this fault's requirements block, and nothing else does.
    rows = row_verdicts(results)
    assert rows[caught.requirement] == ("warn" if caught.strict else "fail"), rows
    blocking = {rid for rid, verdict in rows.items() if verdict in blocking_verdicts}
    unexpected = blocking - caught.failing
    assert not unexpected, "failed beyond the fault's requirements:\n" + "\n".join(failures(results, unexpected))
    assert blocking == caught.failing, f"listed in CAUGHT but not failed: {sorted(caught.failing - blocking)}"

    # A test record says which sentence broke, with what was seen.
    named = [
        t
        for t in results["tests"]
        if t["requirements"].get(caught.requirement) in blocking_verdicts and (t["failure"] or {}).get("requirement") == caught.requirement
    ]
    assert named, [(t["test_id"], t["requirements"], t["failure"]) for t in results["tests"]]
    actuals = [t["failure"]["actual"] for t in named]
    assert any(all(word in actual for word in caught.diagnosis) for actual in actuals), actuals

    # The summary printed last names the requirement on a FAIL (or, --strict, WARN) line, among the
    # requirements that line lists -- unless the failing test is past the 20 the summary shows.
    summary = proc.stdout.rsplit("\ntarget: ", 1)[-1]
    verdict_word = "(FAIL|WARN)" if caught.strict else "FAIL"
    named_line = re.search(rf"^\s*{verdict_word}\s+(\S+, )*{re.escape(caught.requirement)}[\s,]", summary, re.MULTILINE)
    assert named_line or re.search(r"^\s*\.\.\. [0-9]+ more; see the report", summary, re.MULTILINE), output(proc)
    assert re.search(r"^postel: exit 1: ", summary, re.MULTILINE), output(proc)


def assert_all_settled(proc: subprocess.CompletedProcess, results: dict) -> None:
    """Nothing failed or warned: exit 0, every test and every tested requirement pass or not-applicable, one pass at least."""
    rows = row_verdicts(results)
    failed = {rid for rid, verdict in rows.items() if verdict in ("fail", "warn")}
    assert not failed, "the server fails or warns:\n" + "\n".join(failures(results, failed))
    assert proc.returncode == 0, output(proc)
    verdicts = {t["test_id"]: t["verdict"] for t in results["tests"]}
    assert set(verdicts.values()) <= SETTLED, {k: v for k, v in verdicts.items() if v not in SETTLED}
    assert set(rows.values()) <= SETTLED | {"not-tested"}, {k: v for k, v in rows.items() if v not in SETTLED | {"not-tested"}}
    assert "pass" in verdicts.values()


def assert_the_embedded_reference_passes(tmp_path: Path, service: str, *args: str, limit: float) -> None:
    """``postel run SERVICE://reference ARGS`` runs that service's suites alone, and they settle everywhere."""
    proc = postel_run(tmp_path, f"{service}://reference", *args, limit=limit)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results)
    assert results["target"]["reference"]
    assert {t["service"] for t in results["tests"]} == {service}
    assert_all_settled(proc, results)
