"""Permissions: tokens that cannot read everything see `unknown` with the permission named, never `pass`.

The sandbox's demo organisation is audited with the admin token (the reference), then with a classic
read-only token, a GitHub App installation without Secrets/Administration and a fine-grained token
without Secrets/Environments. The free-plan private repository answers "Upgrade to GitHub Pro" for
branch protection whatever the token. `auditor doctor` must list the same gaps the audit reports.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.cli import main
from auditor.sandbox import DEMO_TOKEN, DEMO_WORLD, SandboxServer, load_world, serve
from tests.reliability.support import ORG, AuditRun, audit, record

RESTRICTED = ["sandbox-readonly-token", "sandbox-app-token", "sandbox-fine-grained-token"]
NEEDS = re.compile(r"needs ([^(.;]+?)(?: \(HTTP \d+\))?\.?$")
PLAN = re.compile(r"plan offers no (classic )?branch protection")


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with serve(load_world(DEMO_WORLD)) as s:
        yield s


@pytest.fixture(scope="module")
def admin(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    run = audit(server.url, tmp_path_factory.mktemp("admin"), env={"GITHUB_TOKEN": DEMO_TOKEN})
    assert run.code in (0, 1), run.stderr
    return run


def doctor(url: str, token: str) -> dict[str, Any]:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("GITHUB_TOKEN", token)
        code = main(["doctor", "--org", ORG, "--sample", "20", "--base-url", url, "--json"])
    assert code == 0
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def named_permissions(run: AuditRun) -> set[tuple[str, str]]:
    """(repo, permission) for every unknown result whose reason names a permission."""
    out = set()
    for f in run.report["findings"]:
        if f["status"] == "unknown":
            match = NEEDS.search(f["message"])
            if match:
                out.add((f["repo"], match.group(1).strip()))
    return out


@pytest.mark.parametrize("token", RESTRICTED)
def test_restricted_token_gives_unknown_with_permission(token: str, server: SandboxServer, admin: AuditRun,
                                                        tmp_path: Path) -> None:
    run = audit(server.url, tmp_path, env={"GITHUB_TOKEN": token})
    assert run.code in (0, 1), run.stderr
    reference, seen = admin.findings(), run.findings()
    # The admin token is itself read-only on one repository, so a result it could not observe may be
    # observed (and pass) under another token; a result it saw fail must never pass.
    became_pass = [k for k, f in seen.items() if f["status"] == "pass" and k in reference
                   and reference[k]["status"] in ("fail", "error")]
    assert not became_pass, f"less permission made results pass: {became_pass[:5]}"
    unknown = [f for f in seen.values() if f["status"] == "unknown"]
    denied = [f for f in unknown if re.search(r"HTTP 40[34]\)", f["message"]) and not PLAN.search(f["message"])]
    assert denied, "a restricted token must meet permission denials"
    unnamed = [f["message"] for f in denied if not NEEDS.search(f["message"])]
    assert not unnamed, f"permission denials that do not name the permission: {unnamed[:3]}"
    # Every admin-only fact the admin token saw as pass/fail is now unknown, not a different verdict.
    changed = [k for k, f in seen.items() if k in reference and f["status"] != reference[k]["status"]
               and reference[k]["status"] in ("pass", "fail")]
    assert all(seen[k]["status"] in ("unknown", "error", "not_applicable") for k in changed), [
        (k, reference[k]["status"], seen[k]["status"]) for k in changed if seen[k]["status"] not in
        ("unknown", "error", "not_applicable")][:5]

    gaps = doctor(server.url, token)
    listed = {(row["repo"], row["permission"]) for row in gaps["facts"] if not row["visible"] and row["permission"]}
    missing = named_permissions(run) - listed
    assert not missing, f"doctor does not list gaps the audit reported: {sorted(missing)[:5]}"
    record("Permissions", tokens=1, unknown_with_permission=len(denied), became_pass=0,
           gaps_missing_from_doctor=len(missing))


def test_free_plan_private_repo_is_unknown_with_the_plan_named(admin: AuditRun) -> None:
    branch = [f for f in admin.report["findings"] if f["repo"] == f"{ORG}/internal-tools"
              and f["family"] == "branch" and f["rule"] != "branch-exists"]
    assert branch
    assert all(f["status"] == "unknown" for f in branch), [(f["rule"], f["status"]) for f in branch]
    assert all(PLAN.search(f["message"]) and "(HTTP 403)" in f["message"] for f in branch)


def test_read_only_repo_under_admin_token_names_administration(admin: AuditRun) -> None:
    """partner-portal is read-only for the demo token: its protection rules are unknown, Administration named."""
    portal = [f for f in admin.report["findings"] if f["repo"] == f"{ORG}/partner-portal"
              and f["family"] == "branch" and f["rule"] != "branch-exists"]
    assert portal and all(f["status"] == "unknown" for f in portal)
    assert all("Administration" in f["message"] for f in portal)
