"""Shared pieces of the reliability suite: hypothesis profiles, figures, and an in-process audit.

Profiles (chosen by the environment variable HYPOTHESIS_PROFILE, default `ci`): `ci` is bounded so the
whole suite stays near a minute; `long` is for on-demand fuzzing runs. They are applied per property
(`@FUZZ`), not loaded globally, so other test modules keep their own settings.

Tests that measure something (faults injected, inputs tried, leaks found) call `record`; when the
environment names a file in AUDITOR_FIGURES, each figure is appended there as a JSON line, and
`tests/reliability/figures.py` turns them into the table of docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from auditor import session as session_module
from auditor.cli import main
from auditor.github import client as client_module

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=120, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile("long", max_examples=5000, deadline=None, suppress_health_check=_SLOW_OK)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
FUZZ = settings.get_profile(PROFILE if PROFILE in ("ci", "long") else "ci")

ORG = "acme-demo"
_LOCK = threading.Lock()


def record(row: str, **numbers: Any) -> None:
    """Add `numbers` to row `row` of the figures table (no-op unless AUDITOR_FIGURES names a file)."""
    target = os.environ.get("AUDITOR_FIGURES")
    if not target:
        return
    with _LOCK, Path(target).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"row": row, **numbers}) + "\n")


@dataclass
class AuditRun:
    """What one in-process `auditor audit` produced."""

    code: int
    stdout: str
    stderr: str
    out: Path
    waits: list[float] = field(default_factory=list)

    @property
    def report(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "audit.json").read_text(encoding="utf-8"))
        return data

    def findings(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Findings keyed by (repo, rule, target)."""
        return {(f["repo"], f["rule"], f["target"]): f for f in self.report["findings"]}


@contextlib.contextmanager
def recorded_waits(monkeypatch: pytest.MonkeyPatch, *, sleep: bool = False) -> Iterator[list[float]]:
    """Give every client the session makes a sleeper that records each wait (and skips it unless `sleep`).

    `make_client(sleeper=...)` is the client's own injection point for its clock; the waits it asks
    for are exactly what it would have slept, so bounding them bounds the real run.
    """
    import time

    waits: list[float] = []

    def sleeper(seconds: float) -> None:
        waits.append(seconds)
        if sleep:
            time.sleep(seconds)

    real = client_module.make_client

    def make_client(*args: Any, **kwargs: Any) -> client_module.GitHubClient:
        kwargs["sleeper"] = sleeper
        return real(*args, **kwargs)

    monkeypatch.setattr(session_module, "make_client", make_client)
    yield waits


def audit(url: str, out: Path, *extra: str, target: Sequence[str] = ("--org", ORG),
          formats: str = "json", env: Mapping[str, str] | None = None) -> AuditRun:
    """Run `auditor audit` in this process against `url`; capture its stdout and stderr."""
    out.mkdir(parents=True, exist_ok=True)
    argv = ["audit", *target, "--base-url", url, "--api", "rest", "--format", formats, "--output", str(out),
            "--history", str(out / "history.sqlite"), "--no-progress", "--no-cache", "--workers", "1", *extra]
    stdout, stderr = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return AuditRun(code, stdout.getvalue(), stderr.getvalue(), out)
