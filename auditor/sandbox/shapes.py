"""GitHub's JSON shapes, built from sandbox state.

Field names, nesting and nullability follow GitHub's OpenAPI description (the sandbox's tests
validate every answer against it), so a client written against GitHub's documentation reads the
sandbox unchanged. Every URL points back at the sandbox itself (`base`), because clients such as
PyGithub follow `url`/`protection_url` fields and refuse URLs on another host.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from .state import (
    CheckRun,
    Commit,
    CommitStatus,
    Deployment,
    DeploymentStatus,
    Environment,
    Hook,
    IssueComment,
    Org,
    Pull,
    Repo,
    Review,
    Ruleset,
    Secret,
    State,
    User,
)

Json = dict[str, Any]
DOCS = "https://docs.github.com/rest"


def ts(when: datetime | None) -> str | None:
    """GitHub's timestamp format: UTC, second precision, `Z`."""
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: object) -> str:
    return kind + "_" + base64.b64encode(f"{kind}:{ident}".encode()).decode().rstrip("=")


def blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\x00" % len(data) + data, usedforsecurity=False).hexdigest()


def user(base: str, u: User) -> Json:
    login = u.login
    return {
        "login": login, "id": u.id, "node_id": node_id("U", u.id),
        "avatar_url": f"{base}/_avatars/{login}", "gravatar_id": "",
        "url": f"{base}/users/{login}", "html_url": f"{base}/{login}",
        "followers_url": f"{base}/users/{login}/followers",
        "following_url": f"{base}/users/{login}/following{{/other_user}}",
        "gists_url": f"{base}/users/{login}/gists{{/gist_id}}",
        "starred_url": f"{base}/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/users/{login}/subscriptions",
        "organizations_url": f"{base}/users/{login}/orgs",
        "repos_url": f"{base}/users/{login}/repos",
        "events_url": f"{base}/users/{login}/events{{/privacy}}",
        "received_events_url": f"{base}/users/{login}/received_events",
        "type": u.type, "site_admin": False,
    }


def private_user(base: str, u: User, state: State) -> Json:
    owned = [r for r in state.repos.values() if r.owner == u.login]
    return {
        **user(base, u), "name": u.name, "company": None, "blog": "", "location": None, "email": None,
        "hireable": None, "bio": None, "twitter_username": None,
        "public_repos": sum(1 for r in owned if not r.private), "public_gists": 0, "followers": 0, "following": 0,
        "created_at": "2020-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "private_gists": 0, "total_private_repos": sum(1 for r in owned if r.private),
        "owned_private_repos": sum(1 for r in owned if r.private), "disk_usage": 0, "collaborators": 0,
        "two_factor_authentication": True,
    }


def org_full(base: str, org: Org, state: State, can_see_plan: bool) -> Json:
    repos = [r for r in state.repos.values() if r.owner == org.login]
    body: Json = {
        "login": org.login, "id": org.id, "node_id": node_id("O", org.id), "url": f"{base}/orgs/{org.login}",
        "repos_url": f"{base}/orgs/{org.login}/repos", "events_url": f"{base}/orgs/{org.login}/events",
        "hooks_url": f"{base}/orgs/{org.login}/hooks", "issues_url": f"{base}/orgs/{org.login}/issues",
        "members_url": f"{base}/orgs/{org.login}/members{{/member}}",
        "public_members_url": f"{base}/orgs/{org.login}/public_members{{/member}}",
        "avatar_url": f"{base}/_avatars/{org.login}", "description": org.description,
        "name": org.login, "blog": "", "is_verified": False, "has_organization_projects": True,
        "has_repository_projects": True, "public_repos": sum(1 for r in repos if not r.private),
        "public_gists": 0, "followers": 0, "following": 0, "html_url": f"{base}/{org.login}",
        "type": "Organization", "created_at": ts(org.created_at), "updated_at": ts(org.created_at),
        "archived_at": None,
    }
    if can_see_plan:
        body["plan"] = {"name": org.plan, "space": 976562499, "private_repos": 999999, "filled_seats": len(
            set(org.members) | set(org.owners)), "seats": len(set(org.members) | set(org.owners))}
        body["total_private_repos"] = sum(1 for r in repos if r.private)
        body["owned_private_repos"] = body["total_private_repos"]
        body["two_factor_requirement_enabled"] = True
        body["members_can_create_repositories"] = False
    return body


