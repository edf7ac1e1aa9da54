"""GitHub REST JSON -> facts, as pure functions.

Kept apart from the requests so that every source (REST today, a batched GraphQL source later, the
tests' recorded bodies) turns the same shapes into the same facts. Nothing here decides what a
missing field means beyond what GitHub documents; absent stays None.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from auditor.facts import (
    BypassActor,
    CheckResult,
    ClassicProtection,
    CodeownersError,
    Commit,
    Deployment,
    DeploymentStatus,
    Environment,
    Gap,
    PullRequest,
    Review,
    RuleDetail,
    RulesetInfo,
    Secret,
    Webhook,
)

Json = Mapping[str, Any]


def ts(value: Any) -> datetime | None:
    """GitHub's ISO 8601 timestamps ("2023-06-08T17:42:21Z") as aware datetimes."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _enabled(data: Json, key: str) -> bool:
    block = data.get(key)
    return bool(block.get("enabled")) if isinstance(block, Mapping) else bool(block)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


# --------------------------------------------------------------------------------------------
# Repository


_PERMISSION_ORDER = (("admin", "ADMIN"), ("maintain", "MAINTAIN"), ("push", "WRITE"), ("triage", "TRIAGE"))


def viewer_permission(repo: Json) -> str | None:
    """The caller's role from `permissions` (absent for some tokens: unknown, not READ)."""
    perms = repo.get("permissions")
    if not isinstance(perms, Mapping):
        return None
    for key, role in _PERMISSION_ORDER:
        if perms.get(key):
            return role
    return "READ" if perms.get("pull") else None


def analysis_status(repo: Json, feature: str) -> bool | None:
    """`security_and_analysis.<feature>.status == "enabled"`; None when GitHub left it out."""
    block = repo.get("security_and_analysis")
    if not isinstance(block, Mapping):
        return None
    item = block.get(feature)
    if not isinstance(item, Mapping) or not isinstance(item.get("status"), str):
        return None
    return bool(item["status"] == "enabled")


# --------------------------------------------------------------------------------------------
# Branch protection and rulesets


def classic_protection(data: Json) -> ClassicProtection:
    """GET .../branches/{b}/protection (200) -> ClassicProtection.

    Required checks are the union of the legacy `contexts` and the newer `checks[].context`.
    A `required_pull_request_reviews` block means pull requests are required, with
    `required_approving_review_count` approvals (0 is a real value).
    """
    reviews = data.get("required_pull_request_reviews")
    checks = data.get("required_status_checks")
    approvals: int | None = None
    code_owners = dismiss = last_push = False
    if isinstance(reviews, Mapping):
        approvals = int(reviews.get("required_approving_review_count") or 0)
        code_owners = bool(reviews.get("require_code_owner_reviews"))
        dismiss = bool(reviews.get("dismiss_stale_reviews"))
        last_push = bool(reviews.get("require_last_push_approval"))
    required: tuple[str, ...] | None = None
    strict = False
    if isinstance(checks, Mapping):
        names = [str(c.get("context")) for c in checks.get("checks") or [] if isinstance(c, Mapping)]
        names += [str(c) for c in checks.get("contexts") or []]
        required = _unique(names)
        strict = bool(checks.get("strict"))
    return ClassicProtection(
        required_approvals=approvals,
        require_code_owner_reviews=code_owners,
        dismiss_stale_reviews=dismiss,
        require_last_push_approval=last_push,
        required_checks=required,
        strict_checks=strict,
        enforce_admins=_enabled(data, "enforce_admins"),
        allow_force_pushes=_enabled(data, "allow_force_pushes"),
        allow_deletions=_enabled(data, "allow_deletions"),
        required_linear_history=_enabled(data, "required_linear_history"),
        required_signatures=_enabled(data, "required_signatures"),
        lock_branch=_enabled(data, "lock_branch"),
    )


def rule_detail(data: Json, names: Mapping[int, str] | None = None) -> RuleDetail:
    """One item of GET .../rules/branches/{b} -> RuleDetail (name filled from `names` if known)."""
    ruleset_id = int(data.get("ruleset_id") or 0)
    params = data.get("parameters")
    return RuleDetail(
        type=str(data.get("type", "")),
        ruleset_id=ruleset_id,
        ruleset_name=(names or {}).get(ruleset_id, ""),
        ruleset_source=str(data.get("ruleset_source") or ""),
        ruleset_source_type=str(data.get("ruleset_source_type") or "Repository"),
        parameters=dict(params) if isinstance(params, Mapping) else {},
    )


def bypass_permission(source_type: str) -> str:
    """Who may see a ruleset's bypass actors: those who may edit it."""
    return "Organization administration: write" if source_type == "Organization" else "Administration: write"


