"""The REST collector replaying responses recorded from the real api.github.com (vcrpy, record mode none).

The cassettes in tests/cassettes/github/ are copies of ../shared/github/cassettes (PyGithub's
ReplayData, LGPL-3.0, and octokit/fixtures, MIT; licences alongside). Each test picks the recorded
GETs it needs and, where the recording lacks an endpoint the collector also asks (for instance the
effective-rules endpoint that PyGithub has no method for), adds a small hand-made answer shaped like
GitHub's OpenAPI description, named `handmade` below. The combined cassette is written to a temp dir,
so the recorded files stay untouched; every test asserts how many interactions were played.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import vcr
import yaml
from github import Auth

from auditor.github import retry as rp
from auditor.github.client import GitHubClient, MemoryEtagCache
from auditor.github.collect import RestSource, collect_repo
from auditor.github.errors import RateLimitWaitTooLongError
from auditor.plan import FactPlan
from auditor.rules.base import Need

CASSETTES = Path(__file__).parent / "cassettes" / "github"
API = "https://api.github.com"


def recorded(name: str, *indexes: int) -> list[dict[str, Any]]:
    data = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    interactions: list[dict[str, Any]] = data["interactions"]
    return [interactions[i] for i in indexes]


def handmade(path: str, body: Any, status: int = 200) -> dict[str, Any]:
    return {
        "request": {"body": None, "headers": {}, "method": "GET", "uri": API + path},
        "response": {
            "status": {"code": status, "message": "OK" if status < 300 else "Error"},
            "headers": {"Content-Type": ["application/json; charset=utf-8"]},
            "body": {"string": "" if body is None else json.dumps(body)},
        },
    }


@contextmanager
def cassette(tmp_path: Path, interactions: list[dict[str, Any]]) -> Iterator[Any]:
    path = tmp_path / "combined.yaml"
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}), encoding="utf-8")
    recorder = vcr.VCR(
        record_mode="none",
        match_on=["method", "scheme", "host", "port", "path"],  # recordings predate per_page=100
        filter_headers=["authorization"],
    )
    with recorder.use_cassette(str(path)) as cass:
        yield cass


def client(**kw: Any) -> GitHubClient:
    return GitHubClient(Auth.Token("not-a-real-token"), API, sleeper=lambda s: None, **kw)


def test_branch_protection_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.BRANCHES, Need.PROTECTION}), branches=("master",))
    interactions = [
        *recorded("BranchProtection.setUp.yaml", 0, 1, 2),
        handmade("/repos/curvewise-forks/PyGithub/rules/branches/master", []),
    ]
    with cassette(tmp_path, interactions) as cass:
        c = client()
        facts = collect_repo(c, "curvewise-forks/PyGithub", plan, datetime(2023, 6, 9, tzinfo=UTC))
    assert cass.play_count == 4 and cass.all_played
    assert c.cost.requests == 4
    assert facts.default_branch == "master" and facts.fork is True and facts.viewer_permission == "ADMIN"
    master = facts.branch("master")
    assert master is not None and master.exists is True
    assert master.head_sha == "a4fce2bba495bbba81543d71a7e1c9523bf34495"
    classic = master.classic
    assert classic is not None
    assert classic.required_approvals == 1
    assert classic.required_checks == ("build (3.10)",)
    assert classic.strict_checks and classic.enforce_admins and classic.required_linear_history
    assert not classic.allow_force_pushes and not classic.require_code_owner_reviews
    assert master.rules == () and master.rules_gap is None


def test_branch_not_protected_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.BRANCHES, Need.PROTECTION}), branches=("integrations",))
    interactions = [
        *recorded("Branch.testRemoveProtection.yaml", 1, 6, 7),
        handmade("/repos/jacquev6/PyGithub/rules/branches/integrations", []),
    ]
    with cassette(tmp_path, interactions) as cass:
        facts = collect_repo(client(), "jacquev6/PyGithub", plan, datetime(2024, 12, 1, tzinfo=UTC))
    assert cass.play_count == 4
    branch = facts.branch("integrations")
    assert branch is not None and branch.exists is True
    assert branch.classic is None and branch.classic_gap is None  # "Branch not protected" is a fact, not a gap


def test_environments_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.ENVIRONMENTS, Need.ENV_PROTECTION_APPS}), environments=("dev",))
    interactions = [
        *recorded("Environment.testGetEnvironments.yaml", 1, 4),
        handmade(
            "/repos/alson/PyGithub/environments/dev/deployment_protection_rules",
            {"total_count": 0, "custom_deployment_protection_rules": []},
        ),
    ]
    with cassette(tmp_path, interactions) as cass:
        facts = collect_repo(client(), "alson/PyGithub", plan, datetime(2022, 4, 14, tzinfo=UTC))
    assert cass.play_count == 3
    assert facts.environments is not None
    dev = facts.environments.get("dev")
    assert dev is not None
    assert (dev.wait_timer, dev.reviewers, dev.branch_policy) == (15, ("alson",), "protected")
    assert dev.branch_patterns is None and dev.branch_patterns_gap is None


def test_conditional_request_recorded_304(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.REPO}))
    cache = MemoryEtagCache()
    with cassette(tmp_path, recorded("ConditionalRequestUpdate.testDidNotUpdate.yaml", 0, 1)) as cass:
        first = client(cache=cache, identity="a")
        facts1 = collect_repo(first, "akfish/PyGithub", plan, datetime(2024, 1, 1, tzinfo=UTC))
        second = client(cache=cache, identity="a")
        facts2 = collect_repo(second, "akfish/PyGithub", plan, datetime(2024, 1, 1, tzinfo=UTC))
    assert cass.play_count == 2
    assert cass.requests[1].headers.get("If-None-Match")
    assert facts1 == facts2 and facts2.default_branch is not None
    assert (second.cost.requests, second.cost.not_modified, second.cost.rate_limit_used) == (1, 1, 0)


def test_deployments_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.DEPLOYMENTS}), environments=("test",), window_days=7)
    interactions = [
        *recorded("Repository.testGetDeployments.yaml", 0, 1),
        handmade(
            "/repos/PyGithub/PyGithub/deployments/263877258/statuses",
            [{"state": "success", "created_at": "2020-08-26T11:45:00Z"}],
        ),
    ]
    with cassette(tmp_path, interactions) as cass:
        facts = collect_repo(client(), "PyGithub/PyGithub", plan, datetime(2020, 8, 27, tzinfo=UTC))
    assert cass.play_count == 3
    assert facts.deployments is not None
    (dep,) = facts.deployments.items
    assert (dep.id, dep.environment, dep.sha[:7], dep.creator, dep.state) == (
        263877258,
        "test",
        "743f5a5",
        "jacquev6",
        "success",
    )


def test_security_and_analysis_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.SECURITY}))
    interactions = [
        *recorded("SecurityAndAnalysis.setUp.yaml", 0),
        handmade("/repos/PyGithub/PyGithub/vulnerability-alerts", None, status=204),
    ]
    with cassette(tmp_path, interactions) as cass:
        facts = collect_repo(client(), "PyGithub/PyGithub", plan, datetime(2025, 1, 1, tzinfo=UTC))
    assert cass.play_count == 2
    sec = facts.security
    assert sec is not None
    assert (sec.secret_scanning, sec.push_protection, sec.dependabot_alerts) == (False, False, True)
    assert sec.gaps == {}


def test_security_and_analysis_absent_is_unknown_not_disabled(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.SECURITY}))
    interactions = [
        *recorded("Environment.testGetEnvironments.yaml", 1),
        handmade("/repos/alson/PyGithub/vulnerability-alerts", {"message": "Not Found"}, status=404),
    ]
    with cassette(tmp_path, interactions) as cass:
        facts = collect_repo(client(), "alson/PyGithub", plan, datetime(2022, 4, 14, tzinfo=UTC))
    assert cass.play_count == 2
    sec = facts.security
    assert sec is not None
    assert sec.secret_scanning is None and sec.push_protection is None
    assert sec.gaps["secret_scanning"].permission == "Administration: read"
    assert sec.dependabot_alerts is False  # an admin's 404 means disabled


def test_org_secret_visibility_recorded(tmp_path: Path) -> None:
    plan = FactPlan(needs=frozenset({Need.ORG_SECRETS}))
    interactions = [
        handmade("/repos/BeaverSoftware/app", {"full_name": "BeaverSoftware/app", "default_branch": "main"}),
        handmade(
            "/repos/BeaverSoftware/app/actions/organization-secrets",
            {
                "total_count": 1,
                "secrets": [
                    {"name": "secret-name", "created_at": "2019-08-10T14:59:22Z", "updated_at": "2020-01-10T14:59:22Z"}
                ],
            },
        ),
        *recorded("Organization.testGetSecrets.yaml", 1),
    ]
    with cassette(tmp_path, interactions) as cass:
        source = RestSource(client())
        facts = source.collect("BeaverSoftware/app", plan, datetime(2025, 1, 1, tzinfo=UTC))
        again = source.org_secret_visibility("BeaverSoftware")  # cached per organisation: no new request
    assert cass.play_count == 3
    assert again == {"secret-name": "selected"}
    assert facts.org_secrets is not None
    (secret,) = facts.org_secrets.items
    assert (secret.name, secret.scope, secret.visibility) == ("secret-name", "org", "selected")


def test_recorded_rate_limit_403_is_bounded_by_max_wait(tmp_path: Path) -> None:
    waits: list[float] = []
    with cassette(tmp_path, recorded("SpecificExceptions.testRateLimitExceeded.yaml", 0, 1)) as cass:
        c = GitHubClient(None, API, policy=rp.RetryPolicy(max_wait=30), sleeper=waits.append)
        assert c.get("/users/jacquev6").status == 200
        with pytest.raises(RateLimitWaitTooLongError):
            c.get("/users/jacquev6")
    assert cass.play_count == 2
    assert waits == []  # no reset header: the one-minute floor exceeds max_wait, so nothing is slept
