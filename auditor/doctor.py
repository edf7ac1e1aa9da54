"""`auditor doctor`: which facts this token can and cannot see, and the permission each gap needs.

It collects one repository (or a sample of an org's) with the policy's full fact plan and walks the
facts: every section is listed as visible, or as a gap with GitHub's answer and the permission to
grant. The same Gap objects make audit results `unknown`, so doctor and audit always agree.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from auditor.engine import plan_for
from auditor.facts import Gap, RepoFacts
from auditor.model import utcnow
from auditor.runner import FatalCollectError


@dataclass(frozen=True)
class Visibility:
    """One fact group for one repository: seen, or not and why."""

    repo: str
    fact: str
    visible: bool
    reason: str = ""
    permission: str | None = None
    http_status: int | None = None


def _row(repo: str, fact: str, gap: Gap | None) -> Visibility:
    if gap is None:
        return Visibility(repo, fact, True)
    return Visibility(repo, fact, False, gap.reason, gap.permission, gap.http_status)


def visibility(facts: RepoFacts) -> list[Visibility]:
    """Every collected fact group of `facts`, visible or with its gap (sections not collected are left out)."""
    repo = facts.repo
    rows: list[Visibility] = []
    if facts.repo_gap is not None:
        rows.append(_row(repo, "repository", facts.repo_gap))
    for br in facts.branches:
        rows.append(_row(repo, f"branch {br.name}: existence", br.exists_gap))
        rows.append(_row(repo, f"branch {br.name}: classic protection", br.classic_gap))
        rows.append(_row(repo, f"branch {br.name}: rulesets", br.rules_gap))
        for info in br.rulesets:
            if info.bypass_actors is None:
                rows.append(_row(repo, f"ruleset {info.name}: bypass actors",
                                 info.bypass_gap or Gap("GitHub did not show the bypass actors")))
    if facts.environments is not None:
        rows.append(_row(repo, "environments", facts.environments.gap))
        for env in facts.environments.items:
            rows.append(_row(repo, f"environment {env.name}: secrets", env.secrets_gap))
            if env.branch_policy == "custom":
                rows.append(_row(repo, f"environment {env.name}: branch policy patterns", env.branch_patterns_gap))
            if env.custom_protection_apps is not None or env.custom_protection_apps_gap is not None:
                rows.append(_row(repo, f"environment {env.name}: custom protection rules",
                                 env.custom_protection_apps_gap))
    if facts.repo_secrets is not None:
        rows.append(_row(repo, "repository secrets", facts.repo_secrets.gap))
    if facts.org_secrets is not None:
        rows.append(_row(repo, "organisation secrets visible to the repo", facts.org_secrets.gap))
        if facts.org_secrets.gap is None:
            rows.append(_row(repo, "organisation secrets: visibility", facts.org_secrets.visibility_gap))
    if facts.security is not None:
        for name in ("dependabot_alerts", "secret_scanning", "push_protection", "default_workflow_permissions"):
            rows.append(_row(repo, f"security: {name.replace('_', ' ')}", facts.security.gaps.get(name)))
    if facts.codeowners is not None:
        rows.append(_row(repo, "CODEOWNERS", facts.codeowners.gap))
        rows.append(_row(repo, "CODEOWNERS errors", facts.codeowners.errors_gap))
    for label, section in (("workflows", facts.workflows), ("docs", facts.docs),
                           ("merged pull requests", facts.pull_requests), ("deployments", facts.deployments),
                           ("webhooks", facts.webhooks)):
        if section is not None:
            rows.append(_row(repo, label, section.gap))
    for bc in facts.commits or ():
        rows.append(_row(repo, f"commits on {bc.branch}", bc.gap))
    return rows


def render_table(rows: Iterable[Visibility]) -> str:
    """A plain-text table: what is visible, what is not and the permission to grant."""
    lines: list[str] = []
    current = None
    for row in rows:
        if row.repo != current:
            current = row.repo
            lines.append(f"\n{row.repo}")
        if row.visible:
            lines.append(f"  ok       {row.fact}")
        else:
            status = f" (HTTP {row.http_status})" if row.http_status else ""
            need = f"\n           grant: {row.permission}" if row.permission else ""
            lines.append(f"  MISSING  {row.fact}: {row.reason}{status}{need}")
    return "\n".join(lines).lstrip("\n")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Collect with the policy's plan and report, per fact group, what the token can see."""
    from auditor.commands import _cannot_run, _usage, resolve_policy
    from auditor.session import GitHubSession

    if bool(args.repo) == bool(args.org):
        raise _usage("give --repo OWNER/NAME or --org ORG")
    policy = resolve_policy(args.policy)
    plan = plan_for(policy)
    try:
        session = GitHubSession.from_env(base_url=args.base_url, max_wait=args.max_wait,
                                         target=args.org or args.repo)
        repos = [args.repo] if args.repo else session.org_repos(args.org, policy.scope)[: args.sample]
        collect: Callable[[str], RepoFacts] = session.collector(plan, utcnow)
        rows = [row for repo in repos for row in visibility(collect(repo))]
    except FatalCollectError as exc:
        raise _cannot_run(str(exc)) from exc
    missing = [r for r in rows if not r.visible]
    if args.json:
        out: dict[str, Any] = {"repos": repos, "facts": [r.__dict__ for r in rows],
                               "missing": len(missing), "api": session.cost().__dict__}
        print(json.dumps(out, indent=2))
    else:
        print(render_table(rows))
        grants = sorted({r.permission for r in missing if r.permission})
        print(f"\n{len(rows) - len(missing)} of {len(rows)} fact groups visible; "
              f"{session.cost().requests} API requests.")
        if grants:
            print("To see everything, grant: " + "; ".join(grants))
    if missing and args.strict:
        print(f"{len(missing)} fact group(s) not visible.", file=sys.stderr)
        return 1
    return 0


def register(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `auditor doctor` to the parser."""
    del add_common
    from auditor.commands import api_url

    doc = sub.add_parser("doctor", help="which facts this token can and cannot see, and the permission each needs")
    doc.add_argument("--repo", metavar="OWNER/NAME")
    doc.add_argument("--org", metavar="ORG")
    doc.add_argument("--sample", type=int, default=3, help="with --org: how many repositories to check (default 3)")
    doc.add_argument("--policy", default="policies/deployment-standard.yml", help="policy whose facts to check")
    doc.add_argument("--base-url", type=api_url, default=os.environ.get("GITHUB_API_URL", "https://api.github.com"),
                     help="GitHub Enterprise Server or the sandbox (default $GITHUB_API_URL, as `audit`)")
    doc.add_argument("--max-wait", type=float, default=900.0)
    doc.add_argument("--json", action="store_true", help="machine-readable output")
    doc.add_argument("--strict", action="store_true", help="exit 1 when any fact group is not visible")
    doc.add_argument("--verbose", action="store_true")
    doc.set_defaults(func=cmd_doctor)
