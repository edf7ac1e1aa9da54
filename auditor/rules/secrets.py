"""secrets-*: where credentials live, who can see them, and whether they are kept fresh.

Credentials belong in environment secrets: only jobs that declare the environment (and pass its
reviewers, wait timer and branch policy) can read them. Repository and organisation secrets are
readable by every workflow on every branch.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from auditor.facts import Environment, Gap, Secret, Secrets
from auditor.model import Scope, Severity
from auditor.rules.base import Context, Need, Outcome, Rule, env_target

REPO = "repo"
REPO_SECRETS_PERM = "Secrets: read"
ORG_SECRETS_PERM = "Secrets: read (organization secrets visible to the repository)"
ORG_VISIBILITY_PERM = "Organization secrets: read (visibility of organization secrets)"
ENV_SECRETS_PERM = "Actions: read (environments), Environments: read and Secrets: read (environment secrets)"
WORKFLOWS_PERM = "Contents: read (workflow files under .github/workflows)"
SECURITY_PERM = "Metadata: read, as a repository admin or security manager (security_and_analysis)"
_NEVER_CREDENTIAL = "GITHUB_TOKEN"
_UNTRUSTED_TRIGGERS = ("pull_request_target", "workflow_run")

DEFAULT_CREDENTIAL_PATTERNS = ["*TOKEN*", "*KEY*", "*SECRET*", "*PASSWORD*", "*PASSWD*", "*CREDENTIAL*",
                               "*_PAT", "*CERT*"]
_CREDENTIAL_PARAM: dict[str, Any] = {"type": "list", "schema": {"type": "string"},
                                     "default": DEFAULT_CREDENTIAL_PATTERNS}
_NAMES_PARAM: dict[str, Any] = {"type": "list", "schema": {"type": "string"}, "default": []}


def _matches(name: str, globs: Iterable[str]) -> bool:
    """Case-insensitive glob match: GitHub stores secret names upper-case whatever was typed."""
    upper = name.upper()
    return any(fnmatch.fnmatchcase(upper, g.upper()) for g in globs)


def is_credential(name: str, patterns: Sequence[str]) -> bool:
    """Whether a secret name looks like a credential; GITHUB_TOKEN is GitHub's own and never counts."""
    return name.upper() != _NEVER_CREDENTIAL and _matches(name, patterns)


def _list_gap(secrets: Secrets | None, what: str, permission: str) -> Gap | None:
    """Why a secrets list is unknown, or None when it was read."""
    if secrets is None:
        return Gap(f"the {what} were not collected", permission)
    return secrets.gap


def _env_secrets_gap(env: Environment) -> Gap:
    return env.secrets_gap or Gap(f"the secrets of environment {env.name} were not read", ENV_SECRETS_PERM)


def secret_target(name: str, environment: str | None = None) -> str:
    """Target for a secret; environment secrets are `secret:<env>/<NAME>` (names cannot contain `/`)."""
    return f"secret:{environment}/{name}" if environment else f"secret:{name}"


# --------------------------------------------------------------------------------------------
# secrets-env-scoped

SECRETS_ENV_SCOPED = Rule(
    id="secrets-env-scoped",
    family="secrets",
    title="Credentials are environment secrets",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.REPO_SECRETS, Need.ORG_SECRETS),
    remediation="Move the credential into the secrets of the environment that uses it (Settings > "
                "Environments > (environment) > Environment secrets) and delete the repository/org secret.",
    permission=f"{REPO_SECRETS_PERM} (repository secrets and organization secrets visible to the repository)",
    params={"credential_patterns": _CREDENTIAL_PARAM, "allowed_repo_secrets": _NAMES_PARAM},
)


@SECRETS_ENV_SCOPED.check
def _secrets_env_scoped(ctx: Context) -> Iterable[Outcome]:
    rule = SECRETS_ENV_SCOPED
    patterns = list(ctx.params.get("credential_patterns", DEFAULT_CREDENTIAL_PATTERNS))
    allowed = list(ctx.params.get("allowed_repo_secrets", []))
    gaps: dict[str, Gap] = {}
    scopes: dict[str, list[str]] = {}
    checked = 0
    for label, secrets, perm in (("repository secrets", ctx.facts.repo_secrets, REPO_SECRETS_PERM),
                                 ("organization secrets", ctx.facts.org_secrets, ORG_SECRETS_PERM)):
        gap = _list_gap(secrets, label, perm)
        if secrets is None or gap is not None:
            gaps[label] = gap or Gap(f"the {label} were not read", perm)
            continue
        for sec in secrets.items:
            checked += 1
            if is_credential(sec.name, patterns) and not _matches(sec.name, allowed):
                scopes.setdefault(sec.name.upper(), []).append(sec.scope)
    for name, where in sorted(scopes.items()):
        level = " and ".join("organization" if s == "org" else "repository" for s in where)
        yield rule.failed(secret_target(name), f"Credential secret {name} is a {level} secret, readable by "
                          "every workflow on every branch", scopes=where, environment_scoped=False)
    if gaps:
        label, gap = next(iter(gaps.items()))
        yield rule.unknown(REPO, f"Whether the {label} hold credentials", gap, unobserved=sorted(gaps))
    elif not scopes:
        yield rule.passed(REPO, f"No repository or organization secret of {ctx.facts.repo} looks like a "
                          "credential", secrets_checked=checked)


