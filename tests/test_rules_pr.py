"""Table-driven tests of the pr-* rules (the pull-request gate) over hand-built facts."""

from __future__ import annotations

import cerberus
import pytest

from auditor.facts import CheckResult, Gap, Review, RuleDetail, Workflows
from auditor.model import Status
from auditor.rules import pr as R
from tests.factories import ADMIN_GAP, branch, classic, repo, run_rule, statuses
from tests.factories_pr import pull_request, workflow, workflows

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
PR_GAP = Gap("Resource not accessible by integration", "Pull requests: read", 403)
CHECKS_GAP = Gap("Resource not accessible by integration", "Checks: read", 403)
OK = CheckResult("test", conclusion="success")
RED = CheckResult("test", conclusion="failure")
RUNNING = CheckResult("test", status="in_progress")
LINT_OK = CheckResult("lint", conclusion="success", source="status")
LINT_RED = CheckResult("lint", conclusion="failure", source="status")
REQ_TEST = branch("staging", classic=classic(required_checks=("test",)))
RS_CHECKS = RuleDetail(type="required_status_checks", ruleset_id=3, ruleset_name="CI",
                       parameters={"required_status_checks": [{"context": "lint"}]})


def case(rule, expected, params=None, branches=(), workflows_=None, **pr_kw):
    """One table row: the PR is built from `pr_kw` (pr_kw={"pr": None} means no PR at all)."""
    pr = None if pr_kw.get("pr", True) is None else pull_request(**pr_kw)
    facts = repo(pull_request=pr, branches=branches, workflows=workflows_)
    return pytest.param(rule, facts, params or {}, expected, id=f"{rule.id}-{expected}")


NO_PR = {"pr": None}

TARGET = [
    case(R.PR_TARGET_BRANCH, P),
    case(R.PR_TARGET_BRANCH, F, head_ref="main"),
    case(R.PR_TARGET_BRANCH, U, head_ref="main", head_repo=None),
    case(R.PR_TARGET_BRANCH, P, head_ref="main", head_repo="mallory/web"),
    case(R.PR_TARGET_BRANCH, P, head_ref="staging", base_ref="main"),
    case(R.PR_TARGET_BRANCH, U, head_ref="staging", base_ref="main", head_repo=None),
    case(R.PR_TARGET_BRANCH, F, head_ref="staging", base_ref="main", head_repo="mallory/web"),
    case(R.PR_TARGET_BRANCH, F, head_ref="feature/login", base_ref="main"),
    case(R.PR_TARGET_BRANCH, F, head_ref="hotfix/db", base_ref="main"),
    case(R.PR_TARGET_BRANCH, P, {"allowed_heads": ["hotfix/*"]}, head_ref="hotfix/db", base_ref="main"),
    case(R.PR_TARGET_BRANCH, P, base_ref="release/2.1"),
    case(R.PR_TARGET_BRANCH, NA, **NO_PR),
]

APPROVED = [
    case(R.PR_APPROVED, P),
    case(R.PR_APPROVED, F, reviews=()),
    case(R.PR_APPROVED, F, reviews=(Review("alice", "APPROVED"),)),
    case(R.PR_APPROVED, F, reviews=(Review("ALICE", "APPROVED"),)),
    case(R.PR_APPROVED, F, reviews=(Review("bob", "APPROVED"), Review("bob", "CHANGES_REQUESTED"))),
    case(R.PR_APPROVED, F, reviews=(Review("bob", "APPROVED"), Review("bob", "DISMISSED"))),
    case(R.PR_APPROVED, P, reviews=(Review("bob", "CHANGES_REQUESTED"), Review("bob", "APPROVED"))),
    case(R.PR_APPROVED, P, reviews=(Review("bob", "APPROVED"), Review("bob", "COMMENTED"))),
    case(R.PR_APPROVED, F, {"min_approvals": 2}, reviews=(Review("bob", "APPROVED"), Review("bob", "APPROVED"))),
    case(R.PR_APPROVED, P, {"min_approvals": 2}, reviews=(Review("bob", "APPROVED"), Review("carol", "APPROVED"))),
    case(R.PR_APPROVED, P, {"min_approvals": 0}, reviews=()),
    case(R.PR_APPROVED, U, reviews=None, reviews_gap=PR_GAP),
    case(R.PR_APPROVED, NA, **NO_PR),
]

