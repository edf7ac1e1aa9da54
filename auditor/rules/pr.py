"""pr-*: what a pull-request gate (`auditor check`) verifies on the one pull request it checks.

These rules read `facts.pull_request`; without one there is nothing to check, so every rule is
`not_applicable` rather than unknown. Whatever the PR carries that could not be read (reviews,
checks, files, the base branch's protection) makes the rule unknown, never a pass.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any

from auditor.facts import ActionRef, Gap, PullRequest, Workflow
from auditor.model import Scope, Severity
from auditor.protection import effective_protection
from auditor.rules._common import ADMIN_READ, matches_any
from auditor.rules._filters import path_matches
from auditor.rules.base import Context, Need, Outcome, Rule

_PR_READ = "Pull requests: read"
_GLOBS = {"type": "list", "schema": {"type": "string", "empty": False}}
_NO_PR = "No pull request is being checked"


def pr_target(pr: PullRequest) -> str:
    """Target string for a pull request."""
    return f"pr:{pr.number}"


def _pull_request(rule: Rule, ctx: Context) -> PullRequest | Outcome:
    pr = ctx.facts.pull_request
    if pr is None:
        return rule.not_applicable("repo", _NO_PR)
    return pr


# --------------------------------------------------------------------------------------------

PR_TARGET_BRANCH = Rule(
    id="pr-target-branch",
    family="pr",
    title="Pull request follows the promotion path",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUEST,),
    remediation="Retarget the pull request: feature branches merge into staging, and only staging (or an "
                "allowed hotfix branch) merges into production.",
    permission=_PR_READ,
    params={"allowed_heads": {**_GLOBS, "default": []}},
)


@PR_TARGET_BRANCH.check
def _pr_target_branch(ctx: Context) -> Iterable[Outcome]:
    rule = PR_TARGET_BRANCH
    pr = _pull_request(rule, ctx)
    if isinstance(pr, Outcome):
        yield pr
        return
    target = pr_target(pr)
    production, staging = ctx.branches.get("production"), ctx.branches.get("staging")
    head, base = pr.head_ref, pr.base_ref
    from_this_repo = None if pr.head_repo is None else pr.head_repo.lower() == ctx.facts.repo.lower()
    evidence = {"head": head, "base": base, "head_repo": pr.head_repo}
    unknown_origin = f"the head repository of PR #{pr.number} is unknown, so branch {head} may be a fork's"
    if staging is not None and base == staging:
        if head != production:
            yield rule.passed(target, f"PR #{pr.number} brings feature branch {head} into staging branch {base}",
                              **evidence)
        elif from_this_repo is None:
            yield rule.unknown(target, f"Whether PR #{pr.number} comes from the production branch",
                               unknown_origin, **evidence)
        elif from_this_repo:
            yield rule.failed(target, f"PR #{pr.number} merges production branch {head} back into staging "
                              f"branch {base}", "Open the pull request from a feature branch.", **evidence)
        else:
            yield rule.passed(target, f"PR #{pr.number} brings a fork's branch {head} into staging branch {base}",
                              **evidence)
        return
    if production is not None and base == production:
        allowed: list[str] = list(ctx.params["allowed_heads"])
        if matches_any(head, allowed):
            yield rule.passed(target, f"PR #{pr.number} into production branch {base} comes from {head}, "
                              "an allowed head", allowed_heads=allowed, **evidence)
        elif staging is not None and head == staging and from_this_repo is None:
            yield rule.unknown(target, f"Whether PR #{pr.number} comes from the staging branch",
                               unknown_origin, **evidence)
        elif staging is not None and head == staging and from_this_repo:
            yield rule.passed(target, f"PR #{pr.number} promotes staging branch {head} into production "
                              f"branch {base}", **evidence)
        else:
            source = f"staging branch {staging}" if staging else "nothing but allowed_heads"
            yield rule.failed(target, f"PR #{pr.number} merges {head} into production branch {base}, which "
                              f"accepts only {source}",
                              f"Merge {head} into {staging} first, then promote {staging} to {base}."
                              if staging else None, allowed_heads=allowed, **evidence)
        return
    yield rule.passed(target, f"PR #{pr.number} targets {base}, which the promotion path does not govern",
                      governed=False, **evidence)


# --------------------------------------------------------------------------------------------

PR_APPROVED = Rule(
    id="pr-approved",
    family="pr",
    title="Pull request is approved by someone other than its author",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUEST, Need.PROTECTION),
    remediation="Ask a reviewer other than the author to review and approve the pull request.",
    permission=f"{_PR_READ} (reviews); {ADMIN_READ} (code owner requirement of the base branch)",
    params={"min_approvals": {"type": "integer", "min": 0, "default": 1}},
)

_STATE_CHANGING = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


@PR_APPROVED.check
def _pr_approved(ctx: Context) -> Iterable[Outcome]:
    """Counts each reviewer's latest review that changes state (a later comment keeps an approval)."""
    rule = PR_APPROVED
    pr = _pull_request(rule, ctx)
    if isinstance(pr, Outcome):
        yield pr
        return
    target = pr_target(pr)
    if pr.reviews is None:
        yield rule.unknown(target, f"Whether PR #{pr.number} is approved", pr.reviews_gap)
        return
    needed = int(ctx.params["min_approvals"])
    latest: dict[str, tuple[str, str]] = {}
    for review in pr.reviews:  # GitHub lists reviews in chronological order
        state = review.state.upper()
        if state in _STATE_CHANGING:
            latest[review.author.lower()] = (review.author, state)
    approvers = sorted(name for key, (name, state) in latest.items()
                       if state == "APPROVED" and key != pr.author.lower())
    evidence: dict[str, Any] = {"approvers": approvers, "approvals": len(approvers),
                                   "min_approvals": needed, "author": pr.author}
    note = ""
    base = ctx.facts.branch(pr.base_ref)
    if base is not None:
        owners = effective_protection(base).code_owner_reviews
        if owners.value:
            evidence["code_owner_review"] = f"required on {pr.base_ref}: enforced by GitHub at merge"
            note = f"; code owner approval is enforced by GitHub on {pr.base_ref}"
        elif owners.gap is not None:
            evidence["code_owner_review"] = f"unknown: {owners.gap.describe()}"
    count = f"{len(approvers)} approval{'s' * (len(approvers) != 1)}"
    who = f" ({', '.join(approvers)})" if approvers else ""
    message = f"PR #{pr.number} has {count} from reviewers other than its author{who}, {needed} required{note}"
    verdict = rule.passed if len(approvers) >= needed else rule.failed
    yield verdict(target, message, **evidence)


