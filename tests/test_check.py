"""`auditor check` end to end: the real CLI against the in-process GitHub sandbox.

Each scenario of the pull-request gate is one test over tests/data/worlds/gate.yml, and each also
asserts what the check cost in API requests, read from the sandbox's own request log: the product
promises at most 15 for one pull request (README, "Pull-request gate").
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.cli import main
from auditor.report.escape import ZWJ
from auditor.sandbox import SandboxServer, serve

WORLD = Path(__file__).parent / "data" / "worlds" / "gate.yml"
TOKEN = "gate-token"
APP_TOKEN = "gate-app-token"
BUDGET = 15
MARKER = "<!-- auditor:gate -->"

# Measured with the deployment-standard policy (all workflows at the head, CODEOWNERS errors read);
# the README quotes these numbers.
MEASURED = {
    ("acme/shop", 1, False): 11,
    ("acme/shop", 2, False): 11,
    ("acme/shop", 3, False): 12,
    ("acme/shop", 3, True): 13,
    ("acme/shop", 4, False): 11,
    ("acme/legacy", 1, False): 10,
    ("acme/legacy", 1, True): 11,
    ("acme/legacy", 2, True): 12,
}

_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY", "GITHUB_APP_INSTALLATION_ID",
        "GITHUB_EVENT_PATH", "GITHUB_STEP_SUMMARY")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    return monkeypatch


@pytest.fixture
def sandbox(env: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    del env
    with serve(WORLD) as server:
        yield server


def check(server: SandboxServer, out: Path, *args: str, repo: str | None = None, pr: int | None = None) -> int:
    argv = ["check", "--base-url", server.url, "--output", str(out), "--quiet", *args]
    if repo is not None:
        argv += ["--repo", repo, "--pr", str(pr)]
    return main(argv)


def report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "check.json").read_text())
    return data


def blocking_rules(out: Path) -> set[tuple[str, str]]:
    return {(f["rule"], f["target"]) for f in report(out)["blocking"]}


def requests_made(server: SandboxServer) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in server.stats["log"]]


# --------------------------------------------------------------------------------------------
# The scenarios


SCENARIOS = [
    pytest.param("acme/shop", 1, [], 1, {("pr-target-branch", "pr:1")}, id="feature-into-main-fails-target-branch"),
    pytest.param("acme/shop", 2, [], 0, set(), id="staging-into-main-approved-green-passes"),
    pytest.param("acme/shop", 3, [], 1, {("pr-workflow-safety", "workflow:.github/workflows/preview.yml")},
                 id="pull-request-target-checkout-fails-workflow-safety"),
    pytest.param("acme/shop", 4, ["--fail-on", "medium"], 1, {("pr-docs-updated", "pr:4")},
                 id="deploy-change-without-docs-fails-docs-updated"),
    pytest.param("acme/legacy", 1, ["--new-only"], 0, set(), id="legacy-new-only-nothing-new-passes"),
    pytest.param("acme/legacy", 2, ["--new-only"], 1,
                 {("secrets-workflow-scope", "workflow:.github/workflows/nightly.yml"),
                  ("pr-workflow-safety", "workflow:.github/workflows/nightly.yml")},
                 id="legacy-new-only-new-violation-fails"),
]


@pytest.mark.parametrize(("repo", "number", "args", "code", "blocking"), SCENARIOS)
def test_gate_scenario(sandbox: SandboxServer, tmp_path: Path, repo: str, number: int, args: list[str], code: int,
                       blocking: set[tuple[str, str]]) -> None:
    assert check(sandbox, tmp_path, "--format", "json", *args, repo=repo, pr=number) == code
    doc = report(tmp_path)
    assert blocking_rules(tmp_path) == blocking
    assert doc["verdict"] == ("fail" if code else "pass")
    assert doc["pull_request"]["number"] == number
    made = requests_made(sandbox)
    assert all(r.startswith("GET ") for r in made)  # no --comment/--status: the check only reads
    new_only = "--new-only" in args
    assert len(made) == doc["api"]["requests"] == MEASURED[(repo, number, new_only)] <= BUDGET


def test_staging_into_main_evaluates_main_rules_as_context(sandbox: SandboxServer, tmp_path: Path) -> None:
    assert check(sandbox, tmp_path, "--format", "json", repo="acme/shop", pr=2) == 0
    doc = report(tmp_path)
    targets = {(f["rule"], f["target"]): f["status"] for f in doc["findings"]}
    assert targets[("branch-protected", "branch:main")] == "pass"
    assert targets[("checks-produced", "branch:main")] == "pass"  # every workflow at the head was read
    assert targets[("deploy-automated", "environment:production")] == "pass"
    assert not any(t == "branch:staging" for _, t in targets)  # only the base branch's role
    assert ("security-workflow-permissions", "repo") not in targets  # a repo setting the gate does not read
    assert {"reviews-evidence", "env-exists", "deploy-healthy", "secrets-scanning"} <= set(doc["out_of_scope"])
    assert not {"branch-protected", "pr-approved"} & set(doc["out_of_scope"])


def test_legacy_repo_without_new_only_fails_on_what_the_base_already_has(sandbox: SandboxServer,
                                                                          tmp_path: Path) -> None:
    assert check(sandbox, tmp_path, "--format", "json", "--no-new-only", repo="acme/legacy", pr=1) == 1
    assert ("secrets-workflow-scope", "workflow:.github/workflows/release.yml") in blocking_rules(tmp_path)


def test_new_only_lists_what_the_base_already_has(sandbox: SandboxServer, tmp_path: Path) -> None:
    assert check(sandbox, tmp_path, "--format", "json,md", "--new-only", repo="acme/legacy", pr=1) == 0
    doc = report(tmp_path)
    pre = {(f["rule"], f["target"]) for f in doc["preexisting"]}
    assert ("secrets-workflow-scope", "workflow:.github/workflows/release.yml") in pre
    assert doc["new_only"] is True and doc["blocking"] == []
    pr = next(p for p in sandbox.world.state.repos["acme/legacy"].pulls if p.number == 1)
    trees = [r for r in requests_made(sandbox) if "/git/trees/" in r]
    tree = "GET /repos/acme/legacy/git/trees/"
    assert trees == [tree + pr.head_sha, tree + pr.base_sha]  # the head tree, then the base tree
    assert "Already on the base branch" in (tmp_path / "check.md").read_text()


def test_new_only_still_counts_rules_about_the_pr_itself(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """pr-target-branch has no base to compare with: it blocks even in new-only mode."""
    del env
    with serve(WORLD) as server:
        assert check(server, tmp_path, "--format", "json", "--new-only", repo="acme/shop", pr=1) == 1
    assert blocking_rules(tmp_path) == {("pr-target-branch", "pr:1")}


def test_policy_new_only_is_the_default(env: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path) -> None:
    policy = yaml.safe_load(Path("policies/deployment-standard.yml").read_text())
    policy["gate"]["new_only"] = True
    path = tmp_path / "policy.yml"
    path.write_text(yaml.safe_dump(policy))
    assert check(sandbox, tmp_path, "--format", "json", "--policy", str(path), repo="acme/legacy", pr=1) == 0
    assert report(tmp_path)["new_only"] is True


# --------------------------------------------------------------------------------------------
# Where it reports


def _comments(server: SandboxServer, repo: str, number: int) -> list[Any]:
    return [c for c in server.world.state.repos[repo].comments if c.issue_number == number]


def test_sticky_comment_is_updated_not_duplicated(sandbox: SandboxServer, tmp_path: Path) -> None:
    assert check(sandbox, tmp_path, "--comment", repo="acme/shop", pr=4) == 0  # docs are medium: below high
    (first,) = _comments(sandbox, "acme/shop", 4)
    assert MARKER in first.body and "passed" in first.body
    assert [r for r in requests_made(sandbox) if not r.startswith("GET ")] == [
        "POST /repos/acme/shop/issues/4/comments"]
    sandbox.reset_stats()
    assert check(sandbox, tmp_path, "--comment", "--fail-on", "medium", repo="acme/shop", pr=4) == 1
    (second,) = _comments(sandbox, "acme/shop", 4)
    assert second.id == first.id
    assert MARKER in second.body and "failed" in second.body and "pr-docs-updated" in second.body
    writes = [r for r in requests_made(sandbox) if not r.startswith("GET ")]
    assert writes == [f"PATCH /repos/acme/shop/issues/comments/{first.id}"]
    assert len(requests_made(sandbox)) <= BUDGET + 2  # the read budget plus listing and editing the comment


def test_status_falls_back_to_a_commit_status_for_a_personal_token(sandbox: SandboxServer, tmp_path: Path) -> None:
    assert check(sandbox, tmp_path, "--status", repo="acme/shop", pr=1) == 1
    repo = sandbox.world.state.repos["acme/shop"]
    (status,) = [s for s in repo.statuses if s.context == "auditor/gate"]
    pr = next(p for p in repo.pulls if p.number == 1)
    assert status.state == "failure" and status.sha == pr.head_sha
    assert status.description and len(status.description) <= 140 and "pr-target-branch" in status.description
    assert not [c for c in repo.check_runs if c.name == "auditor/gate"]
    by_status = [(e["method"], e["status"]) for e in sandbox.stats["log"] if e["method"] == "POST"]
    assert by_status == [("POST", 403), ("POST", 201)]  # the check run is refused, the status accepted


def test_status_is_a_check_run_for_a_github_app(env: pytest.MonkeyPatch, sandbox: SandboxServer,
                                                tmp_path: Path) -> None:
    env.setenv("GITHUB_TOKEN", APP_TOKEN)
    assert check(sandbox, tmp_path, "--status", repo="acme/shop", pr=2) == 0
    repo = sandbox.world.state.repos["acme/shop"]
    (run,) = [c for c in repo.check_runs if c.name == "auditor/gate"]
    assert run.conclusion == "success" and run.status == "completed"
    assert not [s for s in repo.statuses if s.context == "auditor/gate"]


def test_refused_writes_do_not_change_the_verdict(env: pytest.MonkeyPatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    spec = yaml.safe_load(WORLD.read_text())
    spec["tokens"].append({"value": "read-token", "login": "reader", "kind": "fine_grained", "role": "admin",
                           "org_admin": False,
                           "permissions": {"metadata": "read", "contents": "read", "pull_requests": "read",
                                           "issues": "read", "administration": "read", "checks": "read",
                                           "statuses": "read"}})
    env.setenv("GITHUB_TOKEN", "read-token")
    with serve(spec) as server:
        assert check(server, tmp_path, "--comment", "--status", repo="acme/shop", pr=1) == 1
        assert not _comments(server, "acme/shop", 1)
    err = capsys.readouterr().err
    assert "the PR comment was not written" in err and "neither a check run nor a commit status" in err
    assert "read-token" not in err


HOSTILE = ("@alice <img src=x onerror=alert(1)> [win](https://evil.example) <script>alert(1)</script> "
           "@acme/platform #1 ![x](https://evil.example/p.png)")


def test_step_summary_escapes_a_hostile_title(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = yaml.safe_load(WORLD.read_text())
    pulls = next(r for r in spec["repos"] if r["name"] == "shop")["pulls"]
    pulls[0]["title"] = HOSTILE
    pulls[0]["head"] = "feature/@bob-<b>x</b>"
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env.setenv("GITHUB_STEP_SUMMARY", str(summary))
    with serve(spec) as server:
        assert check(server, tmp_path, "--comment", repo="acme/shop", pr=1) == 1
        (comment,) = _comments(server, "acme/shop", 1)
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, as GitHub expects
    for body in (text, comment.body):
        assert "Deployment policy gate: failed" in body
        assert not re.search(r"@(?!" + ZWJ + r")\w", body.replace("`feature/@bob-<b>x</b>`", ""))
        assert "<img" not in body and "<script" not in body and "<b>" not in body.replace("`feature/@bob-<b>x</b>`", "")
        assert "](https://" not in body and "https://evil" not in body
        assert "&lt;img" in body
    assert "`feature/@bob-<b>x</b>`" in text  # a branch name in a code span: shown literally, never rendered


# --------------------------------------------------------------------------------------------
# Inside GitHub Actions


def _event(number: int, repo: str = "acme/shop") -> dict[str, Any]:
    """A pull_request event payload, trimmed from GitHub's webhook shape."""
    owner = repo.split("/", maxsplit=1)[0]
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
            "id": 1500000001,
            "number": number,
            "state": "open",
            "title": "Add the cart",
            "user": {"login": "carol", "id": 3, "type": "User"},
            "head": {"label": f"{owner}:feature/cart", "ref": "feature/cart", "sha": "0" * 40,
                     "repo": {"full_name": repo}},
            "base": {"label": f"{owner}:main", "ref": "main", "sha": "1" * 40, "repo": {"full_name": repo}},
            "draft": False,
        },
        "repository": {"id": 700000001, "name": repo.split("/")[1], "full_name": repo, "private": True,
                       "owner": {"login": owner, "type": "Organization"}},
        "organization": {"login": owner},
        "sender": {"login": "carol", "type": "User"},
    }


