"""Subcommands that collect, store and render: audit, report, demo (check and doctor live beside).

Each handler returns an exit code; errors of the lower layers surface as the CLI's UsageError or
CannotRun, or as PolicyError / HistoryError which `cli.main` prints without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditor.engine import blocking, plan_for
from auditor.facts import RepoFacts
from auditor.history import History, HistoryError
from auditor.model import ApiCost, Result, Severity, Status, utcnow
from auditor.policy import Policy, load_policy
from auditor.runner import FatalCollectError, Progress, RunOutcome, audit_repos
from auditor.shard import ShardError, parse_shard, shard_of

log = logging.getLogger(__name__)

DEFAULT_POLICY = "policies/deployment-standard.yml"
DEFAULT_OUTPUT = "reports"
DEFAULT_HISTORY = "reports/history.sqlite"
FORMATS = ("md", "html", "json", "sarif", "csv")


# --------------------------------------------------------------------------------------------
# shared helpers


def _usage(message: str) -> Exception:
    from auditor.cli import UsageError

    return UsageError(message)


def _cannot_run(message: str) -> Exception:
    from auditor.cli import CannotRun

    return CannotRun(message)


def resolve_policy(ref: str) -> Policy:
    """Load `--policy`; the default path falls back to the shipped policy outside a checkout."""
    if ref == DEFAULT_POLICY and not Path(ref).exists():
        return load_policy("deployment-standard")
    return load_policy(ref)


def parse_formats(text: str) -> list[str]:
    """`md,html` -> ['md', 'html'], rejecting unknown formats."""
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise _usage(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    return wanted


def parse_since(text: str, now: datetime) -> datetime:
    """`12w`, `30d`, `6m` (months of 30 days) or an ISO date -> the start of the range."""
    match = re.fullmatch(r"(\d+)([dwm])", text.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        return now - timedelta(days=n * {"d": 1, "w": 7, "m": 30}[unit])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _usage(f"--since {text!r}: use 12w, 30d, 6m or a date like 2026-09-01") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def open_history(target: str) -> History:
    """Open the history, turning its errors into a clear message (exit 3)."""
    try:
        return History.open(target)
    except HistoryError as exc:
        raise _cannot_run(str(exc)) from exc


def api_url(text: str) -> str:
    """`--base-url`: an http(s) URL with a host, checked before anything runs (else exit 2).

    PyGithub fails on a URL without scheme or host deep inside its constructor, with a traceback
    and exit 1, which a CI gate would read as "findings".
    """
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL with a host, e.g. https://ghe.example/api/v3")
    return text.strip()


def _fail_on(args: argparse.Namespace) -> Severity | None:
    return Severity(args.fail_on) if getattr(args, "fail_on", None) else None


def write_reports_for(history: History, run_id: str, policy: Policy | None, formats: Sequence[str],
                      out_dir: Path, *, since: datetime | None = None, repos: Sequence[str] | None = None,
                      families: Sequence[str] | None = None, now: datetime | None = None) -> list[Path]:
    """Build the report input for `run_id` from the history alone and render `formats`."""
    from auditor.report.render import write_reports
    from auditor.trends import build_report_input

    report_input = build_report_input(history, at=run_id, since=since, repos=repos, families=families,
                                      policy=policy.waivers if policy else None, now=now)
    return write_reports(formats, report_input, out_dir)


class ConsoleProgress(Progress):
    """Progress on stderr: a rich bar on a terminal, a plain line per repo otherwise."""

    def __init__(self, enabled: bool, quiet: bool, budget: Callable[[], str] = str) -> None:
        self.enabled = enabled and not quiet
        self.quiet = quiet
        self.budget = budget
        self.total = 0
        self.done = 0
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        self.total = total
        if self.enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("auditing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                 TimeRemainingColumn(), TextColumn("{task.fields[budget]}"),
                                 TextColumn("{task.description}"), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=total, budget=self.budget())

    def repo_done(self, repo: str, summary: Any, seconds: float) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=repo, budget=self.budget())
        elif not self.quiet:
            score = "-" if summary.score is None else f"{summary.score:.0%}"
            left = self.budget()
            print(f"[{self.done}/{self.total}] {repo}: {summary.status} (score {score}) in {seconds:.1f}s"
                  + (f", {left}" if left else ""), file=sys.stderr)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def print_summary(outcome: RunOutcome, policy: Policy, fail_on: Severity | None, files: Sequence[Path],
                  *, quiet: bool = False) -> int:
    """The short summary every audit prints, and the exit code the gate decides."""
    blockers = blocking(outcome.results, policy.gate, fail_on)
    if not quiet:
        by_status = Counter(r.status.value for r in outcome.results)
        failing = Counter(r.severity.value for r in outcome.results if r.status is Status.FAIL)
        repos = Counter(s.status for s in outcome.summaries)
        print(f"Audited {len(outcome.summaries)} repositories with policy {policy.name} v{policy.version} "
              f"(run {outcome.run_id}).")
        print("  repos:    " + ", ".join(f"{n} {k}" for k, n in sorted(repos.items())))
        print("  results:  " + ", ".join(f"{by_status.get(s.value, 0)} {s.value}" for s in Status))
        print("  failing:  " + (", ".join(f"{failing[s.value]} {s.value}" for s in Severity if failing.get(s.value))
                                or "none"))
        api = outcome.api
        per_repo = api.requests / len(outcome.summaries) if outcome.summaries else 0
        graphql = f", {api.graphql_points} GraphQL points" if api.graphql_points else ""
        print(f"  API:      {api.requests} requests ({per_repo:.1f} per repo), {api.rate_limit_used} rate-limit "
              f"units{graphql}, {api.not_modified} not modified, {api.retries} retries")
        if outcome.resumed:
            print(f"  resumed:  {len(outcome.resumed)} repositories were already done")
        for path in files:
            print(f"  report:   {path}")
        threshold = (fail_on or policy.gate.fail_on).value
        if blockers:
            print(f"GATE FAILED: {len(blockers)} finding(s) at or above {threshold}.")
        else:
            print(f"Gate passed: nothing at or above {threshold} failed.")
    return 1 if blockers else 0


# --------------------------------------------------------------------------------------------
# audit


def _collector_for(args: argparse.Namespace, policy: Policy, now: Callable[[], datetime]) -> tuple[
        list[str], Callable[[], Callable[[str], RepoFacts]], Callable[[], ApiCost], str, Callable[[], str]]:
    """(repos, collector factory, cost, scope label, budget text) for --repo / --org / --local."""
    plan = plan_for(policy)
    if args.local:
        from auditor.local import LocalError, collect_local

        path = args.local

        def local(repo: str) -> RepoFacts:
            del repo
            try:
                return collect_local(path, plan, now())
            except LocalError as exc:
                raise FatalCollectError(str(exc)) from exc

        try:
            name = collect_local(path, plan.__class__(needs=frozenset()), now()).repo
        except LocalError as exc:
            raise _usage(str(exc)) from exc
        return [name], lambda: local, ApiCost, f"local:{path}", str

    from auditor.session import GitHubSession

    try:
        session = GitHubSession.from_env(base_url=args.base_url, max_wait=args.max_wait, api=args.api,
                                         cache_dir=getattr(args, "cache_dir", None),
                                         target=args.org or (args.repo[0] if args.repo else None))
    except FatalCollectError as exc:
        raise _cannot_run(str(exc)) from exc
    try:
        if args.org:
            repos = session.org_repos(args.org, policy.scope)
            scope = f"org:{args.org}"
        else:
            repos = list(dict.fromkeys(args.repo))
            scope = "repos:" + ",".join(repos)
    except FatalCollectError as exc:
        raise _cannot_run(str(exc)) from exc
    return (repos, lambda: session.collector(plan, now, org_audit=bool(args.org)), session.cost, scope,
            session.budget_text)


def cmd_audit(args: argparse.Namespace) -> int:
    """collect facts, evaluate the policy, store the run, write reports, exit by the gate."""
    if sum(bool(x) for x in (args.repo, args.org, args.local)) != 1:
        raise _usage("give exactly one of --repo OWNER/NAME ..., --org ORG or --local PATH")
    for repo in args.repo or []:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise _usage(f"--repo {repo!r}: expected OWNER/NAME")
    policy = resolve_policy(args.policy)
    formats = parse_formats(args.format)
    fail_on = _fail_on(args)
    out_dir = Path(args.output)
    now = utcnow
    repos, make_collect, cost, scope, budget = _collector_for(args, policy, now)
    everything = list(repos)
    if args.shard:
        try:
            k, n = parse_shard(args.shard)
        except ShardError as exc:
            raise _usage(str(exc)) from exc
        repos = [r for r in repos if shard_of(r, n) == k]
        if not args.run_id:
            raise _usage("--shard needs --run-id ID, the same for every shard (e.g. the CI run id)")
    history = open_history(args.history)
    resume = None
    if args.resume:
        resume = _resume_target(history, args.resume, scope, policy)
    progress = ConsoleProgress(enabled=not args.no_progress, quiet=args.quiet, budget=budget)
    try:
        outcome = audit_repos(policy=policy, repos=repos, collect=make_collect(), history=history, scope=scope,
                              now=now, cost=cost, workers=max(1, args.workers), resume_run=resume,
                              progress=progress, make_collect=make_collect, run_id=args.run_id,
                              expected_repos=everything)
        files = write_reports_for(history, outcome.run_id, policy, formats, out_dir, now=outcome.finished_at)
    except FatalCollectError as exc:
        raise _cannot_run(str(exc)) from exc
    finally:
        history.close()
    return print_summary(outcome, policy, fail_on, files, quiet=args.quiet)


def _resume_target(history: History, value: str, scope: str, policy: Policy) -> str | None:
    """The run to resume: an explicit id, or the latest incomplete run of the same scope and policy."""
    if value != "latest":
        try:
            header = history.header(value)
        except HistoryError as exc:
            raise _usage(str(exc)) from exc
        return header.id
    for header in reversed(history.runs(scope=scope)):
        if not header.complete and header.scope == scope and header.policy.digest == policy.digest:
            return header.id
    return None


# --------------------------------------------------------------------------------------------
# report


def cmd_report(args: argparse.Namespace) -> int:
    """Render reports from the stored history alone: no API calls."""
    formats = parse_formats(args.format)
    path = args.history
    if "://" not in path and not Path(path).exists():
        raise _usage(f"no history at {path}: run `auditor audit` (or `auditor demo`) first")
    history = open_history(path)
    latest = history.latest_run()
    if latest is None:
        raise _usage(f"the history at {path} holds no finished run yet")
    if args.run:
        try:
            history.header(args.run)
        except HistoryError as exc:
            history.close()
            raise _usage(f"--run {args.run}: {exc}") from exc
    at = args.run or latest.id
    now = latest.finished_at or latest.started_at
    since = parse_since(args.since, now) if args.since else None
    policy = resolve_policy(args.policy) if args.policy else None
    try:
        files = write_reports_for(history, at, policy, formats, Path(args.output), since=since,
                                  repos=args.repos or None, families=args.family or None, now=now)
    finally:
        history.close()
    for f in files:
        print(f"report: {f}")
    return 0


# --------------------------------------------------------------------------------------------
# demo


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole product offline: the bundled sandbox, twelve simulated weeks, reports with trends."""
    from auditor.demo import run_demo

    return run_demo(Path(args.output), weeks=args.weeks, quiet=args.quiet, api=args.api)


