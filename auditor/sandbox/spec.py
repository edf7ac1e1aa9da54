"""Validation of world descriptions: every problem reported at once, each with its path.

A world file is hand-written YAML; a typo (`aprovals:`) must not silently produce a world that
answers differently from what its author meant, and a malformed file must never surface as a
traceback. Hence a small declarative schema and one `WorldError` listing every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any


class WorldError(ValueError):
    """A world description that cannot be loaded; `problems` lists each one with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid sandbox world:\n  " + "\n  ".join(problems))


class Check:
    """One node of the schema: `check` appends problems for `value` found at `path`."""

    def check(self, value: Any, path: str, out: list[str]) -> None:
        raise NotImplementedError


class Str(Check):
    def check(self, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, str):
            out.append(f"{path}: must be a string, got {type(value).__name__}")


class Int(Check):
    def __init__(self, minimum: int | None = None) -> None:
        self.minimum = minimum

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{path}: must be a number, got {type(value).__name__}")
        elif self.minimum is not None and value < self.minimum:
            out.append(f"{path}: must be >= {self.minimum}")


class Bool(Check):
    def check(self, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, bool):
            out.append(f"{path}: must be true or false, got {value!r}")


class Enum(Check):
    def __init__(self, *values: object) -> None:
        self.values = values

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if value not in self.values:
            out.append(f"{path}: must be one of {', '.join(map(str, self.values))}, got {value!r}")


class When(Check):
    """A moment: an ISO 8601 string (or a YAML timestamp)."""

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if isinstance(value, datetime | date):
            return
        if not isinstance(value, str):
            out.append(f"{path}: must be an ISO 8601 date-time, got {type(value).__name__}")
            return
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            out.append(f"{path}: not an ISO 8601 date-time: {value!r}")


class Anything(Check):
    def check(self, value: Any, path: str, out: list[str]) -> None:
        return


class Nullable(Check):
    def __init__(self, inner: Check) -> None:
        self.inner = inner

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if value is not None:
            self.inner.check(value, path, out)


class ListOf(Check):
    def __init__(self, item: Check) -> None:
        self.item = item

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, list):
            out.append(f"{path}: must be a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]", out)


class MapOf(Check):
    def __init__(self, item: Check) -> None:
        self.item = item

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, Mapping):
            out.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(f"{path}: keys must be strings, got {key!r}")
                continue
            self.item.check(item, f"{path}.{key}", out)


class Either(Check):
    """The first alternative whose check passes; otherwise the problems of the last one."""

    def __init__(self, *options: Check) -> None:
        self.options = options

    def check(self, value: Any, path: str, out: list[str]) -> None:
        last: list[str] = []
        for option in self.options:
            last = []
            option.check(value, path, last)
            if not last:
                return
        out.extend(last)


class Obj(Check):
    """A mapping with known keys; unknown keys are errors (they are usually typos)."""

    def __init__(self, required: tuple[str, ...] = (), extensions: bool = False, **fields: Check) -> None:
        self.required = required
        self.extensions = extensions  # allow `x-...` keys (holders for YAML anchors)
        self.fields = fields

    def check(self, value: Any, path: str, out: list[str]) -> None:
        if not isinstance(value, Mapping):
            out.append(f"{path}: must be a mapping, got {type(value).__name__}")
            return
        for key in self.required:
            if key not in value:
                out.append(f"{path}: missing required key {key!r}")
        for key, item in value.items():
            field_check = self.fields.get(str(key))
            if field_check is None and self.extensions and str(key).startswith("x-"):
                continue
            if field_check is None:
                known = ", ".join(sorted(self.fields))
                out.append(f"{path}: unknown key {key!r} (known: {known})")
                continue
            field_check.check(item, f"{path}.{key}", out)


STR_LIST = ListOf(Str())
DAYS = Int(minimum=0)
ROLE = Enum("none", "read", "triage", "write", "maintain", "admin")
LEVEL = Enum("none", "read", "write", "admin")

SECRET = Either(
    Str(),
    Obj(
        ("name",),
        name=Str(),
        updated_days_ago=DAYS,
        created_days_ago=DAYS,
        updated_at=When(),
        created_at=When(),
        visibility=Enum("all", "private", "selected"),
        selected_repos=STR_LIST,
    ),
)

RULESET = Obj(
    ("name",),
    id=Int(minimum=1),
    name=Str(),
    enforcement=Enum("active", "evaluate", "disabled"),
    target=Enum("branch", "tag", "push"),
    conditions=MapOf(Anything()),
    rules=ListOf(Obj(("type",), type=Str(), parameters=MapOf(Anything()))),
    bypass_actors=ListOf(
        Obj(
            ("actor_type",),
            actor_id=Nullable(Int()),
            actor_type=Enum("Integration", "OrganizationAdmin", "RepositoryRole", "Team", "DeployKey", "User"),
            bypass_mode=Enum("always", "pull_request", "exempt"),
        )
    ),
)

