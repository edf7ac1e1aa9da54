"""The policy language: shipped policies validate; broken ones list every problem with its place."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.model import Severity
from auditor.policy import PolicyError, load_policy, load_policy_text, shipped_policies
from auditor.rules import RULES_BY_ID

DATA = Path(__file__).parent / "data" / "policies"
MINIMAL = """
policy: t
branches: {production: main, staging: staging}
environments: {production: production}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "p.yml")
    return info.value.problems


@pytest.mark.parametrize("name", shipped_policies())
def test_shipped_policies_validate(name):
    policy = load_policy(name)
    assert policy.name == name
    assert policy.enabled_rules
    assert policy.digest.startswith("sha256:")


def test_deployment_standard_names_the_control_of_every_rule():
    policy = load_policy("deployment-standard")
    missing = [rc.id for rc in policy.rules if not rc.control]
    assert missing == []
    # It lists every rule of the catalog (some switched off, with the reason in a comment).
    assert {rc.id for rc in policy.rules} == set(RULES_BY_ID)


def test_five_mistakes_are_all_reported_with_their_lines():
    problems = problems_of((DATA / "five-mistakes.yml").read_text())
    text = "\n".join(problems)
    assert "p.yml:7: rules.branch-protected.severity: unallowed value catastrophic" in text
    assert "p.yml:10: rules.reviews-required-approvals.params.min_approvals: must be of integer type" in text
    assert "p.yml:11: rules.reviews-required-approvals.owner: unknown key" in text
    assert "p.yml:12: rules.branch-no-forcepush: unknown rule id (did you mean 'branch-no-force-push'?)" in text
    assert "p.yml:14: waivers[0].expires: required field" in text
    assert len(problems) == 5


def test_cli_validate_exits_2_without_traceback(capsys):
    code = main(["policy", "validate", str(DATA / "five-mistakes.yml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.count("five-mistakes.yml:") == 1 + 5  # the header line, then one line per problem


def test_cli_validate_shipped_ok(capsys):
    assert main(["policy", "validate", "policies/deployment-standard.yml", "policies/baseline.yml"]) == 0
    assert capsys.readouterr().out.count(": OK:") == 2


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    ("- a\n- b\n", "top level must be a mapping"),
    ("policy: [unclosed\n", "not valid YAML"),
    ("policy: x\npolicy: y\n", "duplicate key"),
    ("polcy: x\n", "unknown key (did you mean 'policy'?)"),
    ("version: 1\n", "policy: required field"),
    (MINIMAL + "rules:\n  branch-protected:\n    branches: [prod]\n", "unknown branch role 'prod'"),
    (MINIMAL + "rules:\n  secrets-scanning:\n    branches: [production]\n", "repo-scoped"),
    (MINIMAL + "rules:\n  env-exists:\n    environments: [staging]\n", "unknown environment role"),
    (MINIMAL + "rules:\n  branch-protected:\n    params: {x: 1}\n", "takes no params"),
    (MINIMAL + "rules:\n  reviews-required-approvals:\n    params: {min_approvals: -1}\n", "min value is 0"),
    (MINIMAL + "gate: {fail_on: severe}\n", "allowed: critical, high"),
    (MINIMAL + "waivers:\n- {rule: nope, reason: r, owner: o, expires: 2027-01-01}\n", "unknown rule id 'nope'"),
    (MINIMAL + "waivers:\n- {rule: branch-protected, reason: r, owner: o, expires: soon}\n", "date"),
    ("policy: x\nextends: no-such-policy\n", "no shipped policy or file named"),
])
def test_problems(text, fragment):
    assert any(fragment in p for p in problems_of(text)), problems_of(text)


def test_defaults_filled_and_role_overrides_merged():
    policy = load_policy_text(MINIMAL + """
rules:
  reviews-required-approvals:
    params: {}
    branches:
      production: {min_approvals: 2}
      staging: {}
""")
    rc = policy.rule("reviews-required-approvals")
    assert rc is not None
    assert rc.params["min_approvals"] == RULES_BY_ID["reviews-required-approvals"].defaults["min_approvals"]
    assert rc.roles == {"production": {"min_approvals": 2}, "staging": {"min_approvals": rc.params["min_approvals"]}}
    assert rc.severity is RULES_BY_ID["reviews-required-approvals"].severity


def test_extends_shipped_and_relative(tmp_path):
    child = tmp_path / "team.yml"
    child.write_text("policy: team\nextends: deployment-standard\ngate: {fail_on: critical}\n"
                     "rules:\n  branch-signed-commits: {enabled: false}\n")
    policy = load_policy(child)
    assert policy.name == "team"
    assert policy.gate.fail_on is Severity.CRITICAL
    assert policy.branches == {"production": "main", "staging": "staging"}
    sc = policy.rule("branch-signed-commits")
    assert sc is not None
    assert not sc.enabled
    grandchild = tmp_path / "sub" / "g.yml"
    grandchild.parent.mkdir()
    grandchild.write_text("policy: g\nextends: ../team.yml\n")
    assert load_policy(grandchild).gate.fail_on is Severity.CRITICAL


def test_extends_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yml").write_text("policy: a\nextends: b.yml\n")
    (tmp_path / "b.yml").write_text("policy: b\nextends: a.yml\n")
    with pytest.raises(PolicyError, match="circular"):
        load_policy(tmp_path / "a.yml")


def test_waiver_fields_and_expiry():
    policy = load_policy_text(MINIMAL + """
waivers:
  - rule: branch-protected
    repos: ["legacy-*"]
    targets: ["branch:main"]
    reason: Manual until Q2.
    owner: sec@acme.example
    expires: "2027-03-31"
""")
    (w,) = policy.waivers
    assert w.expires == date(2027, 3, 31)
    assert w.covers("branch-protected", "acme/legacy-api", "branch:main")
    assert not w.covers("branch-protected", "acme/web", "branch:main")
    assert not w.expired(date(2027, 3, 31))
    assert w.expired(date(2027, 4, 1))


def test_scope_selector():
    policy = load_policy_text(MINIMAL + "scope: {include: ['svc-*'], exclude: ['svc-old*'], topics: [prod]}\n")
    sel = policy.scope
    assert sel.selects("acme/svc-a", topics=["prod"])[0]
    assert not sel.selects("acme/svc-old1", topics=["prod"])[0]
    assert not sel.selects("acme/web", topics=["prod"])[0]
    assert not sel.selects("acme/svc-a", topics=[])[0]
    assert not sel.selects("acme/svc-a", topics=["prod"], archived=True)[0]
