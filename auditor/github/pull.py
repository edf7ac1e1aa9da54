"""The pull-request gate's facts: one PR, its base branch's protection, its changed workflows.

`auditor check` runs on every push to a pull request, so this collector spends as few requests as
the gate's rules allow (measured in tests/github/test_pull.py): the PR, its files, reviews,
check runs and combined status; the base branch's protection and effective rules (not every role
branch, and not the rulesets' details, which only name bypass actors); and, only when the plan
asks for workflows and the PR changes some, the workflow directory at the PR head plus the changed
files. Everything is read from the base repository at the head sha, which GitHub serves for fork
PRs as well, so a fork needs no access of its own. Repository facts come from the PR's `base.repo`
instead of a separate GET of the repository.

What could not be read becomes a gap on its part; only a PR that cannot be read at all raises,
because a gate that cannot see its PR must not pass it.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from datetime import datetime
from typing import Any

from auditor.facts import Codeowners, DocFile, Docs, Gap, PullRequest, RepoFacts, Workflow, Workflows
from auditor.github import parse
from auditor.github.client import PageError
from auditor.github.collect import (
    CODEOWNERS_LOCATIONS,
    WORKFLOW_DIR,
    RestSource,
    _RepoCollector,
    _RepoState,
    _Tree,
    gap_from_error,
)
from auditor.github.errors import UnexpectedResponseError
from auditor.plan import FactPlan
from auditor.rules.base import Need

PR_READ = "Pull requests: read"
CONTENTS_READ = "Contents: read"


def is_workflow_file(path: str) -> bool:
    """GitHub runs only the YAML files directly in .github/workflows/."""
    return posixpath.dirname(path) == WORKFLOW_DIR and path.endswith((".yml", ".yaml"))


class PullRequestCollector(_RepoCollector):
    """Collects the gate's RepoFacts for pull request `number` of `full_name`."""

    def __init__(self, source: RestSource, full_name: str, number: int, plan: FactPlan, now: datetime) -> None:
        super().__init__(source, full_name, plan, now)
        self.number = number
        self.read_rulesets = False

    def collect(self) -> RepoFacts:
        """The PR with files, reviews and checks, plus the base branch and head files the plan needs."""
        resp = self.get(f"/pulls/{self.number}")
        if not resp.ok:
            raise UnexpectedResponseError(
                resp.status,
                f"GitHub would not show pull request #{self.number} of {self.full_name}"
                + (f": {resp.message}" if resp.message else ""),
                resp.accepted_permissions or PR_READ,
            )
        data = resp.json()
        repo = (data.get("base") or {}).get("repo") or {}
        pr = parse.pull_request(data)
        state = _RepoState(repo=repo, prod_branch=pr.head_sha)  # file facts are read at the head
        pr = self._with_files(pr)
        pr = self._with_reviews(pr)
        pr = self._with_checks(pr)
        facts = RepoFacts(
            repo=self.full_name,
            collected_at=self.now,
            source="rest",
            default_branch=str(repo.get("default_branch") or "") or None,
            visibility=repo.get("visibility") or (("private" if repo.get("private") else "public") if repo else None),
            archived=bool(repo.get("archived")),
            fork=bool(repo.get("fork")),
            topics=tuple(repo.get("topics") or ()),
            viewer_permission=parse.viewer_permission(repo),
            pull_request=pr,
        )
        updates: dict[str, Any] = {}
        if self.wants(Need.BRANCHES, Need.PROTECTION) and pr.base_ref:
            updates["branches"] = (self._branch(state, pr.base_ref),)
        if self.wants(Need.CODEOWNERS):
            updates["codeowners"] = self.guarded(
                "CODEOWNERS",
                CONTENTS_READ,
                lambda g: Codeowners(gap=g, errors=None),
                lambda: self._head_codeowners(state),
            )
        if self.wants(Need.DOCS):
            updates["docs"] = self.guarded(
                "the documentation",
                CONTENTS_READ,
                lambda g: Docs(ref=pr.head_sha, gap=g),
                lambda: self._head_docs(state),
            )
        if self.wants(Need.WORKFLOWS):
            updates["workflows"] = self.guarded(
                "the workflows",
                CONTENTS_READ,
                lambda g: Workflows(ref=pr.head_sha, gap=g),
                lambda: self._changed_workflows(state, pr),
            )
        return replace(facts, **updates)

    # -- the PR's parts -----------------------------------------------------------------------

    def _with_files(self, pr: PullRequest) -> PullRequest:
        def fetch() -> PullRequest:
            paths = [p for item in self.items(f"/pulls/{pr.number}/files") for p in parse.pr_file_paths(item)]
            return replace(pr, files=tuple(dict.fromkeys(paths)))

        def fallback(gap: Gap) -> PullRequest:
            return replace(pr, files=None, files_gap=gap)

        return self.guarded(f"the files of pull request #{pr.number}", PR_READ, fallback, fetch)

    # -- files at the head --------------------------------------------------------------------

    def _head_codeowners(self, state: _RepoState) -> Codeowners:
        """Where CODEOWNERS is at the head; its errors are not read (one request the gate saves)."""
        tree = self._tree(state)
        if tree.blobs is None:
            return Codeowners(gap=tree.gap, errors=None, errors_gap=tree.gap)
        path = next((p for p in CODEOWNERS_LOCATIONS if self._exists(state, tree, p)), None)
        unread = Gap("the pull-request gate reads only where CODEOWNERS is, not GitHub's errors in it")
        return Codeowners(path=path, errors=None if path else (), errors_gap=unread if path else None)

    def _head_docs(self, state: _RepoState) -> Docs:
        """Which doc files exist at the head, and the head's file list; no history, no headings."""
        tree = self._tree(state)
        if tree.blobs is None:
            return Docs(ref=state.prod_branch, gap=tree.gap)
        files = tuple(
            DocFile(path=p, exists=self._exists(state, tree, p) is not None) for p in self.plan.doc_paths
        )
        return Docs(files=files, tree=tuple(sorted(tree.blobs)), ref=state.prod_branch)

    def _changed_workflows(self, state: _RepoState, pr: PullRequest) -> Workflows:
        """The workflow files the PR changes, parsed as the PR would leave them.

        Unchanged workflows are identical on the base and are not fetched; a changed path absent
        at the head was removed by the PR and has no item.
        """
        # Imported late: the workflow parser is a separate layer that collection only needs here.
        from auditor.workflows import parse_workflow

        if pr.files is None:
            return Workflows(ref=pr.head_sha, gap=pr.files_gap)
        changed = [p for p in pr.files if is_workflow_file(p)]
        if not changed:
            return Workflows(items=(), ref=pr.head_sha)
        tree = state.tree if state.tree is not None and state.tree.blobs is not None else _Tree(blobs=None)
        at_head = self._workflow_paths(state, tree)
        items: list[Workflow] = []
        for path in changed:
            sha = at_head.get(path)
            if sha is None:
                continue
            try:
                items.append(parse_workflow(path, self._blob_text(sha)))
            except (PageError, ValueError) as exc:
                gap = gap_from_error(exc, f"workflow {path}", CONTENTS_READ)
                items.append(Workflow(path=path, parse_error=gap.describe()))
        return Workflows(items=tuple(items), ref=pr.head_sha)


def collect_pull_request_facts(
    source: RestSource, full_name: str, number: int, plan: FactPlan, now: datetime
) -> RepoFacts:
    """The gate's facts for one pull request (see the module docstring)."""
    return PullRequestCollector(source, full_name, number, plan, now).collect()


__all__ = ["PullRequestCollector", "collect_pull_request_facts", "is_workflow_file"]
