"""Walk the registry: the catalog is implemented, ids unique, docs pages and params schemas valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cerberus import Validator

from auditor.model import Scope, Severity
from auditor.rules import ALL_RULES, RULES_BY_ID

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT.parent / "shared" / "docs" / "rules-catalog.md"
SECTIONS = ("## What it checks", "## Why", "## Params", "## Remediation", "## Permission needed")


def catalog_ids() -> list[str]:
    text = CATALOG.read_text()
    return re.findall(r"^\| `([a-z0-9]+-[a-z0-9-]+)` \|", text, flags=re.MULTILINE)


@pytest.mark.skipif(not CATALOG.exists(), reason="../shared is not beside the project")
def test_every_catalog_rule_is_implemented_and_nothing_else():
    ids = catalog_ids()
    assert len(ids) > 40
    assert sorted(ids) == sorted(RULES_BY_ID)


def test_ids_unique_and_registry_ordered_by_family():
    ids = [r.id for r in ALL_RULES]
    assert len(ids) == len(set(ids))
    for rule in ALL_RULES:
        assert rule.id.startswith(rule.family + "-") or (rule.family == "flow" and rule.id.startswith("flow-"))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_metadata(rule):
    assert rule.fn is not None, "no check function"
    assert isinstance(rule.severity, Severity)
    assert rule.title and rule.remediation and rule.permission
    assert rule.needs, "a rule must declare the facts it needs"
    # Scopes as the catalog defines them.
    if rule.family in ("branch", "reviews", "checks") or rule.id == "flow-no-direct-push":
        assert rule.scope is Scope.BRANCH
    elif rule.family == "env":
        assert rule.scope is Scope.ENVIRONMENT
    else:
        assert rule.scope is Scope.REPO
    # The params schema is one cerberus accepts, and its defaults validate against it.
    validator = Validator(rule.params)
    assert validator.validate({}), validator.errors
    assert validator.document == rule.defaults
    for name, spec in rule.params.items():
        assert "default" in spec, f"param {name} has no default"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_docs_page(rule):
    page = ROOT / "docs" / "rules" / f"{rule.id}.md"
    assert page.exists(), f"missing {page}"
    text = page.read_text()
    assert text.startswith(f"# {rule.id}")
    for section in SECTIONS:
        assert section in text, f"{page.name} lacks '{section}'"
    for param in rule.params:
        assert f"`{param}`" in text, f"{page.name} does not document param {param}"
