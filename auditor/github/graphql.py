"""The batched GraphQL collector: several repositories per query, REST only for what GraphQL lacks.

`GraphQLSource.collect_many` collects a batch of repositories in three steps:

1. REST, per repository: GET /repos/{o}/{r} (GraphQL has no `security_and_analysis`, and the
   answer tells the permissions and the default branch; skipped when the org listing's JSON,
   passed in as `listed`, already carries them) and, when file facts are wanted, the
   production branch's recursive tree (GraphQL has no recursive tree). Both are ETag-cached by the
   client, so warm runs pay nothing for them.
2. One GraphQL query for the whole batch, each repository under an alias (`r0: repository(...)`):
   branch heads, classic protection rules, commits in the window, merged pull requests with their
   reviews and check contexts, deployments with their statuses, doc and watched-path history,
   workflow and doc blob texts, the Dependabot alerts setting.
3. The REST collector's own section logic (`_RepoCollector`) runs on that data: a subclass swaps
   the REST reads that GraphQL answered for the GraphQL data, in REST's JSON shapes so that
   `parse.py` turns both into the same facts. Everything else stays REST: secrets (repo, org,
   environment), environments with their branch-policy patterns and custom protection apps, the
   effective rules and rulesets, CODEOWNERS errors, workflow permissions, webhooks.

Where GraphQL cannot tell, REST is asked rather than guessing: `branchProtectionRules` is empty
with no error for non-admins (and a free plan's private repository has none), so a branch that no
rule matches is read over REST unless the caller is an admin of a public repository; a connection
that may hold more than one page (more PRs, deployments or commits than asked for) also falls back
to REST for that section. A GraphQL error whose `path` names a repository's alias turns that
repository's GraphQL sections into gaps; other repositories of the batch are unaffected.

The batch adapts to GitHub's limits: a 502, a timeout or "something went wrong" halves it and the
same repositories are asked again; after `grow_after` answered queries in a row it grows by one,
up to `max_batch`.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from auditor.facts import (
    BranchCommits,
    BranchFacts,
    Commit,
    Deployment,
    Deployments,
    Gap,
    PullRequest,
    RepoFacts,
)
from auditor.github import parse
from auditor.github.client import GitHubClient, GraphQLServerError, Response, seg
from auditor.github.collect import (
    CODEOWNERS_LOCATIONS,
    WORKFLOW_DIR,
    RestSource,
    _RepoCollector,
    usable_listing,
)
from auditor.github.errors import CollectError
from auditor.model import ApiCost
from auditor.plan import FactPlan
from auditor.rules.base import Need

PRS_PER_BRANCH = 20  # merged PRs per branch in one query; more in the window: REST for that repo
DEPLOYMENTS_PER_ENV = 20
STATUSES_PER_DEPLOYMENT = 10
COMMITS_PER_BRANCH = 100
REVIEWS_PER_PR = 30
CONTEXTS_PER_PR = 50


class GraphQLUnavailableError(CollectError):
    """GraphQL gave no answer for a repository (its alias errored, or the batch kept failing)."""


# --------------------------------------------------------------------------------------------
# REST answers fetched before the query, served again when the section logic asks for them


class _PrimedClient(GitHubClient):
    """A GitHubClient that answers a few GETs from responses fetched earlier (once each)."""

    def __init__(self, inner: GitHubClient) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self._primed: dict[str, Response] = {}
        self._primed_lock = threading.Lock()

    @staticmethod
    def _key(path: str, params: Mapping[str, str | int] | None) -> str:
        return path + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))

    def fetch(self, path: str, params: Mapping[str, str | int] | None = None) -> Response:
        """GET through the real client and keep the answer for the next `get` of the same URL."""
        resp = self.inner.get(path, params)
        with self._primed_lock:
            self._primed[self._key(path, params)] = resp
        return resp

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Response:
        """A primed answer if there is one, else a real GET."""
        with self._primed_lock:
            primed = self._primed.pop(self._key(path, params), None)
        return primed if primed is not None else self.inner.get(path, params)

    @property
    def cost(self) -> ApiCost:
        """The real client's cost."""
        return self.inner.cost


