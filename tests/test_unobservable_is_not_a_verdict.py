"""Regressions: facts the auditor could not observe must never become `pass` or `fail`, nor exit 0.

Each test drives the real collector or CLI into one situation where something was not seen (the
API did not answer, a workflow blob was refused, a GraphQL field errored) and checks that the
result says unknown / exit 3 instead of a verdict.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from github import Auth

from auditor.cli import main
from auditor.facts import Gap, RepoFacts, Secret, Secrets
from auditor.github import retry as rp
from auditor.github.client import GitHubClient
from auditor.github.collect import RestSource, collect_repo
from auditor.github.graphql import _GraphQLRepoCollector, _Prepared
from auditor.model import Status
from auditor.plan import FULL_PLAN, FactPlan
from auditor.rules.base import Context, Need
from auditor.rules.checks import CHECKS_CI_ON_PR
from auditor.rules.secrets import SECRETS_ORG_VISIBILITY
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, serve
from tests.github.fake_github import FakeGitHub, Reply
from tests.github.fake_github import serve as serve_fake
from tests.github.world import NOW, R, full_world

RNA = {"message": "Resource not accessible by integration"}


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve_fake(FakeGitHub()) as server:
        yield server


def _client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(max_retries=1), sleeper=lambda s: None)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --------------------------------------------------------------------------------------------
# CLI: an API that never answers is exit 3, a bad --base-url is exit 2


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GH_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", DEMO_TOKEN)


@pytest.mark.parametrize("command", [["audit", "--repo", "acme-demo/payments-api"],
                                     ["doctor", "--repo", "acme-demo/payments-api"]])
def test_unreachable_api_cannot_run(token: None, tmp_path: Path, command: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    extra = ["--output", str(tmp_path), "--history", str(tmp_path / "h.sqlite"), "--no-cache", "--quiet"] \
        if command[0] == "audit" else []
    assert main([*command, "--base-url", url, "--max-wait", "0.1", *extra]) == 3
    err = capsys.readouterr().err
    assert "GitHub API unreachable at " + url in err and "Traceback" not in err


def test_a_repository_github_refuses_is_not_unreachable(token: None, tmp_path: Path) -> None:
    """A 404 is an answer: the run goes on with unknown results (exit 0), as before."""
    with serve(DEMO_WORLD) as server:
        code = main(["audit", "--repo", "acme-demo/no-such-repo", "--base-url", server.url, "--format", "json",
                     "--output", str(tmp_path), "--history", str(tmp_path / "h.sqlite"), "--no-cache", "--quiet"])
    assert code == 0
    doc = json.loads((tmp_path / "audit.json").read_text())
    assert doc["repos"][0]["status"] == "unknown" and doc["repos"][0]["counts"]["pass"] == 0


@pytest.mark.parametrize("command", [["audit", "--repo", "a/b"], ["doctor", "--repo", "a/b"],
                                     ["check", "--repo", "a/b", "--pr", "1"]])
@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:8790", "ftp://ghe.example/api/v3", "http://"])
def test_a_base_url_that_is_not_a_url_is_a_usage_error(token: None, command: list[str], url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert "--base-url" in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# A workflow file that cannot be read is unknown, not "broken"


def test_unreadable_workflow_blob_makes_workflow_rules_unknown(fake: FakeGitHub) -> None:
    fake.add(f"{R}/git/blobs/b-wf2", Reply(403, RNA))  # ci.yaml: the one that runs on pull_request
    full_world(fake)
    facts = collect_repo(_client(fake), "acme/web", FULL_PLAN, NOW)
    assert facts.workflows is not None and facts.workflows.gap is not None
    assert facts.workflows.gap.http_status == 403
    [out] = CHECKS_CI_ON_PR.run(Context(facts=facts, params={}, role="production", branch="main"))
    assert out.status is Status.UNKNOWN


def test_unreadable_workflow_blob_at_a_pr_head_is_not_a_broken_workflow(token: None, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """PR #3 of the gate world changes preview.yml; with its blob refused the gate cannot judge it."""
    monkeypatch.setenv("GITHUB_TOKEN", "gate-token")
    world = Path(__file__).parent / "data" / "worlds" / "gate.yml"
    with serve(world) as server:
        server.set_faults([{"path": "/repos/acme/shop/git/blobs/*", "kind": "status", "status": 403, "body": RNA}])
        code = main(["check", "--base-url", server.url, "--output", str(tmp_path), "--quiet", "--format", "json",
                     "--repo", "acme/shop", "--pr", "3"])
    doc = json.loads((tmp_path / "check.json").read_text())
    safety = [f for f in doc["findings"] if f["rule"] == "pr-workflow-safety"]
    assert safety and all(f["status"] == "unknown" for f in safety)
    assert not [f for f in doc["blocking"] if f["rule"] == "pr-workflow-safety"]
    assert code == 0


