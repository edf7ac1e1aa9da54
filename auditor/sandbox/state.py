"""The expanded state of a sandbox world: what the HTTP layer answers from.

A world file is compact (pull requests as one-line specs, dates relative to `now`); `build.py`
expands it into these plain objects once, so every request is a cheap lookup and two requests for
the same resource give byte-identical bodies (stable ETags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROLE_ORDER = ("none", "read", "triage", "write", "maintain", "admin")
LEVEL_ORDER = ("none", "read", "write", "admin")


def role_at_least(role: str, wanted: str) -> bool:
    """Whether a repository role (read < triage < write < maintain < admin) reaches `wanted`."""
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(wanted)


def level_at_least(level: str, wanted: str) -> bool:
    """Whether a fine-grained permission level (none < read < write < admin) reaches `wanted`."""
    return LEVEL_ORDER.index(level) >= LEVEL_ORDER.index(wanted)


@dataclass
class User:
    login: str
    id: int
    name: str | None = None
    type: str = "User"


@dataclass
class Token:
    """A credential the sandbox accepts; only its hash ever leaves this object (logs, stats)."""

    value: str
    login: str
    kind: str  # classic | fine_grained | app
    role: str  # default role on every repository of the token's orgs
    repos: dict[str, str]  # repo name or owner/name -> role override
    org_admin: bool
    permissions: dict[str, str] | None  # fine-grained / app permission sets; None = all the role allows
    scopes: str
    rate_limit: int | None
    user_id: int


@dataclass
class Secret:
    name: str
    created_at: datetime
    updated_at: datetime
    visibility: str | None = None  # org secrets only
    selected_repos: tuple[str, ...] = ()


@dataclass
class Ruleset:
    id: int
    name: str
    source_type: str  # Repository | Organization
    source: str
    enforcement: str
    target: str
    conditions: dict[str, Any]
    rules: list[dict[str, Any]]
    bypass_actors: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


@dataclass
class Environment:
    id: int
    name: str
    created_at: datetime
    wait_timer: int
    reviewers: list[dict[str, str]]  # {"type": "User"|"Team", "login"/"slug": ...}
    prevent_self_review: bool
    can_admins_bypass: bool
    branch_policy: str | None  # None | protected | custom
    branch_patterns: list[tuple[int, str, str]]  # (id, name, type)
    protection_apps: list[str]
    secrets: list[Secret]
    rule_ids: tuple[int, int, int]


@dataclass
class Commit:
    sha: str
    message: str
    author: str
    date: datetime
    parents: list[str]
    files: list[str]
    committer: str | None = None
    verified: bool = False


@dataclass
class Review:
    id: int
    user: str
    state: str
    submitted_at: datetime
    commit_id: str


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: datetime
    completed_at: datetime | None
    app: str = "github-actions"


@dataclass
class CommitStatus:
    id: int
    sha: str
    context: str
    state: str
    description: str | None
    target_url: str | None
    created_at: datetime
    creator: str


@dataclass
class Pull:
    number: int
    id: int
    title: str
    body: str | None
    author: str
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    state: str  # open | closed
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    merged_at: datetime | None
    merge_commit_sha: str | None
    merged_by: str | None
    files: list[str]
    commits: list[str]
    reviews: list[Review]


@dataclass
class DeploymentStatus:
    id: int
    state: str
    created_at: datetime
    description: str


@dataclass
class Deployment:
    id: int
    sha: str
    ref: str
    environment: str
    created_at: datetime
    creator: str
    description: str | None
    statuses: list[DeploymentStatus]


@dataclass
class Hook:
    id: int
    name: str
    events: list[str]
    active: bool
    url: str
    created_at: datetime


@dataclass
class IssueComment:
    id: int
    issue_number: int
    body: str
    user: str
    created_at: datetime
    updated_at: datetime


@dataclass
class BranchState:
    """A branch as a list of (sha, time the sha became reachable from it), oldest first."""

    name: str
    history: list[tuple[str, datetime]]

    @property
    def head(self) -> str:
        return self.history[-1][0]

    def head_at(self, when: datetime) -> str | None:
        """The branch head at a moment, for deployments declared by ref and time."""
        current = None
        for sha, at in self.history:
            if at <= when:
                current = sha
        return current


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    description: str | None
    visibility: str
    default_branch: str
    archived: bool
    fork: bool
    topics: list[str]
    created_at: datetime
    pushed_at: datetime
    branches: dict[str, BranchState]
    files: dict[str, dict[str, str]]  # branch -> path -> text
    protection: dict[str, dict[str, Any]]  # branch -> GitHub's classic protection fields
    rulesets: list[Ruleset]
    environments: list[Environment]
    secrets: list[Secret]
    security: dict[str, str]  # security_and_analysis feature -> enabled | disabled
    vulnerability_alerts: bool
    workflow_permissions: str
    can_approve_pull_request_reviews: bool
    codeowners_errors: list[dict[str, Any]]
    commits: dict[str, Commit]
    pulls: list[Pull]
    deployments: list[Deployment]
    hooks: list[Hook]
    check_runs: list[CheckRun]
    statuses: list[CommitStatus]
    comments: list[IssueComment]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def private(self) -> bool:
        return self.visibility != "public"


@dataclass
class Org:
    login: str
    id: int
    plan: str
    members: list[str]
    owners: list[str]
    secrets: list[Secret]
    rulesets: list[Ruleset]
    created_at: datetime
    description: str | None = None


@dataclass
class State:
    """Everything the server answers from; mutated only by the write endpoints (under a lock)."""

    now: datetime
    week: int
    weeks: int
    orgs: dict[str, Org]
    users: dict[str, User]
    tokens: dict[str, Token]
    repos: dict[str, Repo]  # full_name -> Repo
    rate_limit: int
    anonymous_rate_limit: int
    rate_window_seconds: int
    rate_limit_status: int
    next_id: list[int] = field(default_factory=lambda: [900_000])

    def new_id(self) -> int:
        """A fresh id for objects created at run time (comments, statuses, check runs)."""
        self.next_id[0] += 1
        return self.next_id[0]

    def user(self, login: str) -> User:
        """The user with this login, invented on the fly for logins the world only mentions."""
        found = self.users.get(login)
        if found is None:
            found = User(login=login, id=10_000 + _stable_int(login) % 1_000_000)
            self.users[login] = found
        return found


def _stable_int(text: str) -> int:
    import hashlib

    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
