"""The view model: every number, sort, grouping and chart coordinate a report shows.

Templates only display what is here, so the arithmetic is tested once, in Python, and the
Markdown and HTML reports can never disagree. Strings that came from GitHub are truncated here
for display (the JSON, CSV and SARIF outputs keep them whole) and escaped later by the
templates' environment; nothing here builds markup or URLs from them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from auditor.model import Result, Run, Severity, Status, iso
from auditor.report.escape import safe_identifier, truncate
from auditor.report.inputs import ReportInput, TrendPoint

# Display limits for strings that came from GitHub (names) or from rules (messages, evidence).
NAME_LIMIT = 120
MESSAGE_LIMIT = 600
EVIDENCE_LIMIT = 300
REASON_LIMIT = 400

SEVERITIES: tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.INFO,
)
STATUSES: tuple[Status, ...] = (
    Status.FAIL,
    Status.UNKNOWN,
    Status.ERROR,
    Status.WAIVED,
    Status.PASS,
    Status.NOT_APPLICABLE,
)
# Every status carries a word and an icon so nothing depends on colour alone.
STATUS_LABEL = {
    Status.PASS: ("Pass", "\u2714"),
    Status.FAIL: ("Fail", "\u2716"),
    Status.UNKNOWN: ("Unknown", "?"),
    Status.NOT_APPLICABLE: ("N/A", "\u2013"),
    Status.WAIVED: ("Waived", "\u25d0"),
    Status.ERROR: ("Error", "!"),
}
SPARK = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class RuleMeta(Protocol):
    """What the view reads from a catalog rule (auditor.rules.base.Rule satisfies it)."""

    @property
    def title(self) -> str: ...
    @property
    def family(self) -> str: ...
    @property
    def remediation(self) -> str: ...
    @property
    def permission(self) -> str: ...


@dataclass(frozen=True)
class Delta:
    """A change since the previous run, in words and an arrow as well as colour."""

    text: str  # "+3.0 pts", "4 fewer"
    word: str  # "better", "worse", "no change"
    arrow: str  # ▲ ▼ ▬
    tone: str  # good, bad, flat (a CSS class)
    value: float


@dataclass(frozen=True)
class Headline:
    """One number at the top of the report."""

    key: str
    label: str
    value: str
    delta: Delta | None
    note: str


@dataclass(frozen=True)
class StatusBadge:
    """A status as a CSS class, a word and an icon."""

    status: str
    label: str
    icon: str


@dataclass(frozen=True)
class FindingView:
    """One result, ready to display."""

    anchor: str
    rule: str
    rule_title: str
    family: str
    repo: str
    target: str
    badge: StatusBadge
    severity: str
    message: str
    evidence: tuple[tuple[str, str], ...]
    evidence_json: str
    remediation: str
    control: str
    waiver: str
    first_seen: str
    open_days: int | None
    is_new: bool
    doc_path: str


@dataclass(frozen=True)
class RepoFindings:
    """The failing findings of one repository."""

    repo: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class RepoRow:
    """One row of the repository table; the *_sort fields feed the sortable HTML table."""

    repo: str
    badge: StatusBadge
    score_text: str
    score_sort: float
    coverage_text: str
    coverage_sort: float
    delta: Delta | None
    counts: dict[str, int]
    error: str


@dataclass(frozen=True)
class RuleRow:
    """One row of the rule table: how a rule fared across repositories."""

    rule: str
    title: str
    family: str
    severity: str
    counts: dict[str, int]
    repos_failing: int


@dataclass(frozen=True)
class TrendRow:
    """One run in the trend table."""

    label: str
    run_id: str
    score_text: str
    coverage_text: str
    fail: int
    unknown: int
    by_severity: dict[str, int]


@dataclass(frozen=True)
class Tick:
    """An axis tick: position in SVG units and its label."""

    pos: float
    label: str


@dataclass(frozen=True)
class Marker:
    """A data point on a line, with the text of its tooltip."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Series:
    """One line of the line chart; `segments` are SVG polyline point lists (gaps break the line)."""

    name: str
    css: str
    segments: tuple[str, ...]
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class Segment:
    """One severity's block in a stacked bar."""

    y: float
    height: float
    severity: str
    title: str