CHECKS = [
    case(R.PR_CHECKS_GREEN, P, branches=(REQ_TEST,)),
    case(R.PR_CHECKS_GREEN, F, branches=(REQ_TEST,), checks=(RED,)),
    case(R.PR_CHECKS_GREEN, F, branches=(REQ_TEST,), checks=(RUNNING,)),
    case(R.PR_CHECKS_GREEN, F, branches=(REQ_TEST,), checks=(LINT_OK,)),
    case(R.PR_CHECKS_GREEN, F, branches=(REQ_TEST,), checks=(OK, CheckResult("test", conclusion="failure",
                                                                             source="status"))),
    case(R.PR_CHECKS_GREEN, P, branches=(REQ_TEST,), checks=(OK, LINT_RED)),  # lint is not required
    case(R.PR_CHECKS_GREEN, P, branches=(REQ_TEST,), checks=(CheckResult("test", conclusion="skipped"),)),
    case(R.PR_CHECKS_GREEN, P, branches=(branch("staging", classic=classic(required_checks=("test",)),
                                                rules=(RS_CHECKS,)),), checks=(OK, LINT_OK)),
    case(R.PR_CHECKS_GREEN, F, branches=(branch("staging", classic=classic(required_checks=("test",)),
                                                rules=(RS_CHECKS,)),), checks=(OK, LINT_RED)),
    case(R.PR_CHECKS_GREEN, P, branches=(branch("staging"),), checks=(OK, LINT_OK)),
    case(R.PR_CHECKS_GREEN, F, branches=(branch("staging"),), checks=(OK, LINT_RED)),
    case(R.PR_CHECKS_GREEN, P, branches=(branch("staging"),), checks=()),
    case(R.PR_CHECKS_GREEN, U, branches=(branch("staging", classic_gap=ADMIN_GAP),)),
    case(R.PR_CHECKS_GREEN, F, branches=(branch("staging", classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
         checks=(LINT_RED,)),
    case(R.PR_CHECKS_GREEN, U, branches=(branch("staging", classic_gap=ADMIN_GAP, rules=(RS_CHECKS,)),),
         checks=(LINT_OK,)),
    case(R.PR_CHECKS_GREEN, U),  # the base branch was not collected
    case(R.PR_CHECKS_GREEN, U, branches=(REQ_TEST,), checks=None, checks_gap=CHECKS_GAP),
    case(R.PR_CHECKS_GREEN, NA, **NO_PR),
]

DOCS = [
    case(R.PR_DOCS_UPDATED, NA),
    case(R.PR_DOCS_UPDATED, P, files=(".github/workflows/deploy.yml", "docs/deployment.md")),
    case(R.PR_DOCS_UPDATED, P, files=("infra/prod/main.tf", "CHANGELOG.md")),
    case(R.PR_DOCS_UPDATED, F, files=("Dockerfile", "src/app.py")),
    case(R.PR_DOCS_UPDATED, F, files=("deploy/k8s/app.yaml", "docsite/index.md")),
    case(R.PR_DOCS_UPDATED, NA, files=("services/api/Dockerfile", "docs/x.md")),
    case(R.PR_DOCS_UPDATED, P, {"paths": ["RUNBOOK.md"]}, files=("Dockerfile", "RUNBOOK.md")),
    case(R.PR_DOCS_UPDATED, U, files=None, files_gap=PR_GAP),
    case(R.PR_DOCS_UPDATED, NA, **NO_PR),
]

SHA = "b4ffde65f46336ab88eb53be808477a3936bae11"
SAFE = workflow(f"""\
    on:
      push:
        branches: [main]
    jobs:
      deploy:
        environment: production
        steps:
          - uses: actions/checkout@v4
          - uses: aws-actions/configure-aws-credentials@{SHA}
            with:
              aws-secret-access-key: ${{{{ secrets.AWS_SECRET_ACCESS_KEY }}}}
          - run: ./deploy.sh
            env:
              GH: ${{{{ secrets.GITHUB_TOKEN }}}}
    """, ".github/workflows/deploy.yml")
PWN = workflow("""\
    on: pull_request_target
    jobs:
      test:
        steps:
          - uses: actions/checkout@v4
            with: {ref: "${{ github.event.pull_request.head.sha }}"}
    """, ".github/workflows/deploy.yml")
PR_HEAD_ON_PULL_REQUEST = workflow("""\
    on: pull_request
    jobs:
      test:
        steps:
          - uses: actions/checkout@v4
            with: {ref: "${{ github.event.pull_request.head.sha }}"}
    """, ".github/workflows/deploy.yml")
WORKFLOW_RUN = workflow("""\
    on:
      workflow_run:
        workflows: [CI]
    jobs:
      report:
        steps:
          - run: gh pr checkout 1 && make report
    """, ".github/workflows/deploy.yml")
NAKED_SECRET = workflow("""\
    on: push
    jobs:
      publish:
        steps:
          - run: npm publish
            env:
              NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
    """, ".github/workflows/deploy.yml")
ONLY_GITHUB_TOKEN = workflow("""\
    on: push
    jobs:
      label:
        steps:
          - run: gh pr edit --add-label x
            env:
              GH_TOKEN: ${{ secrets.GITHUB_TOKEN }}
    """, ".github/workflows/deploy.yml")
TAGGED = workflow("""\
    on: push
    jobs:
      notify:
        environment: production
        steps:
          - uses: slackapi/slack-github-action@v1.26.0
          - uses: github/codeql-action/init@v3
    """, ".github/workflows/deploy.yml")
REUSABLE_ON_BRANCH = workflow("""\
    on: push
    jobs:
      call:
        uses: acme/shared/.github/workflows/deploy.yml@main
        secrets: inherit
    """, ".github/workflows/deploy.yml")
BROKEN = workflow("on: push\njobs: [\n", ".github/workflows/deploy.yml")
WF_FILES = {"files": (".github/workflows/deploy.yml", "src/app.py")}

SAFETY = [
    case(R.PR_WORKFLOW_SAFETY, NA, workflows_=workflows(SAFE)),
    case(R.PR_WORKFLOW_SAFETY, NA, workflows_=workflows(SAFE), files=(".github/workflows/sub/x.yml",)),
    case(R.PR_WORKFLOW_SAFETY, P, workflows_=workflows(SAFE), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(PWN), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, P, workflows_=workflows(PR_HEAD_ON_PULL_REQUEST), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(WORKFLOW_RUN), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(NAKED_SECRET), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, P, {"credential_patterns": ["*PASSWORD*"]}, workflows_=workflows(NAKED_SECRET),
         **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, P, workflows_=workflows(ONLY_GITHUB_TOKEN), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(TAGGED), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, P, {"require_pinned": False}, workflows_=workflows(TAGGED), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, P, {"trusted_owners": ["actions", "github", "slackapi"]},
         workflows_=workflows(TAGGED), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(REUSABLE_ON_BRANCH), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, F, workflows_=workflows(BROKEN), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, NA, workflows_=workflows(), **WF_FILES),  # removed by the PR
    case(R.PR_WORKFLOW_SAFETY, U, workflows_=None, **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, U, workflows_=Workflows(gap=PR_GAP), **WF_FILES),
    case(R.PR_WORKFLOW_SAFETY, U, workflows_=workflows(SAFE), files=None, files_gap=PR_GAP),
    case(R.PR_WORKFLOW_SAFETY, NA, workflows_=workflows(SAFE), **NO_PR),
]


@pytest.mark.parametrize(("rule", "facts", "params", "expected"), TARGET + APPROVED + CHECKS + DOCS + SAFETY)
def test_pr_rules(rule, facts, params, expected):
    outcomes = run_rule(rule, facts, params)
    assert statuses(outcomes) == [expected]
    [out] = outcomes
    assert out.message.endswith(".")
    if facts.pull_request is None:
        assert out.target == "repo"
        assert "No pull request" in out.message
        return
    assert out.target in {"pr:42", "workflow:.github/workflows/deploy.yml", "workflow:.github/workflows/sub/x.yml"}
    if out.target == "pr:42":
        assert "#42" in out.message
    if expected is U:
        assert "unknown" in out.message


def test_target_branch_outside_the_promotion_path_says_so():
    [out] = run_rule(R.PR_TARGET_BRANCH, repo(pull_request=pull_request(base_ref="release/2.1")))
    assert out.evidence["governed"] is False
    assert "does not govern" in out.message


def test_approved_notes_code_owner_enforcement_by_github():
    base = branch("staging", classic=classic(required_approvals=1, require_code_owner_reviews=True))
    [out] = run_rule(R.PR_APPROVED, repo(pull_request=pull_request(), branches=(base,)))
    assert out.status is P
    assert "code owner" in out.message
    assert "enforced by GitHub" in out.evidence["code_owner_review"]


def test_approved_counts_distinct_non_author_reviewers():
    reviews = (Review("bob", "APPROVED"), Review("alice", "APPROVED"), Review("bob", "APPROVED"),
               Review("carol", "COMMENTED"))
    [out] = run_rule(R.PR_APPROVED, repo(pull_request=pull_request(reviews=reviews)))
    assert out.evidence["approvers"] == ["bob"]
    assert out.evidence["approvals"] == 1


def test_checks_green_failure_lists_missing_and_failing():
    base = branch("staging", classic=classic(required_checks=("test", "build")))
    [out] = run_rule(R.PR_CHECKS_GREEN, repo(pull_request=pull_request(checks=(RED,)), branches=(base,)))
    assert out.status is F
    assert out.evidence["missing"] == ["build"]
    assert out.evidence["not_successful"] == ["test"]


def test_checks_green_without_required_checks_says_so():
    [out] = run_rule(R.PR_CHECKS_GREEN, repo(pull_request=pull_request(), branches=(branch("staging"),)))
    assert out.status is P
    assert "requires no checks" in out.message


def test_workflow_safety_names_every_problem():
    bad = workflow(f"""\
        on: pull_request_target
        jobs:
          build:
            steps:
              - uses: actions/checkout@{SHA}
                with: {{ref: "${{{{ github.head_ref }}}}"}}
              - uses: some/action@master
              - run: echo ${{{{ secrets['DEPLOY_KEY'] }}}}
        """, ".github/workflows/deploy.yml")
    facts = repo(pull_request=pull_request(**WF_FILES), workflows=workflows(bad))
    [out] = run_rule(R.PR_WORKFLOW_SAFETY, facts)
    assert out.status is F
    assert len(out.evidence["pr_head_checkout"]) == 1
    assert out.evidence["secrets_outside_environment"] == ["job build uses DEPLOY_KEY without an environment"]
    assert out.evidence["unpinned"] == ["some/action@master"]
    assert out.evidence["pr"] == 42


def test_workflow_safety_one_result_per_changed_workflow():
    other = workflow("on: push\njobs:\n  a:\n    steps: [{run: x}]\n", ".github/workflows/lint.yaml")
    facts = repo(pull_request=pull_request(files=(".github/workflows/deploy.yml", ".github/workflows/lint.yaml")),
                 workflows=workflows(PWN, other))
    outcomes = run_rule(R.PR_WORKFLOW_SAFETY, facts)
    assert [(o.target, o.status) for o in outcomes] == [
        ("workflow:.github/workflows/deploy.yml", F), ("workflow:.github/workflows/lint.yaml", P)]


@pytest.mark.parametrize(("path", "glob", "expected"), [
    (".github/workflows/ci.yml", ".github/workflows/*", True),
    (".github/workflows/sub/ci.yml", ".github/workflows/*", False),
    ("deploy/k8s/prod/app.yaml", "deploy/**", True),
    ("deploy", "deploy/**", False),
    ("Dockerfile", "**/Dockerfile", True),
    ("svc/api/Dockerfile", "**/Dockerfile", True),
    ("docs/a.md", "docs/*.md", True),
    ("docs/a/b.md", "docs/*.md", False),
    ("README.md", "README.md", True),
    ("READMExmd", "README.md", False),
])
def test_path_globs(path, glob, expected):
    assert R.path_matches(path, [glob]) is expected


# Every facts gap a pr rule depends on makes it unknown, never pass.
GAPS = [
    (R.PR_TARGET_BRANCH, repo(pull_request=pull_request(head_ref="main", head_repo=None))),
    (R.PR_APPROVED, repo(pull_request=pull_request(reviews=None, reviews_gap=PR_GAP))),
    (R.PR_CHECKS_GREEN, repo(pull_request=pull_request(), branches=())),
    (R.PR_CHECKS_GREEN, repo(pull_request=pull_request(), branches=(branch("staging", classic_gap=ADMIN_GAP),))),
    (R.PR_CHECKS_GREEN, repo(pull_request=pull_request(checks=None, checks_gap=CHECKS_GAP), branches=(REQ_TEST,))),
    (R.PR_DOCS_UPDATED, repo(pull_request=pull_request(files=None, files_gap=PR_GAP))),
    (R.PR_WORKFLOW_SAFETY, repo(pull_request=pull_request(files=None, files_gap=PR_GAP), workflows=workflows())),
    (R.PR_WORKFLOW_SAFETY, repo(pull_request=pull_request(**WF_FILES), workflows=None)),
    (R.PR_WORKFLOW_SAFETY, repo(pull_request=pull_request(**WF_FILES), workflows=Workflows(gap=PR_GAP))),
]


def test_every_pr_rule_has_a_gap_case():
    assert {rule.id for rule, _ in GAPS} == {rule.id for rule in R.RULES}


@pytest.mark.parametrize(("rule", "facts"), GAPS, ids=[f"{r.id}-{i}" for i, (r, _) in enumerate(GAPS)])
def test_pr_unobserved_is_unknown_never_pass(rule, facts):
    outcomes = run_rule(rule, facts)
    assert outcomes
    assert set(statuses(outcomes)) == {U}


def test_gap_reason_and_permission_travel_with_the_result():
    [out] = run_rule(R.PR_APPROVED, repo(pull_request=pull_request(reviews=None, reviews_gap=PR_GAP)))
    assert "Pull requests: read" in out.message
    assert out.evidence["permission"] == "Pull requests: read"


@pytest.mark.parametrize("rule", R.RULES, ids=[r.id for r in R.RULES])
def test_params_are_a_cerberus_schema_with_defaults(rule):
    assert all("default" in spec for spec in rule.params.values())
    validator = cerberus.Validator(rule.params)
    assert validator.validate({})
    assert validator.document == rule.defaults
