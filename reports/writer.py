"""Write every report format of one run into a directory.

results.json is written first: it is the source the others are rendered from,
and the one file a CI step must be able to trust.  Secrets are masked in the
serialised text as a last line of defence (transcripts are redacted when
recorded; this also catches a secret in an option or an error message).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_reports"]


def _mask(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def write_reports(results: dict, directory: Path, secrets: Iterable[str] = ()) -> dict[str, Path]:
    from postel.reports.html import render_html
    from postel.reports.markdown import render_markdown

    secrets = tuple(secrets)
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        "json": directory / "results.json",
        "html": directory / "report.html",
        "markdown": directory / "summary.md",
    }
    written["json"].write_text(_mask(json.dumps(results, indent=2, sort_keys=False), secrets) + "\n", encoding="utf-8")
    written["html"].write_text(_mask(render_html(results), secrets), encoding="utf-8")
    markdown = _mask(render_markdown(results), secrets)
    written["markdown"].write_text(markdown, encoding="utf-8")
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    return written
