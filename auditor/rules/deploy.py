"""deploy-*: automated deployments, their notifications, rollback docs and deployment evidence.

These rules are repo-scoped and report one target per environment role or per deploy workflow.
The environment roles `production` and `staging` are the ones the deployment process names: staging
is deployed and accepted first, production follows.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from auditor.facts import Deployment, Gap, Workflow, Workflows
from auditor.model import Scope, Severity
from auditor.rules._filters import glob_regex, trigger_admits
from auditor.rules.base import Context, Need, Outcome, Rule, env_target

PRODUCTION = "production"
STAGING = "staging"
REPO = "repo"
WORKFLOWS_PERM = "Contents: read (workflow files under .github/workflows)"
DEPLOYMENTS_PERM = "Deployments: read"
WEBHOOKS_PERM = "Webhooks: read"
_NO_WORKFLOWS = Gap("the workflows were not collected", WORKFLOWS_PERM)
_NO_DEPLOYMENTS = Gap("the deployments were not collected", DEPLOYMENTS_PERM)
_NO_WEBHOOKS = Gap("the webhooks were not collected", WEBHOOKS_PERM)
_SETTLED = frozenset({"success", "failure", "error", "inactive"})
_FAILED = frozenset({"failure", "error"})


# --------------------------------------------------------------------------------------------
# Helpers: GitHub's filter-pattern globs, workflow lookups


def deploys_to(workflow: Workflow, environment: str) -> bool:
    """Whether a job of the workflow declares `environment` (GitHub compares names case-insensitively)."""
    return any(j.environment is not None and j.environment.lower() == environment.lower()
               for j in workflow.jobs)


def _workflows_or_gap(ctx: Context) -> Workflows | Gap:
    wfs = ctx.facts.workflows
    if wfs is None:
        return _NO_WORKFLOWS
    if wfs.gap is not None:
        return wfs.gap
    return wfs


def _deployments_of(deployments: Iterable[Deployment], environment: str) -> list[Deployment]:
    return [d for d in deployments if d.environment.lower() == environment.lower()]


# --------------------------------------------------------------------------------------------
# deploy-automated

DEPLOY_AUTOMATED = Rule(
    id="deploy-automated",
    family="deploy",
    title="Each environment is deployed automatically on push to its branch",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.WORKFLOWS,),
    remediation="Add a workflow triggered by `push` to the role's branch with a job that declares "
                "`environment: <environment>` and deploys.",
    permission=WORKFLOWS_PERM,
)


@DEPLOY_AUTOMATED.check
def _deploy_automated(ctx: Context) -> Iterable[Outcome]:
    rule = DEPLOY_AUTOMATED
    if not ctx.environments:
        yield rule.not_applicable(REPO, "The policy names no environment role for this repository")
        return
    wfs = _workflows_or_gap(ctx)
    for role, env_name in ctx.environments.items():
        target = env_target(env_name)
        if isinstance(wfs, Gap):
            yield rule.unknown(target, f"Whether a workflow deploys environment {env_name}", wfs)
            continue
        branch = ctx.branches.get(role)
        if branch is None:
            yield rule.not_applicable(target, f"The policy maps no branch to role {role}, so no push can "
                                      f"deploy environment {env_name}", role=role)
            continue
        env_jobs = [wf for wf in wfs.items if wf.parse_error is None and deploys_to(wf, env_name)]
        deployers = [wf.path for wf in env_jobs
                     if (push := wf.trigger("push")) is not None and trigger_admits(push, branch)]
        broken = [wf.path for wf in wfs.items if wf.parse_error is not None]
        evidence = {"environment": env_name, "branch": branch, "role": role}
        if deployers:
            yield rule.passed(target, f"Workflow {deployers[0]} deploys environment {env_name} on push to "
                              f"branch {branch}", workflows=deployers, **evidence)
        elif broken:
            yield rule.unknown(target, f"Whether a workflow deploys environment {env_name} on push to "
                               f"{branch}", f"workflow files could not be parsed ({', '.join(broken)})",
                               unparsed=broken, **evidence)
        else:
            yield rule.failed(target, f"No workflow deploys environment {env_name} on push to branch "
                              f"{branch}",
                              environment_workflows=[wf.path for wf in env_jobs], **evidence)


# --------------------------------------------------------------------------------------------
# deploy-notifications

DEFAULT_NOTIFIERS = [
    "slackapi/slack-github-action",
    "rtCamp/action-slack-notify",
    "8398a7/action-slack",
    "dawidd6/action-send-mail",
    "*/*teams*",
    "*/*discord*",
    "*/*notify*",
    "*/*slack*",
]

DEPLOY_NOTIFICATIONS = Rule(
    id="deploy-notifications",
    family="deploy",
    title="Deployments notify stakeholders",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.WORKFLOWS, Need.WEBHOOKS),
    remediation="Add a notification step (e.g. slackapi/slack-github-action) to the deploy workflow, a "
                "workflow triggered by `deployment_status`, or a webhook subscribed to deployment statuses.",
    permission=f"{WORKFLOWS_PERM}; {WEBHOOKS_PERM} (repository webhooks)",
    params={"notifier_patterns": {"type": "list", "schema": {"type": "string"},
                                  "default": DEFAULT_NOTIFIERS}},
)


def _notifier_actions(workflow: Workflow, patterns: Sequence[str]) -> list[str]:
    """Action and reusable-workflow names in the workflow that match a notifier pattern."""
    lowered = [p.lower() for p in patterns]
    names = [j.uses.name for j in workflow.jobs if j.uses is not None]
    names += [s.uses.name for j in workflow.jobs for s in j.steps if s.uses is not None]
    return sorted({n for n in names if any(fnmatch.fnmatchcase(n.lower(), p) for p in lowered)})


@DEPLOY_NOTIFICATIONS.check
def _deploy_notifications(ctx: Context) -> Iterable[Outcome]:
    rule = DEPLOY_NOTIFICATIONS
    wfs = _workflows_or_gap(ctx)
    if isinstance(wfs, Gap):
        yield rule.unknown(REPO, "Whether deploy workflows notify stakeholders", wfs)
        return
    parsed = [wf for wf in wfs.items if wf.parse_error is None]
    deploy_wfs = [wf for wf in parsed if any(j.environment for j in wf.jobs)]
    broken = [wf.path for wf in wfs.items if wf.parse_error is not None]
    if not deploy_wfs and broken:
        # A file that does not parse may be the deploy workflow: as deploy-automated, say unknown.
        yield rule.unknown(REPO, "Whether deploy workflows notify stakeholders",
                           f"workflow files could not be parsed ({', '.join(broken)})", unparsed=broken)
        return
    if not deploy_wfs:
        yield rule.not_applicable(REPO, "No workflow has a job that deploys to an environment")
        return
    status_wfs = [wf.path for wf in parsed if wf.trigger("deployment_status") is not None]
    hooks = ctx.facts.webhooks
    hook_gap = _NO_WEBHOOKS if hooks is None else hooks.gap
    hook_ids = [] if hooks is None or hook_gap is not None else [
        h.id for h in hooks.items if h.active and ({"deployment_status", "*"} & set(h.events))]
    patterns = list(ctx.params.get("notifier_patterns", DEFAULT_NOTIFIERS))
    for wf in deploy_wfs:
        target = f"workflow:{wf.path}"
        actions = _notifier_actions(wf, patterns)
        if actions:
            yield rule.passed(target, f"Deploy workflow {wf.path} notifies with {actions[0]}",
                              notifiers=actions)
        elif status_wfs:
            yield rule.passed(target, f"Deployments of workflow {wf.path} are announced by the "
                              f"deployment_status workflow {status_wfs[0]}",
                              deployment_status_workflows=status_wfs)
        elif hook_ids:
            yield rule.passed(target, f"Deployments of workflow {wf.path} are announced by a webhook "
                              "subscribed to deployment_status", webhooks=hook_ids)
        elif hook_gap is not None:
            yield rule.unknown(target, f"Whether deployments of workflow {wf.path} are announced", hook_gap,
                               note="no notification step or deployment_status workflow was found")
        else:
            yield rule.failed(target, f"Deploy workflow {wf.path} sends no notification, and neither a "
                              "deployment_status workflow nor a webhook announces deployments",
                              notifier_patterns=patterns)


# --------------------------------------------------------------------------------------------
# deploy-rollback-documented

DEFAULT_ROLLBACK_PATHS = ["docs/rollback*.md", "ROLLBACK.md", "docs/**/rollback*.md", "RUNBOOK.md"]
DEFAULT_ROLLBACK_HEADING = r"(?i)roll\s*-?back"

DEPLOY_ROLLBACK_DOCUMENTED = Rule(
    id="deploy-rollback-documented",
    family="deploy",
    title="A rollback procedure is documented",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.DOCS,),
    remediation="Write the rollback procedure down: add docs/rollback.md, or a 'Rollback' section to the "
                "deployment document.",
    permission="Contents: read",
    params={
        "paths": {"type": "list", "schema": {"type": "string"}, "default": DEFAULT_ROLLBACK_PATHS},
        "heading": {"type": "string", "empty": False, "default": DEFAULT_ROLLBACK_HEADING},
    },
)


@DEPLOY_ROLLBACK_DOCUMENTED.check
def _deploy_rollback_documented(ctx: Context) -> Iterable[Outcome]:
    rule = DEPLOY_ROLLBACK_DOCUMENTED
    docs = ctx.facts.docs
    what = "Whether a rollback procedure is documented"
    if docs is None or docs.gap is not None:
        yield rule.unknown(REPO, what, Gap("the docs were not collected", "Contents: read")
                           if docs is None else docs.gap)
        return
    if docs.tree is None:
        yield rule.unknown(REPO, what, "the file tree of the production branch was not read")
        return
    paths = list(ctx.params.get("paths", DEFAULT_ROLLBACK_PATHS))
    files = [f for f in docs.tree if any(glob_regex(p, True).fullmatch(f) for p in paths)]
    if files:
        yield rule.passed(f"file:{files[0]}", f"Rollback procedure is documented in {files[0]}", files=files)
        return
    heading = re.compile(str(ctx.params.get("heading", DEFAULT_ROLLBACK_HEADING)))
    unread: list[str] = []
    for doc in docs.files:
        if not doc.exists:
            continue
        if doc.headings is None:
            unread.append(doc.path)
            continue
        found = next((h for h in doc.headings if heading.search(h)), None)
        if found is not None:
            yield rule.passed(f"file:{doc.path}", f"Rollback procedure is documented in {doc.path} "
                              f"(section '{found}')", heading=found)
            return
    if unread:
        yield rule.unknown(REPO, what, f"the headings of {', '.join(unread)} were not read", paths=paths)
        return
    yield rule.failed(REPO, f"Repository {ctx.facts.repo} documents no rollback procedure: no file matches "
                      f"{', '.join(paths)} and no doc heading matches {heading.pattern}",
                      paths=paths, heading=heading.pattern, docs=[d.path for d in docs.files if d.exists])


# --------------------------------------------------------------------------------------------
# deploy-staged-first

DEPLOY_STAGED_FIRST = Rule(
    id="deploy-staged-first",
    family="deploy",
    title="Production deploys only commits deployed to staging first",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.DEPLOYMENTS,),
    remediation="Deploy to production only commits that were deployed successfully to staging first "
                "(promote staging to production instead of deploying other commits).",
    permission=DEPLOYMENTS_PERM,
    params={"window_days": {"type": "integer", "min": 1, "default": 30},
            "staging_lookback_days": {"type": "integer", "min": 0, "default": 14}},
)


def _judged_since(ctx: Context, days: int, collected_since: datetime | None) -> datetime:
    """The start of the production deployments this rule can judge.

    The collector lists deployments created after `collected_since` only, so the staging
    deployment of a production deployment made just after it may lie before it and be invisible:
    such a production deployment would look unstaged. Only production deployments at least
    `staging_lookback_days` after the start of the collected evidence are judged.
    """
    start = ctx.window_start(days)
    if collected_since is None:
        return start
    lookback = int(ctx.params.get("staging_lookback_days", 14))
    return max(start, collected_since + timedelta(days=lookback))


def _succeeded_at(dep: Deployment) -> datetime | None:
    """When the deployment first reported success, falling back to its creation time."""
    times = [s.created_at for s in dep.statuses if s.state == "success"]
    known = [t for t in times if t is not None]
    return min(known) if known else dep.created_at


def _was_successful(dep: Deployment) -> bool:
    """Any success status counts: GitHub later marks a superseded successful deployment `inactive`."""
    return any(s.state == "success" for s in dep.statuses)


def _staged(prod: Deployment, staging: Sequence[Deployment]) -> bool:
    for dep in staging:
        if dep.sha != prod.sha or not _was_successful(dep):
            continue
        done = _succeeded_at(dep)
        if prod.created_at is None or done is None or done <= prod.created_at:
            return True
    return False


@DEPLOY_STAGED_FIRST.check
def _deploy_staged_first(ctx: Context) -> Iterable[Outcome]:
    rule = DEPLOY_STAGED_FIRST
    prod_env = ctx.environments.get(PRODUCTION)
    staging_env = ctx.environments.get(STAGING)
    if prod_env is None or staging_env is None:
        yield rule.not_applicable(REPO, "The policy does not name both a production and a staging "
                                  "environment")
        return
    target = env_target(prod_env)
    deps = ctx.facts.deployments
    if deps is None or deps.gap is not None:
        yield rule.unknown(target, f"Whether production deployments to {prod_env} were staged first",
                           _NO_DEPLOYMENTS if deps is None else deps.gap)
        return
    start = _judged_since(ctx, int(ctx.params.get("window_days", 30)), deps.since)
    days = max(0, int((ctx.now - start).total_seconds() // 86400))
    prod = [d for d in _deployments_of(deps.items, prod_env)
            if d.created_at is not None and d.created_at >= start]
    if not prod:
        yield rule.not_applicable(target, f"No deployment to environment {prod_env} in the last {days} days",
                                  window_days=days)
        return
    staging = _deployments_of(deps.items, staging_env)
    unstaged = [d for d in prod if not _staged(d, staging)]
    evidence: dict[str, Any] = {"window_days": days, "deployments": len(prod),
                                "staging_environment": staging_env}
    if unstaged:
        shas = sorted({d.sha[:12] for d in unstaged})
        yield rule.failed(target, f"{len(unstaged)} of {len(prod)} deployment(s) to environment {prod_env} "
                          f"deployed commits never deployed successfully to {staging_env} first "
                          f"({', '.join(shas)})", unstaged=[{"id": d.id, "sha": d.sha} for d in unstaged],
                          **evidence)
    else:
        yield rule.passed(target, f"All {len(prod)} deployment(s) to environment {prod_env} in the last "
                          f"{days} days deployed commits first deployed successfully to {staging_env}",
                          **evidence)


# --------------------------------------------------------------------------------------------
# deploy-healthy

DEPLOY_HEALTHY = Rule(
    id="deploy-healthy",
    family="deploy",
    title="Production deployments succeed",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.DEPLOYMENTS,),
    remediation="Fix the failing production deployment (or roll back), and look into why deployments fail.",
    permission=DEPLOYMENTS_PERM,
    params={
        "window_days": {"type": "integer", "min": 1, "default": 30},
        "max_failure_ratio": {"type": "number", "min": 0.0, "max": 1.0, "default": 0.2},
    },
)


@DEPLOY_HEALTHY.check
def _deploy_healthy(ctx: Context) -> Iterable[Outcome]:
    rule = DEPLOY_HEALTHY
    prod_env = ctx.environments.get(PRODUCTION)
    if prod_env is None:
        yield rule.not_applicable(REPO, "The policy names no production environment")
        return
    target = env_target(prod_env)
    deps = ctx.facts.deployments
    if deps is None or deps.gap is not None:
        yield rule.unknown(target, f"The health of deployments to {prod_env}",
                           _NO_DEPLOYMENTS if deps is None else deps.gap)
        return
    days = int(ctx.params.get("window_days", 30))
    limit = float(ctx.params.get("max_failure_ratio", 0.2))
    settled = [d for d in _deployments_of(deps.items, prod_env) if d.state in _SETTLED]
    if not settled:
        yield rule.not_applicable(target, f"No finished deployment to environment {prod_env}",
                                  window_days=days)
        return
    latest = max(settled, key=lambda d: (d.created_at is not None, d.created_at or ctx.now, d.id))
    start = ctx.window_start(days)
    window = [d for d in settled if d.created_at is not None and d.created_at >= start]
    failed = [d for d in window if d.state in _FAILED]
    ratio = len(failed) / len(window) if window else 0.0
    evidence: dict[str, Any] = {
        "latest_id": latest.id, "latest_state": latest.state, "latest_sha": latest.sha,
        "failures": len(failed), "finished": len(window), "failure_ratio": round(ratio, 3),
        "max_failure_ratio": limit, "window_days": days}
    if latest.state in _FAILED:
        yield rule.failed(target, f"The latest deployment to environment {prod_env} ({latest.sha[:12]}) "
                          f"ended in {latest.state}", **evidence)
    elif ratio > limit:
        yield rule.failed(target, f"{len(failed)} of {len(window)} deployments to environment {prod_env} "
                          f"in the last {days} days failed ({ratio:.0%}, more than {limit:.0%})", **evidence)
    else:
        yield rule.passed(target, f"The latest deployment to environment {prod_env} succeeded and "
                          f"{len(failed)} of {len(window)} in the last {days} days failed", **evidence)


RULES = (
    DEPLOY_AUTOMATED,
    DEPLOY_NOTIFICATIONS,
    DEPLOY_ROLLBACK_DOCUMENTED,
    DEPLOY_STAGED_FIRST,
    DEPLOY_HEALTHY,
)