# --------------------------------------------------------------------------------------------
# parser


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", default=DEFAULT_POLICY, help=f"policy file or shipped name (default {DEFAULT_POLICY})")
    p.add_argument("--format", default="md,html", help="comma list of md,html,json,sarif,csv (default md,html)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help="report folder (default reports/)")
    p.add_argument("--history", default=DEFAULT_HISTORY,
                   help="SQLite path or SQLAlchemy URL (default reports/history.sqlite)")
    p.add_argument("--base-url", type=api_url, default=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                   help="GitHub Enterprise Server API or the sandbox, e.g. http://127.0.0.1:8765")
    p.add_argument("--api", choices=("auto", "rest", "graphql"), default="auto",
                   help="collection API (auto: GraphQL batches for org audits, REST otherwise)")
    p.add_argument("--fail-on", choices=[s.value for s in Severity], help="override the policy's gate severity")
    p.add_argument("--max-wait", type=float, default=900.0,
                   help="longest a single rate-limit or retry wait may last, in seconds (default 900)")
    p.add_argument("--workers", type=int, default=4, help="repositories collected in parallel (default 4)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--verbose", action="store_true", help="debug logging (never prints tokens)")


def register(sub: Any) -> None:
    """Add the collecting/reporting subcommands to the `auditor` parser."""
    audit = sub.add_parser("audit", help="collect facts, evaluate a policy, store the run, write reports")
    target = audit.add_argument_group("what to audit (exactly one)")
    target.add_argument("--repo", nargs="+", metavar="OWNER/NAME", help="one or more repositories")
    target.add_argument("--org", metavar="ORG", help="every repository of an organisation in the policy's scope")
    target.add_argument("--local", metavar="PATH", help="a git clone: files and history only, no API")
    _add_common(audit)
    audit.add_argument("--resume", nargs="?", const="latest", metavar="RUN_ID",
                       help="finish an interrupted run (default: the latest incomplete run of this scope)")
    audit.add_argument("--shard", metavar="K/N", help="audit only shard K of N (stable partition of the repos)")
    audit.add_argument("--run-id", help="start or join the run with this id (shards of one audit share it)")
    audit.add_argument("--cache-dir", default="reports/.http-cache",
                       help="conditional-request cache folder, one file per token identity "
                            "(default reports/.http-cache)")
    audit.add_argument("--no-cache", dest="cache_dir", action="store_const", const=None,
                       help="no conditional-request cache")
    audit.set_defaults(func=cmd_audit)

    report = sub.add_parser("report", help="render reports from the stored history alone (no API calls)")
    report.add_argument("--history", default=DEFAULT_HISTORY, help="SQLite path or SQLAlchemy URL")
    report.add_argument("--since", default="12w", help="trend range: 12w, 30d, 6m or a date (default 12w)")
    report.add_argument("--run", help="the run to report on (default: the latest finished run)")
    report.add_argument("--format", default="md,html", help="comma list of md,html,json,sarif,csv")
    report.add_argument("--output", default=DEFAULT_OUTPUT, help="report folder (default reports/)")
    report.add_argument("--repo", dest="repos", action="append", metavar="GLOB", help="only these repos (repeatable)")
    report.add_argument("--family", action="append", metavar="FAMILY", help="only these rule families (repeatable)")
    report.add_argument("--policy", help="policy whose waivers to show with their expiry")
    report.add_argument("--quiet", action="store_true")
    report.add_argument("--verbose", action="store_true")
    report.set_defaults(func=cmd_report)

    demo = sub.add_parser("demo", help="the whole product offline: sandbox org, 12 simulated weeks, reports")
    demo.add_argument("--output", default="reports/demo", help="where to leave the reports (default reports/demo)")
    demo.add_argument("--weeks", type=int, default=12, help="simulated weeks (default 12)")
    demo.add_argument("--api", choices=("auto", "rest", "graphql"), default="rest")
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(func=cmd_demo)

    from auditor import doctor

    doctor.register(sub, _add_common)
    from auditor import check_cmd

    check_cmd.register(sub, _add_common)


__all__ = ["Result", "date", "parse_since"]
