"""The postel pytest plugin (entry point ``postel``): options, markers, verdicts, gate.

In sections, in the order pytest calls them (pytest-timeout's layout):
constants; options; configuration; collection (requirement markers checked,
tests of other services deselected); each test's report (verdict per
requirement, transcript, baseline); the session's end (gate, reports, exit
code).  State lives in ``config.stash`` and ``item.stash`` only.

Two of the issue's option names are pytest's own: ``--strict`` (pytest's "all
strictness") and ``--capture`` (output capturing).  The plugin registers
``--postel-strict`` and ``--postel-capture``; pytest's own ``--strict`` also
makes SHOULD failures fail, and ``postel run --strict/--capture`` map to them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from postel.baseline import Baseline, BaselineError
from postel.protocols.errors import RemoteProtocolError
from postel.requirements import CatalogError, Level, load_requirements
from postel.results import ExitCode, build_results, decide_gate, now_iso
from postel.session import ITEM_KEY, SETTINGS_KEY, ItemContext, Settings
from postel.target import SERVICES, TargetError, parse_target, with_environment_password
from postel.verdict import ConformanceFailure, HarnessError, Observation, Verdict, requirement_verdicts, worst
from postel.wire import WireError

pytest_plugins = ["postel.fixtures.targets"]

# ---------------------------------------------------------------- constants

TARGET_HELP = "server under test, e.g. time://host:37, ftp://user:pw@host/ (default: the embedded reference servers)"
OPTION_HELP = "target option key=value (timeout, tolerance, sender, ...); repeatable"
STRICT_HELP = "SHOULD failures fail the run (pytest's own --strict does too)"
BASELINE_HELP = "JSON file of accepted failures (test, requirement); see 'postel baseline'"
DESTRUCTIVE_HELP = "allow destructive tests (mail, DELE, STOR, POST) against a third-party target"
INCONCLUSIVE_HELP = "exit 2 when more than N tests are inconclusive"
SEED_HELP = "seed for Hypothesis, to replay a run exactly"
REPORT_HELP = "write results.json, report.html, summary.md, junit.xml, allure-results/ and pcaps here"
CAPTURE_HELP = "live packet capture of the run with scapy (needs root); saved as capture.pcap in the report dir"

RUN_KEY = pytest.StashKey["RunState"]()
_SUITE_PATH = re.compile(r"(?:^|[/\\])suites[/\\](?P<protocol>[A-Za-z0-9_]+)[/\\](?P<rest>.+)$")


# ---------------------------------------------------------------- options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("postel", "postel protocol conformance")
    group.addoption("--target", dest="postel_target", default=None, metavar="URL", help=TARGET_HELP)
    group.addoption("--target-option", dest="postel_target_options", action="append", default=[], metavar="KEY=VALUE", help=OPTION_HELP)
    group.addoption("--postel-strict", dest="postel_strict", action="store_true", default=False, help=STRICT_HELP)
    group.addoption("--baseline", dest="postel_baseline", default=None, metavar="FILE", help=BASELINE_HELP)
    group.addoption("--allow-destructive", dest="postel_allow_destructive", action="store_true", default=False, help=DESTRUCTIVE_HELP)
    group.addoption("--max-inconclusive", dest="postel_max_inconclusive", default=None, metavar="N", help=INCONCLUSIVE_HELP)
    group.addoption("--seed", dest="postel_seed", default=None, metavar="N", help=SEED_HELP)
    group.addoption("--postel-report", dest="postel_report", default=None, metavar="DIR", help=REPORT_HELP)
    group.addoption("--postel-capture", dest="postel_capture", action="store_true", default=False, help=CAPTURE_HELP)
    group.addoption("--postel-progress", dest="postel_progress", action="store_true", default=False, help="one line per protocol instead of a character per test")
    parser.addini("postel_target", TARGET_HELP)
    parser.addini("postel_target_options", OPTION_HELP, type="linelist")
    parser.addini("postel_baseline", BASELINE_HELP)


def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """``pytest --target URL`` with no paths runs the installed suites, from any directory."""
    namespace = parser.parse_known_args(args)
    if getattr(namespace, "postel_target", None) and not getattr(namespace, "file_or_dir", None):
        args.append(str(_suites_dir()))


# ---------------------------------------------------------------- configuration


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the catalog requirement IDs (specs/*.toml) this test checks; required on suite tests")
    config.addinivalue_line("markers", "service(name): the service a suite test checks (time, time+udp, http, ftp, pop3, smtp, nntp)")
    config.addinivalue_line("markers", "destructive: the test changes the target (sends mail, deletes, uploads); needs --allow-destructive against a third-party target")
    try:
        settings = _settings(config)
    except (TargetError, CatalogError, BaselineError, ValueError) as exc:
        raise pytest.UsageError(f"postel: {exc}") from None
    config.stash[SETTINGS_KEY] = settings
    state = RunState(config)
    config.stash[RUN_KEY] = state
    config.pluginmanager.register(state, "postel-run")
    _configure_hypothesis(config, settings)
    if settings.report_dir:
        # Workers write Allure results themselves; only the controller writes JUnit.
        if not _is_worker(config):
            settings.report_dir.mkdir(parents=True, exist_ok=True)
            if not getattr(config.option, "xmlpath", None):
                config.option.xmlpath = str(settings.report_dir / "junit.xml")
        if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
            config.option.allure_report_dir = str(settings.report_dir / "allure-results")
            config.option.clean_alluredir = not _is_worker(config)


def _settings(config: pytest.Config) -> Settings:
    url = config.getoption("postel_target") or config.getini("postel_target") or None
    target = None
    if url and url.strip().lower() != "reference":
        target = with_environment_password(parse_target(url), os.environ)  # "time+udp://reference": that service's reference server only
    options: dict[str, str] = {}
    for where, items in (("ini", config.getini("postel_target_options")), ("--target-option", config.getoption("postel_target_options"))):
        for item in items:
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ValueError(f"{where} {item!r} is not key=value")
            options[key.strip()] = value.strip()
    _validate_number(options.get("timeout"), "target option timeout", float)
    _validate_number(options.get("tolerance"), "target option tolerance", float)
    baseline = config.getoption("postel_baseline") or config.getini("postel_baseline") or None
    report = config.getoption("postel_report")
    return Settings(
        target=target,
        options=options,
        strict=bool(config.getoption("postel_strict") or _pytest_strict(config)),
        allow_destructive=config.getoption("postel_allow_destructive"),
        baseline=Baseline.load(Path(baseline)) if baseline else Baseline.empty(),
        max_inconclusive=_validate_number(config.getoption("postel_max_inconclusive"), "--max-inconclusive", int),
        seed=_validate_number(config.getoption("postel_seed"), "--seed", int),
        report_dir=Path(report) if report else None,
        capture=config.getoption("postel_capture"),
        progress=config.getoption("postel_progress"),
        requirements=load_requirements(),
    )


def _pytest_strict(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("strict"))
    except ValueError:
        return False


def _validate_number(value, where: str, kind):
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a {'whole ' if kind is int else ''}number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{where} must not be negative")
    return number


def _configure_hypothesis(config: pytest.Config, settings: Settings) -> None:
    """Profiles of DESIGN.md: ``postel-ci`` (derandomized, fixed count) and ``postel-thorough``."""
    from hypothesis import HealthCheck, Phase
    from hypothesis import settings as hsettings

    # The suites' function-scoped fixtures (target, wire, expect) are built to
    # be shared by all examples of a test, so that health check is off.
    common = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], print_blob=True)
    # No shrinking in CI: against a live server every shrink step can wait out
    # a timeout, and a server that fails whatever it is sent gains nothing from it.
    no_shrink = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    hsettings.register_profile("postel-ci", max_examples=20, derandomize=settings.seed is None, phases=no_shrink, **common)
    hsettings.register_profile("postel-thorough", max_examples=300, **common)
    if settings.seed is not None and getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(settings.seed)
    if not getattr(config.option, "hypothesis_profile", None):
        hsettings.load_profile("postel-ci")


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    settings = config.stash[SETTINGS_KEY]
    if _is_worker(config) or settings.target is None or settings.target.is_reference:
        if settings.capture and not _is_worker(config):
            _start_capture(config, settings)
        return
    from postel.preflight import check_reachable

    problem = check_reachable(settings.target, settings.timeout)
    if problem:
        pytest.exit(f"postel: {problem}", returncode=ExitCode.UNUSABLE)
    if settings.capture:
        _start_capture(config, settings)


def _start_capture(config: pytest.Config, settings: Settings) -> None:
    """One live capture for the whole run: every port on lo for the reference servers."""
    from postel.reports.capture import CaptureUnavailable, LiveCapture, capture_available

    port, iface = None, "lo"
    if settings.target is not None and not settings.target.is_reference:
        host, port = settings.target.address
        if not (host.startswith("127.") or host in ("localhost", "::1")):
            from scapy.config import conf

            iface = conf.route.route(host)[0]
    ok, why = capture_available(iface)
    if not ok:
        raise pytest.UsageError(f"postel: --capture is not possible here: {why}")
    capture = LiveCapture(port, iface=iface)
    try:
        capture.start()
    except CaptureUnavailable as exc:
        raise pytest.UsageError(f"postel: --capture failed: {exc}") from None
    config.stash[RUN_KEY].capture = capture


# ---------------------------------------------------------------- collection


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A suite test without a requirement marker, or citing an unknown ID, is a collection error."""
    report = yield
    settings = collector.config.stash.get(SETTINGS_KEY, None)
    if settings is None or not report.passed or not report.result:
        return report
    problems = []
    for node in report.result:
        if isinstance(node, pytest.Function) and _is_suite_item(node):
            problems.extend(_marker_problems(node, settings))
    if problems:
        report.outcome = "failed"
        report.longrepr = "postel: " + "\npostel: ".join(problems)
        report.result = []
    return report


