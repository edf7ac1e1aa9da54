"""The session's GraphQL batching across worker threads: every repository collected exactly once.

The runner hands repositories to whichever worker is free; the session must still put each one in
exactly one GraphQL query and hand every worker the facts it asked for, and the org listing's JSON
must stand in for GET /repos/{o}/{r}.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from auditor.engine import plan_for
from auditor.history import History
from auditor.policy import load_policy
from auditor.runner import audit_repos
from auditor.sandbox import DEMO_TOKEN, load_world, serve
from auditor.session import GitHubSession
from bench.org_audit import ORG, big_world


def test_each_repository_is_collected_once_across_workers(tmp_path: Path) -> None:
    world = load_world(big_world(24))
    with serve(world) as server:
        policy = load_policy("deployment-standard")
        session = GitHubSession.from_env(base_url=server.url, api="auto", env={"GITHUB_TOKEN": DEMO_TOKEN})
        names = session.org_repos(ORG, policy.scope)
        plan = plan_for(policy)
        history = History.open(tmp_path / "h.sqlite")

        def now() -> datetime:
            return datetime.now(UTC)

        outcome = audit_repos(policy=policy, repos=names, collect=session.collector(plan, now, org_audit=True),
                              history=history, scope=f"org:{ORG}", now=now, cost=session.cost, workers=4,
                              make_collect=lambda: session.collector(plan, now, org_audit=True))
        history.close()
        log = server.stats["log"]
    assert sorted(s.repo for s in outcome.summaries) == sorted(names)
    envs = Counter(e["path"] for e in log if e["path"].endswith("/environments"))
    assert len(envs) == len(names) and set(envs.values()) == {1}  # one collection per repository
    assert not [e for e in log if e["path"].count("/") == 3 and e["path"].startswith("/repos/")]  # listing used
    queries = sum(1 for e in log if e["path"] == "/graphql")
    assert queries <= len(names) // 5  # batched, not one query per repository
