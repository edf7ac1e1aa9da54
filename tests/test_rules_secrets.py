"""Table-driven tests of the secrets-* rules over hand-built facts."""

from __future__ import annotations

import pytest

from auditor.facts import SecuritySettings, Trigger
from auditor.model import Status
from auditor.rules import secrets as S
from tests.factories import repo, run_rule, statuses
from tests.factories_deploy import (
    GAP,
    all_sections_gapped,
    all_sections_none,
    check_rule_metadata,
    env,
    envs,
    job,
    push,
    secret,
    secrets,
    wfs,
    workflow,
)

P, F, U, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE


def _check(outcomes, expected):
    assert [(o.status, o.target) for o in outcomes] == expected
    for out in outcomes:
        assert out.message.endswith(".")
        if out.status is U:
            assert "unknown" in out.message


# --------------------------------------------------------------------------------------------
# secrets-env-scoped

ENV_SCOPED = [
    (secrets(secret("APP_NAME")), secrets(), {}, [(P, "repo")]),
    (secrets(secret("DEPLOY_TOKEN")), secrets(), {}, [(F, "secret:DEPLOY_TOKEN")]),
    (secrets(secret("deploy_key")), secrets(), {}, [(F, "secret:DEPLOY_KEY")]),
    (secrets(secret("GH_PAT")), secrets(), {}, [(F, "secret:GH_PAT")]),
    (secrets(secret("DEPLOY_TOKEN")), secrets(), {"allowed_repo_secrets": ["deploy_token"]}, [(P, "repo")]),
    (secrets(secret("APP_NAME")), secrets(secret("NPM_TOKEN", "org", visibility="all")), {},
     [(F, "secret:NPM_TOKEN")]),
    (secrets(secret("NPM_TOKEN")), secrets(secret("NPM_TOKEN", "org")), {}, [(F, "secret:NPM_TOKEN")]),
    (secrets(secret("APP_NAME")), secrets(gap=GAP), {}, [(U, "repo")]),
    (secrets(secret("DB_PASSWORD")), secrets(gap=GAP), {}, [(F, "secret:DB_PASSWORD"), (U, "repo")]),
    (None, secrets(), {}, [(U, "repo")]),
    (secrets(secret("APP_NAME")), secrets(), {"credential_patterns": ["APP_*"]}, [(F, "secret:APP_NAME")]),
]


@pytest.mark.parametrize(("repo_secrets", "org_secrets", "params", "expected"), ENV_SCOPED,
                         ids=[str(i) for i in range(len(ENV_SCOPED))])
def test_secrets_env_scoped(repo_secrets, org_secrets, params, expected):
    _check(run_rule(S.SECRETS_ENV_SCOPED, repo(repo_secrets=repo_secrets, org_secrets=org_secrets), params),
           expected)


def test_secrets_env_scoped_reports_both_scopes_once():
    facts = repo(repo_secrets=secrets(secret("NPM_TOKEN")), org_secrets=secrets(secret("NPM_TOKEN", "org")))
    out = run_rule(S.SECRETS_ENV_SCOPED, facts)
    assert out[0].evidence["scopes"] == ["repo", "org"]
    assert "repository and organization" in out[0].message


# --------------------------------------------------------------------------------------------
# secrets-env-parity

A, B = secret("API_KEY", "environment"), secret("DB_URL", "environment")
PROD_T, STAGING_T = "environment:production", "environment:staging"