def _repo_urls(base: str, repo: Repo) -> Json:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "url": api, "html_url": f"{base}/{repo.full_name}", "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}", "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks", "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events", "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}", "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}", "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}", "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}", "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers", "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers", "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}", "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}", "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}", "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges", "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads", "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}", "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}", "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
    }


def permissions(role: str) -> Json:
    from .state import role_at_least

    return {
        "admin": role_at_least(role, "admin"), "maintain": role_at_least(role, "maintain"),
        "push": role_at_least(role, "write"), "triage": role_at_least(role, "triage"),
        "pull": role_at_least(role, "read"),
    }


def security_and_analysis(repo: Repo) -> Json:
    """The `security_and_analysis` object (full and minimal repository alike, admins only)."""
    features = ("advanced_security", "secret_scanning", "secret_scanning_push_protection",
                "dependabot_security_updates", "secret_scanning_non_provider_patterns",
                "secret_scanning_validity_checks")
    return {f: {"status": repo.security.get(f, "disabled")} for f in features
            if f != "advanced_security" or repo.private}


def minimal_repo(base: str, repo: Repo, state: State, role: str | None, show_security: bool = False) -> Json:
    host = base.split("://", 1)[-1].split(":", maxsplit=1)[0]
    body: Json = {
        "id": repo.id, "node_id": node_id("R", repo.id), "name": repo.name, "full_name": repo.full_name,
        "private": repo.private, "owner": user(base, state.user(repo.owner)), "description": repo.description,
        "fork": repo.fork, **_repo_urls(base, repo),
        "git_url": f"git://{host}/{repo.full_name}.git", "ssh_url": f"git@{host}:{repo.full_name}.git",
        "clone_url": f"{base}/{repo.full_name}.git", "svn_url": f"{base}/{repo.full_name}", "mirror_url": None,
        "homepage": None, "language": "Python", "forks_count": 0, "forks": 0, "stargazers_count": 0,
        "watchers_count": 0, "watchers": 0, "size": 100 + len(repo.commits), "default_branch": repo.default_branch,
        "open_issues_count": sum(1 for p in repo.pulls if p.state == "open"),
        "open_issues": sum(1 for p in repo.pulls if p.state == "open"),
        "is_template": False, "topics": list(repo.topics), "has_issues": True, "has_projects": True,
        "has_wiki": False, "has_pages": False, "has_downloads": True, "has_discussions": False,
        "archived": repo.archived, "disabled": False, "visibility": repo.visibility,
        "pushed_at": ts(repo.pushed_at), "created_at": ts(repo.created_at), "updated_at": ts(repo.pushed_at),
        "allow_forking": not repo.private, "web_commit_signoff_required": False, "license": None,
    }
    if role is not None:
        body["permissions"] = permissions(role)
    if show_security:  # `minimal-repository` documents it too; GitHub fills it in for admins
        body["security_and_analysis"] = security_and_analysis(repo)
    return body


def full_repo(base: str, repo: Repo, state: State, role: str | None, show_security: bool) -> Json:
    body = minimal_repo(base, repo, state, role, show_security)
    org = state.orgs.get(repo.owner)
    body.update({
        "network_count": 0, "subscribers_count": 1, "temp_clone_token": None if role is None else "",
        "allow_squash_merge": True, "allow_merge_commit": True, "allow_rebase_merge": True,
        "allow_auto_merge": False, "delete_branch_on_merge": True, "allow_update_branch": True,
        "use_squash_pr_title_as_default": False, "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
        "squash_merge_commit_message": "COMMIT_MESSAGES", "merge_commit_title": "MERGE_MESSAGE",
        "merge_commit_message": "PR_TITLE",
    })
    if org is not None:
        body["organization"] = user(base, state.user(org.login))
    if show_security:
        body["security_and_analysis"] = security_and_analysis(repo)
    return body


