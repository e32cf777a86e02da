"""``postel``: run the suites as a CI gate, serve a reference server, list the catalog.

``postel run`` is pytest with postel's plugin, the installed suites, a line of
progress per protocol and the summary last.  Its exit codes are the gate's:
0 no MUST failure outside the baseline, 1 a MUST failure, 2 the harness could
not do its job (bad URL, unreachable target, nothing ran), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from postel import __version__
from postel.results import ExitCode
from postel import serving
from postel.serving import AsyncServer
from postel.target import Target, TargetError, parse_target

__all__ = ["main"]

DEFAULT_REPORT_DIR = "postel-report"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("postel: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="postel", description="Protocol conformance tests with RFC-cited verdicts.")
    parser.add_argument("--version", action="version", version=f"postel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the suites against a target (default: the embedded reference servers)")
    _run_options(run)
    run.set_defaults(func=_cmd_run)

    baseline = sub.add_parser("baseline", help="write a baseline of the current failures")
    baseline.add_argument("--from", dest="from_json", metavar="RESULTS", help="take the failures from a results.json instead of running")
    baseline.add_argument("-o", "--output", default="postel-baseline.json", help="baseline file to write (default: %(default)s)")
    _run_options(baseline)
    baseline.set_defaults(func=_cmd_baseline)

    serve = sub.add_parser("serve", help="run a reference server until Ctrl-C")
    serve.add_argument("protocol", choices=["time", "http", "smtp", "pop3"], help="which reference server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    serve.add_argument("--udp-port", type=int, default=None, help="UDP port for time (default: same as --port)")
    serve.add_argument("--root", type=Path, default=None, help="folder http serves (default: the sample site, in a temporary folder)")
    serve.add_argument("--maildir", type=Path, default=None, help="smtp/pop3: folder with one Maildir per user, created if missing (default: a temporary one with sample mail)")
    serve.add_argument("--domain", default="postel.test", help="smtp/pop3: the local mail domain (default postel.test)")
    serve.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD", help="smtp/pop3: a mailbox and its POP3 password (repeatable; default postel with a random password)")
    serve.add_argument("--fault", action="append", default=[], metavar="NAME", help=argparse.SUPPRESS)  # the harness's own fault proofs
    serve.set_defaults(func=_cmd_serve)

    lister = sub.add_parser("list", help="print the requirement catalog and which tests cover each requirement")
    lister.add_argument("--protocol", help="only this protocol's catalogs")
    lister.add_argument("--uncovered", action="store_true", help="only requirements no test cites")
    lister.set_defaults(func=_cmd_list)

    report = sub.add_parser("report", help="render report.html and summary.md again from a results.json")
    report.add_argument("results", type=Path)
    report.add_argument("--output-dir", type=Path, default=None, help="default: the folder of RESULTS")
    report.set_defaults(func=_cmd_report)

    replay = sub.add_parser("replay", help="run one test of a results.json again, the same way")
    replay.add_argument("test_id", help="test ID as in results.json (time/test_x.py::test_y)")
    replay.add_argument("--from", dest="from_json", type=Path, default=Path(DEFAULT_REPORT_DIR) / "results.json")
    replay.add_argument("--target", dest="url", default=None, help="target URL (needed when the recorded one had a password)")
    replay.set_defaults(func=_cmd_replay)
    return parser


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", default=None, help="target URL, e.g. time://host:37 (default: reference servers)")
    parser.add_argument("--target-option", action="append", default=[], metavar="KEY=VALUE", help="target option; repeatable")
    parser.add_argument("--strict", action="store_true", help="SHOULD failures fail the run")
    parser.add_argument("--baseline", metavar="FILE", help="accepted failures (see 'postel baseline')")
    parser.add_argument("--allow-destructive", action="store_true", help="allow tests that change a third-party target")
    parser.add_argument("--max-inconclusive", type=int, metavar="N", help="exit 2 when more than N tests are inconclusive")
    parser.add_argument("--seed", type=int, metavar="N", help="Hypothesis seed, to replay a run")
    parser.add_argument("--capture", action="store_true", help="live packet capture with scapy (root); capture.pcap in the report dir")
    parser.add_argument("--report-dir", default=DEFAULT_REPORT_DIR, help="where reports go (default: %(default)s)")
    parser.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers: a number, 'auto', or 0 for none (default: auto)")
    parser.add_argument("-k", dest="keyword", help="only tests matching this pytest -k expression")
    parser.add_argument("--profile", choices=["postel-ci", "postel-thorough"], default=None, help="Hypothesis profile (default: postel-ci)")


def _target_or_exit(url: str | None) -> Target | None:
    if url is None or url.strip().lower() == "reference":
        return None
    try:
        target = parse_target(url)
    except TargetError as exc:
        raise _Exit(f"postel: {exc}") from None
    return target


class _Exit(Exception):
    """One line for the user and exit code 2."""


def _pytest_args(args: argparse.Namespace, target: Target | None) -> list[str]:
    from postel.plugin import _suites_dir

    pytest_args = [
        str(_suites_dir()),
        "--target",
        url_for_pytest(args.url, target),
        "--postel-progress",
        "--postel-report",
        args.report_dir,
        "-q",
        "--no-header",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(_suites_dir()),
    ]
    for option in args.target_option:
        pytest_args += ["--target-option", option]
    if args.strict:
        pytest_args.append("--postel-strict")
    if args.baseline:
        pytest_args += ["--baseline", args.baseline]
    if args.allow_destructive:
        pytest_args.append("--allow-destructive")
    if args.max_inconclusive is not None:
        pytest_args += ["--max-inconclusive", str(args.max_inconclusive)]
    if args.seed is not None:
        pytest_args += ["--seed", str(args.seed)]
    if args.capture:
        pytest_args.append("--postel-capture")
    if args.profile:
        pytest_args += ["--hypothesis-profile", args.profile]
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    if str(args.workers) not in ("0", "1"):
        pytest_args += ["-n", str(args.workers)]
    return pytest_args


def url_for_pytest(url: str | None, target: Target | None) -> str:
    return target.redacted_url() if target is not None and target.is_reference else (url if target is not None and url else "reference")


class _Results:
    """Receives the run's results from the plugin, so the CLI can print them last."""

    def __init__(self) -> None:
        self.results: dict | None = None

    def pytest_unconfigure(self, config) -> None:
        from postel.plugin import RUN_KEY

        state = config.stash.get(RUN_KEY, None)
        if state is not None:
            self.results = state.results


