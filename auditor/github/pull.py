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

`auditor check` asks for more through `FactPlan.extra` (see `gate_plan_extra`), each costed:
every workflow at the head when a rule reasons over all of them (one blob per workflow); the base
branch taken from the PR itself instead of a GET of the branch (an open PR's base exists); GitHub's
CODEOWNERS errors at the head (one request, only when the file exists); and the same files at the
PR's base sha for the new-only comparison (the base tree, plus one blob per workflow whose content
differs from the head's: unchanged files are parsed once and shared).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from auditor.facts import (
    BranchFacts,
    Codeowners,
    DocFile,
    Docs,
    Gap,
    PullRequest,
    RepoFacts,
    Workflow,
    Workflows,
)
from auditor.github import parse
from auditor.github.collect import (
    CODEOWNERS_LOCATIONS,
    WORKFLOW_DIR,
    RestSource,
    _RepoCollector,
    _RepoState,
    _Tree,
)
from auditor.github.errors import UnexpectedResponseError
from auditor.plan import FactPlan
from auditor.rules.base import Need

PR_READ = "Pull requests: read"
CONTENTS_READ = "Contents: read"

# FactPlan.extra keys the gate sets (values "1"); a plan without them keeps the lean behaviour.
EXTRA_ALL_WORKFLOWS = "gate.all_workflows"  # every workflow at the head, not only the changed ones
EXTRA_BASE_FROM_PR = "gate.base_from_pr"  # the base branch exists at the PR's base sha: no GET
EXTRA_CODEOWNERS_ERRORS = "gate.codeowners_errors"  # GitHub's errors in CODEOWNERS at the head
EXTRA_BASE_FILES = "gate.base_files"  # the same files at the base sha, for the new-only comparison


def gate_plan_extra(*, all_workflows: bool, codeowners_errors: bool, base_files: bool) -> dict[str, str]:
    """The `FactPlan.extra` entries asking the PR collector for what `auditor check` needs."""
    extra = {EXTRA_BASE_FROM_PR: "1"}
    if all_workflows:
        extra[EXTRA_ALL_WORKFLOWS] = "1"
    if codeowners_errors:
        extra[EXTRA_CODEOWNERS_ERRORS] = "1"
    if base_files:
        extra[EXTRA_BASE_FILES] = "1"
    return extra


@dataclass(frozen=True)
class GateFacts:
    """The gate's facts as the PR would leave the repository (`head`) and as the base has it.

    `base` is the head facts with the file sections (workflows, docs, CODEOWNERS) read at the
    PR's base sha instead; None unless the plan asked for it. Everything else (the PR, branch
    protection) is the same object in both, so rules over it agree by construction.
    """

    head: RepoFacts
    base: RepoFacts | None = None


def is_workflow_file(path: str) -> bool:
    """GitHub runs only the YAML files directly in .github/workflows/."""
    return posixpath.dirname(path) == WORKFLOW_DIR and path.endswith((".yml", ".yaml"))


