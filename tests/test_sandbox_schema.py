"""Every sandbox endpoint answers the demo world with JSON that GitHub's OpenAPI schemas accept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auditor.sandbox import SandboxServer, serve
from tests.sandbox.client import call, demo_world
from tests.sandbox.openapi import component_schema, response_schema, validate

R = "/repos/acme-demo/payments-api"
W = "/repos/acme-demo/checkout-web"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with serve(demo_world()) as srv:
        yield srv


def _ids(base: str) -> dict[str, str]:
    deployments = call(base, f"{R}/deployments").json
    rulesets = call(base, f"{W}/rulesets").json
    pulls = call(base, f"{R}/pulls?state=closed").json
    return {"dep": str(deployments[0]["id"]), "status": "", "ruleset": str(rulesets[0]["id"]),
            "pr": str(pulls[0]["number"]), "sha": pulls[0]["merge_commit_sha"],
            "head": pulls[0]["head"]["sha"]}


CASES = [
    ("/rate_limit", "/rate_limit"),
    ("/user", "/user"),
    ("/orgs/acme-demo", "/orgs/{org}"),
    ("/orgs/acme-demo/repos?per_page=100", "/orgs/{org}/repos"),
    (R, "/repos/{owner}/{repo}"),
    ("/repos/acme-demo/internal-tools", "/repos/{owner}/{repo}"),
    (f"{R}/branches", "/repos/{owner}/{repo}/branches"),
    (f"{R}/branches/main", "/repos/{owner}/{repo}/branches/{branch}"),
    (f"{R}/branches/main/protection", "/repos/{owner}/{repo}/branches/{branch}/protection"),
    (f"{R}/branches/main/protection/required_status_checks",
     "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks"),
    (f"{R}/branches/main/protection/required_status_checks/contexts",
     "/repos/{owner}/{repo}/branches/{branch}/protection/required_status_checks/contexts"),
    (f"{R}/branches/main/protection/required_pull_request_reviews",
     "/repos/{owner}/{repo}/branches/{branch}/protection/required_pull_request_reviews"),
    (f"{R}/branches/main/protection/enforce_admins",
     "/repos/{owner}/{repo}/branches/{branch}/protection/enforce_admins"),
    (f"{R}/branches/main/protection/required_signatures",
     "/repos/{owner}/{repo}/branches/{branch}/protection/required_signatures"),
    (f"{W}/rules/branches/main", "/repos/{owner}/{repo}/rules/branches/{branch}"),
    (f"{W}/rulesets?includes_parents=true", "/repos/{owner}/{repo}/rulesets"),
    (f"{W}/rulesets/{{ruleset}}", "/repos/{owner}/{repo}/rulesets/{ruleset_id}"),
    ("/orgs/acme-demo/rulesets", "/orgs/{org}/rulesets"),
    (f"{R}/environments", "/repos/{owner}/{repo}/environments"),
    (f"{R}/environments/production", "/repos/{owner}/{repo}/environments/{environment_name}"),
    (f"{W}/environments/production", "/repos/{owner}/{repo}/environments/{environment_name}"),
    (f"{R}/environments/production/deployment-branch-policies",
     "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies"),
    (f"{R}/environments/production/deployment_protection_rules",
     "/repos/{owner}/{repo}/environments/{environment_name}/deployment_protection_rules"),
    (f"{R}/environments/production/secrets", "/repos/{owner}/{repo}/environments/{environment_name}/secrets"),
    (f"{R}/actions/secrets", "/repos/{owner}/{repo}/actions/secrets"),
    (f"{R}/actions/organization-secrets", "/repos/{owner}/{repo}/actions/organization-secrets"),
    ("/orgs/acme-demo/actions/secrets", "/orgs/{org}/actions/secrets"),
    ("/orgs/acme-demo/actions/secrets/ORG_SLACK_WEBHOOK", "/orgs/{org}/actions/secrets/{secret_name}"),
    ("/orgs/acme-demo/actions/secrets/ORG_SLACK_WEBHOOK/repositories",
     "/orgs/{org}/actions/secrets/{secret_name}/repositories"),
    (f"{R}/actions/permissions/workflow", "/repos/{owner}/{repo}/actions/permissions/workflow"),
    (f"{R}/contents/docs/deployment.md", "/repos/{owner}/{repo}/contents/{path}"),
    (f"{R}/contents/docs?ref=staging", "/repos/{owner}/{repo}/contents/{path}"),
    (f"{W}/codeowners/errors", "/repos/{owner}/{repo}/codeowners/errors"),
    (f"{R}/git/trees/main?recursive=1", "/repos/{owner}/{repo}/git/trees/{tree_sha}"),
    (f"{R}/commits?sha=main&path=docs", "/repos/{owner}/{repo}/commits"),
    (f"{R}/commits/{{sha}}", "/repos/{owner}/{repo}/commits/{ref}"),
    (f"{R}/commits/{{sha}}/pulls", "/repos/{owner}/{repo}/commits/{commit_sha}/pulls"),
    (f"{R}/commits/{{head}}/check-runs", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    (f"{R}/commits/{{head}}/status", "/repos/{owner}/{repo}/commits/{ref}/status"),
    (f"{R}/pulls?state=all", "/repos/{owner}/{repo}/pulls"),
    (f"{R}/pulls/{{pr}}", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    (f"{R}/pulls/{{pr}}/reviews", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    (f"{R}/pulls/{{pr}}/files", "/repos/{owner}/{repo}/pulls/{pull_number}/files"),
    (f"{R}/deployments?environment=production", "/repos/{owner}/{repo}/deployments"),
    (f"{R}/deployments/{{dep}}", "/repos/{owner}/{repo}/deployments/{deployment_id}"),
    (f"{R}/deployments/{{dep}}/statuses", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses"),
    (f"{R}/hooks", "/repos/{owner}/{repo}/hooks"),
    (f"{R}/actions/workflows", "/repos/{owner}/{repo}/actions/workflows"),
]


@pytest.mark.parametrize(("path", "template"), CASES, ids=[c[0] for c in CASES])
def test_answer_matches_githubs_schema(server: SandboxServer, path: str, template: str) -> None:
    ids = _ids(server.url)
    answer = call(server.url, path.format(**ids))
    assert answer.status == 200, answer.raw[:300]
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    found = response_schema("GET", template, 200)
    assert found is not None, template
    assert validate(answer.json, found[1]) == []


def test_list_pages_are_never_empty_for_the_demo(server: SandboxServer) -> None:
    """Schema checks on empty lists prove nothing, so the listed resources must exist."""
    ids = _ids(server.url)
    for path in (f"{W}/rules/branches/main", f"{R}/hooks", f"{R}/commits/{ids['head']}/check-runs",
                 f"{W}/codeowners/errors", f"{R}/pulls/{ids['pr']}/reviews"):
        body = call(server.url, path).json
        items = body.get("check_runs", body.get("errors")) if isinstance(body, dict) else body
        assert items, path


def test_pull_commits_and_written_objects_match_component_schemas(server: SandboxServer) -> None:
    ids = _ids(server.url)
    commits = call(server.url, f"{R}/pulls/{ids['pr']}/commits").json
    assert commits
    for c in commits:
        assert validate(c, component_schema("commit", "openapi-subset.json")) == []
    status = call(server.url, f"{R}/statuses/{ids['head']}", method="POST",
                  body={"state": "success", "context": "auditor", "description": "ok"})
    assert status.status == 201
    assert validate(status.json, component_schema("status")) == []
    comment = call(server.url, f"{R}/issues/{ids['pr']}/comments", method="POST", body={"body": "Audit: 2 findings."})
    assert comment.status == 201
    assert comment.json["body"] == "Audit: 2 findings."
    assert comment.json["user"]["login"] == "audit-bot"


def test_error_answers_match_schemas(server: SandboxServer) -> None:
    missing = call(server.url, f"{R}/environments/nope")
    assert missing.status == 404
    assert missing.json["message"] == "Not Found"
    assert validate(missing.json, component_schema("basic-error", "openapi-subset.json")) == []