@dataclass(frozen=True)
class Bar:
    """One run's stacked bar of failing findings by severity."""

    x: float
    width: float
    total: int
    label_y: float
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart's geometry; the plot area is [left, right] x [top, bottom]."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    series: tuple[Series, ...] = ()
    bars: tuple[Bar, ...] = ()


@dataclass(frozen=True)
class WaiverRow:
    """A waiver with its expiry in words."""

    rule: str
    repos: str
    targets: str
    owner: str
    reason: str
    expires: str
    days_left: int
    state: str  # expired, expiring, active
    state_label: str
    results_covered: int


@dataclass(frozen=True)
class ReportView:
    """Everything the Markdown and HTML templates display."""

    title: str
    generated_at: str
    run_id: str
    started_at: str
    finished_at: str
    previous_run: str
    tool_version: str
    policy: str
    scope: str
    complete: bool
    api: str
    filters: tuple[tuple[str, str], ...]
    headlines: tuple[Headline, ...]
    score_chart: Chart
    severity_chart: Chart
    trend_rows: tuple[TrendRow, ...]
    score_sparkline: str
    fail_sparkline: str
    repo_rows: tuple[RepoRow, ...]
    rule_rows: tuple[RuleRow, ...]
    failing: tuple[FindingView, ...]
    failing_by_repo: tuple[RepoFindings, ...]
    unobserved: tuple[FindingView, ...]
    new: tuple[FindingView, ...]
    fixed: tuple[FindingView, ...]
    regressions: tuple[FindingView, ...]
    waivers: tuple[WaiverRow, ...]
    totals: dict[str, int]
    severity_totals: dict[str, int]
    mttr: str


# ---------------------------------------------------------------- small formatting helpers


def pct(value: float | None) -> str:
    """A 0..1 share as a whole percentage, or an em dash when unknown."""
    return "\u2014" if value is None else f"{value * 100:.0f}%"


def day(ts: datetime) -> str:
    """A short, locale-independent date label such as 'Nov 26'."""
    return f"{_MONTHS[ts.month - 1]} {ts.day}"


def points_delta(now: float | None, before: float | None) -> Delta | None:
    """Change of a 0..1 share in percentage points; higher is better."""
    if now is None or before is None:
        return None
    change = (now - before) * 100
    if abs(change) < 0.05:
        return Delta("\u00b10.0 pts", "no change", "\u25ac", "flat", 0.0)
    good = change > 0
    return Delta(
        f"{change:+.1f} pts",
        "better" if good else "worse",
        "\u25b2" if good else "\u25bc",
        "good" if good else "bad",
        round(change, 3),
    )


def count_delta(now: int, before: int | None, *, fewer_is_better: bool = True) -> Delta | None:
    """Change of a count; for findings, fewer is better."""
    if before is None:
        return None
    change = now - before
    if change == 0:
        return Delta("no change", "no change", "\u25ac", "flat", 0.0)
    good = (change < 0) == fewer_is_better
    text = f"{abs(change)} fewer" if change < 0 else f"{change} more"
    return Delta(
        text,
        "better" if good else "worse",
        "\u25b2" if change > 0 else "\u25bc",
        "good" if good else "bad",
        float(change),
    )


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode block characters for a series; a gap is a space. Scaled to the series' range."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(SPARK[len(SPARK) // 2])
        else:
            out.append(SPARK[round((v - low) / span * (len(SPARK) - 1))])
    return "".join(out)


def nice_step(maximum: float, ticks: int = 4) -> float:
    """A 1-2-5 step so that about `ticks` steps cover `maximum`."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return float(max(m * magnitude, 1))
    return float(10 * magnitude)  # pragma: no cover - the loop always returns


def evidence_value(value: Any) -> str:
    """An evidence value as one short line: strings as is, everything else as compact JSON."""
    text = value if isinstance(value, str) else compact_json(value)
    return truncate(text, EVIDENCE_LIMIT)


def compact_json(value: Any) -> str:
    """Deterministic compact JSON (sorted keys); unknown types fall back to their string."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(repo: str, rule: str, target: str) -> str:
    """A stable hash of a finding's identity (repo, rule, target) across runs."""
    return hashlib.sha256(f"{repo}\x1f{rule}\x1f{target}".encode()).hexdigest()


