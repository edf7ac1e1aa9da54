"""The view model's arithmetic: deltas, shares, sparklines, chart geometry, sorting, fallbacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from auditor.model import Severity, Status
from auditor.report.view import (
    build_view,
    count_delta,
    nice_step,
    pct,
    points_delta,
    run_coverage,
    run_score,
    sparkline,
)
from tests.report.fixtures import HOSTILE_REPO, NOW, RULES, report_input, result


@pytest.mark.parametrize(
    ("now", "before", "text", "word", "tone"),
    [
        (0.82, 0.79, "+3.0 pts", "better", "good"),
        (0.50, 0.60, "-10.0 pts", "worse", "bad"),
        (0.5, 0.5, "\u00b10.0 pts", "no change", "flat"),
    ],
)
def test_points_delta(now: float, before: float, text: str, word: str, tone: str) -> None:
    d = points_delta(now, before)
    assert d is not None
    assert (d.text, d.word, d.tone) == (text, word, tone)


def test_points_delta_is_none_without_both_values() -> None:
    assert points_delta(None, 0.5) is None
    assert points_delta(0.5, None) is None


@pytest.mark.parametrize(
    ("now", "before", "fewer_is_better", "text", "word"),
    [
        (3, 7, True, "4 fewer", "better"),
        (7, 3, True, "4 more", "worse"),
        (7, 3, False, "4 more", "better"),
        (2, 2, True, "no change", "no change"),
    ],
)
def test_count_delta(now: int, before: int, fewer_is_better: bool, text: str, word: str) -> None:
    d = count_delta(now, before, fewer_is_better=fewer_is_better)
    assert d is not None
    assert (d.text, d.word) == (text, word)


def test_score_is_severity_weighted_and_ignores_unknown() -> None:
    rs = [
        result("a", "r", "t1", Status.PASS, Severity.CRITICAL),
        result("b", "r", "t2", Status.FAIL, Severity.LOW),
        result("c", "r", "t3", Status.UNKNOWN, Severity.CRITICAL),
    ]
    assert run_score(rs) == pytest.approx(10 / 12.5)
    assert run_coverage(rs) == pytest.approx(2 / 3)
    assert run_score([result("c", "r", "t", Status.UNKNOWN)]) is None


def test_pct_and_sparkline() -> None:
    assert pct(None) == "\u2014"
    assert pct(0.824) == "82%"
    assert sparkline([0.0, 0.5, None, 1.0]) == "\u2581\u2585 \u2588"
    assert sparkline([]) == ""
    assert len(set(sparkline([0.3, 0.3]))) == 1


@pytest.mark.parametrize(("maximum", "step"), [(0, 1), (4, 1), (15, 5), (40, 10), (130, 50)])
def test_nice_step(maximum: float, step: float) -> None:
    assert nice_step(maximum) == step


def test_headlines_compare_with_the_previous_run() -> None:
    view = build_view(report_input(), RULES)
    heads = {h.key: h for h in view.headlines}
    assert heads["failing"].value == "6"
    assert heads["repos"].value == "1 of 4"
    assert heads["repos"].delta is not None
    assert heads["repos"].delta.text == "1 more"
    assert heads["score"].delta is not None
    assert heads["score"].delta.word == "better"
    assert "1 new, 1 fixed" in heads["failing"].note


def test_headline_without_previous_run_has_no_delta() -> None:
    ri = replace(report_input(), previous=None)
    view = build_view(ri, RULES)
    assert all(h.delta is None for h in view.headlines)


def test_failing_findings_sorted_by_severity_and_grouped_by_repo() -> None:
    view = build_view(report_input(), RULES)
    ranks = [Severity(f.severity).rank for f in view.failing]
    assert ranks == sorted(ranks, reverse=True)
    assert all(f.badge.status == "fail" for f in view.failing)
    assert sum(len(g.findings) for g in view.failing_by_repo) == len(view.failing) == 6
    web = next(g for g in view.failing_by_repo if g.repo == "acme/web")
    assert [f.rule for f in web.findings] == ["branch-no-force-push", "reviews-required-approvals", "docs-rollback"]
    new = next(f for f in web.findings if f.rule == "branch-no-force-push")
    assert new.is_new
    assert new.open_days == 0
    old = next(f for f in web.findings if f.rule == "docs-rollback")
    assert not old.is_new
    assert old.open_days == 42


def test_unobserved_lists_unknown_and_error_results() -> None:
    view = build_view(report_input(), RULES)
    assert sorted(f.badge.status for f in view.unobserved) == ["error", "unknown", "unknown"]


def test_missing_rule_falls_back_to_its_id() -> None:
    view = build_view(report_input(), RULES)
    row = next(r for r in view.rule_rows if r.rule == "security-dependabot-alerts")
    assert row.title == "security-dependabot-alerts"
    assert row.counts["error"] == 1


def test_repo_table_puts_failing_repos_first_with_score_delta() -> None:
    view = build_view(report_input(), RULES)
    assert [r.badge.status for r in view.repo_rows][-1] == "pass"
    payments = next(r for r in view.repo_rows if r.repo == "acme/payments")
    assert payments.delta is not None
    assert payments.delta.text == "+28.0 pts"
    hostile = next(r for r in view.repo_rows if r.repo == HOSTILE_REPO)
    assert hostile.delta is None  # no previous score


def test_score_chart_breaks_the_line_at_a_run_without_score() -> None:
    view = build_view(report_input(), RULES)
    score = view.score_chart.series[0]
    assert score.name == "Score"
    assert len(score.segments) == 2  # week 3 has no score
    assert len(score.markers) == 11
    chart = view.score_chart
    for m in score.markers:
        assert chart.left <= m.x <= chart.right
        assert chart.top <= m.y <= chart.bottom
    first_x = float(score.segments[0].split()[0].split(",")[0])
    assert first_x == chart.left


def test_severity_bars_stack_to_their_totals() -> None:
    ri = report_input()
    view = build_view(ri, RULES)
    chart = view.severity_chart
    assert len(chart.bars) == 12
    top_value = float(chart.y_ticks[-1].label)
    for bar, point in zip(chart.bars, ri.trend, strict=True):
        assert bar.total == sum(point.failing_by_severity.values())
        height = sum(s.height for s in bar.segments)
        assert height == pytest.approx(bar.total / top_value * (chart.bottom - chart.top), abs=0.5)
        if bar.segments:
            assert bar.segments[-1].severity == next(
                s for s in ("critical", "high", "medium", "low", "info") if point.failing_by_severity.get(s)
            )


def test_waivers_sorted_by_expiry_with_state_in_words() -> None:
    view = build_view(report_input(), RULES)
    assert [w.state for w in view.waivers] == ["expired", "expiring", "active"]
    assert view.waivers[0].state_label == "Expired 6 days ago"
    assert view.waivers[1].state_label == "Expires in 7 days"
    assert view.waivers[2].repos == "all repos"


def test_long_github_strings_are_truncated_for_display() -> None:
    view = build_view(report_input(), RULES)
    long = [f for f in view.failing if f.target.startswith("secret:AAAA")]
    assert long
    assert len(long[0].target) <= 120
    assert long[0].target.endswith("\u2026")
    assert all(len(v) <= 300 for f in view.failing for _, v in f.evidence)


def test_single_run_trend_centres_its_point() -> None:
    ri = report_input()
    ri = replace(ri, trend=ri.trend[-1:], generated_at=NOW + timedelta(minutes=1))
    chart = build_view(ri, RULES).score_chart
    marker = chart.series[0].markers[0]
    assert marker.x == pytest.approx((chart.left + chart.right) / 2, abs=0.1)
