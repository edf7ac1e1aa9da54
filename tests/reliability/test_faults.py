"""API faults: an org audit of the sandbox's demo organisation under injected failures.

Each scenario injects one kind of fault GitHub really produces (bursts of 502/503, secondary limits
with Retry-After, primary-limit exhaustion with a reset time, 429, timeouts, reset connections,
truncated and non-JSON bodies) and compares the run with a clean baseline run:

- the audit completes (exit 0 or 1, never 3), every repository is reported;
- no result is lost: every (repo, rule) of the baseline is still there;
- nothing is silently `pass`: a result that differs from the baseline is `unknown` or `error`
  and names its reason;
- every wait the client asked for stays within `--max-wait`;
- the run summary counts the retries (for faults that were retried and survived, exactly one per fault).

The clients' sleeper is replaced by a recorder (`support.recorded_waits`) so backoffs cost no wall time;
`test_real_waits_end_to_end` runs one scenario with real sleeps in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github import Auth

from auditor.github.client import GitHubClient, GraphQLServerError
from auditor.github.errors import UnexpectedResponseError
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, SandboxServer, load_world, serve
from tests.reliability.support import AuditRun, audit, record, recorded_waits

MAX_WAIT = 30.0
ENV = {"GITHUB_TOKEN": DEMO_TOKEN}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with serve(load_world(DEMO_WORLD)) as s:
        yield s


@pytest.fixture(scope="module")
def baseline(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    server.set_faults([])
    run = audit(server.url, tmp_path_factory.mktemp("baseline"), env=ENV)
    assert run.code in (0, 1), run.stderr
    return run


def _far_reset() -> str:
    return str(int(time.time()) + 3600)


def _soon_reset() -> str:
    return str(int(time.time()) + 5)


# (id, faults, every fault retried and survived?)
SCENARIOS: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("502-503 burst", [{"kind": "status", "status": 502, "count": 3, "path": "/repos/*/branches/*"},
                      {"kind": "status", "status": 503, "count": 3, "path": "/repos/*/environments"}], True),
    ("5xx every 7th request", [{"kind": "status", "status": 502, "every_nth": 7, "count": 15}], True),
    ("persistent 502 on one section", [{"kind": "status", "status": 502, "path": "/repos/*/environments"}], False),
    ("secondary limit, Retry-After 2", [{"kind": "secondary_limit", "headers": {"Retry-After": "2"},
                                         "path": "/repos/*/pulls", "count": 3}], True),
    ("secondary limit, Retry-After 60 > max-wait",
     [{"kind": "secondary_limit", "headers": {"Retry-After": "60"}, "path": "/repos/*/actions/secrets",
       "count": 7}], False),
    ("primary limit, reset in 5 s", [{"kind": "primary_limit", "path": "/repos/*/hooks", "count": 2,
                                      "headers": {"X-RateLimit-Reset": "SOON"}}], True),
    ("primary limit, reset in 1 h", [{"kind": "primary_limit", "path": "/repos/*/rulesets*", "count": 3,
                                      "headers": {"X-RateLimit-Reset": "FAR"}}], False),
    ("429 Too Many Requests", [{"kind": "status", "status": 429, "body": {"message": "Too Many Requests"},
                                "headers": {"Retry-After": "1"}, "path": "/repos/*/deployments", "count": 3}], True),
    ("429 beyond the retry budget", [{"kind": "status", "status": 429, "body": {"message": "Too Many Requests"},
                                      "headers": {"Retry-After": "1"}, "path": "/repos/*/deployments",
                                      "count": 8}], False),
    ("timeouts", [{"kind": "timeout", "delay_ms": 150, "path": "/repos/*/git/blobs/*", "count": 3}], True),
    ("reset connections", [{"kind": "reset", "path": "/repos/*/environments/*", "count": 4}], True),
    ("truncated bodies", [{"kind": "truncated", "path": "/repos/*/branches/*/protection", "count": 3}], True),
    ("non-JSON error pages", [{"kind": "non_json", "path": "/repos/*/commits*", "count": 3}], True),
    ("mixed storm", [
        {"kind": "status", "status": 502, "every_nth": 9, "count": 12},
        {"kind": "status", "status": 503, "path": "/repos/*/environments", "count": 3},
        {"kind": "secondary_limit", "path": "/repos/*/branches/*", "headers": {"Retry-After": "1"}, "count": 3},
        {"kind": "primary_limit", "path": "/repos/acme-demo/checkout-web/rulesets*", "count": 1,
         "headers": {"X-RateLimit-Reset": "FAR"}},
        {"kind": "timeout", "delay_ms": 150, "path": "/repos/*/hooks", "count": 2},
        {"kind": "reset", "path": "/repos/*/actions/secrets*", "count": 2},
        {"kind": "truncated", "path": "/repos/*/git/trees/*", "count": 2},
        {"kind": "non_json", "path": "/repos/*/deployments*", "count": 3},
    ], False),
]


def _resolve(faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill in reset times relative to now (the sandbox's budget clock is the wall clock)."""
    out = []
    for f in faults:
        headers = {k: {"SOON": _soon_reset(), "FAR": _far_reset()}.get(v, v) for k, v in f.get("headers", {}).items()}
        out.append({**f, "headers": headers})
    return out


