"""Effective protection of a branch: classic protection merged with every active ruleset.

The strictest setting wins, and each setting keeps the source that set it ("classic" or
"ruleset:<name>") as evidence. When one source could not be read, a setting the readable sources
do not satisfy is *unknown*, not "off": the unreadable source might satisfy it. This is a pure
derivation over BranchFacts, shared by every branch-, reviews- and checks- rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from auditor.facts import BranchFacts, Gap, RuleDetail


@dataclass(frozen=True)
class Setting:
    """One effective setting.

    `value` is what the readable sources give (False / 0 / () when none sets it); `source` names
    the source that set the strictest value; `gap` is set when some source could not be read, so
    a value below what a rule wants is unknown rather than a failure.
    """

    value: Any
    source: str | None = None
    gap: Gap | None = None

    def evidence(self) -> dict[str, Any]:
        """The machine values a result carries."""
        out: dict[str, Any] = {"actual": list(self.value) if isinstance(self.value, tuple) else self.value}
        if self.source:
            out["source"] = self.source
        if self.gap:
            out["unobserved"] = self.gap.describe()
        return out


@dataclass(frozen=True)
class EffectiveProtection:
    """Every protection setting a rule may ask about, merged across sources."""

    protected: Setting
    pr_required: Setting
    approvals: Setting
    code_owner_reviews: Setting
    dismiss_stale: Setting
    last_push_approval: Setting
    checks: Setting
    strict_checks: Setting
    blocks_force_push: Setting
    blocks_deletion: Setting
    linear_history: Setting
    signed_commits: Setting


def _ruleset_label(rule: RuleDetail) -> str:
    return f"ruleset:{rule.ruleset_name or rule.ruleset_id}"


def _gap(branch: BranchFacts) -> Gap | None:
    """The first unreadable source, if any (classic protection first: it is the admin-only one)."""
    return branch.classic_gap or branch.rules_gap


def _bool(branch: BranchFacts, classic_value: bool | None, rule_types: Iterable[str],
          param: str | None = None) -> Setting:
    """True if classic or any effective rule of the given types (with `param` truthy) sets it."""
    if classic_value:
        return Setting(True, "classic")
    types = set(rule_types)
    for rule in branch.rules:
        if rule.type in types and (param is None or rule.parameters.get(param)):
            return Setting(True, _ruleset_label(rule))
    return Setting(False, None, _gap(branch))


def _classic_checks(branch: BranchFacts) -> tuple[str, ...]:
    if branch.classic is None or branch.classic.required_checks is None:
        return ()
    return branch.classic.required_checks


def effective_protection(branch: BranchFacts) -> EffectiveProtection:
    """Merge classic protection and effective ruleset rules of `branch` (strictest wins)."""
    c = branch.classic
    gap = _gap(branch)

    has_rules = bool(branch.rules)
    if c is not None:
        protected = Setting(True, "classic")
    elif has_rules:
        protected = Setting(True, _ruleset_label(branch.rules[0]))
    else:
        protected = Setting(False, None, gap)

    pr_required = _bool(branch, c is not None and c.required_approvals is not None, ["pull_request"])

    best_approvals = c.required_approvals if c is not None and c.required_approvals is not None else 0
    approvals_source: str | None = "classic" if best_approvals else None
    for rule in branch.rules:
        if rule.type == "pull_request":
            count = int(rule.parameters.get("required_approving_review_count", 0) or 0)
            if count > best_approvals:
                best_approvals, approvals_source = count, _ruleset_label(rule)
    approvals = Setting(best_approvals, approvals_source, gap)

    checks: list[str] = list(_classic_checks(branch))
    check_sources: list[str] = ["classic"] if checks else []
    for rule in branch.rules:
        if rule.type == "required_status_checks":
            found = False
            for item in rule.parameters.get("required_status_checks", []) or []:
                ctx = item.get("context") if isinstance(item, dict) else None
                if ctx and ctx not in checks:
                    checks.append(ctx)
                    found = True
            if found:
                check_sources.append(_ruleset_label(rule))
    checks_setting = Setting(tuple(checks), ", ".join(check_sources) or None, gap)

    return EffectiveProtection(
        protected=protected,
        pr_required=pr_required,
        approvals=approvals,
        code_owner_reviews=_bool(branch, c.require_code_owner_reviews if c else None,
                                 ["pull_request"], "require_code_owner_review"),
        dismiss_stale=_bool(branch, c.dismiss_stale_reviews if c else None,
                            ["pull_request"], "dismiss_stale_reviews_on_push"),
        last_push_approval=_bool(branch, c.require_last_push_approval if c else None,
                                 ["pull_request"], "require_last_push_approval"),
        checks=checks_setting,
        strict_checks=_bool(branch, c.strict_checks if c else None,
                            ["required_status_checks"], "strict_required_status_checks_policy"),
        blocks_force_push=_bool(branch, (not c.allow_force_pushes) if c else None, ["non_fast_forward"]),
        blocks_deletion=_bool(branch, (not c.allow_deletions) if c else None, ["deletion"]),
        linear_history=_bool(branch, c.required_linear_history if c else None, ["required_linear_history"]),
        signed_commits=_bool(branch, c.required_signatures if c else None, ["required_signatures"]),
    )
