"""One self-contained HTML page from a postel results dict (schema version 1).

Why a single file with inline CSS: the report is uploaded as a CI artifact and
opened from disk or an artifact viewer, often offline, so it must not load any
resource; the only URLs are ``<a href>`` links to the RFC text.  Why escape
everything: transcripts and ``actual`` values are bytes a server chose, and a
hostile server may send ``<script>``; every value from the data goes through
:func:`_text` (``html.escape`` after making control characters visible).

The page reads top to bottom without JavaScript: header, verdict counts,
coverage per RFC, the requirement matrix, then every non-passing test with its
RFC sentence, expected/actual and full transcripts.  A few lines of inline JS
only add verdict filter checkboxes to the matrix.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["render_html", "VERDICTS", "NON_PASSING"]

VERDICTS: tuple[str, ...] = ("pass", "fail", "warn", "not-applicable", "inconclusive", "error")
NON_PASSING: tuple[str, ...] = ("fail", "warn", "error", "inconclusive")
NOT_TESTED = "not-tested"

_COLOURS: Mapping[str, tuple[str, str]] = {  # verdict -> (background, foreground)
    "pass": ("#d4f4dd", "#0b5d1e"),
    "fail": ("#fbd5d5", "#8a1010"),
    "warn": ("#fdecc8", "#7a4a00"),
    "not-applicable": ("#e6e6e6", "#444444"),
    "inconclusive": ("#e3dcf7", "#4b2a8a"),
    "error": ("#f7c6e8", "#7a0a5a"),
    NOT_TESTED: ("#f4f4f4", "#777777"),
}

_DIRECTION_CLASS: Mapping[str, str] = {"C": "d-sent", "S": "d-received", "*": "d-event"}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
_LINK_SCHEMES = ("https://", "http://")


# --- escaping helpers -------------------------------------------------------


def _visible(value: object) -> str:
    """``str(value)`` with control characters and lone surrogates shown as ``\\xNN``."""
    text = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", text)


def _text(value: object) -> str:
    """Any value from the results dict, safe as HTML text or a quoted attribute."""
    return html.escape(_visible(value), quote=True)


def _link(url: object, label: object | None = None) -> str:
    """An ``<a href>`` for http(s) URLs only; anything else (``javascript:``...) stays text."""
    shown = _text(url if label is None else label)
    if isinstance(url, str) and url.lower().startswith(_LINK_SCHEMES):
        return f'<a href="{_text(url)}" rel="noreferrer noopener">{shown}</a>'
    return shown


def _badge(verdict: object) -> str:
    name = str(verdict) if verdict else NOT_TESTED
    css = name if name in _COLOURS else "unknown"
    return f'<span class="v v-{css}">{_text(name)}</span>'


# --- reading the results dict -----------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) else int(value) if isinstance(value, str) and value.isdigit() else 0


def _counts(results: Mapping[str, Any]) -> dict[str, int]:
    """The gate's counts; recounted from the tests when the gate has none."""
    gate_counts = _dict(_dict(results.get("gate")).get("counts"))
    if gate_counts:
        return {v: _int(gate_counts.get(v)) for v in VERDICTS}
    counts = dict.fromkeys(VERDICTS, 0)
    for test in _list(results.get("tests")):
        verdict = _dict(test).get("verdict")
        if verdict in counts:
            counts[verdict] += 1
    return counts


def _pairs(entries: Iterable[Any]) -> set[tuple[str, str]]:
    return {(str(_dict(e).get("test_id")), str(_dict(e).get("requirement"))) for e in entries}


def _baselined_requirements(test: Mapping[str, Any], gate: Mapping[str, Any]) -> list[str]:
    """Requirements whose failure in this test is in the baseline (test field or gate list)."""
    found = [str(r) for r in _list(test.get("baselined"))]
    test_id = str(test.get("test_id"))
    for tid, req in sorted(_pairs(_list(gate.get("baselined_failures")))):
        if tid == test_id and req not in found:
            found.append(req)
    return found


