"""Trends over a hand-built history whose answers are worked out by hand below.

Weekly runs w0..w5 of org:acme (status per run, '-' = no result):

    key                                         sev       w0  w1  w2  w3  w4  w5
    A acme/web branch-protected branch:main       high      P   F   F   U   F   F   open, first seen w1
    B acme/web reviews-required-approvals main    high      F   F   P   P   P   P   resolved w2 (14 d)
    C acme/api branch-protected branch:main       high      P   P   P   P   P   F   regression at w5
    D acme/api env-required-reviewers production  critical  F   P   F   F   F   P   resolved w1 (7 d), w5 (21)
    E legacy-billing env-required-reviewers prod  high      W   W   W   W   W   W   waiver expires in 10 days
    G legacy-billing docs-fresh file:docs/...     medium    -   -   -   -   -   F   new at w5

plus an ad-hoc run of acme/api (scope repo:acme/api) two days after w4, same as w4, and an
incomplete run after w5 that reports must ignore.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from auditor import trends
from auditor.history import History, HistoryError, RunHeader
from auditor.model import ApiCost, PolicyRef, Result, WaiverRef
from auditor.policy.model import Waiver
from tests.factories_history import result, run, week

NOW = week(5) + timedelta(days=1)
SOON = NOW.date() + timedelta(days=10)
WAIVER = WaiverRef("security@acme.example", "Manual deploys until the Q2 migration.", SOON)

KEYS = {
    "A": ("acme/web", "branch-protected", "branch:main", "high"),
    "B": ("acme/web", "reviews-required-approvals", "branch:main", "high"),
    "C": ("acme/api", "branch-protected", "branch:main", "high"),
    "D": ("acme/api", "env-required-reviewers", "environment:production", "critical"),
    "E": ("legacy-billing", "env-required-reviewers", "environment:production", "high"),
    "G": ("legacy-billing", "docs-fresh", "file:docs/deployment.md", "medium"),
}
TABLE = {
    "A": "PFFUFF",
    "B": "FFPPPP",
    "C": "PPPPPF",
    "D": "FPFFFP",
    "E": "WWWWWW",
    "G": "-----F",
}
LETTER = {"P": "pass", "F": "fail", "U": "unknown", "W": "waived"}


def week_results(n: int, only_repo: str | None = None) -> list[Result]:
    out = []
    for name, (repo, rule, target, sev) in KEYS.items():
        mark = TABLE[name][n]
        if mark == "-" or (only_repo and repo != only_repo):
            continue
        out.append(result(repo, rule, target, LETTER[mark], sev,
                          waiver=WAIVER if mark == "W" else None))
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    h = History.open(tmp_path_factory.mktemp("trends") / "history.sqlite")
    for n in range(6):
        h.record_run(run(f"w{n}", week(n), week_results(n)))
        if n == 4:
            h.record_run(run("adhoc", week(4) + timedelta(days=2), week_results(4, "acme/api"),
                             scope="repo:acme/api"))
    h.begin_run("w6", started_at=week(6), tool_version="0.1.0", policy=PolicyRef("p", 1, "d"),
                scope="org:acme")
    h.add_results("w6", "acme/web", [])
    yield h
    h.close()


def keys(results) -> set[str]:
    names = {(repo, rule, target): n for n, (repo, rule, target, _) in KEYS.items()}
    return {names[r.key] for r in results}


def test_weekly_report_input(history: History) -> None:
    ri = trends.build_report_input(history, now=NOW)
    assert ri.run.id == "w5"
    assert ri.previous is not None
    assert ri.previous.id == "w4"
    assert keys(ri.new_findings) == {"C", "G"}
    assert keys(ri.regressions) == {"C"}
    assert keys(ri.fixed_findings) == {"D"}
    assert all(r.status == "fail" for r in ri.fixed_findings)  # the finding as it was when open
    assert ri.first_seen == {KEYS["A"][:3]: week(1), KEYS["C"][:3]: week(5), KEYS["G"][:3]: week(5)}
    assert ri.mean_time_to_resolve_days == pytest.approx((14 + 7 + 21) / 3)
    assert [p.run_id for p in ri.trend] == ["w0", "w1", "w2", "w3", "w4", "w5"]  # no ad-hoc, no incomplete
    w3, w5 = ri.trend[3], ri.trend[5]
    assert w3.score == pytest.approx(15 / 25)
    assert w3.coverage == pytest.approx(4 / 5)
    assert w5.score == pytest.approx(17.5 / 37.5)
    assert w5.coverage == 1.0
    assert w5.counts == {"pass": 2, "fail": 3, "unknown": 0, "not_applicable": 0, "waived": 1, "error": 0}
    assert w5.failing_by_severity == {"critical": 0, "high": 2, "medium": 1, "low": 0, "info": 0}
    assert w5.repos == 3
    assert ri.trend[0].repos == 3
    by_repo = {t.repo: t for t in ri.repo_trends}
    assert by_repo["acme/api"].delta == pytest.approx(10 / 17.5 - 7.5 / 17.5)
    assert by_repo["acme/web"].delta == 0
    assert by_repo["legacy-billing"].score == 0.0
    assert by_repo["legacy-billing"].delta is None
    assert [t.repo for t in ri.repo_trends] == ["acme/api", "acme/web", "legacy-billing"]
    assert [(w.rule, w.days_left, w.results_covered, w.repos) for w in ri.waivers] == [
        ("env-required-reviewers", 10, 1, ("legacy-billing",))]
    assert ri.generated_at == NOW
    assert ri.filters == {}


def test_since_limits_the_trend_and_mttr_but_not_first_seen(history: History) -> None:
    ri = trends.build_report_input(history, since=week(3), now=NOW)
    assert [p.run_id for p in ri.trend] == ["w3", "w4", "w5"]
    assert ri.mean_time_to_resolve_days == pytest.approx(21)  # only D's second streak resolved in range
    assert ri.first_seen[KEYS["A"][:3]] == week(1)  # the streak began before the range
    assert ri.filters["since"] == week(3).isoformat()


@pytest.mark.parametrize(("repos", "families", "new", "fixed", "w5_score"), [
    (["acme/*"], None, {"C"}, {"D"}, 17.5 / 32.5),
    (None, ["env"], set(), {"D"}, 1.0),
    (["legacy-*"], ["docs", "env"], {"G"}, set(), 0.0),
    (["nothing-*"], None, set(), set(), None),
])
def test_filters(history: History, repos, families, new, fixed, w5_score) -> None:
    ri = trends.build_report_input(history, repos=repos, families=families, now=NOW)
    assert keys(ri.new_findings) == new
    assert keys(ri.fixed_findings) == fixed
    assert ri.trend[-1].score == (pytest.approx(w5_score) if w5_score is not None else None)
    assert {r.repo for r in ri.new_findings} <= {t.repo for t in ri.repo_trends} or not ri.new_findings
    assert set(ri.filters) == ({"repos"} if repos else set()) | ({"families"} if families else set())


def test_report_at_an_earlier_run(history: History) -> None:
    ri = trends.build_report_input(history, at="w2", now=NOW)
    assert (ri.run.id, ri.previous.id) == ("w2", "w1")
    assert keys(ri.fixed_findings) == {"B"}
    assert keys(ri.new_findings) == {"D"}  # pass in w1, fail in w2: also a regression
    assert keys(ri.regressions) == {"D"}
    assert ri.mean_time_to_resolve_days == pytest.approx((14 + 7) / 2)
    # a time picks the newest complete run started at or before it, whatever its scope
    assert trends.build_report_input(history, at=week(4) + timedelta(days=1), now=NOW).run.id == "w4"
    adhoc = trends.build_report_input(history, at=week(4) + timedelta(days=3), now=NOW)
    assert adhoc.run.id == "adhoc"
    assert adhoc.previous is None
    assert [p.run_id for p in adhoc.trend] == ["adhoc"]
    with pytest.raises(HistoryError, match="no complete run w6"):
        trends.build_report_input(history, at="w6", now=NOW)


def test_other_scopes_only_when_asked(history: History) -> None:
    ri = trends.build_report_input(history, same_scope=False, now=NOW)
    assert ri.previous.id == "adhoc"  # five days before w5: old enough to be "last week"
    assert "adhoc" in [p.run_id for p in ri.trend]
    assert ri.trend[[p.run_id for p in ri.trend].index("adhoc")].repos == 1


def test_policy_waivers_expiring_or_expired(history: History) -> None:
    today = NOW.date()
    policy = [
        Waiver(rule="env-required-reviewers", reason=WAIVER.reason, owner=WAIVER.owner, expires=SOON,
               repos=("legacy-*",), targets=("environment:production",)),
        Waiver(rule="secrets-no-plaintext", reason="Rotating.", owner="ops@acme.example",
               expires=today - timedelta(days=3)),
        Waiver(rule="docs-fresh", reason="Rewrite underway.", owner="docs@acme.example",
               expires=today + timedelta(days=200)),
        Waiver(rule="checks-required", reason="Edge.", owner="ci@acme.example",
               expires=today + timedelta(days=30)),
    ]
    ri = trends.build_report_input(history, policy=policy, now=NOW)
    assert [(w.rule, w.days_left, w.expired, w.results_covered) for w in ri.waivers] == [
        ("secrets-no-plaintext", -3, True, 0),
        ("env-required-reviewers", 10, False, 1),
        ("checks-required", 30, False, 0),
    ]
    assert ri.waivers[1].repos == ("legacy-*",)


def test_changes_between_any_two_runs(history: History) -> None:
    frame = trends.changes_frame(history, "w0", "w2")
    got = {(row.change, row.repo, row.rule) for row in frame.itertuples()}
    assert got == {
        ("new", "acme/web", "branch-protected"), ("regression", "acme/web", "branch-protected"),
        ("fixed", "acme/web", "reviews-required-approvals"),
        ("still_open", "acme/api", "env-required-reviewers"),
    }


def test_score_trend_by_dimension(history: History) -> None:
    runs = history.runs(scope="org:acme", complete_only=True)
    by_run = trends.score_trend(history, runs)
    assert list(by_run["run_id"]) == [f"w{n}" for n in range(6)]
    assert by_run["score"].iloc[3] == pytest.approx(0.6)
    fam = trends.score_trend(history, runs, by="family")
    last = fam[fam["run_id"] == "w5"].set_index("family")["score"].to_dict()
    assert last == pytest.approx({"branch": 0.0, "reviews": 1.0, "env": 1.0, "docs": 0.0})
    sev = trends.score_trend(history, runs, by="severity")
    last = sev[sev["run_id"] == "w5"].set_index("severity")["score"].to_dict()
    assert last == pytest.approx({"critical": 1.0, "high": 1 / 3, "medium": 0.0})
    repo = trends.score_trend(history, runs, by="repo", filters=trends.Filters(repos=("acme/*",)))
    assert set(repo["repo"]) == {"acme/web", "acme/api"}
    w3 = repo[repo["run_id"] == "w3"].set_index("repo")
    assert w3.loc["acme/web", "coverage"] == pytest.approx(0.5)
    assert w3.loc["acme/web", "unknown"] == 1


def test_ages_and_movers(history: History) -> None:
    ri = trends.build_report_input(history, now=NOW)
    ages = trends.ages_frame(ri.first_seen, NOW)
    assert next(iter(ages["rule"])) == "branch-protected"
    assert next(iter(ages["repo"])) == "acme/web"
    assert ages["age_days"].iloc[0] == pytest.approx(29)
    improved, slipped = trends.movers(ri.repo_trends)
    assert [t.repo for t in improved] == ["acme/api"]
    assert slipped == []


def _h(run_id: str, days: float, scope: str = "org:acme") -> RunHeader:
    return RunHeader(run_id, week(0) + timedelta(days=days), None, "0", PolicyRef("p", 1, "d"), ApiCost(),
                     scope, True)


@pytest.mark.parametrize(("days", "expected"), [
    ([0, 7, 14], "r1"),            # weekly: the run a week before
    ([0, 1, 2, 3, 4, 5, 6, 7], "r2"),  # daily: the newest at least five days older
    ([3, 5, 6], "r1"),             # nothing five days older: the run just before
    ([10], None),
])
def test_previous_run_choice(days, expected) -> None:
    hs = [_h(f"r{i}", d) for i, d in enumerate(days)]
    prev = trends.previous_run(hs, hs[-1])
    assert (prev.id if prev else None) == expected


def test_empty_history_is_a_clear_error(tmp_path: Path) -> None:
    with History.open(tmp_path / "h.sqlite") as h, pytest.raises(HistoryError, match="no complete run"):
        trends.build_report_input(h, now=NOW)


def test_waivers_from_results_when_no_policy() -> None:
    expired = WaiverRef("o", "r", date(2026, 1, 1), expired=True)
    rs = [result("a/x", "env-x", "environment:production", "fail", waiver=expired),
          result("a/y", "env-x", "environment:production", "fail", waiver=expired),
          result("a/z", "env-y", "environment:staging", "waived",
                 waiver=WaiverRef("o", "r", date(2027, 1, 1)))]
    got = trends.waiver_statuses(rs, date(2026, 1, 5))
    assert [(w.rule, w.repos, w.days_left, w.results_covered) for w in got] == [
        ("env-x", ("a/x", "a/y"), -4, 2)]


def test_runs_stored_out_of_time_order(tmp_path: Path) -> None:
    """A backfilled history (older runs stored last) gives the same answers."""
    with History.open(tmp_path / "h.sqlite") as h:
        for n in (3, 5, 0, 4, 1, 2):
            h.record_run(run(f"w{n}", week(n), week_results(n)))
        ri = trends.build_report_input(h, now=NOW)
        assert ri.first_seen[KEYS["A"][:3]] == week(1)
        assert ri.mean_time_to_resolve_days == pytest.approx((14 + 7 + 21) / 3)
        assert [p.run_id for p in ri.trend] == [f"w{n}" for n in range(6)]
