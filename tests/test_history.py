"""The history store over real SQLite files: round trips, incremental runs, concurrency, crashes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from auditor.history import History, HistoryError
from auditor.history import schema as sch
from auditor.model import ApiCost, RepoSummary, Status, WaiverRef
from tests.factories_history import POLICY, T0, result, run, week

ROOT = Path(__file__).resolve().parents[1]


def sample_results(n_repos: int = 3, flip: int = -1) -> list:
    """A few repos with a handful of results each; `flip` turns one repo's protection check to fail."""
    out = []
    for i in range(n_repos):
        repo = f"acme/svc-{i}"
        out += [
            result(repo, "branch-protected", "branch:main", Status.FAIL if i == flip else Status.PASS),
            result(repo, "reviews-required-approvals", "branch:main", Status.UNKNOWN,
                   message=f"Cannot read rulesets of {repo}; needs Administration: read."),
            result(repo, "env-required-reviewers", "environment:production", Status.WAIVED,
                   waiver=WaiverRef("security@acme.example", "Manual until Q2.", date(2027, 3, 31))),
            result(repo, "docs-fresh", "file:docs/deployment.md", Status.NOT_APPLICABLE, severity="medium",
                   control=None, evidence={"paths": ["docs/deployment.md"], "age": {"days": 120}}),
        ]
    return out


@pytest.fixture
def history(tmp_path: Path):
    h = History.open(tmp_path / "reports" / "history.sqlite")
    yield h
    h.close()


def count(h: History, table) -> int:
    with h.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_open_creates_parent_dirs_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "history.sqlite"
    with History.open(path) as h:
        with h.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert h.latest_run() is None
    assert path.exists()


def test_record_then_load_is_the_same_run(history: History) -> None:
    rs = sample_results()
    # Interleave repos: a run reads back with repos by name and each repo's results in evaluation
    # order, whatever order workers or shards stored them in.
    rs = rs[4:6] + rs[:4] + rs[6:] + [result("acme/ünïcode", "secrets-no-plaintext", "file:.env",
                                              Status.FAIL, "critical", evidence={"lines": [1, 2]})]
    original = run("2026-09-07T06:00:00Z-aa01", T0, rs, api=ApiCost(41, 38, 2, 7, 12))
    history.record_run(original)
    loaded = history.load_run(original.id)
    assert loaded.results == tuple(sorted(rs, key=lambda r: r.repo))
    assert loaded.repos == tuple(sorted(original.repos, key=lambda s: s.repo))
    assert replace(loaded, results=original.results, repos=original.repos) == original


def test_incremental_run_stays_incomplete_until_finished(history: History) -> None:
    rs = sample_results(3)
    history.begin_run("r1", started_at=T0, tool_version="0.1.0", policy=POLICY, scope="org:acme")
    history.add_results("r1", "acme/svc-0", [r for r in rs if r.repo == "acme/svc-0"])
    history.add_results("r1", "acme/svc-1", [r for r in rs if r.repo == "acme/svc-1"])
    assert history.finished_repos("r1") == {"acme/svc-0", "acme/svc-1"}
    assert history.latest_run() is None  # incomplete runs are not reports' latest
    assert history.latest_run(complete_only=False).id == "r1"
    # a resumed run may store a repo again: it replaces, never duplicates
    history.add_results("r1", "acme/svc-1", [r for r in rs if r.repo == "acme/svc-1"])
    history.add_results("r1", "acme/svc-2", [r for r in rs if r.repo == "acme/svc-2"])
    history.add_results("r1", "acme/gone", [], RepoSummary("acme/gone", "unknown", None, None, {}, "404"))
    history.finish_run("r1", T0 + timedelta(minutes=5), ApiCost(requests=9))
    loaded = history.load_run("r1")
    assert loaded.complete
    assert loaded.finished_at == T0 + timedelta(minutes=5)
    assert loaded.api == ApiCost(requests=9)
    assert sorted(loaded.results, key=lambda r: r.key) == sorted(rs, key=lambda r: r.key)
    assert [s.repo for s in loaded.repos] == ["acme/gone", "acme/svc-0", "acme/svc-1", "acme/svc-2"]
    assert loaded.repos[1].counts["pass"] == 1
    assert loaded.repos[0].error == "404"
    assert history.latest_run().id == "r1"