def short_branch(base: str, repo: Repo, name: str, protected: bool) -> Json:
    sha = repo.branches[name].head
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{base}/repos/{repo.full_name}/commits/{sha}"},
        "protected": protected,
        "protection": _protection_stub(repo, name, protected),
        "protection_url": f"{base}/repos/{repo.full_name}/branches/{name}/protection",
    }


def _protection_stub(repo: Repo, name: str, protected: bool) -> Json:
    p = repo.protection.get(name)
    checks = (p or {}).get("required_checks")
    if p is None or checks is None:
        return {"enabled": protected, "required_status_checks": {"enforcement_level": "off", "contexts": [],
                                                                  "checks": []}}
    return {"enabled": True, "required_status_checks": {
        "enforcement_level": "everyone" if p.get("enforce_admins") else "non_admins",
        "contexts": list(checks), "checks": [{"context": c, "app_id": 15368} for c in checks]}}


def branch_with_protection(base: str, repo: Repo, state: State, name: str, protected: bool) -> Json:
    sha = repo.branches[name].head
    return {
        "name": name,
        "commit": commit(base, repo, state, repo.commits[sha]),
        "_links": {"self": f"{base}/repos/{repo.full_name}/branches/{name}",
                   "html": f"{base}/{repo.full_name}/tree/{name}"},
        "protected": protected,
        "protection": _protection_stub(repo, name, protected),
        "protection_url": f"{base}/repos/{repo.full_name}/branches/{name}/protection",
    }


def protection(base: str, repo: Repo, state: State, name: str) -> Json:
    """GitHub's classic branch protection object (the shape recorded in the cassettes)."""
    p = repo.protection[name]
    url = f"{base}/repos/{repo.full_name}/branches/{name}/protection"
    body: Json = {"url": url}
    if p.get("required_checks") is not None:
        body["required_status_checks"] = status_checks(base, repo, name)
    if p.get("required_approvals") is not None:
        body["required_pull_request_reviews"] = pr_reviews(base, repo, name)
    body["required_signatures"] = {"url": f"{url}/required_signatures",
                                   "enabled": bool(p.get("required_signatures", False))}
    body["enforce_admins"] = {"url": f"{url}/enforce_admins", "enabled": bool(p.get("enforce_admins", False))}
    for key in ("required_linear_history", "allow_force_pushes", "allow_deletions", "block_creations",
                "required_conversation_resolution", "lock_branch", "allow_fork_syncing"):
        body[key] = {"enabled": bool(p.get(key, False))}
    restrictions = p.get("restrictions")
    if restrictions is not None:
        body["restrictions"] = {
            "url": f"{url}/restrictions", "users_url": f"{url}/restrictions/users",
            "teams_url": f"{url}/restrictions/teams", "apps_url": f"{url}/restrictions/apps",
            "users": [user(base, state.user(u)) for u in restrictions.get("users", [])],
            "teams": [team(base, repo.owner, t) for t in restrictions.get("teams", [])],
            "apps": [],
        }
    return body


def status_checks(base: str, repo: Repo, name: str) -> Json:
    p = repo.protection[name]
    url = f"{base}/repos/{repo.full_name}/branches/{name}/protection/required_status_checks"
    contexts = list(p.get("required_checks") or [])
    return {"url": url, "strict": bool(p.get("strict", False)), "contexts": contexts,
            "contexts_url": f"{url}/contexts", "checks": [{"context": c, "app_id": 15368} for c in contexts]}


def pr_reviews(base: str, repo: Repo, name: str) -> Json:
    p = repo.protection[name]
    return {
        "url": f"{base}/repos/{repo.full_name}/branches/{name}/protection/required_pull_request_reviews",
        "dismiss_stale_reviews": bool(p.get("dismiss_stale_reviews", False)),
        "require_code_owner_reviews": bool(p.get("require_code_owner_reviews", False)),
        "require_last_push_approval": bool(p.get("require_last_push_approval", False)),
        "required_approving_review_count": int(p.get("required_approvals") or 0),
    }