PROTECTION = Obj(
    required_approvals=Nullable(Int(minimum=0)),
    require_code_owner_reviews=Bool(),
    dismiss_stale_reviews=Bool(),
    require_last_push_approval=Bool(),
    required_checks=Nullable(STR_LIST),
    strict=Bool(),
    enforce_admins=Bool(),
    allow_force_pushes=Bool(),
    allow_deletions=Bool(),
    required_linear_history=Bool(),
    required_signatures=Bool(),
    required_conversation_resolution=Bool(),
    lock_branch=Bool(),
    block_creations=Bool(),
    restrictions=Nullable(Obj(users=STR_LIST, teams=STR_LIST, apps=STR_LIST)),
)

ENVIRONMENT = Either(
    Str(),
    Obj(
        ("name",),
        name=Str(),
        wait_timer=Int(minimum=0),
        reviewers=ListOf(Either(Str(), Obj(user=Str(), team=Str()))),
        prevent_self_review=Bool(),
        can_admins_bypass=Bool(),
        branch_policy=Nullable(Enum("protected", "custom")),
        branches=STR_LIST,
        protection_apps=STR_LIST,
        secrets=ListOf(SECRET),
        created_days_ago=DAYS,
    ),
)

CHECKS = MapOf(Enum("success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required",
                    "pending", "error"))

PULL = Obj(
    ("head", "base"),
    number=Int(minimum=1),
    title=Str(),
    body=Nullable(Str()),
    author=Str(),
    head=Str(),
    base=Str(),
    approvals=STR_LIST,
    changes_requested=STR_LIST,
    commented=STR_LIST,
    checks=CHECKS,
    statuses=CHECKS,
    files=STR_LIST,
    merged_days_ago=Nullable(Int(minimum=0)),
    merged_at=When(),
    created_days_ago=DAYS,
    closed_days_ago=DAYS,
    state=Enum("open", "closed", "merged"),
    merged_by=Str(),
    deploy=Either(Bool(), Enum("success", "failure", "error")),
)

COMMIT = Obj(
    ("branch",),
    branch=Str(),
    message=Str(),
    author=Str(),
    days_ago=Int(minimum=0),
    at=When(),
    files=STR_LIST,
    sha=Str(),
    verified=Bool(),
    checks=CHECKS,
)

DEPLOYMENT = Obj(
    ("environment",),
    environment=Str(),
    days_ago=Int(minimum=0),
    at=When(),
    ref=Str(),
    sha=Str(),
    state=Enum("success", "failure", "error", "inactive", "pending", "queued", "in_progress"),
    statuses=ListOf(Enum("success", "failure", "error", "inactive", "pending", "queued", "in_progress")),
    creator=Str(),
    description=Str(),
)

HOOK = Obj(
    name=Enum("web"),
    events=STR_LIST,
    active=Bool(),
    url=Str(),
)

REPO = Obj(
    ("name",),
    name=Str(),
    owner=Str(),
    id=Int(minimum=1),
    description=Nullable(Str()),
    visibility=Enum("public", "private", "internal"),
    default_branch=Str(),
    archived=Bool(),
    fork=Bool(),
    topics=STR_LIST,
    created_days_ago=DAYS,
    branches=STR_LIST,
    protection=MapOf(Nullable(PROTECTION)),
    rulesets=ListOf(RULESET),
    environments=ListOf(ENVIRONMENT),
    secrets=ListOf(SECRET),
    security=Obj(
        secret_scanning=Enum("enabled", "disabled"),
        secret_scanning_push_protection=Enum("enabled", "disabled"),
        dependabot_security_updates=Enum("enabled", "disabled"),
        advanced_security=Enum("enabled", "disabled"),
        secret_scanning_non_provider_patterns=Enum("enabled", "disabled"),
        secret_scanning_validity_checks=Enum("enabled", "disabled"),
    ),
    vulnerability_alerts=Bool(),
    workflow_permissions=Enum("read", "write"),
    can_approve_pull_request_reviews=Bool(),
    files=MapOf(Str()),
    branch_files=MapOf(MapOf(Nullable(Str()))),
    codeowners_errors=ListOf(MapOf(Anything())),
    commits=ListOf(COMMIT),
    pulls=ListOf(PULL),
    deployments=ListOf(DEPLOYMENT),
    auto_deploy=MapOf(Str()),
    hooks=ListOf(HOOK),
)

