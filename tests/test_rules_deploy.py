"""Table-driven tests of the deploy-* rules over hand-built facts."""

from __future__ import annotations

import pytest

from auditor.facts import Deployments, DocFile, Docs, Job, Step, Trigger, Webhook, Webhooks, Workflow
from auditor.model import Status
from auditor.rules import _filters as filters
from auditor.rules import deploy as D
from tests.factories import repo, run_rule, statuses
from tests.factories_deploy import (
    GAP,
    action,
    ago,
    all_sections_gapped,
    all_sections_none,
    check_rule_metadata,
    deploy_workflow,
    deployment,
    job,
    push,
    step,
    wfs,
    workflow,
)

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

PROD_WF = deploy_workflow("production", "main")
STAGING_WF = deploy_workflow("staging", "staging")
CI_WF = workflow(".github/workflows/ci.yml", (Trigger("pull_request"),), (job("test"),))
BROKEN_WF = workflow(".github/workflows/bad.yml", parse_error="mapping values are not allowed here")
SLACK = step("slackapi/slack-github-action")


# --------------------------------------------------------------------------------------------
# glob semantics shared by the branch filters


@pytest.mark.parametrize(("patterns", "name", "expected"), [
    (("main",), "main", True),
    (("release/*",), "release/v1", True),
    (("release/*",), "release/v1/hotfix", False),
    (("release/**",), "release/v1/hotfix", True),
    (("*",), "feature/x", False),
    (("**",), "feature/x", True),
    (("releases/**", "!releases/**-alpha"), "releases/v1-alpha", False),
    (("releases/**", "!releases/**-alpha"), "releases/v1", True),
    (("v[12].x",), "v2.x", True),
    (("v[12].x",), "v3.x", False),
    (("mains?",), "main", True),
])
def test_filter_admits_follows_github_globs(patterns, name, expected):
    assert filters.filter_admits(patterns, name) is expected


# --------------------------------------------------------------------------------------------
# deploy-automated: one result per environment role (production, staging)

AUTOMATED = [
    (wfs(PROD_WF, STAGING_WF, CI_WF), [P, P]),
    (wfs(PROD_WF), [P, F]),
    (wfs(workflow(jobs=(job(environment="Production"), job("s", environment="staging")),
                  triggers=(push(),))), [P, P]),
    (wfs(workflow(jobs=(job(environment="production"),), triggers=(push("release/*"),))), [F, F]),
    (wfs(workflow(jobs=(job(environment="production"),), triggers=(push(ignore=("main",)),))), [F, F]),
    (wfs(workflow(jobs=(job(environment="production"),), triggers=(Trigger("workflow_dispatch"),))), [F, F]),
    (wfs(PROD_WF, BROKEN_WF), [P, U]),
    (wfs(gap=GAP), [U, U]),
    (None, [U, U]),
]


@pytest.mark.parametrize(("workflows", "expected"), AUTOMATED, ids=[str(i) for i in range(len(AUTOMATED))])
def test_deploy_automated(workflows, expected):
    outcomes = run_rule(D.DEPLOY_AUTOMATED, repo(workflows=workflows))
    assert statuses(outcomes) == expected
    assert [o.target for o in outcomes] == ["environment:production", "environment:staging"]
    for out in outcomes:
        assert out.message.endswith(".")


def test_deploy_automated_names_the_workflow():
    out = run_rule(D.DEPLOY_AUTOMATED, repo(workflows=wfs(PROD_WF)))[0]
    assert out.evidence["workflows"] == [PROD_WF.path]
    assert PROD_WF.path in out.message


def test_deploy_automated_without_environment_roles_is_not_applicable():
    outcomes = run_rule(D.DEPLOY_AUTOMATED, repo(workflows=wfs(PROD_WF)), environments={})
    assert statuses(outcomes) == [NA]


# --------------------------------------------------------------------------------------------
# deploy-notifications: one result per deploy workflow

STATUS_WF = workflow(".github/workflows/notify.yml", (Trigger("deployment_status"),), (job("ping"),))
HOOK = Webhook(1, ("push", "deployment_status"))
REUSABLE = action("acme/slack-reusable/.github/workflows/notify.yml")

