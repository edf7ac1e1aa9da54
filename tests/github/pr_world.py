"""Pull request #42 of `acme/web` shaped like GitHub's OpenAPI answers, for the gate collector tests.

Feature branch `feature/login` (head sha `h42`) into `staging`. The PR changes one workflow (made
unsafe: it checks out the PR head under pull_request_target), removes another, renames a doc and
touches app code. Only the endpoints the gate may use are registered, so any other request is a
404 the tests would notice.
"""

from __future__ import annotations

from typing import Any

from tests.github.fake_github import FakeGitHub, Reply
from tests.github.world import R, ago, blob

HEAD = "h42"
NUMBER = 42

CHANGED_WORKFLOW = """name: preview
on: pull_request_target
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: ${{ github.event.pull_request.head.sha }}
      - uses: some/action@main
"""

FILES = [
    {"filename": "src/login.py", "status": "modified", "sha": "b1"},
    {"filename": ".github/workflows/preview.yml", "status": "modified", "sha": "b-prev"},
    {"filename": ".github/workflows/old.yml", "status": "removed", "sha": "b-old"},
    {"filename": "docs/login.md", "status": "renamed", "previous_filename": "docs/auth.md", "sha": "b-doc"},
]


def base_repo() -> dict[str, Any]:
    return {
        "full_name": "acme/web",
        "default_branch": "main",
        "visibility": "private",
        "private": True,
        "archived": False,
        "fork": False,
        "topics": ["payments"],
        "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
    }


def pull(head_repo: str | None = "acme/web", base: str = "staging") -> dict[str, Any]:
    return {
        "number": NUMBER,
        "title": "Log in with passkeys",
        "user": {"login": "dev"},
        "state": "open",
        "created_at": ago(1),
        "merged_at": None,
        "merge_commit_sha": None,
        "head": {
            "ref": "feature/login",
            "sha": HEAD,
            "repo": {"full_name": head_repo} if head_repo else None,
        },
        "base": {"ref": base, "sha": "s1", "repo": base_repo()},
    }


def pr_world(
    fake: FakeGitHub,
    *,
    head_repo: str | None = "acme/web",
    files: list[dict[str, Any]] | None = None,
    admin: bool = False,
) -> None:
    """Register every answer the gate may ask about PR #42."""
    fake.add(f"{R}/pulls/{NUMBER}", pull(head_repo))
    fake.add(f"{R}/pulls/{NUMBER}/files", FILES if files is None else files)
    fake.add(
        f"{R}/pulls/{NUMBER}/reviews",
        [
            {"user": {"login": "bob"}, "state": "APPROVED", "submitted_at": ago(0.5), "commit_id": HEAD},
            {"user": {"login": "dev"}, "state": "COMMENTED", "submitted_at": ago(0.4), "commit_id": HEAD},
        ],
    )
    fake.add(
        f"{R}/commits/{HEAD}/check-runs",
        {"total_count": 1, "check_runs": [{"name": "test", "status": "completed", "conclusion": "success"}]},
    )
    fake.add(f"{R}/commits/{HEAD}/status", {"state": "success", "statuses": [{"context": "lint", "state": "success"}]})
    fake.add(f"{R}/branches/staging", {"name": "staging", "commit": {"sha": "s1"}, "protected": True})
    if admin:
        fake.add(
            f"{R}/branches/staging/protection",
            {"required_status_checks": {"strict": False, "contexts": ["lint"]}, "enforce_admins": {"enabled": False}},
        )
    else:
        fake.add(
            f"{R}/branches/staging/protection",
            Reply(
                403,
                {"message": "Resource not accessible by integration"},
                {"X-Accepted-GitHub-Permissions": "administration=read"},
            ),
        )
    fake.add(
        f"{R}/rules/branches/staging",
        [
            {
                "type": "required_status_checks",
                "ruleset_source_type": "Repository",
                "ruleset_source": "acme/web",
                "ruleset_id": 8,
                "parameters": {"required_status_checks": [{"context": "test"}]},
            },
            {
                "type": "pull_request",
                "ruleset_source_type": "Repository",
                "ruleset_source": "acme/web",
                "ruleset_id": 8,
                "parameters": {"required_approving_review_count": 1, "require_code_owner_review": True},
            },
        ],
    )
    fake.add(
        f"{R}/contents/.github/workflows",
        [
            {"type": "file", "path": ".github/workflows/preview.yml", "sha": "b-prev"},
            {"type": "file", "path": ".github/workflows/ci.yml", "sha": "b-ci"},
            {"type": "dir", "path": ".github/workflows/templates", "sha": "d-t"},
        ],
        query={"ref": HEAD},
    )
    fake.add(f"{R}/git/blobs/b-prev", blob(CHANGED_WORKFLOW))
    fake.add(
        f"{R}/git/trees/{HEAD}",
        {
            "sha": "t42",
            "truncated": False,
            "tree": [
                {"path": ".github/CODEOWNERS", "type": "blob", "sha": "b-co"},
                {"path": ".github/workflows/preview.yml", "type": "blob", "sha": "b-prev"},
                {"path": ".github/workflows/ci.yml", "type": "blob", "sha": "b-ci"},
                {"path": "README.md", "type": "blob", "sha": "b-readme"},
                {"path": "docs/login.md", "type": "blob", "sha": "b-doc"},
            ],
        },
        query={"recursive": "1"},
    )
