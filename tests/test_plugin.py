"""The pytest plugin as a user runs it: `pytest --target URL` in a subprocess (pytest-timeout's habit)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

pytestmark = pytest.mark.slow

SUITE_HEADER = """
import pytest
from postel.protocols.time.client import query_tcp
pytestmark = pytest.mark.service("time")
"""


def _time_url(server) -> str:
    host, port = server.tcp_address
    return f"time://{host}:{port}"


def test_a_suite_test_without_requirement_is_a_collection_error(pytester, reference_time):
    pytester.makepyfile(test_bare=SUITE_HEADER + "def test_x(target):\n    pass\n")
    result = pytester.runpytest_subprocess("test_bare.py", "--target", _time_url(reference_time))
    result.stdout.fnmatch_lines(["*postel: *test_x has no @pytest.mark.requirement*"])
    assert result.ret == 2


def test_an_unknown_requirement_is_a_collection_error_with_a_suggestion(pytester, reference_time):
    pytester.makepyfile(test_bad=SUITE_HEADER + "@pytest.mark.requirement('rfc868/tcp/33')\ndef test_x(target):\n    pass\n")
    result = pytester.runpytest_subprocess("test_bad.py", "--target", _time_url(reference_time))
    result.stdout.fnmatch_lines(["*cites unknown requirement 'rfc868/tcp/33' (did you mean 'rfc868/tcp/*'?)*"])
    assert result.ret == 2


def test_a_bad_service_marker_is_a_collection_error(pytester, reference_time):
    body = "import pytest\npytestmark = pytest.mark.service('gopher')\n@pytest.mark.requirement('rfc868/tcp/3')\ndef test_x():\n    pass\n"
    pytester.makepyfile(test_svc=body)
    result = pytester.runpytest_subprocess("test_svc.py", "--target", _time_url(reference_time))
    result.stdout.fnmatch_lines(["*needs @pytest.mark.service(name) with one of time, time+udp*"])


def test_target_from_any_directory_runs_the_installed_suites_and_deselects_other_services(pytester, reference_time):
    host, port = reference_time.udp_address
    result = pytester.runpytest_subprocess("--target", f"time+udp://{host}:{port}", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes.get("passed", 0) >= 3
    assert outcomes.get("deselected", 0) >= 5  # the TCP tests
    assert "test_rfc868_tcp" not in result.stdout.str().replace("deselected", "")


def test_bad_target_url_is_a_usage_error_in_one_line(pytester):
    result = pytester.runpytest_subprocess("--target", "time://h:70000")
    result.stderr.fnmatch_lines(["ERROR: postel: bad port '70000'*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_unreachable_target_exits_2(pytester, closed_port):
    result = pytester.runpytest_subprocess("--target", f"time://127.0.0.1:{closed_port}")
    assert result.ret == 2
    assert f"cannot reach time://127.0.0.1:{closed_port}" in result.stderr.str() + result.stdout.str()


def test_nothing_ran_is_exit_2(pytester, reference_time):
    result = pytester.runpytest_subprocess("--target", _time_url(reference_time), "-k", "no_such_test")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*nothing was tested*"])


SHOULD_TEST = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/9")
def test_should(target, wire, expect):
    expect.should(False, "rfc868/tcp/9", expected="refuse or close", actual="sent garbage")
"""


def test_a_should_failure_warns_and_passes(pytester, reference_time):
    pytester.makepyfile(test_should=SHOULD_TEST)
    result = pytester.runpytest_subprocess("test_should.py", "--target", _time_url(reference_time), "--postel-report", "out")
    assert result.ret == 0, result.stdout.str()
    results = json.loads((pytester.path / "out" / "results.json").read_text())
    assert [t["verdict"] for t in results["tests"]] == ["warn"]
    assert results["tests"][0]["warnings"][0]["requirement"] == "rfc868/tcp/9"


