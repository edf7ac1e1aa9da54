"""Hand-built facts for the deploy-, env- and secrets- rule tests (environments, secrets, workflows).

Builders return real facts dataclasses with explicit, minimal defaults; a table row overrides only
what its case is about. Times are relative to `tests.factories.NOW`, in days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cerberus import Validator

from auditor.facts import (
    ActionRef,
    Deployment,
    Deployments,
    DeploymentStatus,
    Docs,
    Environment,
    Environments,
    Gap,
    Job,
    RepoFacts,
    Secret,
    Secrets,
    SecuritySettings,
    Step,
    Trigger,
    Webhooks,
    Workflow,
    Workflows,
)
from auditor.rules.base import Rule
from tests.factories import NOW, branch, repo

GAP = Gap("Resource not accessible by integration", "Secrets: read", 403)
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "rules"
DOC_SECTIONS = ("## What it checks", "## Why", "## Params", "## Statuses", "## Remediation",
                "## Permission needed")


def ago(days: float) -> datetime:
    """A time `days` before NOW."""
    return NOW - timedelta(days=days)


def env(name: str = "production", **kw: Any) -> Environment:
    """An environment with no protection rules unless given."""
    return Environment(name=name, **kw)


def envs(*items: Environment, gap: Gap | None = None) -> Environments:
    """The environment list of the repo."""
    return Environments(items=tuple(items), gap=gap)


def secret(name: str, scope: str = "repo", age_days: float | None = 10, **kw: Any) -> Secret:
    """A secret last updated `age_days` before NOW (None: GitHub gave no date)."""
    updated = ago(age_days) if age_days is not None else None
    return Secret(name=name, scope=scope, updated_at=updated, **kw)  # type: ignore[arg-type]


def secrets(*items: Secret, gap: Gap | None = None) -> Secrets:
    """A repo- or org-level secrets list."""
    return Secrets(items=tuple(items), gap=gap)


def action(name: str, ref: str = "v1") -> ActionRef:
    """A `uses:` reference pinned to a tag."""
    return ActionRef(raw=f"{name}@{ref}", name=name, ref=ref, pin="tag")


def step(uses: str | None = None, **kw: Any) -> Step:
    """A step; `uses` is an action name."""
    return Step(uses=action(uses) if uses else None, **kw)


def job(job_id: str = "deploy", **kw: Any) -> Job:
    """A job with one shell step unless steps are given."""
    kw.setdefault("steps", (Step(run="make deploy"),))
    return Job(id=job_id, **kw)


def push(*branches: str, ignore: tuple[str, ...] | None = None) -> Trigger:
    """A push trigger; no branches means every branch."""
    return Trigger("push", branches=tuple(branches) if branches else None, branches_ignore=ignore)


def workflow(path: str = ".github/workflows/deploy.yml", triggers: tuple[Trigger, ...] = (),
             jobs: tuple[Job, ...] = (), **kw: Any) -> Workflow:
    """A parsed workflow."""
    return Workflow(path=path, triggers=triggers, jobs=jobs, **kw)


def deploy_workflow(environment: str, branch_name: str, *steps: Step, path: str | None = None) -> Workflow:
    """A workflow deploying `environment` on push to `branch_name`."""
    return workflow(path or f".github/workflows/deploy-{environment}.yml", (push(branch_name),),
                    (job(environment=environment, steps=steps or (Step(run="make deploy"),)),))


def wfs(*items: Workflow, gap: Gap | None = None) -> Workflows:
    """The workflows on the production branch."""
    return Workflows(items=tuple(items), ref="main", gap=gap)


def deployment(dep_id: int, environment: str, sha: str, age_days: float, *states: str) -> Deployment:
    """A deployment created `age_days` ago; `states` newest first, each an hour after creation."""
    created = ago(age_days)
    statuses = tuple(DeploymentStatus(s, created + timedelta(hours=len(states) - i))
                     for i, s in enumerate(states))
    return Deployment(id=dep_id, environment=environment, sha=sha * (40 // len(sha)), created_at=created,
                      statuses=statuses)


def all_sections_none() -> RepoFacts:
    """Facts where no section a deploy/env/secrets rule reads was collected."""
    return repo()


def all_sections_gapped() -> RepoFacts:
    """Facts where every section was collected but could not be read."""
    return repo(
        branches=(branch("main", exists=None, exists_gap=GAP),
                  branch("staging", exists=None, exists_gap=GAP)),
        environments=Environments(gap=GAP),
        repo_secrets=Secrets(gap=GAP),
        org_secrets=Secrets(gap=GAP),
        security=SecuritySettings(gaps={"secret_scanning": GAP, "push_protection": GAP}),
        workflows=Workflows(gap=GAP),
        docs=Docs(gap=GAP),
        deployments=Deployments(gap=GAP),
        webhooks=Webhooks(gap=GAP),
    )


def check_rule_metadata(rule: Rule) -> None:
    """Every rule declares needs, a permission, a remediation, defaults for params and has a doc page."""
    assert rule.needs, rule.id
    assert rule.permission.strip(), rule.id
    assert rule.remediation.endswith("."), rule.id
    for name, schema in rule.params.items():
        assert "default" in schema, f"{rule.id}.{name} has no default"
        assert "type" in schema, f"{rule.id}.{name} has no type"
    validator = Validator({name: dict(schema) for name, schema in rule.params.items()})
    assert validator.validate({}), (rule.id, validator.errors)
    assert validator.document == rule.defaults, rule.id
    page = DOCS_DIR / f"{rule.id}.md"
    assert page.exists(), f"missing {page}"
    text = page.read_text()
    assert text.startswith(f"# {rule.id}\n"), rule.id
    for heading in DOC_SECTIONS:
        assert heading in text, f"{rule.id}: {heading}"
    for name in rule.params:
        assert f"`{name}`" in text, f"{rule.id}: param {name} undocumented"
