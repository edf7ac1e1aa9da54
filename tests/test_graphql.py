"""The batched GraphQL collector against the sandbox: the same facts as REST, for far fewer units.

THE equivalence test collects every repository of the demo world with `RestSource` and with
`GraphQLSource` and compares `RepoFacts.to_dict()` field by field, `source` aside (it names the
collector and so differs by design). No other field is excluded. Ordering is the one both APIs
give: commits, pull requests (by update) and deployments newest first, reviews oldest first,
check runs before commit statuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from github import Auth

from auditor.engine import plan_for
from auditor.facts import RepoFacts
from auditor.github.client import GitHubClient
from auditor.github.collect import RestSource, list_org_repos
from auditor.github.graphql import GraphQLSource
from auditor.plan import FactPlan
from auditor.policy import load_policy
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, SandboxServer, serve

READONLY_TOKEN = "sandbox-readonly-token"
APP_TOKEN = "sandbox-app-token"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with serve(DEMO_WORLD) as srv:
        yield srv


@pytest.fixture(scope="module")
def plan() -> FactPlan:
    return plan_for(load_policy("deployment-standard"))


@pytest.fixture(scope="module")
def names(server: SandboxServer) -> list[str]:
    return [r.full_name for r in list_org_repos(GitHubClient(Auth.Token(DEMO_TOKEN), server.url), "acme-demo")]


def _client(server: SandboxServer, token: str) -> GitHubClient:
    return GitHubClient(Auth.Token(token), server.url)


def _comparable(facts: RepoFacts) -> dict[str, Any]:
    data = facts.to_dict()
    data.pop("source")
    return data


def _now(server: SandboxServer) -> datetime:
    now: datetime = server.world.state.now
    return now


@pytest.mark.parametrize("token", [DEMO_TOKEN, READONLY_TOKEN, APP_TOKEN])
def test_graphql_gives_the_same_facts_as_rest(server: SandboxServer, plan: FactPlan, names: list[str],
                                              token: str) -> None:
    server.set_faults([])
    rest = RestSource(_client(server, token))
    expected = [rest.collect(n, plan, _now(server)) for n in names]
    source = GraphQLSource(_client(server, token), batch_size=4)
    got = source.collect_many(names, plan, _now(server))
    assert [f.repo for f in got] == names
    assert all(f.source == "graphql" for f in got)
    for want, have in zip(expected, got, strict=True):
        assert _comparable(have) == _comparable(want), want.repo
    assert source.cost.graphql_points > 0  # GraphQL really carried facts


def test_cold_cost_per_repository(server: SandboxServer, plan: FactPlan, names: list[str]) -> None:
    """Rate-limit units (REST requests that were not 304 + GraphQL points) per repository, cold."""
    server.set_faults([])
    rest = RestSource(_client(server, DEMO_TOKEN))
    for n in names:
        rest.collect(n, plan, _now(server))
    source = GraphQLSource(_client(server, DEMO_TOKEN), batch_size=len(names))
    source.collect_many(names, plan, _now(server))
    rest_units = rest.cost.rate_limit_used / len(names)
    gql_units = (source.cost.rate_limit_used + source.cost.graphql_points) / len(names)
    assert rest_units > 35  # measured 38.1
    assert gql_units < 17  # measured 16.4: the rest is REST-only facts (secrets, environments, rules, hooks)
    assert source.cost.graphql_points <= 2 * len(names)


def test_non_admin_protection_is_unknown_never_unprotected(server: SandboxServer) -> None:
    server.set_faults([])
    client = _client(server, READONLY_TOKEN)
    query = ('query { r: repository(owner: "acme-demo", name: "payments-api") '
             "{ viewerPermission branchProtectionRules(first: 10) { nodes { pattern } } } }")
    data, errors, _ = client.graphql(query)
    assert errors == []
    assert data["r"] == {"viewerPermission": "READ", "branchProtectionRules": {"nodes": []}}
    plan = FactPlan(needs=frozenset(plan_for(load_policy("deployment-standard")).needs), branches=("main",))
    facts = GraphQLSource(client).collect("acme-demo/payments-api", plan, _now(server))
    main = facts.branch("main")
    assert main is not None and main.classic is None
    assert main.classic_gap is not None and main.classic_gap.http_status == 404


def test_a_502_halves_the_batch_and_the_facts_stay_the_same(server: SandboxServer, plan: FactPlan,
                                                              names: list[str]) -> None:
    server.set_faults([])
    expected = GraphQLSource(_client(server, DEMO_TOKEN), batch_size=8).collect_many(names, plan, _now(server))
    server.set_faults([{"path": "/graphql", "method": "POST", "kind": "status", "status": 502, "count": 2}])
    try:
        source = GraphQLSource(_client(server, DEMO_TOKEN), batch_size=8, grow_after=1)
        got = source.collect_many(names, plan, _now(server))
    finally:
        server.set_faults([])
    assert source.shrinks == 2
    assert [_comparable(f) for f in got] == [_comparable(f) for f in expected]


def test_a_failing_repository_does_not_take_the_batch_with_it(server: SandboxServer, plan: FactPlan,
                                                               names: list[str]) -> None:
    server.set_faults([])
    source = GraphQLSource(_client(server, DEMO_TOKEN), batch_size=8)
    got = source.collect_many([names[0], "acme-demo/no-such-repo", names[1]], plan, _now(server))
    assert got[1].repo_gap is not None and got[1].repo_gap.http_status == 404
    rest = RestSource(_client(server, DEMO_TOKEN))
    assert _comparable(got[0]) == _comparable(rest.collect(names[0], plan, _now(server)))
    assert _comparable(got[2]) == _comparable(rest.collect(names[1], plan, _now(server)))


def test_collect_batches_the_names_it_is_told_about(server: SandboxServer, plan: FactPlan,
                                                    names: list[str]) -> None:
    server.set_faults([])
    client = _client(server, DEMO_TOKEN)
    source = GraphQLSource(client, next_batch=lambda name: [n for n in names if n != name])
    for n in names:
        assert source.collect(n, plan, _now(server)).repo == n
    assert client.cost.graphql_points <= 2 * len(names)
    assert client.cost.requests - client.cost.rate_limit_used == 1  # one GraphQL query for all eight


@pytest.mark.parametrize(("api", "org_audit", "graphql"), [
    ("graphql", False, True), ("auto", True, True), ("auto", False, False), ("rest", True, False)])
def test_session_chooses_graphql_for_org_audits(api: str, org_audit: bool, graphql: bool) -> None:
    from auditor.github.auth import credentials_from_env
    from auditor.session import GitHubSession

    session = GitHubSession(creds=credentials_from_env({"GITHUB_TOKEN": DEMO_TOKEN}), base_url="http://x", api=api)
    assert session.uses_graphql(org_audit) is graphql
