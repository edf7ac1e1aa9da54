"""The sandbox's POST /graphql: GitHub's point-cost arithmetic, its own budget, its error shapes."""

from __future__ import annotations

import pytest
from graphql import parse

from auditor.github.client import GitHubClient
from auditor.github.errors import AuthError
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, serve
from auditor.sandbox.graphql import query_cost

# The worked example of GitHub's "Rate limits and node limits for the GraphQL API".
DOC_EXAMPLE = """query { viewer { login repositories(first: 100) { edges { node { id
  issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } } } } } } }"""


@pytest.mark.parametrize(
    ("query", "variables", "points", "nodes"),
    [
        (DOC_EXAMPLE, {}, 51, 100 + 100 * 50 + 100 * 50 * 60),  # 5,101 requests / 100
        ("query { rateLimit { cost } }", {}, 1, 0),  # every query costs at least one point
        ('query($n: Int) { repository(owner: "o", name: "r") { pullRequests(first: $n) '
         "{ nodes { reviews(first: 10) { nodes { state } } } } } }", {"n": 20}, 1, 20 + 200),
        ('query { a: repository(owner: "o", name: "r") { pullRequests(first: 100) { nodes { reviews(first: 10) '
         '{ nodes { state } } } } } b: repository(owner: "o", name: "s") { pullRequests(first: 100) '
         "{ nodes { reviews(first: 10) { nodes { state } } } } } }", {}, 2, 2 * (100 + 1000)),
    ],
)
def test_query_cost_follows_githubs_arithmetic(query: str, variables: dict[str, int], points: int,
                                                nodes: int) -> None:
    assert query_cost(parse(query), variables) == (points, nodes)


def test_points_come_out_of_the_graphql_budget_and_show_in_headers() -> None:
    with serve(DEMO_WORLD) as srv:
        from github import Auth

        client = GitHubClient(Auth.Token(DEMO_TOKEN), srv.url)
        data, errors, headers = client.graphql("query { rateLimit { cost used remaining } }")
        assert errors == []
        assert data["rateLimit"] == {"cost": 1, "used": 1, "remaining": 4999}
        assert headers["x-ratelimit-resource"] == "graphql"
        assert headers["x-ratelimit-used"] == "1"
        rest = client.get("/repos/acme-demo/payments-api")
        assert rest.headers["x-ratelimit-resource"] == "core" and rest.headers["x-ratelimit-used"] == "1"
        assert client.cost.graphql_points == 1 and client.cost.rate_limit_used == 1


def test_unknown_repository_is_null_with_an_error_naming_its_alias() -> None:
    with serve(DEMO_WORLD) as srv:
        from github import Auth

        client = GitHubClient(Auth.Token(DEMO_TOKEN), srv.url)
        data, errors, _ = client.graphql('query { r7: repository(owner: "acme-demo", name: "nope") { name } }')
        assert data == {"r7": None}
        assert errors[0]["path"] == ["r7"] and errors[0]["type"] == "NOT_FOUND"


def test_graphql_needs_a_token() -> None:
    with serve(DEMO_WORLD) as srv, pytest.raises(AuthError):
        GitHubClient(None, srv.url).graphql("query { rateLimit { cost } }")
