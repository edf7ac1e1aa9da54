"""POST /graphql for the sandbox: GitHub's schema, executed with graphql-core over the world's State.

The resolvers answer from the sandbox's own REST handlers (`api.Api`), so both APIs see one world
with one set of access rules, and a REST and a GraphQL collector must agree on every fact. Where
GitHub's GraphQL API behaves differently from REST, the sandbox does too:

* `branchProtectionRules` is silently empty for callers below admin (no error, no 404);
* a repository the caller cannot see is `null` with a NOT_FOUND error whose `path` names the alias;
* every query costs points computed as GitHub documents ("Rate limits and node limits for the
  GraphQL API"): each connection adds one request per node its parents may return, the sum is
  divided by 100, and a query costs at least 1 point. The cost is charged to a separate
  "graphql" budget, reported in `rateLimit { cost ... }` and in the `x-ratelimit-*` headers.

Only the fields the auditor's GraphQL collector uses have resolvers; others resolve to null.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_ast_schema,
    execute,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from .api import Api, Request, Response
from .state import State, Token, role_at_least

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
Resolver = Callable[..., Any]
Json = dict[str, Any]


@functools.cache
def schema() -> GraphQLSchema:
    """GitHub's public schema, parsed once.

    The published SDL repeats a few fields and deprecates some interface implementations
    inconsistently, which graphql-core's strict validation rejects; GitHub serves it all the same,
    so validation of the schema itself is skipped (queries are still validated against it).
    """
    built = build_ast_schema(parse(SCHEMA_PATH.read_text(encoding="utf-8")), assume_valid_sdl=True)
    built._validation_errors = []
    return built


# --------------------------------------------------------------------------------------------
# Cost


def query_cost(document: Any, variables: Mapping[str, Any], sch: GraphQLSchema | None = None) -> tuple[int, int]:
    """(points, node limit) of a parsed query, after GitHub's documented calculation.

    Every connection field (`first`/`last`) adds as many requests as its enclosing connections
    can return nodes together; points = max(1, round(requests / 100)); nodes = the sum of the
    products of the connection sizes.
    """
    sch = sch or schema()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    totals = [0, 0]

    def size(node: FieldNode) -> int | None:
        for arg in node.arguments or ():
            if arg.name.value in ("first", "last"):
                value = value_from_ast_untyped(arg.value, dict(variables))
                return int(value) if isinstance(value, int) else 100
        return None

    def walk(selections: SelectionSetNode | None, parent: Any, multiplier: int) -> None:
        for sel in selections.selections if selections else ():
            if isinstance(sel, FieldNode):
                field_def = parent.fields.get(sel.name.value) if isinstance(parent, GraphQLObjectType) or hasattr(
                    parent, "fields") else None
                child = get_named_type(field_def.type) if field_def is not None else None
                inner = multiplier
                n = size(sel)
                if n is not None and child is not None and child.name.endswith("Connection"):
                    totals[0] += multiplier
                    inner = multiplier * n
                    totals[1] += inner
                walk(sel.selection_set, child, inner)
            elif isinstance(sel, InlineFragmentNode):
                cond = sch.get_type(sel.type_condition.name.value) if sel.type_condition else parent
                walk(sel.selection_set, cond, multiplier)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
                frag = fragments[sel.name.value]
                walk(frag.selection_set, sch.get_type(frag.type_condition.name.value), multiplier)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            walk(definition.selection_set, sch.query_type, 1)
    return max(1, round(totals[0] / 100)), totals[1]


# --------------------------------------------------------------------------------------------
# Resolvers


def _iso(value: Any) -> Any:
    return value


class _Rest:
    """GET the sandbox's own REST answers as the GraphQL caller."""

    def __init__(self, state: State, token: Token | None, base: str) -> None:
        self.api = Api(state)
        self.token = token
        self.base = base

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Response:
        return self.api.handle(Request("GET", path, dict(query or {}), None, self.token, self.base))

    def items(self, path: str, query: Mapping[str, str] | None = None, key: str | None = None,
              limit: int = 1000) -> list[Any]:
        """Every item of a list endpoint (all pages), up to `limit`; [] when it answers an error."""
        out: list[Any] = []
        page = 1
        while len(out) < limit:
            resp = self.get(path, {**(query or {}), "per_page": "100", "page": str(page)})
            if resp.status != 200:
                return out
            body = resp.body
            batch = body.get(key, []) if key and isinstance(body, dict) else body
            out.extend(batch or [])
            if resp.pages is None or resp.pages[0] >= resp.pages[1]:
                break
            page += 1
        return out[:limit]


