"""The HTML and Markdown report renderers, on a hand-built results dict.

The assertions read the rendered page back (``html.parser``) and compare it with
values taken from the input dict, so a renderer that drops a section, forgets
to escape server bytes or loads a remote resource fails here.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

try:
    from postel.reports.html import render_html
    from postel.reports.markdown import render_markdown
except ImportError:  # postel not installed yet: load the two modules by path
    _REPORTS = Path(__file__).resolve().parent.parent / "reports"

    def _load(name: str) -> Any:
        spec = importlib.util.spec_from_file_location(f"_postel_reports_{name}", _REPORTS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    render_html = _load("html").render_html
    render_markdown = _load("markdown").render_markdown


HOSTILE = "<script>alert(1)</script>"
RFC868 = "https://www.rfc-editor.org/rfc/rfc868"


# --- the results dict -------------------------------------------------------


def _requirement(rid: str, level: str, text: str, verdict: str | None, tests: list[str]) -> dict[str, Any]:
    req = {"id": rid, "rfc": 868, "section": rid.split("/")[1], "level": level, "role": "server", "text": text, "url": RFC868, "tests": tests}
    if verdict is not None:
        req["verdict"] = verdict
    return req


def _test(test_id: str, verdict: str, **fields: Any) -> dict[str, Any]:
    outcome = {"pass": "passed", "fail": "failed", "warn": "passed", "error": "failed"}.get(verdict, "skipped")
    test = {
        "test_id": test_id,
        "nodeid": f"suites/{test_id}",
        "service": "time",
        "protocol": "time",
        "outcome": outcome,
        "verdict": verdict,
        "requirements": {},
        "cited": [],
        "message": "",
        "failure": None,
        "warnings": [],
        "transcripts": [],
        "duration": 0.05,
        "baselined": [],
        "replay": f"pytest 'suites/{test_id}' --target 'time://127.0.0.1:37'",
        "pcap": None,
    }
    test.update(fields)
    return test


def _failure(rid: str, level: str, text: str, actual: str, expected: list[str]) -> dict[str, Any]:
    return {"requirement": rid, "level": level, "text": text, "url": RFC868, "expected": expected, "actual": actual, "detail": "checked after close"}


def build_results(*, extra_failures: int = 0, exit_code: int = 1) -> dict[str, Any]:
    """A small run against a hostile Time server: one MUST failure, one baselined failure,
    one warning, one error, one inconclusive, one pass, and ``extra_failures`` more fails."""
    send_text = "S: Send the time as a 32 bit binary number."
    close_text = "S: Close the connection."
    udp_text = "S: Send a datagram containing the time as a 32 bit binary number."
    tests = [
        _test(
            "time/test_tcp.py::test_sends_32_bit_value",
            "fail",
            requirements={"rfc868/tcp/3": "fail"},
            cited=["rfc868/tcp/3", "rfc868/tcp/8"],
            message=f"rfc868/tcp/3 (MUST, server) violated\n  actual: 8 octets {HOSTILE}",
            failure=_failure("rfc868/tcp/3", "MUST", send_text, f"8 octets {HOSTILE}", ["exactly 4 octets, then close", "4 octets and EOF"]),
            transcripts=[
                {
                    "label": "tcp query",
                    "transport": "tcp",
                    "peer": "127.0.0.1:37",
                    "local": "127.0.0.1:5555",
                    "started": 1764586800.0,
                    "entries": [
                        {"t": 0.001, "dir": "*", "hex": "", "text": "connected"},
                        {"t": 0.002, "dir": "S", "hex": "e9c1a2b3", "text": "\\xe9\\xc1\\xa2\\xb3"},
                        {"t": 0.003, "dir": "S", "hex": "3c73", "text": HOSTILE},
                        {"t": 0.004, "dir": "*", "hex": "", "text": "closed by peer"},
                    ],
                }
            ],
            pcap="pcap/time-test_sends_32_bit_value.pcap",
        ),
        _test(
            "time/test_tcp.py::test_closes_after_send",
            "fail",
            requirements={"rfc868/tcp/8": "fail"},
            cited=["rfc868/tcp/8"],
            failure=_failure("rfc868/tcp/8", "MUST", close_text, "connection left open for 5 s", ["EOF after 4 octets"]),
            baselined=["rfc868/tcp/8"],
        ),
        _test(
            "time/test_udp.py::test_reply_size",
            "warn",
            requirements={"rfc868/udp/4": "warn"},
            cited=["rfc868/udp/4"],
            warnings=[_failure("rfc868/udp/4", "SHOULD", udp_text, "a 6-octet datagram", ["a 4-octet datagram"])],
        ),
        _test("time/test_udp.py::test_plugin_error", "error", cited=["rfc868/udp/4"], message="HarnessError: unknown requirement 'rfc868/udp/99'"),
        _test("time/test_udp.py::test_no_reply", "inconclusive", cited=["rfc868/udp/4"], message="inconclusive: no datagram within 2 s"),
        _test("time/test_tcp.py::test_value_is_recent", "pass", requirements={"rfc868/tcp/5": "pass"}, cited=["rfc868/tcp/5"]),
    ]
    for k in range(extra_failures):
        tests.append(
            _test(
                f"time/test_fuzz.py::test_case[{k}]",
                "fail",
                requirements={"rfc868/tcp/3": "fail"},
                cited=["rfc868/tcp/3"],
                failure=_failure("rfc868/tcp/3", "MUST", send_text, f"case {k}: got a|b and `tick`", ["4 octets"]),
            )
        )
    requirements = [
        _requirement("rfc868/tcp/3", "MUST", send_text, "fail", [tests[0]["test_id"]]),
        _requirement("rfc868/tcp/5", "MUST", "S: Send the time. <b>bold</b>", "pass", [tests[5]["test_id"]]),
        _requirement("rfc868/tcp/8", "MUST", close_text, "fail", [tests[0]["test_id"], tests[1]["test_id"]]),
        _requirement("rfc868/udp/4", "SHOULD", udp_text, "warn", [tests[2]["test_id"], tests[3]["test_id"], tests[4]["test_id"]]),
        _requirement("rfc868/udp/9", "MUST", "S: Discard a datagram that is not empty.", None, []),
    ]
    counts = {"pass": 0, "fail": 0, "warn": 0, "not-applicable": 0, "inconclusive": 0, "error": 0}
    for test in tests:
        counts[test["verdict"]] += 1
    return {
        "schema": "postel-results",
        "version": 1,
        "run": {
            "started": "2026-12-01T11:00:00Z",
            "finished": "2026-12-01T11:00:03Z",
            "duration": 3.2,
            "postel_version": "0.1.0",
            "python": "3.11.7",
            "argv": ["postel", "run", "--target", "time://127.0.0.1:37"],
            "seed": None,
            "strict": False,
            "profile": "postel-ci",
        },
        "target": {"url": "time://127.0.0.1:37", "scheme": "time", "service": "time", "reference": False, "options": {"tolerance": "5"}},
        "gate": {
            "exit_code": exit_code,
            "reason": "1 MUST failure not in the baseline | see rfc868/tcp/3" if exit_code else "no new MUST failures",
            "counts": counts,
            "new_failures": [{"test_id": tests[0]["test_id"], "requirement": "rfc868/tcp/3"}],
            "baselined_failures": [{"test_id": tests[1]["test_id"], "requirement": "rfc868/tcp/8"}],
            "fixed_baseline_entries": [{"test_id": "time/test_udp.py::test_old_bug", "requirement": "rfc868/udp/2"}],
            "inconclusive": 1,
            "max_inconclusive": None,
        },
        "tests": tests,
        "requirements": requirements,
        "coverage": [
            {"rfc": 868, "title": "Time Protocol", "protocol": "time", "requirements": 5, "covered": 4, "must_total": 5, "must_covered": 3},
        ],
    }


# --- reading the page back --------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Start tags with attributes, script/style bodies, and the visible text under each id."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw_bodies: dict[str, list[str]] = {"script": [], "style": []}
        self.text_by_id: dict[str, list[str]] = {}
        self._open: list[str | None] = []  # id (or None) of each open element
        self._raw: str | None = None
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in self.raw_bodies:
            self._raw = tag
        if tag not in VOID:
            element_id = attributes.get("id")
            self._open.append(element_id)
            if element_id is not None:
                self.text_by_id.setdefault(element_id, [])

    def handle_endtag(self, tag: str) -> None:
        self._raw = None
        if tag not in VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._raw is not None:
            self.raw_bodies[self._raw].append(data)
            return
        for element_id in self._open:
            if element_id is not None:
                self.text_by_id[element_id].append(data)

    def text(self, element_id: str) -> str:
        """Visible text under an element, whitespace collapsed."""
        assert element_id in self.text_by_id, f"no element with id={element_id!r}"
        return re.sub(r"\s+", " ", "".join(self.text_by_id[element_id]))


@pytest.fixture()
def results() -> dict[str, Any]:
    return build_results()


@pytest.fixture()
def page(results: dict[str, Any]) -> Page:
    return Page(render_html(results))


# --- HTML -------------------------------------------------------------------


def test_html_has_every_section(page: Page) -> None:
    for section in ("header", "summary", "coverage", "requirements", "problems"):
        assert page.text(section).strip(), section


def test_html_header_shows_target_times_and_gate(results: dict[str, Any], page: Page) -> None:
    header = page.text("header")
    assert results["target"]["url"] in header
    assert results["run"]["started"] in header and results["run"]["finished"] in header
    gate = page.text("gate")
    assert str(results["gate"]["exit_code"]) in gate
    assert results["gate"]["reason"] in gate
    assert "failed" in gate


def test_html_summary_counts_every_verdict(results: dict[str, Any], page: Page) -> None:
    summary = page.text("summary")
    for verdict, count in results["gate"]["counts"].items():
        assert re.search(rf"\b{count} {re.escape(verdict)}\b", summary), (verdict, count)
    classes = {attrs.get("class") for tag, attrs in page.tags if tag == "div"}
    assert {"count v-pass", "count v-fail", "count v-warn", "count v-error"} <= classes


def test_html_coverage_shows_covered_over_total(results: dict[str, Any], page: Page) -> None:
    coverage = page.text("coverage")
    entry = results["coverage"][0]
    assert f"{entry['must_covered']}/{entry['must_total']}" == "3/5"
    assert "3/5" in coverage
    assert f"{entry['covered']}/{entry['requirements']}" in coverage
    assert f"RFC {entry['rfc']}" in coverage and entry["title"] in coverage


def test_html_coverage_follows_the_data(results: dict[str, Any]) -> None:
    results["coverage"][0].update(must_covered=7, must_total=11)
    coverage = Page(render_html(results)).text("coverage")
    assert "7/11" in coverage and "3/5" not in coverage


def test_html_matrix_lists_every_requirement(results: dict[str, Any], page: Page) -> None:
    rows = [attrs for tag, attrs in page.tags if tag == "tr" and (attrs.get("id") or "").startswith("req-")]
    assert len(rows) == len(results["requirements"])
    for row, req in zip(rows, results["requirements"]):
        text = page.text(row["id"])
        expected_verdict = req.get("verdict", "not-tested")
        assert row["data-verdict"] == expected_verdict
        assert req["id"] in text and req["level"] in text and req["role"] in text and expected_verdict in text
        assert req["text"] in text  # the RFC sentence, unescaped back to what the catalog says
        for test_id in req["tests"]:
            assert test_id in text
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a" and (attrs.get("href") or "").startswith("http")}
    assert {req["url"] for req in results["requirements"]} <= links


def test_html_lists_every_non_passing_test_with_evidence(results: dict[str, Any], page: Page) -> None:
    problems = page.text("problems")
    for test in results["tests"]:
        if test["verdict"] == "pass":
            assert test["test_id"] not in problems
        else:
            assert test["test_id"] in problems, test["test_id"]
            assert test["replay"] in problems
    failed = results["tests"][0]
    failure = failed["failure"]
    for value in (failure["requirement"], failure["level"], failure["text"], failure["actual"], failure["detail"], *failure["expected"]):
        assert value in problems, value
    warning = results["tests"][2]["warnings"][0]
    assert warning["actual"] in problems and warning["text"] in problems
    assert results["tests"][3]["message"] in problems  # error: no failure dict, the message is the evidence


def test_html_marks_baselined_failures(results: dict[str, Any], page: Page) -> None:
    articles = {attrs["id"]: page.text(attrs["id"]) for tag, attrs in page.tags if tag == "article"}
    baselined = next(text for text in articles.values() if results["tests"][1]["test_id"] in text)
    new = next(text for text in articles.values() if results["tests"][0]["test_id"] in text)
    assert "baselined" in baselined and "rfc868/tcp/8" in baselined
    assert "baselined" not in new


def test_html_renders_transcripts_as_time_direction_text(results: dict[str, Any], page: Page) -> None:
    problems = page.text("problems")
    transcript = results["tests"][0]["transcripts"][0]
    assert transcript["label"] in problems
    for entry in transcript["entries"]:
        assert re.search(rf"{entry['t']:.3f} {re.escape(entry['dir'])} {re.escape(entry['text'])}", problems), entry
    assert page.tags.count(("pre", {})) >= 1


def test_html_escapes_hostile_server_bytes(results: dict[str, Any]) -> None:
    source = render_html(results)
    page = Page(source)
    assert HOSTILE not in source
    assert source.count(html_escaped(HOSTILE)) >= 2  # from the transcript entry and from actual
    assert all("alert" not in body for body in page.raw_bodies["script"])
    assert "<b>bold</b>" not in source  # catalog text is escaped too
    assert "S: Send the time. <b>bold</b>" in page.text("requirements")  # ... and still shown as text


def test_html_escapes_hostile_attributes_and_links(results: dict[str, Any]) -> None:
    results["tests"][0]["failure"]["actual"] = '"><img src=x onerror=alert(1)>'
    results["tests"][0]["transcripts"][0]["entries"][1]["hex"] = '"onmouseover="alert(1)'
    results["requirements"][0]["url"] = "javascript:alert(1)"
    page = Page(render_html(results))
    assert not any(tag == "img" for tag, _ in page.tags)
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert not any((attrs.get("href") or "").startswith("javascript:") for _, attrs in page.tags)


def test_html_loads_no_remote_resources(results: dict[str, Any]) -> None:
    results["tests"][0]["transcripts"][0]["entries"].append({"t": 0.5, "dir": "S", "hex": "", "text": '<link rel="stylesheet" href="https://evil.example/x.css">'})
    page = Page(render_html(results))
    rfc_links = {req["url"] for req in results["requirements"]} | {t["failure"]["url"] for t in results["tests"] if t["failure"]}
    for tag, attrs in page.tags:
        assert tag not in {"link", "img", "iframe", "object", "embed", "base", "frame", "audio", "video", "source"}, tag
        assert "src" not in attrs and "srcset" not in attrs, tag
        for name, value in attrs.items():
            if value and re.search(r"(https?:)?//", value):
                assert (tag, name) == ("a", "href") and value in rfc_links, (tag, name, value)
    for body in page.raw_bodies["style"] + page.raw_bodies["script"]:
        assert not re.search(r"url\(|@import|https?://|//[a-z]", body, re.IGNORECASE)


def test_html_tolerates_missing_optional_keys() -> None:
    page = Page(render_html({"schema": "postel-results", "version": 1, "tests": [{"test_id": "t::x", "verdict": "error"}]}))
    assert "t::x" in page.text("problems")
    assert Page(render_html({})).text("summary")


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --- Markdown ---------------------------------------------------------------


def _table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """Cells of the table whose header row starts with ``header_start``, split on unescaped pipes."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_markdown_gate_line_failed(results: dict[str, Any]) -> None:
    first = render_markdown(results).splitlines()[0]
    assert first.startswith("❌")
    assert f"exit code {results['gate']['exit_code']}" in first
    assert "1 MUST failure not in the baseline \\| see rfc868/tcp/3" in first


