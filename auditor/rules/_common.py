"""Helpers shared by rule families: resolving the branch under evaluation, glob matching."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from auditor.facts import BranchFacts, Gap
from auditor.protection import EffectiveProtection, Setting, effective_protection
from auditor.rules.base import Context, Outcome, Rule, branch_target

ADMIN_READ = "Administration: read"


def resolve_branch(rule: Rule, ctx: Context) -> BranchFacts | Outcome:
    """The facts of the branch being evaluated, or the outcome to report instead.

    Unknown when the branch was not collected or its existence is unreadable; not_applicable
    when it does not exist (`branch-exists` reports that as the failure).
    """
    name = ctx.branch or ""
    target = branch_target(name)
    br = ctx.facts.branch(name)
    if br is None:
        return rule.unknown(target, f"Branch {name}", Gap("the branch was not collected"))
    if br.exists is None:
        return rule.unknown(target, f"Whether branch {name} exists", br.exists_gap)
    if not br.exists:
        return rule.not_applicable(target, f"Branch {name} does not exist", branch=name)
    return br


def resolve_protection(rule: Rule, ctx: Context) -> tuple[BranchFacts, EffectiveProtection] | Outcome:
    """The branch and its effective protection, or the outcome to report instead."""
    br = resolve_branch(rule, ctx)
    if isinstance(br, Outcome):
        return br
    return br, effective_protection(br)


def bool_setting_outcome(rule: Rule, ctx: Context, pick: str, what: str, good: str, bad: str,
                         remediation: str | None = None) -> Outcome:
    """The common shape of a branch rule over one boolean effective setting.

    `what` (for unknown), `good` and `bad` are message templates with `{b}` for the branch name.
    """
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        return resolved
    br, prot = resolved
    setting: Setting = getattr(prot, pick)
    target = branch_target(br.name)
    if setting.value:
        return rule.passed(target, good.format(b=br.name), **setting.evidence())
    if setting.gap is not None:
        return rule.unknown(target, what.format(b=br.name), setting.gap, **setting.evidence())
    return rule.failed(target, bad.format(b=br.name), remediation, **setting.evidence())


def matches_any(value: str, globs: Iterable[str]) -> bool:
    """Whether `value` matches any of the shell-style globs (case-sensitive, as git refs are)."""
    return any(fnmatch.fnmatchcase(value, g) for g in globs)