def _nodes(items: list[Any]) -> Json:
    return {"nodes": items, "totalCount": len(items), "pageInfo": {"hasNextPage": False, "endCursor": None}}


def _count(args: Mapping[str, Any], default: int = 100) -> int:
    value = args.get("first") or args.get("last")
    return int(value) if isinstance(value, int) else default


def _actor(login: Any) -> Json | None:
    return {"__typename": "User", "login": login} if login else None


class _Resolvers:
    def __init__(self, rest: _Rest) -> None:
        self.rest = rest

    # -- repository -------------------------------------------------------------------------

    def repository(self, info: Any, owner: str, name: str, **_: Any) -> Json:
        resp = self.rest.get(f"/repos/{owner}/{name}")
        if resp.status != 200:
            raise GraphQLError(f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                               extensions={"type": "NOT_FOUND"})
        data: Json = resp.body
        full = str(data["full_name"])
        repo = self.rest.api.state.repos[full]
        role = self.rest.api.role(Request("GET", "", {}, None, self.rest.token, self.rest.base), repo)
        base = f"/repos/{full}"
        perm = {"admin": "ADMIN", "maintain": "MAINTAIN", "write": "WRITE", "triage": "TRIAGE", "read": "READ"}

        def ref(info: Any, qualifiedName: str) -> Json | None:  # noqa: N803 - GitHub's argument name
            branch = qualifiedName.removeprefix("refs/heads/")
            got = self.rest.get(f"{base}/branches/{branch}")
            if got.status != 200:
                return None
            return {"__typename": "Ref", "name": branch, "prefix": "refs/heads/",
                    "target": self.commit(base, str(got.body["commit"]["sha"]))}

        def protection_rules(info: Any, **args: Any) -> Json:
            if not role_at_least(role, "admin"):
                return _nodes([])  # GitHub: empty for non-admins, and no error
            rules = []
            for branch in sorted(repo.protection):
                got = self.rest.get(f"{base}/branches/{branch}/protection")
                if got.status == 200:
                    rules.append(_protection_rule(branch, got.body))
                elif got.status == 403 and "upgrade" not in str((got.body or {}).get("message", "")).lower():
                    raise GraphQLError(str((got.body or {}).get("message") or "Forbidden"),
                                       extensions={"type": "FORBIDDEN"})
            return _nodes(rules[: _count(args)])

        def vulnerability_alerts(info: Any) -> bool:
            got = self.rest.get(f"{base}/vulnerability-alerts")
            if got.status == 403:
                raise GraphQLError(str((got.body or {}).get("message") or "Forbidden"),
                                   extensions={"type": "FORBIDDEN"})
            return got.status == 204

        def pull_requests(info: Any, **args: Any) -> Json:
            states = set(args.get("states") or ["OPEN", "CLOSED", "MERGED"])
            query = {"state": "all" if "OPEN" in states else "closed", "sort": "updated", "direction": "desc"}
            if args.get("baseRefName"):
                query["base"] = str(args["baseRefName"])
            listed = [p for p in self.rest.items(f"{base}/pulls", query)
                      if ("MERGED" if p.get("merged_at") else str(p.get("state")).upper()) in states]
            return _nodes([self.pull(base, p) for p in listed[: _count(args)]])

        def deployments(info: Any, **args: Any) -> Json:
            out: list[Json] = []
            for env in args.get("environments") or [None]:
                query = {"environment": env} if env else {}
                out.extend(self.deployment(base, d) for d in self.rest.items(f"{base}/deployments", query))
            out.sort(key=lambda d: str(d["createdAt"]), reverse=True)
            return _nodes(out[: _count(args)])

        def obj(info: Any, oid: str | None = None, expression: str | None = None) -> Json | None:
            if oid is None:
                return None
            got = self.rest.get(f"{base}/git/blobs/{oid}")
            if got.status != 200:
                return None
            from auditor.github.parse import blob_text

            return {"__typename": "Blob", "oid": oid, "text": blob_text(got.body), "byteSize": got.body.get("size")}

        return {
            "__typename": "Repository",
            "nameWithOwner": full,
            "name": data["name"],
            "visibility": str(data.get("visibility") or "public").upper(),
            "isArchived": bool(data.get("archived")),
            "isFork": bool(data.get("fork")),
            "isPrivate": bool(data.get("private")),
            "viewerPermission": perm.get(role),
            "defaultBranchRef": lambda info: ref(info, str(data.get("default_branch"))),
            "ref": ref,
            "branchProtectionRules": protection_rules,
            "hasVulnerabilityAlertsEnabled": vulnerability_alerts,
            "pullRequests": pull_requests,
            "deployments": deployments,
            "object": obj,
        }

    # -- git ----------------------------------------------------------------------------------

    def commit(self, base: str, sha: str, data: Json | None = None) -> Json:
        """A Commit node; the REST commit JSON is read only when a field needs it."""
        cache: dict[str, Any] = {"data": data}

        def rest_commit() -> Json:
            if cache["data"] is None:
                got = self.rest.get(f"{base}/commits/{sha}")
                cache["data"] = got.body if got.status == 200 else {}
            return dict(cache["data"])

        def history(info: Any, **args: Any) -> Json:
            query = {"sha": sha}
            if args.get("since"):
                query["since"] = str(args["since"])
            if args.get("path"):
                query["path"] = str(args["path"])
            n = _count(args)
            listed = self.rest.items(f"{base}/commits", query, limit=n + 1)
            page = _nodes([self.commit(base, str(c["sha"]), c) for c in listed[:n]])
            page["pageInfo"]["hasNextPage"] = len(listed) > n
            return page

        def associated(info: Any, **args: Any) -> Json:
            listed = self.rest.items(f"{base}/commits/{sha}/pulls")
            return _nodes([self.pull(base, p) for p in listed[: _count(args)]])

        def author(info: Any) -> Json:
            c = rest_commit()
            return {"name": (c.get("commit") or {}).get("author", {}).get("name"),
                    "user": _actor((c.get("author") or {}).get("login"))}

        def committed_date(info: Any) -> Any:
            c = rest_commit().get("commit") or {}
            return (c.get("committer") or c.get("author") or {}).get("date")

        def check_suites(info: Any, **args: Any) -> Json:
            runs = self.rest.items(f"{base}/commits/{sha}/check-runs", key="check_runs")
            suites: dict[str, list[Json]] = {}
            for run in runs:
                app = str((run.get("app") or {}).get("slug") or "")
                suites.setdefault(app, []).append({
                    "name": run.get("name"), "status": str(run.get("status") or "completed").upper(),
                    "conclusion": str(run["conclusion"]).upper() if run.get("conclusion") else None})
            return _nodes([{"app": {"slug": app}, "checkRuns": lambda info, _r=r, **a: _nodes(_r[: _count(a)])}
                           for app, r in suites.items()][: _count(args)])

        def status(info: Any) -> Json | None:
            got = self.rest.get(f"{base}/commits/{sha}/status", {"per_page": "100"})
            contexts = (got.body or {}).get("statuses") if got.status == 200 else None
            if not contexts:
                return None
            return {"contexts": [{"context": s.get("context"), "state": str(s.get("state") or "pending").upper()}
                                 for s in contexts]}

        def rollup(info: Any) -> Json | None:
            runs = self.rest.items(f"{base}/commits/{sha}/check-runs", key="check_runs")
            got = self.rest.get(f"{base}/commits/{sha}/status", {"per_page": "100"})
            statuses = (got.body or {}).get("statuses") or [] if got.status == 200 else []
            if not runs and not statuses:
                return None
            nodes = [{"__typename": "CheckRun", "name": r.get("name"),
                      "status": str(r.get("status") or "completed").upper(),
                      "conclusion": str(r["conclusion"]).upper() if r.get("conclusion") else None} for r in runs]
            nodes += [{"__typename": "StatusContext", "context": s.get("context"),
                       "state": str(s.get("state") or "pending").upper()} for s in statuses]
            return {"contexts": lambda info, **a: _nodes(nodes[: _count(a)])}

        return {
            "__typename": "Commit",
            "oid": sha,
            "statusCheckRollup": rollup,
            "message": lambda info: (rest_commit().get("commit") or {}).get("message"),
            "committedDate": committed_date,
            "author": author,
            "parents": lambda info, **a: {"totalCount": len(rest_commit().get("parents") or [])},
            "history": history,
            "associatedPullRequests": associated,
            "checkSuites": check_suites,
            "status": status,
        }

    # -- pull requests and deployments --------------------------------------------------------

    def pull(self, base: str, p: Json) -> Json:
        head, pbase = p.get("head") or {}, p.get("base") or {}
        number = int(p["number"])

        def reviews(info: Any, **args: Any) -> Json:
            listed = self.rest.items(f"{base}/pulls/{number}/reviews")
            return _nodes([{"author": _actor((r.get("user") or {}).get("login")), "state": r.get("state"),
                            "submittedAt": r.get("submitted_at"),
                            "commit": {"oid": r["commit_id"]} if r.get("commit_id") else None}
                           for r in listed[: _count(args)]])

        state = "MERGED" if p.get("merged_at") else str(p.get("state") or "closed").upper()
        head_repo = head.get("repo")
        return {
            "__typename": "PullRequest",
            "number": number,
            "title": p.get("title"),
            "author": _actor((p.get("user") or {}).get("login")),
            "headRefName": head.get("ref"),
            "baseRefName": pbase.get("ref"),
            "headRefOid": head.get("sha"),
            "headRepository": {"nameWithOwner": head_repo.get("full_name")} if isinstance(head_repo, dict) else None,
            "state": state,
            "createdAt": p.get("created_at"),
            "updatedAt": p.get("updated_at"),
            "mergedAt": p.get("merged_at"),
            "mergeCommit": {"oid": p["merge_commit_sha"]} if p.get("merge_commit_sha") else None,
            "reviews": reviews,
            "commits": lambda info, **a: _nodes([{"commit": self.commit(base, str(head.get("sha")))}]),
        }

    def deployment(self, base: str, d: Json) -> Json:
        def statuses(info: Any, **args: Any) -> Json:
            listed = self.rest.items(f"{base}/deployments/{d['id']}/statuses")
            return _nodes([{"state": str(s.get("state") or "").upper(), "createdAt": s.get("created_at")}
                           for s in listed[: _count(args)]])

        ref = d.get("ref")
        return {
            "__typename": "Deployment",
            "databaseId": d.get("id"),
            "environment": d.get("environment"),
            "commitOid": d.get("sha"),
            "task": d.get("task"),
            "ref": {"name": ref, "prefix": "refs/heads/"} if ref and ref != d.get("sha") else None,
            "createdAt": d.get("created_at"),
            "creator": _actor((d.get("creator") or {}).get("login")),
            "statuses": statuses,
        }


