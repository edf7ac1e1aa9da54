"""Table-driven tests of the branch-* rules over hand-built facts."""

from __future__ import annotations

import pytest

from auditor.facts import BypassActor, Gap, RuleDetail, RulesetInfo
from auditor.model import Status
from auditor.rules import branch as B
from tests.factories import ADMIN_GAP, branch, classic, repo, run_rule, statuses

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

RS = RuleDetail(type="non_fast_forward", ruleset_id=7, ruleset_name="Protect main")
RS_DEL = RuleDetail(type="deletion", ruleset_id=7, ruleset_name="Protect main")
RS_PR = RuleDetail(type="pull_request", ruleset_id=7, ruleset_name="Protect main",
                   parameters={"required_approving_review_count": 2})

CASES = [
    # rule, branch facts, params, expected
    (B.BRANCH_EXISTS, branch(), {}, P),
    (B.BRANCH_EXISTS, branch(exists=False), {}, F),
    (B.BRANCH_EXISTS, branch(exists=None, exists_gap=Gap("HTTP 500", http_status=500)), {}, U),
    (B.BRANCH_PROTECTED, branch(classic=classic()), {}, P),
    (B.BRANCH_PROTECTED, branch(rules=(RS,)), {}, P),
    (B.BRANCH_PROTECTED, branch(), {}, F),
    (B.BRANCH_PROTECTED, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_PROTECTED, branch(classic_gap=ADMIN_GAP, rules=(RS,)), {}, P),
    (B.BRANCH_PROTECTED, branch(exists=False), {}, NA),
    (B.BRANCH_PR_REQUIRED, branch(classic=classic(required_approvals=0)), {}, P),
    (B.BRANCH_PR_REQUIRED, branch(classic=classic()), {}, F),
    (B.BRANCH_PR_REQUIRED, branch(rules=(RS_PR,)), {}, P),
    (B.BRANCH_PR_REQUIRED, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_NO_FORCE_PUSH, branch(classic=classic()), {}, P),
    (B.BRANCH_NO_FORCE_PUSH, branch(classic=classic(allow_force_pushes=True)), {}, F),
    (B.BRANCH_NO_FORCE_PUSH, branch(classic=classic(allow_force_pushes=True), rules=(RS,)), {}, P),
    (B.BRANCH_NO_FORCE_PUSH, branch(), {}, F),
    (B.BRANCH_NO_FORCE_PUSH, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_NO_DELETION, branch(rules=(RS_DEL,)), {}, P),
    (B.BRANCH_NO_DELETION, branch(classic=classic(allow_deletions=True)), {}, F),
    (B.BRANCH_NO_DELETION, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_LINEAR_HISTORY, branch(classic=classic(required_linear_history=True)), {}, P),
    (B.BRANCH_LINEAR_HISTORY, branch(classic=classic()), {}, F),
    (B.BRANCH_LINEAR_HISTORY, branch(rules=(RS,), rules_gap=None, classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_SIGNED_COMMITS, branch(classic=classic(required_signatures=True)), {}, P),
    (B.BRANCH_SIGNED_COMMITS, branch(classic=classic()), {}, F),
    (B.BRANCH_SIGNED_COMMITS, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_ADMINS_ENFORCED, branch(classic=classic(enforce_admins=True)), {}, P),
    (B.BRANCH_ADMINS_ENFORCED, branch(classic=classic()), {}, F),
    (B.BRANCH_ADMINS_ENFORCED, branch(), {}, F),
    (B.BRANCH_ADMINS_ENFORCED, branch(classic_gap=ADMIN_GAP), {}, U),
    (B.BRANCH_ADMINS_ENFORCED,
     branch(rules=(RS,), rulesets=(RulesetInfo(id=7, name="Protect main", bypass_actors=()),)), {}, P),
    (B.BRANCH_ADMINS_ENFORCED,
     branch(rules=(RS,), rulesets=(RulesetInfo(id=7, name="Protect main", bypass_actors=(
         BypassActor("RepositoryRole", 5, name="admin"),)),)), {}, F),
    (B.BRANCH_ADMINS_ENFORCED,
     branch(rules=(RS,), rulesets=(RulesetInfo(id=7, name="Protect main", bypass_actors=(
         BypassActor("Integration", 42, name="release-bot"),)),)), {"allowed_bypass": ["release-bot"]}, P),
    (B.BRANCH_ADMINS_ENFORCED,
     branch(rules=(RS,), rulesets=(RulesetInfo(id=7, name="Protect main", bypass_actors=None,
                                               bypass_gap=ADMIN_GAP),)), {}, U),
]


@pytest.mark.parametrize(("rule", "br", "params", "expected"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_branch_rules(rule, br, params, expected):
    facts = repo(branches=(br,))
    outcomes = run_rule(rule, facts, params, role="production")
    assert statuses(outcomes) == [expected]
    out = outcomes[0]
    assert out.target == "branch:main"
    assert out.message.endswith(".")
    assert "main" in out.message
    if expected is U:
        assert "unknown" in out.message


def test_branch_not_collected_is_unknown_never_pass():
    for rule in B.RULES:
        outcomes = run_rule(rule, repo(branches=()), role="production")
        assert statuses(outcomes) == [U], rule.id


def test_approvals_strictest_source_wins_and_is_named():
    from auditor.protection import effective_protection
    br = branch(classic=classic(required_approvals=1), rules=(RS_PR,))
    prot = effective_protection(br)
    assert prot.approvals.value == 2
    assert prot.approvals.source == "ruleset:Protect main"