# ---------------------------------------------------------------- score arithmetic


def run_score(results: Iterable[Result]) -> float | None:
    """Severity-weighted share of passes among pass + fail (docs/cli.md); None with nothing to weigh."""
    passed = weighed = 0.0
    for r in results:
        if r.status in (Status.PASS, Status.FAIL):
            weighed += r.severity.weight
            if r.status is Status.PASS:
                passed += r.severity.weight
    return None if weighed == 0 else passed / weighed


def run_coverage(results: Iterable[Result]) -> float | None:
    """Observed share of results: unknown and error results lower it."""
    counts = Counter(r.status for r in results)
    total = sum(counts.values())
    if total == 0:
        return None
    return (total - counts[Status.UNKNOWN] - counts[Status.ERROR]) / total


def _point_for(trend: Sequence[TrendPoint], run: Run | None) -> TrendPoint | None:
    if run is None:
        return None
    return next((p for p in trend if p.run_id == run.id), None)


def _status_counts(results: Iterable[Result]) -> dict[str, int]:
    counts = Counter(str(r.status) for r in results)
    return {str(s): counts.get(str(s), 0) for s in STATUSES}


# ---------------------------------------------------------------- building blocks


class _Rules:
    """Rule metadata with a graceful fallback to the id when the catalog lacks a rule."""

    def __init__(self, rules: Mapping[str, RuleMeta]) -> None:
        self._rules = rules

    def title(self, rule_id: str) -> str:
        rule = self._rules.get(rule_id)
        return rule.title if rule is not None and rule.title else rule_id

    def get(self, rule_id: str) -> RuleMeta | None:
        return self._rules.get(rule_id)


def badge(status: Status | str) -> StatusBadge:
    """The word and icon of a status."""
    st = Status(status)
    label, icon = STATUS_LABEL[st]
    return StatusBadge(str(st), label, icon)


def _severity_rank(result: Result) -> int:
    return -result.severity.rank


def finding_view(
    result: Result, rules: _Rules, report: ReportInput, new_keys: set[tuple[str, str, str]]
) -> FindingView:
    """Display form of one result."""
    seen = report.first_seen.get(result.key)
    open_days = None if seen is None else max((report.generated_at - seen).days, 0)
    waiver = ""
    if result.waiver is not None:
        w = result.waiver
        state = "expired" if w.expired else "expires"
        waiver = truncate(f"{w.owner}: {w.reason} ({state} {w.expires.isoformat()})", REASON_LIMIT)
    rule_id = result.rule
    return FindingView(
        anchor="f-" + fingerprint(result.repo, result.rule, result.target)[:16],
        rule=truncate(rule_id, NAME_LIMIT),
        rule_title=truncate(rules.title(rule_id), NAME_LIMIT),
        family=truncate(result.family, NAME_LIMIT),
        repo=truncate(result.repo, NAME_LIMIT),
        target=truncate(result.target, NAME_LIMIT),
        badge=badge(result.status),
        severity=str(result.severity),
        message=truncate(result.message, MESSAGE_LIMIT),
        evidence=tuple((truncate(k, NAME_LIMIT), evidence_value(v)) for k, v in sorted(result.evidence.items())),
        evidence_json=truncate(compact_json(result.evidence), MESSAGE_LIMIT),
        remediation=truncate(result.remediation or _fallback_remediation(rules, rule_id), MESSAGE_LIMIT),
        control=truncate(result.control or "", NAME_LIMIT),
        waiver=waiver,
        first_seen="" if seen is None else seen.date().isoformat(),
        open_days=open_days,
        is_new=result.key in new_keys,
        doc_path=f"docs/rules/{rule_id}.md" if safe_identifier(rule_id) else "",
    )