PARITY = [
    (envs(env(secrets=(A, B)), env("staging", secrets=(A, B))), {}, [(P, PROD_T), (P, STAGING_T)]),
    (envs(env(secrets=(A, B)), env("staging", secrets=(A,))), {}, [(P, PROD_T), (F, STAGING_T)]),
    (envs(env(secrets=(A,)), env("staging", secrets=(A, B))), {}, [(F, PROD_T), (P, STAGING_T)]),
    (envs(env(secrets=(A,)), env("staging", secrets=(B,))), {}, [(F, PROD_T), (F, STAGING_T)]),
    (envs(env(secrets=(A, B)), env("staging", secrets=(A,))), {"ignore": ["db_*"]},
     [(P, PROD_T), (P, STAGING_T)]),
    (envs(env(secrets=(A, B)), env("staging", secrets=None, secrets_gap=GAP)), {},
     [(U, PROD_T), (U, STAGING_T)]),
    (envs(env(secrets=()), env("staging", secrets=None, secrets_gap=GAP)), {}, [(U, PROD_T), (U, STAGING_T)]),
    (envs(env(secrets=(A,)), env("staging", secrets=None, secrets_gap=GAP)), {},
     [(U, PROD_T), (U, STAGING_T)]),
    (envs(env(secrets=(A,))), {}, [(NA, STAGING_T), (NA, PROD_T)]),
    (envs(), {}, [(NA, PROD_T), (NA, STAGING_T)]),
    (envs(gap=GAP), {}, [(U, "repo")]),
    (None, {}, [(U, "repo")]),
]


@pytest.mark.parametrize(("environments", "params", "expected"), PARITY,
                         ids=[str(i) for i in range(len(PARITY))])
def test_secrets_env_parity(environments, params, expected):
    _check(run_rule(S.SECRETS_ENV_PARITY, repo(environments=environments), params), expected)


def test_secrets_env_parity_names_what_is_missing():
    facts = repo(environments=envs(env(secrets=(A, B)), env("staging", secrets=(A,))))
    out = run_rule(S.SECRETS_ENV_PARITY, facts)[1]
    assert out.evidence["missing"] == ["DB_URL"]
    assert "DB_URL" in out.message


def test_secrets_env_parity_known_gap_still_fails_what_is_seen():
    facts = repo(environments=envs(env(secrets=None, secrets_gap=GAP), env("staging", secrets=(A,)),
                                   env("qa", secrets=(A, B))))
    roles = {"production": "production", "staging": "staging", "qa": "qa"}
    out = run_rule(S.SECRETS_ENV_PARITY, facts, environments=roles)
    assert statuses(out) == [U, F, U]


# --------------------------------------------------------------------------------------------
# secrets-org-visibility

ORG = [
    (secrets(secret("NPM_TOKEN", "org", visibility="all")), {}, [(F, "secret:NPM_TOKEN")]),
    (secrets(secret("NPM_TOKEN", "org", visibility="selected")), {}, [(P, "secret:NPM_TOKEN")]),
    (secrets(secret("NPM_TOKEN", "org", visibility="private")), {}, [(P, "secret:NPM_TOKEN")]),
    (secrets(secret("NPM_TOKEN", "org", visibility="all")), {"allowed": ["NPM_TOKEN"]},
     [(P, "secret:NPM_TOKEN")]),
    (secrets(secret("NPM_TOKEN", "org")), {}, [(U, "secret:NPM_TOKEN")]),
    (secrets(secret("B_KEY", "org", visibility="all"), secret("A_KEY", "org", visibility="selected")), {},
     [(P, "secret:A_KEY"), (F, "secret:B_KEY")]),
    (secrets(), {}, [(NA, "repo")]),
    (secrets(gap=GAP), {}, [(U, "repo")]),
    (None, {}, [(U, "repo")]),
]


@pytest.mark.parametrize(("org_secrets", "params", "expected"), ORG, ids=[str(i) for i in range(len(ORG))])
def test_secrets_org_visibility(org_secrets, params, expected):
    _check(run_rule(S.SECRETS_ORG_VISIBILITY, repo(org_secrets=org_secrets), params), expected)


# --------------------------------------------------------------------------------------------
# secrets-workflow-scope

PRT = (Trigger("pull_request_target"),)
PATH = ".github/workflows/deploy.yml"
WF_T = f"workflow:{PATH}"

