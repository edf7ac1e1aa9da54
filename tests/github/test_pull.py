"""The pull-request gate's collector: what it reads for one PR, from where, and how many requests it costs."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from github import Auth

from auditor.engine import evaluate, plan_for
from auditor.facts import RepoFacts
from auditor.github import retry as rp
from auditor.github.client import GitHubClient
from auditor.github.collect import RestSource, collect_pull_request
from auditor.github.errors import UnexpectedResponseError
from auditor.model import Status
from auditor.plan import FactPlan
from auditor.policy.loader import load_policy
from auditor.rules import RULES_BY_ID
from auditor.rules.base import Need
from tests.github.fake_github import FakeGitHub, Reply, serve
from tests.github.pr_world import HEAD, NUMBER, pr_world
from tests.github.world import NOW, R

# `auditor check` on one PR with the deployment-standard policy's gate rules, measured below; the
# product promises at most 15.
GATE_REQUESTS = 9
GATE_BUDGET = 15

POLICY = load_policy("policies/deployment-standard.yml")
GATE_RULES = [rc.id for rc in POLICY.enabled_rules if RULES_BY_ID[rc.id].family == "pr"]
GATE_PLAN = plan_for(POLICY, GATE_RULES)


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


def make_client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(max_retries=1), sleeper=lambda s: None)


def gate(fake: FakeGitHub, plan: FactPlan = GATE_PLAN) -> tuple[RepoFacts, GitHubClient]:
    client = make_client(fake)
    return collect_pull_request(client, "acme/web", NUMBER, plan, NOW), client


def test_gate_plan_is_what_the_gate_rules_need() -> None:
    assert GATE_RULES == ["pr-target-branch", "pr-approved", "pr-checks-green", "pr-docs-updated", "pr-workflow-safety"]
    assert GATE_PLAN.needs == {Need.REPO, Need.PULL_REQUEST, Need.PROTECTION, Need.WORKFLOWS}


def test_pull_request_facts(fake: FakeGitHub) -> None:
    pr_world(fake)
    facts, _ = gate(fake)
    assert (facts.repo, facts.default_branch, facts.visibility, facts.topics) == (
        "acme/web",
        "main",
        "private",
        ("payments",),
    )
    assert facts.viewer_permission == "WRITE"  # from the PR's base.repo: no GET of the repository
    pr = facts.pull_request
    assert pr is not None
    assert (pr.number, pr.title, pr.author, pr.state) == (42, "Log in with passkeys", "dev", "open")
    assert (pr.head_ref, pr.head_sha, pr.head_repo, pr.base_ref) == ("feature/login", HEAD, "acme/web", "staging")
    assert pr.files == (
        "src/login.py",
        ".github/workflows/preview.yml",
        ".github/workflows/old.yml",
        "docs/login.md",
        "docs/auth.md",  # a rename changes its old path too
    )
    assert pr.reviews is not None and [(r.author, r.state) for r in pr.reviews] == [
        ("bob", "APPROVED"),
        ("dev", "COMMENTED"),
    ]
    assert pr.checks is not None and [(c.name, c.source, c.ok) for c in pr.checks] == [
        ("test", "check_run", True),
        ("lint", "status", True),
    ]

    (base,) = facts.branches  # the base branch only, not every role branch of the policy
    assert base.name == "staging"
    assert base.exists is None  # BRANCHES is not in the gate plan: not fetched
    assert base.classic is None and base.classic_gap is not None and base.classic_gap.http_status == 403
    assert [r.type for r in base.rules] == ["required_status_checks", "pull_request"]
    (ruleset,) = base.rulesets
    assert ruleset.id == 8 and ruleset.bypass_actors is None and ruleset.bypass_gap is not None

    wf = facts.workflows
    assert wf is not None and wf.ref == HEAD and wf.gap is None
    assert [w.path for w in wf.items] == [".github/workflows/preview.yml"]  # old.yml is removed at the head
    assert wf.items[0].trigger("pull_request_target") is not None
    assert wf.items[0].jobs[0].checks_out_pr_head
    assert facts.environments is None and facts.docs is None and facts.codeowners is None
    assert RepoFacts.from_json(facts.to_json()) == facts


def test_gate_request_count(fake: FakeGitHub) -> None:
    pr_world(fake)
    _, client = gate(fake)
    paths = fake.paths()
    print(f"the deployment-standard gate cost {len(paths)} requests for one PR", file=sys.stderr)
    assert paths == [
        f"{R}/pulls/{NUMBER}",
        f"{R}/pulls/{NUMBER}/files",
        f"{R}/pulls/{NUMBER}/reviews",
        f"{R}/commits/{HEAD}/check-runs",
        f"{R}/commits/{HEAD}/status",
        f"{R}/branches/staging/protection",
        f"{R}/rules/branches/staging",
        f"{R}/contents/.github/workflows",
        f"{R}/git/blobs/b-prev",  # the one changed workflow still present at the head
    ]
    assert client.cost.requests == len(paths) == GATE_REQUESTS <= GATE_BUDGET
    assert fake.log[7].query == {"ref": HEAD}
    assert all(e.query.get("per_page") == "100" for e in fake.log if e.path.endswith(("/files", "/reviews")))
    assert f"{R}/rulesets/8" not in paths and R not in paths


def test_pr_without_workflow_changes_reads_no_workflow_file(fake: FakeGitHub) -> None:
    pr_world(fake, files=[{"filename": "src/login.py", "status": "modified"}])
    facts, client = gate(fake)
    assert facts.workflows is not None and facts.workflows.items == () and facts.workflows.ref == HEAD
    assert not any("/contents/" in p or "/git/" in p for p in fake.paths())
    assert client.cost.requests == GATE_REQUESTS - 2


def test_whole_policy_plan_stays_within_the_budget(fake: FakeGitHub) -> None:
    """Even with every rule's needs, the gate reads only PR-related facts: base branch, head tree."""
    pr_world(fake)
    facts, client = gate(fake, plan_for(POLICY))
    assert client.cost.requests <= GATE_BUDGET
    assert client.cost.requests == GATE_REQUESTS + 1  # the base branch head; one tree replaces the listing
    assert f"{R}/git/trees/{HEAD}" in fake.paths() and f"{R}/contents/.github/workflows" not in fake.paths()
    (base,) = facts.branches
    assert base.exists is True and base.head_sha == "s1"
    assert facts.codeowners is not None and facts.codeowners.path == ".github/CODEOWNERS"
    assert facts.codeowners.errors is None and facts.codeowners.errors_gap is not None  # not read by the gate
    docs = facts.docs
    assert docs is not None and docs.ref == HEAD
    present = {d.path: d.exists for d in docs.files}
    assert present["README.md"] is True and present["CHANGELOG.md"] is False
    assert set(present) == set(plan_for(POLICY).doc_paths)
    assert all(d.headings is None and d.last_changed_at is None for d in docs.files)  # presence only
    assert facts.workflows is not None and [w.path for w in facts.workflows.items] == [".github/workflows/preview.yml"]
    assert facts.environments is None and facts.deployments is None  # not the gate's business