def _retries(stdout: str) -> int:
    match = re.search(r"(\d+) retries", stdout)
    assert match, f"the run summary must count retries:\n{stdout}"
    return int(match.group(1))


def check_against_baseline(base: AuditRun, run: AuditRun) -> dict[str, int]:
    """The invariants of a faulty run; returns how many results changed."""
    before, after = base.findings(), run.findings()
    assert {r["repo"] for r in run.report["repos"]} == {r["repo"] for r in base.report["repos"]}
    lost = {(k[0], k[1]) for k in before} - {(k[0], k[1]) for k in after}
    assert not lost, f"results lost: {sorted(lost)[:5]}"
    changed = 0
    for key, finding in after.items():
        was = before.get(key)
        if was is not None and was["status"] == finding["status"]:
            continue
        if was is None and finding["status"] == "not_applicable":
            continue
        changed += 1
        assert finding["status"] in ("unknown", "error"), (
            f"{key}: {was and was['status']} became {finding['status']} under faults: {finding['message']}")
        assert finding["message"].endswith(".") and len(finding["message"]) > 30, finding["message"]
    return {"changed": changed, "lost": len(lost)}


@pytest.mark.parametrize(("name", "faults", "survived"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_org_audit_under_faults(name: str, faults: list[dict[str, Any]], survived: bool, server: SandboxServer,
                                baseline: AuditRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.set_faults(_resolve(faults))
    server.reset_stats()
    try:
        with recorded_waits(monkeypatch) as waits:
            run = audit(server.url, tmp_path, "--max-wait", str(MAX_WAIT), env=ENV)
        injected = server.stats["faults"]
    finally:
        server.set_faults([])
    assert run.code in (0, 1), f"the audit did not complete (exit {run.code}): {run.stderr}"
    assert injected > 0, "the scenario injected nothing: its paths match no request"
    assert all(0 <= w <= MAX_WAIT for w in waits), f"a wait exceeded --max-wait: {max(waits)}"
    delta = check_against_baseline(baseline, run)
    retries = _retries(run.stdout)
    if survived:
        assert retries == injected, f"{injected} faults but {retries} retries counted"
        assert delta["changed"] == 0, "every fault was retried, so every result should match the baseline"
    else:
        assert retries <= injected
        assert delta["changed"] > 0, "a fault that could not be retried must show as unknown/error"
    record("API faults", scenarios=1, faults_injected=injected, audits_completed=1,
           results_lost=delta["lost"], silently_passed=0, retries=retries,
           results_unknown_or_error=delta["changed"])


def test_failed_wait_names_the_reason(server: SandboxServer, baseline: AuditRun, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A rate limit that outlasts --max-wait turns the section's rules unknown, saying why."""
    server.set_faults(_resolve([{"kind": "primary_limit", "path": "/repos/*/branches/main/protection",
                                 "headers": {"X-RateLimit-Reset": "FAR"}}]))
    try:
        with recorded_waits(monkeypatch) as waits:
            run = audit(server.url, tmp_path, "--max-wait", "10", env=ENV)
    finally:
        server.set_faults([])
    assert run.code in (0, 1)
    assert waits == [] or max(waits) <= 10
    unknown = [f for f in run.findings().values()
               if f["status"] == "unknown" and "rate limit requires waiting" in f["message"]]
    assert unknown, "no result names the rate limit it could not wait out"
    assert all("more than the allowed 10s" in f["message"] for f in unknown)


def test_real_waits_end_to_end(server: SandboxServer, tmp_path: Path) -> None:
    """The CLI in a subprocess, real sleeps: retried faults, the run's wall time within the waits asked for."""
    server.set_faults([{"kind": "status", "status": 503, "path": "/repos/*/environments", "count": 2},
                       {"kind": "secondary_limit", "path": "/repos/*/pulls", "headers": {"Retry-After": "1"},
                        "count": 1}])
    server.reset_stats()
    try:
        t0 = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "auditor.cli", "audit", "--org", "acme-demo", "--base-url", server.url,
             "--api", "rest", "--format", "json", "--output", str(tmp_path), "--history",
             str(tmp_path / "h.sqlite"), "--no-progress", "--no-cache", "--workers", "1", "--max-wait", "2"],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "GITHUB_TOKEN": DEMO_TOKEN})
        elapsed = time.monotonic() - t0
        injected = server.stats["faults"]
    finally:
        server.set_faults([])
    assert proc.returncode in (0, 1), proc.stderr
    assert injected == 3
    assert _retries(proc.stdout) == 3
    assert elapsed >= 1.0 + 2.0 + 1.0 - 0.1  # 503 backoffs of 1 s and 2 s, then Retry-After 1 s
    assert elapsed < 60


# -- GraphQL: a 200 that carries `errors` -------------------------------------------------------------


def _graphql_client(server: SandboxServer) -> GitHubClient:
    return GitHubClient(Auth.Token(DEMO_TOKEN), server.url, sleeper=lambda s: None)


QUERY = "query { viewer { login } }"


def test_graphql_200_with_errors_is_not_data(server: SandboxServer) -> None:
    """A 200 whose body holds `errors` and no data hands the errors to the caller, never an empty success."""
    errors = [{"type": "FORBIDDEN", "path": ["repository"], "message": "Resource not accessible by integration"}]
    server.set_faults([{"kind": "status", "status": 200, "path": "/graphql", "count": 1,
                        "body": {"data": {"repository": None}, "errors": errors}}])
    try:
        data, got, _ = _graphql_client(server).graphql(QUERY)
    finally:
        server.set_faults([])
    assert data == {"repository": None}
    assert got == errors
    record("API faults (GraphQL client)", faults_injected=1, survived=1)


@pytest.mark.parametrize(("fault", "error"), [
    ({"kind": "status", "status": 200, "body": {"data": None, "errors": [
        {"message": "Something went wrong while executing your query. Please include `ABC` when reporting."}]}},
     GraphQLServerError),
    ({"kind": "status", "status": 502}, GraphQLServerError),
    ({"kind": "non_json", "status": 200}, GraphQLServerError),
    ({"kind": "truncated"}, GraphQLServerError),
    ({"kind": "reset"}, GraphQLServerError),
    ({"kind": "status", "status": 422, "body": {"message": "Unprocessable"}}, UnexpectedResponseError),
], ids=["something-went-wrong", "502", "non-json-200", "truncated", "reset", "422"])
def test_graphql_faults_raise_typed_errors(server: SandboxServer, fault: dict[str, Any],
                                           error: type[Exception]) -> None:
    """Every GraphQL failure is one of the collection layer's exceptions, never a bare ValueError or KeyError."""
    server.set_faults([{**fault, "path": "/graphql", "count": 1}])
    try:
        with pytest.raises(error):
            _graphql_client(server).graphql(QUERY)
    finally:
        server.set_faults([])
    record("API faults (GraphQL client)", faults_injected=1, survived=1)
