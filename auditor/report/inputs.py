"""ReportInput: everything a report shows, computed from the history before rendering.

The history/trends layer builds it; renderers (Markdown, HTML, JSON, CSV, SARIF) only display it.
That keeps arithmetic out of templates and lets `auditor report` re-render any past week from the
history alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from auditor.model import Result, Run


@dataclass(frozen=True)
class TrendPoint:
    """One run on the trend line (oldest first in ReportInput.trend)."""

    run_id: str
    at: datetime
    score: float | None
    coverage: float | None
    counts: dict[str, int]  # by status
    failing_by_severity: dict[str, int]  # fail results per severity
    repos: int = 0


@dataclass(frozen=True)
class RepoTrend:
    """One repo's score now and a week before (for 'improved / slipped most')."""

    repo: str
    score: float | None
    previous_score: float | None

    @property
    def delta(self) -> float | None:
        """Score change since the previous run, None if either is unknown."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


@dataclass(frozen=True)
class WaiverStatus:
    """A waiver of the policy and how close it is to expiry, as of the report."""

    rule: str
    repos: tuple[str, ...]
    targets: tuple[str, ...]
    owner: str
    reason: str
    expires: date
    days_left: int
    results_covered: int = 0

    @property
    def expired(self) -> bool:
        """Whether the waiver no longer applies."""
        return self.days_left < 0


@dataclass(frozen=True)
class ReportInput:
    """The weekly report's data: the latest run compared with the run about a week before it."""

    run: Run
    previous: Run | None
    trend: tuple[TrendPoint, ...]
    new_findings: tuple[Result, ...]
    fixed_findings: tuple[Result, ...]
    regressions: tuple[Result, ...]
    first_seen: dict[tuple[str, str, str], datetime]
    repo_trends: tuple[RepoTrend, ...]
    waivers: tuple[WaiverStatus, ...]
    generated_at: datetime
    mean_time_to_resolve_days: float | None = None
    title: str = "Deployment compliance report"
    filters: dict[str, str] = field(default_factory=dict)