def team(base: str, org: str, slug: str) -> Json:
    tid = 4_000_000 + int(hashlib.sha256(f"{org}/{slug}".encode()).hexdigest()[:5], 16)
    return {
        "id": tid, "node_id": node_id("T", tid), "url": f"{base}/orgs/{org}/teams/{slug}",
        "html_url": f"{base}/orgs/{org}/teams/{slug}", "name": slug, "slug": slug, "description": None,
        "privacy": "closed", "notification_setting": "notifications_enabled", "permission": "pull",
        "members_url": f"{base}/orgs/{org}/teams/{slug}/members{{/member}}",
        "repositories_url": f"{base}/orgs/{org}/teams/{slug}/repos", "parent": None, "type": "organization",
    }


def ruleset(base: str, rs: Ruleset, with_bypass: bool, can_bypass: str) -> Json:
    if rs.source_type == "Organization":
        self_url = f"{base}/orgs/{rs.source}/rulesets/{rs.id}"
        html = f"{base}/organizations/{rs.source}/settings/rules/{rs.id}"
    else:
        self_url = f"{base}/repos/{rs.source}/rulesets/{rs.id}"
        html = f"{base}/{rs.source}/rules/{rs.id}"
    body: Json = {
        "id": rs.id, "name": rs.name, "target": rs.target, "source_type": rs.source_type, "source": rs.source,
        "enforcement": rs.enforcement, "node_id": node_id("RRS", rs.id),
        "_links": {"self": {"href": self_url}, "html": {"href": html}},
        "created_at": ts(rs.created_at), "updated_at": ts(rs.updated_at),
        "current_user_can_bypass": can_bypass, "conditions": rs.conditions, "rules": rs.rules,
    }
    if with_bypass:
        body["bypass_actors"] = rs.bypass_actors
    return body


def ruleset_summary(base: str, rs: Ruleset) -> Json:
    """The list form of GET .../rulesets: no rules, conditions or bypass actors."""
    full = ruleset(base, rs, with_bypass=False, can_bypass="never")
    return {k: v for k, v in full.items() if k not in ("rules", "conditions", "current_user_can_bypass")}


def rule_detailed(rule: Json, rs: Ruleset) -> Json:
    return {**rule, "ruleset_source_type": rs.source_type, "ruleset_source": rs.source, "ruleset_id": rs.id}


def environment(base: str, repo: Repo, state: State, env: Environment) -> Json:
    rules: list[Json] = []
    if env.wait_timer:
        rules.append({"id": env.rule_ids[0], "node_id": node_id("GA", env.rule_ids[0]), "type": "wait_timer",
                      "wait_timer": env.wait_timer})
    if env.reviewers:
        reviewers = []
        for rv in env.reviewers:
            if rv["type"] == "Team":
                reviewers.append({"type": "Team", "reviewer": team(base, repo.owner, rv["name"])})
            else:
                reviewers.append({"type": "User", "reviewer": user(base, state.user(rv["name"]))})
        rules.append({"id": env.rule_ids[1], "node_id": node_id("GA", env.rule_ids[1]),
                      "prevent_self_review": env.prevent_self_review, "type": "required_reviewers",
                      "reviewers": reviewers})
    if env.branch_policy is not None:
        rules.append({"id": env.rule_ids[2], "node_id": node_id("GA", env.rule_ids[2]), "type": "branch_policy"})
    policy = None
    if env.branch_policy is not None:
        policy = {"protected_branches": env.branch_policy == "protected",
                  "custom_branch_policies": env.branch_policy == "custom"}
    return {
        "id": env.id, "node_id": node_id("EN", env.id), "name": env.name,
        "url": f"{base}/repos/{repo.full_name}/environments/{env.name}",
        "html_url": f"{base}/{repo.full_name}/deployments/activity_log?environments_filter={env.name}",
        "created_at": ts(env.created_at), "updated_at": ts(env.created_at),
        "can_admins_bypass": env.can_admins_bypass, "protection_rules": rules, "deployment_branch_policy": policy,
    }


