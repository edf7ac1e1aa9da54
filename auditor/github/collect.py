"""The REST collector: a FactPlan in, RepoFacts for one repository out.

It fetches only what `plan.needs` asks for, for the branches and environments the policy's roles
name, with as few requests as the data allows (per_page=100, one recursive tree shared by
CODEOWNERS, workflows and docs, each ruleset fetched once, sorted lists walked only as far as the
evidence window). Every section that cannot be read carries a `Gap` with GitHub's status, message
and the permission it needs; a failing section never takes the rest of the repository with it, and
a failing repository never takes the org run with it. Only rejected credentials raise (`AuthError`).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from auditor.facts import (
    BranchCommits,
    BranchFacts,
    CheckResult,
    Codeowners,
    Commit,
    Deployment,
    Deployments,
    DocFile,
    Docs,
    Environment,
    Environments,
    Gap,
    PathChange,
    PullRequest,
    PullRequests,
    RepoFacts,
    RuleDetail,
    RulesetInfo,
    Secrets,
    SecuritySettings,
    Webhooks,
    Workflows,
)
from auditor.github import parse
from auditor.github.client import GitHubClient, PageError, Response, seg
from auditor.github.errors import AuthError, CollectError, UnexpectedResponseError
from auditor.model import ApiCost
from auditor.plan import FactPlan
from auditor.rules.base import Need

T = TypeVar("T")

CODEOWNERS_LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's precedence
WORKFLOW_DIR = ".github/workflows"
ADMIN_READ = "Administration: read"
# GET /orgs/{org}/actions/secrets: the fine-grained permission and the classic-token scope it needs.
ORG_SECRETS_READ = "Organization secrets: read (classic token: admin:org)"


class FactSource(Protocol):
    """Anything that can observe a repository: the REST collector, a batched GraphQL one, the sandbox."""

    def collect(self, full_name: str, plan: FactPlan, now: datetime) -> RepoFacts:
        """Facts for `full_name` as of `now`, gaps instead of exceptions (AuthError aside)."""

    @property
    def cost(self) -> ApiCost:
        """What the source has cost so far."""


@dataclass(frozen=True)
class OrgRepo:
    """What the org listing tells about a repository, enough for policy scope without more requests."""

    full_name: str
    visibility: str | None
    archived: bool
    fork: bool
    topics: tuple[str, ...] = ()
    default_branch: str | None = None
    data: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


def usable_listing(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The org listing's JSON for a repository, if it can stand in for GET /repos/{o}/{r}.

    GET /orgs/{org}/repos answers `minimal-repository` objects, which carry everything the
    collector reads from the full repository (visibility, archived, fork, topics, default branch,
    `permissions`, and `security_and_analysis` for those allowed to see it). It stands in only
    when it has `permissions` (an authenticated listing) and, for an admin, `security_and_analysis`
    (so a listing that leaves it out never turns into a "not shown to you" gap that the full
    answer would not have given).
    """
    if data is None or not isinstance(data.get("permissions"), Mapping) or not data.get("default_branch"):
        return None
    if parse.viewer_permission(data) == "ADMIN" and "security_and_analysis" not in data:
        return None
    return dict(data)


# --------------------------------------------------------------------------------------------
# Gaps


def gap_for(resp: Response, what: str, permission: str | None) -> Gap:
    """A Gap from an error answer: GitHub's message, its status, the permission it names (or ours)."""
    reason = f"GitHub would not show {what}"
    if resp.message:
        reason += f": {resp.message}"
    return Gap(reason, permission=resp.accepted_permissions or permission, http_status=resp.status)


def gap_from_error(exc: CollectError | PageError | ValueError, what: str, permission: str | None) -> Gap:
    """A Gap from a failure that produced no usable answer (transport, rate limit, bad JSON)."""
    if isinstance(exc, PageError):
        return gap_for(exc.response, what, permission)
    if isinstance(exc, ValueError):
        return Gap(f"GitHub's answer for {what} could not be read ({type(exc).__name__})")
    return Gap(f"{what} could not be collected: {exc}")


def _unread_ruleset(rid: int, items: list[Any]) -> RulesetInfo:
    """A ruleset known only from the effective rules: its bypass actors stay unknown."""
    item: dict[str, Any] = next((i for i in items if i.get("ruleset_id") == rid), {})
    return RulesetInfo(
        id=rid,
        name="",
        source=str(item.get("ruleset_source") or ""),
        source_type=str(item.get("ruleset_source_type") or "Repository"),
        bypass_gap=Gap("the ruleset's details were not read (the pull-request gate reads only its effective rules)"),
    )


@dataclass
class _Tree:
    """The production branch's recursive tree: path -> blob sha, or why it is unknown."""

    blobs: dict[str, str] | None
    gap: Gap | None = None
    truncated: bool = False


@dataclass
class _RepoState:
    """What one repository's sections share: the repo JSON, the tree, PRs, rulesets."""

    repo: dict[str, Any]
    prod_branch: str
    tree: _Tree | None = None
    rulesets: dict[int, RulesetInfo] = field(default_factory=dict)
    merged_prs: list[PullRequest] | None = None
    prs_gap: Gap | None = None


