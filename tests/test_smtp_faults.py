"""Proof that the SMTP checks catch faults: `postel run` against the reference SMTP server with one fault switched on.

Why: a suite that passes the reference server proves nothing by itself -- a
check that never fails passes it too.  Each switch in ``FAULTS`` of
``postel.protocols.smtp.server`` breaks one rule; a run against that server
must exit 1, name the rule's requirement as failed (in the per-requirement
rows, in a test record and in the printed summary) and fail no requirement
beyond the ones listed in ``CAUGHT`` -- each extra one with the reason it is
right for that fault.  The same server without a fault, run the same way, and
the embedded reference must pass without a single fail or warn.

The faulty servers are run as a third-party target would be
(``smtp://127.0.0.1:PORT/``), with the target options a user of a local server
gives: the recipient, its Maildir (so the delivered copy can be read back:
unstuffing and the Received field are only visible there) and that the server
requires EHLO before mail.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp.server import FAULTS, SmtpServer
from postel.serving import ServerThread
from tests import runs
from tests.runs import output, results_of, row_verdicts

RUN_LIMIT = 240  # seconds; a run that takes longer is hanging
SETTLED = {"pass", "not-applicable"}
RECIPIENT = "postel@postel.test"
# The crash test's faults: they lose or duplicate nothing the suites can see over one session.
CRASH_FAULTS = {"reply_before_fsync", "crash_after_fsync"}


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


CAUGHT = {
    # "If the first character is a period and there are other characters on the line, the first character
    # is deleted." (4.5.2) -- seen on the copy in the recipient's Maildir.  The 998-octet test's dot-led line
    # keeps its dot too, so its check that every character arrives unchanged (4.5.2, "All characters are to be
    # delivered") fails as well.
    "no_dot_unstuffing": Caught("rfc5321/4.5.2/3", also=("rfc5321/4.5.2/4",), diagnosis=("still stuffed", "..starts with a dot")),
    # "If it declines to relay mail to a particular address for policy reasons, a 550 response SHOULD be
    # returned." (3.6.2)  RFC 5321 makes relay refusal a SHOULD, so an open relay warns; --strict blocks on it.
    "open_relay": Caught("rfc5321/3.6.2/1", diagnosis=("250", "open relay"), strict=True),
    # "these keywords follow the code (250) and a hyphen for all but the last line" (4.1.1.1).  Every
    # "250 " line is a whole reply to the strict client, so each session after EHLO sees replies that
    # answer no command: "Every command MUST generate exactly one reply." (4.2) in every test that says EHLO.
    "wrong_multiline_continuation": Caught("rfc5321/4.1.1.1/9", also=("rfc5321/4.2/1",), diagnosis=("answers no command", "250 SIZE")),
    # "a 503 failure reply MUST be returned" for commands out of order (4.1.4): MAIL before EHLO, on a
    # server whose policy (target option helo_required=yes) is to require EHLO first.
    "accept_before_helo": Caught("rfc5321/4.1.4/16", diagnosis=("250", "MAIL")),
    # "the meanings and actions implied by the code numbers and by the specific command reply sequence
    # MUST be preserved" (4.3.1): a 354 to RSET.  And "The receiver MUST send a "250 OK" reply to a RSET
    # command with no arguments." (4.1.1.5), which every test that sends RSET and wants its 250 checks.
    "bad_reply_code": Caught("rfc5321/4.3.1/5", also=("rfc5321/4.1.1.5/2",), diagnosis=("354", "RSET")),
    # "MUST respond to commands in the order they are received from the client." (RFC 2920 3.2)
    "pipelining_out_of_order": Caught("rfc2920/3.2/1", diagnosis=("250, 503, 250",)),
    # "If the indicated size is larger than the server's fixed maximum message size, the server responds
    # with code "552 ..."" (RFC 1870 6.1)
    "ignores_size": Caught("rfc1870/6.1/6", diagnosis=("250 2.1.0", "to MAIL")),
    # "it MUST insert trace ("time stamp" or "Received") information at the beginning of the message
    # content" (4.4) -- seen on the copy in the recipient's Maildir.
    "no_received": Caught("rfc5321/4.4/1", diagnosis=("Return-Path",)),
}


# ---------------------------------------------------------------- running a server and postel


@contextmanager
def serve(*faults: str) -> Iterator[tuple[str, list[str], ServerThread]]:
    """The reference SMTP server on a fresh MailStore with ``faults`` on; yields (url, target options, thread)."""
    with tempfile.TemporaryDirectory(prefix="postel-smtp-faults-") as folder:
        store = MailStore(Path(folder), domains=("postel.test",), users={"postel": "pw-not-used"})
        thread = ServerThread(SmtpServer(store, faults=frozenset(faults)), "smtp").start()
        options = {"recipient": RECIPIENT, "maildir": str(store.mailbox("postel").path), "helo_required": "yes"}
        try:
            host, port = thread.server.address
            yield f"smtp://{host}:{port}/", [a for k, v in options.items() for a in ("--target-option", f"{k}={v}")], thread
        finally:
            thread.stop()


def postel_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return runs.postel_run(tmp_path, *args, limit=RUN_LIMIT)


def failures(results: dict, requirements: set[str]) -> list[str]:
    """Which test failed (or warned on) each of ``requirements``, and what it saw."""
    lines = []
    for test in results["tests"]:
        for rid, verdict in test["requirements"].items():
            if verdict in ("fail", "warn") and rid in requirements:
                failure = test["failure"] if (test["failure"] or {}).get("requirement") == rid else None
                failure = failure or next((w for w in test["warnings"] if w["requirement"] == rid), None)
                actual = failure["actual"] if failure else test["message"]
                lines.append(f"{rid} {verdict}  {test['test_id']}\n    actual: {str(actual)[:300]}")
    return lines


def assert_harness_did_not_break(proc: subprocess.CompletedProcess, results: dict, thread: ServerThread | None = None) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, output(proc)
    assert "INTERNALERROR" not in proc.stdout, output(proc)
    errors = [(t["test_id"], t["message"][-800:]) for t in results["tests"] if t["verdict"] == "error"]
    assert not errors, f"harness errors in {errors}\n{output(proc)}"
    if thread is not None:
        # A fault switch that crashes the server proves nothing about the check that then "fails".
        assert not thread.errors, f"the server raised: {thread.errors}"


# ---------------------------------------------------------------- each fault is caught


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT))
def test_fault_fails_the_requirement_it_breaks(fault, tmp_path):
    caught = CAUGHT[fault]
    with serve(fault) as (url, options, thread):
        proc = postel_run(tmp_path, url, "--allow-destructive", *options, *(["--strict"] if caught.strict else []))
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, thread)
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert {t["service"] for t in results["tests"]} == {"smtp"}

    assert proc.returncode == 1, output(proc)
    assert results["gate"]["exit_code"] == 1
    assert caught.requirement in {e["requirement"] for e in results["gate"]["new_failures"]}

    # The per-requirement rows: this fault's requirements block, and nothing else does.
    rows = row_verdicts(results)
    assert rows[caught.requirement] == ("warn" if caught.strict else "fail"), rows
    blocking = {rid for rid, verdict in rows.items() if verdict == "fail" or (caught.strict and verdict == "warn")}
    unexpected = blocking - caught.failing
    assert not unexpected, "failed beyond the fault's requirements:\n" + "\n".join(failures(results, unexpected))
    assert blocking == caught.failing, f"listed in CAUGHT but not failed: {sorted(caught.failing - blocking)}"

    # A test record says which sentence broke, with what was seen.
    named = [
        t
        for t in results["tests"]
        if t["requirements"].get(caught.requirement) in ("fail", "warn") and (t["failure"] or {}).get("requirement") == caught.requirement
    ]
    assert named, [(t["test_id"], t["requirements"], t["failure"]) for t in results["tests"]]
    actuals = [t["failure"]["actual"] for t in named]
    assert any(all(word in actual for word in caught.diagnosis) for actual in actuals), actuals

    # The summary printed last names the requirement on a FAIL (or, --strict, WARN) line, unless the
    # failing test is past the summary's first 20 (wrong_multiline_continuation fails nearly every test).
    summary = proc.stdout.rsplit("\ntarget: ", 1)[-1]
    named_line = re.search(rf"^\s*(FAIL|WARN)\s+(\S+, )*{re.escape(caught.requirement)}[\s,]", summary, re.MULTILINE)
    assert named_line or re.search(r"^  \.\.\. [0-9]+ more; see the report", summary, re.MULTILINE), output(proc)
    assert re.search(r"^postel: exit 1: ", summary, re.MULTILINE), output(proc)


# ---------------------------------------------------------------- the reference passes


def assert_all_settled(proc: subprocess.CompletedProcess, results: dict) -> None:
    rows = row_verdicts(results)
    failed = {rid for rid, verdict in rows.items() if verdict in ("fail", "warn")}
    assert not failed, "the reference fails or warns:\n" + "\n".join(failures(results, failed))
    assert proc.returncode == 0, output(proc)
    verdicts = {t["test_id"]: t["verdict"] for t in results["tests"]}
    assert set(verdicts.values()) <= SETTLED, {k: v for k, v in verdicts.items() if v not in SETTLED}
    assert "pass" in verdicts.values()


@pytest.mark.slow
def test_the_server_without_a_fault_passes_as_a_third_party_target(tmp_path):
    """The control for every fault above: the same server and options, no fault, the whole suite, --strict."""
    with serve() as (url, options, thread):
        proc = postel_run(tmp_path, url, "--allow-destructive", "--strict", *options)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, thread)
    assert_all_settled(proc, results)
    rows = row_verdicts(results)
    # The checks the faults fail were reached and decided, not skipped.
    decided = {c.requirement for c in CAUGHT.values()}
    assert {rid: rows[rid] for rid in decided} == dict.fromkeys(decided, "pass")
    verdicts = {t["test_id"]: t["verdict"] for t in results["tests"]}
    assert set(verdicts.values()) == {"pass"}, {k: v for k, v in verdicts.items() if v != "pass"}


@pytest.mark.slow
def test_the_embedded_reference_passes(tmp_path):
    proc = postel_run(tmp_path, "smtp://reference", "--strict")
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results)
    assert results["target"]["reference"]
    assert {t["service"] for t in results["tests"]} == {"smtp"}
    assert_all_settled(proc, results)


def test_every_fault_switch_is_caught():
    """Every fault of the server but the crash test's two has its proof here."""
    assert sorted(FAULTS - CRASH_FAULTS) == sorted(CAUGHT)