NOTIFICATIONS = [
    (wfs(deploy_workflow("production", "main", SLACK)), Webhooks(), {}, [P]),
    (wfs(deploy_workflow("production", "main", step("acme/teams-notify-action"))), Webhooks(), {}, [P]),
    (wfs(deploy_workflow("production", "main", step("Acme/Slack-Poster"))), Webhooks(), {}, [P]),
    (wfs(PROD_WF), Webhooks(), {}, [F]),
    (wfs(PROD_WF, STAGING_WF), Webhooks(), {}, [F, F]),
    (wfs(deploy_workflow("production", "main", SLACK), STAGING_WF), Webhooks(), {}, [P, F]),
    (wfs(PROD_WF, STATUS_WF), Webhooks(), {}, [P]),
    (wfs(PROD_WF), Webhooks((HOOK,)), {}, [P]),
    (wfs(PROD_WF), Webhooks((Webhook(2, ("*",)),)), {}, [P]),
    (wfs(PROD_WF), Webhooks((Webhook(3, ("deployment_status",), active=False),)), {}, [F]),
    (wfs(PROD_WF), Webhooks((Webhook(4, ("push",)),)), {}, [F]),
    (wfs(PROD_WF), Webhooks(gap=GAP), {}, [U]),
    (wfs(PROD_WF), None, {}, [U]),
    (wfs(deploy_workflow("production", "main", SLACK)), Webhooks(gap=GAP), {}, [P]),
    (wfs(deploy_workflow("production", "main", step("acme/pager"))), Webhooks(), {}, [F]),
    (wfs(deploy_workflow("production", "main", step("acme/pager"))), Webhooks(),
     {"notifier_patterns": ["acme/pager"]}, [P]),
    (wfs(workflow(jobs=(Job("d", environment="production", uses=REUSABLE),), triggers=(push(),))),
     Webhooks(), {}, [P]),
]


@pytest.mark.parametrize(("workflows", "webhooks", "params", "expected"), NOTIFICATIONS,
                         ids=[str(i) for i in range(len(NOTIFICATIONS))])
def test_deploy_notifications(workflows, webhooks, params, expected):
    outcomes = run_rule(D.DEPLOY_NOTIFICATIONS, repo(workflows=workflows, webhooks=webhooks), params)
    assert statuses(outcomes) == expected
    deploy_paths = [w.path for w in workflows.items if any(j.environment for j in w.jobs)]
    assert [o.target for o in outcomes] == [f"workflow:{p}" for p in deploy_paths]
    for out in outcomes:
        assert out.message.endswith(".")
        assert out.target.removeprefix("workflow:") in out.message


@pytest.mark.parametrize(("workflows", "expected"), [
    (wfs(CI_WF), NA),
    (wfs(), NA),
    (wfs(CI_WF, Workflow(path=".github/workflows/deploy.yml", parse_error="invalid YAML at line 5")), U),
    (wfs(gap=GAP), U),
    (None, U),
])
def test_deploy_notifications_repo_level(workflows, expected):
    outcomes = run_rule(D.DEPLOY_NOTIFICATIONS, repo(workflows=workflows, webhooks=Webhooks((HOOK,))))
    assert statuses(outcomes) == [expected]
    assert outcomes[0].target == "repo"


# --------------------------------------------------------------------------------------------
# deploy-rollback-documented

DEPLOY_DOC = DocFile("docs/deployment.md", True, headings=("Deployment", "Pipeline"))

ROLLBACK = [
    (Docs(tree=("README.md", "docs/rollback.md")), {}, P, "file:docs/rollback.md"),
    (Docs(tree=("docs/ops/db/rollback-db.md",)), {}, P, "file:docs/ops/db/rollback-db.md"),
    (Docs(tree=("RUNBOOK.md",)), {}, P, "file:RUNBOOK.md"),
    (Docs(tree=("Rollback.md",)), {}, P, "file:Rollback.md"),
    (Docs(tree=("docs/deployment.md",), files=(DocFile("docs/deployment.md", True,
                                                       headings=("Deploy", "Roll-back")),)),
     {}, P, "file:docs/deployment.md"),
    (Docs(tree=("docs/deployment.md",), files=(DEPLOY_DOC,)), {}, F, "repo"),
    (Docs(tree=("src/rollback.py",)), {}, F, "repo"),
    (Docs(tree=("ops/undo.md",)), {"paths": ["ops/undo.md"]}, P, "file:ops/undo.md"),
    (Docs(tree=("docs/deployment.md",), files=(DEPLOY_DOC,)), {"heading": "(?i)pipeline"}, P,
     "file:docs/deployment.md"),
    (Docs(tree=("docs/deployment.md",), files=(DocFile("docs/deployment.md", True),)), {}, U, "repo"),
    (Docs(tree=None), {}, U, "repo"),
    (Docs(gap=GAP), {}, U, "repo"),
    (None, {}, U, "repo"),
]