# --------------------------------------------------------------------------------------------
# secrets-env-parity

SECRETS_ENV_PARITY = Rule(
    id="secrets-env-parity",
    family="secrets",
    title="Environments define the same secrets",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.ENVIRONMENTS, Need.ENV_SECRETS),
    remediation="Define the missing secrets in the environment that lacks them (or list them in `ignore` "
                "if they are meant to exist in one environment only).",
    permission=ENV_SECRETS_PERM,
    params={"ignore": _NAMES_PARAM},
)


@SECRETS_ENV_PARITY.check
def _secrets_env_parity(ctx: Context) -> Iterable[Outcome]:
    rule = SECRETS_ENV_PARITY
    envs = ctx.facts.environments
    if not ctx.environments:
        yield rule.not_applicable(REPO, "The policy names no environment role for this repository")
        return
    if envs is None or envs.gap is not None:
        yield rule.unknown(REPO, "The secrets of the environments",
                           Gap("the environments were not collected", ENV_SECRETS_PERM) if envs is None
                           else envs.gap)
        return
    ignore = list(ctx.params.get("ignore", []))
    found: list[Environment] = []
    for name in dict.fromkeys(ctx.environments.values()):
        env = envs.get(name)
        if env is None:
            yield rule.not_applicable(env_target(name), f"Environment {name} does not exist",
                                      environment=name)
        else:
            found.append(env)
    if len(found) < 2:
        for env in found:
            yield rule.not_applicable(env_target(env.name), f"Environment {env.name} has no other role "
                                      "environment to compare its secrets with", environment=env.name)
        return
    names: dict[str, set[str] | None] = {
        e.name: None if e.secrets is None
        else {s.name.upper() for s in e.secrets if not _matches(s.name, ignore)}
        for e in found}
    for env in found:
        target = env_target(env.name)
        own = names[env.name]
        if own is None:
            yield rule.unknown(target, f"The secrets of environment {env.name}", _env_secrets_gap(env))
            continue
        others = [e for e in found if e.name != env.name]
        missing = {o.name: sorted(theirs - own) for o in others if (theirs := names[o.name]) is not None}
        missing = {k: v for k, v in missing.items() if v}
        blind = [o for o in others if names[o.name] is None]
        if missing:
            lacks = sorted({n for v in missing.values() for n in v})
            yield rule.failed(target, f"Environment {env.name} lacks secret(s) {', '.join(lacks)} that "
                              f"{', '.join(missing)} define(s)", missing=lacks, defined_in=missing)
        elif blind:
            yield rule.unknown(target, f"Whether environment {env.name} has every secret of {blind[0].name}",
                               _env_secrets_gap(blind[0]))
        else:
            yield rule.passed(target, f"Environment {env.name} defines every secret the other role "
                              "environments define", secrets=sorted(own))


# --------------------------------------------------------------------------------------------
# secrets-org-visibility

SECRETS_ORG_VISIBILITY = Rule(
    id="secrets-org-visibility",
    family="secrets",
    title="Organization secrets are not visible to every repository",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.ORG_SECRETS,),
    remediation="Organization Settings > Secrets and variables > Actions: set the secret's repository "
                "access to 'Selected repositories'.",
    permission=f"{ORG_SECRETS_PERM}; {ORG_VISIBILITY_PERM}",
    params={"allowed": _NAMES_PARAM},
)


