"""CPU time of a process from /proc, for the benchmarks' per-request CPU figures."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(stat_path: str) -> float | None:
    """utime + stime of a process (all its threads, live and exited) or a thread, from /proc; None without /proc."""
    try:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
