"""The engine: role expansion, waivers, crash isolation, the gate and the fact plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from auditor.engine import blocking, evaluate, plan_for
from auditor.facts import SECURITY_FIELDS, Gap
from auditor.model import Severity, Status
from auditor.policy import load_policy, load_policy_text
from auditor.rules import RULES_BY_ID
from auditor.rules.base import Need
from tests.factories import ADMIN_GAP, branch, classic, repo

POLICY = """
policy: t
branches: {production: main, staging: staging}
environments: {production: production, staging: staging}
rules:
  branch-protected: {severity: critical}
  branch-no-force-push:
    branches: [production]
waivers:
  - rule: branch-protected
    repos: ["web"]
    targets: ["branch:staging"]
    reason: Staging is protected by convention until the migration.
    owner: sec@acme.example
    expires: 2026-12-31
  - rule: branch-no-force-push
    reason: Expired exception.
    owner: sec@acme.example
    expires: 2026-01-01
"""


def facts():
    return repo(branches=(branch("main", classic=classic(allow_force_pushes=True)), branch("staging")))


def test_branch_rules_expand_over_roles_and_waivers_apply():
    results = evaluate(load_policy_text(POLICY), facts())
    by = {(r.rule, r.target): r for r in results}
    assert by[("branch-protected", "branch:main")].status is Status.PASS
    staging = by[("branch-protected", "branch:staging")]
    assert staging.status is Status.WAIVED
    assert staging.waiver is not None
    assert staging.waiver.owner == "sec@acme.example"
    assert staging.severity is Severity.CRITICAL
    # `branches: [production]` limits the rule to that role.
    assert ("branch-no-force-push", "branch:staging") not in by
    # An expired waiver no longer applies, and shows as expired.
    fp = by[("branch-no-force-push", "branch:main")]
    assert fp.status is Status.FAIL
    assert fp.waiver is not None
    assert fp.waiver.expired


def test_rule_that_raises_becomes_error_and_run_goes_on(monkeypatch):
    rule = RULES_BY_ID["branch-protected"]

    def boom(ctx):
        raise RuntimeError("kaput")

    monkeypatch.setattr(rule, "fn", boom)
    results = evaluate(load_policy_text(POLICY), facts())
    errors = [r for r in results if r.rule == "branch-protected"]
    assert {r.status for r in errors} == {Status.ERROR}
    assert "RuntimeError" in errors[0].message
    assert any(r.rule == "branch-no-force-push" for r in results)


def test_gate():
    policy = load_policy_text(POLICY)
    results = evaluate(policy, facts())
    assert [r.rule for r in blocking(results, policy.gate)] == ["branch-no-force-push"]
    assert blocking(results, policy.gate, fail_on=Severity.CRITICAL) == []
    unknown = evaluate(policy, repo(branches=(branch("main", classic_gap=ADMIN_GAP), branch("staging"))))
    assert not [r for r in blocking(unknown, policy.gate) if r.status is Status.UNKNOWN]
    strict = replace(policy.gate, unknown_fails=True)
    assert [r for r in blocking(unknown, strict) if r.status is Status.UNKNOWN]


def test_unknown_facts_never_pass_for_any_rule():
    """With every section unreadable, no rule of the shipped standard may say `pass`."""
    gap = Gap("HTTP 403", "Administration: read", 403)
    from auditor import facts as F
    blind = repo(
        viewer_permission=None,
        branches=tuple(F.BranchFacts(name=n, exists=None, exists_gap=gap, classic_gap=gap, rules_gap=gap)
                       for n in ("main", "staging")),
        environments=F.Environments(gap=gap), repo_secrets=F.Secrets(gap=gap), org_secrets=F.Secrets(gap=gap),
        security=F.SecuritySettings(gaps=dict.fromkeys(SECURITY_FIELDS, gap)),
        codeowners=F.Codeowners(gap=gap, errors=None, errors_gap=gap), workflows=F.Workflows(gap=gap),
        docs=F.Docs(gap=gap), pull_requests=F.PullRequests(gap=gap),
        commits=tuple(F.BranchCommits(branch=n, gap=gap) for n in ("main", "staging")),
        deployments=F.Deployments(gap=gap), webhooks=F.Webhooks(gap=gap),
        pull_request=F.PullRequest(number=1, title="t", author="a", head_ref="feature/x", base_ref="staging",
                                   head_sha="b" * 40, reviews_gap=gap, checks_gap=gap, files_gap=gap),
    )
    results = evaluate(load_policy("deployment-standard"), blind)
    passing = [(r.rule, r.target, r.message) for r in results if r.status is Status.PASS]
    # pr-target-branch judges only branch names, which a PR always shows: the one honest pass.
    assert [p for p in passing if p[0] != "pr-target-branch"] == []
    assert {r.status for r in results} <= {Status.UNKNOWN, Status.NOT_APPLICABLE, Status.PASS, Status.FAIL}


def test_plan_for_standard():
    plan = plan_for(load_policy("deployment-standard"))
    assert set(plan.branches) == {"main", "staging"}
    assert set(plan.environments) == {"production", "staging"}
    assert Need.PROTECTION in plan.needs
    assert "docs/deployment.md" in plan.doc_paths
    assert ".github/workflows/*" in plan.watched_globs
    assert plan.window_days == 30


def test_plan_only_what_rules_need():
    plan = plan_for(load_policy_text(POLICY))
    assert plan.needs == {Need.REPO, Need.BRANCHES, Need.PROTECTION}
    assert plan.environments == ()


@pytest.mark.parametrize("name", ["baseline", "deployment-standard"])
def test_every_result_message_is_a_sentence(name):
    results = evaluate(load_policy(name), facts())
    for r in results:
        assert r.message.endswith("."), r
        assert r.remediation
