"""The history survives: SIGKILL mid-write, concurrent writers, corrupted and newer-schema databases.

Everything goes through the real CLI in subprocesses against the sandbox (with a little latency so
the audit is still writing when it is killed).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.history import History
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, SandboxServer, load_world, serve
from tests.reliability.support import ORG, record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with serve(load_world(DEMO_WORLD)) as s:
        yield s


def _args(server: SandboxServer, db: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "auditor.cli", "audit", "--org", ORG, "--base-url", server.url, "--api", "rest",
            "--format", "json", "--output", str(out), "--history", str(db), "--no-progress", "--no-cache",
            "--workers", "1", *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "GITHUB_TOKEN": DEMO_TOKEN, "PYTHONPATH": str(ROOT)}


def _cli(server: SandboxServer, db: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_args(server, db, out, *extra), capture_output=True, text=True, timeout=120,
                          check=False, env=_env())


def _stored_results(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.Error:
        return 0


def _results(db: Path, run_id: str) -> int:
    history = History.open(str(db))
    try:
        return len(history.load_run(run_id).results)
    finally:
        history.close()


def test_sigkill_while_writing_leaves_a_consistent_history(server: SandboxServer, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    first = _cli(server, db, tmp_path / "first")
    assert first.returncode in (0, 1), first.stderr
    history = History.open(str(db))
    earlier = history.latest_run()
    history.close()
    assert earlier is not None and earlier.complete
    earlier_results = _results(db, earlier.id)
    already = _stored_results(db)

    server.set_latency(40)  # ~40 requests per repo: each repository takes over a second
    kills = 0
    try:
        proc = subprocess.Popen(_args(server, db, tmp_path / "killed"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=_env())
        deadline = time.monotonic() + 60
        while _stored_results(db) <= already and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # the second run has stored some results: mid-run
        proc.wait(timeout=10)
        kills += 1
    finally:
        server.set_latency(0)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    history = History.open(str(db))
    try:
        runs = history.runs()
        killed = [r for r in runs if r.id != earlier.id]
        assert all(not r.complete for r in killed), "the killed run must not look complete"
        assert history.latest_run() == earlier, "the latest complete run is still the earlier one"
    finally:
        history.close()
    assert _results(db, earlier.id) == earlier_results, "the earlier run is intact"

    resumed = _cli(server, db, tmp_path / "resumed", "--resume")
    assert resumed.returncode in (0, 1), resumed.stderr
    assert "resumed:" in resumed.stdout
    again = _cli(server, db, tmp_path / "again")
    assert again.returncode in (0, 1), again.stderr
    history = History.open(str(db))
    try:
        complete = [r for r in history.runs() if r.complete]
    finally:
        history.close()
    assert len(complete) == 3
    record("History: SIGKILL mid-write", kills=kills, runs_lost=0, earlier_runs_damaged=0)


def test_two_audits_writing_at_once_both_land(server: SandboxServer, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    procs = [subprocess.Popen(_args(server, db, tmp_path / f"w{i}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env()) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] in ([0, 0], [1, 1]), [o[1][-1000:] for o in outs]
    history = History.open(str(db))
    try:
        runs = history.runs()
        assert len(runs) == 2 and all(r.complete for r in runs)
        counts = {len(history.load_run(r.id).results) for r in runs}
    finally:
        history.close()
    assert len(counts) == 1, "both runs stored every result"
    record("History: concurrent writers", writers=2, runs_landed=2)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "newer schema", "not a history"])
def test_bad_database_gives_a_clear_error(damage: str, server: SandboxServer, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    if damage == "garbage":
        db.write_bytes(b"this is not a database\x00" * 200)
    elif damage == "truncated":
        ok = _cli(server, db, tmp_path / "ok")
        assert ok.returncode in (0, 1)
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    elif damage == "newer schema":
        ok = _cli(server, db, tmp_path / "ok")
        assert ok.returncode in (0, 1)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE schema_version SET version = 99")
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE runs (x INTEGER)")
    proc = _cli(server, db, tmp_path / "out")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (2, 3), (proc.returncode, proc.stderr[-1000:])
    assert str(db) in proc.stderr or "history" in proc.stderr.lower()
    if damage == "newer schema":
        assert "newer auditor" in proc.stderr
    report = subprocess.run([sys.executable, "-m", "auditor.cli", "report", "--history", str(db), "--output",
                             str(tmp_path / "rep")], capture_output=True, text=True, timeout=60, check=False,
                            env=_env())
    assert "Traceback" not in report.stderr, report.stderr[-3000:]
    assert report.returncode in (2, 3)
    record("History: damaged databases", cases=1, tracebacks=0)
