"""Hand-built results and runs for the history and trend tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from auditor import scoring
from auditor.model import ApiCost, PolicyRef, Result, Run, Severity, Status

T0 = datetime(2026, 9, 7, 6, 0, tzinfo=UTC)  # a Monday
POLICY = PolicyRef("deployment-standard", 3, "sha256:" + "ab" * 32)
FAMILY = {"branch": "branch", "reviews": "reviews", "env": "env", "docs": "docs", "secrets": "secrets"}


def result(repo: str = "acme/web", rule: str = "branch-protected", target: str = "branch:main",
           status: Status | str = Status.PASS, severity: Severity | str = Severity.HIGH, **kw: Any) -> Result:
    """A result whose family is the rule id's prefix and whose message names the target."""
    st = Status(status)
    prefix = rule.split("-", maxsplit=1)[0]
    base: dict[str, Any] = {
        "rule": rule, "family": FAMILY.get(prefix, prefix), "repo": repo,
        "target": target, "status": st, "severity": Severity(severity),
        "message": f"{repo} {target}: {rule} is {st.value}.",
        "evidence": {"target": target, "ok": st is Status.PASS}, "remediation": f"Fix {rule}.",
    }
    base.update(kw)
    return Result(**base)


def run(run_id: str, at: datetime, results: Iterable[Result], *, scope: str = "org:acme",
        complete: bool = True, api: ApiCost | None = None) -> Run:
    """A run whose repo summaries are computed the way the engine computes them."""
    rs = tuple(results)
    repos: dict[str, list[Result]] = {}
    for r in rs:
        repos.setdefault(r.repo, []).append(r)
    return Run(id=run_id, started_at=at, finished_at=at + timedelta(minutes=3), tool_version="0.1.0",
               policy=POLICY, api=api or ApiCost(requests=40, rate_limit_used=38), scope=scope,
               complete=complete, repos=tuple(scoring.summarize_repo(k, v) for k, v in repos.items()),
               results=rs)


def week(n: int) -> datetime:
    """The n-th weekly run time after T0."""
    return T0 + timedelta(weeks=n)