def branch_policy(pid: int, name: str, kind: str) -> Json:
    return {"id": pid, "node_id": node_id("DBP", pid), "name": name, "type": kind}


def secret(s: Secret, org: str | None = None, base: str = "") -> Json:
    body: Json = {"name": s.name, "created_at": ts(s.created_at), "updated_at": ts(s.updated_at)}
    if s.visibility is not None and org is not None:
        body["visibility"] = s.visibility
        if s.visibility == "selected":
            body["selected_repositories_url"] = f"{base}/orgs/{org}/actions/secrets/{s.name}/repositories"
    return body


def github_base64(data: bytes) -> str:
    """Base64 as GitHub sends file content: a newline after every 60 characters, and at the end."""
    flat = base64.b64encode(data).decode()
    return "".join(flat[i:i + 60] + "\n" for i in range(0, len(flat), 60))


def blob(base: str, repo: Repo, text: str) -> Json:
    """GET /repos/{owner}/{repo}/git/blobs/{file_sha}: the JSON representation, content always base64."""
    sha = blob_sha(text)
    return {
        "sha": sha, "node_id": node_id("B", f"{repo.full_name}:{sha}"), "size": len(text.encode()),
        "url": f"{base}/repos/{repo.full_name}/git/blobs/{sha}", "content": github_base64(text.encode()),
        "encoding": "base64",
    }


def content_file(base: str, repo: Repo, path: str, text: str, ref: str) -> Json:
    sha = blob_sha(text)
    api = f"{base}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    encoded = github_base64(text.encode())
    return {
        "type": "file", "encoding": "base64", "size": len(text.encode()), "name": path.rsplit("/", 1)[-1],
        "path": path, "content": encoded, "sha": sha, "url": api,
        "git_url": f"{base}/repos/{repo.full_name}/git/blobs/{sha}",
        "html_url": f"{base}/{repo.full_name}/blob/{ref}/{path}",
        "download_url": f"{base}/_raw/{repo.full_name}/{ref}/{path}",
        "_links": {"self": api, "git": f"{base}/repos/{repo.full_name}/git/blobs/{sha}",
                   "html": f"{base}/{repo.full_name}/blob/{ref}/{path}"},
    }


def content_entry(base: str, repo: Repo, path: str, kind: str, sha: str, size: int, ref: str) -> Json:
    api = f"{base}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    git = f"{base}/repos/{repo.full_name}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    html = f"{base}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    return {
        "type": kind, "size": size, "name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "url": api,
        "git_url": git, "html_url": html,
        "download_url": f"{base}/_raw/{repo.full_name}/{ref}/{path}" if kind == "file" else None,
        "_links": {"self": api, "git": git, "html": html},
    }


def git_user(name: str, when: datetime) -> Json:
    return {"name": name, "email": f"{name}@users.noreply.sandbox.invalid", "date": ts(when)}


def commit(base: str, repo: Repo, state: State, c: Commit, with_files: bool = False) -> Json:
    api = f"{base}/repos/{repo.full_name}"
    author = state.user(c.author)
    committer_name = c.committer or c.author
    body: Json = {
        "sha": c.sha, "node_id": node_id("C", c.sha[:12]),
        "commit": {
            "author": git_user(c.author, c.date), "committer": git_user(committer_name, c.date),
            "message": c.message, "tree": {"sha": tree_sha(c.sha), "url": f"{api}/git/trees/{tree_sha(c.sha)}"},
            "url": f"{api}/git/commits/{c.sha}", "comment_count": 0,
            "verification": {"verified": c.verified, "reason": "valid" if c.verified else "unsigned",
                             "signature": None, "payload": None, "verified_at": ts(c.date) if c.verified else None},
        },
        "url": f"{api}/commits/{c.sha}", "html_url": f"{base}/{repo.full_name}/commit/{c.sha}",
        "comments_url": f"{api}/commits/{c.sha}/comments",
        "author": user(base, author),
        "committer": user(base, state.user("web-flow" if c.committer == "GitHub" else c.author)),
        "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{base}/{repo.full_name}/commit/{p}"}
                    for p in c.parents],
    }
    if with_files:
        body["stats"] = {"total": 2 * len(c.files), "additions": len(c.files), "deletions": len(c.files)}
        body["files"] = [diff_entry(base, repo, f, c.sha) for f in c.files]
    return body