def _marker_problems(item: pytest.Function, settings: Settings) -> list[str]:
    name = item.nodeid
    service = item.get_closest_marker("service")
    problems = []
    if service is None or len(service.args) != 1 or service.args[0] not in SERVICES:
        problems.append(f"{name} needs @pytest.mark.service(name) with one of {', '.join(SERVICES)}")
    ids = [rid for mark in item.iter_markers("requirement") for rid in mark.args]
    if not ids:
        problems.append(f"{name} has no @pytest.mark.requirement(...): every suite test cites the RFC sentence it checks")
    for rid in ids:
        if rid not in settings.requirements:
            hint = settings.requirements.suggest(rid)
            problems.append(f"{name} cites unknown requirement {rid!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
    return problems


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash[SETTINGS_KEY]
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("service")
        if marker is None or settings.target is None or marker.args[0] == settings.target.service:
            keep.append(item)
        else:
            drop.append(item)  # another protocol's test: deselected, not failed
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    for item in keep:
        if item.get_closest_marker("service") is None:
            continue
        third_party = settings.target is not None and not settings.target.is_reference
        if item.get_closest_marker("destructive") and third_party and not settings.allow_destructive:
            item.add_marker(pytest.mark.skip(reason="n/a: destructive test against a third-party target; pass --allow-destructive"))
        _add_allure_labels(config, item, settings)


def _add_allure_labels(config: pytest.Config, item: pytest.Item, settings: Settings) -> None:
    if not config.pluginmanager.hasplugin("allure_pytest"):
        return
    import allure

    reqs = [settings.requirements[rid] for mark in item.iter_markers("requirement") for rid in mark.args]
    if not reqs:
        return
    first = reqs[0]
    severity = {Level.MUST: allure.severity_level.CRITICAL, Level.SHOULD: allure.severity_level.NORMAL, Level.MAY: allure.severity_level.MINOR}
    top = min((r.level for r in reqs), key=[Level.MUST, Level.SHOULD, Level.MAY].index)
    item.add_marker(allure.epic(settings.requirements.protocol_of(first.id)))
    item.add_marker(allure.feature(f"RFC {first.rfc}"))
    item.add_marker(allure.story(f"RFC {first.rfc} {first.section}"))
    item.add_marker(allure.severity(severity[top]))
    for req in reqs:
        item.add_marker(allure.link(req.url, name=f"{req.id} ({req.level.value})"))
        item.add_marker(allure.label("requirement", req.id))


# ---------------------------------------------------------------- each test's report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    settings = item.config.stash.get(SETTINGS_KEY, None)
    if settings is None or item.get_closest_marker("service") is None or getattr(report, "wasxfail", None):
        return report
    if report.when == "setup" and report.passed:
        return report
    if report.when == "teardown" and not report.failed:
        return report
    report.postel = _record(item, call, report, settings)
    _mask_report(report, settings.secrets())
    return report


def _mask_report(report: pytest.TestReport, secrets: tuple[str, ...]) -> None:
    """Last line of defence: no password in a traceback, a section or a message."""
    if not secrets:
        return
    def mask(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        if any(s in text for s in secrets):
            report.longrepr = mask(text)
    elif isinstance(report.longrepr, tuple):
        path, line, reason = report.longrepr
        report.longrepr = (path, line, mask(reason))
    report.sections = [(title, mask(body)) for title, body in report.sections]
    record = report.postel
    record["message"] = mask(record["message"])


def _record(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, settings: Settings) -> dict:
    context = item.stash.get(ITEM_KEY, None) or ItemContext(cited=tuple(rid for m in item.iter_markers("requirement") for rid in m.args))
    requirements = settings.requirements
    observation, broken, failure = _observe(call, report, settings, context)
    cited_ids = list(dict.fromkeys(context.cited))
    if broken and broken not in cited_ids and broken in requirements:
        cited_ids.append(broken)  # a strict client named a requirement the test did not cite: still real
    warned = context.expect.warned if context.expect else {}
    verdicts = requirement_verdicts([requirements[r] for r in cited_ids], observation, broken=broken, warned=warned)
    verdict = worst(verdicts.values()) or Verdict.ERROR
    test_id = _test_id(item.nodeid)
    record = {
        "test_id": test_id + ("" if report.when == "call" else f" [{report.when}]"),
        "nodeid": item.nodeid,
        "service": item.get_closest_marker("service").args[0],
        "protocol": _protocol_of(item.nodeid) or "",
        "outcome": report.outcome,
        "verdict": verdict.value,
        "requirements": {rid: v.value for rid, v in verdicts.items()},
        "cited": list(context.cited),
        "message": "",
        "failure": _failure_dict(failure) if failure else None,
        "warnings": [_failure_dict(w) for w in warned.values()],
        "transcripts": [],
        "duration": round(report.duration, 6),
        "baselined": [],
        "replay": _replay(item, settings),
        "pcap": None,
    }
    if verdict is not Verdict.PASS:
        record["transcripts"] = [t.to_dict() for t in context.transcripts]
        record["message"] = failure.render() if failure else _longrepr_text(report)
    _apply_outcome(item, call, report, record, verdict, observation, warned, context)
    return record


def _observe(call: pytest.CallInfo, report: pytest.TestReport, settings: Settings, context: ItemContext) -> tuple[Observation, str | None, ConformanceFailure | None]:
    if report.passed:
        return Observation.HELD, None, None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return (Observation.UNDECIDED if "inconclusive:" in reason else Observation.UNSUPPORTED), None, None
    exc = call.excinfo.value if call.excinfo else None
    exc = _unwrap(exc)
    if isinstance(exc, ConformanceFailure):
        return Observation.BROKEN, exc.requirement.id, exc
    if isinstance(exc, RemoteProtocolError) and exc.requirement in settings.requirements:
        # The strict client's finding becomes a failure of the sentence it names.
        req = settings.requirements[exc.requirement]
        failure = ConformanceFailure(req, expected=[req.text], actual=str(exc), transcript=context.excerpt(), detail="reported by the strict reference client")
        report.longrepr = failure.render()
        return Observation.BROKEN, req.id, failure
    if isinstance(exc, WireError) or _is_flaky(exc):
        return Observation.UNDECIDED, None, None
    if isinstance(exc, AssertionError) and not isinstance(exc, HarnessError) and report.when == "call":
        return Observation.BROKEN, None, None
    return Observation.HARNESS_BROKE, None, None


def _unwrap(exc: BaseException | None) -> BaseException | None:
    """Hypothesis reports several distinct failures as an ExceptionGroup: judge by the first check failure."""
    if isinstance(exc, BaseExceptionGroup) and not _is_flaky(exc):
        leaves = list(_leaves(exc))
        for leaf in leaves:
            if isinstance(leaf, (ConformanceFailure, RemoteProtocolError)):
                return leaf
        return leaves[0] if leaves else exc
    return exc


def _leaves(group: BaseExceptionGroup):
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _is_flaky(exc: BaseException | None) -> bool:
    if exc is None:
        return False
    try:
        from hypothesis.errors import Flaky
    except ImportError:  # pragma: no cover - hypothesis is a dependency
        return False
    return isinstance(exc, Flaky)


def _apply_outcome(item, call, report, record, verdict, observation, warned, context) -> None:
    """Make the pytest outcome say what the verdict says (DESIGN's verdict table)."""
    transcript = context.excerpt()
    if observation is Observation.UNDECIDED and report.failed:
        # A timeout, reset or flaky example decides nothing: inconclusive, not fail.
        exc = _unwrap(call.excinfo.value) if call.excinfo else None
        reason = f"{type(exc).__name__}: {exc}" if exc else "no answer"
        report.outcome = "skipped"
        report.longrepr = (str(item.path), (item.location[1] or 0) + 1, f"inconclusive: {reason}")
        record["outcome"] = "skipped"
        record["message"] = f"inconclusive: {reason}"
    if warned:
        report.sections.append(("postel warnings", "\n\n".join(w.render() for w in warned.values())))
    if verdict is not Verdict.PASS and transcript:
        report.sections.append(("postel transcript", transcript))
    if verdict is not Verdict.PASS and verdict is not Verdict.NOT_APPLICABLE:
        report.sections.append(("postel replay", record["replay"]))
    settings = item.config.stash[SETTINGS_KEY]
    if settings.report_dir and record["transcripts"]:
        record["pcap"] = _write_pcap(settings.report_dir, record)
    for rid, v in record["requirements"].items():
        req = settings.requirements[rid]
        # JUnit properties: junitxml reads them from the item (on the teardown report).
        item.user_properties.extend([("requirement", rid), ("level", req.level.value), ("verdict", v)])
    if verdict in (Verdict.FAIL, Verdict.WARN) and report.failed:
        baseline = _baseline(item.config)
        failing = [rid for rid, v in record["requirements"].items() if v in (Verdict.FAIL.value, Verdict.WARN.value)]
        if failing and all((record["test_id"], rid) in baseline for rid in failing):
            record["baselined"] = failing
            report.outcome = "skipped"
            report.wasxfail = "baselined: " + ", ".join(failing)
    _attach_to_allure(item, record, transcript)


def _baseline(config: pytest.Config) -> Baseline:
    return config.stash[SETTINGS_KEY].baseline


def _write_pcap(report_dir: Path, record: dict) -> str | None:
    try:
        from postel.reports.pcap import write_pcap
    except ImportError:
        return None
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", record["test_id"]).strip("_")[:150] + ".pcap"
    path = report_dir / "pcap" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_pcap(record["transcripts"], path)
    except Exception as exc:  # a pcap is a convenience; never lose the verdict over it
        record["message"] += f"\n(pcap not written: {exc})"
        return None
    return str(path.relative_to(report_dir))


def _attach_to_allure(item: pytest.Item, record: dict, transcript: str) -> None:
    config = item.config
    if not getattr(config.option, "allure_report_dir", None) or not config.pluginmanager.hasplugin("allure_pytest"):
        return
    import allure

    if transcript:
        allure.attach(transcript, name="transcript", attachment_type=allure.attachment_type.TEXT)
    settings = config.stash[SETTINGS_KEY]
    if record.get("pcap") and settings.report_dir:
        allure.attach.file(str(settings.report_dir / record["pcap"]), name="capture.pcap", extension="pcap")


def _failure_dict(failure: ConformanceFailure) -> dict:
    req = failure.requirement
    return {
        "requirement": req.id,
        "level": req.level.value,
        "text": req.text,
        "url": req.url,
        "expected": failure.expected,
        "actual": failure.actual,
        "detail": failure.detail,
    }


def _longrepr_text(report: pytest.TestReport) -> str:
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2]
    return str(report.longrepr or "")


def _replay(item: pytest.Item, settings: Settings) -> str:
    parts = ["pytest", f"'{item.nodeid}'"]
    if settings.target is not None:
        parts.append(f"--target '{settings.target.redacted_url()}'")
    parts.extend(f"--target-option '{k}={v}'" for k, v in settings.options.items())
    if settings.seed is not None:
        parts.append(f"--seed {settings.seed}")
    return " ".join(parts)


# ---------------------------------------------------------------- progress and the session's end


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config):
    """With --postel-progress, no character per test: a line per protocol instead."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.progress:
        return None
    if report.when in ("setup", "teardown") and report.passed:
        return "", "", ""
    if getattr(report, "wasxfail", None):
        return ("xfailed" if report.skipped else "xpassed"), "", ""
    if report.failed and report.when != "call":
        return "error", "", ""
    return report.outcome, "", ""


class RunState:
    """The run as the controller (or the only process) sees it; registered as a plugin.

    Test records arrive on reports (from xdist workers too); at the end the
    gate is decided once, the reports are written and the exit code is set.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict] = []
        self.started = time.time()
        self.started_iso = now_iso()
        self.expected: Counter[str] = Counter()  # tests per protocol, for progress lines
        self.done: Counter[str] = Counter()
        self.verdicts: dict[str, Counter[str]] = {}
        self.other_failures = 0
        self.results: dict | None = None
        self.interrupted = False
        self.capture = None

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        # Collection errors arrive here too, as session.Interrupted: only Ctrl-C is "interrupted".
        self.interrupted = excinfo.type is KeyboardInterrupt

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.expected.update(p for p in (_protocol_of(i.nodeid) for i in session.items) if p)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        if not self.expected:  # every worker collects the same tests; count them once
            self.expected.update(p for p in map(_protocol_of, ids) if p)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "postel", None)
        if record is None:
            if report.failed and report.when == "call":
                self.other_failures += 1
            return
        if _is_worker(self.config):
            return
        self.records.append(record)
        protocol = record["protocol"]
        self.verdicts.setdefault(protocol, Counter())[record["verdict"]] += 1
        if report.when != "teardown":
            self.done[protocol] += 1
        if self.config.stash[SETTINGS_KEY].progress and self.done[protocol] == self.expected.get(protocol):
            counts = ", ".join(f"{n} {v}" for v, n in sorted(self.verdicts[protocol].items()))
            writer = self.config.pluginmanager.get_plugin("terminalreporter")
            if writer is not None:
                writer.write_line(f"postel: {protocol:<6} {self.done[protocol]:>4} tests: {counts}  ({time.time() - self.started:.1f}s)")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = self.config
        if _is_worker(config):
            return
        settings = config.stash[SETTINGS_KEY]
        if self.capture is not None:
            from postel.reports.capture import CaptureUnavailable

            try:
                self.capture.stop()
                self.capture.write((settings.report_dir or Path(".")) / "capture.pcap")
            except CaptureUnavailable as exc:
                sys.stderr.write(f"postel: live capture lost: {exc}\n")
        if settings.target is None and not self.records:
            return  # not a conformance run: the harness's own tests, say
        if exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED and not self.interrupted and not self.records:
            return  # collection errors or a pre-flight exit: pytest's 2 already says "could not do its job"
        gate = decide_gate(
            self.records,
            settings.requirements,
            baseline=_baseline(config),
            strict=settings.strict,
            max_inconclusive=settings.max_inconclusive,
            interrupted=self.interrupted,
        )
        self.results = build_results(
            self.records,
            settings.requirements,
            gate=gate,
            target=_target_dict(settings),
            run=_run_dict(settings, self),
            max_inconclusive=settings.max_inconclusive,
        )
        code = gate.exit_code
        if code == ExitCode.OK and self.other_failures:
            code = ExitCode.FAILED  # a failing non-suite test in the same run is not masked
        session.exitstatus = code
        if settings.report_dir:
            from postel.reports.writer import write_reports

            write_reports(self.results, settings.report_dir, secrets=settings.secrets())

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.config.stash[SETTINGS_KEY].progress or self.results is None:
            return  # postel run prints the summary itself, last
        from postel.reports.terminal import render_summary

        terminalreporter.section("postel")
        for line in render_summary(self.results).splitlines():
            terminalreporter.write_line(line)