TOKEN = Obj(
    ("value", "login"),
    value=Str(),
    login=Str(),
    kind=Enum("classic", "fine_grained", "app"),
    role=ROLE,
    repos=MapOf(ROLE),
    org_admin=Bool(),
    permissions=Nullable(MapOf(LEVEL)),
    scopes=Str(),
    rate_limit=Int(minimum=0),
)

ORG = Obj(
    ("login",),
    login=Str(),
    id=Int(minimum=1),
    description=Nullable(Str()),
    plan=Enum("free", "team", "enterprise"),
    members=STR_LIST,
    owners=STR_LIST,
    secrets=ListOf(SECRET),
    rulesets=ListOf(RULESET),
)

EVENT = Obj(
    ("week",),
    week=Int(minimum=0),
    repo=Str(),
    org=Str(),
    note=Str(),
    set=MapOf(Anything()),
    files=MapOf(Nullable(Str())),
    add_repo=REPO,
    remove_repo=Str(),
    add_pull=PULL,
    add_deployment=DEPLOYMENT,
    add_commit=COMMIT,
    add_secret=SECRET,
    remove_secret=Str(),
)

WORLD = Obj(
    ("repos",),
    extensions=True,
    description=Str(),
    now=Either(Enum("auto"), When()),
    weeks=Int(minimum=1),
    rate_limit=Obj(
        limit=Int(minimum=0),
        anonymous_limit=Int(minimum=0),
        window_seconds=Int(minimum=1),
        status=Enum(403, 429),
    ),
    latency_ms=Int(minimum=0),
    faults=ListOf(MapOf(Anything())),
    orgs=ListOf(ORG),
    users=ListOf(Obj(("login",), login=Str(), name=Nullable(Str()))),
    tokens=ListOf(TOKEN),
    repos=ListOf(REPO),
    timeline=ListOf(EVENT),
)


def validate(spec: Any, where: str = "world") -> None:
    """Raise WorldError naming every problem of `spec`, including cross-references."""
    problems: list[str] = []
    WORLD.check(spec, where, problems)
    if not problems:
        problems.extend(_cross_check(spec, where))
    if problems:
        raise WorldError(problems)


def _cross_check(spec: Mapping[str, Any], where: str) -> list[str]:
    """Problems no per-key check can see: duplicate names, branches a pull or commit names."""
    out: list[str] = []
    names: set[str] = set()
    for i, repo in enumerate(spec.get("repos", [])):
        path = f"{where}.repos[{i}]"
        if repo["name"] in names:
            out.append(f"{path}.name: duplicate repository {repo['name']!r}")
        names.add(repo["name"])
        out.extend(repo_problems(repo, path))
    for i, token in enumerate(spec.get("tokens", [])):
        kind = token.get("kind", "classic")
        if token.get("permissions") is not None and kind == "classic":
            out.append(f"{where}.tokens[{i}].permissions: only fine_grained and app tokens have permission sets")
    for i, event in enumerate(spec.get("timeline", [])):
        needs_repo = any(k in event for k in ("set", "files", "add_pull", "add_deployment", "add_commit",
                                               "add_secret", "remove_secret"))
        if needs_repo and "repo" not in event and "org" not in event:
            out.append(f"{where}.timeline[{i}]: names a change but no `repo:`")
    return out


def repo_problems(repo: Mapping[str, Any], path: str) -> list[str]:
    """Problems inside one repository spec that need more than one key to see."""
    out: list[str] = []
    default = repo.get("default_branch", "main")
    branches = set(repo.get("branches", [default])) | {default}
    for key in ("protection", "branch_files"):
        for branch in repo.get(key, {}) or {}:
            if branch not in branches:
                out.append(f"{path}.{key}.{branch}: no such branch (branches: {', '.join(sorted(branches))})")
    for i, commit in enumerate(repo.get("commits", [])):
        if commit["branch"] not in branches:
            out.append(f"{path}.commits[{i}].branch: no such branch {commit['branch']!r}")
    for i, pull in enumerate(repo.get("pulls", [])):
        if pull["base"] not in branches:
            out.append(f"{path}.pulls[{i}].base: no such branch {pull['base']!r}")
    for branch in repo.get("auto_deploy", {}) or {}:
        if branch not in branches:
            out.append(f"{path}.auto_deploy.{branch}: no such branch")
    envs = [e if isinstance(e, str) else e["name"] for e in repo.get("environments", [])]
    if len(set(envs)) != len(envs):
        out.append(f"{path}.environments: duplicate environment names")
    return out
