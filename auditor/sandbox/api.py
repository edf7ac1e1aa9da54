"""The REST endpoints: routing, access control and answers, independent of HTTP plumbing.

Access follows GitHub's documented behaviour (see ENDPOINTS.md of the project's GitHub notes):
a private resource the caller cannot see is 404 `Not Found`; an app or fine-grained token that
lacks a permission gets 403 "Resource not accessible by ..." with `X-Accepted-GitHub-Permissions`;
a classic token without admin rights gets 404 on branch protection, hooks and vulnerability alerts
(the same answer as "off", which is why an auditor must never read it as "off"), and branch
protection on a private repository of a Free-plan organisation answers "Upgrade to GitHub Pro".
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import yaml

from . import shapes
from .build import parse_when
from .state import CheckRun, CommitStatus, IssueComment, Repo, State, Token, level_at_least, role_at_least

DOC = "https://docs.github.com/rest"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    token: Token | None
    base: str


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    pages: tuple[int, int] | None = None  # (page, last page) for the Link header


def error(status: int, message: str, doc: str = DOC, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"message": message, "documentation_url": doc, "status": str(status)}, headers or {})


def not_found(doc: str = DOC) -> Response:
    return error(404, "Not Found", doc)


class Deny(Exception):  # noqa: N818 - control flow, not an error condition of the sandbox
    """Raised inside a handler to answer with `response` at once."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[["Api", Request, dict[str, str]], Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern).replace("<rest>[^/]+", "<rest>.+") + "$")

    def register(fn: Handler) -> Handler:
        ROUTES.append((method, regex, fn))
        return fn

    return register


