"""Hand-built facts for the docs-, security- and pr- rule tests (extends tests/factories.py)."""

from __future__ import annotations

from datetime import timedelta
from textwrap import dedent
from typing import Any

from auditor.facts import CheckResult, DocFile, Docs, PathChange, PullRequest, Review, Workflow, Workflows
from auditor.workflows import parse_workflow
from tests.factories import NOW

DEFAULT_DOCS = ("README.md", "docs/deployment.md", "docs/rollback.md")
WATCHED = (".github/workflows/*", "deploy/**", "infra/**")


def days_ago(days: float) -> Any:
    """A timestamp `days` before collection time."""
    return NOW - timedelta(days=days)


def doc(path: str, age_days: float | None = 10, exists: bool = True) -> DocFile:
    """A doc file last changed `age_days` ago (None: change unknown)."""
    return DocFile(path=path, exists=exists,
                   last_changed_at=days_ago(age_days) if exists and age_days is not None else None)


def docs(*files: DocFile, watched: dict[str, float | None] | None = None, **kw: Any) -> Docs:
    """Docs with the given files (default: the three default docs, 10 days old) and watched ages."""
    ages = watched if watched is not None else dict.fromkeys(WATCHED)
    changes = tuple(PathChange(glob=g, last_changed_at=days_ago(a) if a is not None else None,
                               path=None if a is None else g.replace("*", "deploy.yml"))
                    for g, a in ages.items())
    return Docs(files=files or tuple(doc(p) for p in DEFAULT_DOCS), watched=changes, ref="main", **kw)


def pull_request(**kw: Any) -> PullRequest:
    """PR #42 by alice from feature/login into staging, approved by bob, one green check."""
    base: dict[str, Any] = {
        "number": 42, "title": "Add login", "author": "alice", "head_ref": "feature/login",
        "base_ref": "staging", "head_sha": "b" * 40, "head_repo": "acme/web", "state": "open",
        "reviews": (Review("bob", "APPROVED"),), "checks": (CheckResult("test", conclusion="success"),),
        "files": ("src/app.py",),
    }
    base.update(kw)
    return PullRequest(**base)


def workflow(text: str, path: str = ".github/workflows/ci.yml") -> Workflow:
    """A workflow parsed from YAML with the real parser."""
    return parse_workflow(path, dedent(text))


def workflows(*items: Workflow, **kw: Any) -> Workflows:
    """Workflows read at the PR head."""
    return Workflows(items=items, ref="b" * 40, **kw)