def _target_dict(settings: Settings) -> dict:
    target = settings.target
    return {
        "url": target.redacted_url() if target else "reference",
        "scheme": target.scheme if target else None,
        "service": target.service if target else None,
        "reference": target is None or target.is_reference,
        "options": dict(settings.options),
    }


def _run_dict(settings: Settings, state: RunState) -> dict:
    argv = list(sys.argv)
    for secret in settings.secrets():
        argv = [a.replace(secret, "***") for a in argv]
    from hypothesis import settings as hsettings

    return {
        "started": state.started_iso,
        "finished": now_iso(),
        "duration": round(time.time() - state.started, 3),
        "argv": argv,
        "seed": settings.seed,
        "strict": settings.strict,
        "profile": hsettings.get_current_profile_name() if hasattr(hsettings, "get_current_profile_name") else None,
        "workers": int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0),
    }


# ---------------------------------------------------------------- helpers


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _suites_dir() -> Path:
    import postel.suites

    return Path(postel.suites.__file__).resolve().parent


def _is_suite_item(item: pytest.Item) -> bool:
    if item.get_closest_marker("service") is not None:
        return True
    try:
        Path(item.path).resolve().relative_to(_suites_dir())
    except ValueError:
        return False
    return True


def _split_suite_path(nodeid: str) -> tuple[str, str] | None:
    """(protocol, path within it) of a suite test's node ID, whatever pytest's rootdir was."""
    path = nodeid.split("::", 1)[0]
    match = _SUITE_PATH.search(path)
    if match:
        return match["protocol"], match["rest"]
    # rootdir was the suites folder itself (an installed wheel, postel run)
    head, _, rest = path.replace("\\", "/").partition("/")
    if rest and (_suites_dir() / head).is_dir():
        return head, rest
    return None


def _protocol_of(nodeid: str) -> str | None:
    found = _split_suite_path(nodeid)
    return found[0] if found else None


def _test_id(nodeid: str) -> str:
    """The node ID relative to the suites folder: the same from a checkout and from a wheel."""
    path, sep, rest = nodeid.partition("::")
    found = _split_suite_path(nodeid)
    return (f"{found[0]}/{found[1]}" if found else path) + sep + rest