SCOPE = [
    (wfs(workflow(triggers=(push("main"),), jobs=(job(secrets=("DEPLOY_KEY",)),))), {}, [(F, WF_T)]),
    (wfs(workflow(triggers=(push("main"),), jobs=(job(secrets=("DEPLOY_KEY",), environment="production"),))),
     {}, [(P, WF_T)]),
    (wfs(workflow(triggers=(push("main"),), jobs=(job(secrets=("GITHUB_TOKEN", "SENTRY_DSN")),))), {},
     [(P, WF_T)]),
    (wfs(workflow(triggers=(push("main"),), jobs=(job(secrets=("SENTRY_DSN",)),))),
     {"credential_patterns": ["*DSN"]}, [(F, WF_T)]),
    (wfs(workflow(triggers=PRT, jobs=(job(checks_out_pr_head=True, secrets=("GITHUB_TOKEN",)),))), {},
     [(F, WF_T)]),
    (wfs(workflow(triggers=PRT, jobs=(job(checks_out_pr_head=True),))), {}, [(P, WF_T)]),
    (wfs(workflow(triggers=PRT, jobs=(job(secrets=("GITHUB_TOKEN",)),))), {}, [(P, WF_T)]),
    (wfs(workflow(triggers=(Trigger("workflow_run"),),
                  jobs=(job(checks_out_pr_head=True, secrets_inherit=True),))), {}, [(F, WF_T)]),
    (wfs(workflow(triggers=(Trigger("pull_request"),),
                  jobs=(job(checks_out_pr_head=True, secrets=("GITHUB_TOKEN",)),))), {}, [(P, WF_T)]),
    (wfs(workflow(triggers=PRT, jobs=(job(checks_out_pr_head=True, environment="production",
                                          secrets=("DEPLOY_KEY",)),))), {}, [(F, WF_T)]),
    (wfs(workflow(parse_error="bad indentation")), {}, [(NA, WF_T)]),
    (wfs(workflow(".github/workflows/a.yml", jobs=(job(secrets=("AWS_SECRET_ACCESS_KEY",)),)),
         workflow(".github/workflows/b.yml", jobs=(job(),))), {},
     [(F, "workflow:.github/workflows/a.yml"), (P, "workflow:.github/workflows/b.yml")]),
    (wfs(), {}, [(NA, "repo")]),
    (wfs(gap=GAP), {}, [(U, "repo")]),
    (None, {}, [(U, "repo")]),
]


@pytest.mark.parametrize(("workflows", "params", "expected"), SCOPE, ids=[str(i) for i in range(len(SCOPE))])
def test_secrets_workflow_scope(workflows, params, expected):
    _check(run_rule(S.SECRETS_WORKFLOW_SCOPE, repo(workflows=workflows), params), expected)


def test_secrets_workflow_scope_names_the_job_and_secret():
    facts = repo(workflows=wfs(workflow(jobs=(job("publish", secrets=("NPM_TOKEN",)),))))
    out = run_rule(S.SECRETS_WORKFLOW_SCOPE, facts)[0]
    assert out.evidence["unscoped_jobs"] == {"publish": ["NPM_TOKEN"]}
    assert "publish" in out.message


def test_parse_error_is_reported_with_the_error():
    out = run_rule(S.SECRETS_WORKFLOW_SCOPE, repo(workflows=wfs(workflow(parse_error="bad indentation"))))[0]
    assert out.evidence["parse_error"] == "bad indentation"


# --------------------------------------------------------------------------------------------
# secrets-scanning, secrets-push-protection

SECURITY = [
    (S.SECRETS_SCANNING, SecuritySettings(secret_scanning=True), P),
    (S.SECRETS_SCANNING, SecuritySettings(secret_scanning=False, push_protection=True), F),
    (S.SECRETS_SCANNING, SecuritySettings(gaps={"secret_scanning": GAP}), U),
    (S.SECRETS_SCANNING, SecuritySettings(), U),
    (S.SECRETS_SCANNING, None, U),
    (S.SECRETS_PUSH_PROTECTION, SecuritySettings(push_protection=True), P),
    (S.SECRETS_PUSH_PROTECTION, SecuritySettings(secret_scanning=True, push_protection=False), F),
    (S.SECRETS_PUSH_PROTECTION, SecuritySettings(secret_scanning=True, gaps={"push_protection": GAP}), U),
    (S.SECRETS_PUSH_PROTECTION, None, U),
]