# --------------------------------------------------------------------------------------------
# One repository's part of the query


def _lit(value: str) -> str:
    """A GraphQL string literal."""
    return json.dumps(value)


def _watched_query(blobs: Mapping[str, str], truncated: bool, glob: str) -> str | None:
    """The path the REST collector asks `commits?path=` for a watched glob (None: no request).

    Mirrors `_RepoCollector._watched`: the one matching file, else the glob's directory prefix.
    """
    matches = sorted(p for p in blobs if fnmatch.fnmatchcase(p, glob))
    if not matches and not truncated:
        return None
    if len(matches) == 1:
        return matches[0]
    parts: list[str] = []
    for part in glob.split("/"):
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    return "/".join(parts)


_COMMIT = "oid committedDate message author { name user { login } } parents { totalCount }"


@dataclass
class _Prepared:
    """What step 1 learnt about a repository, and the aliases its query part uses."""

    name: str
    repo: dict[str, Any] | None
    prod: str = "HEAD"
    default: str | None = None
    blobs: dict[str, str] | None = None
    truncated: bool = False
    paths: dict[str, str] = field(default_factory=dict)  # history path -> alias
    blob_alias: dict[str, str] = field(default_factory=dict)  # blob sha -> alias

    @property
    def admin(self) -> bool:
        return self.repo is not None and parse.viewer_permission(self.repo) == "ADMIN"


def _repo_part(alias: str, p: _Prepared, plan: FactPlan, since: str) -> str:
    """The aliased `repository` selection for one prepared repository."""
    owner, _, name = p.name.partition("/")
    out = [f"{alias}: repository(owner: {_lit(owner)}, name: {_lit(name)}) {{ viewerPermission"]
    if plan.wants(Need.SECURITY) and p.admin:
        out.append("hasVulnerabilityAlertsEnabled")
    if plan.wants(Need.PROTECTION):
        out.append(
            "branchProtectionRules(first: 100) { pageInfo { hasNextPage } nodes { pattern isAdminEnforced "
            "allowsForcePushes allowsDeletions requiresApprovingReviews requiredApprovingReviewCount "
            "requiresCodeOwnerReviews dismissesStaleReviews requireLastPushApproval requiresStatusChecks "
            "requiresStrictStatusChecks requiredStatusCheckContexts requiredStatusChecks { context } "
            "requiresCommitSignatures requiresLinearHistory lockBranch } }"
        )
    for i, branch in enumerate(plan.branches):
        history = ""
        if plan.wants(Need.COMMITS):
            history = (f"... on Commit {{ history(first: {COMMITS_PER_BRANCH}, since: {_lit(since)}) "
                       f"{{ pageInfo {{ hasNextPage }} nodes {{ {_COMMIT} }} }} }}")
        out.append(f"b{i}: ref(qualifiedName: {_lit('refs/heads/' + branch)}) {{ target {{ oid {history} }} }}")
    if plan.wants(Need.PULL_REQUESTS, Need.PR_CHECKS):
        for i, branch in enumerate(plan.branches):
            extra = ""
            if plan.wants(Need.PULL_REQUESTS):
                extra += (f" reviews(first: {REVIEWS_PER_PR}) {{ pageInfo {{ hasNextPage }} "
                          "nodes { author { login } state submittedAt commit { oid } } }")
            if plan.wants(Need.PR_CHECKS):
                extra += (f" commits(last: 1) {{ nodes {{ commit {{ oid statusCheckRollup {{ contexts(first: "
                          f"{CONTEXTS_PER_PR}) {{ pageInfo {{ hasNextPage }} nodes {{ __typename ... on CheckRun "
                          "{ name status conclusion } ... on StatusContext { context state } } } } } } }")
            out.append(
                f"p{i}: pullRequests(first: {PRS_PER_BRANCH}, baseRefName: {_lit(branch)}, "
                "states: [MERGED, CLOSED], orderBy: {field: UPDATED_AT, direction: DESC}) "
                "{ pageInfo { hasNextPage } nodes { number title "
                "author { login } headRefName baseRefName headRefOid headRepository { nameWithOwner } state "
                f"createdAt updatedAt mergedAt mergeCommit {{ oid }}{extra} }} }}"
            )
    if plan.wants(Need.DEPLOYMENTS):
        for i, env in enumerate(plan.environments):
            out.append(
                f"d{i}: deployments(first: {DEPLOYMENTS_PER_ENV}, environments: [{_lit(env)}], "
                "orderBy: {field: CREATED_AT, direction: DESC}) { pageInfo { hasNextPage } nodes { databaseId "
                "environment commitOid ref { name } createdAt creator { login } "
                f"statuses(first: {STATUSES_PER_DEPLOYMENT}) {{ pageInfo {{ hasNextPage }} "
                "nodes { state createdAt } } } }"
            )
    if p.paths:
        hist = " ".join(
            f"{a}: history(first: 1{', path: ' + _lit(path) if path else ''}) {{ nodes {{ committedDate "
            "author { name } } }"
            for path, a in p.paths.items()
        )
        prod_ref = _lit("refs/heads/" + p.prod)
        out.append(f"prod: ref(qualifiedName: {prod_ref}) {{ target {{ ... on Commit {{ {hist} }} }} }}")
    for sha, a in p.blob_alias.items():
        out.append(f"{a}: object(oid: {_lit(sha)}) {{ ... on Blob {{ text }} }}")
    out.append("}")
    return " ".join(out)


