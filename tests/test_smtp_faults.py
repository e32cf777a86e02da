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

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from postel.protocols.mail.maildir import MailStore
from postel.protocols.smtp.server import FAULTS, SmtpServer
from postel.serving import ServerThread
from tests import runs
from tests.runs import Caught, assert_all_settled, assert_caught, assert_harness_did_not_break, results_of, row_verdicts

RUN_LIMIT = 240  # seconds; a run that takes longer is hanging
RECIPIENT = "postel@postel.test"
# The crash test's faults: they lose or duplicate nothing the suites can see over one session.
CRASH_FAULTS = {"reply_before_fsync", "crash_after_fsync"}


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
    # "If a numeric parameter follows the SIZE keyword value of the EHLO response, it indicates the size of
    # the largest message that the server is willing to accept." (RFC 1870 4): MAIL SIZE=<the limit> gets 552.
    "size_limit_off_by_one": Caught("rfc1870/4/1", diagnosis=("552", "to MAIL")),
    # "Servers MUST NOT use the SIZE parameter to determine end of content in the DATA command." (RFC 1870 6)
    # -- the stored copy stops at the declared size.
    "size_cuts_data": Caught("rfc1870/6/6", diagnosis=("stored",)),
    # "MUST send all pending responses immediately whenever the local TCP input buffer is emptied." (RFC 2920
    # 3.2 (7)): the replies to MAIL, RCPT, RSET sent together wait for a command that never comes.
    "holds_grouped_replies": Caught("rfc2920/3.2/7", diagnosis=("0 of 3 replies", "WireTimeout")),
    # "MUST NOT buffer responses to unrecognized commands." (RFC 2920 3.2 (6)): the 500 waits for the rest of
    # the half-sent line after it.
    "holds_replies_behind_partial_input": Caught("rfc2920/3.2/6", diagnosis=("0 of 1 replies", "WireTimeout")),
    # "MUST NOT flush or otherwise lose the contents of the TCP input buffer under any circumstances
    # whatsoever." (RFC 2920 3.2 (9)): what came with an unrecognized command line is thrown away.
    "drops_input_after_error": Caught("rfc2920/3.2/9", diagnosis=("replies, then WireTimeout",)),
    # "The minimum total number of recipients that MUST be buffered is 100 recipients." and "Rejection of
    # messages (for excessive recipients) with fewer than 100 RCPT commands is a violation" (4.5.3.1.8).
    "few_recipients": Caught("rfc5321/4.5.3.1.8/1", also=("rfc5321/4.5.3.1.8/2",), diagnosis=("RCPT number 51", "452")),
    # "MUST support the reserved mailbox "postmaster" as a case-insensitive local name." (4.5.1)
    "postmaster_case_sensitive": Caught("rfc5321/4.5.1/2", diagnosis=("550", "POSTMASTER")),
    # "The FROM clause, which MUST be supplied in an SMTP environment" (4.4) -- on the stored copy.
    "received_without_from": Caught("rfc5321/4.4/3", diagnosis=("Received: by",)),
    # "the "obs-" forms, especially two-digit years, are prohibited in SMTP and MUST NOT be used." (4.4)
    # (Its "GMT" also warns on 'The form "+0000" SHOULD be used to indicate a time zone at Universal Time.'
    # (RFC 5322 3.3, rfc5322/3.3/1): a warning, which a run without --strict does not block on.)
    "received_obsolete_date": Caught("rfc5321/4.4/23", diagnosis=("GMT",)),
    # MAIL "tells the SMTP-receiver that a new mail transaction is starting and to reset all its state tables
    # and buffers, including any recipients or mail data." (3.3): DATA right after MAIL gets 354.
    "mail_keeps_recipients": Caught("rfc5321/3.3/1", diagnosis=("354",)),
    # "the server SMTP must deliver or relay the content in such a way as to preserve all bits in each
    # octet." (RFC 6152 3) -- on the stored copy.
    # test_data.py's 8-bit message, read back the same way, breaks "shall preserve all bits in each octet" (3).
    "clears_high_bit": Caught("rfc6152/3/8", also=("rfc6152/3/4",), diagnosis=("stored",)),
    # "the CR-LF pair immediately preceding the final dot is considered part of the content." (RFC 6152 3)
    # Every check that compares a stored copy with what was sent sees the last line cut short: "All characters
    # are to be delivered" (4.5.2), every bit kept (RFC 6152 3/4, 3/8), no end of content taken from SIZE
    # (RFC 1870 6: its stored copy is short by the same two octets).
    "drops_final_crlf": Caught(
        "rfc6152/3/6", also=("rfc6152/3/8", "rfc6152/3/4", "rfc5321/4.5.2/4", "rfc1870/6/6"), diagnosis=("ends",)
    ),
    # "If the server SMTP does not recognize or cannot implement one or more of the parameters ... it will
    # return code 555." (4.1.1.11)
    "ignores_unknown_parameters": Caught("rfc5321/4.1.1.11/1", diagnosis=("250", "to MAIL")),
    # EXPN "has no effect on the reverse-path buffer, the forward-path buffer, or the mail data buffer" (4.1.1.7)
    "expn_clears_recipients": Caught("rfc5321/4.1.1.7/1", diagnosis=("503",)),
    # "all quoted forms MUST be treated as equivalent" (4.1.2)
    "quoted_local_part_unknown": Caught("rfc5321/4.1.2/4", diagnosis=("550",)),
    # the source route "MUST BE accepted" (4.1.2; 3.3: "Servers MUST be prepared to encounter a list of source
    # routes in the forward-path"), in RCPT; in MAIL, "Reverse-path = Path" (4.1.2); test_relay.py's "MUST
    # recognize source route syntax" (4.1.1.3).
    "rejects_source_routes": Caught("rfc5321/4.1.2/3", also=("rfc5321/4.1.2/2", "rfc5321/4.1.1.3/2"), diagnosis=("501",)),
    # "a compliant server includes these codes in the responses it sends regardless of whether or not the
    # client expects them." (RFC 2034 5): none before EHLO; test_extensions.py's HELO session sees none either
    # ("the status code after HELO as after EHLO", RFC 2034 4).
    "enhanced_codes_after_ehlo_only": Caught("rfc2034/5/1", also=("rfc2034/4/6",), diagnosis=("[('rfc2034/4/3'",)),
    # "SMTP implementations MUST take care to preserve the case of mailbox local-parts." (2.4) -- the stored
    # copy's Return-Path.
    "lowercases_reverse_path": Caught("rfc5321/2.4/4", diagnosis=("Return-Path",)),
    # "the day-of-week (if included) MUST be the day implied by the date" (RFC 5322 3.3) -- the stored copy's
    # Received date-time.
    "received_wrong_weekday": Caught("rfc5322/3.3/3", diagnosis=("is not the day of",)),
    # "Each line of characters MUST be no more than 998 characters, and SHOULD be no more than 78 characters"
    # (RFC 5322 2.1.1): a Received field of some 115 characters, not folded.  A SHOULD: run with --strict.
    "received_unfolded": Caught("rfc5322/2.1.1/2", diagnosis=("octets", "Received: from"), strict=True),
    # "A field body MUST NOT include CR and LF except when used in "folding" and "unfolding"" (RFC 5322 2.2):
    # folding is a CRLF before white space (2.2.3), not an LF alone.
    "received_bare_lf": Caught("rfc5322/2.2/2", diagnosis=("bare CR or LF",)),
    # "the trace header fields and resent header fields MUST NOT be reordered" (RFC 5322 3.6): the new trace
    # block below the Received field the message arrived with.  test_message_format.py checks that first, then
    # RFC 5321 4.4's "MUST prepend Received lines" (rfc5321/4.4/7), unreached once the first fails.
    "trace_below_client_trace": Caught("rfc5322/3.6/2", diagnosis=("below the earlier hop's Received",)),
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


