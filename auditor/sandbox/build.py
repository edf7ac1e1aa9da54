"""Expand a validated world spec into a `State` as of one moment.

Activity (commits, pull requests, deployments) is declared relative to the world's `now`
(`merged_days_ago: 3`) so a shipped world stays current. Building "as of" an earlier moment (a
week of the timeline) simply drops what had not happened yet: a pull request merged later is still
open then, a deployment made later does not exist.

Merges follow GitHub's shapes: a pull request from a short-lived branch is squash-merged (one new
commit on the base whose message ends with `(#N)`), a pull request from a long-lived branch of the
repository (staging -> main) fast-forwards the base to the head commit, so the commit deployed to
production is the very commit deployed to staging before it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .state import (
    BranchState,
    CheckRun,
    Commit,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    Environment,
    Hook,
    Org,
    Pull,
    Repo,
    Review,
    Ruleset,
    Secret,
    State,
    Token,
    User,
)


def sha_of(*parts: object) -> str:
    """A stable 40-hex git-like sha: the same world always gives the same shas (and ETags)."""
    return hashlib.sha1("\x00".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def parse_when(value: Any) -> datetime:
    """A YAML timestamp or ISO string as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class _Ids:
    """Deterministic ids: the n-th object of a kind gets the same id in every build."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def next(self, kind: str, base: int) -> int:
        n = self.counters.get(kind, 0) + 1
        self.counters[kind] = n
        return base + n


def build_state(spec: dict[str, Any], base_now: datetime, week: int, weeks: int) -> State:
    """The state of `spec` at the end of `week` (activity after that moment is left out)."""
    now = base_now - timedelta(weeks=weeks - week)
    ids = _Ids()
    rl = spec.get("rate_limit", {})
    state = State(
        now=now,
        week=week,
        weeks=weeks,
        orgs={},
        users={},
        tokens={},
        repos={},
        rate_limit=int(rl.get("limit", 5000)),
        anonymous_rate_limit=int(rl.get("anonymous_limit", 60)),
        rate_window_seconds=int(rl.get("window_seconds", 3600)),
        rate_limit_status=int(rl.get("status", 403)),
    )
    for u in spec.get("users", []):
        state.users[u["login"]] = User(login=u["login"], id=ids.next("user", 5000), name=u.get("name"))
    for o in spec.get("orgs", []):
        org = Org(
            login=o["login"],
            id=int(o.get("id", ids.next("org", 90_000))),
            plan=o.get("plan", "team"),
            members=list(o.get("members", [])),
            owners=list(o.get("owners", [])),
            secrets=[_secret(s, base_now, now) for s in o.get("secrets", [])],
            rulesets=[],
            created_at=base_now - timedelta(days=800),
            description=o.get("description"),
        )
        org.rulesets = [_ruleset(r, ids, "Organization", org.login, base_now) for r in o.get("rulesets", [])]
        state.orgs[org.login] = org
        state.user(org.login).type = "Organization"
        state.users[org.login].id = org.id
        for login in org.members + org.owners:
            state.user(login)
    for i, t in enumerate(spec.get("tokens", [])):
        state.tokens[t["value"]] = Token(
            value=t["value"],
            login=t["login"],
            kind=t.get("kind", "classic"),
            role=t.get("role", "admin"),
            repos=dict(t.get("repos", {})),
            org_admin=bool(t.get("org_admin", t.get("role", "admin") == "admin")),
            permissions=t.get("permissions"),
            scopes=t.get("scopes", "read:org, repo, workflow"),
            rate_limit=t.get("rate_limit"),
            user_id=state.user(t["login"]).id + i * 0,
        )
        if t.get("kind") == "app":
            state.users[t["login"]].type = "Bot"
    default_owner = next(iter(state.orgs), "sandbox")
    for r in spec.get("repos", []):
        repo = _repo(r, default_owner, ids, base_now, now, state)
        state.repos[repo.full_name] = repo
    return state


def _days(spec: dict[str, Any], key: str, base_now: datetime, default: float | None = None) -> datetime | None:
    if f"{key}_at" in spec:
        return parse_when(spec[f"{key}_at"])
    value = spec.get(f"{key}_days_ago", default)
    if value is None:
        return None
    return base_now - timedelta(days=float(value))


def _secret(s: Any, base_now: datetime, now: datetime) -> Secret:
    if isinstance(s, str):
        s = {"name": s}
    updated = parse_when(s["updated_at"]) if "updated_at" in s else base_now - timedelta(
        days=float(s.get("updated_days_ago", 30)))
    created = parse_when(s["created_at"]) if "created_at" in s else min(
        updated, base_now - timedelta(days=float(s.get("created_days_ago", 400))))
    # a secret updated "in the future" of an earlier week was, then, still at its creation date
    if updated > now:
        updated = min(created, now)
    return Secret(
        name=s["name"],
        created_at=min(created, updated),
        updated_at=updated,
        visibility=s.get("visibility"),
        selected_repos=tuple(s.get("selected_repos", [])),
    )


def _ruleset(r: dict[str, Any], ids: _Ids, source_type: str, source: str, base_now: datetime) -> Ruleset:
    return Ruleset(
        id=int(r.get("id", ids.next("ruleset", 100))),
        name=r["name"],
        source_type=source_type,
        source=source,
        enforcement=r.get("enforcement", "active"),
        target=r.get("target", "branch"),
        conditions=dict(r.get("conditions", {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}})),
        rules=[dict(rule) for rule in r.get("rules", [])],
        bypass_actors=[
            {"actor_id": a.get("actor_id"), "actor_type": a["actor_type"],
             "bypass_mode": a.get("bypass_mode", "always")}
            for a in r.get("bypass_actors", [])
        ],
        created_at=base_now - timedelta(days=200),
        updated_at=base_now - timedelta(days=30),
    )


def _environment(e: Any, ids: _Ids, repo_created: datetime, base_now: datetime, now: datetime) -> Environment:
    if isinstance(e, str):
        e = {"name": e}
    reviewers = []
    for rv in e.get("reviewers", []):
        if isinstance(rv, str):
            reviewers.append({"type": "User", "name": rv})
        elif "team" in rv:
            reviewers.append({"type": "Team", "name": rv["team"]})
        else:
            reviewers.append({"type": "User", "name": rv["user"]})
    policy = e.get("branch_policy")
    patterns = [(ids.next("branch_policy", 36_000_000), b, "branch") for b in e.get("branches", [])]
    created = _days(e, "created", base_now) or repo_created
    return Environment(
        id=ids.next("environment", 460_000_000),
        name=e["name"],
        created_at=min(created, now),
        wait_timer=int(e.get("wait_timer", 0)),
        reviewers=reviewers,
        prevent_self_review=bool(e.get("prevent_self_review", False)),
        can_admins_bypass=bool(e.get("can_admins_bypass", True)),
        branch_policy=policy,
        branch_patterns=patterns if policy == "custom" else [],
        protection_apps=list(e.get("protection_apps", [])),
        secrets=[_secret(s, base_now, now) for s in e.get("secrets", [])],
        rule_ids=(ids.next("env_rule", 216_000), ids.next("env_rule", 216_000), ids.next("env_rule", 216_000)),
    )


def _repo(r: dict[str, Any], default_owner: str, ids: _Ids, base_now: datetime, now: datetime,
          state: State) -> Repo:
    owner = r.get("owner", default_owner)
    name = r["name"]
    default_branch = r.get("default_branch", "main")
    branch_names = list(dict.fromkeys([default_branch, *r.get("branches", [])]))
    created = _days(r, "created", base_now, 400) or base_now
    base_files = dict(r.get("files", {}))
    files: dict[str, dict[str, str]] = {}
    for b in branch_names:
        per_branch = dict(base_files)
        for path, text in (r.get("branch_files", {}) or {}).get(b, {}).items():
            if text is None:
                per_branch.pop(path, None)
            else:
                per_branch[path] = text
        files[b] = dict(sorted(per_branch.items()))
    all_paths = sorted({p for fs in files.values() for p in fs})
    root = Commit(
        sha=sha_of(owner, name, "initial"),
        message="Initial commit",
        author=(state.orgs[owner].owners or state.orgs[owner].members or [owner])[0] if owner in state.orgs
        else owner,
        date=created,
        parents=[],
        files=all_paths,
    )
    repo = Repo(
        id=int(r.get("id", ids.next("repo", 700_000_000))),
        owner=owner,
        name=name,
        description=r.get("description"),
        visibility=r.get("visibility", "private"),
        default_branch=default_branch,
        archived=bool(r.get("archived", False)),
        fork=bool(r.get("fork", False)),
        topics=list(r.get("topics", [])),
        created_at=created,
        pushed_at=created,
        branches={b: BranchState(b, [(root.sha, created)]) for b in branch_names},
        files=files,
        protection={b: dict(p) for b, p in (r.get("protection", {}) or {}).items() if p is not None},
        rulesets=[_ruleset(x, ids, "Repository", f"{owner}/{name}", base_now) for x in r.get("rulesets", [])],
        environments=[_environment(e, ids, created, base_now, now) for e in r.get("environments", [])],
        secrets=[_secret(s, base_now, now) for s in r.get("secrets", [])],
        security=dict(r.get("security", {}) or {}),
        vulnerability_alerts=bool(r.get("vulnerability_alerts", False)),
        workflow_permissions=r.get("workflow_permissions", "read"),
        can_approve_pull_request_reviews=bool(r.get("can_approve_pull_request_reviews", False)),
        codeowners_errors=[dict(e) for e in r.get("codeowners_errors", [])],
        commits={root.sha: root},
        pulls=[],
        deployments=[],
        hooks=[
            Hook(id=ids.next("hook", 480_000_000), name=h.get("name", "web"), events=list(h.get("events", ["push"])),
                 active=bool(h.get("active", True)), url=h.get("url", "https://hooks.example.invalid/notify"),
                 created_at=created)
            for h in r.get("hooks", [])
        ],
        check_runs=[],
        statuses=[],
        comments=[],
    )
    _simulate(repo, r, ids, base_now, now)
    return repo


def _simulate(repo: Repo, r: dict[str, Any], ids: _Ids, base_now: datetime, now: datetime) -> None:
    """Replay commits and merges in time order, then attach deployments."""
    long_lived = set(repo.branches)
    events: list[tuple[datetime, int, str, dict[str, Any]]] = []
    numbers = {int(p["number"]) for p in r.get("pulls", []) if "number" in p}
    next_number = 1
    for order, pull_spec in enumerate(r.get("pulls", [])):
        p = dict(pull_spec)
        if "number" not in p:
            while next_number in numbers:
                next_number += 1
            p["number"] = next_number
            numbers.add(next_number)
        merged = _days(p, "merged", base_now)
        created = _days(p, "created", base_now)
        if created is None:
            created = (merged - timedelta(days=1)) if merged else base_now - timedelta(days=1)
        p["_created"] = created
        p["_merged"] = merged if p.get("state", "merged" if merged else "open") == "merged" else None
        events.append((p["_merged"] or created, order, "pull", p))
    for order, c in enumerate(r.get("commits", [])):
        at = parse_when(c["at"]) if "at" in c else base_now - timedelta(days=float(c.get("days_ago", 0)))
        events.append((at, 10_000 + order, "commit", dict(c)))
    events.sort(key=lambda e: (e[0], e[1]))
    merges: list[tuple[str, str, datetime, Any]] = []  # (branch, sha, when, deploy outcome) for auto_deploy
    for at, _order, kind, spec in events:
        if kind == "commit":
            if at > now:
                continue
            branch = repo.branches[spec["branch"]]
            sha = spec.get("sha") or sha_of(repo.full_name, "commit", spec.get("message"), at.isoformat())
            repo.commits[sha] = Commit(
                sha=sha, message=spec.get("message", "Update"), author=spec.get("author", repo.owner), date=at,
                parents=[branch.head], files=list(spec.get("files", [])), verified=bool(spec.get("verified", False)),
            )
            branch.history.append((sha, at))
            _add_checks(repo, ids, sha, spec.get("checks", {}), {}, at)
            merges.append((branch.name, sha, at, True))
        else:
            pull = _pull(repo, spec, ids, now, long_lived)
            if pull is None:
                continue
            if pull.merged_at is not None and pull.merge_commit_sha is not None:
                merges.append((pull.base_ref, pull.merge_commit_sha, pull.merged_at, spec.get("deploy", True)))
    for branch_state in repo.branches.values():
        repo.pushed_at = max(repo.pushed_at, branch_state.history[-1][1])
    auto = r.get("auto_deploy", {}) or {}
    for branch_name, sha, at, wanted in merges:
        env = auto.get(branch_name)
        if env is None or wanted is False:
            continue
        outcome = "success" if wanted is True else str(wanted)
        _add_deployment(repo, ids, env, branch_name, sha, at + timedelta(minutes=10), outcome, now,
                        creator="github-actions[bot]")
    for d in r.get("deployments", []):
        at = parse_when(d["at"]) if "at" in d else base_now - timedelta(days=float(d.get("days_ago", 0)))
        if at > now:
            continue
        ref = d.get("ref") or _branch_for_env(auto, d["environment"]) or repo.default_branch
        sha = d.get("sha") or (repo.branches[ref].head_at(at) if ref in repo.branches else None) \
            or repo.branches[repo.default_branch].head
        states = d.get("statuses") or [d.get("state", "success")]
        _add_deployment(repo, ids, d["environment"], ref, sha, at, states, now,
                        creator=d.get("creator", "github-actions[bot]"), description=d.get("description"))
    repo.deployments.sort(key=lambda x: x.created_at, reverse=True)


def _branch_for_env(auto: dict[str, str], env: str) -> str | None:
    return next((b for b, e in auto.items() if e == env), None)


def _add_deployment(repo: Repo, ids: _Ids, env: str, ref: str, sha: str, at: datetime, outcome: str | list[str],
                    now: datetime, creator: str, description: str | None = None) -> None:
    states = [outcome] if isinstance(outcome, str) else list(outcome)
    if states and states[0] not in ("queued", "pending", "in_progress"):
        states = ["in_progress", *states]
    statuses = []
    for i, st in enumerate(states):
        when = at + timedelta(minutes=2 * i)
        if when > now:
            break
        statuses.append(DeploymentStatus(id=ids.next("deployment_status", 1_100_000_000), state=st, created_at=when,
                                         description=f"Deployment {st}"))
    repo.deployments.append(Deployment(
        id=ids.next("deployment", 260_000_000), sha=sha, ref=ref, environment=env, created_at=at, creator=creator,
        description=description or f"Deploy {ref} to {env}", statuses=statuses,
    ))


def _add_checks(repo: Repo, ids: _Ids, sha: str, checks: dict[str, str], statuses: dict[str, str],
                at: datetime) -> None:
    for name, conclusion in checks.items():
        done = conclusion not in ("pending",)
        repo.check_runs.append(CheckRun(
            id=ids.next("check_run", 3_000_000_000), name=name, head_sha=sha,
            status="completed" if done else "in_progress", conclusion=conclusion if done else None,
            started_at=at - timedelta(minutes=6), completed_at=at - timedelta(minutes=1) if done else None,
        ))
    for context, st in statuses.items():
        repo.statuses.append(CommitStatus(
            id=ids.next("status", 20_000_000_000), sha=sha, context=context, state=st,
            description=f"{context}: {st}", target_url=None, created_at=at - timedelta(minutes=1), creator="ci-bot",
        ))


def _pull(repo: Repo, p: dict[str, Any], ids: _Ids, now: datetime, long_lived: set[str]) -> Pull | None:
    created: datetime = p["_created"]
    if created > now:
        return None
    merged: datetime | None = p["_merged"]
    if merged is not None and merged > now:
        merged = None  # not merged yet in this week of the timeline
    base = repo.branches[p["base"]]
    author = p.get("author", repo.owner)
    number = int(p["number"])
    title = p.get("title") or (f"Promote {p['head']} to {p['base']}" if p["head"] in long_lived
                               else f"{p['head'].split('/')[-1].replace('-', ' ').capitalize()}")
    files = list(p.get("files", [f"src/{p['head'].split('/')[-1]}.py"] if p["head"] not in long_lived else []))
    commits: list[str] = []
    if p["head"] in long_lived:
        head_branch = repo.branches[p["head"]]
        head_sha = head_branch.head_at(merged or now) or head_branch.head
        base_set = {s for s, _ in base.history}
        commits = [s for s, _ in head_branch.history if s not in base_set]
        if not files:
            files = sorted({f for s in commits for f in repo.commits[s].files})
    else:
        head_sha = sha_of(repo.full_name, "pr", number, "head")
        repo.commits[head_sha] = Commit(
            sha=head_sha, message=title, author=author, date=created, parents=[base.head_at(created) or base.head],
            files=files,
        )
        commits = [head_sha]
    checks_at = created + timedelta(minutes=20)
    _add_checks(repo, ids, head_sha, p.get("checks", {}), p.get("statuses", {}), min(checks_at, now))
    reviews = []
    review_at = (merged or now) - timedelta(hours=2)
    for state_name, key in (("APPROVED", "approvals"), ("CHANGES_REQUESTED", "changes_requested"),
                            ("COMMENTED", "commented")):
        for who in p.get(key, []):
            at = max(created, review_at)
            if at <= now:
                reviews.append(Review(id=ids.next("review", 80_000_000), user=who, state=state_name, submitted_at=at,
                                      commit_id=head_sha))
    merge_sha = None
    closed_at = None
    state = "open"
    if merged is not None:
        state = "closed"
        closed_at = merged
        if p["head"] in long_lived:
            head_history = repo.branches[p["head"]].history
            base_set = {s for s, _ in base.history}
            head_set = {s for s, _ in head_history}
            if base_set <= head_set:
                merge_sha = head_sha  # fast-forward: the base now points at the head commit
                for s, _ in head_history:
                    if s not in base_set:
                        base.history.append((s, merged))
                    if s == head_sha:
                        break
            else:
                merge_sha = sha_of(repo.full_name, "pr", number, "merge")
                repo.commits[merge_sha] = Commit(
                    sha=merge_sha, message=f"Merge pull request #{number} from {repo.owner}/{p['head']}",
                    author=p.get("merged_by", author), date=merged, parents=[base.head, head_sha], files=files,
                    committer="GitHub")
                for s in commits:
                    base.history.append((s, merged))
                base.history.append((merge_sha, merged))
        else:
            merge_sha = sha_of(repo.full_name, "pr", number, "squash")
            repo.commits[merge_sha] = Commit(
                sha=merge_sha, message=f"{title} (#{number})", author=author, date=merged, parents=[base.head],
                files=files, committer="GitHub", verified=True)
            base.history.append((merge_sha, merged))
    elif p.get("state") == "closed":
        state = "closed"
        closed_at = min(now, created + timedelta(days=1))
    pull = Pull(
        number=number, id=ids.next("pull", 1_500_000_000), title=title, body=p.get("body"), author=author,
        head_ref=p["head"], base_ref=p["base"], head_sha=head_sha,
        base_sha=base.head_at(created) or base.head, state=state, created_at=created,
        updated_at=closed_at or max((rv.submitted_at for rv in reviews), default=created), closed_at=closed_at,
        merged_at=merged, merge_commit_sha=merge_sha, merged_by=(p.get("merged_by", author) if merged else None),
        files=files, commits=commits, reviews=reviews,
    )
    repo.pulls.append(pull)
    return pull