def test_unchanged_results_reuse_their_stored_text(history: History) -> None:
    rs = sample_results(3)
    history.record_run(run("r1", week(0), rs))
    details_after_one = count(history, sch.details)
    history.record_run(run("r2", week(1), rs))
    assert count(history, sch.details) == details_after_one  # nothing new to say, nothing new stored
    changed = sample_results(3, flip=1)
    history.record_run(run("r3", week(2), changed))
    assert count(history, sch.details) == details_after_one + 1  # only the one result that changed
    assert count(history, sch.results) == 3 * len(rs)
    assert count(history, sch.findings) == len(rs)


@pytest.mark.parametrize("case", ["duplicate run", "unknown run", "foreign repo", "same key twice"])
def test_bad_writes_raise_history_error_and_store_nothing(history: History, case: str) -> None:
    history.record_run(run("r1", week(0), sample_results(1)))
    if case == "foreign repo":
        history.begin_run("r2", started_at=week(1), tool_version="0", policy=POLICY, scope="x")
    write = {
        "duplicate run": lambda: history.record_run(run("r1", week(1), sample_results(1))),
        "unknown run": lambda: history.add_results("nope", "acme/svc-0", sample_results(1)),
        "foreign repo": lambda: history.add_results("r2", "acme/other", sample_results(1)),
        "same key twice": lambda: history.record_run(
            run("r2", week(1), [*sample_results(1), result("acme/svc-0")])),
    }[case]
    with pytest.raises(HistoryError) as err:
        write()
    assert str(err.value)
    assert count(history, sch.results) == len(sample_results(1))
    assert {h.id for h in history.runs()} <= {"r1", "r2"}
    if case == "same key twice":
        assert [h.id for h in history.runs()] == ["r1"]  # the whole run rolled back


def test_run_listing_filters_and_nearest(history: History) -> None:
    for n in range(4):
        history.record_run(run(f"w{n}", week(n), sample_results(1), scope="org:acme" if n != 2 else "repo:x"))
    history.begin_run("partial", started_at=week(4), tool_version="0", policy=POLICY, scope="org:acme")
    assert [h.id for h in history.runs()] == ["w0", "w1", "w2", "w3", "partial"]
    assert [h.id for h in history.runs(since=week(1), until=week(2))] == ["w1", "w2"]
    assert [h.id for h in history.runs(scope="org:acme", complete_only=True)] == ["w0", "w1", "w3"]
    assert history.latest_run().id == "w3"
    assert history.run_near(week(1) + timedelta(days=2), timedelta(days=3)).id == "w1"
    assert history.run_near(week(1) + timedelta(days=4), timedelta(days=3)).id == "w2"
    assert history.run_near(week(9), timedelta(days=1)) is None
    with pytest.raises(HistoryError, match="no run nope"):
        history.load_run("nope")


def _writer(path: str, prefix: str, n: int) -> None:
    h = History.open(path)
    try:
        for i in range(n):
            h.record_run(run(f"{prefix}-{i}", week(i), sample_results(5)))
    finally:
        h.close()


