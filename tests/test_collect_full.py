"""The REST collector over a fake GitHub answering every endpoint of FULL_PLAN: facts, gaps and cost."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from github import Auth

from auditor.facts import Gap, RepoFacts
from auditor.github import retry as rp
from auditor.github.client import GitHubClient
from auditor.github.collect import RestSource, collect_many, collect_repo, list_org_repos
from auditor.github.errors import AuthError
from auditor.plan import FULL_PLAN, FactPlan
from auditor.rules.base import Need
from tests.github.fake_github import FakeGitHub, Reply, serve
from tests.github.world import NOW, R, full_world

# One repository under FULL_PLAN, measured below; update with care: it is the product's cost figure.
FULL_PLAN_REQUESTS = 43


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


def make_client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(max_retries=1), sleeper=lambda s: None)


def run(fake: FakeGitHub, plan: FactPlan = FULL_PLAN) -> tuple[RepoFacts, GitHubClient]:
    c = make_client(fake)
    facts = collect_repo(c, "acme/web", plan, NOW)
    return facts, c


def test_full_plan_facts(fake: FakeGitHub) -> None:
    full_world(fake)
    facts, _ = run(fake)
    assert facts.default_branch == "main"
    assert facts.visibility == "private"
    assert facts.topics == ("payments",)
    assert facts.viewer_permission == "ADMIN"
    main, staging = facts.branches
    assert (main.exists, main.head_sha) == (True, "m1")
    assert main.classic is not None
    assert main.classic.required_approvals == 2
    assert main.classic.required_checks == ("ci",)
    assert main.classic.enforce_admins and main.classic.dismiss_stale_reviews and main.classic.strict_checks
    assert [r.type for r in main.rules] == ["pull_request", "deletion"]
    assert {r.ruleset_name for r in main.rules} == {"Protect main"}
    assert main.rulesets[0].bypass_actors is not None
    assert main.rulesets[0].bypass_actors[0].actor_type == "OrganizationAdmin"
    assert staging.classic is None and staging.classic_gap is None and staging.rules == ()

    envs = facts.environments
    assert envs is not None and envs.gap is None
    prod = envs.get("Production")
    assert prod is not None
    assert (prod.wait_timer, prod.reviewers, prod.prevent_self_review) == (10, ("alice", "release-managers"), True)
    assert prod.can_admins_bypass is False
    assert prod.branch_policy == "custom" and prod.branch_patterns == ("main", "tag:v*")
    assert prod.custom_protection_apps == ("datadog",)
    assert prod.secrets is not None and [s.name for s in prod.secrets] == ["DEPLOY_KEY"]
    staging_env = envs.get("staging")
    assert staging_env is not None and staging_env.branch_policy == "protected" and staging_env.secrets == ()
    preview = envs.get("preview")
    assert preview is not None and preview.secrets is None  # not a policy environment: not fetched

    assert facts.repo_secrets is not None and [s.name for s in facts.repo_secrets.items] == ["NPM_TOKEN"]
    assert facts.org_secrets is not None and facts.org_secrets.items[0].visibility == "all"
    sec = facts.security
    assert sec is not None
    assert (sec.secret_scanning, sec.push_protection, sec.dependabot_alerts) == (True, False, True)
    assert sec.default_workflow_permissions == "read" and sec.gaps == {}

    assert facts.codeowners is not None and facts.codeowners.path == ".github/CODEOWNERS"
    assert facts.codeowners.errors is not None and facts.codeowners.errors[0].line == 3
    wf = facts.workflows
    assert wf is not None and wf.ref == "main"
    assert [w.path for w in wf.items] == [".github/workflows/ci.yaml", ".github/workflows/deploy.yml"]
    assert wf.items[1].jobs[0].environment == "production"

    docs = facts.docs
    assert docs is not None and docs.tree is not None and "README.md" in docs.tree
    readme = docs.file("README.md")
    assert readme is not None and readme.headings == ("Web", "Deploying") and readme.last_changed_at is not None
    deploy = docs.file("docs/deployment.md")
    assert deploy is not None and deploy.headings == ("Deployment", "Rollback")
    rollback = docs.file("docs/rollback.md")
    assert rollback is not None and rollback.exists is False
    assert docs.watched[0].path == ".github/workflows" and docs.watched[0].last_changed_at is not None

    prs = facts.pull_requests
    assert prs is not None and [p.number for p in prs.items] == [1, 2]  # #9 unmerged, #8 outside the window
    assert prs.items[0].reviews is not None and prs.items[0].reviews[0].author == "bob"
    checks = prs.items[0].checks
    assert checks is not None and [(c.name, c.ok) for c in checks] == [("ci", True), ("legacy/ci", False)]

    assert facts.commits is not None
    main_commits = facts.branch_commits("main")
    assert main_commits is not None
    assert [(c.sha, c.pull_requests, c.parents) for c in main_commits.items] == [("m1", (1,), 2), ("m0", (4,), 1)]
    staging_commits = facts.branch_commits("staging")
    assert staging_commits is not None
    # s1 is PR #2's merge commit; s0 cannot be associated cheaply off the default branch: unknown
    assert [(c.sha, c.pull_requests) for c in staging_commits.items] == [("s1", (2,)), ("s0", None)]

    deps = facts.deployments
    assert deps is not None and [d.id for d in deps.items] == [11]
    assert deps.items[0].state == "success" and deps.items[0].creator == "deployer"
    assert facts.webhooks is not None and facts.webhooks.items[0].events == ("deployment_status",)
    assert RepoFacts.from_json(facts.to_json()) == facts


def test_full_plan_request_count(fake: FakeGitHub) -> None:
    full_world(fake)
    facts, client = run(fake)
    paths = fake.paths()
    print(f"FULL_PLAN cost one repository {len(paths)} requests", file=sys.stderr)
    assert client.cost.requests == len(paths) == FULL_PLAN_REQUESTS
    assert client.cost.retries == 0
    assert len(paths) == len(set(map(str, ((e.path, sorted(e.query.items())) for e in fake.log))))  # nothing twice
    assert paths.count(f"{R}/git/trees/main") == 1  # one tree serves CODEOWNERS, workflows and docs
    assert paths.count(f"{R}/rulesets/7") == 1
    assert f"{R}/git/blobs/b-txt" not in paths
    assert all(e.query.get("per_page") == "100" for e in fake.log if e.path in (f"{R}/pulls", f"{R}/environments"))
    assert facts.repo == "acme/web"


def test_only_requested_sections_are_fetched(fake: FakeGitHub) -> None:
    full_world(fake)
    plan = FactPlan(needs=frozenset({Need.REPO_SECRETS}), branches=("main",))
    facts, client = run(fake, plan)
    assert fake.paths() == [R, f"{R}/actions/secrets"]
    assert facts.branches == () and facts.environments is None and facts.docs is None
    assert client.cost.requests == 2


def test_non_admin_sees_gaps_not_failures(fake: FakeGitHub) -> None:
    full_world(fake, admin=False)
    facts, _ = run(fake)
    assert facts.viewer_permission == "WRITE"
    main = facts.branch("main")
    assert main is not None and main.classic is None
    assert main.classic_gap is not None and main.classic_gap.permission == "Administration: read"
    assert main.classic_gap.http_status == 403
    assert main.rules and main.rulesets[0].bypass_actors is None
    assert main.rulesets[0].bypass_gap is not None
    sec = facts.security
    assert sec is not None and sec.secret_scanning is None and sec.dependabot_alerts is None
    assert set(sec.gaps) == {"secret_scanning", "push_protection", "dependabot_alerts", "default_workflow_permissions"}
    assert sec.gaps["secret_scanning"].permission == "Administration: read"
    assert sec.gaps["dependabot_alerts"].http_status == 404
    assert facts.webhooks is not None and facts.webhooks.gap is not None and facts.webhooks.items == ()


def test_repo_level_server_errors_become_gaps(fake: FakeGitHub) -> None:
    fake.add(R, Reply(502, {"message": "Server Error"}))
    facts, client = run(fake)
    assert facts.repo_gap is not None and facts.repo_gap.http_status == 502
    assert facts.environments is not None and facts.environments.gap == facts.repo_gap
    assert all(b.exists is None and b.exists_gap is not None for b in facts.branches)
    assert client.cost.retries == 1


def test_section_server_errors_stay_in_their_section(fake: FakeGitHub) -> None:
    fake.add(f"{R}/environments", Reply(503, {"message": "Service Unavailable"}))
    full_world(fake)
    facts, _ = run(fake)
    assert facts.environments is not None and facts.environments.gap is not None
    assert facts.environments.gap.http_status == 503
    assert facts.repo_secrets is not None and facts.repo_secrets.gap is None


def test_missing_branch_skips_its_protection(fake: FakeGitHub) -> None:
    fake.add(f"{R}/branches/staging", Reply(404, {"message": "Branch not found"}))  # first match wins
    full_world(fake)
    plan = FactPlan(needs=frozenset({Need.BRANCHES, Need.PROTECTION}), branches=("main", "staging"))
    facts, _ = run(fake, plan)
    staging = facts.branch("staging")
    assert staging is not None and staging.exists is False and staging.classic_gap is None
    assert f"{R}/branches/staging/protection" not in fake.paths()


def test_bad_credentials_are_fatal(fake: FakeGitHub) -> None:
    fake.add(R, Reply(401, {"message": "Bad credentials"}))
    with pytest.raises(AuthError):
        run(fake)


def test_collect_many_keeps_order_and_sums_cost(fake: FakeGitHub) -> None:
    full_world(fake)
    plan = FactPlan(needs=frozenset({Need.REPO}))
    fake.add("/repos/acme/api", {"full_name": "acme/api", "default_branch": "trunk"})
    facts, cost = collect_many(
        lambda: RestSource(make_client(fake)), ["acme/web", "acme/api", "acme/gone"], plan, NOW, workers=2
    )
    assert [f.repo for f in facts] == ["acme/web", "acme/api", "acme/gone"]
    assert facts[1].default_branch == "trunk"
    assert facts[2].repo_gap is not None and facts[2].repo_gap.http_status == 404
    assert cost.requests == 3


def test_list_org_repos(fake: FakeGitHub) -> None:
    fake.add(
        "/orgs/acme/repos",
        [
            {"full_name": "acme/web", "visibility": "private", "archived": False, "fork": False, "topics": ["x"]},
            {"full_name": "acme/old", "private": False, "archived": True, "fork": True},
        ],
    )
    repos = list_org_repos(make_client(fake), "acme")
    assert [(r.full_name, r.visibility, r.archived, r.fork, r.topics) for r in repos] == [
        ("acme/web", "private", False, False, ("x",)),
        ("acme/old", "public", True, True, ()),
    ]
    assert fake.log[0].query == {"per_page": "100", "type": "all"}


def test_gap_describe_names_permission_and_status() -> None:
    gap = Gap("GitHub would not show x", permission="Administration: read", http_status=403)
    assert replace(gap).describe() == "GitHub would not show x; needs Administration: read (HTTP 403)"


ORG_SECRETS_PLAN = FactPlan(needs=frozenset({Need.ORG_SECRETS}))


def test_org_secret_visibility_unreadable_is_a_visibility_gap(fake: FakeGitHub) -> None:
    fake.add("/orgs/acme/actions/secrets", Reply(403, {"message": "Resource not accessible by integration"}))
    full_world(fake)
    facts, _ = run(fake, ORG_SECRETS_PLAN)
    secrets = facts.org_secrets
    assert secrets is not None and secrets.gap is None  # the names are known ...
    assert [(s.name, s.visibility) for s in secrets.items] == [("ORG_WIDE", None)]  # ... their visibility is not
    gap = secrets.visibility_gap
    assert gap is not None and gap.http_status == 403
    assert gap.permission == "Organization secrets: read (classic token: admin:org)"
    assert "Resource not accessible by integration" in gap.reason


def test_org_secret_visibility_gap_uses_githubs_accepted_permission(fake: FakeGitHub) -> None:
    fake.add(
        "/orgs/acme/actions/secrets",
        Reply(403, {"message": "Forbidden"}, {"X-Accepted-GitHub-Permissions": "organization_secrets=read"}),
    )
    full_world(fake)
    facts, _ = run(fake, ORG_SECRETS_PLAN)
    assert facts.org_secrets is not None and facts.org_secrets.visibility_gap is not None
    assert facts.org_secrets.visibility_gap.permission == "Organization secrets: read"


def test_org_secret_missing_from_the_org_listing_is_a_visibility_gap(fake: FakeGitHub) -> None:
    fake.add("/orgs/acme/actions/secrets", {"total_count": 0, "secrets": []})
    full_world(fake)
    facts, _ = run(fake, ORG_SECRETS_PLAN)
    secrets = facts.org_secrets
    assert secrets is not None and secrets.items[0].visibility is None
    assert secrets.visibility_gap is not None and "ORG_WIDE" in secrets.visibility_gap.reason


def test_readable_org_secret_visibility_has_no_gap(fake: FakeGitHub) -> None:
    full_world(fake)
    facts, _ = run(fake, ORG_SECRETS_PLAN)
    assert facts.org_secrets is not None and facts.org_secrets.visibility_gap is None
    assert facts.org_secrets.items[0].visibility == "all"


def test_unreadable_protection_apps_are_unknown_not_none(fake: FakeGitHub) -> None:
    fake.add(
        f"{R}/environments/production/deployment_protection_rules",
        Reply(
            403,
            {"message": "Resource not accessible by integration"},
            {"X-Accepted-GitHub-Permissions": "actions=read"},
        ),
    )
    full_world(fake)
    facts, _ = run(fake, FactPlan(needs=frozenset({Need.ENVIRONMENTS, Need.ENV_PROTECTION_APPS}),
                                environments=("production", "staging")))
    assert facts.environments is not None and facts.environments.gap is None
    prod, staging = facts.environments.get("production"), facts.environments.get("staging")
    assert prod is not None and prod.custom_protection_apps is None
    assert prod.custom_protection_apps_gap is not None
    assert (prod.custom_protection_apps_gap.http_status, prod.custom_protection_apps_gap.permission) == (
        403,
        "Actions: read",
    )
    assert prod.reviewers == ("alice", "release-managers")  # the rest of the environment is still read
    assert staging is not None and staging.custom_protection_apps == () and staging.custom_protection_apps_gap is None


def test_protection_apps_server_error_stays_in_its_environment(fake: FakeGitHub) -> None:
    fake.add(f"{R}/environments/production/deployment_protection_rules", Reply(502, {"message": "Server Error"}))
    full_world(fake)
    facts, _ = run(fake, FactPlan(needs=frozenset({Need.ENVIRONMENTS, Need.ENV_PROTECTION_APPS}),
                                  environments=("production",)))
    assert facts.environments is not None and facts.environments.gap is None
    prod = facts.environments.get("production")
    assert prod is not None and prod.custom_protection_apps is None
    assert prod.custom_protection_apps_gap is not None and prod.custom_protection_apps_gap.http_status == 502


def test_protection_apps_are_not_fetched_unless_a_rule_needs_them(fake: FakeGitHub) -> None:
    full_world(fake)
    facts, _ = run(fake, FactPlan(needs=frozenset({Need.ENVIRONMENTS}), environments=("production", "staging")))
    assert facts.environments is not None
    prod = facts.environments.get("production")
    assert prod is not None and prod.custom_protection_apps is None and prod.custom_protection_apps_gap is None
    assert not [e for e in fake.log if e.path.endswith("/deployment_protection_rules")]
