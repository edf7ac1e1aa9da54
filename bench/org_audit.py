"""Org-audit benchmark: 1,000 varied repositories, 50 ms per request, cold then warm.

    python bench/org_audit.py --repos 1000 --latency-ms 50

Generates a sandbox org by cloning the demo world's repositories (each template under many names,
so the org mixes exemplary, ruleset-only, legacy, read-only and private repos), serves it with the
given latency, and audits it with the full `deployment-standard` policy three ways:

- cold: `--api auto` (batched GraphQL + REST for what GraphQL lacks), fresh ETag cache;
- warm: the same again with the cache the cold run filled (nothing changed, so REST answers are 304s);
- rest_sequential_baseline: the plain REST collector, one worker, no cache, on a sample of repos.

`rate_limit_units` is what GitHub would charge: REST requests that were not 304, plus GraphQL points.
The LAST line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.engine import plan_for
from auditor.history import History
from auditor.policy import load_policy
from auditor.runner import audit_repos
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, load_world
from auditor.sandbox.world import _read
from auditor.session import GitHubSession

ORG = "acme-demo"


def big_world(n: int) -> dict[str, Any]:
    """The demo world with its repositories cloned to `n` names (no timeline: the present only)."""
    spec = _read(DEMO_WORLD)
    spec.pop("timeline", None)
    templates = [r for r in spec["repos"] if not r.get("archived")]
    repos = []
    for i in range(n):
        tpl = copy.deepcopy(templates[i % len(templates)])
        tpl["name"] = f"{tpl['name']}-{i:04d}"
        repos.append(tpl)
    spec["repos"] = repos
    for org in spec.get("orgs", []):
        for secret in org.get("secrets", []):
            secret.pop("selected_repos", None)
            if secret.get("visibility") == "selected":
                secret["visibility"] = "private"
    for token in spec.get("tokens", []):
        token.pop("repos", None)
    spec["rate_limit"] = {"limit": 10_000_000, "anonymous_limit": 60, "window_seconds": 3600}
    return spec


def run_once(url: str, api: str, workers: int, cache_dir: Path | None,
             repos: list[str] | None = None) -> dict[str, Any]:
    """One full audit; its wall time, requests, rate-limit units and units per repo."""
    policy = load_policy("deployment-standard")
    session = GitHubSession.from_env(base_url=url, api=api, cache_dir=cache_dir,
                                     env={"GITHUB_TOKEN": DEMO_TOKEN})
    names = repos if repos is not None else session.org_repos(ORG, policy.scope)
    with tempfile.TemporaryDirectory() as tmp:
        history = History.open(Path(tmp) / "h.sqlite")
        plan = plan_for(policy)
        t0 = time.monotonic()
        outcome = audit_repos(policy=policy, repos=names, collect=session.collector(plan, _now, org_audit=True),
                              history=history, scope=f"org:{ORG}", now=_now, cost=session.cost, workers=workers,
                              make_collect=lambda: session.collector(plan, _now, org_audit=True))
        wall = time.monotonic() - t0
        history.close()
    cost = session.cost()
    units = cost.rate_limit_used + cost.graphql_points
    return {"wall_s": round(wall, 2), "repos": len(names), "requests": cost.requests,
            "not_modified": cost.not_modified, "graphql_points": cost.graphql_points,
            "rate_limit_units": units, "per_repo": round(units / max(1, len(names)), 3),
            "results": len(outcome.results)}


def _now() -> datetime:
    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--api", default="auto", choices=("auto", "rest", "graphql"))
    parser.add_argument("--baseline-sample", type=int, default=50,
                        help="repos the sequential REST baseline audits (its per-repo figures scale)")
    args = parser.parse_args()

    spec = big_world(args.repos)
    load_world(spec)  # validate here, so a bad world fails before the server starts
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
        world_file = Path(tmp) / "world.json"
        world_file.write_text(json.dumps(spec))
        # The sandbox runs in its own process, as GitHub would: in the auditor's process it would
        # compete with the audit for the one interpreter lock and slow both down.
        server = subprocess.Popen(
            [sys.executable, "-m", "auditor.sandbox", "--world", str(world_file), "--port", "0",
             "--latency-ms", str(args.latency_ms)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            url = re.search(r"http://[\d.]+:\d+", server.stdout.readline()).group(0)  # type: ignore[union-attr]
            print(f"sandbox: {args.repos} repos at {url}, {args.latency_ms} ms latency", file=sys.stderr)
            cold = run_once(url, args.api, args.workers, Path(cache))
            print(f"cold: {cold}", file=sys.stderr)
            warm = run_once(url, args.api, args.workers, Path(cache))
            print(f"warm: {warm}", file=sys.stderr)
            sample = sorted(f"{ORG}/{r['name']}" for r in spec["repos"])[: args.baseline_sample]
            base = run_once(url, "rest", 1, None, repos=sample)
            base["wall_s_per_repo"] = round(base["wall_s"] / max(1, base["repos"]), 3)
            base["wall_s_extrapolated"] = round(base["wall_s_per_repo"] * args.repos, 1)
            print(f"rest sequential baseline: {base}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=30)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"repos": args.repos, "latency_ms": args.latency_ms, "workers": args.workers,
                      "cold": cold, "warm": warm, "rest_sequential_baseline": base,
                      "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main()