@pytest.mark.parametrize("flag", ["--postel-strict", "--strict"])
def test_strict_makes_should_failures_fail(pytester, reference_time, flag):
    pytester.makepyfile(test_should=SHOULD_TEST)
    result = pytester.runpytest_subprocess("test_should.py", "--target", _time_url(reference_time), flag)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*rfc868/tcp/9 (SHOULD, server) violated*"])


MUST_TEST = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/3")
def test_must(target, wire, expect):
    expect.must(False, "rfc868/tcp/3", expected=["4 octets", "nothing"], actual="8 octets")

@pytest.mark.requirement("rfc868/tcp/8")
def test_ok(target, wire, expect):
    expect.must(True, "rfc868/tcp/8", expected="x", actual="x")
"""


def test_a_must_failure_says_requirement_expected_actual_and_replay(pytester, reference_time):
    pytester.makepyfile(test_must=MUST_TEST)
    result = pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*rfc868/tcp/3 (MUST, server) violated*",
            '*RFC 868, section tcp: "S: Send the time as a 32 bit binary number."*',
            "*expected: 4 octets*",
            "*or: nothing*",
            "*actual:   8 octets*",
        ]
    )
    result.stdout.fnmatch_lines(["*postel replay*", "pytest 'test_must.py::test_must' --target*"])


def test_baseline_accepts_a_failure_and_reports_fixed_entries(pytester, reference_time):
    pytester.makepyfile(test_must=MUST_TEST)
    baseline = pytester.path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "format": "postel-baseline",
                "version": 1,
                "accepted": [
                    {"test": "test_must.py::test_must", "requirement": "rfc868/tcp/3"},
                    {"test": "test_must.py::test_ok", "requirement": "rfc868/tcp/8"},
                ],
            }
        )
    )
    result = pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "--baseline", str(baseline), "--postel-report", "out")
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes().get("xfailed") == 1
    gate = json.loads((pytester.path / "out" / "results.json").read_text())["gate"]
    assert gate["baselined_failures"] == [{"test_id": "test_must.py::test_must", "requirement": "rfc868/tcp/3"}]
    assert gate["fixed_baseline_entries"] == [{"test_id": "test_must.py::test_ok", "requirement": "rfc868/tcp/8"}]
    result.stdout.fnmatch_lines(["*baselined failure now passes (prune it): test_must.py::test_ok rfc868/tcp/8*"])


def test_a_broken_baseline_file_is_a_usage_error(pytester, reference_time):
    (pytester.path / "b.json").write_text("{not json")
    result = pytester.runpytest_subprocess("--target", _time_url(reference_time), "--baseline", "b.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not readable JSON*"])


def _silent_server():
    """Accepts and never answers: the wire deadline must end the test as inconclusive."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []

    def serve():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    return listener, held


INCONCLUSIVE_TEST = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/3")
def test_read(target, wire, expect):
    conn = wire.tcp()
    conn.read_exactly(4)
"""


@pytest.mark.parametrize(("extra", "code"), [((), 2), (("--max-inconclusive", "0"), 2)])
def test_a_silent_peer_is_inconclusive_within_the_deadline(pytester, extra, code):
    listener, held = _silent_server()
    try:
        port = listener.getsockname()[1]
        pytester.makepyfile(test_inc=INCONCLUSIVE_TEST)
        result = pytester.runpytest_subprocess("test_inc.py", "--target", f"time://127.0.0.1:{port}", "--target-option", "timeout=1", "-rs", *extra)
    finally:
        listener.close()
        for conn in held:
            conn.close()
    # the only test is inconclusive: nothing was decided, so exit 2 either way
    assert result.ret == code
    result.stdout.fnmatch_lines(["*inconclusive: WireTimeout: no data within 1s*"])


def test_max_inconclusive_gates_a_run_that_also_passed_something(pytester, reference_time):
    body = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/8")
def test_ok(target, wire, expect):
    expect.must(True, "rfc868/tcp/8", expected="x", actual="x")

@pytest.mark.requirement("rfc868/tcp/3")
def test_inc(target, expect):
    expect.inconclusive("could not tell")
"""
    pytester.makepyfile(test_mix=body)
    assert pytester.runpytest_subprocess("test_mix.py", "--target", _time_url(reference_time)).ret == 0
    result = pytester.runpytest_subprocess("test_mix.py", "--target", _time_url(reference_time), "--max-inconclusive", "0")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*more than --max-inconclusive 0*"])