def _protection_rule(branch: str, data: Json) -> Json:
    """GET .../branches/{b}/protection (REST) -> a BranchProtectionRule node for that pattern."""
    reviews = data.get("required_pull_request_reviews")
    checks = data.get("required_status_checks")

    def on(key: str) -> bool:
        block = data.get(key)
        return bool(block.get("enabled")) if isinstance(block, dict) else bool(block)

    contexts = list((checks or {}).get("contexts") or [])
    return {
        "pattern": branch,
        "isAdminEnforced": on("enforce_admins"),
        "allowsForcePushes": on("allow_force_pushes"),
        "allowsDeletions": on("allow_deletions"),
        "requiresApprovingReviews": isinstance(reviews, dict),
        "requiredApprovingReviewCount": (reviews or {}).get("required_approving_review_count"),
        "requiresCodeOwnerReviews": bool((reviews or {}).get("require_code_owner_reviews")),
        "dismissesStaleReviews": bool((reviews or {}).get("dismiss_stale_reviews")),
        "requireLastPushApproval": bool((reviews or {}).get("require_last_push_approval")),
        "requiresStatusChecks": isinstance(checks, dict),
        "requiresStrictStatusChecks": bool((checks or {}).get("strict")),
        "requiredStatusCheckContexts": contexts,
        "requiredStatusChecks": [{"context": c.get("context")} for c in (checks or {}).get("checks") or []],
        "requiresCommitSignatures": on("required_signatures"),
        "requiresLinearHistory": on("required_linear_history"),
        "lockBranch": on("lock_branch"),
    }