@SECRETS_ORG_VISIBILITY.check
def _secrets_org_visibility(ctx: Context) -> Iterable[Outcome]:
    rule = SECRETS_ORG_VISIBILITY
    org = ctx.facts.org_secrets
    gap = _list_gap(org, "organization secrets", ORG_SECRETS_PERM)
    if org is None or gap is not None:
        yield rule.unknown(REPO, "The organization secrets visible to the repository", gap)
        return
    if not org.items:
        yield rule.not_applicable(REPO, f"No organization secret is visible to {ctx.facts.repo}")
        return
    allowed = list(ctx.params.get("allowed", []))
    for sec in sorted(org.items, key=lambda s: s.name):
        target = secret_target(sec.name)
        if sec.visibility is None:
            yield rule.unknown(target, f"The visibility of organization secret {sec.name}",
                               org.visibility_gap
                               or Gap("the repository endpoint does not report visibility", ORG_VISIBILITY_PERM))
        elif sec.visibility != "all":
            yield rule.passed(target, f"Organization secret {sec.name} is visible to {sec.visibility} "
                              "repositories only", visibility=sec.visibility)
        elif _matches(sec.name, allowed):
            yield rule.passed(target, f"Organization secret {sec.name} is visible to all repositories, "
                              "as the policy allows", visibility="all", allowed=True)
        else:
            yield rule.failed(target, f"Organization secret {sec.name} is visible to all repositories of "
                              f"{ctx.facts.owner}", visibility="all")


# --------------------------------------------------------------------------------------------
# secrets-workflow-scope

SECRETS_WORKFLOW_SCOPE = Rule(
    id="secrets-workflow-scope",
    family="secrets",
    title="Workflows use credentials only in environment jobs",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.WORKFLOWS,),
    remediation="Give every job that reads a credential an `environment:` (and keep the credential in that "
                "environment), and never check out pull request code in pull_request_target/workflow_run "
                "jobs that can read secrets.",
    permission=WORKFLOWS_PERM,
    params={"credential_patterns": _CREDENTIAL_PARAM},
)


@SECRETS_WORKFLOW_SCOPE.check
def _secrets_workflow_scope(ctx: Context) -> Iterable[Outcome]:
    rule = SECRETS_WORKFLOW_SCOPE
    wfs = ctx.facts.workflows
    if wfs is None or wfs.gap is not None:
        yield rule.unknown(REPO, "How workflows use secrets",
                           Gap("the workflows were not collected", WORKFLOWS_PERM) if wfs is None
                           else wfs.gap)
        return
    if not wfs.items:
        yield rule.not_applicable(REPO, f"Repository {ctx.facts.repo} has no workflow")
        return
    patterns = list(ctx.params.get("credential_patterns", DEFAULT_CREDENTIAL_PATTERNS))
    for wf in wfs.items:
        target = f"workflow:{wf.path}"
        if wf.parse_error is not None:
            yield rule.not_applicable(target, f"Workflow {wf.path} could not be parsed ({wf.parse_error})",
                                      parse_error=wf.parse_error)
            continue
        untrusted = [t.event for t in wf.triggers if t.event in _UNTRUSTED_TRIGGERS]
        unscoped: dict[str, list[str]] = {}
        exposed: list[str] = []
        for job in wf.jobs:
            referenced = set(job.secrets) | {s for step in job.steps for s in step.secrets}
            creds = sorted(s for s in referenced if is_credential(s, patterns))
            if creds and not job.environment:
                unscoped[job.id] = creds
            if untrusted and job.checks_out_pr_head and (referenced or job.secrets_inherit):
                exposed.append(job.id)
        problems: list[str] = []
        if unscoped:
            problems.append("job(s) " + ", ".join(f"{j} ({', '.join(c)})" for j, c in unscoped.items())
                            + " use credentials without an environment")
        if exposed:
            problems.append(f"job(s) {', '.join(exposed)} check out pull request code with secrets under "
                            f"{' and '.join(untrusted)}")
        if problems:
            yield rule.failed(target, f"Workflow {wf.path}: " + "; ".join(problems),
                              unscoped_jobs=unscoped, untrusted_checkout_jobs=exposed, triggers=untrusted)
        else:
            yield rule.passed(target, f"Workflow {wf.path} uses credentials only in environment jobs "
                              "and exposes no secret to untrusted code")


# --------------------------------------------------------------------------------------------
# secrets-scanning, secrets-push-protection


def _security_outcome(rule: Rule, ctx: Context, field: str, label: str) -> Outcome:
    """One repo result for a boolean security setting; an absent value is unknown, never disabled."""
    sec = ctx.facts.security
    what = f"Whether {label} is enabled for {ctx.facts.repo}"
    if sec is None:
        return rule.unknown(REPO, what, Gap("the security settings were not collected", SECURITY_PERM))
    value: bool | None = getattr(sec, field)
    if value is None:
        return rule.unknown(REPO, what, sec.gaps.get(field) or Gap(
            "security_and_analysis is only shown to repository admins", SECURITY_PERM))
    if value:
        return rule.passed(REPO, f"{label.capitalize()} is enabled for {ctx.facts.repo}", actual=True)
    return rule.failed(REPO, f"{label.capitalize()} is disabled for {ctx.facts.repo}", actual=False)


