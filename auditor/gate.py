"""The pull-request gate's pure logic: which rules it evaluates, the new-only comparison, its text.

`auditor check` evaluates one pull request against the policy. Not every rule can be judged from
a PR: evidence over merged PRs, deployments, environments and secret listings are the audit's
business, and reporting them `unknown` on every push would only bury the verdict. So the gate
takes, from the policy's enabled rules:

- every `pr-*` rule (the PR itself);
- file rules, read as the PR would leave the files (workflows, CODEOWNERS, docs), so a PR that
  adds an unsafe workflow or drops the test job is caught before it merges;
- branch rules only for the role whose branch is the PR's base, as context;

and names every other enabled rule as out of its scope in the summary. With `new_only`, a failure
counts only when the base does not already have it (same rule, same target), except for the rules
about the PR itself, which have no base to compare with. No I/O here: the CLI collects and writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from auditor.engine import blocking, evaluate, plan_for
from auditor.facts import PullRequest, RepoFacts
from auditor.github.pull import gate_plan_extra
from auditor.model import Result, Scope, Severity, Status
from auditor.plan import FactPlan
from auditor.policy.model import Policy, RuleConfig
from auditor.report.escape import md_code, md_text, truncate
from auditor.rules import RULES_BY_ID

# Rules about the PR itself: always counted, new_only or not (the base has no such PR).
PR_ITSELF = frozenset({"pr-target-branch", "pr-approved", "pr-checks-green", "pr-docs-updated"})
# Rules with one target per workflow or file, judged on the files at the PR head.
FILE_RULES = frozenset({"secrets-workflow-scope", "security-workflow-permissions", "docs-present"})
# Rules that reason over every workflow of the repository: they need all workflows at the head.
ALL_WORKFLOW_RULES = frozenset({"checks-produced", "checks-ci-on-pr", "deploy-automated", "deploy-notifications"})
# Branch-scoped rules whose facts are history the gate does not read.
HISTORY_BRANCH_RULES = frozenset({"reviews-evidence", "checks-evidence", "flow-no-direct-push"})
# Results of in-scope rules about repository settings the gate does not read, dropped by target.
DROPPED_TARGETS = {"security-workflow-permissions": frozenset({"repo"})}
# Rules whose CODEOWNERS verdict needs GitHub's errors in the file.
CODEOWNERS_RULES = frozenset({"reviews-code-owners"})

STATUS_ICON = {
    Status.FAIL: "\u274c",
    Status.UNKNOWN: "\u2754",
    Status.ERROR: "\u2757",
    Status.PASS: "\u2705",
    Status.WAIVED: "\u23f8\ufe0f",
    Status.NOT_APPLICABLE: "\u2796",
}
MAX_ROWS = 100  # per table: a comment stays readable and under GitHub's size limit


def in_gate(rc: RuleConfig) -> bool:
    """Whether the gate evaluates this enabled rule at all (for some base branch)."""
    rule = RULES_BY_ID[rc.id]
    if rule.family == "pr" or rc.id in FILE_RULES or rc.id in ALL_WORKFLOW_RULES:
        return True
    return rule.scope is Scope.BRANCH and rc.id not in HISTORY_BRANCH_RULES


@dataclass(frozen=True)
class GateScope:
    """What the gate evaluates for one base branch.

    `policy` is the policy reduced to the gate's rules, with branch-scoped rules limited to the
    base branch's role (`base_role`; None when the base is no role's branch, and then no branch
    rule runs). `out_of_scope` lists the enabled rules the gate leaves to `auditor audit`.
    """

    policy: Policy
    base_role: str | None
    rule_ids: tuple[str, ...]
    out_of_scope: tuple[str, ...]


def _role_of(policy: Policy, branch: str) -> str | None:
    return next((role for role, real in policy.branches.items() if real == branch), None)


def gate_scope(policy: Policy, base_ref: str | None) -> GateScope:
    """The gate's rules for a PR into `base_ref` (None: before the PR is known, every role)."""
    role = _role_of(policy, base_ref) if base_ref is not None else None
    kept: list[RuleConfig] = []
    out: list[str] = []
    for rc in policy.enabled_rules:
        if not in_gate(rc):
            out.append(rc.id)
            continue
        if RULES_BY_ID[rc.id].scope is Scope.BRANCH and base_ref is not None:
            if role is None or (rc.roles is not None and role not in rc.roles):
                continue  # the policy does not apply this rule to the PR's base branch
            params = rc.roles[role] if rc.roles is not None else rc.params
            kept.append(replace(rc, roles={role: params}))
            continue
        kept.append(rc)
    ids = tuple(rc.id for rc in kept)
    kept_ids = set(ids)
    others = tuple(replace(rc, enabled=False) for rc in policy.rules if rc.id not in kept_ids)
    return GateScope(policy=replace(policy, rules=(*kept, *others)), base_role=role, rule_ids=ids,
                     out_of_scope=tuple(out))