def test_fork_pr_is_read_from_the_base_repository(fake: FakeGitHub) -> None:
    pr_world(fake, head_repo="stranger/web")
    facts, _ = gate(fake)
    assert facts.pull_request is not None and facts.pull_request.head_repo == "stranger/web"
    assert all(p.startswith(R) for p in fake.paths())
    assert facts.workflows is not None and [w.path for w in facts.workflows.items] == [".github/workflows/preview.yml"]


def test_deleted_fork_leaves_head_repo_unknown(fake: FakeGitHub) -> None:
    pr_world(fake, head_repo=None)
    facts, _ = gate(fake)
    assert facts.pull_request is not None and facts.pull_request.head_repo is None


def test_unreadable_parts_become_gaps(fake: FakeGitHub) -> None:
    fake.add(f"{R}/pulls/{NUMBER}/files", Reply(403, {"message": "Resource not accessible by integration"}))
    fake.add(f"{R}/commits/{HEAD}/status", Reply(502, {"message": "Server Error"}))
    pr_world(fake)
    facts, _ = gate(fake)
    pr = facts.pull_request
    assert pr is not None and pr.files is None and pr.files_gap is not None
    assert pr.files_gap.http_status == 403 and pr.files_gap.permission == "Pull requests: read"
    assert pr.checks is None and pr.checks_gap is not None and pr.checks_gap.http_status == 502
    assert pr.reviews is not None  # the rest of the PR is still read
    wf = facts.workflows
    assert wf is not None and wf.gap == pr.files_gap and wf.ref == HEAD  # which workflows changed is unknown


def test_unreadable_pull_request_raises(fake: FakeGitHub) -> None:
    pr_world(fake)
    with pytest.raises(UnexpectedResponseError) as info:
        collect_pull_request(make_client(fake), "acme/web", 7, GATE_PLAN, NOW)
    assert info.value.status == 404 and info.value.permission == "Pull requests: read"


def test_rest_source_method_matches_the_function(fake: FakeGitHub) -> None:
    pr_world(fake)
    via_function, _ = gate(fake)
    via_source = RestSource(make_client(fake)).collect_pull_request("acme/web", NUMBER, GATE_PLAN, NOW)
    assert via_source == via_function


def test_gate_rules_read_the_collected_facts(fake: FakeGitHub) -> None:
    pr_world(fake, admin=True)
    facts, _ = gate(fake)
    results = {(r.rule, r.target): r.status for r in evaluate(POLICY, facts, rule_ids=GATE_RULES)}
    assert results[("pr-target-branch", "pr:42")] is Status.PASS
    assert results[("pr-approved", "pr:42")] is Status.PASS  # bob approved; the author's comment does not count
    assert results[("pr-checks-green", "pr:42")] is Status.PASS  # lint (classic) and test (ruleset) are green
    assert results[("pr-workflow-safety", "workflow:.github/workflows/preview.yml")] is Status.FAIL
    assert results[("pr-workflow-safety", "workflow:.github/workflows/old.yml")] is Status.NOT_APPLICABLE
