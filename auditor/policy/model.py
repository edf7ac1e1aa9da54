"""The validated policy: plain frozen data the engine and the collector plan read."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from auditor.model import Severity


class PolicyError(Exception):
    """A policy could not be loaded; `problems` lists every problem with its place in the file."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class RuleConfig:
    """One rule as the policy enables it.

    `params` are validated with the rule's defaults filled in. `roles` maps each branch or
    environment role the rule runs for to its effective params (base params plus the role's
    overrides); None means every role of the policy with the base params.
    """

    id: str
    enabled: bool
    severity: Severity
    params: dict[str, Any]
    control: str | None = None
    roles: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True)
class Waiver:
    """An accepted exception: a failing result it covers becomes `waived` until `expires`."""

    rule: str
    reason: str
    owner: str
    expires: date
    repos: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()

    def expired(self, today: date) -> bool:
        """A waiver applies through its expiry day and stops the day after."""
        return today > self.expires

    def covers(self, rule: str, repo: str, target: str) -> bool:
        """Whether this waiver names the rule and matches the repo and target.

        Repo globs match the repository's name or its owner/name; no globs means every repo.
        """
        if rule != self.rule:
            return False
        name = repo.split("/", 1)[-1]
        if self.repos and not any(fnmatch.fnmatchcase(name, g) or fnmatch.fnmatchcase(repo, g)
                                  for g in self.repos):
            return False
        return not self.targets or any(fnmatch.fnmatchcase(target, g) for g in self.targets)


@dataclass(frozen=True)
class Gate:
    """When `audit`/`check` exit 1."""

    fail_on: Severity = Severity.HIGH
    new_only: bool = False
    unknown_fails: bool = False


@dataclass(frozen=True)
class ScopeSelector:
    """Which repositories of an org audit the policy covers."""

    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    visibility: tuple[str, ...] = ("public", "private", "internal")
    skip_archived: bool = True
    skip_forks: bool = True

    def selects(self, name: str, *, topics: Iterable[str] = (), visibility: str | None = None,
                archived: bool = False, fork: bool = False) -> tuple[bool, str]:
        """Whether the repo is in scope, with the reason when it is not."""
        short = name.split("/", 1)[-1]
        if not any(fnmatch.fnmatchcase(short, g) for g in self.include):
            return False, "not matched by scope.include"
        if any(fnmatch.fnmatchcase(short, g) for g in self.exclude):
            return False, "matched by scope.exclude"
        if self.topics and not set(self.topics) & set(topics):
            return False, "has none of scope.topics"
        if visibility and visibility.lower() not in self.visibility:
            return False, f"visibility {visibility} not in scope.visibility"
        if archived and self.skip_archived:
            return False, "archived"
        if fork and self.skip_forks:
            return False, "a fork"
        return True, ""


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy (with `extends` resolved) and the digest of its content."""

    name: str
    version: int
    digest: str
    description: str = ""
    source: str | None = None
    path: str | None = None
    scope: ScopeSelector = field(default_factory=ScopeSelector)
    branches: dict[str, str] = field(default_factory=dict)
    environments: dict[str, str] = field(default_factory=dict)
    gate: Gate = field(default_factory=Gate)
    rules: tuple[RuleConfig, ...] = ()
    waivers: tuple[Waiver, ...] = ()

    @property
    def enabled_rules(self) -> tuple[RuleConfig, ...]:
        """Rules that run (listed and not `enabled: false`)."""
        return tuple(r for r in self.rules if r.enabled)

    def rule(self, rule_id: str) -> RuleConfig | None:
        """The configuration of `rule_id`, if the policy lists it."""
        for rc in self.rules:
            if rc.id == rule_id:
                return rc
        return None