# --------------------------------------------------------------------------------------------
# The source


class RestSource:
    """Collects RepoFacts over the REST API with one client (one per worker).

    `max_pr_lookups` caps the GET commits/{sha}/pulls requests spent associating commits with
    pull requests per repository; commits beyond it keep `pull_requests=None` (unknown).
    """

    def __init__(self, client: GitHubClient, *, max_pr_lookups: int = 100,
                 listed: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.client = client
        self.max_pr_lookups = max_pr_lookups
        self.listed = dict(listed or {})
        self._org_secret_visibility: dict[str, dict[str, str] | None] = {}
        self._org_secret_visibility_gap: dict[str, Gap] = {}

    @property
    def cost(self) -> ApiCost:
        """The client's cost."""
        return self.client.cost

    def collect(self, full_name: str, plan: FactPlan, now: datetime) -> RepoFacts:
        """Facts for `full_name`; see the module docstring for what is fetched and how."""
        return _RepoCollector(self, full_name, plan, now).run()

    def collect_pull_request(self, full_name: str, number: int, plan: FactPlan, now: datetime) -> RepoFacts:
        """The pull-request gate's facts for PR `number` (auditor/github/pull.py says what, and why so few).

        Raises `UnexpectedResponseError` when the PR itself cannot be read.
        """
        from auditor.github.pull import collect_pull_request_facts  # pull.py builds on this module

        return collect_pull_request_facts(self, full_name, number, plan, now)

    def org_secret_visibility(self, org: str) -> dict[str, str] | None:
        """name -> visibility of an org's Actions secrets (cached per org; None if unreadable).

        When it is None, `org_secret_visibility_gap(org)` says why.
        """
        if org not in self._org_secret_visibility:
            try:
                items = list(self.client.paginate(f"/orgs/{seg(org)}/actions/secrets", key="secrets"))
                self._org_secret_visibility[org] = {
                    str(i.get("name")): str(i.get("visibility")) for i in items if i.get("visibility")
                }
            except (PageError, CollectError) as exc:
                if isinstance(exc, AuthError):
                    raise
                self._org_secret_visibility[org] = None
                self._org_secret_visibility_gap[org] = gap_from_error(
                    exc, f"the visibility of the secrets of organisation {org}", ORG_SECRETS_READ
                )
        return self._org_secret_visibility[org]

    def org_secret_visibility_gap(self, org: str) -> Gap | None:
        """Why `org_secret_visibility(org)` could not be read (None: it was, or was not asked yet)."""
        return self._org_secret_visibility_gap.get(org)


def collect_repo(client: GitHubClient, full_name: str, plan: FactPlan, now: datetime) -> RepoFacts:
    """Facts for one repository through `client`."""
    return RestSource(client).collect(full_name, plan, now)


def collect_pull_request(client: GitHubClient, full_name: str, number: int, plan: FactPlan, now: datetime) -> RepoFacts:
    """The pull-request gate's facts for PR `number` of `full_name` through `client`."""
    return RestSource(client).collect_pull_request(full_name, number, plan, now)


def list_org_repos(client: GitHubClient, org: str) -> list[OrgRepo]:
    """Every repository of `org` (or of a user account) with what policy scope needs.

    Raises `UnexpectedResponseError` (a CollectError) when the organisation cannot be listed.
    """
    for path in (f"/orgs/{seg(org)}/repos", f"/users/{seg(org)}/repos"):
        try:
            items = list(client.paginate(path, {"type": "all"}))
        except PageError as exc:
            if exc.response.status == 404:
                continue
            raise UnexpectedResponseError(exc.response.status, exc.response.message) from exc
        return [
            OrgRepo(
                full_name=str(i["full_name"]),
                visibility=i.get("visibility") or ("private" if i.get("private") else "public"),
                archived=bool(i.get("archived")),
                fork=bool(i.get("fork")),
                topics=tuple(i.get("topics") or ()),
                default_branch=i.get("default_branch"),
                data=i,
            )
            for i in items
        ]
    raise UnexpectedResponseError(404, f"no organisation or user called {org}")


def collect_many(
    make_source: Callable[[], RestSource],
    names: Sequence[str],
    plan: FactPlan,
    now: datetime,
    workers: int = 4,
) -> tuple[list[RepoFacts], ApiCost]:
    """Collect several repositories with one source (one client) per worker thread.

    Returns the facts in the order of `names` and the summed cost. AuthError propagates.
    """
    sources: list[RestSource] = []

    def work(chunk: Sequence[tuple[int, str]]) -> list[tuple[int, RepoFacts]]:
        source = make_source()
        sources.append(source)
        return [(i, source.collect(name, plan, now)) for i, name in chunk]

    indexed = list(enumerate(names))
    workers = max(1, min(workers, len(indexed) or 1))
    chunks = [indexed[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [pair for part in pool.map(work, chunks) for pair in part]
    facts = [f for _, f in sorted(results, key=lambda p: p[0])]
    return facts, sum_costs(s.cost for s in sources)


def sum_costs(costs: Iterable[ApiCost]) -> ApiCost:
    """Add ApiCosts field by field."""
    total = ApiCost()
    for c in costs:
        total = ApiCost(
            requests=total.requests + c.requests,
            rate_limit_used=total.rate_limit_used + c.rate_limit_used,
            retries=total.retries + c.retries,
            not_modified=total.not_modified + c.not_modified,
            graphql_points=total.graphql_points + c.graphql_points,
        )
    return total


# --------------------------------------------------------------------------------------------
# One repository


class _RepoCollector:
    def __init__(self, source: RestSource, full_name: str, plan: FactPlan, now: datetime) -> None:
        self.source = source
        self.c = source.client
        self.full_name = full_name
        owner, _, name = full_name.partition("/")
        self.owner = owner
        self.base = f"/repos/{seg(owner)}/{seg(name)}"
        self.plan = plan
        self.now = now
        self.since = now - timedelta(days=plan.window_days)
        self.lookups = 0
        self.read_rulesets = True  # GET rulesets/{id} for names and bypass actors (the gate skips it)

    # -- helpers ------------------------------------------------------------------------------

    def wants(self, *needs: Need) -> bool:
        return self.plan.wants(*needs)

    def guarded(self, what: str, permission: str | None, fallback: Callable[[Gap], T], fn: Callable[[], T]) -> T:
        """Run one section; any non-fatal failure becomes `fallback(gap)`."""
        try:
            return fn()
        except AuthError:
            raise
        except (CollectError, PageError, ValueError, KeyError, TypeError) as exc:
            error = exc if isinstance(exc, CollectError | PageError | ValueError) else ValueError(str(exc))
            return fallback(gap_from_error(error, what, permission))

    def guarded_value(self, key: str, gaps: dict[str, Gap], what: str, fn: Callable[[], Any]) -> Any:
        """A single setting: on failure None, with the gap recorded under `key`."""

        def fallback(gap: Gap) -> None:
            gaps[key] = gap

        return self.guarded(what, ADMIN_READ, fallback, fn)

    def get(self, path: str, params: dict[str, str | int] | None = None) -> Response:
        return self.c.get(self.base + path, params)

    def items(
        self,
        path: str,
        params: dict[str, str | int] | None = None,
        key: str | None = None,
        stop: Callable[[Any], bool] | None = None,
    ) -> list[Any]:
        return list(self.c.paginate(self.base + path, params, key=key, stop=stop))

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RepoFacts:
        facts = RepoFacts(repo=self.full_name, collected_at=self.now, source="rest")
        if not self.plan.needs:
            return facts
        repo = usable_listing(self.source.listed.get(self.full_name))
        if repo is None:
            try:
                resp = self.c.get(self.base)
            except AuthError:
                raise
            except CollectError as exc:
                return self._all_gapped(facts, gap_from_error(exc, f"repository {self.full_name}", "Metadata: read"))
            if not resp.ok:
                return self._all_gapped(facts, gap_for(resp, f"repository {self.full_name}", "Metadata: read"))
            repo = resp.json()
        default = str(repo.get("default_branch") or "") or None
        prod = self.plan.production_branch or (self.plan.branches[0] if self.plan.branches else None)
        state = _RepoState(repo=repo, prod_branch=prod or default or "HEAD")
        facts = replace(
            facts,
            default_branch=default,
            visibility=repo.get("visibility") or ("private" if repo.get("private") else "public"),
            archived=bool(repo.get("archived")),
            fork=bool(repo.get("fork")),
            topics=tuple(repo.get("topics") or ()),
            viewer_permission=parse.viewer_permission(repo),
        )
        updates: dict[str, Any] = {}
        if self.wants(Need.BRANCHES, Need.PROTECTION):
            updates["branches"] = tuple(self._branch(state, b) for b in self.plan.branches)
        if self.wants(Need.ENVIRONMENTS, Need.ENV_SECRETS):
            updates["environments"] = self.guarded(
                "the environments", "Actions: read", lambda g: Environments(gap=g), self._environments
            )
        if self.wants(Need.REPO_SECRETS):
            updates["repo_secrets"] = self.guarded(
                "the repository secrets", "Secrets: read", lambda g: Secrets(gap=g), self._repo_secrets
            )
        if self.wants(Need.ORG_SECRETS):
            updates["org_secrets"] = self.guarded(
                "the organisation secrets", "Secrets: read", lambda g: Secrets(gap=g), self._org_secrets
            )
        if self.wants(Need.SECURITY, Need.WORKFLOW_PERMISSIONS):
            updates["security"] = self._security(state)
        if self.wants(Need.CODEOWNERS):
            updates["codeowners"] = self.guarded(
                "CODEOWNERS",
                "Contents: read",
                lambda g: Codeowners(gap=g, errors=None),
                lambda: self._codeowners(state),
            )
        if self.wants(Need.WORKFLOWS):
            updates["workflows"] = self.guarded(
                "the workflows",
                "Contents: read",
                lambda g: Workflows(ref=state.prod_branch, gap=g),
                lambda: self._workflows(state),
            )
        if self.wants(Need.DOCS):
            updates["docs"] = self.guarded(
                "the documentation",
                "Contents: read",
                lambda g: Docs(ref=state.prod_branch, gap=g),
                lambda: self._docs(state),
            )
        if self.wants(Need.PULL_REQUESTS, Need.PR_CHECKS):
            updates["pull_requests"] = self._pull_requests(state)
        if self.wants(Need.COMMITS):
            missing = {b.name for b in updates.get("branches", ()) if b.exists is False}
            updates["commits"] = tuple(
                BranchCommits(branch=b, since=self.since) if b in missing else self._commits(state, b, default)
                for b in self.plan.branches)
        if self.wants(Need.DEPLOYMENTS):
            updates["deployments"] = self.guarded(
                "the deployments",
                "Deployments: read",
                lambda g: Deployments(since=self.since, gap=g),
                self._deployments,
            )
        if self.wants(Need.WEBHOOKS):
            updates["webhooks"] = self.guarded(
                "the webhooks", "Webhooks: read", lambda g: Webhooks(gap=g), self._webhooks
            )
        return replace(facts, **updates)

    def _all_gapped(self, facts: RepoFacts, gap: Gap) -> RepoFacts:
        """The repository itself is unreadable: every requested section carries the same gap."""
        p = self.plan
        sections: dict[str, Any] = {"repo_gap": gap}
        if p.wants(Need.BRANCHES, Need.PROTECTION):
            sections["branches"] = tuple(
                BranchFacts(name=b, exists_gap=gap, classic_gap=gap, rules_gap=gap) for b in p.branches
            )
        if p.wants(Need.ENVIRONMENTS, Need.ENV_SECRETS):
            sections["environments"] = Environments(gap=gap)
        if p.wants(Need.REPO_SECRETS):
            sections["repo_secrets"] = Secrets(gap=gap)
        if p.wants(Need.ORG_SECRETS):
            sections["org_secrets"] = Secrets(gap=gap)
        if p.wants(Need.SECURITY, Need.WORKFLOW_PERMISSIONS):
            keys = ("dependabot_alerts", "secret_scanning", "push_protection", "default_workflow_permissions")
            sections["security"] = SecuritySettings(gaps=dict.fromkeys(keys, gap))
        if p.wants(Need.CODEOWNERS):
            sections["codeowners"] = Codeowners(gap=gap, errors=None, errors_gap=gap)
        if p.wants(Need.WORKFLOWS):
            sections["workflows"] = Workflows(gap=gap)
        if p.wants(Need.DOCS):
            sections["docs"] = Docs(gap=gap)
        if p.wants(Need.PULL_REQUESTS, Need.PR_CHECKS):
            sections["pull_requests"] = PullRequests(since=self.since, gap=gap)
        if p.wants(Need.COMMITS):
            sections["commits"] = tuple(BranchCommits(branch=b, since=self.since, gap=gap) for b in p.branches)
        if p.wants(Need.DEPLOYMENTS):
            sections["deployments"] = Deployments(since=self.since, gap=gap)
        if p.wants(Need.WEBHOOKS):
            sections["webhooks"] = Webhooks(gap=gap)
        return replace(facts, **sections)

    # -- branches and protection ---------------------------------------------------------------

    def _branch(self, state: _RepoState, name: str) -> BranchFacts:
        facts = BranchFacts(name=name)
        if self.wants(Need.BRANCHES):
            facts = self.guarded(
                f"branch {name}",
                "Contents: read",
                lambda g: replace(facts, exists_gap=g),
                lambda: self._branch_head(facts),
            )
        if not self.wants(Need.PROTECTION) or facts.exists is False:
            return facts
        return self._protection(state, facts)

    def _protection(self, state: _RepoState, facts: BranchFacts) -> BranchFacts:
        """Classic protection and effective rules of an existing branch, each with its own gap."""
        facts = self.guarded(
            f"the branch protection of {facts.name}",
            ADMIN_READ,
            lambda g: replace(facts, classic_gap=g),
            lambda: self._classic(state, facts),
        )
        return self.guarded(
            f"the rules of {facts.name}",
            "Metadata: read",
            lambda g: replace(facts, rules_gap=g),
            lambda: self._rules(state, facts),
        )

    def _branch_head(self, facts: BranchFacts) -> BranchFacts:
        resp = self.get(f"/branches/{seg(facts.name)}")
        if resp.ok:
            sha = (resp.json().get("commit") or {}).get("sha")
            return replace(facts, exists=True, head_sha=sha)
        if resp.status == 404 and "branch not found" in resp.message.lower():
            return replace(facts, exists=False)
        return replace(facts, exists_gap=gap_for(resp, f"branch {facts.name}", "Contents: read"))

    def _classic(self, state: _RepoState, facts: BranchFacts) -> BranchFacts:
        resp = self.get(f"/branches/{seg(facts.name)}/protection")
        message = resp.message.lower()
        if resp.ok:
            return replace(facts, classic=parse.classic_protection(resp.json()))
        if resp.status == 404 and "branch not protected" in message:
            return replace(facts, classic=None, classic_gap=None)
        if resp.status == 404 and "branch not found" in message:
            return replace(facts, exists=False if facts.exists is None else facts.exists)
        if resp.status == 403 and "upgrade to github pro" in message:
            gap = Gap(
                f"GitHub would not show the branch protection of {facts.name}: {resp.message} (the "
                "repository's plan offers no branch protection on private repositories)",
                http_status=403,
            )
            return replace(facts, classic_gap=gap)
        gap = gap_for(resp, f"the branch protection of {facts.name}", ADMIN_READ)
        if state.repo.get("permissions") and parse.viewer_permission(state.repo) != "ADMIN":
            gap = replace(gap, reason=gap.reason + " (classic branch protection is visible to repository admins only)")
        return replace(facts, classic_gap=gap)

    def _rules(self, state: _RepoState, facts: BranchFacts) -> BranchFacts:
        items = self.items(f"/rules/branches/{seg(facts.name)}")
        ids = list(dict.fromkeys(int(i.get("ruleset_id") or 0) for i in items))
        infos = [self._ruleset(state, rid, items) if self.read_rulesets else _unread_ruleset(rid, items)
                 for rid in ids if rid]
        names = {info.id: info.name for info in infos}
        rules: tuple[RuleDetail, ...] = tuple(parse.rule_detail(i, names) for i in items)
        return replace(facts, rules=rules, rulesets=tuple(infos))

    def _ruleset(self, state: _RepoState, rid: int, items: list[Any]) -> RulesetInfo:
        if rid in state.rulesets:
            return state.rulesets[rid]
        source_type = next(
            (str(i.get("ruleset_source_type")) for i in items if i.get("ruleset_id") == rid), "Repository"
        )
        source = next((str(i.get("ruleset_source")) for i in items if i.get("ruleset_id") == rid), "")
        resp = self.get(f"/rulesets/{rid}", {"includes_parents": "true"})
        if resp.ok:
            info = parse.ruleset_info(resp.json())
        else:
            gap = gap_for(resp, f"ruleset {rid}", parse.bypass_permission(source_type))
            info = RulesetInfo(id=rid, name="", source=source, source_type=source_type, bypass_gap=gap)
        state.rulesets[rid] = info
        return info

    # -- environments and secrets -------------------------------------------------------------

    def _environments(self) -> Environments:
        listed = [parse.environment(e) for e in self.items("/environments", key="environments")]
        wanted = {n.lower() for n in self.plan.environments}
        out: list[Environment] = []
        unread = Gap("branch patterns are read only for the environments the policy names")
        for env in listed:
            if env.name.lower() in wanted:
                out.append(self._environment_details(env))
            elif env.branch_policy == "custom":
                out.append(replace(env, branch_patterns_gap=unread))
            else:
                out.append(env)
        return Environments(items=tuple(out))

    def _environment_details(self, env: Environment) -> Environment:
        path = f"/environments/{seg(env.name)}"
        if env.branch_policy == "custom":
            env = self.guarded(
                f"the branch policies of environment {env.name}",
                "Actions: read",
                lambda g: replace(env, branch_patterns_gap=g),
                lambda: replace(
                    env,
                    branch_patterns=tuple(
                        parse.branch_policy_pattern(p)
                        for p in self.items(f"{path}/deployment-branch-policies", key="branch_policies")
                    ),
                ),
            )
        if not self.wants(Need.ENV_PROTECTION_APPS):
            env = replace(env, custom_protection_apps=None)  # not collected: no enabled rule reads it
        else:
            env = self.guarded(
                f"the custom deployment protection rules of environment {env.name}",
                "Actions: read",
                lambda g: replace(env, custom_protection_apps=None, custom_protection_apps_gap=g),
                lambda: self._protection_apps(env, path),
            )
        if self.wants(Need.ENV_SECRETS):
            env = self.guarded(
                f"the secrets of environment {env.name}",
                "Environments: read and Secrets: read",
                lambda g: replace(env, secrets=None, secrets_gap=g),
                lambda: replace(
                    env,
                    secrets=tuple(
                        parse.secret(s, "environment", env.name) for s in self.items(f"{path}/secrets", key="secrets")
                    ),
                ),
            )
        return env

    def _protection_apps(self, env: Environment, path: str) -> Environment:
        """Custom deployment protection rules (GitHub App gates); None plus a gap if unreadable."""
        resp = self.get(f"{path}/deployment_protection_rules")
        if not resp.ok:
            gap = gap_for(resp, f"the custom deployment protection rules of environment {env.name}", "Actions: read")
            return replace(env, custom_protection_apps=None, custom_protection_apps_gap=gap)
        data = resp.json() or {}
        rules = data.get("custom_deployment_protection_rules") or []
        return replace(env, custom_protection_apps=tuple(a for a in (parse.protection_app(r) for r in rules) if a))

    def _repo_secrets(self) -> Secrets:
        return Secrets(items=tuple(parse.secret(s, "repo") for s in self.items("/actions/secrets", key="secrets")))

    def _org_secrets(self) -> Secrets:
        """Org secrets visible to the repo; visibility comes from the org listing when readable.

        GET /repos/{o}/{r}/actions/organization-secrets answers names and dates only (the
        OpenAPI `actions-secret` schema); visibility needs GET /orgs/{org}/actions/secrets
        (Organization secrets: read), asked once per organisation.
        """
        items = [parse.secret(s, "org") for s in self.items("/actions/organization-secrets", key="secrets")]
        if not any(s.visibility is None for s in items):
            return Secrets(items=tuple(items))
        known = self.source.org_secret_visibility(self.owner)
        if known is None:
            gap = self.source.org_secret_visibility_gap(self.owner) or Gap(
                f"the visibility of the secrets of organisation {self.owner} could not be read",
                permission=ORG_SECRETS_READ,
            )
            return Secrets(items=tuple(items), visibility_gap=gap)
        items = [s if s.visibility else replace(s, visibility=known.get(s.name)) for s in items]
        unlisted = sorted(s.name for s in items if s.visibility is None)
        missing: Gap | None = None
        if unlisted:
            missing = Gap(
                f"organisation {self.owner}'s secret listing does not include {', '.join(unlisted)}",
                permission=ORG_SECRETS_READ,
            )
        return Secrets(items=tuple(items), visibility_gap=missing)

    # -- security settings --------------------------------------------------------------------

    def _security(self, state: _RepoState) -> SecuritySettings:
        gaps: dict[str, Gap] = {}
        settings: dict[str, Any] = {}
        if self.wants(Need.SECURITY):
            absent = Gap(
                "GitHub shows security_and_analysis only to repo admins, org owners and security managers",
                permission=ADMIN_READ,
            )
            for key, feature in (
                ("secret_scanning", "secret_scanning"),
                ("push_protection", "secret_scanning_push_protection"),
            ):
                value = parse.analysis_status(state.repo, feature)
                settings[key] = value
                if value is None:
                    gaps[key] = (
                        absent
                        if "security_and_analysis" not in state.repo
                        else Gap(f"GitHub did not report {feature} for this repository")
                    )
            settings["dependabot_alerts"] = self.guarded_value(
                "dependabot_alerts",
                gaps,
                "the Dependabot alerts setting",
                lambda: self._dependabot(state, gaps),
            )
        if self.wants(Need.WORKFLOW_PERMISSIONS):
            settings["default_workflow_permissions"] = self.guarded_value(
                "default_workflow_permissions",
                gaps,
                "the default workflow permissions",
                lambda: self._workflow_permissions(gaps),
            )
        return SecuritySettings(gaps=gaps, **settings)

    def _dependabot(self, state: _RepoState, gaps: dict[str, Gap]) -> bool | None:
        """GET vulnerability-alerts: 204 enabled, 404 disabled, but only an admin's 404 means that."""
        resp = self.get("/vulnerability-alerts")
        if resp.status == 204 or resp.ok:
            return True
        if resp.status == 404 and parse.viewer_permission(state.repo) == "ADMIN":
            return False
        gap = gap_for(resp, "whether Dependabot alerts are enabled", ADMIN_READ)
        gaps["dependabot_alerts"] = replace(gap, reason=gap.reason + " (only admins can tell)")
        return None

    def _workflow_permissions(self, gaps: dict[str, Gap]) -> Any:
        resp = self.get("/actions/permissions/workflow")
        value = (resp.json() or {}).get("default_workflow_permissions") if resp.ok else None
        if value in ("read", "write"):
            return value
        gaps["default_workflow_permissions"] = (
            gap_for(resp, "the default workflow permissions", ADMIN_READ)
            if not resp.ok
            else Gap("GitHub did not report default_workflow_permissions")
        )
        return None

    # -- files --------------------------------------------------------------------------------

    def _tree(self, state: _RepoState) -> _Tree:
        """The production branch's recursive tree, fetched once per repository."""
        if state.tree is not None:
            return state.tree
        resp = self.get(f"/git/trees/{seg(state.prod_branch)}", {"recursive": "1"})
        if resp.ok:
            data = resp.json()
            blobs = {str(e["path"]): str(e.get("sha", "")) for e in data.get("tree") or [] if e.get("type") == "blob"}
            state.tree = _Tree(blobs=blobs, truncated=bool(data.get("truncated")))
        elif resp.status == 409:  # an empty repository has no tree
            state.tree = _Tree(blobs={})
        else:
            state.tree = _Tree(blobs=None, gap=gap_for(resp, f"the files of {state.prod_branch}", "Contents: read"))
        return state.tree

    def _exists(self, state: _RepoState, tree: _Tree, path: str) -> str | None:
        """The blob sha of `path`, or None if absent; asks the contents API when the tree was truncated."""
        if tree.blobs is not None and path in tree.blobs:
            return tree.blobs[path]
        if not tree.truncated:
            return None
        resp = self.get(f"/contents/{'/'.join(seg(p) for p in path.split('/'))}", {"ref": state.prod_branch})
        if resp.ok and isinstance(resp.json(), dict):
            return str(resp.json().get("sha", "")) or None
        if resp.status == 404:
            return None
        raise PageError(resp)

    def _blob_text(self, sha: str) -> str:
        resp = self.get(f"/git/blobs/{sha}")
        if not resp.ok:
            raise PageError(resp)
        text = parse.blob_text(resp.json())
        if text is None:
            raise ValueError("blob without content")
        return text

    def _codeowners(self, state: _RepoState) -> Codeowners:
        tree = self._tree(state)
        if tree.blobs is None:
            return Codeowners(gap=tree.gap, errors=None, errors_gap=tree.gap)
        path = next((p for p in CODEOWNERS_LOCATIONS if self._exists(state, tree, p)), None)
        if path is None:
            return Codeowners(path=None, errors=())
        resp = self.get("/codeowners/errors", {"ref": state.prod_branch})
        if not resp.ok:
            return Codeowners(
                path=path, errors=None, errors_gap=gap_for(resp, "the CODEOWNERS errors", "Contents: read")
            )
        errors = tuple(parse.codeowners_error(e) for e in (resp.json() or {}).get("errors") or [])
        return Codeowners(path=path, errors=errors)

    def _workflow_paths(self, state: _RepoState, tree: _Tree) -> dict[str, str]:
        """.github/workflows/*.yml|yaml -> blob sha (direct children only, as GitHub runs them)."""
        if tree.blobs is not None and not tree.truncated:
            blobs = tree.blobs
        else:
            resp = self.get("/contents/.github/workflows", {"ref": state.prod_branch})
            if resp.status == 404:
                return {}
            if not resp.ok:
                raise PageError(resp)
            blobs = {str(e["path"]): str(e.get("sha", "")) for e in resp.json() if e.get("type") == "file"}
        return {
            p: sha
            for p, sha in sorted(blobs.items())
            if posixpath.dirname(p) == WORKFLOW_DIR and p.endswith((".yml", ".yaml"))
        }

    def _workflows(self, state: _RepoState) -> Workflows:
        # Imported late: the workflow parser is a separate layer that collection only needs here.
        from auditor.workflows import parse_workflow

        tree = self._tree(state)
        if tree.blobs is None and tree.gap is not None:
            return Workflows(ref=state.prod_branch, gap=tree.gap)
        # A blob that cannot be read raises, so the whole section becomes a gap: a workflow nobody
        # could read is unknown, not "broken" (`parse_error` is for files GitHub would not run either,
        # and rules fail on it).
        items = [parse_workflow(path, self._blob_text(sha)) for path, sha in self._workflow_paths(state, tree).items()]
        return Workflows(items=tuple(items), ref=state.prod_branch)

    def _last_change(self, state: _RepoState, path: str) -> datetime | None:
        resp = self.get("/commits", {"path": path, "sha": state.prod_branch, "per_page": 1})
        if not resp.ok:
            raise PageError(resp)
        data = resp.json() or []
        return parse.commit_date(data[0]) if data else None

    def _docs(self, state: _RepoState) -> Docs:
        tree = self._tree(state)
        if tree.blobs is None:
            return Docs(ref=state.prod_branch, gap=tree.gap)
        files: list[DocFile] = []
        for path in self.plan.doc_paths:
            sha = self._exists(state, tree, path)
            if sha is None:
                files.append(DocFile(path=path, exists=False))
                continue
            headings = None
            if path.lower().endswith((".md", ".markdown")):
                headings = parse.markdown_headings(self._blob_text(sha))
            changed = self._last_change(state, path)
            files.append(DocFile(path=path, exists=True, last_changed_at=changed, headings=headings))
        watched = tuple(self._watched(state, tree, glob) for glob in self.plan.watched_globs)
        return Docs(files=tuple(files), watched=watched, tree=tuple(sorted(tree.blobs)), ref=state.prod_branch)

    def _watched(self, state: _RepoState, tree: _Tree, glob: str) -> PathChange:
        """The latest commit touching a path matching `glob`.

        One commits?path= request on the glob's directory prefix (exact when one file matches);
        the prefix may also cover non-matching files in the same directory, which only makes
        the date later, never older.
        """
        matches = sorted(p for p in tree.blobs or {} if fnmatch.fnmatchcase(p, glob))
        if not matches and not tree.truncated:
            return PathChange(glob=glob)
        if len(matches) == 1:
            query = matches[0]
        else:
            parts: list[str] = []
            for part in glob.split("/"):
                if any(ch in part for ch in "*?["):
                    break
                parts.append(part)
            query = "/".join(parts)
        params: dict[str, str | int] = {"sha": state.prod_branch, "per_page": 1}
        if query:
            params["path"] = query
        resp = self.get("/commits", params)
        if not resp.ok:
            raise PageError(resp)
        data = resp.json() or []
        if not data:
            return PathChange(glob=glob)
        return PathChange(glob=glob, last_changed_at=parse.commit_date(data[0]), path=query or None)

    # -- pull requests, commits, deployments, hooks ---------------------------------------------

    def _merged_prs(self, state: _RepoState) -> list[PullRequest]:
        """Merged PRs into the role branches in the window (closed, sorted by update, walked back)."""
        if state.merged_prs is not None:
            return state.merged_prs
        found: list[PullRequest] = []

        def outside(item: Any) -> bool:
            updated = parse.ts(item.get("updated_at"))
            return updated is not None and updated < self.since

        try:
            for branch in self.plan.branches:
                params: dict[str, str | int] = {
                    "state": "closed",
                    "base": branch,
                    "sort": "updated",
                    "direction": "desc",
                }
                for item in self.items("/pulls", params, stop=outside):
                    pr = parse.pull_request(item)
                    if pr.merged_at is not None and pr.merged_at >= self.since:
                        found.append(pr)
        except (PageError, CollectError) as exc:
            if isinstance(exc, AuthError):
                raise
            state.prs_gap = gap_from_error(exc, "the pull requests", "Pull requests: read")
        state.merged_prs = found
        return found

    def _pull_requests(self, state: _RepoState) -> PullRequests:
        prs = self._merged_prs(state)
        out = []
        for listed in prs:
            pr = self._with_reviews(listed) if self.wants(Need.PULL_REQUESTS) else listed
            out.append(self._with_checks(pr) if self.wants(Need.PR_CHECKS) else pr)
        state.merged_prs = out
        return PullRequests(items=tuple(out), since=self.since, gap=state.prs_gap)

    def _with_reviews(self, pr: PullRequest) -> PullRequest:
        def fetch() -> PullRequest:
            return replace(pr, reviews=tuple(parse.review(r) for r in self.items(f"/pulls/{pr.number}/reviews")))

        def fallback(gap: Gap) -> PullRequest:
            return replace(pr, reviews=None, reviews_gap=gap)

        return self.guarded(f"the reviews of pull request #{pr.number}", "Pull requests: read", fallback, fetch)

    def _with_checks(self, pr: PullRequest) -> PullRequest:
        def fallback(gap: Gap) -> PullRequest:
            return replace(pr, checks=None, checks_gap=gap)

        return self.guarded(
            f"the checks of pull request #{pr.number}",
            "Checks: read and Commit statuses: read",
            fallback,
            lambda: replace(pr, checks=self._checks(pr.head_sha)),
        )

    def _checks(self, sha: str) -> tuple[CheckResult, ...]:
        runs = [parse.check_run(r) for r in self.items(f"/commits/{sha}/check-runs", key="check_runs")]
        resp = self.get(f"/commits/{sha}/status", {"per_page": 100})
        if not resp.ok:
            raise PageError(resp)
        statuses = [parse.commit_status(s) for s in (resp.json() or {}).get("statuses") or []]
        return tuple(runs + statuses)

    def _commits(self, state: _RepoState, branch: str, default: str | None) -> BranchCommits:
        def fetch() -> BranchCommits:
            raw = self.items("/commits", {"sha": branch, "since": self.since.strftime("%Y-%m-%dT%H:%M:%SZ")})
            known: dict[str, int] = {}
            if self.wants(Need.PULL_REQUESTS, Need.PR_CHECKS):
                for pr in self._merged_prs(state):
                    if pr.base_ref == branch:
                        if pr.merge_commit_sha:
                            known[pr.merge_commit_sha] = pr.number
                        known.setdefault(pr.head_sha, pr.number)
            items: list[Commit] = []
            for data in raw:
                sha = str(data.get("sha") or "")
                items.append(parse.commit(data, self._association(sha, branch, default, known)))
            return BranchCommits(branch=branch, items=tuple(items), since=self.since)

        return self.guarded(
            f"the commits of {branch}",
            "Contents: read",
            lambda g: BranchCommits(branch=branch, since=self.since, gap=g),
            fetch,
        )

    def _association(self, sha: str, branch: str, default: str | None, known: dict[str, int]) -> tuple[int, ...] | None:
        """The PRs that brought `sha` into `branch`; None when that cannot be told cheaply.

        GET commits/{sha}/pulls lists the merged PR that introduced a commit only for the
        default branch (elsewhere it lists open PRs), so other branches rely on the merged PR
        list alone.
        """
        if sha in known:
            return (known[sha],)
        if branch != default or self.lookups >= self.source.max_pr_lookups:
            return None
        self.lookups += 1
        resp = self.get(f"/commits/{sha}/pulls")
        if not resp.ok:
            return None
        return tuple(
            int(p["number"])
            for p in resp.json() or []
            if p.get("merged_at") and (p.get("base") or {}).get("ref") == branch
        )

    def _deployments(self) -> Deployments:
        def outside(item: Any) -> bool:
            created = parse.ts(item.get("created_at"))
            return created is not None and created < self.since

        found: list[Deployment] = []
        for env in self.plan.environments:
            for item in self.items("/deployments", {"environment": env}, stop=outside):
                if str(item.get("environment", "")).lower() != env.lower():
                    continue  # GitHub filters by environment already; stay safe if a server does not
                statuses = [parse.deployment_status(s) for s in self.items(f"/deployments/{int(item['id'])}/statuses")]
                found.append(parse.deployment(item, statuses))
        return Deployments(items=tuple(found), since=self.since)

    def _webhooks(self) -> Webhooks:
        return Webhooks(items=tuple(parse.webhook(h) for h in self.items("/hooks")))
