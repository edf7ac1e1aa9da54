"""Score, coverage and the per-repo verdict: the one place this arithmetic lives.

The engine, the history store, the trend queries and the renderers all need the same figures; if each
computed them, a report and the gate could disagree. Everything here is a pure function of results
(or of status/severity counts, so the trend queries can reuse it on SQL aggregates).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from auditor.model import RepoSummary, Result, Severity, Status

#: Statuses that mean "the fact was not observed": they lower coverage, never the score.
UNOBSERVED = frozenset({Status.UNKNOWN, Status.ERROR})


def score_from_weights(passed: float, failed: float) -> float | None:
    """Weighted share of passes; None when there is nothing to weigh (no pass/fail, or info only)."""
    total = passed + failed
    if total <= 0:
        return None
    return passed / total


def score(results: Iterable[Result]) -> float | None:
    """Severity-weighted share of passes among pass + fail results.

    Waived, unknown, error and not-applicable results weigh nothing: a waiver is an accepted
    exception (neither compliance nor a finding) and an unobserved fact must not move the score.
    """
    passed = failed = 0.0
    for r in results:
        if r.status is Status.PASS:
            passed += r.severity.weight
        elif r.status is Status.FAIL:
            failed += r.severity.weight
    return score_from_weights(passed, failed)


def coverage(results: Iterable[Result]) -> float | None:
    """Share of results that were observed (not unknown, not error); None with no results."""
    total = observed = 0
    for r in results:
        total += 1
        if r.status not in UNOBSERVED:
            observed += 1
    return observed / total if total else None


def status_counts(results: Iterable[Result]) -> dict[str, int]:
    """Results per status, every status present (zero included) so reports print a stable shape."""
    counts = Counter(r.status.value for r in results)
    return {s.value: counts.get(s.value, 0) for s in Status}


def repo_status(counts: Mapping[str, int]) -> str:
    """`fail` if anything failed, else `unknown` if anything was unobserved, else `pass`."""
    if counts.get(Status.FAIL.value, 0):
        return Status.FAIL.value
    if any(counts.get(s.value, 0) for s in UNOBSERVED):
        return Status.UNKNOWN.value
    return Status.PASS.value


def summarize_repo(repo: str, results: Iterable[Result], error: str | None = None) -> RepoSummary:
    """One repository's verdict, score, coverage and counts from its results."""
    rs = list(results)
    counts = status_counts(rs)
    status = repo_status(counts)
    if error is not None and status == Status.PASS.value:
        status = Status.UNKNOWN.value  # a repo we could not fully audit never looks compliant
    return RepoSummary(repo=repo, status=status, score=score(rs), coverage=coverage(rs),
                       counts=counts, error=error)


def weight(severity: str) -> float:
    """The score weight of a severity given by its value (for aggregates read back from SQL)."""
    return Severity(severity).weight
