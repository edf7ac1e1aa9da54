"""Hand-built ReportInputs for renderer tests: twelve weekly runs over several repositories.

The latest run has every status, waivers (active, expiring, expired), new, fixed and regressed
findings, and a hostile repository whose names, messages and evidence carry script tags,
`javascript:` URLs, Markdown/HTML injection, @mentions, issue refs, pipes and 5,000-character
strings. Everything is fixed in time so golden files are stable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditor.model import ApiCost, PolicyRef, RepoSummary, Result, Run, Severity, Status, WaiverRef
from auditor.report.inputs import ReportInput, RepoTrend, TrendPoint, WaiverStatus
from auditor.report.view import run_coverage, run_score

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
POLICY = PolicyRef("deployment-standard", 3, "sha256:" + "ab" * 32)
PWNED = "PWNED"  # what a hostile payload would write into document.title if it ever ran
HOSTILE_REPO = "evil/<script>document.title='PWNED'</script>"
HOSTILE_LONG = "A" * 5000
HOSTILE_BRANCH = "branch:<img src=x onerror=\"document.title='PWNED'\">"
HOSTILE_MESSAGE = (
    "Branch [click](javascript:alert(1)) pinged @octocat and @acme/admins about #123 | a pipe | "
    "<b>bold</b> ![x](https://evil.example/p.png) `code` *em* _u_ ~~s~~."
)


@dataclass(frozen=True)
class FakeRule:
    """Catalog metadata for tests, independent of the shipped catalog so golden files stay put."""

    title: str
    family: str
    remediation: str
    permission: str


RULES: dict[str, FakeRule] = {
    "branch-protected": FakeRule(
        "Role branches are protected",
        "branch",
        "Protect the branch with a ruleset or classic protection.",
        "Administration: read",
    ),
    "branch-no-force-push": FakeRule(
        "Force pushes are blocked", "branch", "Block force pushes on the branch.", "Administration: read"
    ),
    "reviews-required-approvals": FakeRule(
        "Pull requests need approvals",
        "reviews",
        "Require the policy's number of approving reviews.",
        "Administration: read",
    ),
    "env-required-reviewers": FakeRule(
        "Production deployments need a reviewer",
        "env",
        "Add required reviewers to the environment.",
        "Administration: read",
    ),
    "secrets-env-scoped": FakeRule(
        "Deploy credentials live in environments",
        "secrets",
        "Move the secret into the environment that uses it.",
        "Secrets: read",
    ),
    "checks-ci-on-pr": FakeRule(
        "CI runs on pull requests", "checks", "Add a workflow that runs on pull_request.", "Contents: read"
    ),
    "docs-rollback": FakeRule("A rollback runbook exists", "docs", "Write docs/rollback.md.", "Contents: read"),
    # "security-dependabot-alerts" is deliberately missing: renderers fall back to the id.
}


def result(
    rule: str,
    repo: str,
    target: str,
    status: Status,
    severity: Severity = Severity.HIGH,
    message: str | None = None,
    **kw: Any,
) -> Result:
    """A result with a family taken from the rule id and a plain message."""
    family = rule.split("-", 1)[0]
    msg = message or f"{target} in {repo} is {status}."
    defaults: dict[str, Any] = {
        "evidence": {"source": "ruleset:Protect main"},
        "remediation": "",
        "control": "Change Management",
    }
    defaults.update(kw)
    return Result(rule, family, repo, target, status, severity, msg, **defaults)


WAIVER = WaiverRef("platform-team", "Legacy deploy pipeline until Q1 migration.", date(2026, 12, 3))
EXPIRED_WAIVER = WaiverRef(
    "@everyone", "<script>document.title='PWNED'</script> until fixed", date(2026, 11, 20), expired=True
)


def latest_results() -> tuple[Result, ...]:
    """The latest run's results: every status, several repos, one hostile repository."""
    s = Status
    return (
        result("branch-protected", "acme/web", "branch:main", s.PASS),
        result(
            "branch-no-force-push",
            "acme/web",
            "branch:main",
            s.FAIL,
            Severity.HIGH,
            "Branch main allows force pushes.",
            evidence={"allow_force_pushes": True, "source": "classic"},
            remediation="Settings > Branches > main: untick 'Allow force pushes'.",
        ),
        result(
            "reviews-required-approvals",
            "acme/web",
            "branch:main",
            s.FAIL,
            Severity.HIGH,
            "Branch main requires 1 approving review; the policy wants 2.",
            evidence={"required": 2, "actual": 1, "source": "ruleset:Protect main"},
            remediation="Settings > Rules > Rulesets > Protect main: set required approvals to 2.",
            control="Code Reviews",
        ),
        result(
            "env-required-reviewers",
            "acme/web",
            "environment:production",
            s.UNKNOWN,
            Severity.CRITICAL,
            "Reviewers of environment production are unknown: needs Administration: read.",
            evidence={"reason": "Resource not accessible by integration", "permission": "Administration: read"},
        ),
        result("checks-ci-on-pr", "acme/web", "workflow:.github/workflows/ci.yml", s.PASS, Severity.MEDIUM),
        result(
            "docs-rollback",
            "acme/web",
            "file:docs/rollback.md",
            s.FAIL,
            Severity.LOW,
            "File docs/rollback.md is missing.",
            evidence={"path": "docs/rollback.md"},
        ),
        result("branch-protected", "acme/api", "branch:main", s.PASS),
        result("branch-no-force-push", "acme/api", "branch:main", s.PASS),
        result(
            "reviews-required-approvals",
            "acme/api",
            "branch:main",
            s.WAIVED,
            Severity.HIGH,
            "Branch main requires 0 approving reviews; the policy wants 2.",
            waiver=WAIVER,
        ),
        result(
            "secrets-env-scoped",
            "acme/api",
            "secret:DEPLOY_KEY",
            s.FAIL,
            Severity.CRITICAL,
            "Secret DEPLOY_KEY is a repository secret used by a deploy job.",
            evidence={"used_in": [".github/workflows/deploy.yml"], "scope": "repository"},
        ),
        result(
            "security-dependabot-alerts",
            "acme/api",
            "repo",
            s.ERROR,
            Severity.MEDIUM,
            "Rule security-dependabot-alerts raised KeyError: 'state'.",
        ),
        result(
            "checks-ci-on-pr",
            "acme/api",
            "workflow:.github/workflows/ci.yml",
            s.NOT_APPLICABLE,
            Severity.MEDIUM,
            "No workflow targets branch main.",
        ),
        result("branch-protected", "acme/payments", "branch:main", s.PASS, Severity.CRITICAL),
        result("env-required-reviewers", "acme/payments", "environment:production", s.PASS, Severity.CRITICAL),
        result("docs-rollback", "acme/payments", "file:docs/rollback.md", s.PASS, Severity.LOW),
        # The hostile repository: every string is attacker-controlled.
        result(
            "branch-protected",
            HOSTILE_REPO,
            HOSTILE_BRANCH,
            s.FAIL,
            Severity.CRITICAL,
            HOSTILE_MESSAGE,
            evidence={
                "name": "<svg onload=alert(1)>",
                "url": "javascript:alert(document.cookie)",
                "ref": "@octocat #42 | x",
            },
            remediation="Click ![img](https://evil.example/x.png) and [here](javascript:alert(1)).",
            control="</td></tr></table><script>document.title='PWNED'</script>",
        ),
        result(
            "secrets-env-scoped",
            HOSTILE_REPO,
            "secret:" + HOSTILE_LONG,
            s.FAIL,
            Severity.MEDIUM,
            "Secret " + HOSTILE_LONG + " is a repository secret.",
            evidence={"blob": HOSTILE_LONG},
        ),
        result(
            "checks-ci-on-pr",
            HOSTILE_REPO,
            "workflow:.github/workflows/<script>.yml",
            s.UNKNOWN,
            Severity.MEDIUM,
            "Workflow <script>alert(1)</script> could not be read: needs Contents: read.",
        ),
        result(
            "reviews-required-approvals",
            HOSTILE_REPO,
            "pr:7 javascript:alert(1)",
            s.WAIVED,
            Severity.HIGH,
            "PR title '<img src=x onerror=alert(1)>' was merged without review.",
            waiver=EXPIRED_WAIVER,
        ),
    )