SECRETS_SCANNING = Rule(
    id="secrets-scanning",
    family="secrets",
    title="Secret scanning is enabled",
    severity=Severity.HIGH,
    scope=Scope.REPO,
    needs=(Need.SECURITY,),
    remediation="Settings > Code security > Secret Protection: enable secret scanning.",
    permission=SECURITY_PERM,
)


@SECRETS_SCANNING.check
def _secrets_scanning(ctx: Context) -> Iterable[Outcome]:
    yield _security_outcome(SECRETS_SCANNING, ctx, "secret_scanning", "secret scanning")


SECRETS_PUSH_PROTECTION = Rule(
    id="secrets-push-protection",
    family="secrets",
    title="Secret scanning push protection is enabled",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.SECURITY,),
    remediation="Settings > Code security > Secret Protection: enable push protection.",
    permission=SECURITY_PERM,
)


@SECRETS_PUSH_PROTECTION.check
def _secrets_push_protection(ctx: Context) -> Iterable[Outcome]:
    yield _security_outcome(SECRETS_PUSH_PROTECTION, ctx, "push_protection",
                            "secret scanning push protection")


# --------------------------------------------------------------------------------------------
# secrets-rotated

SECRETS_ROTATED = Rule(
    id="secrets-rotated",
    family="secrets",
    title="Secrets are rotated",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.REPO_SECRETS, Need.ENVIRONMENTS, Need.ENV_SECRETS),
    remediation="Rotate the credential at its issuer and update the secret with the new value.",
    permission=f"{REPO_SECRETS_PERM}; {ENV_SECRETS_PERM}",
    params={"max_age_days": {"type": "integer", "min": 1, "default": 90}},
)


@SECRETS_ROTATED.check
def _secrets_rotated(ctx: Context) -> Iterable[Outcome]:
    rule = SECRETS_ROTATED
    days = int(ctx.params.get("max_age_days", 90))
    cutoff = ctx.now - timedelta(days=days)
    known: list[Secret] = []
    gaps: dict[str, Gap] = {}
    repo_gap = _list_gap(ctx.facts.repo_secrets, "repository secrets", REPO_SECRETS_PERM)
    if ctx.facts.repo_secrets is not None and repo_gap is None:
        known.extend(ctx.facts.repo_secrets.items)
    else:
        gaps["repository secrets"] = repo_gap or Gap("the repository secrets were not read",
                                                     REPO_SECRETS_PERM)
    envs = ctx.facts.environments
    if envs is None or envs.gap is not None:
        gaps["environments"] = envs.gap if envs is not None and envs.gap is not None else Gap(
            "the environments were not collected", ENV_SECRETS_PERM)
    else:
        for env in envs.items:
            if env.secrets is None:
                gaps[f"secrets of environment {env.name}"] = _env_secrets_gap(env)
            else:
                known.extend(
                    s if s.environment else Secret(s.name, "environment", s.updated_at, s.created_at,
                                                   s.visibility, env.name)
                    for s in env.secrets)
    stale = 0
    for sec in sorted(known, key=lambda s: (s.environment or "", s.name)):
        env_name = sec.environment if sec.scope == "environment" else None
        target = secret_target(sec.name, env_name)
        where = f"environment {env_name}" if env_name else "repository"
        if sec.updated_at is None:
            yield rule.unknown(target, f"When {where} secret {sec.name} was last updated",
                               "GitHub reported no updated_at")
        elif sec.updated_at < cutoff:
            stale += 1
            age = (ctx.now - sec.updated_at).days
            yield rule.failed(target, f"The {where} secret {sec.name} was last updated {age} days ago, "
                              f"more than {days}", updated_at=sec.updated_at.isoformat(), age_days=age,
                              max_age_days=days)
    if gaps:
        label, gap = next(iter(gaps.items()))
        yield rule.unknown(REPO, f"The age of the {label}", gap, unobserved=sorted(gaps))
    elif not known:
        yield rule.not_applicable(REPO, f"Repository {ctx.facts.repo} has no repository or environment "
                                  "secret")
    elif stale == 0 and all(s.updated_at is not None for s in known):
        yield rule.passed(REPO, f"All {len(known)} secret(s) of {ctx.facts.repo} were updated in the last "
                          f"{days} days", secrets=len(known), max_age_days=days)


RULES = (
    SECRETS_ENV_SCOPED,
    SECRETS_ENV_PARITY,
    SECRETS_ORG_VISIBILITY,
    SECRETS_WORKFLOW_SCOPE,
    SECRETS_SCANNING,
    SECRETS_PUSH_PROTECTION,
    SECRETS_ROTATED,
)