def _plan_files(p: _Prepared, plan: FactPlan) -> None:
    """Choose the history paths and blobs the query asks for, from the tree of step 1."""
    if p.blobs is None:
        return
    wanted_paths: list[str] = []
    blobs: list[str] = []
    if plan.wants(Need.DOCS):
        for path in plan.doc_paths:
            sha = p.blobs.get(path)
            if sha:
                wanted_paths.append(path)
                if path.lower().endswith((".md", ".markdown")):
                    blobs.append(sha)
        for glob in plan.watched_globs:
            query = _watched_query(p.blobs, p.truncated, glob)
            if query is not None:
                wanted_paths.append(query)
    if plan.wants(Need.WORKFLOWS) and not p.truncated:
        blobs += [sha for path, sha in sorted(p.blobs.items())
                  if posixpath.dirname(path) == WORKFLOW_DIR and path.endswith((".yml", ".yaml"))]
    p.paths = {path: f"h{i}" for i, path in enumerate(dict.fromkeys(wanted_paths))}
    p.blob_alias = {sha: f"f{i}" for i, sha in enumerate(dict.fromkeys(s for s in blobs if s))}


# --------------------------------------------------------------------------------------------
# GraphQL JSON -> REST JSON (so parse.py makes the facts)


def _login(node: Any) -> dict[str, Any] | None:
    return {"login": node["login"]} if isinstance(node, Mapping) and node.get("login") else None


def _rest_commit(node: Mapping[str, Any]) -> dict[str, Any]:
    author = node.get("author") or {}
    return {
        "sha": node.get("oid"),
        "commit": {"message": node.get("message") or "", "committer": {"date": node.get("committedDate")},
                   "author": {"name": author.get("name")}},
        "author": _login(author.get("user")),
        "parents": [{}] * int((node.get("parents") or {}).get("totalCount") or 0),
    }


def _rest_pull(node: Mapping[str, Any]) -> dict[str, Any]:
    head_repo = node.get("headRepository")
    return {
        "number": node.get("number"),
        "title": node.get("title"),
        "user": _login(node.get("author")),
        "head": {"ref": node.get("headRefName"), "sha": node.get("headRefOid"),
                 "repo": {"full_name": head_repo["nameWithOwner"]} if isinstance(head_repo, Mapping) else None},
        "base": {"ref": node.get("baseRefName")},
        "state": "open" if node.get("state") == "OPEN" else "closed",
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "merged_at": node.get("mergedAt"),
        "merge_commit_sha": (node.get("mergeCommit") or {}).get("oid"),
    }


