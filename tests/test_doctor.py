"""doctor lists the same gaps that make audit results unknown."""

from __future__ import annotations

from auditor.doctor import render_table, visibility
from auditor.facts import Environment, Environments, Gap, Secrets
from tests.factories import ADMIN_GAP, branch, repo


def test_visibility_lists_every_gap_with_its_permission():
    secrets_gap = Gap("Resource not accessible by integration", "Secrets: read", 403)
    facts = repo(branches=(branch("main", classic_gap=ADMIN_GAP),),
                 environments=Environments(items=(Environment(name="production", secrets_gap=secrets_gap),)),
                 repo_secrets=Secrets(gap=secrets_gap))
    rows = {r.fact: r for r in visibility(facts)}
    assert rows["branch main: existence"].visible
    assert not rows["branch main: classic protection"].visible
    assert rows["branch main: classic protection"].permission == "Administration: read"
    assert not rows["repository secrets"].visible
    assert not rows["environment production: secrets"].visible
    table = render_table(rows.values())
    assert "MISSING  branch main: classic protection" in table
    assert "grant: Secrets: read" in table
    assert "ok       branch main: existence" in table
