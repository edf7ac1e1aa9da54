"""The engine: evaluate a policy's rules over one repository's facts, purely.

It expands branch- and environment-scoped rules over the roles of the policy, runs each check,
turns a rule that raises into an `error` result (and carries on), applies waivers, and decides
the gate. It also derives the collector's FactPlan from the enabled rules.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from auditor.facts import RepoFacts
from auditor.model import Result, Scope, Severity, Status, WaiverRef
from auditor.plan import FactPlan
from auditor.policy.model import Gate, Policy, RuleConfig, Waiver
from auditor.rules import RULES_BY_ID
from auditor.rules.base import Context, Need, Outcome, Rule, branch_target, env_target

log = logging.getLogger(__name__)


def _contexts(rule: Rule, rc: RuleConfig, policy: Policy, facts: RepoFacts) -> list[tuple[str, Context]]:
    """(fallback target, context) pairs: one per role for scoped rules, one for repo rules."""
    common: dict[str, Any] = {"facts": facts, "branches": policy.branches, "environments": policy.environments}
    if rule.scope is Scope.REPO:
        return [("repo", Context(params=rc.params, **common))]
    roles_map: Mapping[str, str] = policy.branches if rule.scope is Scope.BRANCH else policy.environments
    chosen: dict[str, dict[str, Any]] = (
        rc.roles if rc.roles is not None else dict.fromkeys(roles_map, rc.params))
    out: list[tuple[str, Context]] = []
    for role, params in chosen.items():
        real = roles_map[role]
        if rule.scope is Scope.BRANCH:
            out.append((branch_target(real), Context(params=params, role=role, branch=real, **common)))
        else:
            out.append((env_target(real), Context(params=params, role=role, environment=real, **common)))
    return out


def _waive(result: Result, waivers: Iterable[Waiver], today: date) -> Result:
    """Apply the first matching waiver to a failing result; an expired one is shown, not applied."""
    if result.status is not Status.FAIL:
        return result
    expired_match: Waiver | None = None
    for waiver in waivers:
        if not waiver.covers(result.rule, result.repo, result.target):
            continue
        if waiver.expired(today):
            expired_match = expired_match or waiver
            continue
        return replace(result, status=Status.WAIVED,
                        waiver=WaiverRef(waiver.owner, waiver.reason, waiver.expires, expired=False))
    if expired_match is not None:
        return replace(result, waiver=WaiverRef(expired_match.owner, expired_match.reason,
                                                 expired_match.expires, expired=True))
    return result


def evaluate(policy: Policy, facts: RepoFacts, *, rule_ids: Iterable[str] | None = None) -> list[Result]:
    """Every result of the policy's enabled rules (optionally only `rule_ids`) on one repository."""
    wanted = set(rule_ids) if rule_ids is not None else None
    today = facts.collected_at.date()
    results: list[Result] = []
    for rc in policy.enabled_rules:
        if wanted is not None and rc.id not in wanted:
            continue
        rule = RULES_BY_ID[rc.id]
        for fallback_target, ctx in _contexts(rule, rc, policy, facts):
            try:
                outcomes: list[Outcome] = rule.run(ctx)
            except Exception as exc:  # noqa: BLE001 - a broken rule must not end the run; it becomes `error`
                log.warning("rule %s raised on %s (%s): %r", rule.id, facts.repo, fallback_target, exc)
                outcomes = [Outcome(Status.ERROR, fallback_target,
                                    f"Rule {rule.id} raised {type(exc).__name__}: {exc}.",
                                    {"exception": type(exc).__name__})]
            for out in outcomes:
                result = Result(
                    rule=rule.id, family=rule.family, repo=facts.repo, target=out.target,
                    status=out.status, severity=rc.severity, message=out.message,
                    evidence=dict(out.evidence), remediation=out.remediation or rule.remediation,
                    control=rc.control)
                results.append(_waive(result, policy.waivers, today))
    return results


def error_results(policy: Policy, repo: str, message: str, *, status: Status = Status.ERROR) -> list[Result]:
    """One result per enabled rule when a repository could not be collected at all.

    The run goes on; the repo's results say why (`error` or `unknown`), never `pass`.
    """
    sentence = message if message.endswith(".") else message + "."
    return [Result(rule=rc.id, family=RULES_BY_ID[rc.id].family, repo=repo, target="repo", status=status,
                   severity=rc.severity, message=sentence, remediation=RULES_BY_ID[rc.id].remediation,
                   control=rc.control)
            for rc in policy.enabled_rules]


def blocking(results: Iterable[Result], gate: Gate, fail_on: Severity | None = None) -> list[Result]:
    """The results that make the gate fail: failures (and, if configured, unknowns) at or above it."""
    threshold = (fail_on or gate.fail_on).rank
    bad = {Status.FAIL}
    if gate.unknown_fails:
        bad |= {Status.UNKNOWN, Status.ERROR}
    return [r for r in results if r.status in bad and r.severity.rank >= threshold]


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def plan_for(policy: Policy, rule_ids: Iterable[str] | None = None) -> FactPlan:
    """The facts the enabled rules need, for the branch/environment names and paths they name."""
    wanted = set(rule_ids) if rule_ids is not None else None
    needs: set[Need] = {Need.REPO}
    branches: set[str] = set()
    envs: set[str] = set()
    doc_paths: set[str] = set()
    doc_globs: set[str] = set()
    watched: set[str] = set()
    window = 0
    for rc in policy.enabled_rules:
        if wanted is not None and rc.id not in wanted:
            continue
        rule = RULES_BY_ID[rc.id]
        needs.update(rule.needs)
        param_sets = [rc.params, *(rc.roles or {}).values()]
        for params in param_sets:
            for path in params.get("paths", []) or []:
                (doc_globs if _is_glob(path) else doc_paths).add(path)
            watched.update(params.get("watched", []) or [])
            window = max(window, int(params.get("window_days", 0) or 0))
        if rule.scope is Scope.BRANCH:
            roles = rc.roles.keys() if rc.roles is not None else policy.branches.keys()
            branches.update(policy.branches[r] for r in roles)
        elif rule.scope is Scope.ENVIRONMENT:
            roles = rc.roles.keys() if rc.roles is not None else policy.environments.keys()
            envs.update(policy.environments[r] for r in roles)
    # Repo-scoped rules that reason about roles (flow, deploy, secrets parity) need every role.
    if needs & {Need.PULL_REQUESTS, Need.COMMITS, Need.WORKFLOWS, Need.DOCS, Need.PULL_REQUEST}:
        branches.update(policy.branches.values())
    if needs & {Need.DEPLOYMENTS, Need.ENVIRONMENTS, Need.ENV_SECRETS, Need.WORKFLOWS}:
        envs.update(policy.environments.values())
    return FactPlan(
        needs=frozenset(needs),
        branches=tuple(sorted(branches)),
        environments=tuple(sorted(envs)),
        doc_paths=tuple(sorted(doc_paths)),
        doc_globs=tuple(sorted(doc_globs)),
        watched_globs=tuple(sorted(watched)),
        window_days=window or 30,
        production_branch=policy.branches.get("production"),
    )


def matches(name: str, globs: Iterable[str]) -> bool:
    """Shell-style glob match used for repo filters."""
    return any(fnmatch.fnmatchcase(name, g) for g in globs)