def _rest_protection(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        key: {"enabled": bool(rule.get(field_))}
        for key, field_ in (("enforce_admins", "isAdminEnforced"), ("allow_force_pushes", "allowsForcePushes"),
                            ("allow_deletions", "allowsDeletions"), ("required_signatures", "requiresCommitSignatures"),
                            ("required_linear_history", "requiresLinearHistory"), ("lock_branch", "lockBranch"))
    }
    if rule.get("requiresApprovingReviews"):
        out["required_pull_request_reviews"] = {
            "required_approving_review_count": rule.get("requiredApprovingReviewCount") or 0,
            "require_code_owner_reviews": bool(rule.get("requiresCodeOwnerReviews")),
            "dismiss_stale_reviews": bool(rule.get("dismissesStaleReviews")),
            "require_last_push_approval": bool(rule.get("requireLastPushApproval")),
        }
    if rule.get("requiresStatusChecks"):
        out["required_status_checks"] = {
            "strict": bool(rule.get("requiresStrictStatusChecks")),
            "checks": [{"context": c.get("context")} for c in rule.get("requiredStatusChecks") or []],
            "contexts": list(rule.get("requiredStatusCheckContexts") or []),
        }
    return out


def _matching_rule(rules: Sequence[Mapping[str, Any]], branch: str) -> Mapping[str, Any] | None:
    """The protection rule GitHub applies to `branch`: an exact pattern first, else a wildcard match."""
    exact = [r for r in rules if r.get("pattern") == branch]
    if exact:
        return exact[0]
    return next((r for r in rules if fnmatch.fnmatchcase(branch, str(r.get("pattern") or ""))), None)


def _more(conn: Any) -> bool:
    return bool(isinstance(conn, Mapping) and (conn.get("pageInfo") or {}).get("hasNextPage"))


# --------------------------------------------------------------------------------------------
# One repository's sections on GraphQL data


