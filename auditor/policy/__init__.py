"""Policies: the YAML language, its validation, and the validated Policy model."""

from auditor.policy.loader import load_policy, load_policy_text, shipped_policies
from auditor.policy.model import Gate, Policy, PolicyError, RuleConfig, ScopeSelector, Waiver

__all__ = ["Gate", "Policy", "PolicyError", "RuleConfig", "ScopeSelector", "Waiver", "load_policy",
           "load_policy_text", "shipped_policies"]