def test_markdown_gate_line_passed() -> None:
    results = build_results(exit_code=0)
    first = render_markdown(results).splitlines()[0]
    assert first.startswith("✅") and "exit code 0" in first and "❌" not in first
    assert results["gate"]["reason"] in first


def test_markdown_counts_and_coverage(results: dict[str, Any]) -> None:
    markdown = render_markdown(results)
    counts = results["gate"]["counts"]
    header = _table_rows(markdown, "| pass")
    assert header == [[str(counts[v]) for v in ("pass", "fail", "warn", "not-applicable", "inconclusive", "error")]]
    coverage = _table_rows(markdown, "| RFC")
    entry = results["coverage"][0]
    assert coverage == [[f"RFC {entry['rfc']}", entry["title"], entry["protocol"], "4/5", "3/5"]]


def test_markdown_lists_failures_and_fixed_entries(results: dict[str, Any]) -> None:
    markdown = render_markdown(results)
    rows = _table_rows(markdown, "| Requirement")
    listed = [t for t in results["tests"] if t["verdict"] in ("fail", "error")]
    assert len(rows) == len(listed)
    assert rows[0][0].startswith("rfc868/tcp/3") and "test\\_sends\\_32\\_bit\\_value" in rows[0][1]
    assert "\\<script\\>alert(1)\\</script\\>" in rows[0][3] and "<script>" not in markdown
    baselined = next(r for r in rows if "closes" in r[1])
    assert "baselined" in baselined[2] and rows.index(baselined) == len(rows) - 1  # baselined after new problems
    fixed = results["gate"]["fixed_baseline_entries"][0]
    assert "Baselined failures now passing" in markdown
    assert f"- {fixed['requirement']} in time/test\\_udp.py::test\\_old\\_bug" in markdown
    assert "Showing the first" not in markdown


def test_markdown_truncates_after_50_failures() -> None:
    results = build_results(extra_failures=60)
    markdown = render_markdown(results)
    total = sum(t["verdict"] in ("fail", "error") for t in results["tests"])
    assert total == 63
    assert len(_table_rows(markdown, "| Requirement")) == 50
    assert f"Showing the first 50 of {total} failures; {total - 50} more" in markdown


def test_markdown_escapes_pipes_and_backticks() -> None:
    results = build_results(extra_failures=2)
    markdown = render_markdown(results)
    rows = _table_rows(markdown, "| Requirement")
    fuzz = [r for r in rows if "test\\_case" in r[1]]
    assert len(fuzz) == 2
    for row in fuzz:
        assert len(row) == 4  # the pipe in the actual value did not add a column
        assert "got a\\|b and \\`tick\\`" in row[3]
    assert "a|b" not in markdown and "`tick`" not in markdown


def test_markdown_tolerates_missing_optional_keys() -> None:
    markdown = render_markdown({"schema": "postel-results", "version": 1})
    assert markdown.startswith("❔")
    broken = copy.deepcopy(build_results())
    del broken["coverage"], broken["gate"]["counts"]
    assert "| pass" in render_markdown(broken)