def gate_plan(policy: Policy, *, new_only: bool) -> FactPlan:
    """The collector's plan for the gate, before the PR (and so its base branch) is known."""
    scope = gate_scope(policy, None)
    plan = plan_for(scope.policy, scope.rule_ids)
    ids = set(scope.rule_ids)
    extra = gate_plan_extra(all_workflows=bool(ids & ALL_WORKFLOW_RULES),
                            codeowners_errors=bool(ids & CODEOWNERS_RULES), base_files=new_only)
    return replace(plan, extra={**plan.extra, **extra})


def gate_results(scope: GateScope, facts: RepoFacts) -> list[Result]:
    """Every result of the gate's rules on `facts`, without those about settings it does not read."""
    results = evaluate(scope.policy, facts, rule_ids=scope.rule_ids)
    return [r for r in results if r.target not in DROPPED_TARGETS.get(r.rule, frozenset())]


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one PR.

    `blocking` fails the gate. With `new_only`, `preexisting` holds the results that would block
    but that the base already has. `threshold` is the lowest severity that blocks.
    """

    results: tuple[Result, ...]
    blocking: tuple[Result, ...]
    preexisting: tuple[Result, ...]
    threshold: Severity
    new_only: bool
    out_of_scope: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether the PR may merge as far as the policy is concerned."""
        return not self.blocking


def decide(policy: Policy, scope: GateScope, head: Sequence[Result], base: Sequence[Result] | None, *,
           fail_on: Severity | None = None, new_only: bool = False) -> Verdict:
    """Apply the policy's gate to the head results; with `new_only`, only what the base lacks blocks."""
    threshold = fail_on or policy.gate.fail_on
    bad = blocking(head, policy.gate, threshold)
    preexisting: list[Result] = []
    if new_only:
        if base is None:
            raise ValueError("new_only needs the results at the base")
        at_base = {(r.rule, r.target) for r in blocking(base, policy.gate, threshold)}
        preexisting = [r for r in bad if r.rule not in PR_ITSELF and (r.rule, r.target) in at_base]
        bad = [r for r in bad if r not in preexisting]
    return Verdict(results=tuple(head), blocking=tuple(bad), preexisting=tuple(preexisting),
                   threshold=threshold, new_only=new_only, out_of_scope=scope.out_of_scope)


# --------------------------------------------------------------------------------------------
# Text


def headline(verdict: Verdict) -> str:
    """One plain line: the verdict and what decided it."""
    if verdict.passed:
        extra = f"; {len(verdict.preexisting)} already on the base" if verdict.preexisting else ""
        return f"Gate passed: nothing at or above {verdict.threshold.value} failed{extra}."
    rules = ", ".join(dict.fromkeys(r.rule for r in verdict.blocking))
    new = "new " if verdict.new_only else ""
    return (f"Gate failed: {len(verdict.blocking)} {new}finding(s) at or above {verdict.threshold.value} "
            f"({rules}).")


def status_description(verdict: Verdict, limit: int = 140) -> str:
    """The commit status description: the headline within GitHub's 140 characters."""
    return truncate(headline(verdict), limit)


