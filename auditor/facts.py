"""RepoFacts and its parts: what the collector observed about one repository.

Plain frozen data, no behaviour that touches the network. Every part that a token, a plan or an
API error can hide carries a `gap` (why it could not be observed) instead of a default value: a
missing fact is `None` plus a reason, never a guess. Rules read these facts and nothing else.

Facts round-trip through JSON losslessly with `to_json` / `from_json` (pydantic's TypeAdapter over
these dataclasses); the collectors, the sandbox and the tests all exchange facts that way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter

# --------------------------------------------------------------------------------------------
# Why something could not be observed


@dataclass(frozen=True)
class Gap:
    """The reason a fact is unknown: the permission it needs, the HTTP status, GitHub's message."""

    reason: str
    permission: str | None = None
    http_status: int | None = None

    def describe(self) -> str:
        """One human sentence fragment, e.g. 'needs Administration: read (HTTP 403)'."""
        text = self.reason
        if self.permission and self.permission not in text:
            text = f"{text}; needs {self.permission}"
        if self.http_status is not None and f"HTTP {self.http_status}" not in text:
            text = f"{text} (HTTP {self.http_status})"
        return text


NEEDS_API = Gap("needs the GitHub API (local mode reads only files and git history)")


# --------------------------------------------------------------------------------------------
# Branches and their protection


@dataclass(frozen=True)
class ClassicProtection:
    """Classic branch protection as GET .../branches/{b}/protection answers it.

    `required_approvals` is None when pull request reviews are not required at all;
    `required_checks` is None when required status checks are not enabled.
    """

    required_approvals: int | None = None
    require_code_owner_reviews: bool = False
    dismiss_stale_reviews: bool = False
    require_last_push_approval: bool = False
    required_checks: tuple[str, ...] | None = None
    strict_checks: bool = False
    enforce_admins: bool = False
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    required_linear_history: bool = False
    required_signatures: bool = False
    lock_branch: bool = False


@dataclass(frozen=True)
class BypassActor:
    """Someone who may bypass a ruleset (GET .../rulesets/{id} `bypass_actors`)."""

    actor_type: str  # Integration, OrganizationAdmin, RepositoryRole, Team, DeployKey
    actor_id: int | None = None
    bypass_mode: str = "always"  # always | pull_request
    name: str | None = None


@dataclass(frozen=True)
class RuleDetail:
    """One effective rule on a branch (GET .../rules/branches/{b}); only active rulesets appear."""

    type: str  # pull_request, required_status_checks, non_fast_forward, deletion, ...
    ruleset_id: int
    ruleset_name: str = ""
    ruleset_source: str = ""
    ruleset_source_type: str = "Repository"
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RulesetInfo:
    """The parts of a ruleset that the effective-rules answer leaves out: name and bypass actors.

    `bypass_actors` is None when the token may not see them (GitHub omits the field for callers
    who cannot edit the ruleset); that makes "applies to admins" unknown, not satisfied.
    """

    id: int
    name: str
    enforcement: str = "active"
    source: str = ""
    source_type: str = "Repository"
    bypass_actors: tuple[BypassActor, ...] | None = None
    bypass_gap: Gap | None = None


@dataclass(frozen=True)
class BranchFacts:
    """One branch named by a role in the policy.

    `exists` is None when the branch list could not be read. `classic` is None either because the
    branch has no classic protection (`classic_gap` is None) or because it could not be read
    (`classic_gap` says why). `rules` likewise with `rules_gap`.
    """

    name: str
    exists: bool | None = None
    exists_gap: Gap | None = None
    head_sha: str | None = None
    classic: ClassicProtection | None = None
    classic_gap: Gap | None = None
    rules: tuple[RuleDetail, ...] = ()
    rules_gap: Gap | None = None
    rulesets: tuple[RulesetInfo, ...] = ()


# --------------------------------------------------------------------------------------------
# Environments and secrets