def tree_sha(commit_sha: str) -> str:
    return hashlib.sha1(f"tree:{commit_sha}".encode(), usedforsecurity=False).hexdigest()


def diff_entry(base: str, repo: Repo, filename: str, sha: str) -> Json:
    return {
        "sha": hashlib.sha1(f"{sha}:{filename}".encode(), usedforsecurity=False).hexdigest(),
        "filename": filename, "status": "modified", "additions": 1, "deletions": 1, "changes": 2,
        "blob_url": f"{base}/{repo.full_name}/blob/{sha}/{filename}",
        "raw_url": f"{base}/{repo.full_name}/raw/{sha}/{filename}",
        "contents_url": f"{base}/repos/{repo.full_name}/contents/{filename}?ref={sha}",
        "patch": "@@ -1 +1 @@\n-old\n+new",
    }


def workflow(base: str, repo: Repo, wid: int, path: str, name: str, created: datetime) -> Json:
    return {
        "id": wid, "node_id": node_id("W", wid), "name": name, "path": path, "state": "active",
        "created_at": ts(created), "updated_at": ts(created),
        "url": f"{base}/repos/{repo.full_name}/actions/workflows/{wid}",
        "html_url": f"{base}/{repo.full_name}/blob/{repo.default_branch}/{path}",
        "badge_url": f"{base}/{repo.full_name}/workflows/{name}/badge.svg",
    }


def deployment(base: str, repo: Repo, state: State, d: Deployment) -> Json:
    api = f"{base}/repos/{repo.full_name}/deployments/{d.id}"
    return {
        "url": api, "id": d.id, "node_id": node_id("DE", d.id), "sha": d.sha, "ref": d.ref, "task": "deploy",
        "payload": {}, "original_environment": d.environment, "environment": d.environment,
        "description": d.description, "creator": user(base, _bot(state, d.creator)),
        "created_at": ts(d.created_at), "updated_at": ts(d.statuses[-1].created_at if d.statuses else d.created_at),
        "statuses_url": f"{api}/statuses", "repository_url": f"{base}/repos/{repo.full_name}",
        "transient_environment": False, "production_environment": d.environment == "production",
        "performed_via_github_app": None,
    }


def _bot(state: State, login: str) -> User:
    u = state.user(login)
    if login.endswith("[bot]"):
        u.type = "Bot"
    return u


def deployment_status(base: str, repo: Repo, state: State, d: Deployment, s: DeploymentStatus) -> Json:
    api = f"{base}/repos/{repo.full_name}/deployments/{d.id}"
    target = f"{base}/{repo.full_name}/actions/runs/{s.id}"
    return {
        "url": f"{api}/statuses/{s.id}", "id": s.id, "node_id": node_id("DES", s.id), "state": s.state,
        "creator": user(base, _bot(state, d.creator)), "description": s.description, "environment": d.environment,
        "target_url": target, "log_url": target, "environment_url": "",
        "created_at": ts(s.created_at), "updated_at": ts(s.created_at), "deployment_url": api,
        "repository_url": f"{base}/repos/{repo.full_name}", "performed_via_github_app": None,
    }


def _pr_links(base: str, repo: Repo, n: int, head_sha: str) -> Json:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "self": {"href": f"{api}/pulls/{n}"}, "html": {"href": f"{base}/{repo.full_name}/pull/{n}"},
        "issue": {"href": f"{api}/issues/{n}"}, "comments": {"href": f"{api}/issues/{n}/comments"},
        "review_comments": {"href": f"{api}/pulls/{n}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{api}/pulls/{n}/commits"}, "statuses": {"href": f"{api}/statuses/{head_sha}"},
    }