def ruleset_info(data: Json) -> RulesetInfo:
    """GET .../rulesets/{id} -> RulesetInfo.

    GitHub returns `bypass_actors` only to callers with write access to the ruleset, so a missing
    field means unknown (bypass_actors None with a gap), never "nobody may bypass".
    """
    source_type = str(data.get("source_type") or "Repository")
    raw = data.get("bypass_actors")
    actors: tuple[BypassActor, ...] | None = None
    gap: Gap | None = None
    if isinstance(raw, list):
        actors = tuple(
            BypassActor(
                actor_type=str(a.get("actor_type", "")),
                actor_id=int(a["actor_id"]) if isinstance(a.get("actor_id"), int) else None,
                bypass_mode=str(a.get("bypass_mode") or "always"),
            )
            for a in raw
            if isinstance(a, Mapping)
        )
    else:
        gap = Gap(
            "GitHub shows a ruleset's bypass actors only to callers who can edit it",
            permission=bypass_permission(source_type),
        )
    return RulesetInfo(
        id=int(data.get("id") or 0),
        name=str(data.get("name") or ""),
        enforcement=str(data.get("enforcement") or "active"),
        source=str(data.get("source") or ""),
        source_type=source_type,
        bypass_actors=actors,
        bypass_gap=gap,
    )


# --------------------------------------------------------------------------------------------
# Environments and secrets


def _reviewer_name(item: Json) -> str | None:
    reviewer = item.get("reviewer")
    if not isinstance(reviewer, Mapping):
        return None
    if item.get("type") == "Team":
        slug = reviewer.get("slug") or reviewer.get("name")
        return str(slug) if slug else None
    login = reviewer.get("login")
    return str(login) if login else None


def environment(data: Json) -> Environment:
    """One item of GET .../environments -> Environment (patterns and secrets filled in later).

    Teams are named by slug, users by login, so rules can compare them with policy lists.
    """
    wait_timer = 0
    reviewers: list[str] = []
    prevent_self = False
    for rule in data.get("protection_rules") or []:
        if not isinstance(rule, Mapping):
            continue
        if rule.get("type") == "wait_timer":
            wait_timer = int(rule.get("wait_timer") or 0)
        elif rule.get("type") == "required_reviewers":
            prevent_self = bool(rule.get("prevent_self_review"))
            for item in rule.get("reviewers") or []:
                name = _reviewer_name(item) if isinstance(item, Mapping) else None
                if name:
                    reviewers.append(name)
    policy = data.get("deployment_branch_policy")
    branch_policy: Literal["protected", "custom"] | None = None
    if isinstance(policy, Mapping):
        if policy.get("custom_branch_policies"):
            branch_policy = "custom"
        elif policy.get("protected_branches"):
            branch_policy = "protected"
    can_bypass = data.get("can_admins_bypass")
    return Environment(
        name=str(data.get("name", "")),
        wait_timer=wait_timer,
        reviewers=_unique(reviewers),
        prevent_self_review=prevent_self,
        can_admins_bypass=True if can_bypass is None else bool(can_bypass),
        branch_policy=branch_policy,
    )


def branch_policy_pattern(data: Json) -> str:
    """One item of GET .../deployment-branch-policies: a branch pattern, or `tag:<pattern>`."""
    name = str(data.get("name", ""))
    return f"tag:{name}" if data.get("type") == "tag" else name


def protection_app(data: Json) -> str | None:
    """One item of GET .../deployment_protection_rules: the enabled app's slug."""
    if data.get("enabled") is False:
        return None
    app = data.get("app")
    if isinstance(app, Mapping):
        return str(app.get("slug") or app.get("id") or "") or None
    return None


def secret(
    data: Json,
    scope: Literal["repo", "org", "environment"],
    environment_name: str | None = None,
) -> Secret:
    """A secret's metadata (never a value: GitHub does not return one)."""
    visibility = data.get("visibility")
    return Secret(
        name=str(data.get("name", "")),
        scope=scope,
        updated_at=ts(data.get("updated_at")),
        created_at=ts(data.get("created_at")),
        visibility=str(visibility) if isinstance(visibility, str) else None,
        environment=environment_name,
    )


# --------------------------------------------------------------------------------------------
# Files


def codeowners_error(data: Json) -> CodeownersError:
    """One item of GET .../codeowners/errors `errors`."""
    return CodeownersError(
        line=int(data.get("line") or 0),
        kind=str(data.get("kind", "")),
        message=str(data.get("message") or ""),
    )


