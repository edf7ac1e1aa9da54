"""World loading, validation errors and the 12-week timeline."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from auditor.sandbox import WorldError, load_world
from auditor.sandbox.__main__ import main
from tests.sandbox.client import PINNED_NOW, demo_world


def base(**repo: Any) -> dict[str, Any]:
    return {"now": "2026-03-02T00:00:00Z", "orgs": [{"login": "o"}],
            "repos": [{"name": "r", "branches": ["main", "staging"], **repo}]}


@pytest.mark.parametrize(
    ("world", "expected"),
    [
        (base(aprovals=1), "world.repos[0]: unknown key 'aprovals'"),
        (base(visibility="secret"), "world.repos[0].visibility: must be one of public, private, internal"),
        (base(pulls=[{"head": "feature/x", "base": "nope"}]), "world.repos[0].pulls[0].base: no such branch 'nope'"),
        (base(pulls=[{"head": "feature/x"}]), "world.repos[0].pulls[0]: missing required key 'base'"),
        (base(protection={"dev": {"enforce_admins": True}}), "world.repos[0].protection.dev: no such branch"),
        (base(protection={"main": {"required_approvals": "two"}}),
         "world.repos[0].protection.main.required_approvals: must be a number"),
        (base(environments=[{"name": "production", "wait_timer": -1}]),
         "world.repos[0].environments[0].wait_timer: must be >= 0"),
        ({"repos": "nope"}, "world.repos: must be a list"),
        ({"orgs": []}, "world: missing required key 'repos'"),
        ({**base(), "timeline": [{"week": 2, "repo": "ghost", "set": {"archived": True}}]},
         "world.timeline[0].repo: no repository 'ghost'"),
        ({**base(environments=["staging"]),
          "timeline": [{"week": 2, "repo": "r", "set": {"environments.prod.wait_timer": 5}}]},
         "world.timeline[0].set.environments.prod.wait_timer: no item named 'prod'"),
        ({**base(), "timeline": [{"week": 2, "repo": "r", "set": {"topics": 5}}]},
         "world (after timeline).repos[0].topics: must be a list"),
        ({**base(), "tokens": [{"value": "x", "login": "y", "permissions": {"secrets": "read"}}]},
         "world.tokens[0].permissions: only fine_grained and app tokens have permission sets"),
    ],
)
def test_malformed_worlds_name_the_path(world: dict[str, Any], expected: str) -> None:
    with pytest.raises(WorldError) as info:
        load_world(world)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(WorldError) as info:
        load_world(base(archived="yes", fork=3, topics="x"))
    assert len(info.value.problems) == 3


@pytest.mark.parametrize("text", ["repos: [", "- just\n- a list\n", "", "{\"repos\": [1]"])
def test_unparseable_text_is_a_world_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "w.yml"
    path.write_text(text)
    with pytest.raises(WorldError) as info:
        load_world(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_world_error(tmp_path: Path) -> None:
    with pytest.raises(WorldError, match="cannot read"):
        load_world(tmp_path / "absent.yml")


def test_json_world_file(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(base()))
    assert load_world(path).repo_names == ["o/r"]


def test_cli_reports_a_bad_world_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("repos: [{name: r, colour: blue}]\n")
    assert main(["--world", str(path), "--port", "0"]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err


def test_relative_dates_follow_now() -> None:
    world = load_world(base(pulls=[{"head": "feature/x", "base": "staging", "merged_days_ago": 3}]))
    pull = world.state.repos["o/r"].pulls[0]
    assert pull.merged_at == PINNED_NOW - timedelta(days=3)
    assert pull.number == 1
    assert pull.state == "closed"


def test_demo_world_loads_with_eight_repositories_at_the_last_week() -> None:
    world = demo_world()
    assert world.week == 12
    assert len(world.repo_names) == 8
    assert world.now == PINNED_NOW


def test_timeline_adds_a_repo_at_week_6() -> None:
    world = demo_world()
    assert "acme-demo/search-service" not in world.at_week(5).state.repos
    assert "acme-demo/search-service" in world.at_week(6).state.repos


def test_timeline_protection_fix_and_regression() -> None:
    world = demo_world()
    repo = "acme-demo/data-pipeline"
    assert "main" not in world.at_week(3).state.repos[repo].protection
    assert world.at_week(4).state.repos[repo].protection["main"]["allow_force_pushes"] is False
    assert world.at_week(8).state.repos[repo].protection["main"]["allow_force_pushes"] is True


def test_timeline_environment_and_org_secret_changes() -> None:
    world = demo_world()
    env = {e.name: e for e in world.at_week(4).state.repos["acme-demo/payments-api"].environments}
    assert env["production"].prevent_self_review is False
    env = {e.name: e for e in world.at_week(5).state.repos["acme-demo/payments-api"].environments}
    assert env["production"].prevent_self_review is True
    visibility = {s.name: s.visibility for s in world.at_week(2).state.orgs["acme-demo"].secrets}
    assert visibility["ORG_SONAR_TOKEN"] == "all"
    visibility = {s.name: s.visibility for s in world.at_week(3).state.orgs["acme-demo"].secrets}
    assert visibility["ORG_SONAR_TOKEN"] == "selected"


def test_earlier_weeks_move_now_back_and_hide_later_activity() -> None:
    world = demo_world()
    week8 = world.at_week(8)
    assert week8.now == PINNED_NOW - timedelta(weeks=4)
    repo = week8.state.repos["acme-demo/payments-api"]
    assert all(d.created_at <= week8.now for d in repo.deployments)
    assert all(p.merged_at is None or p.merged_at <= week8.now for p in repo.pulls)
    assert len(repo.deployments) < len(world.state.repos["acme-demo/payments-api"].deployments)
    with pytest.raises(WorldError):
        world.at_week(13)


def test_promotions_fast_forward_so_production_deploys_staged_commits() -> None:
    repo = demo_world().state.repos["acme-demo/payments-api"]
    staged = {d.sha for d in repo.deployments if d.environment == "staging"}
    production = [d for d in repo.deployments if d.environment == "production"]
    assert production
    assert all(d.sha in staged for d in production)
    main_shas = [s for s, _ in repo.branches["main"].history]
    merged = [p for p in repo.pulls if p.merged_at and p.base_ref == "main"]
    assert all(p.merge_commit_sha in main_shas for p in merged)


def test_direct_pushes_have_no_pull_request() -> None:
    repo = demo_world().state.repos["acme-demo/legacy-billing"]
    in_prs = {s for p in repo.pulls for s in (*p.commits, p.merge_commit_sha)}
    direct = [s for s, _ in repo.branches["main"].history[1:] if s not in in_prs]
    assert len(direct) == 3