def _fallback_remediation(rules: _Rules, rule_id: str) -> str:
    rule = rules.get(rule_id)
    return rule.remediation if rule is not None else ""


def _sort_findings(results: Iterable[Result]) -> list[Result]:
    return sorted(results, key=lambda r: (_severity_rank(r), r.repo, r.rule, r.target))


def _score_chart(trend: Sequence[TrendPoint]) -> Chart:
    width, height = 640, 240
    left, right, top, bottom = 44.0, 612.0, 16.0, 204.0
    n = len(trend)

    def x_at(i: int) -> float:
        return round(left + (right - left) / 2 if n == 1 else left + i * (right - left) / (n - 1), 1)

    def y_at(v: float) -> float:
        return round(bottom - max(0.0, min(1.0, v)) * (bottom - top), 1)

    series = []
    for name, css, attr in (("Score", "score", "score"), ("Coverage", "coverage", "coverage")):
        segments: list[str] = []
        current: list[str] = []
        markers = []
        for i, p in enumerate(trend):
            v = getattr(p, attr)
            if v is None:
                if current:
                    segments.append(" ".join(current))
                current = []
                continue
            x, y = x_at(i), y_at(v)
            current.append(f"{x},{y}")
            markers.append(Marker(x, y, f"{name} {pct(v)} on {day(p.at)}"))
        if current:
            segments.append(" ".join(current))
        series.append(Series(name, css, tuple(segments), tuple(markers)))
    y_ticks = tuple(Tick(y_at(v / 100), f"{v}%") for v in (0, 25, 50, 75, 100))
    return Chart(width, height, left, right, top, bottom, _x_ticks(trend, x_at), y_ticks, series=tuple(series))


def _x_ticks(trend: Sequence[TrendPoint], x_at: Any) -> tuple[Tick, ...]:
    n = len(trend)
    every = max(1, math.ceil(n / 6))
    return tuple(Tick(x_at(i), day(p.at)) for i, p in enumerate(trend) if (n - 1 - i) % every == 0)


def _severity_chart(trend: Sequence[TrendPoint]) -> Chart:
    width, height = 640, 240
    left, right, top, bottom = 44.0, 612.0, 24.0, 204.0
    n = max(len(trend), 1)
    totals = [sum(p.failing_by_severity.get(str(s), 0) for s in SEVERITIES) for p in trend]
    step = nice_step(max(totals, default=0))
    top_value = max(step * math.ceil(max(totals, default=0) / step), step)
    slot = (right - left) / n
    bar_w = round(min(36.0, slot * 0.6), 1)

    def y_at(v: float) -> float:
        return round(bottom - v / top_value * (bottom - top), 1)

    def x_center(i: int) -> float:
        return round(left + slot * (i + 0.5), 1)

    bars = []
    for i, p in enumerate(trend):
        base = 0
        segs = []
        for sev in reversed(SEVERITIES):  # info at the bottom, critical on top
            count = p.failing_by_severity.get(str(sev), 0)
            if count <= 0:
                continue
            y_top, y_base = y_at(base + count), y_at(base)
            segs.append(Segment(y_top, round(y_base - y_top, 1), str(sev), f"{count} {sev} on {day(p.at)}"))
            base += count
        bars.append(Bar(round(x_center(i) - bar_w / 2, 1), bar_w, totals[i], round(y_at(base) - 4, 1), tuple(segs)))
    y_ticks = tuple(Tick(y_at(k * step), f"{k * step:g}") for k in range(int(top_value / step) + 1))
    return Chart(width, height, left, right, top, bottom, _x_ticks(trend, x_center), y_ticks, bars=tuple(bars))