def pull_simple(base: str, repo: Repo, state: State, p: Pull) -> Json:
    api = f"{base}/repos/{repo.full_name}"
    owner = user(base, state.user(repo.owner))
    repo_json = minimal_repo(base, repo, state, None)
    author = user(base, state.user(p.author))
    return {
        "url": f"{api}/pulls/{p.number}", "id": p.id, "node_id": node_id("PR", p.id),
        "html_url": f"{base}/{repo.full_name}/pull/{p.number}",
        "diff_url": f"{base}/{repo.full_name}/pull/{p.number}.diff",
        "patch_url": f"{base}/{repo.full_name}/pull/{p.number}.patch",
        "issue_url": f"{api}/issues/{p.number}", "commits_url": f"{api}/pulls/{p.number}/commits",
        "review_comments_url": f"{api}/pulls/{p.number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{p.number}/comments", "statuses_url": f"{api}/statuses/{p.head_sha}",
        "number": p.number, "state": p.state, "locked": False, "title": p.title, "user": author, "body": p.body,
        "labels": [], "milestone": None, "active_lock_reason": None,
        "created_at": ts(p.created_at), "updated_at": ts(p.updated_at), "closed_at": ts(p.closed_at),
        "merged_at": ts(p.merged_at), "merge_commit_sha": p.merge_commit_sha, "assignee": None, "assignees": [],
        "requested_reviewers": [], "requested_teams": [],
        "head": {"label": f"{repo.owner}:{p.head_ref}", "ref": p.head_ref, "sha": p.head_sha, "user": owner,
                 "repo": repo_json},
        "base": {"label": f"{repo.owner}:{p.base_ref}", "ref": p.base_ref, "sha": p.base_sha, "user": owner,
                 "repo": repo_json},
        "_links": _pr_links(base, repo, p.number, p.head_sha),
        "author_association": "MEMBER", "auto_merge": None, "draft": False,
    }


def pull_full(base: str, repo: Repo, state: State, p: Pull) -> Json:
    body = pull_simple(base, repo, state, p)
    body.update({
        "merged": p.merged_at is not None, "mergeable": None if p.state == "closed" else True,
        "rebaseable": None if p.state == "closed" else True,
        "mergeable_state": "unknown" if p.state == "closed" else "clean",
        "merged_by": user(base, state.user(p.merged_by)) if p.merged_by else None, "comments": 0,
        "review_comments": 0, "maintainer_can_modify": False, "commits": max(1, len(p.commits)),
        "additions": len(p.files), "deletions": len(p.files), "changed_files": len(p.files),
    })
    return body


def review(base: str, repo: Repo, state: State, p: Pull, r: Review) -> Json:
    html = f"{base}/{repo.full_name}/pull/{p.number}#pullrequestreview-{r.id}"
    return {
        "id": r.id, "node_id": node_id("PRR", r.id), "user": user(base, state.user(r.user)),
        "body": "" if r.state != "CHANGES_REQUESTED" else "Please address the comments.", "state": r.state,
        "html_url": html, "pull_request_url": f"{base}/repos/{repo.full_name}/pulls/{p.number}",
        "_links": {"html": {"href": html}, "pull_request": {"href": f"{base}/repos/{repo.full_name}/pulls/{p.number}"}},
        "submitted_at": ts(r.submitted_at), "commit_id": r.commit_id, "author_association": "MEMBER",
    }


def app(base: str, slug: str, owner: User) -> Json:
    aid = 15368 if slug == "github-actions" else 100_000 + int(hashlib.sha256(slug.encode()).hexdigest()[:5], 16)
    return {
        "id": aid, "slug": slug, "node_id": node_id("A", aid), "owner": user(base, owner),
        "name": "GitHub Actions" if slug == "github-actions" else slug, "description": "",
        "external_url": f"{base}/features/actions", "html_url": f"{base}/apps/{slug}",
        "created_at": "2018-07-30T09:30:17Z", "updated_at": "2024-04-10T20:33:16Z",
        "permissions": {"checks": "write", "contents": "read", "metadata": "read"}, "events": ["check_run"],
    }