@pytest.mark.parametrize(("docs", "params", "expected", "target"), ROLLBACK,
                         ids=[str(i) for i in range(len(ROLLBACK))])
def test_deploy_rollback_documented(docs, params, expected, target):
    outcomes = run_rule(D.DEPLOY_ROLLBACK_DOCUMENTED, repo(docs=docs), params)
    assert statuses(outcomes) == [expected]
    assert outcomes[0].target == target
    assert outcomes[0].message.endswith(".")


# --------------------------------------------------------------------------------------------
# deploy-staged-first and deploy-healthy

STAGED = [
    ((deployment(1, "staging", "a", 3, "success"), deployment(2, "production", "a", 2, "success")), {}, P),
    ((deployment(1, "staging", "a", 3, "inactive", "success"),
      deployment(2, "production", "a", 2, "success")), {}, P),
    ((deployment(1, "staging", "a", 3, "failure"), deployment(2, "production", "a", 2, "success")), {}, F),
    ((deployment(1, "staging", "b", 3, "success"), deployment(2, "production", "a", 2, "success")), {}, F),
    ((deployment(1, "staging", "a", 1, "success"), deployment(2, "production", "a", 2, "success")), {}, F),
    ((deployment(1, "staging", "a", 50, "success"), deployment(2, "production", "a", 40, "success")), {}, NA),
    ((deployment(1, "staging", "a", 50, "success"), deployment(2, "production", "a", 40, "success")),
     {"window_days": 60}, P),
    ((deployment(1, "staging", "a", 3, "success"),), {}, NA),
]


@pytest.mark.parametrize(("items", "params", "expected"), STAGED, ids=[str(i) for i in range(len(STAGED))])
def test_deploy_staged_first(items, params, expected):
    outcomes = run_rule(D.DEPLOY_STAGED_FIRST, repo(deployments=Deployments(items)), params)
    assert statuses(outcomes) == [expected]
    assert outcomes[0].target == "environment:production"
    assert outcomes[0].message.endswith(".")


# Deployments collected over the last 30 days only: a staging deployment made before that is
# invisible, so a production deployment near the start of the evidence cannot be judged.
STAGED_TRUNCATED = [
    # staged 33 days ago (not collected), promoted 29 days ago: outside what can be judged
    ((deployment(2, "production", "a", 29, "success"),), {}, NA),
    ((deployment(2, "production", "a", 29, "success"), deployment(3, "staging", "b", 6, "success"),
      deployment(4, "production", "b", 4, "success")), {}, P),
    ((deployment(2, "production", "a", 29, "success"), deployment(4, "production", "b", 4, "success")), {}, F),
    # the lookback is a parameter: 0 judges the whole collected window again
    ((deployment(2, "production", "a", 29, "success"),), {"staging_lookback_days": 0}, F),
    ((deployment(2, "production", "a", 10, "success"),), {"staging_lookback_days": 25}, NA),
]


@pytest.mark.parametrize(("items", "params", "expected"), STAGED_TRUNCATED,
                         ids=[str(i) for i in range(len(STAGED_TRUNCATED))])
def test_deploy_staged_first_with_truncated_evidence(items, params, expected):
    deployments = Deployments(items, since=ago(30))
    outcomes = run_rule(D.DEPLOY_STAGED_FIRST, repo(deployments=deployments), params)
    assert statuses(outcomes) == [expected]
    assert outcomes[0].message.endswith(".")


@pytest.mark.parametrize(("deployments", "expected"), [(Deployments(gap=GAP), U), (None, U)])
def test_deploy_staged_first_unknown(deployments, expected):
    outcomes = run_rule(D.DEPLOY_STAGED_FIRST, repo(deployments=deployments))
    assert statuses(outcomes) == [expected]
    assert "unknown" in outcomes[0].message