# --------------------------------------------------------------------------------------------
# GraphQL: a field error on a branch ref is not "the branch does not exist"


def test_graphql_field_error_on_a_ref_falls_back_to_rest(fake: FakeGitHub) -> None:
    full_world(fake)
    plan = FactPlan(needs=frozenset({Need.BRANCHES}), branches=("main",), production_branch="main")
    source = RestSource(_client(fake))
    prepared = _Prepared(name="acme/web", repo={"default_branch": "main", "permissions": {"admin": True}})
    # `_without_failed` dropped "b0" because GitHub reported an error on that field.
    collector = _GraphQLRepoCollector(source, prepared, plan, NOW, {"viewerPermission": "ADMIN"}, None)
    facts: RepoFacts = collector.run()
    main_branch = facts.branch("main")
    assert main_branch is not None and main_branch.exists is True
    # A ref answered as null still means the branch does not exist (no REST request needed).
    absent = _GraphQLRepoCollector(source, prepared, plan, NOW, {"viewerPermission": "ADMIN", "b0": None}, None)
    gone = absent.run().branch("main")
    assert gone is not None and gone.exists is False


# --------------------------------------------------------------------------------------------
# The unknown names the collector's reason, not a generic one


def test_org_secret_visibility_unknown_carries_the_collectors_gap() -> None:
    why = Gap("GitHub would not show the visibility of the secrets of organisation acme: Resource not accessible",
              permission="Organization secrets: read", http_status=403)
    facts = RepoFacts(repo="acme/web", collected_at=NOW,
                      org_secrets=Secrets(items=(Secret(name="DEPLOY_KEY", scope="org"),), visibility_gap=why))
    [out] = SECRETS_ORG_VISIBILITY.run(Context(facts=facts, params={"allowed": []}))
    assert out.status is Status.UNKNOWN
    assert out.evidence["http_status"] == 403 and out.evidence["reason"] == why.reason


def test_report_of_an_unknown_run_is_a_usage_error(tmp_path, capsys):
    from auditor.cli import main
    from auditor.history import History
    from tests.factories_history import run, week
    from tests.test_history import sample_results

    db = tmp_path / "h.sqlite"
    with History.open(db) as h:
        h.record_run(run("w0", week(0), sample_results(1)))
    assert main(["report", "--history", str(db), "--run", "no-such-run", "--output", str(tmp_path / "o")]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_an_org_that_does_not_exist_cannot_be_audited(tmp_path, capsys, monkeypatch):
    from auditor.cli import main
    from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, load_world, serve

    monkeypatch.setenv("GITHUB_TOKEN", DEMO_TOKEN)
    with serve(load_world(DEMO_WORLD)) as server:
        code = main(["audit", "--org", "no-such-org", "--base-url", server.url, "--output", str(tmp_path),
                     "--history", str(tmp_path / "h.sqlite"), "--no-progress"])
    assert code == 3
    assert "no organisation or user called no-such-org" in capsys.readouterr().err
