"""History benchmark: a deployment-standard-sized org over a year of weekly runs.

    .venv/bin/python bench/history_bench.py [--repos 500] [--runs 52] [--results 65] [--db PATH]

Builds the history (each run is stored with `record_run`, one transaction), then measures: writing
one more run, `load_run`, and `build_report_input` on the latest run (time, and peak Python memory
measured separately under tracemalloc so the timing is not slowed by it), plus the database size and
bytes per result row. Results change the way real ones do: a few percent of findings flip each
week, so most rows of a run repeat the previous week's.
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from auditor import scoring, trends
from auditor.history import History
from auditor.history import schema as sch
from auditor.model import ApiCost, PolicyRef, Result, Run, Severity, Status

T0 = datetime(2025, 12, 1, 6, 0, tzinfo=UTC)
POLICY = PolicyRef("deployment-standard", 3, "sha256:" + "0f" * 32)
FAMILIES = ("branch", "reviews", "checks", "env", "deploy", "flow", "pr", "secrets", "security", "docs")
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.HIGH, Severity.MEDIUM, Severity.MEDIUM, Severity.LOW)


def catalog(n: int) -> list[tuple[str, str, str, Severity]]:
    """n (rule, family, target, severity) slots, like a policy over two branch and two env roles."""
    out = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        target = {"branch": "branch:main", "reviews": "branch:main", "checks": "branch:staging",
                  "env": "environment:production"}.get(family, "repo")
        if i % 7 == 3:
            target = f"file:docs/runbook-{i}.md"
        out.append((f"{family}-rule-{i}", family, target, SEVERITIES[i % len(SEVERITIES)]))
    return out


def make_result(repo: str, slot: tuple[str, str, str, Severity], status: Status, week: int) -> Result:
    rule, family, target, sev = slot
    evidence: dict[str, Any] = {"required": 2, "actual": 1 if status is Status.FAIL else 2,
                                "source": f"ruleset:Protect {target}"}
    if family == "docs":
        evidence["age_days"] = 30 + (week // 13) * 13  # changes each quarter, as doc ages do
    return Result(
        rule=rule, family=family, repo=repo, target=target, status=status, severity=sev,
        message=f"{target} of {repo}: {rule} is {status.value}; the policy wants 2, found "
                f"{evidence['actual']}.",
        evidence=evidence, remediation=f"Settings > Rules > Rulesets: fix {rule} for {target}.",
        control=f"Section {family}")


def history_of(repos: int, runs: int, per_repo: int, seed: int = 7) -> Callable[[int], Run]:
    """A function week -> Run; statuses evolve by a few percent a week."""
    rng = random.Random(seed)
    slots = catalog(per_repo)
    names = [f"acme/service-{i:04d}" for i in range(repos)]
    choices = [Status.PASS] * 70 + [Status.FAIL] * 20 + [Status.UNKNOWN] * 5 + [Status.NOT_APPLICABLE] * 5
    state = {(r, j): rng.choice(choices) for r in range(repos) for j in range(per_repo)}

    def week(n: int) -> Run:
        if n:
            for key in rng.sample(sorted(state), k=len(state) * 3 // 100):
                state[key] = rng.choice(choices)
        results = tuple(make_result(names[r], slots[j], state[(r, j)], n)
                        for r in range(repos) for j in range(per_repo))
        by_repo: dict[str, list[Result]] = {}
        for res in results:
            by_repo.setdefault(res.repo, []).append(res)
        at = T0 + timedelta(weeks=n)
        return Run(id=f"{at:%Y-%m-%dT%H:%M:%SZ}-{n:04x}", started_at=at, finished_at=at + timedelta(minutes=9),
                   tool_version="0.1.0", policy=POLICY, api=ApiCost(requests=repos * 12), scope="org:acme",
                   complete=True, repos=tuple(scoring.summarize_repo(k, v) for k, v in by_repo.items()),
                   results=results)

    return week


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def peak_mib(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=500)
    ap.add_argument("--runs", type=int, default=52)
    ap.add_argument("--results", type=int, default=65, help="results per repo per run")
    ap.add_argument("--db", type=Path, default=None, help="default: a fresh file in a temp dir")
    args = ap.parse_args()
    db = args.db or Path(tempfile.mkdtemp()) / "history.sqlite"
    if db.exists():
        raise SystemExit(f"{db} exists; give a new path")
    week = history_of(args.repos, args.runs, args.results)
    h = History.open(db)
    build = 0.0
    for n in range(args.runs - 1):
        run = week(n)
        build += timed(lambda run=run: h.record_run(run))[0]
    last = week(args.runs - 1)
    write_s, _ = timed(lambda: h.record_run(last))
    load_s, _ = timed(lambda: h.load_run(last.id))
    report_s, ri = timed(lambda: trends.build_report_input(h, now=last.started_at + timedelta(hours=1)))
    h.close()
    with History.open(db) as h2:  # fresh handle: memory of a cold `auditor report`
        report_mib = peak_mib(lambda: trends.build_report_input(h2, now=last.started_at + timedelta(hours=1)))
        with h2.read() as conn:
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                      for t in (sch.results, sch.details, sch.findings, sch.repo_summaries)}
        # the write's memory, on a copy of the last run under a new id
        again = Run(**{**last.__dict__, "id": last.id + "-again", "started_at": last.started_at + timedelta(1)})
        write_mib = peak_mib(lambda: h2.record_run(again))
        with h2.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    rows = counts["results"]
    print(f"history: {args.repos} repos x {args.runs + 1} runs x {args.results} results = {rows:,} result rows")
    print(f"  build ({args.runs - 1} runs):         {build:8.1f} s")
    print(f"  write one run ({len(last.results):,} results): {write_s:8.2f} s   peak {write_mib:7.1f} MiB")
    print(f"  load_run:                  {load_s:8.2f} s")
    print(f"  build_report_input:        {report_s:8.2f} s   peak {report_mib:7.1f} MiB "
          f"(trend points {len(ri.trend)}, new {len(ri.new_findings)}, fixed {len(ri.fixed_findings)}, "
          f"open {len(ri.first_seen)}, MTTR {ri.mean_time_to_resolve_days:.1f} d)")
    print(f"  database:                  {size / 2**20:8.1f} MiB   {size / rows:6.1f} bytes per result row")
    print(f"  rows: {counts}")
    print(f"  process max RSS:           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")


if __name__ == "__main__":
    main()