class PullRequestCollector(_RepoCollector):
    """Collects the gate's RepoFacts for pull request `number` of `full_name`."""

    def __init__(self, source: RestSource, full_name: str, number: int, plan: FactPlan, now: datetime) -> None:
        super().__init__(source, full_name, plan, now)
        self.number = number
        self.read_rulesets = False
        self._parsed: dict[tuple[str, str], Workflow] = {}

    def collect(self) -> RepoFacts:
        """The PR with files, reviews and checks, plus the base branch and head files the plan needs."""
        return self.collect_gate().head

    def _flag(self, key: str) -> bool:
        return self.plan.extra.get(key) == "1"

    def collect_gate(self) -> GateFacts:
        """`collect`, plus the base-side files when the plan asks for them (see GateFacts)."""
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
        base_sha = str(((data.get("base") or {}).get("sha")) or "") or None
        updates: dict[str, Any] = {}
        if self.wants(Need.BRANCHES, Need.PROTECTION) and pr.base_ref:
            if self._flag(EXTRA_BASE_FROM_PR):
                updates["branches"] = (self._base_branch(state, pr.base_ref, base_sha),)
            else:
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
                lambda: self._all_workflows(state, pr) if self._flag(EXTRA_ALL_WORKFLOWS)
                else self._changed_workflows(state, pr),
            )
        head = replace(facts, **updates)
        if not self._flag(EXTRA_BASE_FILES):
            return GateFacts(head=head)
        base = self._base_side(head, repo, pr, base_sha)
        return GateFacts(head=replace(head, base_workflows=base.workflows), base=base)

    def _base_branch(self, state: _RepoState, name: str, sha: str | None) -> BranchFacts:
        """The base branch with its protection; it exists (GitHub closes PRs whose base is deleted)."""
        facts = BranchFacts(name=name, exists=True, head_sha=sha)
        if not self.wants(Need.PROTECTION):
            return facts
        return self._protection(state, facts)

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
        if path is not None and self._flag(EXTRA_CODEOWNERS_ERRORS):
            return self._codeowners(state)  # one more request: GitHub's errors at this ref
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
        if pr.files is None:
            return Workflows(ref=pr.head_sha, gap=pr.files_gap)
        changed = [p for p in pr.files if is_workflow_file(p)]
        if not changed:
            return Workflows(items=(), ref=pr.head_sha)
        tree = state.tree if state.tree is not None and state.tree.blobs is not None else _Tree(blobs=None)
        at_head = self._workflow_paths(state, tree)
        items = [self._parsed_workflow(path, at_head[path]) for path in changed if path in at_head]
        return Workflows(items=tuple(items), ref=pr.head_sha)

    def _all_workflows(self, state: _RepoState, pr: PullRequest) -> Workflows:
        """Every workflow at the head: rules such as checks-produced reason over all of them."""
        tree = self._tree(state)
        if tree.blobs is None:
            return Workflows(ref=pr.head_sha, gap=tree.gap)
        at_head = self._workflow_paths(state, tree)
        return Workflows(items=tuple(self._parsed_workflow(p, sha) for p, sha in at_head.items()), ref=pr.head_sha)

    def _parsed_workflow(self, path: str, sha: str) -> Workflow:
        """Workflow `path` with blob `sha`, fetched and parsed once per run (head and base share it)."""
        # Imported late: the workflow parser is a separate layer that collection only needs here.
        from auditor.workflows import parse_workflow

        key = (path, sha)
        if key not in self._parsed:
            # A blob that cannot be read raises (the calling section becomes a gap): an unreadable
            # workflow is unknown, never "broken" (pr-workflow-safety fails a `parse_error`).
            self._parsed[key] = parse_workflow(path, self._blob_text(sha))
        return self._parsed[key]

    # -- the same files at the base -----------------------------------------------------------

    def _base_side(self, head: RepoFacts, repo: dict[str, Any], pr: PullRequest, base_sha: str | None) -> RepoFacts:
        """`head` with workflows, docs and CODEOWNERS as they are at the base sha.

        Files the PR adds do not exist there; files it does not touch are the head's own (no
        request); a changed workflow costs one blob.
        """
        ref = base_sha or pr.base_ref
        state = _RepoState(repo=repo, prod_branch=ref)
        updates: dict[str, Any] = {}
        if head.workflows is not None:
            updates["workflows"] = self.guarded(
                "the workflows at the base", CONTENTS_READ, lambda g: Workflows(ref=ref, gap=g),
                lambda: self._base_workflows(state, pr, head.workflows),
            )
        if head.docs is not None:
            updates["docs"] = self.guarded(
                "the documentation at the base", CONTENTS_READ, lambda g: Docs(ref=ref, gap=g),
                lambda: self._head_docs(state),
            )
        if head.codeowners is not None:
            updates["codeowners"] = self.guarded(
                "CODEOWNERS at the base", CONTENTS_READ, lambda g: Codeowners(gap=g, errors=None),
                lambda: self._base_codeowners(state, pr, head.codeowners),
            )
        return replace(head, base_workflows=None, **updates)

    def _base_workflows(self, state: _RepoState, pr: PullRequest, at_head: Workflows | None) -> Workflows:
        ref = state.prod_branch
        if at_head is not None and at_head.gap is not None:
            return Workflows(ref=ref, gap=at_head.gap)
        if pr.files is None:
            return Workflows(ref=ref, gap=pr.files_gap)
        changed = {p for p in pr.files if is_workflow_file(p)}
        if not self._flag(EXTRA_ALL_WORKFLOWS) and not changed:
            return Workflows(items=(), ref=ref)
        tree = self._tree(state)
        if tree.blobs is None:
            return Workflows(ref=ref, gap=tree.gap)
        at_base = self._workflow_paths(state, tree)
        wanted = at_base if self._flag(EXTRA_ALL_WORKFLOWS) else {p: s for p, s in at_base.items() if p in changed}
        return Workflows(items=tuple(self._parsed_workflow(p, sha) for p, sha in wanted.items()), ref=ref)

    def _base_codeowners(self, state: _RepoState, pr: PullRequest, at_head: Codeowners | None) -> Codeowners:
        """CODEOWNERS at the base: the head's own answer when the PR does not touch it."""
        touched = pr.files is None or any(p in CODEOWNERS_LOCATIONS for p in pr.files)
        if at_head is not None and not touched and at_head.gap is None:
            return at_head
        return self._head_codeowners(state)


def collect_pull_request_facts(
    source: RestSource, full_name: str, number: int, plan: FactPlan, now: datetime
) -> RepoFacts:
    """The gate's facts for one pull request (see the module docstring)."""
    return PullRequestCollector(source, full_name, number, plan, now).collect()


def collect_gate_facts(source: RestSource, full_name: str, number: int, plan: FactPlan, now: datetime) -> GateFacts:
    """The gate's facts at the head and, when the plan asks (EXTRA_BASE_FILES), at the base."""
    return PullRequestCollector(source, full_name, number, plan, now).collect_gate()


__all__ = [
    "EXTRA_ALL_WORKFLOWS",
    "EXTRA_BASE_FILES",
    "EXTRA_BASE_FROM_PR",
    "EXTRA_CODEOWNERS_ERRORS",
    "GateFacts",
    "PullRequestCollector",
    "collect_gate_facts",
    "collect_pull_request_facts",
    "gate_plan_extra",
    "is_workflow_file",
]