def test_a_check_with_the_wrong_level_is_a_harness_error(pytester, reference_time):
    body = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/3")
def test_wrong(target, expect):
    expect.should(False, "rfc868/tcp/3", expected="x", actual="y")
"""
    pytester.makepyfile(test_wrong=body)
    result = pytester.runpytest_subprocess("test_wrong.py", "--target", _time_url(reference_time))
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*expect.should() used for rfc868/tcp/3, which the catalog says is MUST*"])


def test_xdist_run_gathers_every_record(pytester, reference_time):
    pytester.makepyfile(test_must=MUST_TEST)
    result = pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "-n", "2", "--postel-report", "out")
    assert result.ret == 1
    results = json.loads((pytester.path / "out" / "results.json").read_text())
    assert sorted(t["verdict"] for t in results["tests"]) == ["fail", "pass"]
    junit = (pytester.path / "out" / "junit.xml").read_text()
    assert 'name="requirement" value="rfc868/tcp/3"' in junit and 'name="verdict" value="fail"' in junit


def test_the_harness_own_tests_are_left_alone(pytester):
    """A pytest run with no suite tests and no --target keeps pytest's exit code."""
    pytester.makepyfile(test_plain="def test_a():\n    assert 1\n")
    assert pytester.runpytest_subprocess().ret == 0
    pytester.makepyfile(test_plain="def test_a():\n    assert 0\n")
    assert pytester.runpytest_subprocess().ret == 1


def test_credentials_never_reach_output_transcripts_or_reports(pytester):
    """A password in the URL, sent on the wire by a failing test: *** everywhere."""
    listener, held = _silent_server()
    port = listener.getsockname()[1]
    body = """
import pytest
pytestmark = pytest.mark.service("ftp")

@pytest.mark.requirement("rfc868/tcp/3")
def test_login(target, wire, expect):
    conn = wire.tcp("login")
    conn.send(f"USER {target.user}\\r\\nPASS {target.password}\\r\\n".encode())
    expect.must(False, "rfc868/tcp/3", expected="a reply", actual=f"silence after PASS {target.password}")
"""
    pytester.makepyfile(test_cred=body)
    try:
        result = pytester.runpytest_subprocess(
            "test_cred.py", "--target", f"ftp://alice:hunter2@127.0.0.1:{port}/", "--postel-report", "out", "-rA"
        )
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert result.ret == 1
    output = result.stdout.str() + result.stderr.str()
    assert "PASS ***" in output
    assert "hunter2" not in output.replace("--target ftp://alice:hunter2@", "")  # pytester echoes its own argv
    out = pytester.path / "out"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"results.json", "report.html", "summary.md", "junit.xml"}
    for path in files:
        assert b"hunter2" not in path.read_bytes(), f"password in {path.relative_to(out)}"


def test_destructive_tests_need_permission_against_a_third_party_target(pytester, reference_time):
    body = SUITE_HEADER + """
@pytest.mark.destructive
@pytest.mark.requirement("rfc868/tcp/8")
def test_changes_things(target, expect):
    expect.must(True, "rfc868/tcp/8", expected="x", actual="x")
"""
    pytester.makepyfile(test_destr=body)
    skipped = pytester.runpytest_subprocess("test_destr.py", "--target", _time_url(reference_time), "-rs")
    skipped.stdout.fnmatch_lines(["*n/a: destructive test against a third-party target; pass --allow-destructive*"])
    allowed = pytester.runpytest_subprocess("test_destr.py", "--target", _time_url(reference_time), "--allow-destructive")
    assert allowed.ret == 0 and allowed.parseoutcomes().get("passed") == 1


