"""The score, coverage and repo verdict arithmetic shared by the engine, history and reports."""

from __future__ import annotations

import pytest

from auditor import scoring
from auditor.model import Status
from tests.factories_history import result


def rs(*spec: tuple[str, str]):
    return [result(rule=f"branch-r{i}", status=st, severity=sev) for i, (st, sev) in enumerate(spec)]


@pytest.mark.parametrize(("spec", "score", "coverage"), [
    ((), None, None),
    ((("pass", "high"),), 1.0, 1.0),
    ((("pass", "critical"), ("fail", "low")), 10 / 12.5, 1.0),
    ((("pass", "medium"), ("fail", "medium"), ("unknown", "critical")), 0.5, 2 / 3),
    ((("pass", "low"), ("waived", "critical")), 1.0, 1.0),  # waived weighs nothing but is observed
    ((("waived", "high"), ("not_applicable", "high")), None, 1.0),
    ((("pass", "info"), ("fail", "info")), None, 1.0),  # info weighs nothing: nothing to weigh
    ((("error", "high"), ("unknown", "low")), None, 0.0),
    ((("fail", "critical"), ("pass", "high"), ("pass", "medium"), ("error", "low")), 12.5 / 22.5, 0.75),
])
def test_score_and_coverage(spec, score, coverage) -> None:
    results = rs(*spec)
    assert scoring.score(results) == (pytest.approx(score) if score is not None else None)
    assert scoring.coverage(results) == (pytest.approx(coverage) if coverage is not None else None)


@pytest.mark.parametrize(("spec", "error", "status"), [
    ((("pass", "high"), ("fail", "low")), None, "fail"),
    ((("pass", "high"), ("unknown", "low")), None, "unknown"),
    ((("pass", "high"), ("error", "low")), None, "unknown"),
    ((("pass", "high"), ("waived", "low"), ("not_applicable", "low")), None, "pass"),
    ((), "404 Not Found", "unknown"),  # a repo that could not be audited never looks compliant
    ((("fail", "high"),), "timeout", "fail"),
])
def test_summarize_repo(spec, error, status) -> None:
    summary = scoring.summarize_repo("acme/web", rs(*spec), error=error)
    assert summary.status == status
    assert summary.error == error
    assert set(summary.counts) == {s.value for s in Status}
    assert sum(summary.counts.values()) == len(spec)
