"""Trends over the history, with pandas: scores over time, what changed between runs, finding ages.

Everything a report shows over time is computed here from the history alone, so `auditor report`
can re-render any past week with no API call. `build_report_input` gathers it into the
ReportInput the renderers display.

Definitions used throughout (a finding is one repo/rule/target key):

* open: the key's status is `fail`;
* resolved: a key that was `fail` is later observed `pass` or `not_applicable`. `unknown`,
  `error`, `waived` or a missing result neither resolve a finding nor break its streak: an
  unobserved fact is not a fix (the catalog's "unknown is never pass"), and a waiver accepts a
  finding rather than fixing it;
* first seen: the first run of the current fail streak, i.e. the first `fail` after the last time
  the key was observed resolved (runs before the report's range count too);
* new: `fail` now and not `fail` in the compared run; a regression is a new finding that was
  `pass` in the compared run.
"""

from __future__ import annotations

import fnmatch
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

import pandas as pd
from sqlalchemy import Connection, case, func, or_, select

from auditor import scoring
from auditor.history import History, HistoryError, RunHeader
from auditor.history import schema as s
from auditor.model import Result, Severity, Status, utcnow
from auditor.report.inputs import ReportInput, RepoTrend, TrendPoint, WaiverStatus

#: How far back the "previous" run of a weekly report should be, at least.
PREVIOUS_MIN_AGE = timedelta(days=5)
#: Waivers expiring within this many days are reported (expired ones always are).
WAIVER_HORIZON_DAYS = 30

RESOLVING = (Status.PASS, Status.NOT_APPLICABLE)
Dimension = Literal["run", "repo", "family", "severity"]
Key = tuple[str, str, str]