class _GraphQLRepoCollector(_RepoCollector):
    """The REST collector's section logic with the reads GraphQL answered swapped in."""

    def __init__(self, source: RestSource, prepared: _Prepared, plan: FactPlan, now: datetime,
                 data: Mapping[str, Any] | None, gap: Gap | None) -> None:
        super().__init__(source, prepared.name, plan, now)
        self.prepared = prepared
        self.data = data
        self.gql_gap = gap

    def run(self) -> RepoFacts:
        """The REST run, labelled as GraphQL."""
        return replace(super().run(), source="graphql")

    def _gql(self) -> Mapping[str, Any]:
        if self.data is None:
            raise GraphQLUnavailableError((self.gql_gap or Gap("GraphQL gave no answer")).reason)
        return self.data

    # -- branches ---------------------------------------------------------------------------

    def _ref(self, name: str) -> Mapping[str, Any] | None:
        index = self.plan.branches.index(name)
        ref = self._gql().get(f"b{index}")
        return ref if isinstance(ref, Mapping) else None

    def _branch_head(self, facts: BranchFacts) -> BranchFacts:
        if facts.name not in self.plan.branches:
            return super()._branch_head(facts)
        if f"b{self.plan.branches.index(facts.name)}" not in self._gql():
            # A field error removed the ref from the answer (`_without_failed`): that says nothing
            # about the branch, so REST tells. Only a ref answered as null means "no such branch".
            return super()._branch_head(facts)
        ref = self._ref(facts.name)
        if ref is None:
            return replace(facts, exists=False)
        return replace(facts, exists=True, head_sha=(ref.get("target") or {}).get("oid"))

    def _classic(self, state: Any, facts: BranchFacts) -> BranchFacts:
        conn = self._gql().get("branchProtectionRules")
        rules = (conn or {}).get("nodes") if isinstance(conn, Mapping) else None
        # Non-admins get an empty list with no error; a private repository may be on a plan without
        # classic protection (REST says so, GraphQL is silent): ask REST in both cases.
        if not isinstance(rules, list) or _more(conn) or not self.prepared.admin:
            return super()._classic(state, facts)
        rule = _matching_rule(rules, facts.name)
        if rule is not None:
            return replace(facts, classic=parse.classic_protection(_rest_protection(rule)))
        if (self.prepared.repo or {}).get("private"):
            return super()._classic(state, facts)
        return replace(facts, classic=None, classic_gap=None)

    # -- commits ----------------------------------------------------------------------------

    def _commits(self, state: Any, branch: str, default: str | None) -> BranchCommits:
        ref = self._ref(branch) if self.data is not None and branch in self.plan.branches else None
        history = ((ref or {}).get("target") or {}).get("history") if ref is not None else None
        if not isinstance(history, Mapping) or _more(history):
            return super()._commits(state, branch, default)

        def fetch() -> BranchCommits:
            known: dict[str, int] = {}
            if self.wants(Need.PULL_REQUESTS, Need.PR_CHECKS):
                for pr in self._merged_prs(state):
                    if pr.base_ref == branch:
                        if pr.merge_commit_sha:
                            known[pr.merge_commit_sha] = pr.number
                        known.setdefault(pr.head_sha, pr.number)
            items: list[Commit] = []
            for node in history.get("nodes") or []:
                sha = str(node.get("oid") or "")
                items.append(parse.commit(_rest_commit(node), self._association(sha, branch, default, known)))
            return BranchCommits(branch=branch, items=tuple(items), since=self.since)

        return self.guarded(f"the commits of {branch}", "Contents: read",
                            lambda g: BranchCommits(branch=branch, since=self.since, gap=g), fetch)

    # -- pull requests ----------------------------------------------------------------------

    def _pr_nodes(self) -> dict[int, Mapping[str, Any]] | None:
        """Merged PR nodes by number, or None when a branch's list may hold more than one page."""
        found: dict[int, Mapping[str, Any]] = {}
        for i in range(len(self.plan.branches)):
            conn = self._gql().get(f"p{i}")
            if not isinstance(conn, Mapping):
                return None
            nodes = [n for n in conn.get("nodes") or [] if isinstance(n, Mapping)]
            last = parse.ts(nodes[-1].get("updatedAt")) if nodes else None
            if conn.get("pageInfo", {}).get("hasNextPage") and (last is None or last >= self.since):
                return None
            for node in nodes:
                found[int(node.get("number") or 0)] = node
        return found

    def _merged_prs(self, state: Any) -> list[PullRequest]:
        if state.merged_prs is not None:
            return list(state.merged_prs)
        nodes = self._pr_nodes() if self.data is not None else None
        if nodes is None:
            return super()._merged_prs(state)
        self._nodes = nodes
        found: list[PullRequest] = []
        for i in range(len(self.plan.branches)):
            for node in self._gql().get(f"p{i}", {}).get("nodes") or []:
                updated = parse.ts(node.get("updatedAt"))
                if updated is not None and updated < self.since:
                    break  # REST walks the same order and stops here
                pr = parse.pull_request(_rest_pull(node))
                if pr.merged_at is not None and pr.merged_at >= self.since:
                    found.append(pr)
        state.merged_prs = found
        return found

    def _node(self, number: int) -> Mapping[str, Any] | None:
        return getattr(self, "_nodes", {}).get(number)

    def _with_reviews(self, pr: PullRequest) -> PullRequest:
        node = self._node(pr.number)
        conn = node.get("reviews") if node is not None else None
        if not isinstance(conn, Mapping) or _more(conn):
            return super()._with_reviews(pr)
        reviews = tuple(
            parse.review({"user": _login(r.get("author")), "state": r.get("state"),
                          "submitted_at": r.get("submittedAt"), "commit_id": (r.get("commit") or {}).get("oid")})
            for r in conn.get("nodes") or []
        )
        return replace(pr, reviews=reviews)

    def _with_checks(self, pr: PullRequest) -> PullRequest:
        node = self._node(pr.number)
        commits = ((node or {}).get("commits") or {}).get("nodes") or []
        commit = commits[0].get("commit") if commits and isinstance(commits[0], Mapping) else None
        if not isinstance(commit, Mapping) or commit.get("oid") != pr.head_sha:
            return super()._with_checks(pr)
        rollup = commit.get("statusCheckRollup")
        conn = rollup.get("contexts") if isinstance(rollup, Mapping) else {"nodes": []}
        if not isinstance(conn, Mapping) or _more(conn):
            return super()._with_checks(pr)
        nodes = [n for n in conn.get("nodes") or [] if isinstance(n, Mapping)]
        runs = [parse.check_run({"name": n.get("name"), "status": str(n.get("status") or "").lower(),
                                 "conclusion": str(n["conclusion"]).lower() if n.get("conclusion") else None})
                for n in nodes if n.get("__typename") == "CheckRun"]
        statuses = [parse.commit_status({"context": n.get("context"), "state": str(n.get("state") or "").lower()})
                    for n in nodes if n.get("__typename") == "StatusContext"]
        return replace(pr, checks=tuple(runs + statuses))

    # -- deployments ------------------------------------------------------------------------

    def _deployments(self) -> Deployments:
        conns = [c for c in (self._gql().get(f"d{i}") for i in range(len(self.plan.environments)))
                 if isinstance(c, Mapping)]
        if len(conns) != len(self.plan.environments):
            return super()._deployments()
        found: list[Deployment] = []
        for env, conn in zip(self.plan.environments, conns, strict=True):
            nodes = [n for n in conn.get("nodes") or [] if isinstance(n, Mapping)]
            last = parse.ts(nodes[-1].get("createdAt")) if nodes else None
            if _more(conn) and (last is None or last >= self.since):
                return super()._deployments()
            for node in nodes:
                created = parse.ts(node.get("createdAt"))
                if created is not None and created < self.since:
                    break
                if str(node.get("environment", "")).lower() != env.lower():
                    continue
                statuses_conn = node.get("statuses") or {}
                if _more(statuses_conn):
                    return super()._deployments()
                statuses = [parse.deployment_status({"state": str(s.get("state") or "").lower(),
                                                     "created_at": s.get("createdAt")})
                            for s in statuses_conn.get("nodes") or []]
                data = {"id": node.get("databaseId"), "environment": node.get("environment"),
                        "sha": node.get("commitOid"),
                        "ref": (node.get("ref") or {}).get("name") or node.get("commitOid"),
                        "created_at": node.get("createdAt"), "creator": _login(node.get("creator"))}
                found.append(parse.deployment(data, statuses))
        return Deployments(items=tuple(found), since=self.since)

    # -- files ------------------------------------------------------------------------------

    def _blob_text(self, sha: str) -> str:
        alias = self.prepared.blob_alias.get(sha)
        node = self.data.get(alias) if self.data is not None and alias else None
        if isinstance(node, Mapping) and isinstance(node.get("text"), str):
            return str(node["text"])
        return super()._blob_text(sha)

    def _history_node(self, path: str) -> tuple[bool, Mapping[str, Any] | None]:
        """(answered, newest commit touching `path`) from the query's `prod` histories."""
        alias = self.prepared.paths.get(path)
        prod = self.data.get("prod") if self.data is not None else None
        conn = ((prod or {}).get("target") or {}).get(alias) if isinstance(prod, Mapping) and alias else None
        if not isinstance(conn, Mapping):
            return False, None
        nodes = conn.get("nodes") or []
        return True, nodes[0] if nodes else None

    def _last_change(self, state: Any, path: str) -> datetime | None:
        answered, node = self._history_node(path)
        if not answered or state.prod_branch != self.prepared.prod:
            return super()._last_change(state, path)
        return parse.ts(node.get("committedDate")) if node else None

    def _watched(self, state: Any, tree: Any, glob: str) -> Any:
        query = _watched_query(tree.blobs or {}, tree.truncated, glob)
        if query is None:
            return super()._watched(state, tree, glob)
        answered, node = self._history_node(query)
        if not answered or state.prod_branch != self.prepared.prod:
            return super()._watched(state, tree, glob)
        from auditor.facts import PathChange

        if node is None:
            return PathChange(glob=glob)
        return PathChange(glob=glob, last_changed_at=parse.ts(node.get("committedDate")), path=query or None)

    # -- security ---------------------------------------------------------------------------

    def _dependabot(self, state: Any, gaps: dict[str, Gap]) -> bool | None:
        value = self.data.get("hasVulnerabilityAlertsEnabled") if self.data is not None else None
        if isinstance(value, bool) and parse.viewer_permission(state.repo) == "ADMIN":
            return value
        return super()._dependabot(state, gaps)