def _repo_rows(report: ReportInput) -> tuple[RepoRow, ...]:
    deltas = {t.repo: t.delta for t in report.repo_trends}
    rows = []
    for s in report.run.repos:
        delta_value = deltas.get(s.repo)
        delta = None if delta_value is None else points_delta(delta_value, 0.0)
        status = s.status if s.status in {str(x) for x in Status} else "error"
        rows.append(
            RepoRow(
                repo=truncate(s.repo, NAME_LIMIT),
                badge=badge(status),
                score_text=pct(s.score),
                score_sort=-1.0 if s.score is None else round(s.score, 4),
                coverage_text=pct(s.coverage),
                coverage_sort=-1.0 if s.coverage is None else round(s.coverage, 4),
                delta=delta,
                counts={str(st): s.counts.get(str(st), 0) for st in STATUSES},
                error=truncate(s.error or "", REASON_LIMIT),
            )
        )
    order = {"fail": 0, "error": 1, "unknown": 2, "pass": 3}
    rows.sort(key=lambda r: (order.get(r.badge.status, 4), r.score_sort, r.repo))
    return tuple(rows)


def _rule_rows(results: Sequence[Result], rules: _Rules) -> tuple[RuleRow, ...]:
    by_rule: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_rule[r.rule].append(r)
    rows = []
    for rule_id, rs in by_rule.items():
        worst = max(rs, key=lambda r: r.severity.rank).severity
        rows.append(
            RuleRow(
                rule=truncate(rule_id, NAME_LIMIT),
                title=truncate(rules.title(rule_id), NAME_LIMIT),
                family=truncate(rs[0].family, NAME_LIMIT),
                severity=str(worst),
                counts=_status_counts(rs),
                repos_failing=len({r.repo for r in rs if r.status is Status.FAIL}),
            )
        )
    rows.sort(key=lambda r: (-r.counts["fail"], -Severity(r.severity).rank, r.rule))
    return tuple(rows)


def _waiver_rows(report: ReportInput) -> tuple[WaiverRow, ...]:
    rows = []
    for w in sorted(report.waivers, key=lambda w: (w.days_left, w.rule)):
        if w.expired:
            state, label = "expired", f"Expired {-w.days_left} day{'s' if w.days_left != -1 else ''} ago"
        elif w.days_left <= 14:
            state, label = "expiring", f"Expires in {w.days_left} day{'s' if w.days_left != 1 else ''}"
        else:
            state, label = "active", f"Active, {w.days_left} days left"
        rows.append(
            WaiverRow(
                rule=truncate(w.rule, NAME_LIMIT),
                repos=truncate(", ".join(w.repos) or "all repos", REASON_LIMIT),
                targets=truncate(", ".join(w.targets) or "all targets", REASON_LIMIT),
                owner=truncate(w.owner, NAME_LIMIT),
                reason=truncate(w.reason, REASON_LIMIT),
                expires=w.expires.isoformat(),
                days_left=w.days_left,
                state=state,
                state_label=label,
                results_covered=w.results_covered,
            )
        )
    return tuple(rows)


def _headlines(
    report: ReportInput,
    score: float | None,
    coverage: float | None,
    prev_score: float | None,
    prev_coverage: float | None,
    totals: dict[str, int],
    prev_totals: dict[str, int] | None,
) -> tuple[Headline, ...]:
    repos = report.run.repos
    passing = sum(1 for s in repos if s.status == "pass")
    prev_passing = None if report.previous is None else sum(1 for s in report.previous.repos if s.status == "pass")
    return (
        Headline(
            "score",
            "Compliance score",
            pct(score),
            points_delta(score, prev_score),
            "severity-weighted share of passing checks",
        ),
        Headline(
            "coverage",
            "Coverage",
            pct(coverage),
            points_delta(coverage, prev_coverage),
            "share of checks the token could observe",
        ),
        Headline(
            "failing",
            "Failing findings",
            str(totals["fail"]),
            count_delta(totals["fail"], None if prev_totals is None else prev_totals["fail"]),
            f"{len(report.new_findings)} new, {len(report.fixed_findings)} fixed since last week",
        ),
        Headline(
            "repos",
            "Repositories passing",
            f"{passing} of {len(repos)}",
            count_delta(passing, prev_passing, fewer_is_better=False),
            "every check passed or waived",
        ),
        Headline(
            "unknown",
            "Could not observe",
            str(totals["unknown"] + totals["error"]),
            count_delta(
                totals["unknown"] + totals["error"],
                None if prev_totals is None else prev_totals["unknown"] + prev_totals["error"],
            ),
            "unknown or error results; never counted as passing",
        ),
    )