# --------------------------------------------------------------------------------------------
# The endpoint


def answer(state: State, token: Token | None, base: str, raw: bytes, budget: tuple[int, int, int]) -> tuple[
        Response, int]:
    """Answer POST /graphql; returns the response and the points it costs.

    `budget` is (limit, used, reset) of the caller's GraphQL budget before this query.
    """
    headers = {"X-RateLimit-Resource": "graphql"}
    if token is None:
        return Response(401, {"message": "This endpoint requires you to be authenticated.",
                              "documentation_url": "https://docs.github.com/graphql/guides/forming-calls-with-graphql"
                                                   "#authenticating-with-graphql"}, headers), 0
    try:
        body = json.loads(raw or b"{}")
        document = parse(str(body.get("query") or ""))
    except (ValueError, GraphQLError) as exc:
        return Response(200, {"errors": [{"message": f"Parse error: {exc}"}]}, headers), 0
    variables = body.get("variables") or {}
    sch = schema()
    problems = validate(sch, document)
    if problems:
        return Response(200, {"errors": [p.formatted for p in problems]}, headers), 0
    cost, nodes = query_cost(document, variables)
    if nodes > 500_000:
        return Response(200, {"errors": [{"type": "MAX_NODE_LIMIT_EXCEEDED",
                                          "message": f"This query requests up to {nodes} possible nodes "
                                                     "which exceeds the maximum limit of 500,000."}]}, headers), 0
    limit, used, reset = budget
    if used + cost > limit:
        return Response(200, {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]},
                        headers), 0
    rates = {"cost": cost, "limit": limit, "remaining": limit - used - cost, "used": used + cost,
             "nodeCount": nodes, "resetAt": datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    resolvers = _Resolvers(_Rest(state, token, base))
    root = {"rateLimit": lambda info, **a: rates, "repository": resolvers.repository}
    result = execute(sch, document, root_value=root, variable_values=variables)
    if not isinstance(result, ExecutionResult):  # only async resolvers give an awaitable; ours are sync
        raise TypeError("the sandbox's GraphQL resolvers must be synchronous")
    out: Json = {"data": result.data}
    if result.errors:
        errors = []
        for err in result.errors:
            item: Json = dict(err.formatted)
            extensions = item.pop("extensions", None)
            if isinstance(extensions, dict) and "type" in extensions:  # GitHub puts `type` at the top
                item["type"] = extensions["type"]
            errors.append(item)
        out["errors"] = errors
    return Response(200, out, headers), cost
