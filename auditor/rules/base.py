"""The Rule type: metadata, a parameter schema, and one pure check function.

A check receives a `Context` (facts, validated params, and for branch/environment-scoped rules
the role being evaluated) and returns `Outcome`s, one per target it inspected. It never touches
the network or the clock: time comes from `facts.collected_at`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auditor.facts import Gap, RepoFacts
from auditor.model import Scope, Severity, Status

Params = Mapping[str, Any]


class Need(enum.StrEnum):
    """A group of facts a rule declares; the collector fetches only what enabled rules need."""

    REPO = "repo"  # GET /repos/{o}/{r}: default branch, visibility, viewer permission
    BRANCHES = "branches"  # existence and head of the role branches
    PROTECTION = "protection"  # classic protection + effective rules + rulesets
    ENVIRONMENTS = "environments"  # environments, protection rules, branch policy patterns
    ENV_SECRETS = "env_secrets"  # secret names per environment
    ENV_PROTECTION_APPS = "env_protection_apps"  # custom deployment protection rules (GitHub App gates)
    REPO_SECRETS = "repo_secrets"
    ORG_SECRETS = "org_secrets"  # org secrets visible to the repo, with visibility
    SECURITY = "security"  # dependabot alerts, secret scanning, push protection
    WORKFLOW_PERMISSIONS = "workflow_permissions"  # default GITHUB_TOKEN permissions
    CODEOWNERS = "codeowners"
    WORKFLOWS = "workflows"
    DOCS = "docs"  # doc files, their last change and headings, watched paths, the tree
    PULL_REQUESTS = "pull_requests"  # merged PRs in the window with reviews
    PR_CHECKS = "pr_checks"  # check results on merged PRs' heads
    COMMITS = "commits"  # commits on role branches in the window, with their PRs
    DEPLOYMENTS = "deployments"
    WEBHOOKS = "webhooks"
    PULL_REQUEST = "pull_request"  # the one PR an `auditor check` gate evaluates


@dataclass(frozen=True)
class Context:
    """What a check sees.

    `branch` / `environment` are the real names for the role being evaluated (branch- and
    environment-scoped rules); `branches` / `environments` map every role in the policy to its
    real name (flow rules need both the staging and the production branch).
    """

    facts: RepoFacts
    params: Params
    role: str | None = None
    branch: str | None = None
    environment: str | None = None
    branches: Mapping[str, str] = field(default_factory=dict)
    environments: Mapping[str, str] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The rules' clock: when the facts were collected."""
        return self.facts.collected_at

    def window_start(self, days: int) -> datetime:
        """`days` before collection time, for evidence windows."""
        return self.facts.collected_at - timedelta(days=days)

    def role_of_branch(self, name: str) -> str | None:
        """The role a real branch name plays, if any."""
        for role, real in self.branches.items():
            if real == name:
                return role
        return None


@dataclass(frozen=True)
class Outcome:
    """One verdict a check returns; the engine adds repo, severity, control and waivers."""

    status: Status
    target: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    remediation: str | None = None


Check = Callable[[Context], Iterable[Outcome]]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass
class Rule:
    """A rule of the catalog. Instances are module-level constants listed in the registry."""

    id: str
    family: str
    title: str
    severity: Severity
    scope: Scope
    needs: tuple[Need, ...]
    remediation: str
    permission: str
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    fn: Check | None = None

    def check(self, fn: Check) -> Check:
        """Decorator that attaches the check function to the rule."""
        self.fn = fn
        return fn

    def run(self, ctx: Context) -> list[Outcome]:
        """Run the check; exceptions propagate so the engine can turn them into `error`."""
        if self.fn is None:
            raise NotImplementedError(f"rule {self.id} has no check function")
        return list(self.fn(ctx))

    @property
    def defaults(self) -> dict[str, Any]:
        """Default value of every parameter that declares one."""
        return {k: v["default"] for k, v in self.params.items() if "default" in v}

    def passed(self, target: str, message: str, **evidence: Any) -> Outcome:
        """A `pass` outcome."""
        return Outcome(Status.PASS, target, _sentence(message), dict(evidence))

    def failed(self, target: str, message: str, remediation: str | None = None, **evidence: Any) -> Outcome:
        """A `fail` outcome; `remediation` overrides the rule's generic one when it can be specific."""
        return Outcome(Status.FAIL, target, _sentence(message), dict(evidence), remediation)

    def unknown(self, target: str, what: str, gap: Gap | str | None, **evidence: Any) -> Outcome:
        """An `unknown` outcome: `what` could not be observed, and `gap` says why."""
        if gap is None:
            reason = "it could not be observed"
        elif isinstance(gap, Gap):
            reason = gap.describe()
            evidence.setdefault("reason", gap.reason)
            if gap.permission:
                evidence.setdefault("permission", gap.permission)
            if gap.http_status is not None:
                evidence.setdefault("http_status", gap.http_status)
        else:
            reason = gap
            evidence.setdefault("reason", gap)
        return Outcome(Status.UNKNOWN, target, _sentence(f"{what} is unknown: {reason}"), dict(evidence))

    def not_applicable(self, target: str, message: str, **evidence: Any) -> Outcome:
        """A `not_applicable` outcome."""
        return Outcome(Status.NOT_APPLICABLE, target, _sentence(message), dict(evidence))


def branch_target(name: str) -> str:
    """Target string for a branch."""
    return f"branch:{name}"


def env_target(name: str) -> str:
    """Target string for an environment."""
    return f"environment:{name}"
