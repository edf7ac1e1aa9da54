"""PyGithub, configured as the collector configures it, reads the sandbox like GitHub."""

from __future__ import annotations

from collections.abc import Iterator

import github
import pytest

from auditor.sandbox import SandboxServer, serve
from tests.sandbox.client import DEMO, demo_world


@pytest.fixture(scope="module")
def gh() -> Iterator[tuple[github.Github, SandboxServer]]:
    with serve(demo_world()) as srv:
        g = github.Github(base_url=srv.url, auth=github.Auth.Token(DEMO), retry=None, seconds_between_requests=None,
                          seconds_between_writes=None)
        yield g, srv
        g.close()


def test_repo_branch_and_protection(gh: tuple[github.Github, SandboxServer]) -> None:
    g, _ = gh
    repo = g.get_repo("acme-demo/payments-api")
    assert repo.default_branch == "main"
    assert repo.security_and_analysis.secret_scanning_push_protection.status == "enabled"
    branch = repo.get_branch("main")
    assert branch.protected is True
    protection = branch.get_protection()
    assert protection.required_pull_request_reviews.required_approving_review_count == 2
    assert protection.required_status_checks.contexts == ["test", "lint"]
    assert protection.enforce_admins is True
    assert protection.allow_force_pushes is False


def test_environments_and_secrets(gh: tuple[github.Github, SandboxServer]) -> None:
    g, _ = gh
    repo = g.get_repo("acme-demo/payments-api")
    envs = {e.name: e for e in repo.get_environments()}
    assert set(envs) == {"production", "staging"}
    prod = repo.get_environment("production")
    assert prod.deployment_branch_policy.custom_branch_policies is True
    kinds = {rule.type for rule in prod.protection_rules}
    assert kinds == {"wait_timer", "required_reviewers", "branch_policy"}
    assert sorted(s.name for s in prod.get_secrets()) == ["DATABASE_URL", "DEPLOY_KEY"]
    assert [s.name for s in repo.get_secrets()] == ["CODECOV_UPLOAD_ID"]
    org = g.get_organization("acme-demo")
    assert {s.name: s.visibility for s in org.get_secrets()}["ORG_SONAR_TOKEN"] == "selected"


def test_errors_map_to_pygithub_exceptions(gh: tuple[github.Github, SandboxServer]) -> None:
    g, _ = gh
    with pytest.raises(github.GithubException) as info:
        g.get_repo("acme-demo/legacy-billing").get_branch("main").get_protection()
    assert (info.value.status, info.value.message) == (404, "Branch not protected")
    with pytest.raises(github.UnknownObjectException):
        g.get_repo("acme-demo/payments-api").get_contents("NOPE.md")
    readme = g.get_repo("acme-demo/payments-api").get_contents("docs/rollback.md")
    assert not isinstance(readme, list)
    assert readme.decoded_content.startswith(b"# Rollback")


def test_pagination_and_raw_requests(gh: tuple[github.Github, SandboxServer]) -> None:
    g, srv = gh
    repo = g.get_repo("acme-demo/payments-api")
    commits = list(repo.get_commits(sha="main"))
    assert len(commits) > 1
    _, rules = g.requester.requestJsonAndCheck("GET", f"{srv.url}/repos/acme-demo/checkout-web/rules/branches/main")
    assert {r["type"] for r in rules} >= {"pull_request", "non_fast_forward"}
    assert g.rate_limiting[1] == 5000
