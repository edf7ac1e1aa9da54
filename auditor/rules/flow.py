"""flow-*: the promotion path feature -> staging -> production, read from what was merged and pushed.

Branch protection says what may happen; these rules say what did. A pull request's head counts as
the staging (or production) branch only when it comes from this repository: a fork's branch that
happens to be called `staging` is a feature branch like any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.facts import Gap, PullRequest
from auditor.model import Scope, Severity
from auditor.rules._common import matches_any
from auditor.rules._evidence import LIST_CAP, PR_READ, WINDOW_PARAM, merged_prs
from auditor.rules.base import Context, Need, Outcome, Rule, branch_target

_COMMITS_READ = "Contents: read (commits) and Pull requests: read (their pull requests)"


def _same_repo(ctx: Context, pr: PullRequest) -> bool:
    """Whether the PR's head branch lives in this repository (unknown head repo: assume it does)."""
    return pr.head_repo is None or pr.head_repo.lower() == ctx.facts.repo.lower()


def _describe(prs: list[PullRequest]) -> list[str]:
    """'#12 main' style labels for evidence, capped."""
    return [f"#{p.number} {p.head_ref}" + ("" if p.head_repo is None else f" ({p.head_repo})")
            for p in prs[:LIST_CAP]]


FLOW_INTO_STAGING = Rule(
    id="flow-into-staging",
    family="flow",
    title="Staging receives feature branches",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUESTS,),
    remediation=("Open pull requests into staging from feature branches; never merge the production "
                 "branch back into staging through a pull request."),
    permission=PR_READ,
    params={"window_days": WINDOW_PARAM},
)


@FLOW_INTO_STAGING.check
def _flow_into_staging(ctx: Context) -> Iterable[Outcome]:
    rule = FLOW_INTO_STAGING
    staging = ctx.branches.get("staging")
    if staging is None:
        yield rule.not_applicable("repo", "The policy names no staging branch for repository "
                                  f"{ctx.facts.repo}")
        return
    production = ctx.branches.get("production")
    target = branch_target(staging)
    days = int(ctx.params["window_days"])
    window = f"in the last {days} days"
    prs = merged_prs(rule, ctx, staging, target, days)
    if isinstance(prs, Outcome):
        yield prs
        return
    if not prs:
        yield rule.not_applicable(target, f"No pull request was merged into {staging} {window}",
                                  window_days=days)
        return
    forbidden = {staging} | ({production} if production else set())
    bad = sorted((p for p in prs if p.head_ref in forbidden and _same_repo(ctx, p)), key=lambda p: p.number)
    evidence: dict[str, Any] = {"window_days": days, "merged": len(prs), "offending": len(bad),
                                "offending_prs": _describe(bad)}
    if bad:
        yield rule.failed(target, f"{len(bad)} of {len(prs)} pull requests merged into {staging} {window} "
                          f"came from {', '.join(sorted({p.head_ref for p in bad}))}, not from "
                          "feature branches", **evidence)
    else:
        yield rule.passed(target, f"All {len(prs)} pull requests merged into {staging} {window} came from "
                          "feature branches", **evidence)


FLOW_INTO_PRODUCTION = Rule(
    id="flow-into-production",
    family="flow",
    title="Production receives only staging",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUESTS,),
    remediation=("Merge features into staging first and promote staging to production with a pull request "
                 "from the staging branch; list sanctioned exceptions (e.g. hotfix/*) in allowed_heads."),
    permission=PR_READ,
    params={
        "window_days": WINDOW_PARAM,
        "allowed_heads": {"type": "list", "schema": {"type": "string"}, "default": []},
    },
)