def _rows(results: Iterable[Result]) -> list[str]:
    items = list(results)
    rows = [f"| {STATUS_ICON.get(r.status, '')} {r.status.value} | {md_code(r.rule)} | {md_code(r.target)} | "
            f"{r.severity.value} | {md_text(r.message, 400)} |" for r in items[:MAX_ROWS]]
    if len(items) > MAX_ROWS:
        rows.append(f"| | | | | and {len(items) - MAX_ROWS} more |")
    return rows


def _table(results: Iterable[Result]) -> list[str]:
    return ["| Status | Rule | Target | Severity | Finding |", "|---|---|---|---|---|", *_rows(results)]


def summary_markdown(verdict: Verdict, pr: PullRequest, repo: str, policy: Policy, *,
                     requests: int | None = None) -> str:
    """The gate's report for a PR comment, a step summary or a check run.

    Every string that came from GitHub (title, branches, messages that name them) goes through
    `md_text`/`md_code`, so a hostile PR title can neither mention anyone nor inject HTML.
    """
    icon = "\u2705" if verdict.passed else "\u274c"
    lines = [
        f"### {icon} Deployment policy gate: {'passed' if verdict.passed else 'failed'}",
        "",
        f"Pull request {md_text(repo, 140)} \\#{pr.number} {md_text(pr.title, 200)}: "
        f"{md_code(pr.head_ref, 120, in_table=False)} into {md_code(pr.base_ref, 120, in_table=False)}.",
        f"Policy {md_text(policy.name, 100)} v{policy.version}; blocks on {verdict.threshold.value} and above"
        + ("; only findings the base branch does not already have." if verdict.new_only else "."),
        "",
        md_text(headline(verdict), 2000),
        "",
    ]
    if verdict.blocking:
        lines += ["#### Blocking", "", *_table(verdict.blocking), ""]
        for r in verdict.blocking[:MAX_ROWS]:
            if r.remediation:
                lines.append(f"- {md_code(r.rule, in_table=False)}: {md_text(r.remediation, 400)}")
        lines.append("")
    if verdict.preexisting:
        lines += ["<details><summary>Already on the base branch (not blocking with new-only)</summary>", "",
                  *_table(verdict.preexisting), "", "</details>", ""]
    counts = Counter(r.status for r in verdict.results)
    tally = ", ".join(f"{counts[s]} {s.value}" for s in Status if counts.get(s))
    lines += [f"<details><summary>All results ({tally or 'none'})</summary>", "", *_table(verdict.results), "",
              "</details>", ""]
    if verdict.out_of_scope:
        names = ", ".join(str(md_code(rid, in_table=False)) for rid in verdict.out_of_scope)
        lines += [f"Out of the gate's scope (history, deployments, environments, secrets and repository "
                  f"settings; `auditor audit` checks them): {names}.", ""]
    if requests is not None:
        lines.append(f"<sub>auditor check: {requests} GitHub API requests.</sub>")
    return "\n".join(lines).rstrip() + "\n"


def json_document(verdict: Verdict, pr: PullRequest, repo: str, policy: Policy, *, requests: int,
                  writes: int) -> dict[str, object]:
    """The `--format json` document: the verdict with every finding (docs/cli.md finding shape)."""
    from auditor.report.machine import finding_json

    return {
        "schema": "auditor.check/v1",
        "repo": repo,
        "pull_request": {"number": pr.number, "head": pr.head_ref, "base": pr.base_ref, "head_sha": pr.head_sha},
        "policy": {"name": policy.name, "version": policy.version, "digest": policy.digest},
        "verdict": "pass" if verdict.passed else "fail",
        "fail_on": verdict.threshold.value,
        "new_only": verdict.new_only,
        "blocking": [finding_json(r) for r in verdict.blocking],
        "preexisting": [finding_json(r) for r in verdict.preexisting],
        "findings": [finding_json(r) for r in verdict.results],
        "out_of_scope": list(verdict.out_of_scope),
        "api": {"requests": requests, "writes": writes},
    }


__all__ = [
    "ALL_WORKFLOW_RULES",
    "FILE_RULES",
    "PR_ITSELF",
    "GateScope",
    "Verdict",
    "decide",
    "gate_plan",
    "gate_results",
    "gate_scope",
    "headline",
    "json_document",
    "status_description",
    "summary_markdown",
]