# --------------------------------------------------------------------------------------------

PR_CHECKS_GREEN = Rule(
    id="pr-checks-green",
    family="pr",
    title="Every required check on the pull request is successful",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUEST, Need.PROTECTION),
    remediation="Fix the failing checks (or wait for the running ones) before merging.",
    permission=f"Checks: read and Commit statuses: read (PR head); {ADMIN_READ} (required checks of the base)",
)


@PR_CHECKS_GREEN.check
def _pr_checks_green(ctx: Context) -> Iterable[Outcome]:
    rule = PR_CHECKS_GREEN
    pr = _pull_request(rule, ctx)
    if isinstance(pr, Outcome):
        yield pr
        return
    target = pr_target(pr)
    base = ctx.facts.branch(pr.base_ref)
    if base is None:
        yield rule.unknown(target, f"Whether PR #{pr.number} passes the required checks of {pr.base_ref}",
                           Gap("the base branch was not collected"))
        return
    if pr.checks is None:
        yield rule.unknown(target, f"Whether the checks on PR #{pr.number} are green", pr.checks_gap)
        return
    required_setting = effective_protection(base).checks
    required: tuple[str, ...] = required_setting.value
    results: dict[str, list[str]] = {}
    by_name: dict[str, list[bool]] = {}
    for check in pr.checks:
        by_name.setdefault(check.name, []).append(check.ok)
        results.setdefault(check.name, []).append(check.conclusion or check.status)
    missing = [name for name in required if name not in by_name]
    bad = [name for name in required if name in by_name and not all(by_name[name])]
    evidence: dict[str, Any] = {"required": list(required), "results": results}
    if missing or bad:
        parts = ([f"not reported: {', '.join(missing)}"] if missing else []) + \
                ([f"not successful: {', '.join(bad)}"] if bad else [])
        yield rule.failed(target, f"PR #{pr.number} has required checks of {pr.base_ref} that are not green "
                          f"({'; '.join(parts)})", missing=missing, not_successful=bad, **evidence)
        return
    if required_setting.gap is not None:
        yield rule.unknown(target, f"Whether PR #{pr.number} passes the required checks of {pr.base_ref}",
                           required_setting.gap, **evidence)
        return
    if required:
        yield rule.passed(target, f"PR #{pr.number} passes all {len(required)} required checks of "
                          f"{pr.base_ref}", **evidence)
        return
    failing = sorted(name for name, oks in by_name.items() if not all(oks))
    if failing:
        yield rule.failed(target, f"Branch {pr.base_ref} requires no checks, and checks {', '.join(failing)} "
                          f"on PR #{pr.number} are not successful", not_successful=failing, **evidence)
    else:
        yield rule.passed(target, f"Branch {pr.base_ref} requires no checks; all {len(by_name)} checks "
                          f"reported on PR #{pr.number} are successful", **evidence)