@FLOW_INTO_PRODUCTION.check
def _flow_into_production(ctx: Context) -> Iterable[Outcome]:
    rule = FLOW_INTO_PRODUCTION
    production = ctx.branches.get("production")
    if production is None:
        yield rule.not_applicable("repo", "The policy names no production branch for repository "
                                  f"{ctx.facts.repo}")
        return
    staging = ctx.branches.get("staging")
    allowed = [str(g) for g in ctx.params["allowed_heads"]]
    target = branch_target(production)
    days = int(ctx.params["window_days"])
    window = f"in the last {days} days"
    prs = merged_prs(rule, ctx, production, target, days)
    if isinstance(prs, Outcome):
        yield prs
        return
    if not prs:
        yield rule.not_applicable(target, f"No pull request was merged into {production} {window}",
                                  window_days=days)
        return

    def promoted(pr: PullRequest) -> bool:
        return _same_repo(ctx, pr) and (pr.head_ref == staging or matches_any(pr.head_ref, allowed))

    bad = sorted((p for p in prs if not promoted(p)), key=lambda p: p.number)
    evidence: dict[str, Any] = {"window_days": days, "merged": len(prs), "offending": len(bad),
                                "offending_prs": _describe(bad), "staging": staging, "allowed_heads": allowed}
    if bad:
        yield rule.failed(target, f"{len(bad)} of {len(prs)} pull requests merged into {production} {window} "
                          "bypassed staging: " + ", ".join(_describe(bad)), **evidence)
    else:
        yield rule.passed(target, f"All {len(prs)} pull requests merged into {production} {window} "
                          "came from staging or an allowed head", **evidence)


FLOW_NO_DIRECT_PUSH = Rule(
    id="flow-no-direct-push",
    family="flow",
    title="Every commit on the branch came through a pull request",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=(Need.COMMITS,),
    remediation=("Require a pull request before merging on the branch and take away direct-push "
                 "bypasses; review the listed commits after the fact."),
    permission=_COMMITS_READ,
    params={"window_days": WINDOW_PARAM},
)


@FLOW_NO_DIRECT_PUSH.check
def _flow_no_direct_push(ctx: Context) -> Iterable[Outcome]:
    rule = FLOW_NO_DIRECT_PUSH
    name = ctx.branch or ""
    target = branch_target(name)
    days = int(ctx.params["window_days"])
    window = f"in the last {days} days"
    what = f"The list of commits on branch {name} {window}"
    commits = ctx.facts.branch_commits(name)
    if commits is None:
        missing = Gap(f"the commits of branch {name} were not collected", _COMMITS_READ)
        yield rule.unknown(target, what, missing)
        return
    if commits.gap is not None:
        yield rule.unknown(target, what, commits.gap)
        return
    start = ctx.window_start(days)
    # A commit without a date was listed by the collector's own window query, so it stays in.
    recent = [c for c in commits.items if c.committed_at is None or c.committed_at >= start]
    if not recent:
        yield rule.not_applicable(target, f"No commit reached branch {name} {window}",
                                  window_days=days)
        return
    direct = [c.sha for c in recent if c.pull_requests == ()]
    unlinked = [c.sha for c in recent if c.pull_requests is None]
    evidence: dict[str, Any] = {"window_days": days, "commits": len(recent), "direct": len(direct),
                                "direct_commits": direct[:LIST_CAP], "unobserved": len(unlinked),
                                "unobserved_commits": unlinked[:LIST_CAP]}
    if direct:
        yield rule.failed(target, f"{len(direct)} of {len(recent)} commits on branch {name} {window} belong "
                          "to no pull request", **evidence)
    elif unlinked:
        yield rule.unknown(target, f"Whether {len(unlinked)} commit(s) on branch {name} belong to a pull "
                           "request",
                           Gap("GitHub did not say which pull requests these commits belong to", PR_READ),
                           **evidence)
    else:
        yield rule.passed(target, f"All {len(recent)} commits on branch {name} {window} belong to a pull "
                          "request", **evidence)


RULES = (
    FLOW_INTO_STAGING,
    FLOW_INTO_PRODUCTION,
    FLOW_NO_DIRECT_PUSH,
)