class Api:
    """Answers one request from a `State`; the server serialises writes with its lock."""

    def __init__(self, state: State) -> None:
        self.state = state

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        allowed = False
        for method, regex, fn in ROUTES:
            m = regex.match(path)
            if m is None:
                continue
            allowed = True
            if method != req.method:
                continue
            try:
                return fn(self, req, {k: unquote(v) for k, v in m.groupdict().items()})
            except Deny as deny:
                return deny.response
        if allowed:
            return error(404, "Not Found")
        return not_found()

    # -- access ----------------------------------------------------------------------------------

    def role(self, req: Request, repo: Repo) -> str:
        """The caller's role on a repository ('none' when it cannot see it)."""
        t = req.token
        base = "read" if repo.visibility == "public" else "none"
        if t is None:
            return base
        override = t.repos.get(repo.name) or t.repos.get(repo.full_name)
        if override is not None:
            role = override
        elif repo.owner in self.state.orgs or repo.owner == t.login:
            role = t.role
        else:
            role = "none"
        if repo.visibility == "internal" and role == "none" and repo.owner in self.state.orgs and t.role != "none":
            role = "read"
        return role if role_at_least(role, base) else base

    def shows_security(self, req: Request, role: str) -> bool:
        """Whether a repository answer (full or listed) carries `security_and_analysis`: admins only."""
        t = req.token
        return role_at_least(role, "admin") and (t is None or t.kind == "classic"
                                                 or level_at_least(self.level(t, "administration"), "read"))

    def level(self, token: Token, permission: str) -> str:
        """A fine-grained token's level for `permission`; classic tokens are unlimited here."""
        if token.kind == "classic" or token.permissions is None:
            return "admin"
        if permission == "metadata":
            return token.permissions.get("metadata", "read")
        return token.permissions.get(permission, "none")

    def rna(self, token: Token, accepted: str) -> Response:
        who = "integration" if token.kind == "app" else "personal access token"
        return error(403, f"Resource not accessible by {who}", headers={"X-Accepted-GitHub-Permissions": accepted})

    def repo(self, req: Request, p: dict[str, str], role: str = "read",
             perms: tuple[tuple[str, str], ...] = (("metadata", "read"),), classic_denial: Response | None = None,
             ) -> tuple[Repo, str]:
        """The repository of the path after access checks, and the caller's role on it."""
        repo = self.state.repos.get(f"{p['owner']}/{p['repo']}")
        if repo is None:
            lowered = {k.lower(): v for k, v in self.state.repos.items()}
            repo = lowered.get(f"{p['owner']}/{p['repo']}".lower())
        if repo is None:
            raise Deny(not_found())
        have = self.role(req, repo)
        if have == "none":
            raise Deny(not_found())
        t = req.token
        if t is not None and t.kind != "classic":
            # public data needs no permission to read; everything else needs every listed permission
            missing = any(not level_at_least(self.level(t, name), lvl) for name, lvl in perms)
            if missing and (repo.private or role != "read" or req.method != "GET"):
                raise Deny(self.rna(t, ",".join(f"{n}={lvl}" for n, lvl in perms)))
        if not role_at_least(have, role):
            if t is not None and t.kind != "classic":
                raise Deny(self.rna(t, ",".join(f"{n}={lvl}" for n, lvl in perms)))
            if t is None and role != "read":
                raise Deny(error(401, "Requires authentication") if req.method != "GET" else not_found())
            raise Deny(classic_denial or not_found())
        return repo, have

    def org(self, login: str) -> Any:
        org = self.state.orgs.get(login) or {k.lower(): v for k, v in self.state.orgs.items()}.get(login.lower())
        if org is None:
            raise Deny(not_found())
        return org

    def org_admin(self, req: Request, org_login: str, permission: str, level: str) -> None:
        t = req.token
        if t is None:
            raise Deny(error(401, "Requires authentication") if permission == "organization_secrets"
                       else not_found())
        if t.kind != "classic" and not level_at_least(self.level(t, permission), level):
            raise Deny(self.rna(t, f"{permission}={level}"))
        if not t.org_admin:
            raise Deny(not_found() if t.kind == "classic" else self.rna(t, f"{permission}={level}"))

    def free_private(self, repo: Repo) -> bool:
        org = self.state.orgs.get(repo.owner)
        return repo.private and (org is None or org.plan == "free")

    def visible_repos(self, req: Request, owner: str) -> list[tuple[Repo, str]]:
        out = []
        for repo in self.state.repos.values():
            if repo.owner.lower() == owner.lower():
                role = self.role(req, repo)
                if role != "none":
                    out.append((repo, role))
        return out

    # -- helpers ---------------------------------------------------------------------------------

    def paginate(self, req: Request, items: list[Any]) -> tuple[list[Any], tuple[int, int]]:
        try:
            per_page = max(1, min(100, int(req.query.get("per_page", "30"))))
            page = max(1, int(req.query.get("page", "1")))
        except ValueError as exc:
            raise Deny(error(422, "Invalid request. per_page and page must be integers.")) from exc
        last = max(1, -(-len(items) // per_page))
        start = (page - 1) * per_page
        return items[start:start + per_page], (page, last)

    def listing(self, req: Request, items: list[Any]) -> Response:
        page, pages = self.paginate(req, items)
        return Response(200, page, pages=pages)

    def wrapped(self, req: Request, key: str, items: list[Any]) -> Response:
        page, pages = self.paginate(req, items)
        return Response(200, {"total_count": len(items), key: page}, pages=pages)

    def branch(self, repo: Repo, name: str) -> str:
        if name not in repo.branches:
            raise Deny(error(404, "Branch not found", f"{DOC}/branches/branches#get-a-branch"))
        return name

    def ref_branch(self, repo: Repo, ref: str | None) -> str:
        """The branch whose files answer for `ref` (a branch name, a commit sha, or nothing)."""
        if not ref:
            return repo.default_branch
        if ref in repo.branches:
            return ref
        ref = ref.removeprefix("refs/heads/")
        if ref in repo.branches:
            return ref
        for name in [repo.default_branch, *repo.branches]:
            if any(sha.startswith(ref) for sha, _ in repo.branches[name].history) and len(ref) >= 7:
                return name
        for sha, c in repo.commits.items():
            if sha.startswith(ref) and len(ref) >= 7:
                return self._branch_of(repo, c.parents[0] if c.parents else sha)
        raise Deny(error(404, f"No commit found for the ref {ref}", f"{DOC}/repos/contents"))

    def _branch_of(self, repo: Repo, sha: str) -> str:
        for name in [repo.default_branch, *repo.branches]:
            if any(s == sha for s, _ in repo.branches[name].history):
                return name
        return repo.default_branch

    def resolve_sha(self, repo: Repo, ref: str) -> str:
        if ref in repo.branches:
            return repo.branches[ref].head
        for sha in repo.commits:
            if len(ref) >= 7 and sha.startswith(ref):
                return sha
        raise Deny(error(422, f"No commit found for SHA: {ref}", f"{DOC}/commits/commits#get-a-commit"))

    def active_rules(self, repo: Repo, branch: str) -> list[dict[str, Any]]:
        """Rules of ACTIVE rulesets (repo and org) that target `branch`, with their ruleset info."""
        if self.free_private(repo):
            return []
        out: list[dict[str, Any]] = []
        org = self.state.orgs.get(repo.owner)
        rulesets = list(repo.rulesets) + (list(org.rulesets) if org else [])
        for rs in rulesets:
            if rs.enforcement != "active" or rs.target != "branch":
                continue
            if not _ref_matches(rs.conditions, repo, branch):
                continue
            if rs.source_type == "Organization" and not _repo_matches(rs.conditions, repo):
                continue
            out.extend(shapes.rule_detailed(rule, rs) for rule in rs.rules)
        return out


def _ref_matches(conditions: dict[str, Any], repo: Repo, branch: str) -> bool:
    ref = conditions.get("ref_name") or {}
    full = f"refs/heads/{branch}"

    def hit(pattern: str) -> bool:
        if pattern == "~ALL":
            return True
        if pattern == "~DEFAULT_BRANCH":
            return branch == repo.default_branch
        return fnmatch.fnmatchcase(full, pattern) or fnmatch.fnmatchcase(branch, pattern)

    return any(hit(p) for p in ref.get("include", [])) and not any(hit(p) for p in ref.get("exclude", []))


def _repo_matches(conditions: dict[str, Any], repo: Repo) -> bool:
    names = conditions.get("repository_name")
    if not names:
        return True
    include = names.get("include", [])
    exclude = names.get("exclude", [])
    inc = any(p == "~ALL" or fnmatch.fnmatchcase(repo.name, p) for p in include)
    return inc and not any(fnmatch.fnmatchcase(repo.name, p) for p in exclude)


# -- meta --------------------------------------------------------------------------------------------


@route("GET", "/user")
def get_user(api: Api, req: Request, p: dict[str, str]) -> Response:
    if req.token is None:
        return error(401, "Requires authentication", f"{DOC}/users/users#get-the-authenticated-user")
    if req.token.kind == "app":
        return api.rna(req.token, "")
    return Response(200, shapes.private_user(req.base, api.state.user(req.token.login), api.state))


@route("GET", "/orgs/{org}")
def get_org(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    admin = req.token is not None and req.token.org_admin
    return Response(200, shapes.org_full(req.base, org, api.state, admin))


@route("GET", "/orgs/{org}/repos")
def org_repos(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    kind = req.query.get("type", "all")
    found = api.visible_repos(req, org.login)
    if kind == "public":
        found = [x for x in found if x[0].visibility == "public"]
    elif kind == "private":
        found = [x for x in found if x[0].private]
    elif kind == "forks":
        found = [x for x in found if x[0].fork]
    elif kind == "sources":
        found = [x for x in found if not x[0].fork]
    elif kind == "member":
        found = [x for x in found if req.token is not None and x[1] != "none"]
    sort = req.query.get("sort", "created")
    direction = req.query.get("direction", "asc" if sort == "full_name" else "desc")
    key: Callable[[tuple[Repo, str]], Any] = {
        "full_name": lambda x: x[0].full_name.lower(), "updated": lambda x: x[0].pushed_at,
        "pushed": lambda x: x[0].pushed_at,
    }.get(sort, lambda x: (x[0].created_at, x[0].id))
    found.sort(key=key, reverse=direction == "desc")
    items = [shapes.minimal_repo(req.base, r, api.state, role if req.token else None, api.shows_security(req, role))
             for r, role in found]
    return api.listing(req, items)


@route("GET", "/users/{user}/repos")
def user_repos(api: Api, req: Request, p: dict[str, str]) -> Response:
    owner = p["user"].lower()
    known = ({u.lower() for u in api.state.users} | {o.lower() for o in api.state.orgs}
             | {r.split("/", 1)[0].lower() for r in api.state.repos}
             | {t.login.lower() for t in api.state.tokens.values()})
    if owner not in known:
        return not_found(f"{DOC}/repos/repos#list-repositories-for-a-user")  # GitHub: no such account
    found = [(r, role) for r, role in api.visible_repos(req, p["user"]) if req.token is not None or not r.private]
    found = [(r, role) for r, role in found if r.visibility == "public" or (
        req.token is not None and req.token.login.lower() == p["user"].lower())]
    found.sort(key=lambda x: x[0].full_name.lower())
    return api.listing(req, [shapes.minimal_repo(req.base, r, api.state, role if req.token else None)
                             for r, role in found])


# -- repository ----------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}")
def get_repo(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, role = api.repo(req, p)
    return Response(200, shapes.full_repo(req.base, repo, api.state, role if req.token else None,
                                          api.shows_security(req, role)))


@route("GET", "/repos/{owner}/{repo}/branches")
def list_branches(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    names = sorted(repo.branches)
    if req.query.get("protected") in ("true", "1"):
        names = [n for n in names if _protected(api, repo, n)]
    return api.listing(req, [shapes.short_branch(req.base, repo, n, _protected(api, repo, n)) for n in names])


def _protected(api: Api, repo: Repo, name: str) -> bool:
    classic = name in repo.protection and not api.free_private(repo)
    return classic or bool(api.active_rules(repo, name))


PROTECTION_PARTS = ("required_status_checks/contexts", "required_status_checks", "required_pull_request_reviews",
                    "enforce_admins", "required_signatures", "restrictions/users", "restrictions/teams",
                    "restrictions/apps", "restrictions", "required_linear_history")


@route("GET", "/repos/{owner}/{repo}/branches/{rest}")
def branch_routes(api: Api, req: Request, p: dict[str, str]) -> Response:
    rest = p["rest"]
    if rest.endswith("/protection") or "/protection/" in rest:
        name, _, part = rest.partition("/protection")
        return _protection(api, req, p, name, part.lstrip("/"))
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    name = api.branch(repo, rest)
    return Response(200, shapes.branch_with_protection(req.base, repo, api.state, name, _protected(api, repo, name)))


def _protection(api: Api, req: Request, p: dict[str, str], name: str, part: str) -> Response:
    doc = f"{DOC}/branches/branch-protection#get-branch-protection"
    repo = api.state.repos.get(f"{p['owner']}/{p['repo']}")
    if repo is not None and api.role(req, repo) != "none" and api.free_private(repo):
        return error(403, "Upgrade to GitHub Pro or make this repository public to enable this feature.", doc)
    repo, _ = api.repo(req, p, role="admin", perms=(("administration", "read"),))
    api.branch(repo, name)
    if name not in repo.protection:
        return error(404, "Branch not protected", doc)
    prot = repo.protection[name]
    if part == "":
        return Response(200, shapes.protection(req.base, repo, api.state, name))
    if part.startswith("required_status_checks"):
        if prot.get("required_checks") is None:
            return error(404, "Required status checks not enabled", doc)
        body = shapes.status_checks(req.base, repo, name)
        return Response(200, body["contexts"] if part.endswith("contexts") else body)
    if part == "required_pull_request_reviews":
        if prot.get("required_approvals") is None:
            return error(404, "Required pull request reviews not enabled", doc)
        return Response(200, shapes.pr_reviews(req.base, repo, name))
    full = shapes.protection(req.base, repo, api.state, name)
    if part in ("enforce_admins", "required_signatures"):
        return Response(200, full[part])
    if part.startswith("restrictions"):
        if "restrictions" not in full:
            return error(404, "Push restrictions not enabled", doc)
        sub = part.partition("/")[2]
        return Response(200, full["restrictions"][sub] if sub else full["restrictions"])
    return not_found()


@route("GET", "/repos/{owner}/{repo}/rules/branches/{rest}")
def branch_rules(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p)
    return api.listing(req, api.active_rules(repo, p["rest"]))


@route("GET", "/repos/{owner}/{repo}/rulesets")
def repo_rulesets(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p)
    found = list(repo.rulesets)
    if req.query.get("includes_parents", "true") in ("true", "1"):
        org = api.state.orgs.get(repo.owner)
        if org is not None:
            found += [rs for rs in org.rulesets if _repo_matches(rs.conditions, repo)]
    return api.listing(req, [shapes.ruleset_summary(req.base, rs) for rs in found])


@route("GET", "/repos/{owner}/{repo}/rulesets/{ruleset_id}")
def repo_ruleset(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, role = api.repo(req, p)
    org = api.state.orgs.get(repo.owner)
    candidates = list(repo.rulesets) + ([rs for rs in org.rulesets if _repo_matches(rs.conditions, repo)]
                                        if org else [])
    rs = next((r for r in candidates if str(r.id) == p["ruleset_id"]), None)
    if rs is None:
        return not_found()
    admin = role_at_least(role, "admin")
    can = "always" if admin and rs.bypass_actors else "never"
    return Response(200, shapes.ruleset(req.base, rs, with_bypass=admin, can_bypass=can))


@route("GET", "/orgs/{org}/rulesets")
def org_rulesets(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    api.org_admin(req, org.login, "organization_administration", "write")
    return api.listing(req, [shapes.ruleset_summary(req.base, rs) for rs in org.rulesets])


@route("GET", "/orgs/{org}/rulesets/{ruleset_id}")
def org_ruleset(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    api.org_admin(req, org.login, "organization_administration", "write")
    rs = next((r for r in org.rulesets if str(r.id) == p["ruleset_id"]), None)
    if rs is None:
        return not_found()
    return Response(200, shapes.ruleset(req.base, rs, with_bypass=True, can_bypass="always"))


# -- environments and secrets ------------------------------------------------------------------------


def _env(api: Api, req: Request, p: dict[str, str], perms: tuple[tuple[str, str], ...] = (("actions", "read"),),
         role: str = "read", denial: Response | None = None) -> tuple[Repo, Any]:
    repo, _ = api.repo(req, p, role=role, perms=perms, classic_denial=denial)
    env = next((e for e in repo.environments if e.name == p["env"]), None)
    if env is None:
        raise Deny(not_found(f"{DOC}/deployments/environments#get-an-environment"))
    return repo, env


@route("GET", "/repos/{owner}/{repo}/environments")
def list_envs(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("actions", "read"),))
    items = [shapes.environment(req.base, repo, api.state, e) for e in repo.environments]
    return api.wrapped(req, "environments", items)


@route("GET", "/repos/{owner}/{repo}/environments/{env}")
def get_env(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, env = _env(api, req, p)
    return Response(200, shapes.environment(req.base, repo, api.state, env))


@route("GET", "/repos/{owner}/{repo}/environments/{env}/deployment-branch-policies")
def env_branch_policies(api: Api, req: Request, p: dict[str, str]) -> Response:
    _, env = _env(api, req, p)
    items = [shapes.branch_policy(pid, name, kind) for pid, name, kind in env.branch_patterns]
    return api.wrapped(req, "branch_policies", items)


@route("GET", "/repos/{owner}/{repo}/environments/{env}/deployment_protection_rules")
def env_protection_rules(api: Api, req: Request, p: dict[str, str]) -> Response:
    _, env = _env(api, req, p)
    rules = []
    for i, slug in enumerate(env.protection_apps):
        rid = env.id * 10 + i
        rules.append({"id": rid, "node_id": shapes.node_id("DPR", rid), "enabled": True,
                      "app": {"id": 200_000 + i, "slug": slug, "integration_url": f"{req.base}/apps/{slug}",
                              "node_id": shapes.node_id("A", 200_000 + i)}})
    return Response(200, {"total_count": len(rules), "custom_deployment_protection_rules": rules})


SECRETS_DENIAL = error(403, "Must have admin rights to Repository.", f"{DOC}/actions/secrets")


@route("GET", "/repos/{owner}/{repo}/environments/{env}/secrets")
def env_secrets(api: Api, req: Request, p: dict[str, str]) -> Response:
    _, env = _env(api, req, p, perms=(("environments", "read"), ("secrets", "read")), role="admin",
                  denial=SECRETS_DENIAL)
    return api.wrapped(req, "secrets", [shapes.secret(s) for s in sorted(env.secrets, key=lambda s: s.name)])


@route("GET", "/repos/{owner}/{repo}/environments/{env}/secrets/{name}")
def env_secret(api: Api, req: Request, p: dict[str, str]) -> Response:
    _, env = _env(api, req, p, perms=(("environments", "read"), ("secrets", "read")), role="admin",
                  denial=SECRETS_DENIAL)
    s = next((s for s in env.secrets if s.name == p["name"]), None)
    return Response(200, shapes.secret(s)) if s else not_found()


@route("GET", "/repos/{owner}/{repo}/actions/secrets")
def repo_secrets(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("secrets", "read"),), classic_denial=SECRETS_DENIAL)
    return api.wrapped(req, "secrets", [shapes.secret(s) for s in sorted(repo.secrets, key=lambda s: s.name)])


@route("GET", "/repos/{owner}/{repo}/actions/secrets/{name}")
def repo_secret(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("secrets", "read"),), classic_denial=SECRETS_DENIAL)
    s = next((s for s in repo.secrets if s.name == p["name"]), None)
    return Response(200, shapes.secret(s)) if s else not_found()


@route("GET", "/repos/{owner}/{repo}/actions/organization-secrets")
def repo_org_secrets(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("secrets", "read"),), classic_denial=SECRETS_DENIAL)
    org = api.state.orgs.get(repo.owner)
    visible = []
    for s in org.secrets if org else []:
        if s.visibility == "all" or (s.visibility == "private" and repo.private) or (
                s.visibility == "selected" and repo.name in s.selected_repos):
            visible.append(shapes.secret(s))
    return api.wrapped(req, "secrets", sorted(visible, key=lambda s: s["name"]))


@route("GET", "/orgs/{org}/actions/secrets")
def org_secrets(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    api.org_admin(req, org.login, "organization_secrets", "read")
    items = [shapes.secret(s, org.login, req.base) for s in sorted(org.secrets, key=lambda s: s.name)]
    return api.wrapped(req, "secrets", items)


@route("GET", "/orgs/{org}/actions/secrets/{name}")
def org_secret(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    api.org_admin(req, org.login, "organization_secrets", "read")
    s = next((s for s in org.secrets if s.name == p["name"]), None)
    return Response(200, shapes.secret(s, org.login, req.base)) if s else not_found()


@route("GET", "/orgs/{org}/actions/secrets/{name}/repositories")
def org_secret_repos(api: Api, req: Request, p: dict[str, str]) -> Response:
    org = api.org(p["org"])
    api.org_admin(req, org.login, "organization_secrets", "read")
    s = next((s for s in org.secrets if s.name == p["name"]), None)
    if s is None or s.visibility != "selected":
        return not_found()
    repos = [r for r in api.state.repos.values() if r.owner == org.login and r.name in s.selected_repos]
    items = [shapes.minimal_repo(req.base, r, api.state, None) for r in repos]
    return api.wrapped(req, "repositories", items)


# -- settings ------------------------------------------------------------------------------------


ADMIN_DENIAL = error(403, "Must have admin rights to Repository.", f"{DOC}/actions/permissions")


@route("GET", "/repos/{owner}/{repo}/actions/permissions/workflow")
def workflow_permissions(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("administration", "read"),), classic_denial=ADMIN_DENIAL)
    return Response(200, {"default_workflow_permissions": repo.workflow_permissions,
                          "can_approve_pull_request_reviews": repo.can_approve_pull_request_reviews})


@route("GET", "/repos/{owner}/{repo}/actions/permissions")
def actions_permissions(api: Api, req: Request, p: dict[str, str]) -> Response:
    api.repo(req, p, role="admin", perms=(("administration", "read"),), classic_denial=ADMIN_DENIAL)
    return Response(200, {"enabled": True, "allowed_actions": "all",
                          "selected_actions_url": f"{req.base}/repos/{p['owner']}/{p['repo']}/actions/permissions"
                                                  "/selected-actions"})


@route("GET", "/repos/{owner}/{repo}/vulnerability-alerts")
def vulnerability_alerts(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("administration", "read"),))
    if repo.vulnerability_alerts:
        return Response(204)
    return not_found(f"{DOC}/repos/repos#check-if-vulnerability-alerts-are-enabled-for-a-repository")


@route("GET", "/repos/{owner}/{repo}/hooks")
def hooks(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="admin", perms=(("repository_hooks", "read"),))
    return api.listing(req, [shapes.hook(req.base, repo, h) for h in repo.hooks])


# -- contents --------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/contents")
def contents_root(api: Api, req: Request, p: dict[str, str]) -> Response:
    return contents(api, req, {**p, "rest": ""})


@route("GET", "/repos/{owner}/{repo}/contents/{rest}")
def contents(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    ref = req.query.get("ref") or repo.default_branch
    branch = api.ref_branch(repo, ref)
    files = repo.files[branch]
    path = p["rest"].strip("/")
    if path in files:
        return Response(200, shapes.content_file(req.base, repo, path, files[path], ref))
    prefix = f"{path}/" if path else ""
    children: dict[str, tuple[str, int]] = {}
    for fp, text in files.items():
        if fp.startswith(prefix):
            head, sep, _ = fp[len(prefix):].partition("/")
            if sep:
                children.setdefault(head, ("dir", 0))
            else:
                children[head] = ("file", len(text.encode()))
    if not children:
        return not_found(f"{DOC}/repos/contents#get-repository-content")
    entries = []
    for name in sorted(children):
        kind, size = children[name]
        full = prefix + name
        sha = shapes.blob_sha(files[full]) if kind == "file" else _dir_sha(files, full)
        entries.append(shapes.content_entry(req.base, repo, full, kind, sha, size, ref))
    return Response(200, entries)


def _dir_sha(files: dict[str, str], path: str) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    for fp in sorted(files):
        if fp.startswith(path + "/"):
            digest.update(fp.encode() + shapes.blob_sha(files[fp]).encode())
    return digest.hexdigest()


CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@route("GET", "/repos/{owner}/{repo}/codeowners/errors")
def codeowners_errors(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    files = repo.files[api.ref_branch(repo, req.query.get("ref"))]
    path = next((c for c in CODEOWNERS_PATHS if c in files), None)
    if path is None:
        return not_found(f"{DOC}/repos/repos#list-codeowners-errors")
    org = api.state.orgs.get(repo.owner)
    known = {u.lower() for u in ((org.members + org.owners) if org else [repo.owner])}
    errors: list[dict[str, Any]] = []
    for n, line in enumerate(files[path].splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        column = line.find(text) + 1
        for owner in text.split()[1:]:
            col = line.find(owner) + 1
            if "@" not in owner:
                errors.append(_owner_error(n, col, "Invalid owner", line, path,
                                           f"Invalid owner on line {n}: {owner} is not a user, team or email"))
            elif owner.startswith("@") and "/" not in owner and owner[1:].lower() not in known:
                errors.append(_owner_error(n, col, "Unknown owner", line, path,
                                           f"Unknown owner on line {n}: make sure @{owner[1:]} exists and has "
                                           "write access to the repository"))
        if text.split()[0].startswith("!"):
            errors.append(_owner_error(n, column, "Invalid pattern", line, path,
                                       f"Invalid pattern on line {n}: negation is not supported"))
    errors.extend({"line": 1, "column": 1, "kind": "Unknown owner", "source": "", "suggestion": None,
                   "message": "", "path": path, **e} for e in repo.codeowners_errors)
    return Response(200, {"errors": errors})


def _owner_error(line: int, column: int, kind: str, source: str, path: str, message: str) -> dict[str, Any]:
    return {"line": line, "column": column, "kind": kind, "source": source, "suggestion": None,
            "message": f"{message}\n\n  {source}\n", "path": path}


@route("GET", "/repos/{owner}/{repo}/git/trees/{rest}")
def git_tree(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    ref = p["rest"]
    branch = api.ref_branch(repo, ref)
    files = repo.files[branch]
    recursive = req.query.get("recursive") not in (None, "", "0", "false")
    sha = shapes.tree_sha(api.resolve_sha(repo, ref) if ref in repo.branches or len(ref) >= 7 else ref)
    entries: list[dict[str, Any]] = []
    dirs: set[str] = set()
    for fp in files:
        parts = fp.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    api_base = f"{req.base}/repos/{repo.full_name}/git"
    for d in sorted(dirs):
        if recursive or "/" not in d:
            dsha = _dir_sha(files, d)
            entries.append({"path": d, "mode": "040000", "type": "tree", "sha": dsha,
                            "url": f"{api_base}/trees/{dsha}"})
    for fp, text in files.items():
        if recursive or "/" not in fp:
            bsha = shapes.blob_sha(text)
            entries.append({"path": fp, "mode": "100644", "type": "blob", "sha": bsha, "size": len(text.encode()),
                            "url": f"{api_base}/blobs/{bsha}"})
    entries.sort(key=lambda e: e["path"])
    return Response(200, {"sha": sha, "url": f"{api_base}/trees/{sha}", "tree": entries, "truncated": False})


@route("GET", "/repos/{owner}/{repo}/git/blobs/{file_sha}")
def git_blob(api: Api, req: Request, p: dict[str, str]) -> Response:
    """A file's content by blob sha, from any branch; GitHub answers 404 for an unknown sha."""
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    want = p["file_sha"].lower()
    for branch in sorted(repo.files):
        for text in repo.files[branch].values():
            if shapes.blob_sha(text) == want:
                return Response(200, shapes.blob(req.base, repo, text))
    return not_found(f"{DOC}/git/blobs#get-a-blob")


# -- commits -----------------------------------------------------------------------------------------


def _history(api: Api, repo: Repo, ref: str | None) -> list[str]:
    """Commit shas reachable from `ref`, newest first."""
    if not ref:
        ref = repo.default_branch
    if ref in repo.branches:
        return [s for s, _ in reversed(repo.branches[ref].history)]
    sha = api.resolve_sha(repo, ref)
    for name in [repo.default_branch, *repo.branches]:
        shas = [s for s, _ in repo.branches[name].history]
        if sha in shas:
            return list(reversed(shas[: shas.index(sha) + 1]))
    out, todo = [], [sha]
    while todo:
        s = todo.pop()
        if s in out or s not in repo.commits:
            continue
        out.append(s)
        todo.extend(repo.commits[s].parents)
    return sorted(out, key=lambda s: repo.commits[s].date, reverse=True)


@route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    try:
        shas = _history(api, repo, req.query.get("sha"))
    except Deny as exc:  # GitHub documents 404 (not get-a-commit's 422) for a `sha` naming nothing
        if exc.response.status != 422:
            raise
        raise Deny(error(404, f"No commit found for SHA: {req.query.get('sha')}",
                         f"{DOC}/commits/commits#list-commits")) from exc
    commits = [repo.commits[s] for s in shas]
    path = req.query.get("path", "").strip("/")
    if path:
        commits = [c for c in commits if any(f == path or f.startswith(path + "/") for f in c.files)]
    if "since" in req.query:
        since = _when(req.query["since"])
        commits = [c for c in commits if c.date >= since]
    if "until" in req.query:
        until = _when(req.query["until"])
        commits = [c for c in commits if c.date <= until]
    if "author" in req.query:
        commits = [c for c in commits if c.author.lower() == req.query["author"].lower()]
    return api.listing(req, [shapes.commit(req.base, repo, api.state, c) for c in commits])


def _when(text: str) -> datetime:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise Deny(error(422, f"Invalid time: {text}")) from exc


@route("GET", "/repos/{owner}/{repo}/commits/{rest}")
def commit_routes(api: Api, req: Request, p: dict[str, str]) -> Response:
    rest = p["rest"]
    for suffix, fn in (("/pulls", _commit_pulls), ("/check-runs", _check_runs), ("/statuses", _statuses),
                       ("/status", _combined)):
        if rest.endswith(suffix):
            return fn(api, req, p, rest[: -len(suffix)])
    repo, _ = api.repo(req, p, perms=(("contents", "read"),))
    sha = api.resolve_sha(repo, rest)
    return Response(200, shapes.commit(req.base, repo, api.state, repo.commits[sha], with_files=True))


def _commit_pulls(api: Api, req: Request, p: dict[str, str], ref: str) -> Response:
    repo, _ = api.repo(req, p, perms=(("pull_requests", "read"),))
    sha = api.resolve_sha(repo, ref)
    found = [pr for pr in repo.pulls if sha in pr.commits or sha in (pr.merge_commit_sha, pr.head_sha)]
    found.sort(key=lambda pr: pr.number, reverse=True)
    return api.listing(req, [shapes.pull_simple(req.base, repo, api.state, pr) for pr in found])


def _check_runs(api: Api, req: Request, p: dict[str, str], ref: str) -> Response:
    repo, _ = api.repo(req, p, perms=(("checks", "read"),))
    sha = api.resolve_sha(repo, ref)
    runs = [c for c in repo.check_runs if c.head_sha == sha]
    if "check_name" in req.query:
        runs = [c for c in runs if c.name == req.query["check_name"]]
    if req.query.get("filter", "latest") == "latest":
        latest: dict[str, CheckRun] = {}
        for c in sorted(runs, key=lambda c: (c.started_at, c.id)):
            latest[c.name] = c
        runs = list(latest.values())
    items = [shapes.check_run(req.base, repo, api.state, c) for c in sorted(runs, key=lambda c: -c.id)]
    return api.wrapped(req, "check_runs", items)


def _statuses(api: Api, req: Request, p: dict[str, str], ref: str) -> Response:
    repo, _ = api.repo(req, p, perms=(("statuses", "read"),))
    sha = api.resolve_sha(repo, ref)
    found = sorted((s for s in repo.statuses if s.sha == sha), key=lambda s: (s.created_at, s.id), reverse=True)
    return api.listing(req, [shapes.commit_status(req.base, repo, api.state, s) for s in found])


def _combined(api: Api, req: Request, p: dict[str, str], ref: str) -> Response:
    repo, _ = api.repo(req, p, perms=(("statuses", "read"),))
    sha = api.resolve_sha(repo, ref)
    found = [s for s in repo.statuses if s.sha == sha]
    return Response(200, shapes.combined_status(req.base, repo, api.state, sha, found))


# -- pull requests -------------------------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("pull_requests", "read"),))
    state = req.query.get("state", "open")
    pulls = [pr for pr in repo.pulls if state in ("all", pr.state)]
    if "base" in req.query:
        pulls = [pr for pr in pulls if pr.base_ref == req.query["base"]]
    if "head" in req.query:
        owner, _, ref = req.query["head"].rpartition(":")
        pulls = [pr for pr in pulls if pr.head_ref == ref and (not owner or owner.lower() == repo.owner.lower())]
    sort = req.query.get("sort", "created")
    direction = req.query.get("direction", "desc")
    key: Callable[[Any], Any] = {"updated": lambda pr: pr.updated_at,
                                 "long-running": lambda pr: pr.created_at}.get(sort, lambda pr: pr.created_at)
    pulls.sort(key=lambda pr: (key(pr), pr.number), reverse=direction == "desc")
    return api.listing(req, [shapes.pull_simple(req.base, repo, api.state, pr) for pr in pulls])


def _pull(api: Api, req: Request, p: dict[str, str]) -> tuple[Repo, Any]:
    repo, _ = api.repo(req, p, perms=(("pull_requests", "read"),))
    pr = next((x for x in repo.pulls if str(x.number) == p["number"]), None)
    if pr is None:
        raise Deny(not_found(f"{DOC}/pulls/pulls#get-a-pull-request"))
    return repo, pr


@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, pr = _pull(api, req, p)
    return Response(200, shapes.pull_full(req.base, repo, api.state, pr))


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def pull_reviews(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, pr = _pull(api, req, p)
    return api.listing(req, [shapes.review(req.base, repo, api.state, pr, r) for r in pr.reviews])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def pull_files(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, pr = _pull(api, req, p)
    return api.listing(req, [shapes.diff_entry(req.base, repo, f, pr.head_sha) for f in pr.files])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/commits")
def pull_commits(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, pr = _pull(api, req, p)
    commits = [repo.commits[s] for s in pr.commits if s in repo.commits]
    commits.sort(key=lambda c: c.date)
    return api.listing(req, [shapes.commit(req.base, repo, api.state, c) for c in commits])


# -- deployments and workflows -------------------------------------------------------------------


@route("GET", "/repos/{owner}/{repo}/deployments")
def list_deployments(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("deployments", "read"),))
    found = list(repo.deployments)
    filters: dict[str, Callable[[Any], str | None]] = {
        "environment": lambda d: d.environment, "sha": lambda d: d.sha, "ref": lambda d: d.ref,
        "task": lambda d: "deploy"}
    for key, field_of in filters.items():
        if key in req.query:
            found = [d for d in found if field_of(d) == req.query[key]]
    return api.listing(req, [shapes.deployment(req.base, repo, api.state, d) for d in found])


def _deployment(api: Api, req: Request, p: dict[str, str]) -> tuple[Repo, Any]:
    repo, _ = api.repo(req, p, perms=(("deployments", "read"),))
    d = next((x for x in repo.deployments if str(x.id) == p["id"]), None)
    if d is None:
        raise Deny(not_found(f"{DOC}/deployments/deployments#get-a-deployment"))
    return repo, d


@route("GET", "/repos/{owner}/{repo}/deployments/{id}")
def get_deployment(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, d = _deployment(api, req, p)
    return Response(200, shapes.deployment(req.base, repo, api.state, d))


@route("GET", "/repos/{owner}/{repo}/deployments/{id}/statuses")
def deployment_statuses(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, d = _deployment(api, req, p)
    items = [shapes.deployment_status(req.base, repo, api.state, d, s) for s in reversed(d.statuses)]
    return api.listing(req, items)


def workflow_files(repo: Repo) -> list[tuple[int, str, str]]:
    """(id, path, name) of every workflow file on the default branch, as GitHub lists them."""
    out = []
    for path, text in repo.files[repo.default_branch].items():
        if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")) and path.count("/") == 2:
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                doc = None
            name = str(doc["name"]) if isinstance(doc, dict) and isinstance(doc.get("name"), str) else path
            wid = 60_000_000 + int(hashlib.sha256(f"{repo.full_name}:{path}".encode()).hexdigest()[:6], 16)
            out.append((wid, path, name))
    return out


@route("GET", "/repos/{owner}/{repo}/actions/workflows")
def list_workflows(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("actions", "read"),))
    items = [shapes.workflow(req.base, repo, wid, path, name, repo.created_at)
             for wid, path, name in workflow_files(repo)]
    return api.wrapped(req, "workflows", items)


@route("GET", "/repos/{owner}/{repo}/actions/workflows/{id}")
def get_workflow(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("actions", "read"),))
    for wid, path, name in workflow_files(repo):
        if p["id"] in (str(wid), path.rsplit("/", 1)[-1]):
            return Response(200, shapes.workflow(req.base, repo, wid, path, name, repo.created_at))
    return not_found()


# -- writes a pull-request gate makes --------------------------------------------------------------


def _body(req: Request) -> dict[str, Any]:
    if not isinstance(req.body, dict):
        raise Deny(error(400, "Problems parsing JSON"))
    return req.body


def _write_perms(kind: str) -> tuple[tuple[str, str], ...]:
    return ((kind, "write"),)


@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_comments(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=(("issues", "read"),))
    found = [c for c in repo.comments if str(c.issue_number) == p["number"]]
    return api.listing(req, [shapes.issue_comment(req.base, repo, api.state, c) for c in found])


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def add_comment(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, perms=_write_perms("issues"))
    body = _body(req)
    if not isinstance(body.get("body"), str):
        return error(422, "Invalid request.\n\n\"body\" wasn't supplied.")
    if not any(str(pr.number) == p["number"] for pr in repo.pulls):
        return not_found()
    assert req.token is not None
    now = api.state.now + timedelta(seconds=len(repo.comments))
    c = IssueComment(id=api.state.new_id(), issue_number=int(p["number"]), body=body["body"],
                     user=req.token.login, created_at=now, updated_at=now)
    repo.comments.append(c)
    return Response(201, shapes.issue_comment(req.base, repo, api.state, c),
                    {"Location": f"{req.base}/repos/{repo.full_name}/issues/comments/{c.id}"})


def _comment(api: Api, req: Request, p: dict[str, str], perms: tuple[tuple[str, str], ...]) -> tuple[Repo, Any]:
    repo, _ = api.repo(req, p, perms=perms)
    c = next((x for x in repo.comments if str(x.id) == p["id"]), None)
    if c is None:
        raise Deny(not_found())
    return repo, c


@route("GET", "/repos/{owner}/{repo}/issues/comments/{id}")
def get_comment(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, c = _comment(api, req, p, (("issues", "read"),))
    return Response(200, shapes.issue_comment(req.base, repo, api.state, c))


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{id}")
def edit_comment(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, c = _comment(api, req, p, _write_perms("issues"))
    body = _body(req)
    if not isinstance(body.get("body"), str):
        return error(422, "Invalid request.\n\n\"body\" wasn't supplied.")
    c.body = body["body"]
    c.updated_at = max(c.updated_at, api.state.now) + timedelta(seconds=1)
    return Response(200, shapes.issue_comment(req.base, repo, api.state, c))


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def add_status(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="write", perms=_write_perms("statuses"))
    body = _body(req)
    if body.get("state") not in ("error", "failure", "pending", "success"):
        return error(422, "Validation Failed")
    sha = api.resolve_sha(repo, p["sha"])
    assert req.token is not None
    s = CommitStatus(id=api.state.new_id(), sha=sha, context=str(body.get("context", "default")),
                     state=body["state"], description=body.get("description"), target_url=body.get("target_url"),
                     created_at=api.state.now + timedelta(seconds=len(repo.statuses)), creator=req.token.login)
    repo.statuses.append(s)
    return Response(201, shapes.commit_status(req.base, repo, api.state, s))


@route("POST", "/repos/{owner}/{repo}/check-runs")
def add_check_run(api: Api, req: Request, p: dict[str, str]) -> Response:
    repo, _ = api.repo(req, p, role="write", perms=_write_perms("checks"))
    assert req.token is not None
    if req.token.kind == "classic":
        return error(403, "You must authenticate via a GitHub App.", f"{DOC}/checks/runs#create-a-check-run")
    if req.token.kind == "fine_grained":
        return api.rna(req.token, "checks=write")
    body = _body(req)
    if not isinstance(body.get("name"), str) or not isinstance(body.get("head_sha"), str):
        return error(422, "Validation Failed")
    sha = api.resolve_sha(repo, body["head_sha"])
    conclusion = body.get("conclusion")
    status = "completed" if conclusion else str(body.get("status", "queued"))
    now = api.state.now + timedelta(seconds=len(repo.check_runs))
    c = CheckRun(id=api.state.new_id(), name=body["name"], head_sha=sha, status=status, conclusion=conclusion,
                 started_at=now, completed_at=now if conclusion else None, app=req.token.login.removesuffix("[bot]"))
    repo.check_runs.append(c)
    return Response(201, shapes.check_run(req.base, repo, api.state, c))