# --------------------------------------------------------------------------------------------

PR_DOCS_UPDATED = Rule(
    id="pr-docs-updated",
    family="pr",
    title="Pull request that changes deployment updates the docs",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUEST,),
    remediation="Describe the deployment change in the documentation (or the changelog) in the same pull "
                "request.",
    permission=_PR_READ,
    params={
        "paths": {**_GLOBS, "minlength": 1, "default": ["docs/**", "README.md", "CHANGELOG.md"]},
        "watched": {**_GLOBS, "minlength": 1,
                    "default": [".github/workflows/*", "deploy/**", "infra/**", "Dockerfile"]},
    },
)


@PR_DOCS_UPDATED.check
def _pr_docs_updated(ctx: Context) -> Iterable[Outcome]:
    rule = PR_DOCS_UPDATED
    pr = _pull_request(rule, ctx)
    if isinstance(pr, Outcome):
        yield pr
        return
    target = pr_target(pr)
    if pr.files is None:
        yield rule.unknown(target, f"Which files PR #{pr.number} changes", pr.files_gap)
        return
    watched = [f for f in pr.files if path_matches(f, ctx.params["watched"])]
    docs = [f for f in pr.files if path_matches(f, ctx.params["paths"])]
    evidence = {"watched_changed": watched, "docs_changed": docs}
    if not watched:
        yield rule.not_applicable(target, f"PR #{pr.number} changes no deployment path", **evidence)
    elif docs:
        yield rule.passed(target, f"PR #{pr.number} changes {watched[0]} and updates {docs[0]}", **evidence)
    else:
        yield rule.failed(target, f"PR #{pr.number} changes {', '.join(watched[:3])}"
                          f"{' and more' if len(watched) > 3 else ''} without updating any documentation",
                          f"Describe the change to {watched[0]} in one of {', '.join(ctx.params['paths'])}.",
                          **evidence)


# --------------------------------------------------------------------------------------------

PR_WORKFLOW_SAFETY = Rule(
    id="pr-workflow-safety",
    family="pr",
    title="Workflows changed by the pull request are safe",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.PULL_REQUEST, Need.WORKFLOWS),
    remediation="Do not check out pull request code in pull_request_target/workflow_run workflows, move "
                "credential secrets into jobs with an `environment:`, and pin actions to a full commit SHA.",
    permission=f"{_PR_READ} (files); Contents: read (workflow files at the PR head)",
    params={
        "require_pinned": {"type": "boolean", "default": True},
        "trusted_owners": {**_GLOBS, "default": ["actions", "github"]},
        "credential_patterns": {**_GLOBS, "default": ["*TOKEN*", "*KEY*", "*SECRET*", "*PASSWORD*",
                                                      "*CREDENTIAL*"]},
    },
)

_PRIVILEGED_EVENTS = ("pull_request_target", "workflow_run")


def _is_workflow_file(path: str) -> bool:
    """GitHub runs only the YAML files directly in .github/workflows/."""
    prefix = ".github/workflows/"
    rest = path[len(prefix):]
    return path.startswith(prefix) and "/" not in rest and rest.endswith((".yml", ".yaml"))


def _is_credential(name: str, patterns: Sequence[str]) -> bool:
    upper = name.upper()
    return upper != "GITHUB_TOKEN" and any(fnmatch.fnmatchcase(upper, p.upper()) for p in patterns)