def test_deploy_staged_first_lists_unstaged_commits():
    items = (deployment(1, "staging", "a", 5, "success"), deployment(2, "production", "a", 4, "success"),
             deployment(3, "production", "b", 2, "success"))
    out = run_rule(D.DEPLOY_STAGED_FIRST, repo(deployments=Deployments(items)))[0]
    assert out.status is F
    assert out.evidence["unstaged"] == [{"id": 3, "sha": "b" * 40}]


def _prod(dep_id: int, age: float, *states: str):
    return deployment(dep_id, "production", "c", age, *states)


HEALTHY = [
    ((_prod(1, 5, "success"), _prod(2, 1, "success")), {}, P),
    ((_prod(1, 5, "success"), _prod(2, 1, "failure")), {}, F),
    ((_prod(1, 5, "failure"), _prod(2, 1, "error")), {}, F),
    ((_prod(1, 9, "failure"), *(_prod(i, 8 - i, "inactive", "success") for i in range(2, 6))), {}, P),
    ((_prod(1, 9, "failure"), _prod(2, 8, "error"), _prod(3, 7, "success"), _prod(4, 6, "success"),
      _prod(5, 1, "success")), {}, F),
    ((_prod(1, 9, "failure"), _prod(2, 8, "error"), _prod(3, 7, "success"), _prod(4, 6, "success"),
      _prod(5, 1, "success")), {"max_failure_ratio": 0.5}, P),
    ((_prod(1, 45, "failure"), _prod(2, 1, "success")), {}, P),
    ((*(_prod(i, 9 - i, "success") for i in range(1, 6)), _prod(6, 1, "failure")), {}, F),
    ((_prod(1, 5, "success"), _prod(2, 1, "in_progress")), {}, P),
    ((_prod(1, 5, "failure"), _prod(2, 1, "in_progress")), {}, F),
    ((_prod(1, 1, "queued"),), {}, NA),
    ((deployment(1, "staging", "c", 1, "failure"),), {}, NA),
    ((), {}, NA),
]


@pytest.mark.parametrize(("items", "params", "expected"), HEALTHY, ids=[str(i) for i in range(len(HEALTHY))])
def test_deploy_healthy(items, params, expected):
    outcomes = run_rule(D.DEPLOY_HEALTHY, repo(deployments=Deployments(items)), params)
    assert statuses(outcomes) == [expected]
    assert outcomes[0].target == "environment:production"
    assert outcomes[0].message.endswith(".")


@pytest.mark.parametrize("deployments", [Deployments(gap=GAP), None])
def test_deploy_healthy_unknown(deployments):
    outcomes = run_rule(D.DEPLOY_HEALTHY, repo(deployments=deployments))
    assert statuses(outcomes) == [U]
    assert "unknown" in outcomes[0].message


def test_deploy_healthy_reports_ratio():
    items = (_prod(1, 3, "failure"), _prod(2, 2, "success"), _prod(3, 1, "success"))
    out = run_rule(D.DEPLOY_HEALTHY, repo(deployments=Deployments(items)), {"max_failure_ratio": 0.25})[0]
    assert out.status is F
    assert out.evidence["failures"] == 1
    assert out.evidence["finished"] == 3


# --------------------------------------------------------------------------------------------
# the family as a whole


@pytest.mark.parametrize("facts", [all_sections_none(), all_sections_gapped()], ids=["none", "gap"])
@pytest.mark.parametrize("rule", D.RULES, ids=[r.id for r in D.RULES])
def test_unobservable_facts_are_unknown_never_pass(rule, facts):
    outcomes = run_rule(rule, facts)
    assert outcomes
    assert set(statuses(outcomes)) == {U}, rule.id


def test_registry_and_metadata():
    assert [r.id for r in D.RULES] == ["deploy-automated", "deploy-notifications",
                                       "deploy-rollback-documented", "deploy-staged-first", "deploy-healthy"]
    for rule in D.RULES:
        assert rule.family == "deploy"
        assert rule.scope == "repo"
        check_rule_metadata(rule)


def test_steps_of_every_job_count_as_notifiers():
    wf = workflow(triggers=(push("main"),), jobs=(
        job(environment="production"), job("announce", needs=("deploy",), steps=(Step(), SLACK))))
    outcomes = run_rule(D.DEPLOY_NOTIFICATIONS, repo(workflows=wfs(wf), webhooks=Webhooks()))
    assert statuses(outcomes) == [P]
    assert outcomes[0].evidence["notifiers"] == ["slackapi/slack-github-action"]