FLAKY = SUITE_HEADER + """
from hypothesis import given, strategies as st
from pathlib import Path
COUNTER = Path(__file__).with_name("calls.txt")

@pytest.mark.requirement("rfc868/tcp/3")
@given(st.integers(0, 10))
def test_flaky(target, expect, n):
    calls = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(calls + 1))
    # fails once, then never again: what a live server that hiccups looks like
    expect.must(calls != 0, "rfc868/tcp/3", expected="4 octets", actual="a hiccup")
"""


def test_an_example_that_does_not_replay_is_inconclusive_not_flaky(pytester, reference_time):
    pytester.makepyfile(test_flaky=FLAKY)
    result = pytester.runpytest_subprocess("test_flaky.py", "--target", _time_url(reference_time), "-rs", "--postel-report", "out")
    results = json.loads((pytester.path / "out" / "results.json").read_text())
    assert [t["verdict"] for t in results["tests"]] == ["inconclusive"]
    result.stdout.fnmatch_lines(["*inconclusive: *Flaky*"])
    assert result.ret == 2  # nothing else was decided


def test_seed_is_recorded_and_in_the_replay_line(pytester, reference_time):
    pytester.makepyfile(test_must=MUST_TEST)
    result = pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "--seed", "1234", "--postel-report", "out")
    results = json.loads((pytester.path / "out" / "results.json").read_text())
    assert results["run"]["seed"] == 1234
    failing = next(t for t in results["tests"] if t["verdict"] == "fail")
    assert failing["replay"].endswith("--seed 1234")
    result.stdout.fnmatch_lines(["*--seed 1234*"])


WIRED_FAILURE = SUITE_HEADER + """
@pytest.mark.requirement("rfc868/tcp/3")
def test_must(target, wire, expect):
    answer = query_tcp(target.address, wire.transcript("tcp query"), timeout=wire.timeout)
    expect.must(False, "rfc868/tcp/3", expected="4 octets", actual=f"{answer.value}")
"""


def test_allure_results_carry_labels_link_transcript_and_pcap(pytester, reference_time):
    pytester.makepyfile(test_must=WIRED_FAILURE)
    pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "--postel-report", "out")
    results = [json.loads(p.read_text()) for p in (pytester.path / "out" / "allure-results").glob("*-result.json")]
    failing = next(r for r in results if r["name"] == "test_must")
    labels = {(label["name"], label["value"]) for label in failing["labels"]}
    assert {("epic", "time"), ("feature", "RFC 868"), ("story", "RFC 868 tcp"), ("severity", "critical"), ("requirement", "rfc868/tcp/3")} <= labels
    assert any(link["url"] == "https://www.rfc-editor.org/rfc/rfc868" for link in failing["links"])
    attachments = {a["name"] for a in failing.get("attachments", [])}
    assert {"transcript", "capture.pcap"} <= attachments


def test_postel_baseline_from_results_then_run_with_it(pytester, reference_time, tmp_path):
    import subprocess

    from tests.conftest import POSTEL

    pytester.makepyfile(test_must=MUST_TEST)
    pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "--postel-report", "out")
    written = subprocess.run([POSTEL, "baseline", "--from", "out/results.json", "-o", "b.json"], cwd=pytester.path, capture_output=True, text=True)
    assert written.returncode == 0, written.stderr
    assert "wrote 1 accepted failure" in written.stdout
    accepted = json.loads((pytester.path / "b.json").read_text())["accepted"]
    assert accepted == [{"test": "test_must.py::test_must", "requirement": "rfc868/tcp/3"}]
    assert pytester.runpytest_subprocess("test_must.py", "--target", _time_url(reference_time), "--baseline", "b.json").ret == 0
