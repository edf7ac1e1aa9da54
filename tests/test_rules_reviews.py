"""Table-driven tests of the reviews-* rules over hand-built facts."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.facts import Codeowners, CodeownersError, Gap, PullRequest, PullRequests, Review, RuleDetail
from auditor.model import Status
from auditor.rules import reviews as rv
from auditor.rules.base import Need, Rule
from tests.factories import ADMIN_GAP, branch, classic, repo, run_rule, statuses
from tests.factories_flow import pr, prs, review

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

RS_PR = RuleDetail(type="pull_request", ruleset_id=7, ruleset_name="Protect main",
                   parameters={"required_approving_review_count": 2, "require_code_owner_review": True,
                               "dismiss_stale_reviews_on_push": True, "require_last_push_approval": True})
OWNERS = Codeowners(path=".github/CODEOWNERS", errors=())
PR_GAP = Gap("Resource not accessible by integration", "Pull requests: read", 403)
REVIEWS_GAP = Gap("reviews could not be read", "Pull requests: read", 502)

BR = branch(classic=classic(required_approvals=1))
OWN = branch(classic=classic(required_approvals=1, require_code_owner_reviews=True))
BR_GAP = branch(classic_gap=ADMIN_GAP)
APPROVED = pr(1, reviews=(review("bob"),))
UNAPPROVED = pr(2, reviews=(review("alice"),))  # self-review only
UNSEEN = pr(3, reviews=None, reviews_gap=REVIEWS_GAP)

def merged(*items: PullRequest, **kw: Any) -> dict[str, Any]:
    """RepoFacts overrides: these merged pull requests."""
    return {"pull_requests": prs(*items, **kw)}


def reviewed(*reviews: Review, number: int = 1) -> PullRequest:
    """A pull request by alice into main, merged a day ago, with these reviews."""
    return pr(number, reviews=reviews)


EV = rv.REVIEWS_EVIDENCE
CASES: list[tuple[Any, dict[str, Any], dict[str, Any], Status]] = [
    # rule, RepoFacts overrides, params, expected
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (BR,)}, {}, P),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (BR,)}, {"min_approvals": 2}, F),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (branch(classic=classic(required_approvals=1),
                                                         rules=(RS_PR,)),)}, {"min_approvals": 2}, P),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (branch(),)}, {}, F),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (branch(),)}, {"min_approvals": 0}, P),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (BR_GAP,)}, {}, U),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (branch(classic_gap=ADMIN_GAP, rules=(RS_PR,)),)}, {}, P),
    (rv.REVIEWS_REQUIRED_APPROVALS, {"branches": (branch(exists=False),)}, {}, NA),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (OWN,), "codeowners": OWNERS}, {}, P),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (branch(rules=(RS_PR,)),), "codeowners": OWNERS}, {}, P),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (BR,), "codeowners": OWNERS}, {}, F),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (OWN,), "codeowners": Codeowners(path=None)}, {}, F),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (OWN,), "codeowners": Codeowners(
        path="CODEOWNERS", errors=(CodeownersError(3, "Unknown owner", "@ghost"),))}, {}, F),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (OWN,), "codeowners": Codeowners(
        path="CODEOWNERS", errors=None, errors_gap=Gap("HTTP 500", http_status=500))}, {}, U),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (OWN,), "codeowners": None}, {}, U),
    (rv.REVIEWS_CODE_OWNERS, {"branches": (BR_GAP,), "codeowners": OWNERS}, {}, U),
    # a definite failure of one part fails the rule even if another part is unobservable
    (rv.REVIEWS_CODE_OWNERS, {"branches": (BR_GAP,), "codeowners": Codeowners(path=None)}, {}, F),
    (rv.REVIEWS_DISMISS_STALE, {"branches": (branch(classic=classic(dismiss_stale_reviews=True)),)}, {}, P),
    (rv.REVIEWS_DISMISS_STALE, {"branches": (branch(rules=(RS_PR,)),)}, {}, P),
    (rv.REVIEWS_DISMISS_STALE, {"branches": (BR,)}, {}, F),
    (rv.REVIEWS_DISMISS_STALE, {"branches": (BR_GAP,)}, {}, U),
    (rv.REVIEWS_LAST_PUSH_APPROVAL, {"branches": (branch(classic=classic(require_last_push_approval=True)),)},
     {}, P),
    (rv.REVIEWS_LAST_PUSH_APPROVAL, {"branches": (BR,)}, {}, F),
    (rv.REVIEWS_LAST_PUSH_APPROVAL, {"branches": (BR_GAP,)}, {}, U),
    # evidence
    (EV, merged(APPROVED), {}, P),
    (EV, merged(APPROVED, UNAPPROVED), {}, F),
    (EV, merged(APPROVED, UNAPPROVED), {"min_ratio": 0.5}, P),
    (EV, merged(reviewed()), {}, F),
    (EV, merged(APPROVED), {"min_approvals": 2}, F),
    (EV, merged(reviewed(review("bob"), review("carol"))), {"min_approvals": 2}, P),
    # the same reviewer twice is one approval
    (EV, merged(reviewed(review("bob", days=3), review("Bob", days=2))), {"min_approvals": 2}, F),
    # the latest decisive review counts; a later comment does not withdraw an approval
    (EV, merged(reviewed(review("bob", days=3), review("bob", "CHANGES_REQUESTED", days=2))), {}, F),
    (EV, merged(reviewed(review("bob", "CHANGES_REQUESTED", days=3), review("bob", days=2))), {}, P),
    (EV, merged(reviewed(review("bob", days=3), review("bob", "COMMENTED", days=2))), {}, P),
    (EV, merged(reviewed(review("bob", "DISMISSED", days=3))), {}, F),
    # an approval after the merge is not an approval at merge time
    (EV, merged(pr(1, days=2, reviews=(review("bob", days=1),))), {}, F),
    # unobservable reviews: unknown only when they could flip the verdict
    (EV, merged(APPROVED, UNSEEN), {}, U),
    (EV, merged(UNAPPROVED, UNSEEN), {}, F),
    (EV, merged(APPROVED, reviewed(review("bob"), number=4), reviewed(review("eve"), number=5), UNSEEN),
     {"min_ratio": 0.75}, P),
    # out of window, other branch: not applicable
    (EV, {"pull_requests": prs(pr(1, days=40))}, {}, NA),
    (EV, {"pull_requests": prs(pr(1, days=40))}, {"window_days": 60}, F),
    (EV, {"pull_requests": prs(pr(1, base="staging"))}, {}, NA),
    (EV, {"pull_requests": prs()}, {}, NA),
    (EV, {"pull_requests": None}, {}, U),
    (EV, {"pull_requests": PullRequests(gap=PR_GAP)}, {}, U),
    # collected over a shorter window than the rule asks for
    (EV, {"pull_requests": prs(APPROVED, since_days=7)}, {}, U),
]


@pytest.mark.parametrize(("rule", "overrides", "params", "expected"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_reviews_rules(rule: Rule, overrides: dict[str, Any], params: dict[str, Any],
                       expected: Status) -> None:
    outcomes = run_rule(rule, repo(**overrides), params, role="production")
    assert statuses(outcomes) == [expected]
    out = outcomes[0]
    assert out.target == "branch:main"
    assert out.message.endswith(".")
    assert "main" in out.message
    if expected is U:
        assert "unknown" in out.message


# Facts under which every reviews-* rule passes; each gap case removes or hides one section.
PASSING: dict[str, Any] = {
    "branches": (branch(classic=classic(required_approvals=1, require_code_owner_reviews=True,
                                        dismiss_stale_reviews=True, require_last_push_approval=True)),),
    "codeowners": OWNERS,
    "pull_requests": prs(APPROVED),
}
GAPS: list[tuple[str, dict[str, Any]]] = [
    ("protection-unreadable", {"branches": (BR_GAP,)}),
    ("branch-not-collected", {"branches": ()}),
    ("codeowners-none", {"codeowners": None}),
    ("codeowners-gap", {"codeowners": Codeowners(gap=Gap("HTTP 500", http_status=500))}),
    ("pull-requests-none", {"pull_requests": None}),
    ("pull-requests-gap", {"pull_requests": PullRequests(gap=PR_GAP)}),
    ("reviews-none", {"pull_requests": prs(pr(1, reviews=None, reviews_gap=REVIEWS_GAP))}),
]
SECTION_OF = {"branches": {Need.PROTECTION, Need.BRANCHES}, "codeowners": {Need.CODEOWNERS},
              "pull_requests": {Need.PULL_REQUESTS}}


def test_every_rule_passes_on_the_passing_facts() -> None:
    for rule in rv.RULES:
        assert statuses(run_rule(rule, repo(**PASSING), role="production")) == [P], rule.id


@pytest.mark.parametrize(("label", "change"), GAPS, ids=[g[0] for g in GAPS])
def test_missing_facts_are_unknown_never_pass(label: str, change: dict[str, Any]) -> None:
    (section,) = change
    affected = [r for r in rv.RULES if SECTION_OF[section] & set(r.needs)]
    assert affected, label
    for rule in affected:
        outcomes = run_rule(rule, repo(**{**PASSING, **change}), role="production")
        assert statuses(outcomes) == [U], (label, rule.id)
        assert "unknown:" in outcomes[0].message
        assert outcomes[0].evidence.get("reason"), (label, rule.id)


def test_unknown_names_the_permission() -> None:
    out = run_rule(rv.REVIEWS_EVIDENCE, repo(pull_requests=PullRequests(gap=PR_GAP)), role="production")[0]
    assert "Pull requests: read" in out.message
    assert out.evidence["permission"] == "Pull requests: read"


def test_evidence_lists_failing_prs_capped() -> None:
    many = prs(*(pr(n, reviews=()) for n in range(1, 31)))
    out = run_rule(rv.REVIEWS_EVIDENCE, repo(pull_requests=many), role="production")[0]
    assert out.status is F
    assert out.evidence["merged"] == 30
    assert out.evidence["failing"] == 30
    assert out.evidence["failing_prs"] == list(range(1, 21))
    assert out.evidence["ratio"] == 0.0


def test_evidence_unknown_names_the_review_gap_and_the_pr() -> None:
    out = run_rule(rv.REVIEWS_EVIDENCE, repo(pull_requests=prs(APPROVED, UNSEEN)), role="production")[0]
    assert out.status is U
    assert "reviews could not be read" in out.message
    assert out.evidence["unobserved_prs"] == [3]


def test_evidence_uses_the_role_branch() -> None:
    facts = repo(pull_requests=prs(pr(1, base="staging", reviews=())))
    out = run_rule(rv.REVIEWS_EVIDENCE, facts, role="staging")[0]
    assert out.status is F
    assert out.target == "branch:staging"


def test_params_declare_defaults() -> None:
    for rule in rv.RULES:
        for name, schema in rule.params.items():
            assert "default" in schema, (rule.id, name)
    assert rv.REVIEWS_EVIDENCE.defaults == {"window_days": 30, "min_approvals": 1, "min_ratio": 1.0}
