"""Local mode: facts from a git clone, for what files and history can show.

Workflows, CODEOWNERS presence, docs presence, headings and freshness (from `git log`), the file
tree and branch existence come from the clone; everything that only the GitHub API knows
(protection, environments, secrets, pull requests, deployments, ...) is a Gap saying so, so those
rules come out `unknown` ("needs the GitHub API"), never `pass`.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from datetime import datetime
from pathlib import Path

from auditor.facts import (
    NEEDS_API,
    SECURITY_FIELDS,
    BranchCommits,
    BranchFacts,
    Codeowners,
    Deployments,
    DocFile,
    Docs,
    Environments,
    Gap,
    PathChange,
    PullRequests,
    RepoFacts,
    Secrets,
    SecuritySettings,
    Webhooks,
    Workflows,
)
from auditor.plan import FactPlan
from auditor.rules.base import Need
from auditor.workflows import parse_workflow

CODEOWNERS_PATHS = ("CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


class LocalError(Exception):
    """The path is not a readable git clone."""


def _git(repo: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False,  # noqa: S607
                              timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalError(f"git failed in {repo}: {exc}") from exc
    if proc.returncode != 0:
        raise LocalError(proc.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed")
    return proc.stdout.decode(errors="replace")


def _ref_for(repo: Path, branch: str) -> str | None:
    for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"):
        try:
            _git(repo, "rev-parse", "--verify", "--quiet", ref)
        except LocalError:
            continue
        return ref
    return None


def headings_of(text: str) -> tuple[str, ...]:
    """Markdown ATX headings of a document, in order (the same parsing the API collector uses)."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else _HEADING.match(line)
        if match:
            out.append(match.group(1))
    return tuple(out)


def _name_from_remote(repo: Path) -> str:
    try:
        url = _git(repo, "remote", "get-url", "origin").strip()
    except LocalError:
        return f"local/{repo.resolve().name}"
    match = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{match.group(1)}/{match.group(2)}" if match else f"local/{repo.resolve().name}"


def _last_change(repo: Path, ref: str, pathspec: str) -> datetime | None:
    out = _git(repo, "log", "-1", "--format=%cI", ref, "--", pathspec).strip()
    return datetime.fromisoformat(out) if out else None


def collect_local(path: str | Path, plan: FactPlan, now: datetime) -> RepoFacts:
    """Facts of the clone at `path` for `plan`; API-only facts carry the NEEDS_API gap."""
    repo = Path(path)
    try:
        top = Path(_git(repo, "rev-parse", "--show-toplevel").strip())
    except LocalError as exc:
        raise LocalError(f"{path} is not a git clone: {exc}") from exc
    try:
        head_branch = _git(top, "rev-parse", "--abbrev-ref", "HEAD").strip()
    except LocalError:
        head_branch = "HEAD"
    production = plan.production_branch or (plan.branches[0] if plan.branches else head_branch)
    prod_ref = _ref_for(top, production) or "HEAD"

    branches = tuple(
        BranchFacts(name=b, exists=_ref_for(top, b) is not None,
                    classic_gap=NEEDS_API, rules_gap=NEEDS_API)
        for b in plan.branches)

    tree = tuple(_git(top, "ls-tree", "-r", "--name-only", prod_ref).splitlines())
    files = set(tree)

    def show(p: str) -> str:
        return _git(top, "show", f"{prod_ref}:{p}")

    workflows = None
    if plan.wants(Need.WORKFLOWS, Need.PULL_REQUEST):
        wf_paths = [p for p in tree if re.fullmatch(r"\.github/workflows/[^/]+\.ya?ml", p)]
        workflows = Workflows(items=tuple(parse_workflow(p, show(p)) for p in sorted(wf_paths)), ref=production)

    codeowners = None
    if plan.wants(Need.CODEOWNERS):
        found = next((p for p in CODEOWNERS_PATHS if p in files), None)
        codeowners = Codeowners(path=found, errors=None, errors_gap=NEEDS_API)

    docs = None
    if plan.wants(Need.DOCS):
        doc_files = []
        for p in plan.doc_paths:
            exists = p in files
            doc_files.append(DocFile(
                path=p, exists=exists,
                last_changed_at=_last_change(top, prod_ref, p) if exists else None,
                headings=headings_of(show(p)) if exists and p.lower().endswith((".md", ".markdown")) else None))
        watched = []
        for glob in plan.watched_globs:
            matching = [p for p in tree if fnmatch.fnmatchcase(p, glob)]
            latest: tuple[datetime, str] | None = None
            for p in matching:
                when = _last_change(top, prod_ref, p)
                if when and (latest is None or when > latest[0]):
                    latest = (when, p)
            watched.append(PathChange(glob=glob, last_changed_at=latest[0] if latest else None,
                                      path=latest[1] if latest else None))
        docs = Docs(files=tuple(doc_files), watched=tuple(watched), tree=tree, ref=production)

    api = NEEDS_API
    return RepoFacts(
        repo=_name_from_remote(top),
        collected_at=now,
        source="local",
        default_branch=production,
        repo_gap=None,
        branches=branches,
        environments=Environments(gap=api) if plan.wants(Need.ENVIRONMENTS, Need.ENV_SECRETS) else None,
        repo_secrets=Secrets(gap=api) if plan.wants(Need.REPO_SECRETS) else None,
        org_secrets=Secrets(gap=api) if plan.wants(Need.ORG_SECRETS) else None,
        security=SecuritySettings(gaps=dict.fromkeys(SECURITY_FIELDS, api))
        if plan.wants(Need.SECURITY, Need.WORKFLOW_PERMISSIONS) else None,
        codeowners=codeowners,
        workflows=workflows,
        docs=docs,
        pull_requests=PullRequests(gap=api) if plan.wants(Need.PULL_REQUESTS, Need.PR_CHECKS) else None,
        commits=tuple(BranchCommits(branch=b, gap=api) for b in plan.branches)
        if plan.wants(Need.COMMITS) else None,
        deployments=Deployments(gap=api) if plan.wants(Need.DEPLOYMENTS) else None,
        webhooks=Webhooks(gap=api) if plan.wants(Need.WEBHOOKS) else None,
    )


__all__ = ["Gap", "LocalError", "collect_local", "headings_of"]
