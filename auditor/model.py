"""Small, frozen value types shared by every layer: statuses, severities, results, runs.

They carry no behaviour beyond ordering and arithmetic on severities, so rules, the engine,
the history store and the renderers can all depend on them without depending on each other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


class Status(enum.StrEnum):
    """The verdict of one rule on one target (see docs/rules-catalog)."""

    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"
    ERROR = "error"


class Severity(enum.StrEnum):
    """How much a failing result matters; ordered, with the score weights of docs/cli.md."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe; used to compare against the gate's `fail_on`."""
        return _RANK[self]

    @property
    def weight(self) -> float:
        """The weight of a result of this severity in the repo score."""
        return _WEIGHT[self]


_RANK = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1, Severity.INFO: 0}
_WEIGHT = {
    Severity.CRITICAL: 10.0,
    Severity.HIGH: 7.5,
    Severity.MEDIUM: 5.0,
    Severity.LOW: 2.5,
    Severity.INFO: 0.0,
}


class Scope(enum.StrEnum):
    """How the engine expands a rule: once per repo, per branch role or per environment role."""

    REPO = "repo"
    BRANCH = "branch"
    ENVIRONMENT = "environment"


@dataclass(frozen=True)
class WaiverRef:
    """The waiver that covered a result; travels with the result into every report."""

    owner: str
    reason: str
    expires: date
    expired: bool = False


@dataclass(frozen=True)
class Result:
    """One rule's verdict on one target of one repository."""

    rule: str
    family: str
    repo: str
    target: str
    status: Status
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str = ""
    control: str | None = None
    waiver: WaiverRef | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a finding across runs: the same repo, rule and target."""
        return (self.repo, self.rule, self.target)


def utcnow() -> datetime:
    """The current time in UTC; the only clock the collection and CLI layers read."""
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC ISO 8601 with a `Z`, as every report and the history print times."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PolicyRef:
    """Which policy a run evaluated: recorded with every run so trends can tell policy changes."""

    name: str
    version: int
    digest: str


@dataclass(frozen=True)
class ApiCost:
    """What a run cost on GitHub: requests sent, rate-limit units charged, retries, free 304s."""

    requests: int = 0
    rate_limit_used: int = 0
    retries: int = 0
    not_modified: int = 0
    graphql_points: int = 0


@dataclass(frozen=True)
class RepoSummary:
    """One repository's verdict in a run.

    `status` is `fail` if any result failed, else `unknown` if any was unknown/error, else `pass`.
    `score` is None when the repo has no pass/fail result to weigh.
    """

    repo: str
    status: str
    score: float | None
    coverage: float | None
    counts: dict[str, int]
    error: str | None = None


@dataclass(frozen=True)
class Run:
    """One audit run: what was evaluated, with what, at what cost, and every result."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    policy: PolicyRef
    api: ApiCost
    scope: str
    complete: bool
    repos: tuple[RepoSummary, ...]
    results: tuple[Result, ...]