@dataclass(frozen=True)
class Secret:
    """A secret's metadata; GitHub never returns the value and neither do we."""

    name: str
    scope: Literal["repo", "org", "environment"]
    updated_at: datetime | None = None
    created_at: datetime | None = None
    visibility: str | None = None  # org secrets: all | private | selected
    environment: str | None = None


@dataclass(frozen=True)
class Environment:
    """A deployment environment with its protection rules and branch policy.

    `branch_policy` is None (any branch may deploy), "protected" (protected branches only) or
    "custom" (the patterns in `branch_patterns`, None with `branch_patterns_gap` if unreadable).
    """

    name: str
    wait_timer: int = 0
    reviewers: tuple[str, ...] = ()
    prevent_self_review: bool = False
    can_admins_bypass: bool = True
    branch_policy: Literal["protected", "custom"] | None = None
    branch_patterns: tuple[str, ...] | None = None
    branch_patterns_gap: Gap | None = None
    custom_protection_apps: tuple[str, ...] | None = ()  # None: not collected, or unreadable (see gap)
    custom_protection_apps_gap: Gap | None = None
    secrets: tuple[Secret, ...] | None = None
    secrets_gap: Gap | None = None


@dataclass(frozen=True)
class Environments:
    """Every environment of the repo, or the reason they could not be listed."""

    items: tuple[Environment, ...] = ()
    gap: Gap | None = None

    def get(self, name: str) -> Environment | None:
        """The environment called `name` (GitHub compares environment names case-insensitively)."""
        for env in self.items:
            if env.name.lower() == name.lower():
                return env
        return None


@dataclass(frozen=True)
class Secrets:
    """A list of secrets (repo-level or org-level visible to the repo), or why it is unknown.

    `visibility_gap` says why org secrets' visibility (all/private/selected) is unknown: the
    repo-level listing omits it and the org listing needs its own permission.
    """

    items: tuple[Secret, ...] = ()
    gap: Gap | None = None
    visibility_gap: Gap | None = None


# --------------------------------------------------------------------------------------------
# Security settings


SECURITY_FIELDS = ("dependabot_alerts", "secret_scanning", "push_protection", "default_workflow_permissions")


@dataclass(frozen=True)
class SecuritySettings:
    """Repository security settings; each is None when unobservable, with its reason in `gaps`.

    `security_and_analysis` is silently absent from GET /repos/{o}/{r} for non-admins, so an
    absent value is unknown, never "disabled".
    """

    dependabot_alerts: bool | None = None
    secret_scanning: bool | None = None
    push_protection: bool | None = None
    default_workflow_permissions: Literal["read", "write"] | None = None
    gaps: dict[str, Gap] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Files: CODEOWNERS, workflows, docs


@dataclass(frozen=True)
class CodeownersError:
    """One error GitHub reports for the CODEOWNERS file (GET .../codeowners/errors)."""

    line: int
    kind: str
    message: str = ""


@dataclass(frozen=True)
class Codeowners:
    """Where CODEOWNERS lives (None: no file) and GitHub's errors in it (None: unknown)."""

    path: str | None = None
    gap: Gap | None = None
    errors: tuple[CodeownersError, ...] | None = ()
    errors_gap: Gap | None = None


PinKind = Literal["sha", "tag", "branch", "local", "docker", "unpinned"]


@dataclass(frozen=True)
class ActionRef:
    """A `uses:` reference split into its parts, with how firmly it is pinned."""

    raw: str
    name: str  # owner/repo[/path], ./local/path or docker://image
    ref: str | None
    pin: PinKind


@dataclass(frozen=True)
class Step:
    """One step of a job: a `uses:` action or a `run:` script."""

    name: str | None = None
    uses: ActionRef | None = None
    run: str | None = None
    with_: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One job of a workflow. `check_name` is what GitHub reports as the check run's name."""

    id: str
    name: str | None = None
    environment: str | None = None
    needs: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    uses: ActionRef | None = None  # a reusable workflow call
    secrets: tuple[str, ...] = ()  # every `secrets.X` referenced anywhere in the job
    secrets_inherit: bool = False
    permissions: dict[str, str] | str | None = None
    checks_out_pr_head: bool = False
    has_matrix: bool = False

    @property
    def check_name(self) -> str:
        """The check-run name GitHub gives this job: its `name:` if set, else its id."""
        return self.name or self.id


