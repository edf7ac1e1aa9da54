"""Builders for pull requests, reviews, checks, workflows and commits in rule tests.

Times are given as days before `tests.factories.NOW`, so a table row reads as "merged 3 days ago".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from auditor.facts import (
    BranchCommits,
    CheckResult,
    Commit,
    Job,
    PullRequest,
    PullRequests,
    Review,
    Trigger,
    Workflow,
    Workflows,
)
from tests.factories import NOW

PR_GAP_REASON = "Resource not accessible by integration"


def ago(days: float) -> datetime:
    """`days` before NOW."""
    return NOW - timedelta(days=days)


def review(author: str, state: str = "APPROVED", days: float = 2.0) -> Review:
    """A review submitted `days` before NOW."""
    return Review(author=author, state=state, submitted_at=ago(days))


def check(name: str, conclusion: str | None = "success", status: str = "completed") -> CheckResult:
    """A check run on a PR head."""
    return CheckResult(name=name, status=status, conclusion=conclusion)


def pr(number: int, head: str = "feature/x", base: str = "main", days: float = 1.0, **kw: Any) -> PullRequest:
    """A PR by `alice` merged `days` before NOW, with no reviews and no checks unless given."""
    base_kw: dict[str, Any] = {"number": number, "title": f"Change {number}", "author": "alice",
                               "head_ref": head, "base_ref": base, "head_sha": f"{number:040d}",
                               "head_repo": "acme/web", "merged_at": ago(days), "reviews": (), "checks": ()}
    base_kw.update(kw)
    return PullRequest(**base_kw)


def prs(*items: PullRequest, since_days: float = 90.0, **kw: Any) -> PullRequests:
    """Merged PRs collected over the last `since_days` days."""
    return PullRequests(items=items, since=ago(since_days), **kw)


def job(job_id: str, name: str | None = None, **kw: Any) -> Job:
    """A workflow job."""
    return Job(id=job_id, name=name, **kw)


def workflow(path: str, *triggers: Trigger, jobs: tuple[Job, ...] = (), **kw: Any) -> Workflow:
    """A parsed workflow at .github/workflows/<path>."""
    return Workflow(path=f".github/workflows/{path}", triggers=triggers, jobs=jobs, **kw)


def workflows(*items: Workflow, **kw: Any) -> Workflows:
    """Workflows on the production branch."""
    return Workflows(items=items, ref="main", **kw)


def commit(sha: str, days: float = 1.0, pulls: tuple[int, ...] | None = (1,), **kw: Any) -> Commit:
    """A commit `days` before NOW associated with `pulls` (None: association unknown)."""
    return Commit(sha=sha, committed_at=ago(days), pull_requests=pulls, **kw)


def commits(branch_name: str, *items: Commit, **kw: Any) -> tuple[BranchCommits, ...]:
    """The `commits` section holding one branch's commits."""
    return (BranchCommits(branch=branch_name, items=items, since=ago(90), **kw),)
