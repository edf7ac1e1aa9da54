"""Table-driven tests of the docs-* rules over hand-built facts."""

from __future__ import annotations

import cerberus
import pytest

from auditor.facts import Docs, Gap
from auditor.model import Status
from auditor.rules import docs as D
from tests.factories import repo, run_rule, statuses
from tests.factories_pr import doc, docs

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
CONTENTS_GAP = Gap("Resource not accessible by integration", "Contents: read", 403)
ONE = {"paths": ["docs/deployment.md"]}

CASES = [
    # rule, docs facts, params, expected statuses (one per target)
    (D.DOCS_PRESENT, docs(), {}, [P, P, P]),
    (D.DOCS_PRESENT, docs(doc("README.md"), doc("docs/deployment.md"), doc("docs/rollback.md", exists=False)),
     {}, [P, P, F]),
    (D.DOCS_PRESENT, docs(doc("README.md")), {}, [P, U, U]),
    (D.DOCS_PRESENT, docs(gap=CONTENTS_GAP), ONE, [U]),
    (D.DOCS_PRESENT, docs(doc("RUNBOOK.md", exists=False)), {"paths": ["RUNBOOK.md"]}, [F]),
    (D.DOCS_FRESH, docs(), {}, [P, P, P]),
    (D.DOCS_FRESH, docs(doc("docs/deployment.md", 91)), ONE, [F]),
    (D.DOCS_FRESH, docs(doc("docs/deployment.md", 90)), ONE, [P]),
    (D.DOCS_FRESH, docs(doc("docs/deployment.md", 40)), {**ONE, "max_age_days": 30}, [F]),
    (D.DOCS_FRESH, docs(doc("docs/deployment.md", exists=False)), ONE, [NA]),
    (D.DOCS_FRESH, docs(doc("docs/deployment.md", None)), ONE, [U]),
    (D.DOCS_FRESH, docs(doc("README.md")), ONE, [U]),
    (D.DOCS_FRESH, docs(gap=CONTENTS_GAP), ONE, [U]),
    # docs-in-sync: doc age vs the newest watched change
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 5), watched={".github/workflows/*": 2, "deploy/**": None,
                                                                "infra/**": None}), {}, [P]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 100), watched={".github/workflows/*": 200,
                                                                  "deploy/**": 2, "infra/**": None}), {}, [F]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 40), watched={".github/workflows/*": 5, "deploy/**": None,
                                                                 "infra/**": None}), {"max_lag_days": 35}, [P]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 1), watched={".github/workflows/*": 50, "deploy/**": 60,
                                                                "infra/**": 70}), {}, [P]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 100)), {}, [NA]),  # nothing watched ever changed
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", exists=False),
                          watched={".github/workflows/*": 1, "deploy/**": None, "infra/**": None}), {}, [NA]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", None),
                          watched={".github/workflows/*": 1, "deploy/**": None, "infra/**": None}), {}, [U]),
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 100), watched={".github/workflows/*": 1}), {}, [U]),
    (D.DOCS_IN_SYNC, docs(doc("README.md", 100)), {}, [U]),
    (D.DOCS_IN_SYNC, docs(gap=CONTENTS_GAP), {}, [U]),
    # several docs: the newest of them counts
    (D.DOCS_IN_SYNC, docs(doc("docs/deployment.md", 100), doc("docs/rollback.md", 3),
                          watched={".github/workflows/*": 1, "deploy/**": None, "infra/**": None}),
     {"paths": ["docs/deployment.md", "docs/rollback.md"]}, [P]),
]


@pytest.mark.parametrize(("rule", "facts_docs", "params", "expected"), CASES,
                         ids=[f"{c[0].id}-{i}" for i, c in enumerate(CASES)])
def test_docs_rules(rule, facts_docs, params, expected):
    outcomes = run_rule(rule, repo(docs=facts_docs), params)
    assert statuses(outcomes) == expected
    for out in outcomes:
        assert out.target.startswith("file:")
        assert out.message.endswith(".")
        if out.status is U:
            assert "unknown" in out.message
        if out.status is F:
            assert out.target.removeprefix("file:") in out.message


def test_docs_present_names_each_file_as_its_target():
    outcomes = run_rule(D.DOCS_PRESENT, repo(docs=docs()))
    assert [o.target for o in outcomes] == ["file:README.md", "file:docs/deployment.md", "file:docs/rollback.md"]


def test_docs_fresh_failure_carries_the_age():
    [out] = run_rule(D.DOCS_FRESH, repo(docs=docs(doc("docs/deployment.md", 120))), ONE)
    assert out.evidence["age_days"] == 120
    assert out.evidence["max_age_days"] == 90
    assert "120 days" in out.message


def test_docs_in_sync_failure_names_the_change_and_the_lag():
    facts = repo(docs=docs(doc("docs/deployment.md", 100),
                           watched={".github/workflows/*": 90, "deploy/**": 10, "infra/**": None}))
    [out] = run_rule(D.DOCS_IN_SYNC, facts)
    assert out.status is F
    assert out.evidence["watched_glob"] == "deploy/**"
    assert out.evidence["lag_days"] == 90
    assert out.target == "file:docs/deployment.md"


def test_unknown_reason_names_the_permission():
    [out] = run_rule(D.DOCS_PRESENT, repo(docs=Docs(gap=CONTENTS_GAP)), ONE)
    assert "Contents: read" in out.message
    assert out.evidence["permission"] == "Contents: read"


@pytest.mark.parametrize("rule", D.RULES, ids=[r.id for r in D.RULES])
@pytest.mark.parametrize("facts_docs", [None, Docs(gap=CONTENTS_GAP)], ids=["not-collected", "gap"])
def test_docs_unobserved_is_unknown_never_pass(rule, facts_docs):
    outcomes = run_rule(rule, repo(docs=facts_docs))
    assert outcomes
    assert set(statuses(outcomes)) == {U}, rule.id


@pytest.mark.parametrize("rule", D.RULES, ids=[r.id for r in D.RULES])
def test_params_are_a_cerberus_schema_with_defaults(rule):
    assert all("default" in spec for spec in rule.params.values())
    validator = cerberus.Validator(rule.params)
    assert validator.validate({})
    assert validator.document == rule.defaults
    assert not validator.validate({"paths": "README.md"})