def test_two_writers_in_threads_both_land(tmp_path: Path) -> None:
    path = str(tmp_path / "h.sqlite")
    History.open(path).close()
    threads = [threading.Thread(target=_writer, args=(path, p, 6)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with History.open(path) as h:
        assert len(h.runs()) == 12
        assert h.load_run("a-5").results == h.load_run("b-5").results
        assert count(h, sch.findings) == len(sample_results(5))  # interned once despite the race


def test_two_writer_processes_both_land(tmp_path: Path) -> None:
    path = str(tmp_path / "fresh" / "h.sqlite")  # both processes also race to create the schema
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, p, 4)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with History.open(path) as h:
        assert sorted(x.id for x in h.runs()) == sorted(f"{p}-{i}" for p in "ab" for i in range(4))


KILLER = textwrap.dedent("""
    import os, signal, sys
    from sqlalchemy import event
    from auditor.history import History
    from tests.factories_history import POLICY, week
    from tests.test_history import sample_results

    h = History.open(sys.argv[1])
    h.begin_run("killed", started_at=week(1), tool_version="0", policy=POLICY, scope="org:acme")
    rs = sample_results(3)
    h.add_results("killed", "acme/svc-0", [r for r in rs if r.repo == "acme/svc-0"])
    inserts = 0

    @event.listens_for(h.engine, "before_cursor_execute")
    def die(conn, cursor, statement, params, context, executemany):
        global inserts
        if statement.startswith("INSERT INTO results"):
            inserts += 1
            os.kill(os.getpid(), signal.SIGKILL)

    h.add_results("killed", "acme/svc-1", [r for r in rs if r.repo == "acme/svc-1"])
    print("not killed")
""")


def test_a_writer_killed_mid_write_leaves_history_consistent(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History.open(path) as h:
        earlier = run("w0", week(0), sample_results(3))
        h.record_run(earlier)
    proc = subprocess.run([sys.executable, "-c", KILLER, str(path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with History.open(path) as h:
        assert h.load_run("w0") == earlier
        killed = h.header("killed")
        assert not killed.complete
        assert h.finished_repos("killed") == {"acme/svc-0"}  # svc-1's transaction never landed
        assert h.latest_run().id == "w0"
        later = run("w2", week(2), sample_results(3, flip=0))
        h.record_run(later)
        assert h.load_run("w2") == later
        assert h.latest_run().id == "w2"
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History.open(path) as h, h.engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": sch.SCHEMA_VERSION + 1})
        conn.commit()
    with pytest.raises(HistoryError, match=r"newer auditor .*upgrade auditor"):
        History.open(path)


@pytest.mark.parametrize("content", [b"this is not a database at all\n" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 5000])
def test_garbage_file_is_refused_with_a_clear_message(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=r"history.sqlite is not an auditor history database"):
        History.open(path)


def test_someone_elses_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(HistoryError, match="not an auditor history"):
        History.open(path)


def test_every_schema_version_has_a_migration() -> None:
    assert len(sch.MIGRATIONS) == sch.SCHEMA_VERSION


def test_migrations_bring_an_older_database_up_to_date(tmp_path: Path, monkeypatch) -> None:
    """Simulate the next release: version N + 1 adds a column through a migration."""
    path = tmp_path / "h.sqlite"
    with History.open(path) as h:
        h.record_run(run("w0", week(0), sample_results(1)))

    def add_note(conn) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN note TEXT"))

    nxt = sch.SCHEMA_VERSION + 1
    monkeypatch.setattr(sch, "SCHEMA_VERSION", nxt)
    monkeypatch.setattr(sch, "MIGRATIONS", (*sch.MIGRATIONS, add_note))
    with History.open(path) as h:
        assert h.load_run("w0").results == tuple(sample_results(1))
        with h.read() as conn:
            assert conn.execute(select(sch.schema_version.c.version)).scalar_one() == nxt
            assert "note" in {c["name"] for c in h.engine.dialect.get_columns(conn, "runs")}


def test_a_version_1_history_gains_the_policy_waivers_column(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with History.open(path) as h:
        h.record_run(run("w0", week(0), sample_results(1)))
    with sqlite3.connect(path) as raw:  # take the file back to what version 1 wrote
        raw.execute("ALTER TABLE runs DROP COLUMN policy_waivers")
        raw.execute("UPDATE schema_version SET version = 1")
    with History.open(path) as h:
        assert h.load_run("w0").results == tuple(sample_results(1))
        assert h.run_waivers("w0") is None
        h.store_waivers("w0", [])
        assert h.run_waivers("w0") == []


@pytest.mark.postgres
def test_postgres_round_trip() -> None:
    url = os.environ.get("AUDITOR_TEST_PG_URL")
    if not url:
        pytest.skip("set AUDITOR_TEST_PG_URL=postgresql+psycopg://... to run against PostgreSQL")
    pytest.importorskip("psycopg")
    h = History.open(url)
    try:
        with h.engine.begin() as conn:
            for table in reversed(sch.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.execute(sch.schema_version.insert().values(version=sch.SCHEMA_VERSION))
        first = run("pg-1", week(0), sample_results(3))
        h.record_run(first)
        h.record_run(run("pg-2", week(1), sample_results(3, flip=2)))
        assert h.load_run("pg-1") == first
        assert [x.id for x in h.runs()] == ["pg-1", "pg-2"]
    finally:
        h.close()
