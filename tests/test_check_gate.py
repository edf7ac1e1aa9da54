"""auditor/gate.py over hand-built results and policies: scope, new-only comparison, text."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.facts import PullRequest
from auditor.gate import decide, gate_plan, gate_scope, status_description, summary_markdown
from auditor.github.pull import EXTRA_ALL_WORKFLOWS, EXTRA_BASE_FILES, EXTRA_CODEOWNERS_ERRORS
from auditor.model import Result, Severity, Status
from auditor.policy import load_policy

POLICY = load_policy("policies/deployment-standard.yml")


def res(rule: str, target: str, status: Status = Status.FAIL, severity: Severity = Severity.HIGH) -> Result:
    return Result(rule=rule, family=rule.split("-", maxsplit=1)[0], repo="acme/web", target=target, status=status,
                  severity=severity, message=f"{rule} on {target}.")


@pytest.mark.parametrize(("base_ref", "role", "branch_rules_on"), [
    ("main", "production", {"branch:main"}),
    ("staging", "staging", {"branch:staging"}),
    ("feature/x", None, set()),
])
def test_scope_limits_branch_rules_to_the_base_role(base_ref: str, role: str | None,
                                                    branch_rules_on: set[str]) -> None:
    scope = gate_scope(POLICY, base_ref)
    assert scope.base_role == role
    rules = {rc.id: rc for rc in scope.policy.enabled_rules}
    assert {"pr-target-branch", "pr-workflow-safety", "secrets-workflow-scope", "docs-present"} <= set(rules)
    branch_scoped = [rc for rc in rules.values() if rc.roles is not None]
    assert {POLICY.branches[r] for rc in branch_scoped for r in rc.roles or {}} == {
        t.removeprefix("branch:") for t in branch_rules_on}
    # signed commits and code owners apply to production only in this policy
    assert ("branch-signed-commits" in rules) == (role == "production")
    assert ("reviews-code-owners" in rules) == (role == "production")
    assert {"reviews-evidence", "flow-into-production", "env-exists", "docs-fresh"} <= set(scope.out_of_scope)


def test_plan_asks_for_every_workflow_and_the_base_only_when_needed() -> None:
    plan = gate_plan(POLICY, new_only=False)
    assert plan.extra.get(EXTRA_ALL_WORKFLOWS) == "1"  # checks-produced and deploy-* reason over all of them
    assert plan.extra.get(EXTRA_CODEOWNERS_ERRORS) == "1"
    assert EXTRA_BASE_FILES not in plan.extra
    assert gate_plan(POLICY, new_only=True).extra.get(EXTRA_BASE_FILES) == "1"
    only_pr = replace(POLICY, rules=tuple(rc for rc in POLICY.rules if rc.id.startswith("pr-")))
    assert EXTRA_ALL_WORKFLOWS not in gate_plan(only_pr, new_only=False).extra


WF = "workflow:.github/workflows/x.yml"


@pytest.mark.parametrize(("head", "base", "new_only", "blocking", "preexisting"), [
    # without new_only every failure at or above the gate blocks
    ([res("secrets-workflow-scope", WF)], [res("secrets-workflow-scope", WF)], False, [0], []),
    # with new_only a failure the base already has does not
    ([res("secrets-workflow-scope", WF)], [res("secrets-workflow-scope", WF)], True, [], [0]),
    # ... but a new target of the same rule does
    ([res("secrets-workflow-scope", WF)], [res("secrets-workflow-scope", "workflow:other.yml")], True, [0], []),
    # ... and a failure that was only unknown at the base is new
    ([res("checks-produced", "branch:main")], [res("checks-produced", "branch:main", Status.UNKNOWN)], True, [0], []),
    # rules about the PR itself always count
    ([res("pr-target-branch", "pr:1")], [res("pr-target-branch", "pr:1")], True, [0], []),
    # below the gate's severity nothing blocks
    ([res("pr-docs-updated", "pr:1", severity=Severity.MEDIUM)], [], True, [], []),
    # unknown does not block unless the policy says so
    ([res("pr-approved", "pr:1", Status.UNKNOWN)], [], False, [], []),
])
def test_decide(head: list[Result], base: list[Result], new_only: bool, blocking: list[int],
                preexisting: list[int]) -> None:
    scope = gate_scope(POLICY, "main")
    verdict = decide(POLICY, scope, head, base, new_only=new_only)
    assert list(verdict.blocking) == [head[i] for i in blocking]
    assert list(verdict.preexisting) == [head[i] for i in preexisting]
    assert verdict.passed is (not blocking)


def test_decide_new_only_needs_the_base() -> None:
    with pytest.raises(ValueError, match="base"):
        decide(POLICY, gate_scope(POLICY, "main"), [], None, new_only=True)


def test_fail_on_overrides_the_policy() -> None:
    head = [res("pr-docs-updated", "pr:1", severity=Severity.MEDIUM)]
    verdict = decide(POLICY, gate_scope(POLICY, "main"), head, None, fail_on=Severity.MEDIUM)
    assert not verdict.passed and verdict.threshold is Severity.MEDIUM


def test_status_description_fits_github_limit() -> None:
    head = [res(f"pr-rule-{i}-with-a-long-name", f"pr:{i}") for i in range(30)]
    verdict = decide(POLICY, gate_scope(POLICY, "main"), head, None)
    text = status_description(verdict)
    assert len(text) <= 140 and text.startswith("Gate failed: 30 finding(s)")


def test_summary_escapes_what_came_from_github() -> None:
    pr = PullRequest(number=7, title="@octocat <script>x</script> [a](javascript:alert(1))", author="eve",
                     head_ref="feat/@team|<i>", base_ref="main", head_sha="abc")
    bad = replace(res("pr-target-branch", "pr:7"), message="PR merges feat/@team|<i> into main.")
    verdict = decide(POLICY, gate_scope(POLICY, "main"), [bad], None)
    text = summary_markdown(verdict, pr, "acme/web", POLICY, requests=11)
    body = text.replace("`feat/@team|<i>`", "")
    assert "<script" not in body and "<i>" not in body and "](javascript" not in body
    assert "@octocat" not in body and "@team" not in body  # a zero-width joiner follows every @
    assert "&lt;script&gt;" in body and "11 GitHub API requests" in text
    assert "| ❌ fail | `pr-target-branch` | `pr:7` | high |" in text