def _anchor_map(items: Sequence[Any], key: str, prefix: str, keep: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict[str, str]:
    """``item[key]`` -> ``prefix-<index>`` for the kept items (first one wins on duplicates)."""
    anchors: dict[str, str] = {}
    for index, item in enumerate(map(_dict, items)):
        if keep(item):
            anchors.setdefault(str(item.get(key)), f"{prefix}-{index}")
    return anchors


# --- page sections ----------------------------------------------------------


def _header(results: Mapping[str, Any]) -> str:
    run, target, gate = _dict(results.get("run")), _dict(results.get("target")), _dict(results.get("gate"))
    exit_code = gate.get("exit_code")
    status = {0: "passed", None: "unknown"}.get(exit_code, "failed")
    rows = [
        ("Target", target.get("url")),
        ("Service", target.get("service")),
        ("Reference server", {True: "yes", False: "no"}.get(target.get("reference"), None)),
        ("Options", ", ".join(f"{k}={v}" for k, v in _dict(target.get("options")).items()) or None),
        ("Started", run.get("started")),
        ("Finished", run.get("finished")),
        ("Duration", f"{run['duration']:.2f} s" if isinstance(run.get("duration"), (int, float)) else run.get("duration")),
        ("Profile", run.get("profile")),
        ("Strict", {True: "yes", False: "no"}.get(run.get("strict"), None)),
        ("Seed", run.get("seed")),
        ("postel / Python", " / ".join(str(x) for x in (run.get("postel_version"), run.get("python")) if x) or None),
        ("Command", " ".join(str(a) for a in _list(run.get("argv"))) or None),
    ]
    table = "\n".join(f"<tr><th>{_text(name)}</th><td>{_text(value)}</td></tr>" for name, value in rows if value is not None)
    return (
        '<header id="header">\n'
        f"<h1>postel conformance report: {_text(target.get('url', 'unknown target'))}</h1>\n"
        f'<p class="gate gate-{status}" id="gate"><strong>Gate {status}</strong>: exit code '
        f"{_text(exit_code if exit_code is not None else 'unknown')} &mdash; {_text(gate.get('reason', ''))}</p>\n"
        f'<table class="meta">\n{table}\n</table>\n</header>'
    )


def _summary(results: Mapping[str, Any]) -> str:
    counts = _counts(results)
    gate = _dict(results.get("gate"))
    cells = "\n".join(
        f'<div class="count v-{v}"><span class="n">{counts[v]}</span> <span class="label">{_text(v)}</span></div>' for v in VERDICTS
    )
    notes = []
    gate_lists = (
        ("new_failures", "new failures"),
        ("baselined_failures", "baselined failures"),
        ("fixed_baseline_entries", "baseline entries now passing"),
    )
    for key, label in gate_lists:
        if key in gate:
            notes.append(f"{label}: {len(_list(gate.get(key)))}")
    if gate.get("max_inconclusive") is not None:
        notes.append(f"inconclusive {gate.get('inconclusive', counts['inconclusive'])} of at most {gate['max_inconclusive']}")
    note = f'<p class="notes">{_text("; ".join(notes))}</p>' if notes else ""
    fixed = _list(gate.get("fixed_baseline_entries"))
    fixed_list = ""
    if fixed:
        items = "\n".join(
            f"<li><code>{_text(_dict(e).get('requirement'))}</code> in <code>{_text(_dict(e).get('test_id'))}</code></li>" for e in fixed
        )
        fixed_list = f"<h3>Baselined failures now passing</h3>\n<ul>\n{items}\n</ul>"
    return f'<section id="summary">\n<h2>Verdicts</h2>\n<div class="counts">\n{cells}\n</div>\n{note}\n{fixed_list}\n</section>'


def _fraction(part: object, whole: object) -> str:
    ratio = f"{part}/{whole}"
    if isinstance(part, int) and isinstance(whole, int) and whole > 0:
        ratio += f" ({100 * part // whole}%)"
    return ratio


def _coverage(results: Mapping[str, Any]) -> str:
    rows = []
    for entry in map(_dict, _list(results.get("coverage"))):
        must_total, must_covered = entry.get("must_total"), entry.get("must_covered")
        complete = isinstance(must_total, int) and must_covered == must_total
        rows.append(
            f'<tr><td>RFC {_text(entry.get("rfc"))}</td><td>{_text(entry.get("title", ""))}</td><td>{_text(entry.get("protocol", ""))}</td>'
            f'<td class="num">{_text(entry.get("requirements"))}</td><td class="num">{_text(entry.get("covered"))}</td>'
            f'<td class="num">{_text(_fraction(entry.get("covered"), entry.get("requirements")))}</td>'
            f'<td class="num{" full" if complete else ""}">{_text(_fraction(must_covered, must_total))}</td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="7">No coverage data.</td></tr>'
    return (
        '<section id="coverage">\n<h2>Coverage per RFC</h2>\n<table class="grid">\n'
        "<thead><tr><th>RFC</th><th>Title</th><th>Protocol</th><th>Requirements</th><th>Covered</th>"
        "<th>Covered / total</th><th>MUST covered / MUST total</th></tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>\n</section>"
    )


def _citing_tests(results: Mapping[str, Any]) -> dict[str, list[str]]:
    """Requirement id -> test ids citing it: the requirement's own list, then the tests' ``cited``."""
    citing: dict[str, list[str]] = {}
    for req in map(_dict, _list(results.get("requirements"))):
        ids = citing.setdefault(str(req.get("id")), [])
        for test_id in map(str, _list(req.get("tests"))):
            if test_id not in ids:
                ids.append(test_id)
    for test in map(_dict, _list(results.get("tests"))):
        for rid in _list(test.get("cited")) or list(_dict(test.get("requirements"))):
            ids = citing.setdefault(str(rid), [])
            if str(test.get("test_id")) not in ids:
                ids.append(str(test.get("test_id")))
    return citing


def _test_ref(test_id: str, anchors: Mapping[str, str]) -> str:
    if test_id in anchors:
        return f'<a href="#{anchors[test_id]}"><code>{_text(test_id)}</code></a>'
    return f"<code>{_text(test_id)}</code>"


def _matrix(results: Mapping[str, Any], test_anchors: Mapping[str, str], req_anchors: Mapping[str, str]) -> str:
    citing = _citing_tests(results)
    rows = []
    for req in map(_dict, _list(results.get("requirements"))):
        rid = str(req.get("id"))
        verdict = str(req.get("verdict") or NOT_TESTED)
        tests = ", ".join(_test_ref(t, test_anchors) for t in citing.get(rid, [])) or "&mdash;"
        rows.append(
            f'<tr id="{req_anchors[rid]}" data-verdict="{_text(verdict)}"><td><code>{_link(req.get("url"), rid)}</code></td>'
            f'<td>{_text(req.get("level", ""))}</td><td>{_text(req.get("role", ""))}</td><td>{_badge(verdict)}</td>'
            f'<td><blockquote>{_text(req.get("text", ""))}</blockquote></td><td class="tests">{tests}</td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="6">No requirements in the results.</td></tr>'
    filters = "".join(
        f'<label><input type="checkbox" value="{_text(v)}" checked> {_text(v)}</label> ' for v in (*VERDICTS, NOT_TESTED)
    )
    return (
        '<section id="requirements">\n<h2>Requirement matrix</h2>\n'
        f'<p id="matrix-filter" hidden>Show: {filters}</p>\n<table class="grid" id="matrix">\n'
        "<thead><tr><th>Requirement</th><th>Level</th><th>Role</th><th>Verdict</th><th>RFC text</th><th>Tests</th></tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>\n</section>"
    )


def _finding(finding: Mapping[str, Any], kind: str, req_anchors: Mapping[str, str]) -> str:
    rid = str(finding.get("requirement", ""))
    expected = finding.get("expected")
    expected_items = _list(expected) if isinstance(expected, (list, tuple)) else ([expected] if expected not in (None, "") else [])
    expected_html = "".join(f"<li><code>{_text(e)}</code></li>" for e in expected_items) or "<li>(nothing recorded)</li>"
    ref = f' (<a href="#{req_anchors[rid]}">matrix</a>)' if rid in req_anchors else ""
    url = finding.get("url")
    parts = [
        f'<div class="finding finding-{_text(kind)}">',
        f"<p><strong>{_text(kind)}</strong> <code>{_text(rid)}</code>{ref} &middot; {_text(finding.get('level', ''))}"
        + (f" &middot; {_link(url)}" if url else "")
        + "</p>",
        f"<blockquote>{_text(finding.get('text', ''))}</blockquote>",
        '<dl class="ea">',
        f"<dt>expected</dt><dd><ul>{expected_html}</ul></dd>",
        f"<dt>actual</dt><dd><pre>{_text(finding.get('actual', ''))}</pre></dd>",
    ]
    if finding.get("detail"):
        parts.append(f"<dt>detail</dt><dd><pre>{_text(finding.get('detail'))}</pre></dd>")
    parts.append("</dl>\n</div>")
    return "\n".join(parts)


def _transcript(transcript: Mapping[str, Any]) -> str:
    meta = " ".join(f"{key}={transcript[key]}" for key in ("transport", "local", "peer", "started") if transcript.get(key) is not None)
    lines = []
    for entry in map(_dict, _list(transcript.get("entries"))):
        t = entry.get("t")
        stamp = f"{t:9.3f}" if isinstance(t, (int, float)) else f"{_visible(t):>9}"
        direction = str(entry.get("dir", "?"))
        hex_title = f' title="hex {_text(entry["hex"])}"' if entry.get("hex") else ""
        css = _DIRECTION_CLASS.get(direction, "d-other")
        lines.append(f'<span class="{css}"{hex_title}>{_text(stamp)} {_text(direction)} {_text(entry.get("text", ""))}</span>')
    body = "\n".join(lines) or "(no entries)"
    return (
        f'<div class="transcript"><p><strong>transcript: {_text(transcript.get("label", ""))}</strong> <small>{_text(meta)}</small></p>\n'
        f"<pre>{body}</pre></div>"
    )


def _problem(test: Mapping[str, Any], anchor: str, gate: Mapping[str, Any], req_anchors: Mapping[str, str]) -> str:
    test_id = str(test.get("test_id", test.get("nodeid", "")))
    verdict = str(test.get("verdict", ""))
    baselined = _baselined_requirements(test, gate) if verdict == "fail" else []
    new = verdict == "fail" and any(tid == test_id for tid, _ in _pairs(_list(gate.get("new_failures"))))
    tags = (" " + '<span class="tag baselined">baselined: ' + _text(", ".join(baselined)) + "</span>") if baselined else ""
    tags += ' <span class="tag new">new</span>' if new else ""
    parts = [
        f'<article class="problem" id="{anchor}" data-verdict="{_text(verdict)}">',
        f"<h3>{_badge(verdict)} <code>{_text(test_id)}</code>{tags}</h3>",
        f'<p class="small">service {_text(test.get("service", "?"))} &middot; protocol {_text(test.get("protocol", "?"))}'
        f" &middot; pytest outcome {_text(test.get('outcome', '?'))}"
        + (f" &middot; {test['duration']:.3f} s" if isinstance(test.get("duration"), (int, float)) else "")
        + "</p>",
    ]
    verdicts = _dict(test.get("requirements"))
    if verdicts:
        parts.append("<p>Requirement verdicts: " + ", ".join(f"<code>{_text(r)}</code> {_badge(v)}" for r, v in verdicts.items()) + "</p>")
    failure = _dict(test.get("failure"))
    if failure:
        parts.append(_finding(failure, "failure", req_anchors))
    for warning in map(_dict, _list(test.get("warnings"))):
        parts.append(_finding(warning, "warning", req_anchors))
    if test.get("message") and not failure:
        parts.append(f"<details open><summary>message</summary><pre>{_text(test['message'])}</pre></details>")
    elif test.get("message"):
        parts.append(f"<details><summary>full failure message</summary><pre>{_text(test['message'])}</pre></details>")
    parts.extend(_transcript(_dict(tr)) for tr in _list(test.get("transcripts")))
    if test.get("replay"):
        parts.append(f'<p>Replay:</p><pre class="replay">{_text(test["replay"])}</pre>')
    if test.get("pcap"):
        parts.append(f"<p>Packet capture: <code>{_text(test['pcap'])}</code></p>")
    parts.append("</article>")
    return "\n".join(parts)


def _problems(results: Mapping[str, Any], req_anchors: Mapping[str, str]) -> str:
    """Every fail/warn/error/inconclusive test; anchors are ``test-<index in results["tests"]>``."""
    gate = _dict(results.get("gate"))
    indexed = [(i, t) for i, t in enumerate(map(_dict, _list(results.get("tests")))) if t.get("verdict") in NON_PASSING]
    indexed.sort(key=lambda pair: NON_PASSING.index(pair[1]["verdict"]))  # fail, warn, error, inconclusive; stable otherwise
    body = "\n".join(_problem(t, f"test-{i}", gate, req_anchors) for i, t in indexed)
    return (
        '<section id="problems">\n<h2>Non-passing tests</h2>\n'
        + (body if body else "<p>Every test passed or was not applicable.</p>")
        + "\n</section>"
    )


# --- the page ---------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:80em;padding:0 1em;color:#222}
h1{font-size:1.4em;word-break:break-all}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:.25em .6em}
table.grid{width:100%}table.grid th,table.grid td{border:1px solid #ddd}table.grid thead th{background:#f3f3f3}
table.meta th{color:#555;font-weight:600}td.num{text-align:right;white-space:nowrap}td.full{color:#0b5d1e;font-weight:600}
.gate{padding:.6em 1em;border-radius:4px;font-size:1.1em}.gate-passed{background:#d4f4dd}.gate-failed{background:#fbd5d5}.gate-unknown{background:#eee}
.counts{display:flex;flex-wrap:wrap;gap:.6em}.count{padding:.5em 1em;border-radius:4px;min-width:7em;text-align:center}
.count .n{display:block;font-size:1.6em;font-weight:700}
.v{padding:.05em .45em;border-radius:3px;font-size:.9em;white-space:nowrap}
.v-pass{background:#d4f4dd;color:#0b5d1e}.v-fail{background:#fbd5d5;color:#8a1010}.v-warn{background:#fdecc8;color:#7a4a00}
.v-not-applicable{background:#e6e6e6;color:#444}.v-inconclusive{background:#e3dcf7;color:#4b2a8a}.v-error{background:#f7c6e8;color:#7a0a5a}
.v-not-tested{background:#f4f4f4;color:#777}.v-unknown{background:#fff;color:#000;border:1px solid #999}
blockquote{margin:0;padding:0 .6em;border-left:3px solid #ccc;color:#333;font-family:Georgia,serif}
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all;margin:.2em 0}
.problem{border:1px solid #ddd;border-radius:4px;padding:.3em 1em;margin:1em 0}.problem h3{word-break:break-all}
.finding{margin:.6em 0}.finding-warning blockquote{border-color:#e0a030}.finding-failure blockquote{border-color:#d03030}
dl.ea dt{font-weight:600;color:#555}dl.ea dd{margin-left:1.5em}dl.ea ul{margin:0;padding-left:1.2em}
.tag{font-size:.75em;padding:.1em .4em;border-radius:3px;margin-left:.4em}.baselined{background:#eee;color:#555}.new{background:#8a1010;color:#fff}
.d-sent{color:#0645ad}.d-received{color:#8a1010}.d-event{color:#777;font-style:italic}.small{color:#666;font-size:.9em}td.tests{font-size:.9em}
"""

# Optional: shows verdict checkboxes that hide matrix rows.  The page is complete without it.
_JS = """
(function(){var f=document.getElementById('matrix-filter');if(!f)return;f.hidden=false;
f.addEventListener('change',function(){var on={};f.querySelectorAll('input').forEach(function(i){on[i.value]=i.checked;});
document.querySelectorAll('#matrix tbody tr[data-verdict]').forEach(function(r){r.hidden=!on[r.getAttribute('data-verdict')];});});})();
"""


def render_html(results: dict) -> str:
    """The whole report page for one run; every value from ``results`` is escaped."""
    tests = _list(results.get("tests"))
    # Only non-passing tests get an article on the page, so only they are link targets.
    test_anchors = _anchor_map(tests, "test_id", "test", keep=lambda t: t.get("verdict") in NON_PASSING)
    req_anchors = _anchor_map(_list(results.get("requirements")), "id", "req")
    target = _dict(results.get("target"))
    sections = [
        _header(results),
        "<main>",
        _summary(results),
        _coverage(results),
        _matrix(results, test_anchors, req_anchors),
        _problems(results, req_anchors),
        "</main>",
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>postel report: {_text(target.get('url', 'unknown target'))}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
    )