def _run(args: argparse.Namespace) -> tuple[int, dict | None]:
    import pytest

    target = _target_or_exit(args.url)
    if target is not None and not target.is_reference:
        from postel.preflight import check_reachable

        timeout = 5.0
        for option in args.target_option:
            key, _, value = option.partition("=")
            if key.strip() == "timeout":
                try:
                    timeout = float(value)
                except ValueError:
                    raise _Exit(f"postel: target option timeout must be a number, not {value!r}") from None
        problem = check_reachable(target, timeout)
        if problem:
            raise _Exit(f"postel: {problem}")
    where = target.redacted_url() if target else "the embedded reference servers"
    if target is not None and target.is_reference:
        where = f"the embedded {target.service} reference server"
    print(f"postel {__version__}: running against {where}", flush=True)
    grabber = _Results()
    code = int(pytest.main(_pytest_args(args, target), plugins=[grabber]))
    if grabber.results is None:
        # pytest stopped before the gate: usage error, collection error, nothing collected
        return (ExitCode.INTERRUPTED if code == ExitCode.INTERRUPTED else ExitCode.UNUSABLE), None
    return code, grabber.results


def _cmd_run(args: argparse.Namespace) -> int:
    try:
        code, results = _run(args)
    except _Exit as exc:
        print(exc, file=sys.stderr)
        return ExitCode.UNUSABLE
    if results is not None:
        from postel.reports.terminal import render_summary

        print(render_summary(results), flush=True)
        print(f"postel: reports in {args.report_dir}/ (report.html, results.json, summary.md, junit.xml, allure-results/)")
    else:
        print("postel: exit 2: the run did not complete (see the errors above)", file=sys.stderr)
    return code