def summaries(results: tuple[Result, ...]) -> tuple[RepoSummary, ...]:
    """RepoSummary per repo, computed the documented way."""
    out = []
    for repo in dict.fromkeys(r.repo for r in results):
        rs = [r for r in results if r.repo == repo]
        statuses = {r.status for r in rs}
        status = (
            "fail" if Status.FAIL in statuses else "unknown" if statuses & {Status.UNKNOWN, Status.ERROR} else "pass"
        )
        counts = {str(s): sum(1 for r in rs if r.status is s) for s in Status}
        out.append(RepoSummary(repo, status, run_score(rs), run_coverage(rs), counts))
    return tuple(out)


def make_run(results: tuple[Result, ...], at: datetime, run_id: str | None = None) -> Run:
    """A complete org run at `at`."""
    return Run(
        id=run_id or f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}-r{at.isocalendar().week:02d}",
        started_at=at,
        finished_at=at + timedelta(seconds=42),
        tool_version="0.1.0",
        policy=POLICY,
        api=ApiCost(requests=41, rate_limit_used=38),
        scope="org:acme",
        complete=True,
        repos=summaries(results),
        results=results,
    )


def trend_points(latest: Run, previous: Run) -> tuple[TrendPoint, ...]:
    """Twelve weekly points; the last two are the real runs, earlier ones a steady improvement."""
    points = []
    for week in range(10):
        at = NOW - timedelta(weeks=11 - week)
        failing = {"critical": max(0, 4 - week // 3), "high": 6 - week // 2, "medium": 3, "low": 2, "info": 0}
        points.append(
            TrendPoint(
                run_id=f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}-r{at.isocalendar().week:02d}",
                at=at,
                score=None if week == 3 else round(0.40 + week * 0.025, 3),  # week 3: run aborted, no score
                coverage=round(0.70 + week * 0.015, 3),
                counts={"pass": 20 + week, "fail": sum(failing.values()), "unknown": 6 - week // 2},
                failing_by_severity=failing,
                repos=4,
            )
        )
    for run in (previous, latest):
        fails = [r for r in run.results if r.status is Status.FAIL]
        points.append(
            TrendPoint(
                run_id=run.id,
                at=run.started_at,
                score=run_score(run.results),
                coverage=run_coverage(run.results),
                counts={str(s): sum(1 for r in run.results if r.status is s) for s in Status},
                failing_by_severity={str(s): sum(1 for r in fails if r.severity is s) for s in Severity},
                repos=len(run.repos),
            )
        )
    return tuple(points)


def report_input(results: tuple[Result, ...] | None = None) -> ReportInput:
    """The full fixture: latest run, the run a week before, trend, new/fixed, waivers."""
    latest_rs = latest_results() if results is None else results
    # A week ago: force pushes were still blocked on acme/web (so that failure is new), and
    # acme/payments' environment had no reviewer (fixed since).
    fixed = result(
        "env-required-reviewers",
        "acme/payments",
        "environment:production",
        Status.FAIL,
        Severity.CRITICAL,
        "Environment production has no required reviewers.",
    )
    prev_rs = tuple(
        replace(r, status=Status.PASS, message="Branch main blocks force pushes.")
        if (r.repo, r.rule) == ("acme/web", "branch-no-force-push")
        else fixed
        if r.key == fixed.key
        else r
        for r in latest_rs
    )
    previous = make_run(prev_rs, NOW - timedelta(weeks=1))
    latest = make_run(latest_rs, NOW)
    prev_fail = {r.key for r in prev_rs if r.status is Status.FAIL}
    new = tuple(r for r in latest_rs if r.status is Status.FAIL and r.key not in prev_fail)
    fixed_now = tuple(
        r
        for r in prev_rs
        if r.status is Status.FAIL and r.key not in {x.key for x in latest_rs if x.status is Status.FAIL}
    )
    first_seen = {
        r.key: NOW - timedelta(weeks=(6 if r.repo == "acme/web" else 3)) for r in latest_rs if r.status is Status.FAIL
    }
    for r in new:
        first_seen[r.key] = NOW
    return ReportInput(
        run=latest,
        previous=previous,
        trend=trend_points(latest, previous),
        new_findings=new,
        fixed_findings=fixed_now,
        regressions=tuple(r for r in new if r.repo == "acme/web"),
        first_seen=first_seen,
        repo_trends=(
            RepoTrend("acme/web", 0.61, 0.74),
            RepoTrend("acme/payments", 1.0, 0.72),
            RepoTrend("acme/api", 0.55, 0.55),
            RepoTrend(HOSTILE_REPO, 0.0, None),
        ),
        waivers=(
            WaiverStatus(
                "reviews-required-approvals",
                ("acme/api",),
                ("branch:main",),
                WAIVER.owner,
                WAIVER.reason,
                WAIVER.expires,
                7,
                1,
            ),
            WaiverStatus(
                "reviews-required-approvals",
                (HOSTILE_REPO,),
                ("pr:7 javascript:alert(1)",),
                EXPIRED_WAIVER.owner,
                EXPIRED_WAIVER.reason,
                EXPIRED_WAIVER.expires,
                -6,
                1,
            ),
            WaiverStatus("docs-rollback", (), (), "docs-guild", "Runbooks move to the wiki.", date(2027, 3, 1), 95, 0),
        ),
        generated_at=NOW + timedelta(minutes=5),
        mean_time_to_resolve_days=12.5,
        filters={"org": "acme"},
    )


def many_findings(n: int) -> ReportInput:
    """A report with `n` extra failing findings, to push the Markdown short form over its limit."""
    extra = tuple(
        result(
            "branch-no-force-push",
            f"acme/service-{i:04d}",
            f"branch:release/{i}-" + "x" * 80,
            Status.FAIL,
            Severity.MEDIUM,
            f"Branch release/{i} allows force pushes; " + "detail " * 30,
        )
        for i in range(n)
    )
    return report_input(latest_results() + extra)