# --------------------------------------------------------------------------------------------
# The source


class GraphQLSource:
    """Collects RepoFacts for batches of repositories with one GraphQL query per batch.

    `next_batch(name)` (optional) names the repositories to collect together with `name` when
    `collect` is called one repository at a time (the CLI's worker threads); their facts are kept
    until asked for.
    """

    def __init__(self, client: GitHubClient, *, batch_size: int = 10, max_batch: int = 25, grow_after: int = 3,
                 max_pr_lookups: int = 100, next_batch: Callable[[str], Sequence[str]] | None = None,
                 listed: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.client = client
        self.primed = _PrimedClient(client)
        self.rest = RestSource(self.primed, max_pr_lookups=max_pr_lookups, listed=listed)
        self.batch_size = max(1, batch_size)
        self.max_batch = max(self.batch_size, max_batch)
        self.grow_after = grow_after
        self.next_batch = next_batch
        self.shrinks = 0
        self._streak = 0
        self._ready: dict[str, RepoFacts] = {}

    @property
    def cost(self) -> ApiCost:
        """The client's cost (REST units and GraphQL points)."""
        return self.client.cost

    def collect(self, full_name: str, plan: FactPlan, now: datetime) -> RepoFacts:
        """Facts for `full_name`, batched with `next_batch(full_name)` when that is given."""
        ready = self._ready.pop(full_name, None)
        if ready is not None:
            return ready
        names = list(dict.fromkeys([full_name, *(self.next_batch(full_name) if self.next_batch else ())]))
        for facts in self.collect_many(names, plan, now):
            self._ready[facts.repo] = facts
        return self._ready.pop(full_name)

    def collect_many(self, names: Sequence[str], plan: FactPlan, now: datetime) -> list[RepoFacts]:
        """Facts for every name, in order, one GraphQL query per batch (see the module docstring)."""
        out: list[RepoFacts] = []
        todo = list(names)
        while todo:
            batch, todo = todo[: self.batch_size], todo[self.batch_size :]
            out.extend(self._batch(batch, plan, now))
        return out

    # ----------------------------------------------------------------------------------------

    def _prepare(self, name: str, plan: FactPlan) -> _Prepared:
        owner, _, repo_name = name.partition("/")
        base = f"/repos/{seg(owner)}/{seg(repo_name)}"
        repo = usable_listing(self.rest.listed.get(name))
        if repo is None:
            try:
                resp = self.primed.fetch(base)
            except CollectError:
                return _Prepared(name=name, repo=None)  # the section logic asks again and records the gap
            if not resp.ok:
                return _Prepared(name=name, repo=None)
            repo = resp.json()
        default = str(repo.get("default_branch") or "") or None
        prod = plan.production_branch or (plan.branches[0] if plan.branches else None) or default or "HEAD"
        p = _Prepared(name=name, repo=repo, prod=prod, default=default)
        if plan.wants(Need.CODEOWNERS, Need.WORKFLOWS, Need.DOCS):
            tree = self.primed.fetch(f"{base}/git/trees/{seg(prod)}", {"recursive": "1"})
            if tree.ok:
                data = tree.json()
                p.blobs = {str(e["path"]): str(e.get("sha", "")) for e in data.get("tree") or []
                           if e.get("type") == "blob"}
                p.truncated = bool(data.get("truncated"))
        _plan_files(p, plan)
        return p

    def _query(self, prepared: Sequence[_Prepared], plan: FactPlan, now: datetime) -> str:
        since = (now - _days(plan.window_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [_repo_part(f"r{i}", p, plan, since) for i, p in enumerate(prepared) if p.repo is not None]
        return "query { rateLimit { cost remaining resetAt } " + " ".join(parts) + " }"

    def _batch(self, names: Sequence[str], plan: FactPlan, now: datetime) -> list[RepoFacts]:
        if not plan.needs:
            return [RepoFacts(repo=n, collected_at=now, source="graphql") for n in names]
        prepared = [self._prepare(n, plan) for n in names]
        answers, gaps = self._ask(prepared, plan, now)
        facts = []
        for i, p in enumerate(prepared):
            if i not in answers and i not in gaps:
                # No GraphQL answer and no reason to give (the repository itself is unreadable, or a
                # field error nulled it): the REST collector gives exactly REST's facts and gaps.
                rest_facts = _RepoCollector(self.rest, p.name, plan, now).run()
                facts.append(replace(rest_facts, source="graphql"))
                continue
            collector = _GraphQLRepoCollector(self.rest, p, plan, now, answers.get(i), gaps.get(i))
            facts.append(collector.run())
        return facts

    def _ask(self, prepared: Sequence[_Prepared], plan: FactPlan, now: datetime) -> tuple[
            dict[int, Mapping[str, Any]], dict[int, Gap]]:
        """The query's answer per repository index, shrinking the batch on server failures."""
        answers: dict[int, Mapping[str, Any]] = {}
        gaps: dict[int, Gap] = {}
        indexed = [(i, p) for i, p in enumerate(prepared) if p.repo is not None]
        size = max(1, min(self.batch_size, len(indexed) or 1))
        while indexed:
            chunk, rest = indexed[:size], indexed[size:]
            try:
                data, errors, _ = self.client.graphql(self._query([p for _, p in chunk], plan, now))
            except GraphQLServerError as exc:
                self._streak = 0
                if size > 1:
                    size = max(1, size // 2)
                    self.batch_size = size
                    self.shrinks += 1
                    continue
                for i, p in chunk:
                    gaps[i] = Gap(f"GitHub's GraphQL API failed on repository {p.name}: {exc}",
                                  http_status=exc.status or None)
                indexed = rest
                continue
            self._streak += 1
            if self._streak >= self.grow_after and self.batch_size < self.max_batch:
                self.batch_size += 1
                self._streak = 0
            failed = {str(e["path"][0]): e for e in errors
                      if isinstance(e, Mapping) and isinstance(e.get("path"), list) and e["path"]}
            for j, (i, p) in enumerate(chunk):
                alias = f"r{j}"
                node = (data or {}).get(alias)
                if alias in failed and failed[alias].get("path") != [alias] and not isinstance(node, Mapping):
                    continue  # a field error nulled the whole repository: REST collects it (see _batch)
                if alias in failed and not isinstance(node, Mapping):
                    err = failed[alias]
                    gaps[i] = Gap(f"GitHub's GraphQL API would not show repository {p.name}: "
                                  f"{err.get('message') or err.get('type') or 'error'}")
                elif isinstance(node, Mapping):
                    answers[i] = _without_failed(node, [e for e in errors if isinstance(e, Mapping)], alias)
                else:
                    gaps[i] = Gap(f"GitHub's GraphQL API gave no answer for repository {p.name}")
            indexed = rest
        return answers, gaps


def _without_failed(node: Mapping[str, Any], errors: Sequence[Mapping[str, Any]], alias: str) -> Mapping[str, Any]:
    """The repository's answer minus the top-level fields an error names (REST answers for those)."""
    bad = {str(e["path"][1]) for e in errors
           if isinstance(e.get("path"), list) and len(e["path"]) > 1 and e["path"][0] == alias}
    return {k: v for k, v in node.items() if k not in bad}


def _days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


__all__ = ["CODEOWNERS_LOCATIONS", "GraphQLSource", "GraphQLUnavailableError"]
