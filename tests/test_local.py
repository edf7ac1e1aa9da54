"""Local mode: facts from a git clone; API-only facts are unknown ("needs the GitHub API")."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.engine import plan_for
from auditor.local import collect_local, headings_of
from auditor.model import Status
from auditor.policy import load_policy
from tests.factories import NOW

CI = """name: ci
on:
  pull_request:
    branches: [main, staging]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=dev@acme.example", "-c", "user.name=dev", *args],
                   check=True, capture_output=True)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    repo = tmp_path / "web"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "docs").mkdir()
    (repo / ".github" / "workflows" / "ci.yml").write_text(CI)
    (repo / "README.md").write_text("# Web\n")
    (repo / "docs" / "deployment.md").write_text("# Deploying\n\n```\n# not a heading\n```\n## Rollback\n")
    (repo / ".github" / "CODEOWNERS").write_text("* @acme/web\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    git(repo, "branch", "staging")
    return repo


def test_headings_skip_fenced_code():
    assert headings_of("# A\n```\n# B\n```\n## C ##\n") == ("A", "C")


def test_collect_local_facts(clone: Path):
    plan = plan_for(load_policy("deployment-standard"))
    facts = collect_local(clone, plan, NOW)
    assert facts.source == "local"
    assert {b.name: b.exists for b in facts.branches} == {"main": True, "staging": True}
    assert all(b.classic_gap is not None for b in facts.branches)
    assert facts.codeowners is not None
    assert facts.codeowners.path == ".github/CODEOWNERS"
    assert facts.workflows is not None
    assert [w.path for w in facts.workflows.items] == [".github/workflows/ci.yml"]
    assert facts.docs is not None
    deployment = facts.docs.file("docs/deployment.md")
    assert deployment is not None
    assert deployment.exists
    assert deployment.headings == ("Deploying", "Rollback")
    assert deployment.last_changed_at is not None
    assert facts.environments is not None
    assert facts.environments.gap is not None
    assert "GitHub API" in facts.environments.gap.reason
    assert RepoFactsRoundTrip(facts)


def RepoFactsRoundTrip(facts):  # noqa: N802 - reads as an assertion
    from auditor.facts import RepoFacts

    return RepoFacts.from_json(facts.to_json()) == facts


def test_audit_local_end_to_end(clone: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    code = main(["audit", "--local", str(clone), "--output", str(out), "--history", str(out / "h.sqlite"),
                 "--format", "json,md", "--no-progress"])
    report = json.loads((out / "audit.json").read_text())
    by = {(f["rule"], f["target"]): f for f in report["findings"]}
    assert by[("checks-ci-on-pr", "branch:main")]["status"] == "pass"
    assert by[("docs-present", "file:docs/deployment.md")]["status"] == "pass"
    # API-only facts are unknown, and say why.
    protected = by[("branch-protected", "branch:main")]
    assert protected["status"] == "unknown"
    assert "needs the GitHub API" in protected["message"]
    assert not [f for f in report["findings"] if f["family"] == "env" and f["status"] == "pass"]
    assert code in (0, 1)
    assert "Audited 1 repositories" in capsys.readouterr().out
    statuses = {f["status"] for f in report["findings"]}
    assert Status.UNKNOWN.value in statuses


def test_audit_local_not_a_clone(tmp_path: Path, capsys):
    code = main(["audit", "--local", str(tmp_path), "--output", str(tmp_path / "o"),
                 "--history", str(tmp_path / "h.sqlite")])
    assert code == 2
    assert "not a git clone" in capsys.readouterr().err
