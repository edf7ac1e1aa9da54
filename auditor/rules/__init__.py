"""The registry: every rule the auditor ships, listed explicitly by family.

Each family module defines its rules as module constants and lists them in its `RULES` tuple;
this module concatenates those tuples in catalog order. `tests/test_registry.py` walks it.
"""

from __future__ import annotations

from auditor.rules import branch, checks, deploy, docs, env, flow, pr, reviews, secrets, security
from auditor.rules.base import Rule

ALL_RULES: tuple[Rule, ...] = (
    *branch.RULES,
    *reviews.RULES,
    *checks.RULES,
    *flow.RULES,
    *deploy.RULES,
    *env.RULES,
    *secrets.RULES,
    *docs.RULES,
    *security.RULES,
    *pr.RULES,
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in ALL_RULES}


def get_rule(rule_id: str) -> Rule | None:
    """The rule with this id, or None."""
    return RULES_BY_ID.get(rule_id)
