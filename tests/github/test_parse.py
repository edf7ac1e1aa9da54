"""GitHub JSON -> facts, on bodies recorded from api.github.com and on OpenAPI-shaped samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.facts import ClassicProtection
from auditor.github import parse

CASSETTES = Path(__file__).parent.parent / "cassettes" / "github"


def body(name: str, index: int) -> Any:
    data = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def test_classic_protection_with_code_owner_and_last_push_reviews() -> None:
    got = parse.classic_protection(body("Branch.testEditProtection.yaml", 6))
    assert got == ClassicProtection(
        required_approvals=2,
        require_code_owner_reviews=True,
        require_last_push_approval=True,
        required_checks=(),
        strict_checks=True,
        enforce_admins=True,
    )


def test_classic_protection_merges_contexts_and_checks_and_no_reviews_means_none() -> None:
    got = parse.classic_protection(body("octokit.branch-protection.yaml", 2))
    assert (got.required_checks, got.required_approvals, got.dismiss_stale_reviews) == (("foo/bar",), 1, True)
    bare = parse.classic_protection(body("octokit.branch-protection.yaml", 1))
    assert (bare.required_checks, bare.required_approvals) == (None, None)


def test_environment_from_recorded_list() -> None:
    (env,) = body("Environment.testGetEnvironments.yaml", 4)["environments"]
    got = parse.environment(env)
    assert (got.name, got.wait_timer, got.reviewers, got.branch_policy, got.can_admins_bypass) == (
        "dev",
        15,
        ("alson",),
        "protected",
        True,
    )


def test_org_secret_keeps_visibility() -> None:
    (item,) = body("Organization.testGetSecrets.yaml", 1)["secrets"]
    got = parse.secret(item, "org")
    assert (got.name, got.visibility, got.updated_at is not None) == ("secret-name", "selected", True)


def test_viewer_permission_order_and_absence() -> None:
    assert parse.viewer_permission(body("BranchProtection.setUp.yaml", 0)) == "ADMIN"
    assert parse.viewer_permission({"permissions": {"push": True, "pull": True}}) == "WRITE"
    assert parse.viewer_permission({"permissions": {"pull": True}}) == "READ"
    assert parse.viewer_permission({}) is None


def test_ruleset_without_bypass_actors_is_unknown() -> None:
    got = parse.ruleset_info({"id": 3, "name": "org rules", "source_type": "Organization"})
    assert got.bypass_actors is None
    assert got.bypass_gap is not None and got.bypass_gap.permission == "Organization administration: write"
    shown = parse.ruleset_info({"id": 3, "name": "r", "bypass_actors": []})
    assert shown.bypass_actors == () and shown.bypass_gap is None


@pytest.mark.parametrize(
    ("text", "headings"),
    [
        ("# A\ntext\n## B ##\n", ("A", "B")),
        ("```\n# no\n```\n### C\n", ("C",)),
        ("#nospace\n    # indented code\n", ()),
    ],
)
def test_markdown_headings(text: str, headings: tuple[str, ...]) -> None:
    assert parse.markdown_headings(text) == headings


@pytest.mark.parametrize(
    ("state", "status", "conclusion", "ok"),
    [
        ("success", "completed", "success", True),
        ("failure", "completed", "failure", False),
        ("pending", "in_progress", None, False),
    ],
)
def test_commit_status(state: str, status: str, conclusion: str | None, ok: bool) -> None:
    got = parse.commit_status({"context": "ci", "state": state})
    assert (got.status, got.conclusion, got.ok, got.source) == (status, conclusion, ok, "status")


def test_deployment_from_recorded_list() -> None:
    got = parse.deployment(body("Repository.testGetDeployments.yaml", 1)[0])
    assert (got.id, got.environment, got.creator, got.state) == (263877258, "test", "jacquev6", None)