def blob_text(data: Json) -> str | None:
    """The text of a git blob or contents answer (base64), or None if GitHub sent no content."""
    content = data.get("content")
    if not isinstance(content, str):
        return None
    if data.get("encoding", "base64") == "base64":
        return base64.b64decode(content).decode("utf-8", errors="replace")
    return content


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_headings(text: str) -> tuple[str, ...]:
    """ATX headings of a Markdown file, outside fenced code blocks, without the #s."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        match = _HEADING.match(line)
        if match and match.group(2):
            out.append(match.group(2))
    return tuple(out)


def commit_date(data: Json) -> datetime | None:
    """When a commit (an item of GET .../commits) reached its branch: the committer date."""
    commit = data.get("commit")
    if not isinstance(commit, Mapping):
        return None
    for who in ("committer", "author"):
        block = commit.get(who)
        if isinstance(block, Mapping) and block.get("date"):
            return ts(block["date"])
    return None


# --------------------------------------------------------------------------------------------
# Pull requests, commits, checks, deployments, hooks


def _obj(data: Json, key: str) -> Json:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _login(data: Any) -> str | None:
    if isinstance(data, Mapping) and data.get("login"):
        return str(data["login"])
    return None


def pull_request(data: Json) -> PullRequest:
    """An item of GET .../pulls (reviews and checks are attached later)."""
    head, base = _obj(data, "head"), _obj(data, "base")
    head_repo = head.get("repo")
    return PullRequest(
        number=int(data.get("number") or 0),
        title=str(data.get("title") or ""),
        author=_login(data.get("user")) or "",
        head_ref=str(head.get("ref") or ""),
        base_ref=str(base.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        head_repo=str(head_repo["full_name"]) if isinstance(head_repo, Mapping) else None,
        state=str(data.get("state") or "closed"),
        created_at=ts(data.get("created_at")),
        merged_at=ts(data.get("merged_at")),
        merge_commit_sha=data.get("merge_commit_sha") or None,
    )


def review(data: Json) -> Review:
    """An item of GET .../pulls/{n}/reviews."""
    return Review(
        author=_login(data.get("user")) or "",
        state=str(data.get("state") or ""),
        submitted_at=ts(data.get("submitted_at")),
        commit_id=data.get("commit_id") or None,
    )


def check_run(data: Json) -> CheckResult:
    """An item of GET .../commits/{sha}/check-runs `check_runs`."""
    conclusion = data.get("conclusion")
    return CheckResult(
        name=str(data.get("name") or ""),
        status=str(data.get("status") or "completed"),
        conclusion=str(conclusion) if conclusion else None,
        source="check_run",
    )


def commit_status(data: Json) -> CheckResult:
    """An item of GET .../commits/{sha}/status `statuses` (pending means not finished)."""
    state = str(data.get("state") or "pending")
    done = state in {"success", "failure", "error"}
    return CheckResult(
        name=str(data.get("context") or ""),
        status="completed" if done else "in_progress",
        conclusion=state if done else None,
        source="status",
    )


def commit(data: Json, pull_requests: tuple[int, ...] | None = None) -> Commit:
    """An item of GET .../commits."""
    inner = _obj(data, "commit")
    author = _login(data.get("author"))
    if author is None and isinstance(inner.get("author"), Mapping):
        author = inner["author"].get("name")
    return Commit(
        sha=str(data.get("sha") or ""),
        committed_at=commit_date(data),
        author=author,
        message=str(inner.get("message") or ""),
        pull_requests=pull_requests,
        parents=len(data.get("parents") or []) if isinstance(data.get("parents"), list) else 1,
    )


def deployment(data: Json, statuses: Iterable[DeploymentStatus] = ()) -> Deployment:
    """An item of GET .../deployments."""
    return Deployment(
        id=int(data.get("id") or 0),
        environment=str(data.get("environment") or ""),
        sha=str(data.get("sha") or ""),
        ref=data.get("ref") or None,
        created_at=ts(data.get("created_at")),
        creator=_login(data.get("creator")),
        statuses=tuple(statuses),
    )


def deployment_status(data: Json) -> DeploymentStatus:
    """An item of GET .../deployments/{id}/statuses (GitHub lists the newest first)."""
    return DeploymentStatus(state=str(data.get("state") or ""), created_at=ts(data.get("created_at")))


def webhook(data: Json) -> Webhook:
    """An item of GET .../hooks: its events and whether it is active, never its config."""
    return Webhook(
        id=int(data.get("id") or 0),
        events=tuple(str(e) for e in data.get("events") or []),
        active=bool(data.get("active", True)),
    )


def pr_file_paths(data: Json) -> tuple[str, ...]:
    """An item of GET .../pulls/{n}/files -> the paths it touches.

    A rename touches both its new path and `previous_filename`: moving a workflow or a doc away is
    a change to the old path too.
    """
    paths = [str(data.get("filename") or "")]
    if data.get("previous_filename"):
        paths.append(str(data["previous_filename"]))
    return tuple(p for p in paths if p)
