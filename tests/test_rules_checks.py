"""Table-driven tests of the checks-* rules over hand-built facts."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.facts import ActionRef, BranchFacts, Gap, PullRequests, RuleDetail, Trigger, Workflows
from auditor.model import Status
from auditor.rules import _filters as filters
from auditor.rules import checks as ck
from auditor.rules.base import Need, Rule
from tests.factories import ADMIN_GAP, branch, classic, repo, run_rule, statuses
from tests.factories_flow import check, job, pr, prs, workflow, workflows

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

PR_GAP = Gap("Resource not accessible by integration", "Pull requests: read", 403)
WF_GAP = Gap("Resource not accessible by integration", "Contents: read", 403)
CHECKS_GAP = Gap("check runs could not be read", "Checks: read", 403)

RS_CHECKS = RuleDetail(type="required_status_checks", ruleset_id=9, ruleset_name="CI",
                       parameters={"required_status_checks": [{"context": "lint"}],
                                   "strict_required_status_checks_policy": True})


def req(*contexts: str, **kw: Any) -> BranchFacts:
    """The main branch with classic protection requiring `contexts`."""
    return branch(classic=classic(required_checks=contexts, **kw))


ON_PR = Trigger("pull_request")
ON_PR_MAIN = Trigger("pull_request", branches=("main",))
ON_PR_RELEASE = Trigger("pull_request", branches=("release/**",))
ON_PR_NOT_MAIN = Trigger("pull_request", branches_ignore=("main",))
CI = workflow("ci.yml", ON_PR, jobs=(job("test"), job("lint", "Lint code")))
MATRIX = workflow("matrix.yml", ON_PR_MAIN, jobs=(job("build", has_matrix=True),))
REUSE = workflow("reuse.yml", Trigger("pull_request_target"), jobs=(
    job("call", "Shared", uses=ActionRef("acme/ci/.github/workflows/x.yml@v1", "acme/ci", "v1", "tag")),))
PUSH_ONLY = workflow("deploy.yml", Trigger("push", branches=("main",)), jobs=(job("deploy"),))
BROKEN = workflow("broken.yml", parse_error="mapping values are not allowed here")

PR, EV = ck.CHECKS_PRODUCED, ck.CHECKS_EVIDENCE
CASES: list[tuple[Any, dict[str, Any], dict[str, Any], Status]] = [
    # rule, RepoFacts overrides, params, expected
    (ck.CHECKS_REQUIRED, {"branches": (req("test"),)}, {}, P),
    (ck.CHECKS_REQUIRED, {"branches": (req("test"),)}, {"contexts": ["test"]}, P),
    (ck.CHECKS_REQUIRED, {"branches": (req("test"),)}, {"contexts": ["test", "lint"]}, F),
    (ck.CHECKS_REQUIRED, {"branches": (branch(classic=classic(required_checks=("test",)),
                                              rules=(RS_CHECKS,)),)}, {"contexts": ["test", "lint"]}, P),
    (ck.CHECKS_REQUIRED, {"branches": (req(),)}, {}, F),
    (ck.CHECKS_REQUIRED, {"branches": (branch(classic=classic()),)}, {}, F),
    (ck.CHECKS_REQUIRED, {"branches": (branch(classic_gap=ADMIN_GAP),)}, {}, U),
    (ck.CHECKS_REQUIRED, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),)}, {}, P),
    # the unreadable classic protection might require the missing context
    (ck.CHECKS_REQUIRED, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),)},
     {"contexts": ["test"]}, U),
    (ck.CHECKS_REQUIRED, {"branches": (branch(exists=False),)}, {}, NA),
    (ck.CHECKS_STRICT, {"branches": (req("test", strict_checks=True),)}, {}, P),
    (ck.CHECKS_STRICT, {"branches": (branch(rules=(RS_CHECKS,)),)}, {}, P),
    (ck.CHECKS_STRICT, {"branches": (req("test"),)}, {}, F),
    (ck.CHECKS_STRICT, {"branches": (branch(classic_gap=ADMIN_GAP),)}, {}, U),
    # produced by a workflow job: by name, by id, matrix legs, reusable calls
    (PR, {"branches": (req("test", "Lint code"),), "workflows": workflows(CI)}, {}, P),
    (PR, {"branches": (req("build (ubuntu-latest, 3.12)"),), "workflows": workflows(MATRIX)}, {}, P),
    (PR, {"branches": (req("build"),), "workflows": workflows(MATRIX)}, {}, F),
    (PR, {"branches": (req("Shared / test"),), "workflows": workflows(REUSE)}, {}, P),
    (PR, {"branches": (req("lint"),), "workflows": workflows(CI)}, {}, F),
    (PR, {"branches": (req("deploy"),), "workflows": workflows(PUSH_ONLY)}, {}, F),
    (PR, {"branches": (req("test"),), "workflows": workflows(
        workflow("ci.yml", ON_PR_NOT_MAIN, jobs=(job("test"),)))}, {}, F),
    # or reported on a merged pull request (an external CI, a GitHub App)
    (PR, {"branches": (req("ci/jenkins"),), "workflows": workflows(CI),
                         "pull_requests": prs(pr(1, checks=(check("ci/jenkins"),)))}, {}, P),
    (PR, {"branches": (req("ci/jenkins"),), "workflows": None,
                         "pull_requests": prs(pr(1, checks=(check("ci/jenkins", "failure"),)))}, {}, P),
    (PR, {"branches": (req("ci/jenkins"),), "workflows": workflows(CI),
                         "pull_requests": prs(pr(1, base="staging", checks=(check("ci/jenkins"),)))}, {}, F),
    (PR, {"branches": (req("test"),), "workflows": None}, {}, U),
    (PR, {"branches": (req("test"),), "workflows": Workflows(gap=WF_GAP)}, {}, U),
    (PR, {"branches": (req("lint"),), "workflows": workflows(CI),
                         "pull_requests": PullRequests(gap=PR_GAP)}, {}, U),
    (PR, {"branches": (req("lint"),), "workflows": workflows(CI),
                         "pull_requests": prs(pr(1, checks=None, checks_gap=CHECKS_GAP))}, {}, U),
    (PR, {"branches": (req(),), "workflows": workflows(CI)}, {}, NA),
    (PR, {"branches": (branch(classic_gap=ADMIN_GAP),), "workflows": workflows(CI)}, {}, U),
    # checks hidden behind the unreadable classic protection might be orphans
    (PR, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
                         "workflows": workflows(CI, workflow("l.yml", ON_PR, jobs=(job("lint"),)))}, {}, U),
    (PR, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
                         "workflows": workflows(CI)}, {}, F),
    # CI on pull requests
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(CI)}, {}, P),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(MATRIX)}, {}, P),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(workflow("r.yml", ON_PR_RELEASE))}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(workflow("n.yml", ON_PR_NOT_MAIN))}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(workflow("g.yml", Trigger("pull_request",
                                                                           branches=("ma*",))))}, {}, P),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(workflow("x.yml", Trigger("pull_request", branches=(
        "**", "!main"))))}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(PUSH_ONLY, REUSE)}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows(BROKEN)}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": workflows()}, {}, F),
    (ck.CHECKS_CI_ON_PR, {"workflows": None}, {}, U),
    (ck.CHECKS_CI_ON_PR, {"workflows": Workflows(gap=WF_GAP)}, {}, U),
    # evidence
    (EV, {"branches": (req("test"),), "pull_requests": prs(pr(1, checks=(check("test"),)))}, {}, P),
    (EV, {"branches": (req("test"),), "pull_requests": prs(pr(1, checks=(check("test", "skipped"),)))},
     {}, P),
    (EV, {"branches": (req("test"),), "pull_requests": prs(pr(1, checks=(check("test", "failure"),)))},
     {}, F),
    (EV, {"branches": (req("test"),), "pull_requests": prs(pr(1, checks=(
        check("test", None, "in_progress"),)))}, {}, F),
    (EV, {"branches": (req("test", "lint"),), "pull_requests": prs(pr(1, checks=(check("test"),)))},
     {}, F),
    (EV, {"branches": (req("test"),), "pull_requests": prs(
        pr(1, checks=(check("test"),)), pr(2, checks=()))}, {"min_ratio": 0.5}, P),
    (EV, {"branches": (req("test"),), "pull_requests": prs(
        pr(1, checks=(check("test"),)), pr(2, checks=None, checks_gap=CHECKS_GAP))}, {}, U),
    (EV, {"branches": (req("test"),), "pull_requests": prs(
        pr(1, checks=()), pr(2, checks=None, checks_gap=CHECKS_GAP))}, {}, F),
    (EV, {"branches": (req("test"),), "pull_requests": prs(pr(1, days=45))}, {}, NA),
    (EV, {"branches": (req(),), "pull_requests": prs(pr(1))}, {}, NA),
    (EV, {"branches": (req("test"),), "pull_requests": None}, {}, U),
    (EV, {"branches": (req("test"),), "pull_requests": PullRequests(gap=PR_GAP)}, {}, U),
    (EV, {"branches": (branch(classic_gap=ADMIN_GAP),),
                         "pull_requests": prs(pr(1, checks=(check("test"),)))}, {}, U),
    # green on the visible required checks, but classic protection may require more
    (EV, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
                         "pull_requests": prs(pr(1, checks=(check("lint"),)))}, {}, U),
    (EV, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
                         "pull_requests": prs(pr(1, checks=(check("lint", "failure"),)))}, {}, F),
]


@pytest.mark.parametrize(("rule", "overrides", "params", "expected"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_checks_rules(rule: Rule, overrides: dict[str, Any], params: dict[str, Any],
                      expected: Status) -> None:
    defaults = {"branches": (req("test"),), "workflows": workflows(), "pull_requests": prs()}
    facts = repo(**{**defaults, **overrides})
    outcomes = run_rule(rule, facts, params, role="production")
    assert statuses(outcomes) == [expected]
    out = outcomes[0]
    assert out.target == "branch:main"
    assert out.message.endswith(".")
    assert "main" in out.message
    if expected is U:
        assert "unknown" in out.message


# Facts under which every checks-* rule passes; each gap case removes or hides one section.
PASSING: dict[str, Any] = {
    "branches": (req("test", "Lint code", strict_checks=True),),
    "workflows": workflows(CI),
    "pull_requests": prs(pr(1, checks=(check("test"), check("Lint code")))),
}
GAPS: list[tuple[str, dict[str, Any]]] = [
    ("protection-unreadable", {"branches": (branch(classic_gap=ADMIN_GAP),)}),
    ("branch-not-collected", {"branches": ()}),
    ("workflows-none", {"workflows": None}),
    ("workflows-gap", {"workflows": Workflows(gap=WF_GAP)}),
    ("pull-requests-none", {"pull_requests": None}),
    ("pull-requests-gap", {"pull_requests": PullRequests(gap=PR_GAP)}),
    ("pr-checks-none", {"pull_requests": prs(pr(1, checks=None, checks_gap=CHECKS_GAP))}),
]
SECTION_OF = {"branches": {Need.PROTECTION}, "workflows": {Need.WORKFLOWS},
              "pull_requests": {Need.PULL_REQUESTS, Need.PR_CHECKS}}
# checks-produced has two sources, workflows and checks reported on merged pull requests: either
# one proving every check produced is enough (both missing is tested below).
SECOND_SOURCE = {("pull_requests", ck.CHECKS_PRODUCED.id), ("workflows", ck.CHECKS_PRODUCED.id)}


def test_every_rule_passes_on_the_passing_facts() -> None:
    for rule in ck.RULES:
        assert statuses(run_rule(rule, repo(**PASSING), role="production")) == [P], rule.id


@pytest.mark.parametrize(("label", "change"), GAPS, ids=[g[0] for g in GAPS])
def test_missing_facts_are_unknown_never_pass(label: str, change: dict[str, Any]) -> None:
    (section,) = change
    affected = [r for r in ck.RULES if SECTION_OF[section] & set(r.needs)]
    assert affected, label
    for rule in affected:
        outcomes = run_rule(rule, repo(**{**PASSING, **change}), role="production")
        if (section, rule.id) in SECOND_SOURCE:
            assert statuses(outcomes) == [P], (label, rule.id)
            continue
        assert statuses(outcomes) == [U], (label, rule.id)
        assert "unknown:" in outcomes[0].message
        assert outcomes[0].evidence.get("reason"), (label, rule.id)


def test_produced_without_workflows_or_prs_is_unknown() -> None:
    facts = repo(**{**PASSING, "workflows": None, "pull_requests": None})
    assert statuses(run_rule(ck.CHECKS_PRODUCED, facts, role="production")) == [U]


def test_produced_lists_orphans_and_producers() -> None:
    facts = repo(branches=(req("test", "e2e"),), workflows=workflows(CI), pull_requests=prs())
    out = run_rule(ck.CHECKS_PRODUCED, facts, role="production")[0]
    assert out.status is F
    assert out.evidence["orphans"] == ["e2e"]
    assert out.evidence["producers"] == {"test": ".github/workflows/ci.yml#test"}
    assert "e2e" in out.message


def test_ci_on_pr_lists_unparsable_workflows() -> None:
    out = run_rule(ck.CHECKS_CI_ON_PR, repo(workflows=workflows(BROKEN, CI)), role="production")[0]
    assert out.status is P
    assert out.evidence["unparsable"] == [".github/workflows/broken.yml"]
    assert out.evidence["workflows"] == [".github/workflows/ci.yml"]


def test_ci_on_pr_follows_the_role_branch() -> None:
    facts = repo(workflows=workflows(workflow("r.yml", Trigger("pull_request", branches=("staging",)))))
    assert statuses(run_rule(ck.CHECKS_CI_ON_PR, facts, role="staging")) == [P]
    assert statuses(run_rule(ck.CHECKS_CI_ON_PR, facts, role="production")) == [F]


@pytest.mark.parametrize(("patterns", "name", "expected"), [
    (("main",), "main", True),
    (("main",), "mainline", False),
    (("release/*",), "release/1.2", True),
    (("release/*",), "release/1/hotfix", False),
    (("release/**",), "release/1/hotfix", True),
    (("**",), "feature/a/b", True),
    (("**", "!main"), "main", False),
    (("**", "!main", "main"), "main", True),
    (("v[12].[0-9]+",), "v1.10", True),
    (("v[12].[0-9]+",), "v3.1", False),
    (("feature?",), "feature", True),
    ((), "main", False),
])
def test_filter_patterns(patterns: tuple[str, ...], name: str, expected: bool) -> None:
    assert filters.filter_admits(patterns, name) is expected


def test_evidence_counts_failing_prs() -> None:
    facts = repo(branches=(req("test"),), pull_requests=prs(pr(1, checks=(check("test"),)), pr(2)))
    out = run_rule(ck.CHECKS_EVIDENCE, facts, role="production")[0]
    assert out.status is F
    assert (out.evidence["merged"], out.evidence["compliant"], out.evidence["failing_prs"]) == (2, 1, [2])
    assert out.evidence["required_checks"] == ["test"]


def test_params_declare_defaults() -> None:
    assert ck.CHECKS_REQUIRED.defaults == {"contexts": []}
    assert ck.CHECKS_EVIDENCE.defaults == {"window_days": 30, "min_ratio": 1.0}