class WaiverLike(Protocol):
    """What this module needs of a policy waiver (auditor.policy.model.Waiver fits)."""

    @property
    def rule(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def expires(self) -> date: ...
    @property
    def repos(self) -> tuple[str, ...]: ...
    @property
    def targets(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Filters:
    """Which repos (name globs) and rule families a trend looks at; empty means all."""

    repos: tuple[str, ...] = ()
    families: tuple[str, ...] = ()

    def keeps(self, r: Result) -> bool:
        """Whether a result is inside the filters."""
        return self.keeps_repo(r.repo) and (not self.families or r.family in self.families)

    def keeps_repo(self, repo: str) -> bool:
        """Whether a repository name matches one of the globs (or there are none)."""
        return not self.repos or any(fnmatch.fnmatchcase(repo, g) for g in self.repos)

    def describe(self) -> dict[str, str]:
        """The filters as the report prints them."""
        out: dict[str, str] = {}
        if self.repos:
            out["repos"] = ", ".join(self.repos)
        if self.families:
            out["families"] = ", ".join(self.families)
        return out


# ---------------------------------------------------------------------------- comparisons of runs


@dataclass(frozen=True)
class Changes:
    """What changed between two runs' results."""

    new: tuple[Result, ...]
    fixed: tuple[Result, ...]  # the earlier, failing result of each finding that got fixed
    regressions: tuple[Result, ...]
    still_open: tuple[Result, ...]


def compare(previous: Iterable[Result], current: Iterable[Result]) -> Changes:
    """New, fixed, regressed and still-open findings from one set of results to another."""
    before = {r.key: r for r in previous}
    now = {r.key: r for r in current}
    new: list[Result] = []
    regressions: list[Result] = []
    still: list[Result] = []
    for key, r in now.items():
        if r.status is not Status.FAIL:
            continue
        old = before.get(key)
        if old is not None and old.status is Status.FAIL:
            still.append(r)
            continue
        new.append(r)
        if old is not None and old.status is Status.PASS:
            regressions.append(r)
    fixed = [old for key, old in before.items()
             if old.status is Status.FAIL and key in now and now[key].status in RESOLVING]
    return Changes(tuple(new), tuple(fixed), tuple(regressions), tuple(still))


def changes_frame(history: History, from_run: str, to_run: str, filters: Filters = Filters()) -> pd.DataFrame:
    """New, fixed, regression and still-open findings between any two runs, one row each."""
    before = [r for r in history.load_run(from_run).results if filters.keeps(r)]
    after = [r for r in history.load_run(to_run).results if filters.keeps(r)]
    ch = compare(before, after)
    rows = [(kind, r.repo, r.rule, r.family, r.target, r.severity.value, r.message)
            for kind, group in (("new", ch.new), ("fixed", ch.fixed), ("regression", ch.regressions),
                                ("still_open", ch.still_open)) for r in group]
    return pd.DataFrame(rows, columns=["change", "repo", "rule", "family", "target", "severity", "message"])


# ---------------------------------------------------------------------------- scores over time


def runs_frame(runs: Sequence[RunHeader]) -> pd.DataFrame:
    """Run headers as a frame (run_id, at, scope, complete), oldest first."""
    return pd.DataFrame({"run_id": [h.id for h in runs], "at": [h.started_at for h in runs],
                         "scope": [h.scope for h in runs], "complete": [h.complete for h in runs]})


def _filter_pks(conn: Connection, filters: Filters) -> tuple[list[int] | None, list[int] | None]:
    """Repo and rule primary keys inside the filters (None: no filter on that side)."""
    repo_pks = rule_pks = None
    if filters.repos:
        repo_pks = [pk for pk, name in conn.execute(select(s.repos.c.pk, s.repos.c.name))
                    if filters.keeps_repo(name)]
    if filters.families:
        rule_pks = list(conn.execute(select(s.rules.c.pk).where(
            s.rules.c.family.in_(filters.families))).scalars())
    return repo_pks, rule_pks


def counts_frame(history: History, run_ids: Sequence[str], by: Dimension = "run",
                 filters: Filters = Filters()) -> pd.DataFrame:
    """Result counts per run (and repo, family or severity), status and severity, from SQL."""
    r, f = s.results, s.findings
    cols = [s.runs.c.id.label("run_id"), r.c.status, r.c.severity]
    group = [s.runs.c.id, r.c.status, r.c.severity]
    q = select().select_from(r.join(s.runs, s.runs.c.pk == r.c.run_pk))
    joined_findings = bool(filters.repos or filters.families or by in ("repo", "family"))
    if joined_findings:
        q = q.join(f, f.c.pk == r.c.finding_pk)
    if by == "repo":
        q = q.join(s.repos, s.repos.c.pk == f.c.repo_pk)
        cols.append(s.repos.c.name.label("repo"))
        group.append(s.repos.c.name)
    if by == "family":
        q = q.join(s.rules, s.rules.c.pk == f.c.rule_pk)
        cols.append(s.rules.c.family)
        group.append(s.rules.c.family)
    q = q.add_columns(*cols, func.count().label("n")).where(s.runs.c.id.in_(list(run_ids))).group_by(*group)
    with history.read() as conn:
        repo_pks, rule_pks = _filter_pks(conn, filters)
        if repo_pks is not None:
            q = q.where(f.c.repo_pk.in_(repo_pks))
        if rule_pks is not None:
            q = q.where(f.c.rule_pk.in_(rule_pks))
        frame = pd.DataFrame(conn.execute(q).all(), columns=[c.key for c in cols] + ["n"])
    frame["status"] = frame["status"].map(lambda c: s.STATUS_BY_CODE[int(c)].value)
    frame["severity"] = frame["severity"].map(lambda c: s.SEVERITY_BY_CODE[int(c)].value)
    return frame


def score_frame(counts: pd.DataFrame, by: Dimension = "run") -> pd.DataFrame:
    """Score, coverage and counts per group of a counts_frame (same arithmetic as auditor.scoring)."""
    keys = ["run_id"] if by == "run" else ["run_id", by]
    statuses = [st.value for st in Status]
    if counts.empty:
        return pd.DataFrame(columns=[*keys, "score", "coverage", "results", *statuses])
    c = counts.copy()
    w = c["severity"].map(scoring.weight) * c["n"]
    c["pass_w"] = w.where(c["status"] == Status.PASS.value, 0.0)
    c["fail_w"] = w.where(c["status"] == Status.FAIL.value, 0.0)
    c["unobserved"] = c["n"].where(c["status"].isin([st.value for st in scoring.UNOBSERVED]), 0)
    g = c.groupby(keys, sort=False).agg(pass_w=("pass_w", "sum"), fail_w=("fail_w", "sum"),
                                        unobserved=("unobserved", "sum"), results=("n", "sum"))
    per_status = c.pivot_table(index=keys, columns="status", values="n", aggfunc="sum", fill_value=0)
    per_status = per_status.reindex(columns=statuses, fill_value=0)
    out = g.join(per_status)
    total_w = out["pass_w"] + out["fail_w"]
    out["score"] = (out["pass_w"] / total_w).where(total_w > 0)
    out["coverage"] = ((out["results"] - out["unobserved"]) / out["results"]).where(out["results"] > 0)
    return out.reset_index()[[*keys, "score", "coverage", "results", *statuses]]


def score_trend(history: History, runs: Sequence[RunHeader], by: Dimension = "run",
                filters: Filters = Filters()) -> pd.DataFrame:
    """Score and coverage per run (or per run and repo, family or severity), oldest run first."""
    frame = score_frame(counts_frame(history, [h.id for h in runs], by, filters), by)
    order = {h.id: i for i, h in enumerate(runs)}
    frame.insert(1, "at", frame["run_id"].map({h.id: h.started_at for h in runs}))
    sort = ["_order"] if by == "run" else ["_order", by]
    return (frame.assign(_order=frame["run_id"].map(order)).sort_values(sort)
            .drop(columns="_order").reset_index(drop=True))


# ---------------------------------------------------------------------------- finding lifetimes


def _changes(history: History, runs: Sequence[RunHeader], filters: Filters) -> tuple[pd.DataFrame, set[int]]:
    """Change points of every key's fail/resolved observations, in run order, and the keys failing
    in the last run.

    Only the observations where a key's state flips leave the database (a window function
    compares each with the one before), so a year of a large org costs thousands of rows, not
    millions, on the Python side.
    """
    r = s.results
    fail = s.STATUS_CODES[Status.FAIL]
    with history.read() as conn:
        pk_of = {row.id: row.pk for row in conn.execute(
            select(s.runs.c.pk, s.runs.c.id).where(s.runs.c.id.in_([h.id for h in runs])))}
        run_pks = [pk_of[h.id] for h in runs]
        t_of = {pk: i for i, pk in enumerate(run_pks)}
        # Runs are normally stored in time order, so the key order is the time order and the
        # window walks the (finding, run) index without sorting; otherwise order by position.
        order = r.c.run_pk if run_pks == sorted(run_pks) else case(t_of, value=r.c.run_pk)
        is_fail = case((r.c.status == fail, 1), else_=0)
        inner = (select(r.c.finding_pk, r.c.run_pk, is_fail.label("fail"),
                        func.lag(is_fail).over(partition_by=r.c.finding_pk, order_by=order).label("prev"))
                 .where(r.c.run_pk.in_(run_pks),
                        r.c.status.in_([s.STATUS_CODES[st] for st in (Status.FAIL, *RESOLVING)])))
        last_q = select(r.c.finding_pk).where(r.c.run_pk == run_pks[-1], r.c.status == fail)
        repo_pks, rule_pks = _filter_pks(conn, filters)
        for col, pks in ((s.findings.c.repo_pk, repo_pks), (s.findings.c.rule_pk, rule_pks)):
            if pks is not None:
                inner = inner.where(r.c.finding_pk.in_(select(s.findings.c.pk).where(col.in_(pks))))
                last_q = last_q.where(r.c.finding_pk.in_(select(s.findings.c.pk).where(col.in_(pks))))
        sub = inner.subquery()
        q = select(sub.c.finding_pk, sub.c.run_pk, sub.c.fail).where(
            or_(sub.c.prev.is_(None), sub.c.prev != sub.c.fail))
        ev = pd.DataFrame(conn.execute(q).all(), columns=["finding_pk", "run_pk", "fail"])
        last_fail = set(conn.execute(last_q).scalars())
    ev["t"] = ev["run_pk"].map(t_of)
    ev["fail"] = ev["fail"].astype(bool)
    return ev.sort_values(["finding_pk", "t"], kind="stable").reset_index(drop=True), last_fail


def _streaks(ev: pd.DataFrame) -> pd.DataFrame:
    """Each fail streak of each key: the run it started and the run that resolved it (or -1).

    `ev` holds a key's fail (True) and resolving (False) observations in run order; change points
    alone suffice, repeated observations are allowed.
    """
    if ev.empty:
        return pd.DataFrame(columns=["finding_pk", "start", "resolved"])
    same = ev["finding_pk"].eq(ev["finding_pk"].shift())
    prev_fail = ev["fail"].shift(fill_value=False) & same
    starts = ev["fail"] & ~prev_fail
    ev = ev.assign(streak=starts.cumsum())
    fails = ev[ev["fail"]]
    streaks = fails.groupby("streak").agg(finding_pk=("finding_pk", "first"), start=("t", "min"))
    # A resolving observation right after a fail row (same key) resolves that row's streak.
    resolving = ev[~ev["fail"] & prev_fail]
    resolved_at = pd.Series(resolving["t"].to_numpy(), index=ev["streak"][resolving.index].to_numpy())
    streaks["resolved"] = resolved_at.reindex(streaks.index).fillna(-1).astype(int)
    return streaks.reset_index(drop=True)


def _keys(history: History, finding_pks: Iterable[int]) -> dict[int, Key]:
    q = (select(s.findings.c.pk, s.repos.c.name, s.rules.c.name.label("rule"), s.findings.c.target)
         .join(s.repos, s.repos.c.pk == s.findings.c.repo_pk)
         .join(s.rules, s.rules.c.pk == s.findings.c.rule_pk)
         .where(s.findings.c.pk.in_(sorted(set(finding_pks)))))
    with history.read() as conn:
        return {row.pk: (row.name, row.rule, row.target) for row in conn.execute(q)}


@dataclass(frozen=True)
class Lifetimes:
    """First-seen times of open findings and the resolutions in a range."""

    first_seen: dict[Key, datetime]
    resolutions: pd.DataFrame  # repo, rule, target, first_seen, resolved_at, days

    @property
    def mean_time_to_resolve_days(self) -> float | None:
        """Mean days from first seen to resolved, None if nothing was resolved."""
        if self.resolutions.empty:
            return None
        return float(self.resolutions["days"].mean())


def lifetimes(history: History, runs: Sequence[RunHeader], *, range_start: datetime | None = None,
              filters: Filters = Filters()) -> Lifetimes:
    """First seen for each finding open in the last of `runs`; resolutions in [range_start, last run].

    `runs` is the whole history up to the report's run (oldest first), so a streak that began
    before the report's range still dates from its real start.
    """
    if not runs:
        return Lifetimes({}, _empty_resolutions())
    ev, last_fail = _changes(history, runs, filters)
    streaks = _streaks(ev)
    at = [h.started_at for h in runs]
    first_t = 0 if range_start is None else next((i for i, t in enumerate(at) if t >= range_start), len(at))
    open_ = streaks[(streaks["resolved"] < 0) & streaks["finding_pk"].isin(last_fail)]
    done = streaks[(streaks["resolved"] >= first_t)]
    keys = _keys(history, [*open_["finding_pk"], *done["finding_pk"]])
    first_seen = {keys[int(pk)]: at[int(t)]
                  for pk, t in zip(open_["finding_pk"], open_["start"], strict=True)}
    rows = []
    for pk, start, resolved in zip(done["finding_pk"], done["start"], done["resolved"], strict=True):
        seen, fixed = at[int(start)], at[int(resolved)]
        rows.append((*keys[int(pk)], seen, fixed, (fixed - seen).total_seconds() / 86400))
    res = pd.DataFrame(rows, columns=_RESOLUTION_COLUMNS) if rows else _empty_resolutions()
    return Lifetimes(first_seen, res)


_RESOLUTION_COLUMNS = ["repo", "rule", "target", "first_seen", "resolved_at", "days"]


def _empty_resolutions() -> pd.DataFrame:
    return pd.DataFrame(columns=_RESOLUTION_COLUMNS)


def ages_frame(first_seen: Mapping[Key, datetime], now: datetime) -> pd.DataFrame:
    """Age in days of each open finding, oldest first."""
    rows = [(*k, t, (now - t).total_seconds() / 86400) for k, t in first_seen.items()]
    frame = pd.DataFrame(rows, columns=["repo", "rule", "target", "first_seen", "age_days"])
    return frame.sort_values(["age_days", "repo", "rule", "target"], ascending=[False, True, True, True],
                             ignore_index=True)


# ---------------------------------------------------------------------------- repos and waivers


def repo_trends(current: Iterable[Result], previous: Iterable[Result]) -> tuple[RepoTrend, ...]:
    """Each repo's score now and in the compared run, most improved first, most slipped last.

    Repos whose change is unknown (no score on either side) come after those that moved.
    """
    now: dict[str, list[Result]] = {}
    before: dict[str, list[Result]] = {}
    for r in current:
        now.setdefault(r.repo, []).append(r)
    for r in previous:
        before.setdefault(r.repo, []).append(r)
    trends = [RepoTrend(repo, scoring.score(rs), scoring.score(before[repo]) if repo in before else None)
              for repo, rs in now.items()]
    return tuple(sorted(trends, key=lambda t: (t.delta is None, -(t.delta or 0.0), t.repo)))


def movers(trends: Iterable[RepoTrend], n: int = 5) -> tuple[list[RepoTrend], list[RepoTrend]]:
    """The n repos that improved most and the n that slipped most (only those that moved)."""
    moved = [t for t in trends if t.delta]
    improved = sorted((t for t in moved if (t.delta or 0) > 0), key=lambda t: (-(t.delta or 0), t.repo))
    slipped = sorted((t for t in moved if (t.delta or 0) < 0), key=lambda t: (t.delta or 0, t.repo))
    return improved[:n], slipped[:n]


def waiver_statuses(results: Iterable[Result], today: date, *, waivers: Iterable[WaiverLike] | None = None,
                    horizon_days: int = WAIVER_HORIZON_DAYS) -> tuple[WaiverStatus, ...]:
    """Waivers expiring within the horizon or already expired, soonest first.

    From the policy's waivers when given; otherwise from the waivers the run's results carry, so a
    report rebuilt from the history alone still warns about them.
    """
    rs = [r for r in results if r.waiver is not None]
    found: list[WaiverStatus] = []
    if waivers is not None:
        for w in waivers:
            ident = (w.owner, w.reason, w.expires)
            covered = sum(1 for r in rs if r.rule == w.rule and r.waiver is not None
                          and (r.waiver.owner, r.waiver.reason, r.waiver.expires) == ident)
            found.append(WaiverStatus(rule=w.rule, repos=tuple(w.repos), targets=tuple(w.targets),
                                      owner=w.owner, reason=w.reason, expires=w.expires,
                                      days_left=(w.expires - today).days, results_covered=covered))
    else:
        groups: dict[tuple[str, str, str, date], list[Result]] = {}
        for r in rs:
            if r.waiver is not None:
                groups.setdefault((r.rule, r.waiver.owner, r.waiver.reason, r.waiver.expires), []).append(r)
        for (rule, owner, reason, expires), group in groups.items():
            found.append(WaiverStatus(rule=rule, repos=tuple(sorted({r.repo for r in group})),
                                      targets=tuple(sorted({r.target for r in group})), owner=owner,
                                      reason=reason, expires=expires, days_left=(expires - today).days,
                                      results_covered=len(group)))
    due = [w for w in found if w.days_left <= horizon_days]
    return tuple(sorted(due, key=lambda w: (w.days_left, w.rule, w.owner)))


# ---------------------------------------------------------------------------- the report


def _pick_run(candidates: Sequence[RunHeader], at: str | datetime | None) -> RunHeader:
    if not candidates:
        raise HistoryError("the history has no complete run to report on")
    if at is None:
        return candidates[-1]
    if isinstance(at, str):
        for h in candidates:
            if h.id == at:
                return h
        raise HistoryError(f"no complete run {at} in the history")
    before = [h for h in candidates if h.started_at <= at]
    if not before:
        raise HistoryError(f"no complete run at or before {at.isoformat()} in the history")
    return before[-1]


def previous_run(candidates: Sequence[RunHeader], run: RunHeader,
                 min_age: timedelta = PREVIOUS_MIN_AGE) -> RunHeader | None:
    """The run a weekly report compares with: the newest at least `min_age` older, else the one before."""
    older = list(candidates[: candidates.index(run)])  # candidates are oldest first
    aged = [h for h in older if h.started_at <= run.started_at - min_age]
    if aged:
        return aged[-1]
    return older[-1] if older else None


def _trend_points(history: History, runs: Sequence[RunHeader], filters: Filters) -> tuple[TrendPoint, ...]:
    counts = counts_frame(history, [h.id for h in runs], "run", filters)
    scores = score_frame(counts, "run").set_index("run_id")
    fails = counts[counts["status"] == Status.FAIL.value].groupby(["run_id", "severity"])["n"].sum()
    q = (select(s.runs.c.id, s.repos.c.name)
         .join(s.repo_summaries, s.repo_summaries.c.run_pk == s.runs.c.pk)
         .join(s.repos, s.repos.c.pk == s.repo_summaries.c.repo_pk)
         .where(s.runs.c.id.in_([h.id for h in runs])))
    repo_counts: dict[str, int] = {}
    with history.read() as conn:
        for run_id, repo in conn.execute(q):
            if filters.keeps_repo(repo):
                repo_counts[run_id] = repo_counts.get(run_id, 0) + 1
    table: dict[str, dict[str, object]] = scores.to_dict(orient="index")  # type: ignore[assignment]
    points = []
    for h in runs:
        row = table.get(h.id, {})
        points.append(TrendPoint(
            run_id=h.id, at=h.started_at, score=_num(row.get("score")), coverage=_num(row.get("coverage")),
            counts={st.value: int(_num(row.get(st.value)) or 0) for st in Status},
            failing_by_severity={sv.value: int(fails.get((h.id, sv.value), 0)) for sv in Severity},
            repos=repo_counts.get(h.id, 0)))
    return tuple(points)


def _num(value: object) -> float | None:
    """A float from a frame cell, None for missing or NaN."""
    if value is None or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def build_report_input(history: History, *, at: str | datetime | None = None, since: datetime | None = None,
                       repos: Sequence[str] | None = None, families: Sequence[str] | None = None,
                       policy: Iterable[WaiverLike] | None = None, now: datetime | None = None,
                       same_scope: bool = True, title: str = "Deployment compliance report") -> ReportInput:
    """Everything the weekly report shows, from the history alone.

    The report's run is the latest complete run (or the one named / the latest at or before the
    time given by `at`); it is compared with the newest complete run at least five days older (else
    the run just before). The trend covers every complete run from `since` to it, oldest first.
    With `same_scope`, only runs of the same scope (e.g. the same org) are compared and trended,
    so an ad-hoc audit of one repo does not read as the whole org's score falling.
    `policy` is the policy's waivers; without it, expiring waivers are read from the results.
    """
    generated = now or utcnow()
    filters = Filters(tuple(repos or ()), tuple(families or ()))
    complete = history.runs(complete_only=True)
    head = _pick_run(complete, at)
    upto = complete[: complete.index(head) + 1]
    scoped = [h for h in upto if h.scope == head.scope] if same_scope else upto
    prev_head = previous_run(scoped, head)
    in_range = [h for h in scoped if since is None or h.started_at >= since]
    run = history.load_run(head.id)
    previous = history.load_run(prev_head.id) if prev_head else None
    cur = [r for r in run.results if filters.keeps(r)]
    before = [r for r in previous.results if filters.keeps(r)] if previous else []
    changes = compare(before, cur)
    life = lifetimes(history, upto, range_start=in_range[0].started_at if since is not None else None,
                     filters=filters)
    open_keys = {r.key for r in cur if r.status is Status.FAIL}
    described = filters.describe()
    if since is not None:
        described["since"] = since.isoformat()
    return ReportInput(
        run=run, previous=previous, trend=_trend_points(history, in_range, filters),
        new_findings=changes.new, fixed_findings=changes.fixed, regressions=changes.regressions,
        first_seen={k: t for k, t in life.first_seen.items() if k in open_keys},
        repo_trends=repo_trends(cur, before),
        waivers=waiver_statuses(cur, generated.date(),
                                waivers=policy if policy is not None else history.run_waivers(run.id)),
        generated_at=generated, mean_time_to_resolve_days=life.mean_time_to_resolve_days,
        title=title, filters=described)