# ---------------------------------------------------------------- each fault is caught


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CAUGHT))
def test_fault_fails_the_requirement_it_breaks(fault, tmp_path):
    caught = CAUGHT[fault]
    with serve(fault) as (url, options, thread):
        proc = postel_run(tmp_path, url, "--allow-destructive", *options, *(["--strict"] if caught.strict else []))
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, [thread])
    assert results["target"]["url"] == url and not results["target"]["reference"], results["target"]
    assert {t["service"] for t in results["tests"]} == {"smtp"}
    # wrong_multiline_continuation fails nearly every test: its row may be past the summary's first 20.
    assert_caught(proc, results, caught)


# ---------------------------------------------------------------- the reference passes


@pytest.mark.slow
def test_the_server_without_a_fault_passes_as_a_third_party_target(tmp_path):
    """The control for every fault above: the same server and options, no fault, the whole suite, --strict."""
    with serve() as (url, options, thread):
        proc = postel_run(tmp_path, url, "--allow-destructive", "--strict", *options)
    results = results_of(tmp_path)
    assert_harness_did_not_break(proc, results, [thread])
    assert_all_settled(proc, results)
    rows = row_verdicts(results)
    # The checks the faults fail were reached and decided, not skipped.
    decided = {c.requirement for c in CAUGHT.values()}
    assert {rid: rows[rid] for rid in decided} == dict.fromkeys(decided, "pass")
    verdicts = {t["test_id"]: t["verdict"] for t in results["tests"]}
    assert set(verdicts.values()) == {"pass"}, {k: v for k, v in verdicts.items() if v != "pass"}


@pytest.mark.slow
def test_the_embedded_reference_passes(tmp_path):
    runs.assert_the_embedded_reference_passes(tmp_path, "smtp", "--strict", limit=RUN_LIMIT)


def test_every_fault_switch_is_caught():
    """Every fault of the server but the crash test's two has its proof here."""
    assert sorted(FAULTS - CRASH_FAULTS) == sorted(CAUGHT)
