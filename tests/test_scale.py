"""Org scale: resumable runs, sharded runs into one shared history (PostgreSQL), worker threads."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.engine import plan_for
from auditor.github.auth import Credentials
from auditor.history import History
from auditor.policy import load_policy
from auditor.runner import audit_repos
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, load_world, serve
from auditor.session import GitHubSession
from auditor.shard import parse_shard, shard_of

ORG = "acme-demo"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with serve(load_world(DEMO_WORLD)) as server:
        yield server.url


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", DEMO_TOKEN)


def audit(url: str, out: Path, history: str, *extra: str) -> int:
    return main(["audit", "--org", ORG, "--base-url", url, "--api", "rest", "--format", "json,md",
                 "--output", str(out), "--history", history, "--no-progress", "--quiet", *extra])


def comparable(out: Path) -> tuple[list[dict[str, object]], list[dict[str, object]], list[str]]:
    """The parts of a report that must not depend on how the run was split (no ids, times or costs)."""
    report = json.loads((out / "audit.json").read_text())
    md = [line for line in (out / "report.md").read_text().splitlines()
          if not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d|API|request", line)]
    return report["repos"], report["findings"], md


def test_shard_partition_is_stable_and_complete():
    names = [f"acme/repo-{i}" for i in range(200)]
    shards = [{n for n in names if shard_of(n, 4) == k} for k in range(1, 5)]
    assert set().union(*shards) == set(names)
    assert sum(len(s) for s in shards) == len(names)
    assert all(len(s) > 20 for s in shards)
    assert [shard_of(n, 4) for n in names] == [shard_of(n, 4) for n in names]
    assert parse_shard("2/4") == (2, 4)
    with pytest.raises(ValueError, match="K/N"):
        parse_shard("2-4")
    with pytest.raises(ValueError, match="between"):
        parse_shard("5/4")


def test_workers_give_the_same_report_as_one_worker(sandbox: str, tmp_path: Path):
    assert audit(sandbox, tmp_path / "one", str(tmp_path / "one.sqlite"), "--workers", "1") == 1
    assert audit(sandbox, tmp_path / "four", str(tmp_path / "four.sqlite"), "--workers", "4") == 1
    assert comparable(tmp_path / "one") == comparable(tmp_path / "four")


def test_interrupted_org_audit_resumes_without_redoing_finished_repos(sandbox: str, tmp_path: Path):
    policy = load_policy("deployment-standard")
    db = tmp_path / "h.sqlite"
    session = GitHubSession(creds=Credentials(token=DEMO_TOKEN), base_url=sandbox)
    repos = session.org_repos(ORG, policy.scope)
    collect = session.collector(plan_for(policy), lambda: datetime.now(UTC))
    seen: list[str] = []

    def crashing(repo: str):
        if len(seen) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of an org audit
        seen.append(repo)
        return collect(repo)

    history = History.open(db)
    with pytest.raises(KeyboardInterrupt):
        audit_repos(policy=policy, repos=repos, collect=crashing, history=history, scope=f"org:{ORG}",
                    now=lambda: datetime.now(UTC))
    (interrupted,) = history.runs()
    assert not interrupted.complete
    assert history.finished_repos(interrupted.id) == set(seen)
    history.close()

    with serve(load_world(DEMO_WORLD)) as server:  # a fresh server, to count what the resumed run asks for
        code = audit(server.url, tmp_path / "out", str(db), "--resume")
        asked = {m.group(1) for r in server.stats["log"]
                 if (m := re.match(rf"/repos/{ORG}/([^/?]+)", r["path"]))}
    assert code == 1
    assert asked == {r.split("/", 1)[1] for r in repos} - {r.split("/", 1)[1] for r in seen}
    history = History.open(db)
    (resumed,) = history.runs()
    assert resumed.id == interrupted.id
    assert resumed.complete
    assert history.finished_repos(resumed.id) == set(repos)
    report = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert {r["repo"] for r in report["repos"]} == set(repos)


@pytest.mark.postgres
def test_two_shards_into_postgres_make_one_run_identical_to_an_unsharded_one(sandbox: str, tmp_path: Path):
    base = os.environ.get("AUDITOR_TEST_PG_URL")
    if not base:
        pytest.skip("set AUDITOR_TEST_PG_URL=postgresql+psycopg://... to run against PostgreSQL")
    import psycopg

    dbname = f"auditor_{uuid.uuid4().hex[:10]}"
    plain = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    url = base.rsplit("/", 1)[0] + "/" + dbname
    try:
        assert audit(sandbox, tmp_path / "whole", str(tmp_path / "whole.sqlite")) == 1
        run_id = "ci-run-4242"
        for shard in ("1/2", "2/2"):
            audit(sandbox, tmp_path / f"shard{shard[0]}", url, "--shard", shard, "--run-id", run_id)
        history = History.open(url)
        (header,) = history.runs()
        assert header.id == run_id
        assert header.complete
        history.close()
        assert main(["report", "--history", url, "--format", "json,md", "--output", str(tmp_path / "joined"),
                     "--quiet"]) == 0
        assert comparable(tmp_path / "joined") == comparable(tmp_path / "whole")
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