def build_view(report: ReportInput, rules: Mapping[str, RuleMeta]) -> ReportView:
    """The whole view model of a report."""
    catalog = _Rules(rules)
    run = report.run
    results = run.results
    trend = report.trend
    point, prev_point = _point_for(trend, run), _point_for(trend, report.previous)
    score = point.score if point is not None else run_score(results)
    coverage = point.coverage if point is not None else run_coverage(results)
    prev_results = report.previous.results if report.previous is not None else None
    prev_score = (
        prev_point.score if prev_point is not None else (None if prev_results is None else run_score(prev_results))
    )
    prev_coverage = (
        prev_point.coverage
        if prev_point is not None
        else (None if prev_results is None else run_coverage(prev_results))
    )
    totals = _status_counts(results)
    prev_totals = None if prev_results is None else _status_counts(prev_results)
    new_keys = {r.key for r in report.new_findings}

    def views(rs: Iterable[Result]) -> tuple[FindingView, ...]:
        return tuple(finding_view(r, catalog, report, new_keys) for r in _sort_findings(rs))

    failing = views(r for r in results if r.status is Status.FAIL)
    by_repo: dict[str, list[FindingView]] = defaultdict(list)
    for f in failing:
        by_repo[f.repo].append(f)
    failing_by_repo = tuple(
        RepoFindings(repo, tuple(fs)) for repo, fs in sorted(by_repo.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )
    severity_totals = Counter(str(r.severity) for r in results if r.status is Status.FAIL)

    mttr = "" if report.mean_time_to_resolve_days is None else f"{report.mean_time_to_resolve_days:.1f} days"
    return ReportView(
        title=truncate(report.title, NAME_LIMIT),
        generated_at=iso(report.generated_at),
        run_id=truncate(run.id, NAME_LIMIT),
        started_at=iso(run.started_at),
        finished_at="" if run.finished_at is None else iso(run.finished_at),
        previous_run="" if report.previous is None else truncate(report.previous.id, NAME_LIMIT),
        tool_version=truncate(run.tool_version, NAME_LIMIT),
        policy=truncate(f"{run.policy.name} v{run.policy.version}", NAME_LIMIT),
        scope=truncate(run.scope, NAME_LIMIT),
        complete=run.complete,
        api=f"{run.api.requests} requests, {run.api.rate_limit_used} rate-limit units",
        filters=tuple((truncate(k, NAME_LIMIT), truncate(v, NAME_LIMIT)) for k, v in sorted(report.filters.items())),
        headlines=_headlines(report, score, coverage, prev_score, prev_coverage, totals, prev_totals),
        score_chart=_score_chart(trend),
        severity_chart=_severity_chart(trend),
        trend_rows=tuple(
            TrendRow(
                label=day(p.at),
                run_id=truncate(p.run_id, NAME_LIMIT),
                score_text=pct(p.score),
                coverage_text=pct(p.coverage),
                fail=p.counts.get("fail", 0),
                unknown=p.counts.get("unknown", 0),
                by_severity={str(s): p.failing_by_severity.get(str(s), 0) for s in SEVERITIES},
            )
            for p in trend
        ),
        score_sparkline=sparkline([p.score for p in trend]),
        fail_sparkline=sparkline([float(p.counts.get("fail", 0)) for p in trend]),
        repo_rows=_repo_rows(report),
        rule_rows=_rule_rows(results, catalog),
        failing=failing,
        failing_by_repo=failing_by_repo,
        unobserved=views(r for r in results if r.status in (Status.UNKNOWN, Status.ERROR)),
        new=views(report.new_findings),
        fixed=views(report.fixed_findings),
        regressions=views(report.regressions),
        waivers=_waiver_rows(report),
        totals=totals,
        severity_totals={str(s): severity_totals.get(str(s), 0) for s in SEVERITIES},
        mttr=mttr,
    )
