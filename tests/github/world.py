"""A fake GitHub repository `acme/web` shaped like GitHub's OpenAPI answers, for collector tests.

Every endpoint FULL_PLAN touches is registered, so the request log shows exactly what one repo
costs. Variants (`admin=False`, failing endpoints) let tests check gaps.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.github.fake_github import FakeGitHub, Reply

R = "/repos/acme/web"
NOW = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def blob(text: str) -> dict[str, Any]:
    return {"sha": "x", "encoding": "base64", "content": base64.b64encode(text.encode()).decode()}


def commit(sha: str, days: float, login: str = "dev", parents: int = 1) -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {"message": f"change {sha}", "committer": {"date": ago(days)}, "author": {"name": login}},
        "author": {"login": login},
        "parents": [{"sha": f"p{i}"} for i in range(parents)],
    }


def pr(
    number: int, base: str, merged_days: float | None, updated_days: float, sha: str, merge_sha: str
) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"PR {number}",
        "user": {"login": "dev"},
        "state": "closed",
        "head": {"ref": f"feature-{number}", "sha": sha, "repo": {"full_name": "acme/web"}},
        "base": {"ref": base},
        "created_at": ago(updated_days + 1),
        "updated_at": ago(updated_days),
        "merged_at": ago(merged_days) if merged_days is not None else None,
        "merge_commit_sha": merge_sha,
    }


WORKFLOW = """name: deploy
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - uses: actions/checkout@v4
"""


def full_world(fake: FakeGitHub, *, admin: bool = True) -> None:
    """Register every answer FULL_PLAN needs for acme/web."""
    repo: dict[str, Any] = {
        "full_name": "acme/web",
        "default_branch": "main",
        "visibility": "private",
        "private": True,
        "archived": False,
        "fork": False,
        "topics": ["payments"],
        "permissions": {"admin": admin, "maintain": admin, "push": True, "triage": True, "pull": True},
    }
    if admin:
        repo["security_and_analysis"] = {
            "secret_scanning": {"status": "enabled"},
            "secret_scanning_push_protection": {"status": "disabled"},
        }
    fake.add(R, repo)
    fake.add(f"{R}/branches/main", {"name": "main", "commit": {"sha": "m1"}, "protected": True})
    fake.add(f"{R}/branches/staging", {"name": "staging", "commit": {"sha": "s1"}, "protected": False})
    if admin:
        fake.add(
            f"{R}/branches/main/protection",
            {
                "required_pull_request_reviews": {"required_approving_review_count": 2, "dismiss_stale_reviews": True},
                "required_status_checks": {"strict": True, "contexts": ["ci"], "checks": [{"context": "ci"}]},
                "enforce_admins": {"enabled": True},
                "allow_force_pushes": {"enabled": False},
            },
        )
        fake.add(f"{R}/branches/staging/protection", Reply(404, {"message": "Branch not protected"}))
        fake.add(f"{R}/vulnerability-alerts", Reply(204))
        fake.add(f"{R}/actions/permissions/workflow", {"default_workflow_permissions": "read"})
        fake.add(f"{R}/hooks", [{"id": 5, "events": ["deployment_status"], "active": True, "config": {"url": "x"}}])
        fake.add(
            f"{R}/rulesets/7",
            {
                "id": 7,
                "name": "Protect main",
                "enforcement": "active",
                "source_type": "Repository",
                "source": "acme/web",
                "bypass_actors": [{"actor_id": 1, "actor_type": "OrganizationAdmin", "bypass_mode": "always"}],
            },
        )
    else:
        for path in (
            f"{R}/branches/main/protection",
            f"{R}/branches/staging/protection",
            f"{R}/hooks",
            f"{R}/actions/permissions/workflow",
        ):
            fake.add(
                path,
                Reply(
                    403,
                    {"message": "Resource not accessible by integration"},
                    {"X-Accepted-GitHub-Permissions": "administration=read"},
                ),
            )
        fake.add(f"{R}/vulnerability-alerts", Reply(404, {"message": "Not Found"}))
        fake.add(
            f"{R}/rulesets/7",
            {
                "id": 7,
                "name": "Protect main",
                "enforcement": "active",
                "source_type": "Repository",
                "source": "acme/web",
            },
        )
    fake.add(
        f"{R}/rules/branches/main",
        [
            {
                "type": "pull_request",
                "ruleset_source_type": "Repository",
                "ruleset_source": "acme/web",
                "ruleset_id": 7,
                "parameters": {"required_approving_review_count": 1},
            },
            {"type": "deletion", "ruleset_source_type": "Repository", "ruleset_source": "acme/web", "ruleset_id": 7},
        ],
    )
    fake.add(f"{R}/rules/branches/staging", [])
    fake.add(
        f"{R}/environments",
        {
            "total_count": 3,
            "environments": [
                {
                    "name": "production",
                    "can_admins_bypass": False,
                    "protection_rules": [
                        {"type": "wait_timer", "wait_timer": 10},
                        {
                            "type": "required_reviewers",
                            "prevent_self_review": True,
                            "reviewers": [
                                {"type": "User", "reviewer": {"login": "alice"}},
                                {"type": "Team", "reviewer": {"slug": "release-managers", "name": "Release Managers"}},
                            ],
                        },
                        {"type": "branch_policy"},
                    ],
                    "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
                },
                {
                    "name": "staging",
                    "protection_rules": [],
                    "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False},
                },
                {"name": "preview", "protection_rules": [], "deployment_branch_policy": None},
            ],
        },
    )
    fake.add(
        f"{R}/environments/production/deployment-branch-policies",
        {"total_count": 2, "branch_policies": [{"name": "main", "type": "branch"}, {"name": "v*", "type": "tag"}]},
    )
    fake.add(
        f"{R}/environments/production/deployment_protection_rules",
        {
            "total_count": 1,
            "custom_deployment_protection_rules": [{"id": 3, "enabled": True, "app": {"slug": "datadog"}}],
        },
    )
    fake.add(
        f"{R}/environments/staging/deployment_protection_rules",
        {"total_count": 0, "custom_deployment_protection_rules": []},
    )
    fake.add(
        f"{R}/environments/production/secrets",
        {"total_count": 1, "secrets": [{"name": "DEPLOY_KEY", "created_at": ago(100), "updated_at": ago(10)}]},
    )
    fake.add(f"{R}/environments/staging/secrets", {"total_count": 0, "secrets": []})
    fake.add(
        f"{R}/actions/secrets",
        {"total_count": 1, "secrets": [{"name": "NPM_TOKEN", "created_at": ago(400), "updated_at": ago(300)}]},
    )
    fake.add(
        f"{R}/actions/organization-secrets",
        {"total_count": 1, "secrets": [{"name": "ORG_WIDE", "created_at": ago(50), "updated_at": ago(50)}]},
    )
    fake.add(
        "/orgs/acme/actions/secrets",
        {
            "total_count": 1,
            "secrets": [{"name": "ORG_WIDE", "created_at": ago(50), "updated_at": ago(50), "visibility": "all"}],
        },
    )
    fake.add(
        f"{R}/git/trees/main",
        {
            "sha": "t",
            "truncated": False,
            "tree": [
                {"path": ".github", "type": "tree", "sha": "d1"},
                {"path": ".github/CODEOWNERS", "type": "blob", "sha": "b-co"},
                {"path": ".github/workflows/deploy.yml", "type": "blob", "sha": "b-wf1"},
                {"path": ".github/workflows/ci.yaml", "type": "blob", "sha": "b-wf2"},
                {"path": ".github/workflows/notes.txt", "type": "blob", "sha": "b-txt"},
                {"path": "README.md", "type": "blob", "sha": "b-readme"},
                {"path": "docs/deployment.md", "type": "blob", "sha": "b-deploy"},
            ],
        },
        query={"recursive": "1"},
    )
    fake.add(
        f"{R}/codeowners/errors",
        {"errors": [{"line": 3, "column": 1, "kind": "Unknown owner", "message": "Unknown owner on line 3"}]},
    )
    fake.add(f"{R}/git/blobs/b-wf1", blob(WORKFLOW))
    fake.add(
        f"{R}/git/blobs/b-wf2", blob("on: [pull_request]\njobs:\n  test:\n    runs-on: x\n    steps: [{run: make}]\n")
    )
    fake.add(f"{R}/git/blobs/b-readme", blob("# Web\n\n```\n# not a heading\n```\n## Deploying\n"))
    fake.add(f"{R}/git/blobs/b-deploy", blob("# Deployment\n## Rollback ##\n"))
    fake.add(f"{R}/commits", [commit("d1", 40)], query={"path": "README.md"})
    fake.add(f"{R}/commits", [commit("d2", 5)], query={"path": "docs/deployment.md"})
    fake.add(f"{R}/commits", [commit("w1", 2)], query={"path": ".github/workflows"})
    fake.add(
        f"{R}/pulls",
        [pr(1, "main", 3, 3, "h1", "m1"), pr(9, "main", None, 4, "h9", "x9"), pr(8, "main", 60, 40, "h8", "m8")],
        query={"base": "main"},
    )
    fake.add(f"{R}/pulls", [pr(2, "staging", 5, 5, "h2", "s1")], query={"base": "staging"})
    fake.add(
        f"{R}/pulls/1/reviews",
        [{"user": {"login": "bob"}, "state": "APPROVED", "submitted_at": ago(3), "commit_id": "h1"}],
    )
    fake.add(f"{R}/pulls/2/reviews", [])
    for sha in ("h1", "h2"):
        fake.add(
            f"{R}/commits/{sha}/check-runs",
            {"total_count": 1, "check_runs": [{"name": "ci", "status": "completed", "conclusion": "success"}]},
        )
        fake.add(
            f"{R}/commits/{sha}/status",
            {"state": "pending", "statuses": [{"context": "legacy/ci", "state": "pending"}]},
        )
    fake.add(f"{R}/commits", [commit("m1", 3, parents=2), commit("m0", 6)], query={"sha": "main", "per_page": "100"})
    fake.add(f"{R}/commits", [commit("s1", 5), commit("s0", 6)], query={"sha": "staging", "per_page": "100"})
    fake.add(
        f"{R}/commits/m0/pulls",
        [
            {"number": 4, "merged_at": ago(6), "base": {"ref": "main"}},
            {"number": 5, "merged_at": None, "base": {"ref": "main"}},
        ],
    )
    fake.add(
        f"{R}/deployments",
        [
            {
                "id": 11,
                "environment": "production",
                "sha": "m1",
                "ref": "main",
                "created_at": ago(2),
                "creator": {"login": "deployer"},
            },
            {"id": 10, "environment": "production", "sha": "m8", "ref": "main", "created_at": ago(45)},
        ],
        query={"environment": "production"},
    )
    fake.add(f"{R}/deployments", [], query={"environment": "staging"})
    fake.add(
        f"{R}/deployments/11/statuses",
        [{"state": "success", "created_at": ago(2)}, {"state": "in_progress", "created_at": ago(2.01)}],
    )