def test_event_path_mode(env: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_event(1)))
    env.setenv("GITHUB_EVENT_PATH", str(event))
    summary = tmp_path / "summary.md"
    env.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert check(sandbox, tmp_path, "--format", "json,sarif") == 1
    assert report(tmp_path)["repo"] == "acme/shop" and report(tmp_path)["pull_request"]["number"] == 1
    assert "pr-target-branch" in summary.read_text()
    sarif = json.loads((tmp_path / "check.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert "pr-target-branch" in {r["ruleId"] for r in sarif["runs"][0]["results"]}


def test_flags_override_the_event(env: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(_event(1)))
    env.setenv("GITHUB_EVENT_PATH", str(event))
    assert check(sandbox, tmp_path, "--format", "json", repo="acme/shop", pr=2) == 0
    assert report(tmp_path)["pull_request"]["number"] == 2


def test_an_event_without_a_pull_request_is_a_usage_error(env: pytest.MonkeyPatch, sandbox: SandboxServer,
                                                          tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}}))
    env.setenv("GITHUB_EVENT_PATH", str(event))
    assert check(sandbox, tmp_path) == 2
    assert requests_made(sandbox) == []


# --------------------------------------------------------------------------------------------
# Exit codes


@pytest.mark.parametrize(("args", "code"), [
    ([], 2),  # no PR named and not inside Actions
    (["--repo", "acme/shop"], 2),
    (["--repo", "not-a-repo", "--pr", "1"], 2),
    (["--repo", "acme/shop", "--pr", "1", "--format", "html"], 2),
    (["--repo", "acme/shop", "--pr", "1", "--policy", "tests/data/no-such-policy.yml"], 2),
    (["--repo", "acme/shop", "--pr", "99"], 3),  # GitHub will not show the PR: the gate cannot run
])
def test_exit_codes(sandbox: SandboxServer, tmp_path: Path, args: list[str], code: int) -> None:
    assert check(sandbox, tmp_path, *args) == code


def test_rejected_token_cannot_run(env: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    env.setenv("GITHUB_TOKEN", "not-a-sandbox-token")
    assert check(sandbox, tmp_path, repo="acme/shop", pr=1) == 3
    assert "not-a-sandbox-token" not in capsys.readouterr().err


def test_no_token_cannot_run(env: pytest.MonkeyPatch, sandbox: SandboxServer, tmp_path: Path) -> None:
    env.delenv("GITHUB_TOKEN")
    assert check(sandbox, tmp_path, repo="acme/shop", pr=1) == 3


def test_world_file_is_not_mutated_by_tests() -> None:
    """The scenarios above copy the world before changing it; the file keeps its four + two PRs."""
    spec = yaml.safe_load(WORLD.read_text())
    before = copy.deepcopy(spec)
    assert [len(r["pulls"]) for r in spec["repos"]] == [4, 2]
    assert spec == before
