"""Table-driven tests of the env-* rules (environment-scoped) over hand-built facts."""

from __future__ import annotations

import pytest

from auditor.facts import Gap
from auditor.model import Status
from auditor.rules import env as E
from tests.factories import ADMIN_GAP, branch, classic, repo, run_rule, statuses
from tests.factories_deploy import GAP, all_sections_gapped, all_sections_none, check_rule_metadata, env, envs

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

PROD = env("production")
MAIN = branch("main")
STAGING_OPEN = branch("staging")
STAGING_PROTECTED = branch("staging", classic=classic())
PATTERNS_GAP = Gap("Resource not accessible by integration", "Actions: read", 403)

CASES = [
    # rule, environments, branches, params, expected
    (E.ENV_EXISTS, envs(PROD), (), {}, P),
    (E.ENV_EXISTS, envs(env("PRODUCTION")), (), {}, P),
    (E.ENV_EXISTS, envs(env("staging")), (), {}, F),
    (E.ENV_EXISTS, envs(gap=GAP), (), {}, U),
    (E.ENV_EXISTS, None, (), {}, U),
    (E.ENV_REQUIRED_REVIEWERS, envs(env(reviewers=("alice",), prevent_self_review=True)), (), {}, P),
    (E.ENV_REQUIRED_REVIEWERS, envs(PROD), (), {}, F),
    (E.ENV_REQUIRED_REVIEWERS, envs(env(reviewers=("alice",))), (), {}, F),
    (E.ENV_REQUIRED_REVIEWERS, envs(env(reviewers=("alice",))), (), {"prevent_self_review": False}, P),
    (E.ENV_REQUIRED_REVIEWERS, envs(env(reviewers=("a",), prevent_self_review=True)), (),
     {"min_reviewers": 2}, F),
    (E.ENV_REQUIRED_REVIEWERS, envs(PROD), (), {"min_reviewers": 0}, P),
    (E.ENV_REQUIRED_REVIEWERS, envs(env("staging")), (), {}, NA),
    (E.ENV_REQUIRED_REVIEWERS, envs(gap=GAP), (), {}, U),
    (E.ENV_WAIT_TIMER, envs(PROD), (), {}, P),
    (E.ENV_WAIT_TIMER, envs(env(wait_timer=5)), (), {"min_minutes": 10}, F),
    (E.ENV_WAIT_TIMER, envs(env(wait_timer=15)), (), {"min_minutes": 10}, P),
    (E.ENV_WAIT_TIMER, envs(), (), {}, NA),
    (E.ENV_WAIT_TIMER, envs(gap=GAP), (), {}, U),
    (E.ENV_BRANCH_POLICY, envs(PROD), (MAIN,), {}, F),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=("main",))), (), {}, P),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=("ma*",))), (), {}, P),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=("*",))), (), {}, F),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=("main", "staging"))), (), {}, F),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=("release/*",))), (), {}, F),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="custom", branch_patterns=())), (), {}, F),
    (E.ENV_BRANCH_POLICY,
     envs(env(branch_policy="custom", branch_patterns=None, branch_patterns_gap=PATTERNS_GAP)), (), {}, U),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")), (MAIN, STAGING_OPEN), {}, P),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")), (MAIN, branch("staging", exists=False)), {},
     P),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")), (MAIN, STAGING_PROTECTED), {}, F),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")),
     (MAIN, branch("staging", classic_gap=ADMIN_GAP)), {}, U),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")), (MAIN,), {}, U),
    (E.ENV_BRANCH_POLICY, envs(env(branch_policy="protected")),
     (MAIN, branch("staging", exists=None, exists_gap=GAP)), {}, U),
    (E.ENV_BRANCH_POLICY, envs(env("staging")), (MAIN,), {}, NA),
    (E.ENV_BRANCH_POLICY, envs(gap=GAP), (MAIN,), {}, U),
]


@pytest.mark.parametrize(("rule", "environments", "branches", "params", "expected"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_env_rules(rule, environments, branches, params, expected):
    facts = repo(environments=environments, branches=branches)
    outcomes = run_rule(rule, facts, params, role="production")
    assert statuses(outcomes) == [expected]
    out = outcomes[0]
    assert out.target.lower() == "environment:production"
    assert out.message.endswith(".")
    assert "production" in out.message.lower()
    if expected is U:
        assert "unknown" in out.message


def test_unknown_names_the_permission():
    outcomes = run_rule(E.ENV_REQUIRED_REVIEWERS, repo(environments=envs(gap=GAP)), role="production")
    assert outcomes[0].evidence["permission"] == "Secrets: read"
    assert "HTTP 403" in outcomes[0].message


def test_branch_policy_names_the_leaking_branch():
    facts = repo(environments=envs(env(branch_policy="custom", branch_patterns=("*",))))
    out = run_rule(E.ENV_BRANCH_POLICY, facts, role="production")[0]
    assert out.evidence["leaks"] == {"*": ["staging"]}
    assert "staging" in out.message


def test_branch_policy_without_branch_role_is_not_applicable():
    facts = repo(environments=envs(env("qa", branch_policy=None)))
    out = run_rule(E.ENV_BRANCH_POLICY, facts, role="qa", environments={"qa": "qa"})
    assert statuses(out) == [NA]


def test_self_review_failure_has_specific_remediation():
    facts = repo(environments=envs(env(reviewers=("alice",))))
    out = run_rule(E.ENV_REQUIRED_REVIEWERS, facts, role="production")[0]
    assert out.remediation is not None
    assert "Prevent self-review" in out.remediation


@pytest.mark.parametrize("facts", [all_sections_none(), all_sections_gapped()], ids=["none", "gap"])
@pytest.mark.parametrize("rule", E.RULES, ids=[r.id for r in E.RULES])
def test_unobservable_facts_are_unknown_never_pass(rule, facts):
    for role in ("production", "staging"):
        assert statuses(run_rule(rule, facts, role=role)) == [U], (rule.id, role)


def test_registry_and_metadata():
    assert [r.id for r in E.RULES] == ["env-exists", "env-required-reviewers", "env-wait-timer",
                                       "env-branch-policy"]
    for rule in E.RULES:
        assert rule.family == "env"
        assert rule.scope == "environment"
        check_rule_metadata(rule)


@pytest.mark.parametrize(("patterns", "expected"), [
    (("release/*",), Status.PASS),         # `*` stops at `/`: release/uat/eu is not admitted
    (("release/**",), Status.FAIL),        # `**` crosses `/`: it admits the staging branch too
    (("release/prod",), Status.PASS),
])
def test_branch_policy_patterns_follow_github_globs(patterns, expected):
    roles = {"production": "release/prod", "staging": "release/uat/eu"}
    facts = repo(environments=envs(env(branch_policy="custom", branch_patterns=patterns)))
    (out,) = run_rule(E.ENV_BRANCH_POLICY, facts, role="production", branches=roles)
    assert out.status is expected
