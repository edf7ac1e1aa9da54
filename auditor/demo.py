"""`auditor demo`: the whole product with no network and no token.

It starts the bundled GitHub sandbox on a free loopback port, audits its demo organisation once
per simulated week over the world's timeline (settings fixed, regressions, new repositories),
stores every run in a fresh history, and leaves the weekly reports with twelve weeks of trend in
the output folder. The same history then serves `auditor report --history <out>/history.sqlite`.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from auditor.engine import blocking, plan_for
from auditor.github.auth import Credentials
from auditor.history import History
from auditor.policy import Policy, load_policy
from auditor.runner import audit_repos
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, load_world, serve
from auditor.session import GitHubSession

DEMO_ORG = "acme-demo"


def demo_policy_text(now: datetime) -> str:
    """The demo's policy: the shipped standard plus waivers whose expiry the report can show.

    Expiry dates are relative to the simulated present, so one waiver is about to expire, one
    expired during the twelve weeks, and one runs for another quarter.
    """
    soon = (now + timedelta(days=12)).date().isoformat()
    gone = (now - timedelta(days=20)).date().isoformat()
    later = (now + timedelta(days=95)).date().isoformat()
    return f"""\
# Written by `auditor demo`: the shipped standard plus three waivers dated around the demo's present.
policy: demo-deployment-standard
version: 1
extends: deployment-standard
description: The deployment standard as the demo organisation's security team runs it.
waivers:
  - rule: deploy-automated
    repos: ["legacy-*"]
    targets: ["environment:production"]
    reason: Production deploys of the legacy monolith are manual until the Q1 migration.
    owner: security@acme-demo.example
    expires: {soon}
  - rule: branch-admins-enforced
    repos: ["checkout-web"]
    reason: Administrators keep a ruleset bypass for incident response until break-glass accounts exist.
    owner: platform@acme-demo.example
    expires: {later}
  - rule: branch-signed-commits
    reason: Signed commits were waived while the team set up signing keys.
    owner: platform@acme-demo.example
    expires: {gone}
"""


def run_demo(out_dir: Path, *, weeks: int = 12, quiet: bool = False, api: str = "rest") -> int:
    """Audit the demo org once per simulated week; leave reports and history in `out_dir`."""
    from auditor.commands import print_summary, write_reports_for

    t0 = time.monotonic()
    world = load_world(DEMO_WORLD)
    weeks = max(1, min(weeks, world.weeks))
    out_dir.mkdir(parents=True, exist_ok=True)
    policy_file = out_dir / "demo-policy.yml"
    policy_file.write_text(demo_policy_text(world.now), encoding="utf-8")
    policy: Policy = load_policy(policy_file)
    db = out_dir / "history.sqlite"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    history = History.open(db)
    plan = plan_for(policy)
    first_week = world.weeks - weeks + 1

    def say(text: str) -> None:
        if not quiet:
            print(text, file=sys.stderr)

    say(f"auditor demo: sandbox GitHub with organisation {DEMO_ORG}, {weeks} simulated weeks")
    with serve(world.at_week(first_week)) as server:
        outcome = None
        for week in range(first_week, world.weeks + 1):
            state = world.at_week(week)
            server.world = state
            server.reset_rate_limits()
            session = GitHubSession(creds=Credentials(token=DEMO_TOKEN), base_url=server.url, api=api)
            repos = session.org_repos(DEMO_ORG, policy.scope)
            simulated_now = state.now

            def clock(at: datetime = simulated_now) -> datetime:
                return at

            outcome = audit_repos(
                policy=policy, repos=repos, collect=session.collector(plan, clock),
                history=history, scope=f"org:{DEMO_ORG}", now=clock, cost=session.cost)
            fails = len(blocking(outcome.results, policy.gate))
            scored = [s.score for s in outcome.summaries if s.score is not None]
            mean = sum(scored) / len(scored) if scored else 0.0
            say(f"  week {week:>2} ({simulated_now:%Y-%m-%d}): {len(repos)} repos, mean score {mean:.0%}, "
                f"{fails} blocking findings, {outcome.api.requests} API requests")
    assert outcome is not None  # at least one week ran
    files = write_reports_for(history, outcome.run_id, policy, ["html", "md", "json", "csv", "sarif"], out_dir,
                              since=outcome.started_at - timedelta(weeks=weeks), now=outcome.finished_at)
    history.close()
    if not quiet:
        print_summary(outcome, policy, None, files)
        print(f"Demo finished in {time.monotonic() - t0:.1f} s. Reproduce the weekly report from the history alone:\n"
              f"  auditor report --history {db} --since {weeks}w --format html,md --output {out_dir}")
    return 0