def check_run(base: str, repo: Repo, state: State, c: CheckRun) -> Json:
    api = f"{base}/repos/{repo.full_name}"
    owner = state.user("github")
    owner.type = "Organization"
    return {
        "id": c.id, "name": c.name, "node_id": node_id("CR", c.id), "head_sha": c.head_sha,
        "external_id": "", "url": f"{api}/check-runs/{c.id}", "html_url": f"{base}/{repo.full_name}/runs/{c.id}",
        "details_url": f"{base}/{repo.full_name}/runs/{c.id}", "status": c.status, "conclusion": c.conclusion,
        "started_at": ts(c.started_at), "completed_at": ts(c.completed_at),
        "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                   "annotations_url": f"{api}/check-runs/{c.id}/annotations"},
        "check_suite": {"id": c.id // 2}, "app": app(base, c.app, owner), "pull_requests": [],
    }


def commit_status(base: str, repo: Repo, state: State, s: CommitStatus) -> Json:
    return {
        "url": f"{base}/repos/{repo.full_name}/statuses/{s.sha}", "avatar_url": None, "id": s.id,
        "node_id": node_id("SC", s.id), "state": s.state, "description": s.description,
        "target_url": s.target_url, "context": s.context, "created_at": ts(s.created_at),
        "updated_at": ts(s.created_at), "creator": user(base, state.user(s.creator)),
    }


def combined_status(base: str, repo: Repo, state: State, sha: str, statuses: list[CommitStatus]) -> Json:
    latest: dict[str, CommitStatus] = {}
    for s in sorted(statuses, key=lambda x: (x.created_at, x.id)):
        latest[s.context] = s
    states = [s.state for s in latest.values()]
    overall = ("failure" if any(s in ("failure", "error") for s in states)
               else "pending" if not states or "pending" in states else "success")
    simple = []
    for s in latest.values():
        full = commit_status(base, repo, state, s)
        full.pop("creator")
        simple.append(full)
    return {
        "state": overall, "statuses": simple, "sha": sha, "total_count": len(simple),
        "repository": minimal_repo(base, repo, state, None),
        "commit_url": f"{base}/repos/{repo.full_name}/commits/{sha}",
        "url": f"{base}/repos/{repo.full_name}/commits/{sha}/status",
    }


def hook(base: str, repo: Repo, h: Hook) -> Json:
    api = f"{base}/repos/{repo.full_name}/hooks/{h.id}"
    return {
        "type": "Repository", "id": h.id, "name": h.name, "active": h.active, "events": h.events,
        "config": {"content_type": "json", "insecure_ssl": "0", "url": h.url},
        "updated_at": ts(h.created_at), "created_at": ts(h.created_at), "url": api, "test_url": f"{api}/test",
        "ping_url": f"{api}/pings", "deliveries_url": f"{api}/deliveries",
        "last_response": {"code": 200, "status": "active", "message": "OK"},
    }


def issue_comment(base: str, repo: Repo, state: State, c: IssueComment) -> Json:
    return {
        "id": c.id, "node_id": node_id("IC", c.id), "url": f"{base}/repos/{repo.full_name}/issues/comments/{c.id}",
        "html_url": f"{base}/{repo.full_name}/pull/{c.issue_number}#issuecomment-{c.id}", "body": c.body,
        "user": user(base, state.user(c.user)), "created_at": ts(c.created_at), "updated_at": ts(c.updated_at),
        "issue_url": f"{base}/repos/{repo.full_name}/issues/{c.issue_number}", "author_association": "MEMBER",
        "performed_via_github_app": None,
    }


def rate_overview(limit: int, remaining: int, reset: int, used: int) -> Json:
    core = {"limit": limit, "remaining": remaining, "reset": reset, "used": used, "resource": "core"}
    other = {"limit": 30, "remaining": 30, "reset": reset, "used": 0}
    return {
        "resources": {
            "core": core,
            "graphql": {"limit": limit, "remaining": limit, "reset": reset, "used": 0, "resource": "graphql"},
            "search": {**other, "resource": "search"},
            "code_search": {"limit": 10, "remaining": 10, "reset": reset, "used": 0, "resource": "code_search"},
        },
        "rate": core,
    }
