"""Table-driven tests of the flow-* rules over hand-built facts."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.facts import BranchCommits, Commit, Gap, PullRequests, RepoFacts
from auditor.model import Status
from auditor.rules import flow as fl
from auditor.rules.base import Need, Rule
from tests.factories import repo, run_rule, statuses
from tests.factories_flow import commit, commits, pr, prs

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

PR_GAP = Gap("Resource not accessible by integration", "Pull requests: read", 403)
COMMITS_GAP = Gap("Git Repository is empty.", "Contents: read", 409)
ONLY_PROD = {"production": "main"}

STG, MAIN = "branch:staging", "branch:main"


def merged(*items: Any, **kw: Any) -> dict[str, Any]:
    """RepoFacts overrides: these merged pull requests."""
    return {"pull_requests": prs(*items, **kw)}


def pushed(*items: Any) -> dict[str, Any]:
    """RepoFacts overrides: these commits on main."""
    return {"commits": commits("main", *items)}


# rule, RepoFacts overrides, params, branch roles (None: production and staging), expected, target
CASES: list[tuple[Any, dict[str, Any], dict[str, Any], dict[str, str] | None, Status, str]] = [
    (fl.FLOW_INTO_STAGING, merged(pr(1, "feature/a", "staging")), {}, None, P, STG),
    (fl.FLOW_INTO_STAGING, merged(pr(1, "feature/a", "staging"), pr(2, "main", "staging")), {}, None, F, STG),
    (fl.FLOW_INTO_STAGING, merged(pr(1, "staging", "staging")), {}, None, F, STG),
    # a fork's branch called main is a feature branch
    (fl.FLOW_INTO_STAGING, merged(pr(1, "main", "staging", head_repo="mallory/web")), {}, None, P, STG),
    # merges into production are not this rule's business
    (fl.FLOW_INTO_STAGING, merged(pr(1, "feature/a", "staging"), pr(2, "main", "main")), {}, None, P, STG),
    (fl.FLOW_INTO_STAGING, merged(pr(1, "main", "staging", days=31)), {}, None, NA, STG),
    (fl.FLOW_INTO_STAGING, merged(pr(1, "main", "staging", days=31)), {"window_days": 60}, None, F, STG),
    (fl.FLOW_INTO_STAGING, merged(), {}, ONLY_PROD, NA, "repo"),
    (fl.FLOW_INTO_STAGING, {"pull_requests": None}, {}, None, U, STG),
    (fl.FLOW_INTO_STAGING, {"pull_requests": PullRequests(gap=PR_GAP)}, {}, None, U, STG),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "staging", "main")), {}, None, P, MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "staging", "main"), pr(2, "feature/a", "main")), {}, None, F,
     MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "hotfix/login", "main")), {}, None, F, MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "hotfix/login", "main")), {"allowed_heads": ["hotfix/*"]}, None, P,
     MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "staging", "main", head_repo="mallory/web")), {}, None, F, MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "feature/a", "staging")), {}, None, NA, MAIN),
    # without a staging role only allowed heads may reach production
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "staging", "main")), {}, ONLY_PROD, F, MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "release/1", "main")), {"allowed_heads": ["release/*"]}, ONLY_PROD,
     P, MAIN),
    (fl.FLOW_INTO_PRODUCTION, merged(), {}, {"staging": "staging"}, NA, "repo"),
    (fl.FLOW_INTO_PRODUCTION, {"pull_requests": None}, {}, None, U, MAIN),
    (fl.FLOW_INTO_PRODUCTION, {"pull_requests": PullRequests(gap=PR_GAP)}, {}, None, U, MAIN),
    # collected over a shorter window than the rule asks for
    (fl.FLOW_INTO_PRODUCTION, merged(pr(1, "staging", "main"), since_days=7), {}, None, U, MAIN),
    # direct pushes
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1"), commit("b2", pulls=(7, 8))), {}, None, P, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1"), commit("b2", pulls=())), {}, None, F, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1", pulls=None), commit("b2", pulls=())), {}, None, F, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1", pulls=None), commit("b2")), {}, None, U, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1", days=40, pulls=())), {}, None, NA, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("a1", days=40, pulls=())), {"window_days": 60}, None, F, MAIN),
    # a merge commit GitHub associated with its pull request passes like any other
    (fl.FLOW_NO_DIRECT_PUSH, pushed(commit("m1", parents=2, pulls=(5,))), {}, None, P, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, pushed(), {}, None, NA, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, {"commits": commits("staging", commit("a1", pulls=()))}, {}, None, U, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, {"commits": None}, {}, None, U, MAIN),
    (fl.FLOW_NO_DIRECT_PUSH, {"commits": (BranchCommits(branch="main", gap=COMMITS_GAP),)}, {}, None, U,
     MAIN),
]


@pytest.mark.parametrize(("rule", "overrides", "params", "roles", "expected", "target"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_flow_rules(rule: Rule, overrides: dict[str, Any], params: dict[str, Any],
                    roles: dict[str, str] | None, expected: Status, target: str) -> None:
    kw: dict[str, Any] = {"role": "production"} if rule is fl.FLOW_NO_DIRECT_PUSH else {}
    if roles is not None:
        kw["branches"] = roles
    outcomes = run_rule(rule, repo(**overrides), params, **kw)
    assert statuses(outcomes) == [expected]
    out = outcomes[0]
    assert out.target == target
    assert out.message.endswith(".")
    if expected is U:
        assert "unknown:" in out.message
        assert out.evidence.get("reason")


# Facts under which every flow-* rule passes; each gap case removes or hides one section.
PASSING: dict[str, Any] = {
    "pull_requests": prs(pr(1, "feature/a", "staging"), pr(2, "staging", "main")),
    "commits": commits("main", commit("a1", pulls=(2,))),
}
GAPS: list[tuple[str, dict[str, Any]]] = [
    ("pull-requests-none", {"pull_requests": None}),
    ("pull-requests-gap", {"pull_requests": PullRequests(gap=PR_GAP)}),
    ("commits-none", {"commits": None}),
    ("commits-gap", {"commits": (BranchCommits(branch="main", gap=COMMITS_GAP),)}),
    ("commit-association-unknown", {"commits": commits("main", Commit(sha="a1", pull_requests=None))}),
]
SECTION_OF = {"pull_requests": {Need.PULL_REQUESTS}, "commits": {Need.COMMITS}}


def _run(rule: Rule, facts: RepoFacts) -> list[Any]:
    role = "production" if rule is fl.FLOW_NO_DIRECT_PUSH else None
    return run_rule(rule, facts, role=role)


def test_every_rule_passes_on_the_passing_facts() -> None:
    for rule in fl.RULES:
        assert statuses(_run(rule, repo(**PASSING))) == [P], rule.id


@pytest.mark.parametrize(("label", "change"), GAPS, ids=[g[0] for g in GAPS])
def test_missing_facts_are_unknown_never_pass(label: str, change: dict[str, Any]) -> None:
    (section,) = change
    affected = [r for r in fl.RULES if SECTION_OF[section] & set(r.needs)]
    assert affected, label
    for rule in affected:
        outcomes = _run(rule, repo(**{**PASSING, **change}))
        assert statuses(outcomes) == [U], (label, rule.id)
        assert "unknown:" in outcomes[0].message


def test_production_failure_names_offending_prs_and_heads() -> None:
    facts = repo(**merged(pr(4, "feature/a", "main"), pr(9, "staging", "main"), pr(3, "bugfix", "main")))
    out = run_rule(fl.FLOW_INTO_PRODUCTION, facts)[0]
    assert out.status is F
    assert out.evidence["offending_prs"] == ["#3 bugfix (acme/web)", "#4 feature/a (acme/web)"]
    assert "#3 bugfix" in out.message
    assert out.evidence["merged"] == 3


def test_staging_failure_names_the_offending_head() -> None:
    facts = repo(**merged(pr(1, "feature/a", "staging"), pr(2, "main", "staging")))
    out = run_rule(fl.FLOW_INTO_STAGING, facts)[0]
    assert out.status is F
    assert "came from main," in out.message
    assert out.evidence["offending_prs"] == ["#2 main (acme/web)"]


def test_direct_push_lists_commits_capped() -> None:
    many = commits("main", *(commit(f"{n:040x}", pulls=()) for n in range(25)))
    out = run_rule(fl.FLOW_NO_DIRECT_PUSH, repo(commits=many), role="production")[0]
    assert out.status is F
    assert out.evidence["direct"] == 25
    assert len(out.evidence["direct_commits"]) == 20


def test_params_declare_defaults() -> None:
    assert fl.FLOW_INTO_PRODUCTION.defaults == {"window_days": 30, "allowed_heads": []}
    assert fl.FLOW_NO_DIRECT_PUSH.defaults == {"window_days": 30}
    assert [r.id for r in fl.RULES] == ["flow-into-staging", "flow-into-production", "flow-no-direct-push"]