def _unpinned(ref: ActionRef, trusted: set[str]) -> bool:
    if ref.pin in ("local", "docker", "sha"):
        return False
    return ref.name.split("/", 1)[0].lower() not in trusted


def workflow_problems(wf: Workflow, credential_patterns: Sequence[str], require_pinned: bool,
                      trusted_owners: Iterable[str]) -> dict[str, list[str]]:
    """The unsafe patterns of one workflow, by kind (empty lists: none found)."""
    privileged = [e for e in _PRIVILEGED_EVENTS if wf.trigger(e) is not None]
    trusted = {o.lower() for o in trusted_owners}
    problems: dict[str, list[str]] = {"pr_head_checkout": [], "secrets_outside_environment": [], "unpinned": []}
    for job in wf.jobs:
        if privileged and job.checks_out_pr_head:
            problems["pr_head_checkout"].append(f"job {job.id} checks out the pull request head under "
                                                f"{'/'.join(privileged)}")
        creds = [s for s in job.secrets if _is_credential(s, credential_patterns)]
        if creds and job.environment is None and job.uses is None:
            problems["secrets_outside_environment"].append(
                f"job {job.id} uses {', '.join(creds)} without an environment")
        if require_pinned:
            refs = [s.uses for s in job.steps if s.uses is not None] + ([job.uses] if job.uses else [])
            problems["unpinned"] += [r.raw for r in refs if _unpinned(r, trusted)]
    problems["unpinned"] = list(dict.fromkeys(problems["unpinned"]))
    return problems


@PR_WORKFLOW_SAFETY.check
def _pr_workflow_safety(ctx: Context) -> Iterable[Outcome]:
    """One result per workflow file the PR changes, targeted `workflow:<path>` so each keeps its identity.

    `workflow_run` counts like `pull_request_target`: both run with the base repository's secrets
    and write token while able to check out the untrusted head.
    """
    rule = PR_WORKFLOW_SAFETY
    pr = _pull_request(rule, ctx)
    if isinstance(pr, Outcome):
        yield pr
        return
    if pr.files is None:
        yield rule.unknown(pr_target(pr), f"Which files PR #{pr.number} changes", pr.files_gap)
        return
    changed = [f for f in pr.files if _is_workflow_file(f)]
    if not changed:
        yield rule.not_applicable(pr_target(pr), f"PR #{pr.number} changes no workflow")
        return
    workflows = ctx.facts.workflows
    if workflows is None or workflows.gap is not None:
        gap = workflows.gap if workflows is not None else Gap("the workflows at the PR head were not collected")
        for path in changed:
            yield rule.unknown(f"workflow:{path}", f"Whether workflow {path} changed by PR #{pr.number} is safe",
                               gap, pr=pr.number)
        return
    by_path = {wf.path: wf for wf in workflows.items}
    for path in changed:
        target = f"workflow:{path}"
        wf = by_path.get(path)
        if wf is None:
            yield rule.not_applicable(target, f"Workflow {path} is removed by PR #{pr.number}", pr=pr.number)
            continue
        if wf.parse_error is not None:
            yield rule.failed(target, f"Workflow {path} changed by PR #{pr.number} is broken: {wf.parse_error}",
                              f"Fix the syntax of {path}; GitHub will not run it as it is.",
                              pr=pr.number, parse_error=wf.parse_error)
            continue
        problems = workflow_problems(wf, ctx.params["credential_patterns"], bool(ctx.params["require_pinned"]),
                                     ctx.params["trusted_owners"])
        found = problems["pr_head_checkout"] + problems["secrets_outside_environment"]
        if problems["unpinned"]:
            found.append(f"actions not pinned to a commit SHA: {', '.join(problems['unpinned'])}")
        if found:
            yield rule.failed(target, f"Workflow {path} changed by PR #{pr.number} is unsafe: {'; '.join(found)}",
                              None, pr=pr.number, **problems)
        else:
            yield rule.passed(target, f"Workflow {path} changed by PR #{pr.number} has no unsafe pattern",
                              pr=pr.number, **problems)


RULES = (
    PR_TARGET_BRANCH,
    PR_APPROVED,
    PR_CHECKS_GREEN,
    PR_DOCS_UPDATED,
    PR_WORKFLOW_SAFETY,
)