@dataclass(frozen=True)
class Trigger:
    """One event in `on:` with its filters; None filter means "not filtered"."""

    event: str
    branches: tuple[str, ...] | None = None
    branches_ignore: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    paths_ignore: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    workflows: tuple[str, ...] | None = None  # workflow_run


@dataclass(frozen=True)
class Workflow:
    """A parsed workflow file. A file that does not parse keeps `parse_error` and no jobs."""

    path: str
    name: str | None = None
    triggers: tuple[Trigger, ...] = ()
    jobs: tuple[Job, ...] = ()
    permissions: dict[str, str] | str | None = None
    parse_error: str | None = None

    def trigger(self, event: str) -> Trigger | None:
        """The trigger for `event`, if the workflow has one."""
        for trig in self.triggers:
            if trig.event == event:
                return trig
        return None


@dataclass(frozen=True)
class Workflows:
    """The workflows on a ref (the production branch, or a PR head), or why unreadable."""

    items: tuple[Workflow, ...] = ()
    ref: str | None = None
    gap: Gap | None = None


@dataclass(frozen=True)
class DocFile:
    """A documentation file on the production branch: presence, last change, its headings."""

    path: str
    exists: bool
    last_changed_at: datetime | None = None
    headings: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PathChange:
    """The most recent commit touching any path matching `glob` (None: never / no match)."""

    glob: str
    last_changed_at: datetime | None = None
    path: str | None = None


@dataclass(frozen=True)
class Docs:
    """Docs and watched paths on the production branch, plus its file list for glob matching."""

    files: tuple[DocFile, ...] = ()
    watched: tuple[PathChange, ...] = ()
    tree: tuple[str, ...] | None = None
    ref: str | None = None
    gap: Gap | None = None

    def file(self, path: str) -> DocFile | None:
        """The DocFile for `path`, if it was asked for."""
        for doc in self.files:
            if doc.path == path:
                return doc
        return None


# --------------------------------------------------------------------------------------------
# Pull requests, commits, deployments, hooks


@dataclass(frozen=True)
class Review:
    """One submitted review on a pull request."""

    author: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    submitted_at: datetime | None = None
    commit_id: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """A check run or commit status on a commit; `conclusion` None while it is still running."""

    name: str
    status: str = "completed"  # queued, in_progress, completed
    conclusion: str | None = None  # success, failure, neutral, cancelled, skipped, timed_out, ...
    source: Literal["check_run", "status"] = "check_run"

    @property
    def ok(self) -> bool:
        """Whether GitHub counts this check as satisfied for a required check."""
        return self.status == "completed" and self.conclusion in {"success", "neutral", "skipped"}


@dataclass(frozen=True)
class PullRequest:
    """A pull request: merged ones in the window for evidence rules, or the one a gate checks."""

    number: int
    title: str
    author: str
    head_ref: str
    base_ref: str
    head_sha: str
    head_repo: str | None = None  # owner/name of the head repository (a fork differs)
    state: str = "closed"
    created_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    reviews: tuple[Review, ...] | None = None
    reviews_gap: Gap | None = None
    checks: tuple[CheckResult, ...] | None = None
    checks_gap: Gap | None = None
    files: tuple[str, ...] | None = None
    files_gap: Gap | None = None


@dataclass(frozen=True)
class PullRequests:
    """Pull requests merged into the role branches within `window_days` of `since`."""

    items: tuple[PullRequest, ...] = ()
    since: datetime | None = None
    gap: Gap | None = None


@dataclass(frozen=True)
class Commit:
    """A commit on a branch, with the pull requests GitHub associates it with."""

    sha: str
    committed_at: datetime | None = None
    author: str | None = None
    message: str = ""
    pull_requests: tuple[int, ...] | None = None  # None: association unknown
    parents: int = 1


