"""`auditor check`: the pull-request gate, wired from the command line to GitHub and back.

It finds the PR (from `GITHUB_EVENT_PATH` inside GitHub Actions, or `--repo`/`--pr`), collects
the gate's facts in one pass (auditor/github/pull.py), lets auditor/gate.py decide, then reports:
a plain verdict on stdout, files in `--output`, Markdown to `$GITHUB_STEP_SUMMARY`, and on request
a sticky PR comment and a check run (or a commit status when the token may not create check runs).
A refused write is reported on stderr but never changes the verdict or its exit code: the gate's
answer is the exit code, and the comment is a courtesy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auditor import gate
from auditor.facts import PullRequest
from auditor.model import ApiCost, PolicyRef, Result, Run, Severity, utcnow
from auditor.policy import Policy

STATUS_CONTEXT = "auditor/gate"
CHECK_FORMATS = ("md", "json", "sarif")
FILENAMES = {"md": "check.md", "json": "check.json", "sarif": "check.sarif"}


def _usage(message: str) -> Exception:
    from auditor.cli import UsageError

    return UsageError(message)


def _cannot_run(message: str) -> Exception:
    from auditor.cli import CannotRun

    return CannotRun(message)


def pr_from_event(path: str) -> tuple[str, int]:
    """(OWNER/NAME, number) of the pull request a GitHub Actions event payload is about."""
    try:
        payload: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _usage(f"cannot read the event payload {path}: {exc}") from exc
    pull = payload.get("pull_request") if isinstance(payload, dict) else None
    if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
        raise _usage("the workflow event has no pull request: run `auditor check` on pull_request events, "
                     "or give --repo OWNER/NAME --pr N")
    repo = (payload.get("repository") or {}).get("full_name") \
        or (((pull.get("base") or {}).get("repo")) or {}).get("full_name")
    if not isinstance(repo, str) or "/" not in repo:
        raise _usage("the event payload names no repository")
    return repo, int(pull["number"])


def _target(args: argparse.Namespace) -> tuple[str, int]:
    if args.repo or args.pr is not None:
        if not args.repo or args.pr is None:
            raise _usage("give both --repo OWNER/NAME and --pr N (or run inside GitHub Actions on a pull request)")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", args.repo):
            raise _usage(f"--repo {args.repo!r}: expected OWNER/NAME")
        if args.pr < 1:
            raise _usage("--pr: expected a pull request number")
        return args.repo, int(args.pr)
    event = os.environ.get("GITHUB_EVENT_PATH")
    if not event:
        raise _usage("no pull request: give --repo OWNER/NAME --pr N, or run inside GitHub Actions "
                     "(GITHUB_EVENT_PATH)")
    return pr_from_event(event)


def _formats(text: str) -> list[str]:
    wanted = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in wanted if f not in CHECK_FORMATS]
    if bad or not wanted:
        raise _usage(f"--format {text!r}: choose from {', '.join(CHECK_FORMATS)}")
    return wanted


def _sarif(results: tuple[Result, ...], policy: Policy, repo: str, number: int, cost: ApiCost) -> str:
    from auditor import __version__
    from auditor.report.inputs import ReportInput
    from auditor.report.sarif import render_sarif
    from auditor.rules import RULES_BY_ID

    now = utcnow()
    run = Run(id=f"check-{repo}#{number}", started_at=now, finished_at=now, tool_version=__version__,
              policy=PolicyRef(policy.name, policy.version, policy.digest), api=cost, scope=f"pr:{repo}#{number}",
              complete=True, repos=(), results=results)
    report = ReportInput(run=run, previous=None, trend=(), new_findings=(), fixed_findings=(), regressions=(),
                         first_seen={}, repo_trends=(), waivers=(), generated_at=now)
    return render_sarif(report, RULES_BY_ID)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _publish(args: argparse.Namespace, client: Any, repo: str, pr: PullRequest, verdict: gate.Verdict,
             markdown: str) -> int:
    """The sticky comment and the check run / commit status; the number of write requests sent."""
    from auditor.github.errors import WriteError
    from auditor.github.writes import DEFAULT_MARKER, create_check_run, post_commit_status, upsert_sticky_comment

    before = client.cost.requests
    if args.comment:
        try:
            comment_id, created = upsert_sticky_comment(client, repo, pr.number, DEFAULT_MARKER, markdown)
            if not args.quiet:
                print(f"  comment:  {'posted' if created else 'updated'} comment {comment_id}")
        except WriteError as exc:
            _warn(f"the PR comment was not written: {exc}")
    if args.status:
        title = gate.status_description(verdict)
        conclusion = "success" if verdict.passed else "failure"
        try:
            create_check_run(client, repo, pr.head_sha, args.status_context, conclusion, title, markdown)
            if not args.quiet:
                print(f"  check:    check run {args.status_context}: {conclusion}")
        except WriteError as exc:
            if exc.status != 403:
                _warn(f"the check run was not created: {exc}")
            else:  # only GitHub Apps may create check runs: a commit status says the same
                try:
                    post_commit_status(client, repo, pr.head_sha, conclusion, title, args.status_context)
                    if not args.quiet:
                        print(f"  status:   commit status {args.status_context}: {conclusion}")
                except WriteError as exc2:
                    _warn(f"neither a check run nor a commit status was written: {exc2}")
    return int(client.cost.requests - before)


def cmd_check(args: argparse.Namespace) -> int:
    """Evaluate one pull request; exit 1 when a finding at or above the gate blocks it."""
    from auditor.commands import resolve_policy
    from auditor.github.collect import RestSource
    from auditor.github.errors import AuthError, CollectError
    from auditor.github.pull import collect_gate_facts
    from auditor.runner import FatalCollectError
    from auditor.session import GitHubSession

    repo, number = _target(args)
    formats = _formats(args.format)
    policy = resolve_policy(args.policy)
    fail_on = Severity(args.fail_on) if args.fail_on else None
    new_only = policy.gate.new_only if args.new_only is None else bool(args.new_only)
    plan = gate.gate_plan(policy, new_only=new_only)
    try:
        session = GitHubSession.from_env(base_url=args.base_url, max_wait=args.max_wait, target=repo)
        client = session.new_client()
    except FatalCollectError as exc:
        raise _cannot_run(str(exc)) from exc
    try:
        facts = collect_gate_facts(RestSource(client), repo, number, plan, utcnow())
    except AuthError as exc:
        raise _cannot_run(f"GitHub rejected the credentials: {exc}") from exc
    except CollectError as exc:
        raise _cannot_run(str(exc)) from exc
    pr = facts.head.pull_request
    if pr is None:  # the collector always sets it; a gate without its PR must not pass
        raise _cannot_run(f"pull request #{number} of {repo} could not be read")
    read_cost = session.cost()
    scope = gate.gate_scope(policy, pr.base_ref)
    head = gate.gate_results(scope, facts.head)
    base = gate.gate_results(scope, facts.base) if new_only and facts.base is not None else None
    verdict = gate.decide(policy, scope, head, base, fail_on=fail_on, new_only=new_only)
    markdown = gate.summary_markdown(verdict, pr, repo, policy, requests=read_cost.requests)

    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8") as fh:
                fh.write(markdown + "\n")
        except OSError as exc:
            _warn(f"the step summary was not written: {exc}")
    if not args.quiet:
        print(f"Checked pull request #{pr.number} of {repo} ({pr.head_ref} -> {pr.base_ref}) with policy "
              f"{policy.name} v{policy.version}: {len(verdict.results)} results, {read_cost.requests} API requests.")
        for r in verdict.blocking:
            print(f"  BLOCKING  {r.severity.value:<8} {r.rule} {r.target}: {r.message}")
    writes = _publish(args, client, repo, pr, verdict, markdown)
    out_dir = Path(args.output)
    renderers: dict[str, Callable[[], str]] = {
        "md": lambda: markdown,
        "json": lambda: json.dumps(gate.json_document(verdict, pr, repo, policy, requests=read_cost.requests,
                                                      writes=writes), indent=2, ensure_ascii=False) + "\n",
        "sarif": lambda: _sarif(verdict.results, policy, repo, pr.number, read_cost),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = out_dir / FILENAMES[fmt]
        path.write_text(renderers[fmt](), encoding="utf-8")
        if not args.quiet:
            print(f"  report:   {path}")
    if not args.quiet:
        print(gate.headline(verdict))
    return 0 if verdict.passed else 1


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `auditor check` to the parser (its flags differ from audit's, so `add_common` is unused)."""
    del add_common
    from auditor.commands import api_url

    check = sub.add_parser(
        "check", help="the pull-request gate: evaluate one PR and exit 1 on blocking findings",
        description="Evaluate one pull request: the pr-* rules, the workflow/CODEOWNERS/docs rules on the files "
                    "as the PR leaves them, and the base branch's rules as context. Inside GitHub Actions the PR "
                    "comes from GITHUB_EVENT_PATH.")
    check.add_argument("--repo", metavar="OWNER/NAME", help="the repository (default: from GITHUB_EVENT_PATH)")
    check.add_argument("--pr", type=int, metavar="N", help="the pull request number (default: from the event)")
    check.add_argument("--policy", default="policies/deployment-standard.yml", help="policy file or shipped name")
    check.add_argument("--fail-on", choices=[s.value for s in Severity], help="override the policy's gate severity")
    check.add_argument("--new-only", action=argparse.BooleanOptionalAction, default=None,
                       help="fail only on findings the base branch does not already have (default: the "
                            "policy's gate.new_only)")
    check.add_argument("--format", default="md", help="comma list of md,json,sarif written to --output (default md)")
    check.add_argument("--output", default="reports", help="folder for check.md/check.json/check.sarif")
    check.add_argument("--comment", action="store_true", help="keep one sticky comment on the PR up to date")
    check.add_argument("--status", action="store_true",
                       help="report a check run (GitHub App) or else a commit status on the PR head")
    check.add_argument("--status-context", default=STATUS_CONTEXT, help=f"check/status name (default {STATUS_CONTEXT})")
    check.add_argument("--base-url", type=api_url, default=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                       help="GitHub Enterprise Server API or the sandbox, e.g. http://127.0.0.1:8765")
    check.add_argument("--max-wait", type=float, default=900.0, help="longest single rate-limit wait, in seconds")
    check.add_argument("--quiet", action="store_true", help="print only errors")
    check.add_argument("--verbose", action="store_true", help="debug logging (never prints tokens)")
    check.set_defaults(func=cmd_check)


__all__ = ["cmd_check", "pr_from_event", "register"]