@pytest.mark.parametrize(("rule", "security", "expected"), SECURITY,
                         ids=[str(i) for i in range(len(SECURITY))])
def test_security_settings(rule, security, expected):
    outcomes = run_rule(rule, repo(security=security))
    _check(outcomes, [(expected, "repo")])
    assert "acme/web" in outcomes[0].message


def test_security_gap_names_permission():
    out = run_rule(S.SECRETS_SCANNING, repo(security=SecuritySettings(gaps={"secret_scanning": GAP})))[0]
    assert out.evidence["permission"] == GAP.permission


# --------------------------------------------------------------------------------------------
# secrets-rotated

ROTATED = [
    (secrets(secret("DEPLOY_KEY", age_days=10)), envs(), {}, [(P, "repo")]),
    (secrets(secret("DEPLOY_KEY", age_days=120)), envs(), {}, [(F, "secret:DEPLOY_KEY")]),
    (secrets(secret("DEPLOY_KEY", age_days=120)), envs(), {"max_age_days": 180}, [(P, "repo")]),
    (secrets(), envs(env(secrets=(secret("DB_PASSWORD", "environment", age_days=200),))), {},
     [(F, "secret:production/DB_PASSWORD")]),
    (secrets(secret("A", age_days=100)), envs(env(secrets=(secret("A", "environment", age_days=100),))), {},
     [(F, "secret:A"), (F, "secret:production/A")]),
    (secrets(secret("A", age_days=None)), envs(), {}, [(U, "secret:A")]),
    (secrets(secret("A", age_days=100)), envs(gap=GAP), {}, [(F, "secret:A"), (U, "repo")]),
    (secrets(secret("A")), envs(env(secrets=None, secrets_gap=GAP)), {}, [(U, "repo")]),
    (secrets(gap=GAP), envs(), {}, [(U, "repo")]),
    (None, envs(), {}, [(U, "repo")]),
    (secrets(), None, {}, [(U, "repo")]),
    (secrets(), envs(env(secrets=())), {}, [(NA, "repo")]),
]


@pytest.mark.parametrize(("repo_secrets", "environments", "params", "expected"), ROTATED,
                         ids=[str(i) for i in range(len(ROTATED))])
def test_secrets_rotated(repo_secrets, environments, params, expected):
    _check(run_rule(S.SECRETS_ROTATED, repo(repo_secrets=repo_secrets, environments=environments), params),
           expected)


def test_secrets_rotated_reports_age():
    facts = repo(repo_secrets=secrets(secret("K", age_days=120)), environments=envs())
    out = run_rule(S.SECRETS_ROTATED, facts)
    assert out[0].evidence["age_days"] == 120
    assert "120 days" in out[0].message


# --------------------------------------------------------------------------------------------
# the family as a whole


@pytest.mark.parametrize("facts", [all_sections_none(), all_sections_gapped()], ids=["none", "gap"])
@pytest.mark.parametrize("rule", S.RULES, ids=[r.id for r in S.RULES])
def test_unobservable_facts_are_unknown_never_pass(rule, facts):
    outcomes = run_rule(rule, facts)
    assert outcomes
    assert set(statuses(outcomes)) == {U}, rule.id


def test_registry_and_metadata():
    assert [r.id for r in S.RULES] == [
        "secrets-env-scoped", "secrets-env-parity", "secrets-org-visibility", "secrets-workflow-scope",
        "secrets-scanning", "secrets-push-protection", "secrets-rotated"]
    for rule in S.RULES:
        assert rule.family == "secrets"
        assert rule.scope == "repo"
        check_rule_metadata(rule)
