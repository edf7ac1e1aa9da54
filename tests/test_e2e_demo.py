"""End to end: the real CLI audits the bundled sandbox's demo organisation over REST.

The sandbox world (auditor/sandbox/worlds/demo.yml) is designed to produce the verdicts listed in
auditor/sandbox/worlds/README.md; these tests hold the collector, the rules and the sandbox to that
design through the same entry points a user runs: `auditor audit`, `auditor demo`, `auditor report`.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.history import History
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, load_world, serve

ORG = "acme-demo"
P, F, U, NA = "pass", "fail", "unknown", "not_applicable"


@dataclass(frozen=True)
class Audit:
    """One `auditor audit --org acme-demo` run: exit code, its audit.json and its output folder."""

    code: int
    report: dict[str, Any]
    out: Path

    def findings(self, repo: str) -> list[dict[str, Any]]:
        return [f for f in self.report["findings"] if f["repo"] == f"{ORG}/{repo}"]

    def finding(self, repo: str, rule: str, target: str) -> dict[str, Any]:
        found = [f for f in self.findings(repo) if f["rule"] == rule and f["target"] == target]
        assert len(found) == 1, f"{repo} {rule} {target}: {len(found)} findings"
        return found[0]


def audit_argv(url: str, out: Path, *extra: str) -> list[str]:
    return ["audit", "--org", ORG, "--base-url", url, "--api", "rest", "--format", "json", "--output", str(out),
            "--history", str(out / "h.sqlite"), "--no-progress", *extra]


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Audit:
    out = tmp_path_factory.mktemp("audit")
    with pytest.MonkeyPatch.context() as mp, serve(load_world(DEMO_WORLD)) as server:
        mp.setenv("GITHUB_TOKEN", DEMO_TOKEN)
        mp.delenv("GH_TOKEN", raising=False)
        code = main(audit_argv(server.url, out))
    return Audit(code=code, report=json.loads((out / "audit.json").read_text()), out=out)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--output", str(out), "--quiet"]) == 0
    return out


# --------------------------------------------------------------------------------------------
# Designed verdicts of the demo world at week 12 (auditor/sandbox/worlds/README.md)

DESIGNED = [
    # payments-api: exemplary
    ("payments-api", "deploy-staged-first", "environment:production", P),
    ("payments-api", "secrets-env-scoped", "repo", P),
    ("payments-api", "checks-ci-on-pr", "branch:main", P),
    ("payments-api", "checks-ci-on-pr", "branch:staging", P),
    ("payments-api", "deploy-automated", "environment:production", P),
    ("payments-api", "deploy-notifications", "workflow:.github/workflows/deploy.yml", P),
    ("payments-api", "deploy-rollback-documented", "file:docs/rollback.md", P),
    ("payments-api", "docs-fresh", "file:docs/deployment.md", P),
    ("payments-api", "security-workflow-permissions", "workflow:.github/workflows/deploy.yml", P),
    ("payments-api", "env-required-reviewers", "environment:production", P),
    ("payments-api", "branch-protected", "branch:main", P),
    # checkout-web: rulesets only, an org-level credential, direct pushes deployed to production
    ("checkout-web", "branch-protected", "branch:main", P),
    ("checkout-web", "branch-admins-enforced", "branch:main", F),
    ("checkout-web", "reviews-code-owners", "branch:main", F),
    ("checkout-web", "checks-produced", "branch:main", F),
    ("checkout-web", "checks-ci-on-pr", "branch:main", P),
    ("checkout-web", "flow-into-production", "branch:main", F),
    ("checkout-web", "deploy-staged-first", "environment:production", F),
    ("checkout-web", "deploy-healthy", "environment:production", P),
    ("checkout-web", "env-branch-policy", "environment:staging", F),
    ("checkout-web", "secrets-env-scoped", "secret:ORG_SONAR_TOKEN", F),
    ("checkout-web", "secrets-env-parity", "environment:production", F),
    ("checkout-web", "secrets-push-protection", "repo", P),
    ("checkout-web", "docs-in-sync", "file:docs/deployment.md", F),
    # legacy-billing: badly non-compliant, pull_request_target with secrets
    ("legacy-billing", "branch-exists", "branch:main", P),
    ("legacy-billing", "branch-exists", "branch:staging", F),
    ("legacy-billing", "branch-protected", "branch:main", F),
    ("legacy-billing", "checks-ci-on-pr", "branch:main", F),
    ("legacy-billing", "flow-no-direct-push", "branch:main", F),
    ("legacy-billing", "deploy-healthy", "environment:production", F),
    ("legacy-billing", "env-exists", "environment:production", F),
    ("legacy-billing", "secrets-workflow-scope", "workflow:.github/workflows/pr.yml", F),
    ("legacy-billing", "secrets-workflow-scope", "workflow:.github/workflows/deploy.yml", F),
    ("legacy-billing", "secrets-env-scoped", "secret:DEPLOY_KEY", F),
    ("legacy-billing", "secrets-env-scoped", "secret:AWS_SECRET_ACCESS_KEY", F),
    ("legacy-billing", "secrets-env-scoped", "secret:PROD_DB_PASSWORD", F),
    ("legacy-billing", "secrets-env-scoped", "secret:ORG_AWS_DEPLOY_KEY", F),
    ("legacy-billing", "secrets-rotated", "secret:AWS_SECRET_ACCESS_KEY", F),
    ("legacy-billing", "secrets-scanning", "repo", F),
    ("legacy-billing", "security-workflow-permissions", "repo", F),
    # partner-portal: the demo token only reads it
    ("partner-portal", "branch-exists", "branch:main", P),
    ("partner-portal", "branch-protected", "branch:main", U),
    ("partner-portal", "reviews-required-approvals", "branch:main", U),
    ("partner-portal", "checks-required", "branch:main", U),
    ("partner-portal", "secrets-env-scoped", "repo", U),
    ("partner-portal", "secrets-scanning", "repo", U),
    ("partner-portal", "security-dependabot-alerts", "repo", U),
    ("partner-portal", "env-exists", "environment:production", P),
    ("partner-portal", "deploy-automated", "environment:production", P),
    ("partner-portal", "docs-present", "file:docs/deployment.md", P),
    # internal-tools: private on the Free plan
    ("internal-tools", "branch-protected", "branch:main", U),
    ("internal-tools", "reviews-required-approvals", "branch:main", U),
    ("internal-tools", "checks-required", "branch:main", U),
    ("internal-tools", "env-required-reviewers", "environment:production", F),
    ("internal-tools", "env-branch-policy", "environment:production", F),
    ("internal-tools", "secrets-env-scoped", "secret:SLACK_TOKEN", F),
    ("internal-tools", "secrets-scanning", "repo", F),
    ("internal-tools", "docs-present", "file:docs/deployment.md", F),
    ("internal-tools", "deploy-automated", "environment:production", F),
    ("internal-tools", "deploy-staged-first", "environment:production", NA),
    ("internal-tools", "deploy-healthy", "environment:production", NA),
    # data-pipeline: broken deploy workflow, force-push regression on main
    ("data-pipeline", "deploy-automated", "environment:production", U),
    ("data-pipeline", "deploy-notifications", "repo", U),
    ("data-pipeline", "security-workflow-permissions", "workflow:.github/workflows/deploy.yml", U),
    ("data-pipeline", "secrets-workflow-scope", "workflow:.github/workflows/deploy.yml", NA),
    ("data-pipeline", "branch-no-force-push", "branch:main", F),
    ("data-pipeline", "branch-no-force-push", "branch:staging", P),
    ("data-pipeline", "deploy-healthy", "environment:production", P),
    ("data-pipeline", "checks-evidence", "branch:staging", P),
    # search-service: new at week 6
    ("search-service", "branch-protected", "branch:main", P),
    ("search-service", "branch-protected", "branch:staging", F),
    ("search-service", "secrets-push-protection", "repo", F),
    ("search-service", "security-dependabot-alerts", "repo", F),
    ("search-service", "deploy-rollback-documented", "repo", F),
]


@pytest.mark.parametrize(("repo", "rule", "target", "expected"), DESIGNED,
                         ids=[f"{r}:{rule}:{t}" for r, rule, t, _ in DESIGNED])
def test_designed_verdict(audit: Audit, repo: str, rule: str, target: str, expected: str) -> None:
    found = audit.finding(repo, rule, target)
    assert found["status"] == expected, found["message"]
    assert found["message"].endswith(".")


def test_audit_fails_the_gate(audit: Audit) -> None:
    assert audit.code == 1


def test_scope_skips_the_archived_repository(audit: Audit) -> None:
    repos = {r["repo"] for r in audit.report["repos"]}
    assert repos == {f"{ORG}/{name}" for name in ("payments-api", "checkout-web", "legacy-billing",
                                                  "partner-portal", "internal-tools", "data-pipeline",
                                                  "search-service")}
    assert not audit.findings("old-marketing-site")


def test_exemplary_repository_has_no_failure(audit: Audit) -> None:
    findings = audit.findings("payments-api")
    assert len(findings) > 40
    assert [f["rule"] for f in findings if f["status"] in (F, U, "error")] == []
    summary = next(r for r in audit.report["repos"] if r["repo"] == f"{ORG}/payments-api")
    assert summary["status"] == P
    assert summary["counts"]["fail"] == 0


@pytest.mark.parametrize("rule", ["branch-protected", "branch-pr-required", "branch-no-force-push",
                                  "reviews-required-approvals", "reviews-dismiss-stale", "checks-required",
                                  "checks-strict"])
def test_reader_token_leaves_protection_unknown_naming_the_permission(audit: Audit, rule: str) -> None:
    results = [f for f in audit.findings("partner-portal") if f["rule"] == rule]
    assert results
    for found in results:
        assert found["status"] == U
        assert "Administration" in found["message"]


def test_reader_token_never_passes_what_it_cannot_see(audit: Audit) -> None:
    hidden = ("branch-protected", "branch-admins-enforced", "reviews-", "checks-required", "checks-strict",
              "secrets-env-scoped", "secrets-env-parity", "secrets-org-visibility", "secrets-rotated",
              "secrets-scanning", "secrets-push-protection", "security-dependabot-alerts")
    seen = [f for f in audit.findings("partner-portal") if f["rule"].startswith(hidden)
            and f["rule"] != "reviews-evidence"]
    assert seen
    assert {f["status"] for f in seen} == {U}


def test_free_plan_private_repository_protection_is_unknown(audit: Audit) -> None:
    for target in ("branch:main", "branch:staging"):
        found = audit.finding("internal-tools", "branch-protected", target)
        assert found["status"] == U
        assert found["evidence"]["http_status"] == 403


def test_free_plan_reason_quotes_github(audit: Audit) -> None:
    found = audit.finding("internal-tools", "branch-protected", "branch:main")
    assert "Upgrade to GitHub Pro" in found["message"]


def test_broken_workflow_reports_the_parse_problem_and_never_passes(audit: Audit) -> None:
    path = ".github/workflows/deploy.yml"
    from_file = [f for f in audit.findings("data-pipeline") if f["target"] == f"workflow:{path}"]
    assert {f["rule"] for f in from_file} == {"secrets-workflow-scope", "security-workflow-permissions"}
    for found in from_file:
        assert found["status"] != P
        assert "invalid YAML" in found["message"]
    for rule, target in (("deploy-automated", "environment:production"), ("deploy-automated", "environment:staging"),
                         ("deploy-notifications", "repo")):
        found = audit.finding("data-pipeline", rule, target)
        assert found["status"] == U
        assert path in found["message"]


def test_pull_request_target_workflow_exposes_secrets(audit: Audit) -> None:
    found = audit.finding("legacy-billing", "secrets-workflow-scope", "workflow:.github/workflows/pr.yml")
    assert found["status"] == F
    assert "pull_request_target" in found["message"]
    ci = audit.finding("legacy-billing", "checks-ci-on-pr", "branch:main")
    assert ci["status"] == F


def test_sandbox_serves_git_blobs_as_github_does() -> None:
    world = load_world(DEMO_WORLD)
    text = world.state.repos[f"{ORG}/payments-api"].files["main"][".github/workflows/deploy.yml"]
    with serve(world) as server:
        def get(path: str) -> Any:
            req = urllib.request.Request(server.url + path, headers={"Authorization": f"token {DEMO_TOKEN}"})
            with urllib.request.urlopen(req) as resp:
                return json.load(resp)

        tree = get(f"/repos/{ORG}/payments-api/git/trees/main?recursive=1")
        sha = next(e["sha"] for e in tree["tree"] if e["path"] == ".github/workflows/deploy.yml")
        blob = get(f"/repos/{ORG}/payments-api/git/blobs/{sha}")
        with pytest.raises(urllib.error.HTTPError) as missing:
            get(f"/repos/{ORG}/payments-api/git/blobs/{'0' * 40}")
        missing.value.close()
    assert set(blob) == {"sha", "node_id", "size", "url", "content", "encoding"}
    assert blob["sha"] == sha and blob["encoding"] == "base64" and blob["size"] == len(text.encode())
    assert blob["url"].endswith(f"/repos/{ORG}/payments-api/git/blobs/{sha}")
    lines = blob["content"].split("\n")
    assert lines[-1] == "" and all(len(line) == 60 for line in lines[:-2]) and 0 < len(lines[-2]) <= 60
    assert base64.b64decode(blob["content"]).decode() == text
    assert missing.value.code == 404


# --------------------------------------------------------------------------------------------
# auditor demo and auditor report


def test_demo_writes_reports_and_twelve_complete_runs(demo: Path) -> None:
    for name in ("report.html", "report.md", "audit.json"):
        assert (demo / name).stat().st_size > 0, name
    history = History.open(demo / "history.sqlite")
    try:
        runs = history.runs()
        assert len(runs) == 12
        assert all(r.complete for r in runs)
    finally:
        history.close()
    payments = [r for r in json.loads((demo / "audit.json").read_text())["repos"]
                if r["repo"] == f"{ORG}/payments-api"]
    assert payments and payments[0]["counts"]["fail"] == 0


def _report_from_history(demo: Path, out: Path, *extra: str) -> None:
    code = main(["report", "--history", str(demo / "history.sqlite"), "--since", "12w", "--format", "html,md",
                 "--output", str(out), "--quiet", *extra])
    assert code == 0


def _without_generated_line(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Generated ")]


def test_report_from_history_with_the_demo_policy_reproduces_the_demo_report(demo: Path, tmp_path: Path) -> None:
    _report_from_history(demo, tmp_path, "--policy", str(demo / "demo-policy.yml"))
    assert (tmp_path / "report.md").read_text() == (demo / "report.md").read_text()


def test_report_from_history_alone_reproduces_the_demo_report(demo: Path, tmp_path: Path) -> None:
    _report_from_history(demo, tmp_path)
    assert _without_generated_line((tmp_path / "report.md").read_text()) == \
        _without_generated_line((demo / "report.md").read_text())


# --------------------------------------------------------------------------------------------
# The token never lands anywhere


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_token_appears_in_no_output(tmp_path: Path, demo: Path, monkeypatch: pytest.MonkeyPatch,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", DEMO_TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    out = tmp_path / "verbose"
    with serve(load_world(DEMO_WORLD)) as server:
        code = main(audit_argv(server.url, out, "--verbose", "--format", "json,md,html,sarif,csv"))
    captured = capfd.readouterr()
    assert code == 1
    assert captured.out or captured.err
    assert DEMO_TOKEN not in captured.out
    assert DEMO_TOKEN not in captured.err
    written = _files_under(out) + _files_under(demo)
    assert {p.name for p in written} >= {"audit.json", "report.md", "report.html", "h.sqlite", "history.sqlite"}
    token = DEMO_TOKEN.encode()
    leaks = [str(p) for p in written if token in p.read_bytes()]
    assert leaks == []
