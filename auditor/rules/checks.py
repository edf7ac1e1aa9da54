"""checks-*: required CI status checks on each branch role, what produces them, and their evidence.

A required check is only a control if something runs it: a required context that no workflow
produces blocks every merge (or is quietly bypassed by an administrator), so `checks-produced`
matches each required context to the workflow jobs that report it. Workflow branch filters follow
GitHub's filter-pattern syntax (`*`, `**`, `?`, `+`, `[...]`, and `!` to exclude).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from auditor.facts import Gap, Job, PullRequest, Workflow, Workflows
from auditor.model import Scope, Severity, Status
from auditor.protection import Setting
from auditor.rules._common import ADMIN_READ, bool_setting_outcome, resolve_protection
from auditor.rules._evidence import (
    PR_READ,
    RATIO_PARAM,
    WINDOW_PARAM,
    merged_prs,
    percent,
    tally,
)
from auditor.rules._filters import trigger_admits
from auditor.rules.base import Context, Need, Outcome, Rule, branch_target

_PROT = (Need.BRANCHES, Need.PROTECTION)
_PERM = f"Contents: read (branch list), {ADMIN_READ} (classic protection); rulesets need Metadata: read"
_SETTINGS = "Settings > Rules > Rulesets (or Settings > Branches)"
_WF_READ = "Contents: read (.github/workflows)"
_CHECKS_READ = "Checks: read and Commit statuses: read"
_WF_NOT_COLLECTED = Gap("the workflows were not collected", _WF_READ)
# Events whose runs report check runs on a pull request before it merges.
_PR_EVENTS = ("pull_request", "pull_request_target", "merge_group")


# --------------------------------------------------------------------------------------------
# Workflow helpers


def pr_workflows(workflows: Workflows, branch: str, events: Sequence[str]) -> list[Workflow]:
    """Parsed workflows with one of `events` firing for pull requests into `branch`."""
    found = []
    for wf in workflows.items:
        if wf.parse_error is not None:
            continue
        if any((trig := wf.trigger(event)) is not None and trigger_admits(trig, branch) for event in events):
            found.append(wf)
    return found


def job_produces(job: Job, context: str) -> bool:
    """Whether `job` reports a check run named `context` (matrix legs and reusable calls included)."""
    name = job.check_name
    if job.has_matrix:
        # Every leg reports "name (values…)"; a bare "name" is never reported, so never satisfied.
        return context.startswith(name + " (")
    if job.uses is not None:
        return context.startswith(name + " / ")
    return context == name


def _workflows_or_gap(ctx: Context) -> Workflows | Gap:
    wfs = ctx.facts.workflows
    if wfs is None:
        return _WF_NOT_COLLECTED
    return wfs.gap if wfs.gap is not None else wfs


def _required(rule: Rule, ctx: Context) -> tuple[str, Setting] | Outcome:
    """The branch name and its effective required checks, or the outcome to report instead.

    not_applicable when the branch certainly requires no check; unknown when none are visible
    because a protection source could not be read.
    """
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        return resolved
    br, prot = resolved
    setting = prot.checks
    target = branch_target(br.name)
    if not setting.value:
        if setting.gap is not None:
            return rule.unknown(target, f"Which status checks branch {br.name} requires", setting.gap,
                                **setting.evidence())
        return rule.not_applicable(target, f"Branch {br.name} requires no status checks",
                                   **setting.evidence())
    return br.name, setting


# --------------------------------------------------------------------------------------------
# Settings


CHECKS_REQUIRED = Rule(
    id="checks-required",
    family="checks",
    title="Required status checks are configured",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=(f"{_SETTINGS}: enable 'Require status checks to pass' and add every CI job the policy "
                 "lists in `contexts`."),
    permission=_PERM,
    params={"contexts": {"type": "list", "schema": {"type": "string"}, "default": []}},
)


@CHECKS_REQUIRED.check
def _checks_required(ctx: Context) -> Iterable[Outcome]:
    rule = CHECKS_REQUIRED
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        yield resolved
        return
    br, prot = resolved
    setting = prot.checks
    target = branch_target(br.name)
    wanted = [str(c) for c in ctx.params["contexts"]]
    missing = [c for c in wanted if c not in setting.value]
    evidence = setting.evidence() | {"wanted": wanted, "missing": missing}
    if setting.value and not missing:
        yield rule.passed(target, f"Branch {br.name} requires status checks: " + ", ".join(setting.value),
                          **evidence)
    elif setting.gap is not None:
        yield rule.unknown(target, f"Which status checks branch {br.name} requires", setting.gap, **evidence)
    elif not setting.value:
        yield rule.failed(target, f"Branch {br.name} requires no status checks", **evidence)
    else:
        yield rule.failed(target, f"Branch {br.name} does not require status checks " + ", ".join(missing),
                          f"{_SETTINGS}: add {', '.join(missing)} to the required status checks.", **evidence)


CHECKS_STRICT = Rule(
    id="checks-strict",
    family="checks",
    title="Branches must be up to date before merging",
    severity=Severity.LOW,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Require branches to be up to date before merging'.",
    permission=_PERM,
)


@CHECKS_STRICT.check
def _checks_strict(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        CHECKS_STRICT, ctx, "strict_checks",
        "Whether branch {b} requires branches to be up to date before merging",
        "Branch {b} requires pull requests to be up to date before merging",
        "Branch {b} lets pull requests merge without being up to date")


# --------------------------------------------------------------------------------------------
# Workflows


CHECKS_PRODUCED = Rule(
    id="checks-produced",
    family="checks",
    title="Every required check is produced by a workflow",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=(*_PROT, Need.WORKFLOWS, Need.PULL_REQUESTS, Need.PR_CHECKS),
    remediation=("Make every required status check name match a job that runs on pull_request for this "
                 "branch (its `name:`, matrix legs 'name (…)', reusable calls 'caller / job'), or remove "
                 "required checks that nothing reports."),
    permission=f"{_PERM}; {_WF_READ}; {PR_READ}; {_CHECKS_READ}",
)


def _reported_on_prs(ctx: Context, branch: str) -> tuple[set[str], Gap | None]:
    """Check names reported on heads of merged pull requests into `branch`, and why that is partial."""
    prs = ctx.facts.pull_requests
    if prs is None:
        return set(), Gap("the merged pull requests were not collected", PR_READ)
    if prs.gap is not None:
        return set(), prs.gap
    names: set[str] = set()
    gap: Gap | None = None
    for pr in prs.items:
        if pr.base_ref != branch or pr.merged_at is None:
            continue
        if pr.checks is None:
            gap = gap or pr.checks_gap or Gap(f"the checks of pull request #{pr.number} were not collected",
                                              _CHECKS_READ)
            continue
        names.update(c.name for c in pr.checks)
    return names, gap


@CHECKS_PRODUCED.check
def _checks_produced(ctx: Context) -> Iterable[Outcome]:
    rule = CHECKS_PRODUCED
    required = _required(rule, ctx)
    if isinstance(required, Outcome):
        yield required
        return
    name, setting = required
    target = branch_target(name)
    wfs = _workflows_or_gap(ctx)
    reported, reported_gap = _reported_on_prs(ctx, name)
    producers: dict[str, str] = {}
    unobserved: list[str] = []
    orphans: list[str] = []
    for context in setting.value:
        if isinstance(wfs, Workflows):
            job = next((f"{wf.path}#{j.id}" for wf in pr_workflows(wfs, name, _PR_EVENTS)
                        for j in wf.jobs if job_produces(j, context)), None)
            if job is not None:
                producers[context] = job
                continue
        if context in reported:
            producers[context] = "reported on a merged pull request"
        elif isinstance(wfs, Gap) or reported_gap is not None:
            unobserved.append(context)
        else:
            orphans.append(context)
    evidence = setting.evidence() | {"producers": producers, "orphans": orphans, "unobserved": unobserved}
    if orphans:
        yield rule.failed(target, f"Branch {name} requires status checks that no workflow or recent pull "
                          "request produces: " + ", ".join(orphans), **evidence)
    elif unobserved:
        gap = wfs if isinstance(wfs, Gap) else reported_gap
        yield rule.unknown(target, f"Whether anything produces required checks {', '.join(unobserved)} of "
                           f"branch {name}", gap, **evidence)
    elif setting.gap is not None:
        yield rule.unknown(target, f"Whether every required check of branch {name} is produced", setting.gap,
                           **evidence)
    else:
        yield rule.passed(target, f"Every required status check of branch {name} is produced by a workflow "
                          "or reported on its pull requests", **evidence)


CHECKS_CI_ON_PR = Rule(
    id="checks-ci-on-pr",
    family="checks",
    title="CI runs on pull requests to the branch",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=(Need.WORKFLOWS,),
    remediation=("Add a workflow under .github/workflows with `on: pull_request` whose `branches` filter "
                 "includes this branch (or has no branch filter)."),
    permission=_WF_READ,
)


@CHECKS_CI_ON_PR.check
def _checks_ci_on_pr(ctx: Context) -> Iterable[Outcome]:
    rule = CHECKS_CI_ON_PR
    name = ctx.branch or ""
    target = branch_target(name)
    wfs = _workflows_or_gap(ctx)
    if isinstance(wfs, Gap):
        yield rule.unknown(target, f"Whether CI runs on pull requests to {name}", wfs)
        return
    broken = [wf.path for wf in wfs.items if wf.parse_error is not None]
    running = [wf.path for wf in pr_workflows(wfs, name, ("pull_request",))]
    evidence: dict[str, Any] = {"workflows": running, "unparsable": broken}
    if running:
        yield rule.passed(target, f"Workflow {running[0]} runs on pull requests to {name}", **evidence)
    else:
        suffix = f" ({len(broken)} workflow file(s) do not parse)" if broken else ""
        yield rule.failed(target, f"No workflow runs on pull requests to {name}{suffix}", **evidence)


# --------------------------------------------------------------------------------------------
# Evidence


CHECKS_EVIDENCE = Rule(
    id="checks-evidence",
    family="checks",
    title="Merged pull requests passed every required check",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=(*_PROT, Need.PULL_REQUESTS, Need.PR_CHECKS),
    remediation=("Stop merging pull requests whose required checks failed or did not run (administrator "
                 "bypass included); look at the failing pull requests for how they got merged."),
    permission=f"{_PERM}; {PR_READ}; {_CHECKS_READ}",
    params={"window_days": WINDOW_PARAM, "min_ratio": RATIO_PARAM},
)


@CHECKS_EVIDENCE.check
def _checks_evidence(ctx: Context) -> Iterable[Outcome]:
    rule = CHECKS_EVIDENCE
    required = _required(rule, ctx)
    if isinstance(required, Outcome):
        yield required
        return
    name, setting = required
    target = branch_target(name)
    days = int(ctx.params["window_days"])
    min_ratio = float(ctx.params["min_ratio"])
    prs = merged_prs(rule, ctx, name, target, days)
    if isinstance(prs, Outcome):
        yield prs
        return
    if not prs:
        yield rule.not_applicable(target, f"No pull request was merged into {name} in the last {days} days",
                                  window_days=days)
        return
    contexts = tuple(setting.value)

    def judge(pr: PullRequest) -> tuple[bool | None, Gap | None]:
        if pr.checks is None:
            return None, pr.checks_gap or Gap(f"the checks of pull request #{pr.number} were not collected",
                                              _CHECKS_READ)
        ok = {c.name for c in pr.checks if c.ok}
        return all(c in ok for c in contexts), None

    counted = tally(prs, judge)
    evidence = counted.evidence(min_ratio, days) | {"required_checks": list(contexts)}
    share = f"{len(counted.good)} of {counted.total} pull requests merged into {name} in the last {days} days"
    status = counted.verdict(min_ratio)
    if status is Status.PASS and setting.gap is not None:
        # Checks required by the unreadable source might have failed on these pull requests.
        yield rule.unknown(target, f"Whether pull requests merged into {name} passed every required check",
                           setting.gap, **evidence)
    elif status is Status.PASS:
        yield rule.passed(target, f"{share} passed every required check", **evidence)
    elif status is Status.FAIL:
        yield rule.failed(target, f"Only {share} passed every required check, below {percent(min_ratio)}",
                          **evidence)
    else:
        yield rule.unknown(target, f"Whether {percent(min_ratio)} of pull requests merged into {name} passed "
                           "every required check", counted.gap, **evidence)


RULES = (
    CHECKS_REQUIRED,
    CHECKS_STRICT,
    CHECKS_PRODUCED,
    CHECKS_CI_ON_PR,
    CHECKS_EVIDENCE,
)
