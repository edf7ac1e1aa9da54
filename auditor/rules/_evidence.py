"""Evidence helpers shared by reviews-evidence, checks-evidence and the flow rules.

They answer the same questions for every evidence rule: which pull requests were merged into a
branch in the window (or why that is unknown), and whether the judged pull requests meet a ratio
when some of them could not be observed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditor.facts import Gap, PullRequest
from auditor.model import Status
from auditor.rules.base import Context, Outcome, Rule

PR_READ = "Pull requests: read"
PRS_NOT_COLLECTED = Gap("the merged pull requests were not collected", PR_READ)
# The collector stamps `since` and `collected_at` at slightly different moments of a run; a window
# start within this slack of `since` still counts as covered.
_CLOCK_SLACK = timedelta(hours=1)
# Evidence lists of pull request numbers are capped so one result stays readable.
LIST_CAP = 20

WINDOW_PARAM: dict[str, Any] = {"type": "integer", "min": 1, "default": 30}
RATIO_PARAM: dict[str, Any] = {"type": "float", "min": 0.0, "max": 1.0, "default": 1.0}


def merged_prs(rule: Rule, ctx: Context, base: str, target: str, days: int) -> list[PullRequest] | Outcome:
    """Pull requests merged into `base` within `days` of collection, or the unknown to report.

    Unknown when the pull requests were not collected, could not be read, or were collected over
    a shorter window than the rule asks for (older merges would be missing, not absent).
    """
    prs = ctx.facts.pull_requests
    what = f"The list of pull requests merged into {base} in the last {days} days"
    if prs is None:
        return rule.unknown(target, what, PRS_NOT_COLLECTED)
    if prs.gap is not None:
        return rule.unknown(target, what, prs.gap)
    start = ctx.window_start(days)
    if prs.since is not None and prs.since > start + _CLOCK_SLACK:
        short = Gap(f"pull requests were collected only since {prs.since.isoformat()}", PR_READ)
        return rule.unknown(target, what, short, window_start=start.isoformat())
    return [p for p in prs.items if p.base_ref == base and p.merged_at is not None and p.merged_at >= start]


@dataclass(frozen=True)
class Tally:
    """Pull requests of an evidence window sorted into compliant, failing and unobservable."""

    good: tuple[int, ...]
    bad: tuple[int, ...]
    unknown: tuple[int, ...]
    gap: Gap | None = None  # why the first unobservable pull request is unobservable

    @property
    def total(self) -> int:
        """How many pull requests were judged."""
        return len(self.good) + len(self.bad) + len(self.unknown)

    def verdict(self, min_ratio: float) -> Status:
        """PASS or FAIL when the unobservable pull requests cannot change it, else UNKNOWN."""
        if len(self.good) / self.total >= min_ratio:
            return Status.PASS
        if (len(self.good) + len(self.unknown)) / self.total < min_ratio:
            return Status.FAIL
        return Status.UNKNOWN

    def evidence(self, min_ratio: float, days: int) -> dict[str, Any]:
        """Counts, the ratio, and (capped) numbers of failing and unobservable pull requests."""
        return {
            "window_days": days,
            "merged": self.total,
            "compliant": len(self.good),
            "failing": len(self.bad),
            "unobserved": len(self.unknown),
            "ratio": round(len(self.good) / self.total, 3),
            "min_ratio": min_ratio,
            "failing_prs": list(self.bad[:LIST_CAP]),
            "unobserved_prs": list(self.unknown[:LIST_CAP]),
        }


Judge = Callable[[PullRequest], tuple[bool | None, Gap | None]]


def tally(prs: Sequence[PullRequest], judge: Judge) -> Tally:
    """Sort `prs` with `judge(pr) -> (bool | None, Gap | None)`; None means unobservable."""
    good: list[int] = []
    bad: list[int] = []
    unknown: list[int] = []
    gap: Gap | None = None
    for pr in sorted(prs, key=lambda p: p.number):
        ok, why = judge(pr)
        if ok is None:
            unknown.append(pr.number)
            gap = gap or why
        elif ok:
            good.append(pr.number)
        else:
            bad.append(pr.number)
    return Tally(tuple(good), tuple(bad), tuple(unknown), gap)


def percent(ratio: float) -> str:
    """A ratio as a whole percentage for messages, e.g. 0.8 -> '80%'."""
    return f"{ratio * 100:.0f}%"
