"""Table-driven tests of the security-* rules over hand-built facts."""

from __future__ import annotations

import pytest

from auditor.facts import Gap, SecuritySettings, Workflows
from auditor.model import Status
from auditor.rules import security as S
from tests.factories import ADMIN_GAP, repo, run_rule, statuses
from tests.factories_pr import workflow, workflows

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE

TOP = workflow("""\
    on: push
    permissions:
      contents: read
    jobs:
      test:
        steps: [{run: make test}]
    """, ".github/workflows/top.yml")
EVERY_JOB = workflow("""\
    on: push
    jobs:
      a:
        permissions: read-all
        steps: [{run: x}]
      b:
        permissions: {}
        steps: [{run: x}]
    """, ".github/workflows/jobs.yml")
ONE_JOB_BARE = workflow("""\
    on: push
    jobs:
      a:
        permissions: {contents: read}
        steps: [{run: x}]
      deploy:
        steps: [{run: x}]
    """, ".github/workflows/deploy.yml")
BROKEN = workflow("on: [push\n", ".github/workflows/broken.yml")

READ = SecuritySettings(default_workflow_permissions="read")
WRITE = SecuritySettings(default_workflow_permissions="write")
HIDDEN = SecuritySettings(gaps={"default_workflow_permissions": ADMIN_GAP, "dependabot_alerts": ADMIN_GAP})
WF_GAP = Gap("Resource not accessible by integration", "Contents: read", 403)

DEPENDABOT = [
    (SecuritySettings(dependabot_alerts=True), P),
    (SecuritySettings(dependabot_alerts=False), F),
    (HIDDEN, U),
    (SecuritySettings(), U),
    (None, U),
]


@pytest.mark.parametrize(("security", "expected"), DEPENDABOT)
def test_dependabot_alerts(security, expected):
    outcomes = run_rule(S.SECURITY_DEPENDABOT_ALERTS, repo(security=security))
    assert statuses(outcomes) == [expected]
    [out] = outcomes
    assert out.target == "repo"
    assert out.message.endswith(".")
    assert "acme/web" in out.message


def test_dependabot_unknown_names_the_permission():
    [out] = run_rule(S.SECURITY_DEPENDABOT_ALERTS, repo(security=HIDDEN))
    assert "Administration: read" in out.message
    assert out.evidence["http_status"] == 403


# security-workflow-permissions: [repo setting, then one result per workflow]
PERMISSIONS = [
    (READ, workflows(TOP, EVERY_JOB), [("repo", P), ("workflow:.github/workflows/top.yml", P),
                                       ("workflow:.github/workflows/jobs.yml", P)]),
    (WRITE, workflows(TOP), [("repo", F), ("workflow:.github/workflows/top.yml", P)]),
    (READ, workflows(ONE_JOB_BARE), [("repo", P), ("workflow:.github/workflows/deploy.yml", F)]),
    (READ, workflows(BROKEN), [("repo", P), ("workflow:.github/workflows/broken.yml", U)]),
    (READ, workflows(), [("repo", P)]),
    (HIDDEN, workflows(TOP), [("repo", U), ("workflow:.github/workflows/top.yml", P)]),
    (None, workflows(TOP), [("repo", U), ("workflow:.github/workflows/top.yml", P)]),
    (READ, Workflows(gap=WF_GAP), [("repo", P), ("workflow:.github/workflows", U)]),
    (WRITE, None, [("repo", F), ("workflow:.github/workflows", U)]),
]


@pytest.mark.parametrize(("security", "wfs", "expected"), PERMISSIONS)
def test_workflow_permissions(security, wfs, expected):
    outcomes = run_rule(S.SECURITY_WORKFLOW_PERMISSIONS, repo(security=security, workflows=wfs))
    assert [(o.target, o.status) for o in outcomes] == expected
    for out in outcomes:
        assert out.message.endswith(".")
        if out.status is U:
            assert "unknown" in out.message


def test_workflow_without_permissions_names_its_bare_jobs():
    outcomes = run_rule(S.SECURITY_WORKFLOW_PERMISSIONS, repo(security=READ, workflows=workflows(ONE_JOB_BARE)))
    assert outcomes[1].evidence["jobs_without_permissions"] == ["deploy"]
    assert "deploy" in outcomes[1].message
    assert outcomes[1].remediation is not None


@pytest.mark.parametrize("rule", S.RULES, ids=[r.id for r in S.RULES])
@pytest.mark.parametrize("security", [None, HIDDEN], ids=["not-collected", "gap"])
def test_security_unobserved_is_unknown_never_pass(rule, security):
    outcomes = run_rule(rule, repo(security=security, workflows=Workflows(gap=WF_GAP)))
    assert outcomes
    assert set(statuses(outcomes)) == {U}, rule.id