@dataclass(frozen=True)
class BranchCommits:
    """Commits on one branch in the window."""

    branch: str
    items: tuple[Commit, ...] = ()
    since: datetime | None = None
    gap: Gap | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    """One status of a deployment; the newest is first, as GitHub lists them."""

    state: str  # success, failure, error, inactive, in_progress, queued, pending
    created_at: datetime | None = None


@dataclass(frozen=True)
class Deployment:
    """A deployment of `sha` to an environment, with its statuses (newest first)."""

    id: int
    environment: str
    sha: str
    ref: str | None = None
    created_at: datetime | None = None
    creator: str | None = None
    statuses: tuple[DeploymentStatus, ...] = ()

    @property
    def state(self) -> str | None:
        """The latest status's state, or None if the deployment has none yet."""
        return self.statuses[0].state if self.statuses else None


@dataclass(frozen=True)
class Deployments:
    """Deployments to the role environments in the window, or why unreadable."""

    items: tuple[Deployment, ...] = ()
    since: datetime | None = None
    gap: Gap | None = None


@dataclass(frozen=True)
class Webhook:
    """A repository webhook's subscription (never its URL secret or config)."""

    id: int
    events: tuple[str, ...]
    active: bool = True


@dataclass(frozen=True)
class Webhooks:
    """Repository webhooks, or why they could not be listed."""

    items: tuple[Webhook, ...] = ()
    gap: Gap | None = None


# --------------------------------------------------------------------------------------------
# The repository


@dataclass(frozen=True)
class RepoFacts:
    """Everything observed about one repository at `collected_at` (rules' only clock).

    A section left as None was not collected because no enabled rule needed it; a section that
    was collected but could not be read carries its own `gap`. `source` says where the facts
    came from: rest, graphql, local, sandbox, hand (tests).
    """

    repo: str
    collected_at: datetime
    source: str = "rest"
    default_branch: str | None = None
    visibility: str | None = None
    archived: bool = False
    fork: bool = False
    topics: tuple[str, ...] = ()
    viewer_permission: str | None = None  # ADMIN, MAINTAIN, WRITE, TRIAGE, READ
    repo_gap: Gap | None = None
    branches: tuple[BranchFacts, ...] = ()
    environments: Environments | None = None
    repo_secrets: Secrets | None = None
    org_secrets: Secrets | None = None
    security: SecuritySettings | None = None
    codeowners: Codeowners | None = None
    workflows: Workflows | None = None
    docs: Docs | None = None
    pull_requests: PullRequests | None = None
    commits: tuple[BranchCommits, ...] | None = None
    deployments: Deployments | None = None
    webhooks: Webhooks | None = None
    pull_request: PullRequest | None = None  # the PR an `auditor check` gate evaluates
    base_workflows: Workflows | None = None  # the gate: workflows on the PR's base, for comparison

    @property
    def owner(self) -> str:
        """The organisation or user that owns the repository."""
        return self.repo.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The repository's name without its owner."""
        return self.repo.split("/", 1)[-1]

    def branch(self, name: str) -> BranchFacts | None:
        """The facts of branch `name`, if it was collected."""
        for br in self.branches:
            if br.name == name:
                return br
        return None

    def branch_commits(self, name: str) -> BranchCommits | None:
        """Commits on branch `name` in the window, if collected."""
        for bc in self.commits or ():
            if bc.branch == name:
                return bc
        return None

    def to_json(self) -> str:
        """Serialise losslessly (see `from_json`)."""
        return _adapter().dump_json(self).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> RepoFacts:
        """Rebuild facts written by `to_json`; validates types on the way in."""
        return _adapter().validate_json(text)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (for embedding in larger documents such as sandbox worlds)."""
        result: dict[str, Any] = _adapter().dump_python(self, mode="json")
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepoFacts:
        """Rebuild facts from `to_dict` output."""
        return _adapter().validate_python(data)


@functools.cache
def _adapter() -> TypeAdapter[RepoFacts]:
    return TypeAdapter(RepoFacts)
