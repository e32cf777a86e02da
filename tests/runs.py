"""``postel run`` as a subprocess and its results.json: what the fault-proof tests share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

POSTEL = str(Path(sys.executable).with_name("postel"))


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
