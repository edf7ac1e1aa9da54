"""deploy-*: placeholder until the family is implemented."""

from __future__ import annotations

from auditor.rules.base import Rule

RULES: tuple[Rule, ...] = ()
