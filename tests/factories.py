"""Hand-built facts for rule tests: small builders with sensible, explicit defaults.

Each builder returns real facts dataclasses; tests override only what the case is about, so a
table row reads as the situation it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from auditor.facts import BranchFacts, ClassicProtection, Gap, RepoFacts
from auditor.model import Status
from auditor.rules.base import Context, Rule

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ADMIN_GAP = Gap("Resource not accessible by integration", "Administration: read", 403)


def repo(**kw: Any) -> RepoFacts:
    """RepoFacts for acme/web collected at NOW, with any section overridden."""
    base: dict[str, Any] = {"repo": "acme/web", "collected_at": NOW, "source": "hand",
                            "default_branch": "main", "visibility": "private", "viewer_permission": "ADMIN"}
    base.update(kw)
    return RepoFacts(**base)


def branch(name: str = "main", **kw: Any) -> BranchFacts:
    """An existing branch with no protection unless given."""
    base: dict[str, Any] = {"name": name, "exists": True, "head_sha": "a" * 40}
    base.update(kw)
    return BranchFacts(**base)


def classic(**kw: Any) -> ClassicProtection:
    """Classic protection with GitHub's defaults for a freshly protected branch."""
    return ClassicProtection(**kw)


ROLES = {"production": "main", "staging": "staging"}
ENV_ROLES = {"production": "production", "staging": "staging"}


def run_rule(rule: Rule, facts: RepoFacts, params: Mapping[str, Any] | None = None, *,
             role: str | None = None, branches: Mapping[str, str] = ROLES,
             environments: Mapping[str, str] = ENV_ROLES) -> list[Any]:
    """Run one rule as the engine would: defaults filled, role resolved to its real name."""
    merged = {**rule.defaults, **(params or {})}
    ctx = Context(facts=facts, params=merged, role=role,
                  branch=branches.get(role) if role else None,
                  environment=environments.get(role) if role else None,
                  branches=branches, environments=environments)
    return rule.run(ctx)


def statuses(outcomes: Iterable[Any]) -> list[Status]:
    """The statuses of outcomes, in order."""
    return [o.status for o in outcomes]
