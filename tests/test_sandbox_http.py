"""HTTP behaviour of the sandbox: auth, permissions, pagination, ETags, rate limits, faults, stats."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator

import pytest

from auditor.sandbox import SandboxServer, load_world, serve, token_hash
from tests.sandbox.client import DEMO, call, demo_world

R = "/repos/acme-demo/payments-api"
PP = "/repos/acme-demo/partner-portal"


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with serve(demo_world()) as srv:
        yield srv


def tiny(**extra: object) -> dict[str, object]:
    """A one-repo world for budget and fault tests."""
    return {
        "now": "2026-03-02T00:00:00Z",
        "orgs": [{"login": "o", "plan": "team", "members": ["m"]}],
        "tokens": [{"value": "t1", "login": "m", "role": "admin"}, {"value": "t2", "login": "n", "role": "read"}],
        "repos": [{"name": "r", "visibility": "private", "files": {"a.txt": "x"}}],
        **extra,
    }


# -- pagination ----------------------------------------------------------------------------------------


def test_link_header_walks_every_page_with_absolute_urls(server: SandboxServer) -> None:
    first = call(server.url, f"{R}/commits?sha=main&per_page=2")
    assert first.status == 200
    assert len(first.json) == 2
    link = first.headers["link"]
    assert f'<{server.url}{R}/commits?sha=main&per_page=2&page=2>; rel="next"' in link
    assert 'rel="last"' in link
    assert 'rel="prev"' not in link
    seen = list(first.json)
    url = link.split(";")[0].strip("<>")
    while True:
        page = call(server.url, url)
        seen.extend(page.json)
        links: dict[str, str] = {}
        for part in page.headers["link"].split(", "):
            target, rel = part.split("; ")
            links[rel] = target
        assert links['rel="first"'].strip("<>").endswith("page=1")
        assert 'rel="prev"' in links
        if 'rel="next"' not in links:
            break
        url = links['rel="next"'].strip("<>")
    everything = call(server.url, f"{R}/commits?sha=main&per_page=100")
    assert "link" not in everything.headers
    assert [c["sha"] for c in seen] == [c["sha"] for c in everything.json]


def test_per_page_defaults_to_30_and_caps_at_100(server: SandboxServer) -> None:
    all_commits = call(server.url, f"{R}/commits?sha=main&per_page=100").json
    assert len(call(server.url, f"{R}/commits?sha=main").json) == min(30, len(all_commits))
    assert len(call(server.url, f"{R}/commits?sha=main&per_page=500").json) == len(all_commits)


def test_wrapped_lists_paginate_their_inner_list(server: SandboxServer) -> None:
    answer = call(server.url, f"{R}/environments?per_page=1")
    assert answer.json["total_count"] == 2
    assert len(answer.json["environments"]) == 1
    assert 'rel="next"' in answer.headers["link"]


# -- conditional requests and rate limits ------------------------------------------------------------------


def test_304_is_free_and_has_no_body(server: SandboxServer) -> None:
    first = call(server.url, R)
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = call(server.url, R, headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.raw == b""
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    weak = call(server.url, R, headers={"If-None-Match": "W/" + etag})
    assert weak.status == 304
    stale = call(server.url, R, headers={"If-None-Match": '"nope"'})
    assert stale.status == 200
    assert int(stale.headers["x-ratelimit-used"]) == int(first.headers["x-ratelimit-used"]) + 1


def test_etag_depends_on_the_token(server: SandboxServer) -> None:
    admin = call(server.url, "/repos/acme-demo/checkout-web").headers["etag"]
    reader = call(server.url, "/repos/acme-demo/checkout-web", token="sandbox-readonly-token").headers["etag"]
    assert admin != reader


def test_rate_limit_headers_and_exhaustion_with_403() -> None:
    with serve(tiny(rate_limit={"limit": 3, "window_seconds": 600})) as srv:
        answers = [call(srv.url, "/repos/o/r", token="t1") for _ in range(3)]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
        assert all(a.headers["x-ratelimit-resource"] == "core" for a in answers)
        reset = int(answers[0].headers["x-ratelimit-reset"])
        assert time.time() < reset <= time.time() + 601
        limited = call(srv.url, "/repos/o/r", token="t1")
        assert limited.status == 403
        assert limited.json["message"].startswith("API rate limit exceeded for user ID ")
        assert limited.headers["x-ratelimit-remaining"] == "0"
        overview = call(srv.url, "/rate_limit", token="t1")
        assert overview.status == 200
        assert overview.json["resources"]["core"]["remaining"] == 0
        assert call(srv.url, "/repos/o/r", token="t2").status == 200  # budgets are per token
        assert srv.stats["rate_limited"] == 1


def test_rate_limit_can_answer_429_and_per_token_limits_apply() -> None:
    world = tiny(rate_limit={"limit": 100, "status": 429})
    world["tokens"] = [{"value": "t1", "login": "m", "role": "admin", "rate_limit": 1}]
    with serve(world) as srv:
        assert call(srv.url, "/repos/o/r", token="t1").headers["x-ratelimit-limit"] == "1"
        limited = call(srv.url, "/repos/o/r", token="t1")
        assert limited.status == 429
        assert "API rate limit exceeded" in limited.json["message"]


def test_rate_limit_endpoint_does_not_count(server: SandboxServer) -> None:
    before = call(server.url, "/rate_limit").json["rate"]["used"]
    call(server.url, "/rate_limit")
    after = call(server.url, "/rate_limit").json["rate"]
    assert after["used"] == before
    assert after["limit"] == 5000


# -- authentication and permissions -----------------------------------------------------------------------


def test_unknown_token_is_bad_credentials(server: SandboxServer) -> None:
    answer = call(server.url, R, token="not-a-token")
    assert answer.status == 401
    assert answer.json["message"] == "Bad credentials"
    bearer = call(server.url, R, token=None, headers={"Authorization": f"Bearer {DEMO}"})
    assert bearer.status == 200


def test_anonymous_sees_public_repos_only_with_the_low_limit(server: SandboxServer) -> None:
    public = call(server.url, R, token=None)
    assert public.status == 200
    assert public.headers["x-ratelimit-limit"] == "60"
    assert "permissions" not in public.json
    assert "security_and_analysis" not in public.json
    assert call(server.url, "/repos/acme-demo/internal-tools", token=None).status == 404
    names = {r["name"] for r in call(server.url, "/orgs/acme-demo/repos?per_page=100", token=None).json}
    assert "internal-tools" not in names
    assert "payments-api" in names
    assert call(server.url, "/user", token=None).status == 401


def test_admin_token_sees_security_and_permissions(server: SandboxServer) -> None:
    body = call(server.url, R).json
    assert body["permissions"] == {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True}
    assert body["security_and_analysis"]["secret_scanning_push_protection"] == {"status": "enabled"}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (f"{PP}/branches/main/protection", 404, "Not Found"),
        (f"{PP}/branches/main/protection/required_pull_request_reviews", 404, "Not Found"),
        (f"{PP}/hooks", 404, "Not Found"),
        (f"{PP}/vulnerability-alerts", 404, "Not Found"),
        (f"{PP}/actions/secrets", 403, "Must have admin rights to Repository."),
        (f"{PP}/environments/production/secrets", 403, "Must have admin rights to Repository."),
        (f"{PP}/actions/permissions/workflow", 403, "Must have admin rights to Repository."),
    ],
)
def test_classic_token_without_admin(server: SandboxServer, path: str, status: int, message: str) -> None:
    answer = call(server.url, path)
    assert (answer.status, answer.json["message"]) == (status, message)


def test_non_admin_can_still_read_what_readers_may(server: SandboxServer) -> None:
    repo = call(server.url, PP).json
    assert repo["permissions"]["admin"] is False
    assert "security_and_analysis" not in repo
    assert call(server.url, f"{PP}/rules/branches/main").status == 200
    assert call(server.url, f"{PP}/environments").json["total_count"] == 2
    branch = call(server.url, f"{PP}/branches/main").json
    assert branch["protected"] is True
    assert branch["protection_url"] == f"{server.url}{PP}/branches/main/protection"


def test_app_token_without_permission_gets_resource_not_accessible(server: SandboxServer) -> None:
    answer = call(server.url, f"{R}/branches/main/protection", token="sandbox-app-token")
    assert answer.status == 403
    assert answer.json["message"] == "Resource not accessible by integration"
    assert answer.headers["x-accepted-github-permissions"] == "administration=read"
    secrets = call(server.url, f"{R}/environments/production/secrets", token="sandbox-app-token")
    assert secrets.status == 403
    assert secrets.headers["x-accepted-github-permissions"] == "environments=read,secrets=read"
    assert call(server.url, f"{R}/pulls", token="sandbox-app-token").status == 200


def test_fine_grained_token_message_names_personal_access_token(server: SandboxServer) -> None:
    answer = call(server.url, f"{R}/actions/secrets", token="sandbox-fine-grained-token")
    assert answer.status == 403
    assert answer.json["message"] == "Resource not accessible by personal access token"
    assert answer.headers["x-accepted-github-permissions"] == "secrets=read"
    assert call(server.url, f"{R}/branches/main/protection", token="sandbox-fine-grained-token").status == 200


def test_private_repo_on_free_plan_asks_for_an_upgrade(server: SandboxServer) -> None:
    answer = call(server.url, "/repos/acme-demo/internal-tools/branches/main/protection")
    assert answer.status == 403
    assert answer.json["message"] == "Upgrade to GitHub Pro or make this repository public to enable this feature."


def test_protection_absent_versus_sub_protection_absent(server: SandboxServer) -> None:
    legacy = call(server.url, "/repos/acme-demo/legacy-billing/branches/main/protection")
    assert (legacy.status, legacy.json["message"]) == (404, "Branch not protected")
    stg = call(server.url, "/repos/acme-demo/partner-portal/branches/staging/protection/required_status_checks",
               token="sandbox-fine-grained-token")
    assert stg.status == 404
    assert call(server.url, f"{R}/branches/nope").json["message"] == "Branch not found"


def test_rulesets_effective_rules_and_bypass_visibility(server: SandboxServer) -> None:
    w = "/repos/acme-demo/checkout-web"
    rules = call(server.url, f"{w}/rules/branches/staging").json
    types = sorted(r["type"] for r in rules)
    assert types == ["deletion", "non_fast_forward", "pull_request", "required_status_checks"]  # evaluate left out
    assert {r["ruleset_source_type"] for r in rules} == {"Repository"}
    assert call(server.url, f"{w}/rules/branches/feature/x").json == []
    rs_id = call(server.url, f"{w}/rulesets").json[0]["id"]
    assert call(server.url, f"{w}/rulesets/{rs_id}").json["bypass_actors"][0]["actor_type"] == "RepositoryRole"
    reader = call(server.url, f"{w}/rulesets/{rs_id}", token="sandbox-readonly-token").json
    assert "bypass_actors" not in reader


def test_contents_are_base64_and_directories_are_lists(server: SandboxServer) -> None:
    import base64

    doc = call(server.url, f"{R}/contents/docs/deployment.md").json
    assert doc["encoding"] == "base64"
    assert "## Rollback" in base64.b64decode(doc["content"]).decode()
    listing = call(server.url, f"{R}/contents/.github").json
    assert [(e["name"], e["type"]) for e in listing] == [("CODEOWNERS", "file"), ("workflows", "dir")]
    assert call(server.url, f"{R}/contents/nope.md").status == 404


def test_vulnerability_alerts_answer_204_or_404(server: SandboxServer) -> None:
    on = call(server.url, f"{R}/vulnerability-alerts")
    assert (on.status, on.raw) == (204, b"")
    assert call(server.url, "/repos/acme-demo/legacy-billing/vulnerability-alerts").status == 404


def test_check_runs_can_only_be_created_by_apps(server: SandboxServer) -> None:
    head = call(server.url, f"{R}/pulls?state=open").json[0]["head"]["sha"]
    by_pat = call(server.url, f"{R}/check-runs", method="POST", body={"name": "audit", "head_sha": head})
    assert by_pat.status == 403
    created = call(server.url, f"{R}/check-runs", token="sandbox-app-token", method="POST",
                   body={"name": "audit", "head_sha": head, "conclusion": "failure"})
    assert created.status == 201
    runs = call(server.url, f"{R}/commits/{head}/check-runs?check_name=audit").json
    assert [(r["name"], r["conclusion"]) for r in runs["check_runs"]] == [("audit", "failure")]


def test_comments_can_be_edited(server: SandboxServer) -> None:
    number = call(server.url, f"{R}/pulls?state=open").json[0]["number"]
    made = call(server.url, f"{R}/issues/{number}/comments", method="POST", body={"body": "first"}).json
    edited = call(server.url, f"{R}/issues/comments/{made['id']}", method="PATCH", body={"body": "second"})
    assert edited.status == 200
    listed = call(server.url, f"{R}/issues/{number}/comments").json
    assert [c["body"] for c in listed] == ["second"]


# -- faults, latency, stats ------------------------------------------------------------------------------------


def test_status_fault_with_count_and_retry_after(server: SandboxServer) -> None:
    server.set_faults([{"path": "/repos/*/payments-api", "status": 502, "count": 2,
                        "headers": {"Retry-After": "7"}, "body": {"message": "Server Error"}}])
    first = call(server.url, R)
    assert (first.status, first.headers["retry-after"], first.json["message"]) == (502, "7", "Server Error")
    assert call(server.url, R).status == 502
    assert call(server.url, R).status == 200
    assert call(server.url, f"{R}/branches").status == 200  # the glob did not match


def test_every_nth_fault(server: SandboxServer) -> None:
    server.set_faults([{"path": "*/branches", "every_nth": 3, "status": 500}])
    statuses = [call(server.url, f"{R}/branches").status for _ in range(6)]
    assert statuses == [200, 200, 500, 200, 200, 500]


def test_secondary_and_primary_limit_faults(server: SandboxServer) -> None:
    server.set_faults([{"path": R, "kind": "secondary_limit", "count": 1},
                       {"path": f"{R}/branches", "kind": "primary_limit", "count": 1}])
    secondary = call(server.url, R)
    assert secondary.status == 403
    assert secondary.headers["retry-after"] == "60"
    assert "secondary rate limit" in secondary.json["message"]
    primary = call(server.url, f"{R}/branches")
    assert primary.status == 403
    assert primary.headers["x-ratelimit-remaining"] == "0"
    assert primary.json["message"].startswith("API rate limit exceeded")


def test_non_json_fault(server: SandboxServer) -> None:
    server.set_faults([{"path": R, "kind": "non_json", "count": 1}])
    answer = call(server.url, R)
    assert answer.status == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert b"<html>" in answer.raw


@pytest.mark.parametrize("kind", ["reset", "truncated", "timeout"])
def test_connection_faults(server: SandboxServer, kind: str) -> None:
    server.set_faults([{"path": R, "kind": kind, "count": 1, "delay_ms": 300}])
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    conn.request("GET", R, headers={"Authorization": f"token {DEMO}"})
    def fetch() -> bytes:
        return conn.getresponse().read()

    with pytest.raises((http.client.HTTPException, ConnectionError, socket.timeout, OSError)):
        fetch()
    conn.close()
    assert call(server.url, R).status == 200


def test_faults_from_the_world_file() -> None:
    with serve(tiny(faults=[{"path": "/repos/o/r", "status": 503, "count": 1}])) as srv:
        assert call(srv.url, "/repos/o/r", token="t1").status == 503
        assert call(srv.url, "/repos/o/r", token="t1").status == 200


def test_latency_is_applied(server: SandboxServer) -> None:
    server.set_latency(150)
    start = time.monotonic()
    call(server.url, R)
    assert time.monotonic() - start >= 0.15
    server.set_latency(0)


def test_stats_log_never_holds_the_token(server: SandboxServer) -> None:
    call(server.url, R)
    call(server.url, f"{R}/nope")
    stats = server.stats
    assert stats["requests"] == 2
    assert stats["by_status"] == {"200": 1, "404": 1}
    assert stats["log"][0] == {"method": "GET", "path": R, "token": token_hash(DEMO), "status": 200, "counted": True}
    over_http = call(server.url, "/_sandbox/stats", token=None)
    assert over_http.json["requests"] == 2  # reading the stats is not itself logged
    assert DEMO not in over_http.raw.decode()


def test_world_can_be_swapped_at_run_time(server: SandboxServer) -> None:
    assert call(server.url, "/repos/acme-demo/search-service").status == 200
    server.world = server.world.at_week(3)
    assert call(server.url, "/repos/acme-demo/search-service").status == 404
    assert server.stats["week"] == 3


def test_serve_accepts_a_dict_and_releases_its_port() -> None:
    srv = serve(load_world(tiny()))
    port = srv.port
    srv.shutdown()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