def _cmd_baseline(args: argparse.Namespace) -> int:
    from postel.baseline import Baseline

    if args.from_json:
        try:
            results = json.loads(Path(args.from_json).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            print(f"postel: cannot read {args.from_json}: {exc}", file=sys.stderr)
            return ExitCode.UNUSABLE
    else:
        args.baseline = None  # a new baseline records every current failure
        try:
            code, results = _run(args)
        except _Exit as exc:
            print(exc, file=sys.stderr)
            return ExitCode.UNUSABLE
        if results is None:
            return code
    gate = results["gate"]
    failures = [(e["test_id"], e["requirement"]) for e in gate["new_failures"] + gate["baselined_failures"]]
    count = Baseline.dump(failures, Path(args.output))
    print(f"postel: wrote {count} accepted failure(s) to {args.output}")
    return ExitCode.OK


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        make = {"time": _time_server, "http": _http_server, "smtp": _mail_server, "pop3": _mail_server}[args.protocol]
        if args.protocol not in ("smtp", "pop3") and (args.maildir or args.user):
            raise _Exit("postel: --maildir and --user are for 'serve smtp' and 'serve pop3' only")
        server, announce = make(args)
        serving.run(_serve_until_signal(server, args, announce))
    except _Exit as exc:
        print(exc, file=sys.stderr)
        return ExitCode.UNUSABLE
    return ExitCode.OK


def _time_server(args: argparse.Namespace) -> tuple[AsyncServer, Callable[[], str]]:
    from postel.protocols.time.server import TimeServer

    if args.root is not None:
        raise _Exit("postel: --root is for 'serve http' only")
    server = TimeServer(host=args.host, tcp_port=args.port, udp_port=args.port if args.udp_port is None else args.udp_port)

    def announce() -> str:
        tcp, udp = server.tcp_address, server.udp_address
        return f"postel: time server on tcp {tcp[0]}:{tcp[1]} and udp {udp[0]}:{udp[1]} (Ctrl-C stops)"

    return server, announce


def _http_server(args: argparse.Namespace) -> tuple[AsyncServer, Callable[[], str]]:
    import tempfile

    from postel.protocols.http.server import HttpServer
    from postel.protocols.http.site import make_sample_site

    if args.udp_port is not None:
        raise _Exit("postel: --udp-port is for 'serve time' only")
    if args.root is None:
        # The sample site puts a file beside its root (what a traversal would reach), so it gets a folder of its own.
        folder = Path(tempfile.mkdtemp(prefix="postel-http-"))
        server = HttpServer(root=make_sample_site(folder / "root"), host=args.host, port=args.port, remove_on_close=folder)
        what = f"the sample site in {server.root}"
    elif not args.root.is_dir():
        problem = "is not a directory" if args.root.exists() else "does not exist"
        raise _Exit(f"postel: --root {args.root} {problem}")
    else:
        server = HttpServer(root=args.root, host=args.host, port=args.port)
        what = str(server.root)

    def announce() -> str:
        host, port = server.address
        host = f"[{host}]" if ":" in host else host
        return f"postel: http server on http://{host}:{port}/ serving {what} (Ctrl-C stops)"

    return server, announce


def _mail_server(args: argparse.Namespace) -> tuple[AsyncServer, Callable[[], str]]:
    """``serve smtp`` or ``serve pop3`` on a Maildir root: each user a Maildir under it (SMTP delivers, POP3 reads)."""
    import secrets
    import tempfile

    from postel.protocols.mail.maildir import MailStore
    from postel.protocols.mail.samples import seed

    if args.root is not None or args.udp_port is not None:
        raise _Exit(f"postel: --root and --udp-port are not for 'serve {args.protocol}'")
    users: dict[str, str] = {}
    for spec in args.user:
        name, sep, password = spec.partition(":")
        if not sep or not name or not password:
            raise _Exit(f"postel: --user {spec.split(':')[0]!r}...: give NAME:PASSWORD")
        users[name] = password
    generated = not users
    if generated:
        users = {"postel": secrets.token_urlsafe(12)}
    folder = args.maildir
    remove = None
    if folder is None:
        folder = remove = Path(tempfile.mkdtemp(prefix="postel-mail-"))
    elif folder.exists() and not folder.is_dir():
        raise _Exit(f"postel: --maildir {folder} is not a directory")
    else:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _Exit(f"postel: cannot create --maildir {folder}: {exc.strerror or exc}") from None
    try:
        store = MailStore(folder, domains=(args.domain,), users=users)
    except ValueError as exc:
        raise _Exit(f"postel: {exc}") from None
    if remove is not None:
        seed(store.mailbox(next(iter(users))))
    faults = frozenset(args.fault)
    if args.protocol == "smtp":
        from postel.protocols.smtp.server import FAULTS, SmtpServer

        make = lambda: SmtpServer(store, host=args.host, port=args.port, hostname=args.domain, faults=faults)  # noqa: E731
    else:
        from postel.protocols.pop3.server import FAULTS, Pop3Server

        make = lambda: Pop3Server(store, host=args.host, port=args.port, hostname=args.domain, faults=faults)  # noqa: E731
    if faults - FAULTS:
        raise _Exit(f"postel: unknown fault(s) {sorted(faults - FAULTS)}; known: {', '.join(sorted(FAULTS))}")
    server = make()
    if remove is not None:
        server = _RemovingOnClose(server, remove)

    def announce() -> str:
        host, port = server.address
        host = f"[{host}]" if ":" in host else host
        where = f"a temporary Maildir with sample mail ({folder})" if remove is not None else str(folder)
        if args.protocol == "smtp":
            return f"postel: smtp server on smtp://{host}:{port}/ for @{args.domain}, delivering into {where} (Ctrl-C stops)"
        name = next(iter(users))
        login = f"{name}:{users[name]}" if generated else name  # a password given on the command line is not echoed
        return f"postel: pop3 server on pop3://{login}@{host}:{port}/ serving {where} (Ctrl-C stops)"

    return server, announce


class _RemovingOnClose:
    """A server whose temporary Maildir folder goes when it closes."""

    def __init__(self, server, folder: Path) -> None:
        self._server, self._folder = server, folder

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        import shutil

        try:
            await self._server.close()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


async def _serve_until_signal(server: AsyncServer, args: argparse.Namespace, announce: Callable[[], str]) -> None:
    """Serve until SIGINT or SIGTERM; close in every case, so a temporary sample site is removed."""
    try:
        try:
            await server.start()
        except OSError as exc:
            raise _Exit(f"postel: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        print(announce(), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await server.close()


def _cmd_list(args: argparse.Namespace) -> int:
    import pytest

    from postel.plugin import _suites_dir, _test_id
    from postel.requirements import load_requirements

    class Collector:
        def __init__(self) -> None:
            self.cited: dict[str, list[str]] = {}

        def pytest_collection_finish(self, session) -> None:
            for item in session.items:
                for mark in item.iter_markers("requirement"):
                    for rid in mark.args:
                        self.cited.setdefault(rid, []).append(_test_id(item.nodeid))

    collector = Collector()
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            pytest.main([str(_suites_dir()), "--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(_suites_dir())], plugins=[collector])
        finally:
            sys.stdout = stdout
    requirements = load_requirements()
    for catalog in requirements.catalogs:
        if args.protocol and catalog.protocol != args.protocol:
            continue
        covered = sum(1 for r in catalog.requirements if r.id in collector.cited)
        print(f"RFC {catalog.rfc} {catalog.title} [{catalog.protocol}]: {covered}/{len(catalog.requirements)} covered, {catalog.must_total} MUST")
        for req in catalog.requirements:
            tests = collector.cited.get(req.id, [])
            if args.uncovered and tests:
                continue
            print(f"  {req.id:<16} {req.level.value:<6} {req.role:<6} {req.text}")
            for test in sorted(set(tests)):
                print(f"      <- {test}")
    return ExitCode.OK


def _cmd_report(args: argparse.Namespace) -> int:
    from postel.reports.writer import write_reports

    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"postel: cannot read {args.results}: {exc}", file=sys.stderr)
        return ExitCode.UNUSABLE
    out = args.output_dir or args.results.parent
    written = write_reports(results, out)
    print("postel: wrote " + ", ".join(str(p) for p in written.values()))
    return ExitCode.OK


def _cmd_replay(args: argparse.Namespace) -> int:
    import pytest

    try:
        results = json.loads(args.from_json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"postel: cannot read {args.from_json}: {exc}", file=sys.stderr)
        return ExitCode.UNUSABLE
    record = next((r for r in results["tests"] if r["test_id"] == args.test_id), None)
    if record is None:
        print(f"postel: {args.test_id} is not in {args.from_json}", file=sys.stderr)
        return ExitCode.UNUSABLE
    url = args.url or results["target"]["url"]
    if "***" in url:
        print("postel: the recorded target had a password, which reports never keep; pass --target URL", file=sys.stderr)
        return ExitCode.UNUSABLE
    from postel.plugin import _suites_dir

    nodeid = str(_suites_dir() / record["test_id"])
    pytest_args = [nodeid, "--target", url, "-p", "no:cacheprovider", "--rootdir", str(_suites_dir())]
    for key, value in results["target"].get("options", {}).items():
        pytest_args += ["--target-option", f"{key}={value}"]
    if results["run"].get("seed") is not None:
        pytest_args += ["--seed", str(results["run"]["seed"])]
    return int(pytest.main(pytest_args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
