"""A GitHub session for one CLI run: credentials, one client per worker, the summed cost.

PyGithub objects are not thread-safe, so every worker thread gets its own client (and so its own
connection pool and cost meter); the session adds their costs up for the run record. The token
never leaves the credentials object: clients and caches know only its identity hash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditor.facts import RepoFacts
from auditor.github.auth import Credentials, build_auth, credentials_from_env, token_identity
from auditor.github.cache import DiskEtagCache
from auditor.github.client import EtagCache, GitHubClient, make_client
from auditor.github.collect import OrgRepo, RestSource, list_org_repos, sum_costs
from auditor.github.errors import AuthError, CollectError
from auditor.github.graphql import GraphQLSource
from auditor.model import ApiCost
from auditor.plan import FactPlan
from auditor.policy import ScopeSelector
from auditor.runner import FatalCollectError


@dataclass
class GitHubSession:
    """Credentials plus the clients made from them; `cost()` is the whole run's API cost."""

    creds: Credentials
    base_url: str
    max_wait: float = 900.0
    api: str = "auto"
    cache_factory: Callable[[], EtagCache | None] = lambda: None
    target: str | None = None
    graphql_batch: int = 10
    _clients: list[GitHubClient] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listing: list[str] = field(default_factory=list)
    _claimed: set[str] = field(default_factory=set)

    @classmethod
    def from_env(cls, *, base_url: str, max_wait: float = 900.0, api: str = "auto",
                 cache_dir: str | Path | None = None, target: str | None = None,
                 env: dict[str, str] | None = None) -> GitHubSession:
        """Credentials from GITHUB_TOKEN / GH_TOKEN or a GitHub App; exit 3 (via FatalCollectError) if none."""
        try:
            creds = credentials_from_env(env)
        except AuthError as exc:
            raise FatalCollectError(str(exc)) from exc
        session = cls(creds=creds, base_url=base_url, max_wait=max_wait, api=api, target=target)
        if cache_dir is not None:
            session.use_disk_cache(Path(cache_dir))
        return session

    def use_disk_cache(self, folder: Path) -> None:
        """Keep ETags and bodies in `folder`, one file per token identity (a hash, never the token),
        so re-auditing an unchanged repository is answered by 304s that cost no rate limit."""
        identity = token_identity(self.creds)
        self.cache_factory = lambda: DiskEtagCache(folder, identity)

    def new_client(self) -> GitHubClient:
        """A fresh client for the calling worker thread."""
        try:
            auth = build_auth(self.creds, self.base_url, self.target)
        except AuthError as exc:
            raise FatalCollectError(str(exc)) from exc
        client = make_client(auth, self.base_url, max_wait=self.max_wait, cache=self.cache_factory(),
                             identity=token_identity(self.creds))
        with self._lock:
            self._clients.append(client)
        return client

    def cost(self) -> ApiCost:
        """The API cost of every client this session made."""
        with self._lock:
            return sum_costs(c.cost for c in self._clients)

    def org_repos(self, org: str, scope: ScopeSelector) -> list[str]:
        """The org's repositories that the policy's scope selects, sorted by name."""
        client = self.new_client()
        try:
            listing: list[OrgRepo] = list_org_repos(client, org)
        except AuthError as exc:
            raise FatalCollectError(f"GitHub rejected the credentials: {exc}") from exc
        except CollectError as exc:
            raise FatalCollectError(f"cannot list the repositories of {org}: {exc}") from exc
        chosen = [r.full_name for r in listing
                  if scope.selects(r.full_name, topics=r.topics, visibility=r.visibility, archived=r.archived,
                                   fork=r.fork)[0]]
        ordered = sorted(chosen, key=str.lower)
        with self._lock:
            self._listing = list(ordered)
        return ordered

    def _claim(self, name: str) -> list[str]:
        """Up to `graphql_batch - 1` listed repositories no worker has taken yet, to batch with `name`.

        Claimed names are collected by the claiming worker's GraphQL query; the runner still asks for
        them one by one, and the worker answers from what that query brought.
        """
        with self._lock:
            self._claimed.add(name)
            free = [n for n in self._listing if n not in self._claimed][: max(0, self.graphql_batch - 1)]
            self._claimed.update(free)
        return free

    def uses_graphql(self, org_audit: bool) -> bool:
        """`--api graphql`, or `auto` for an org audit (batching pays off only over many repositories)."""
        return self.api == "graphql" or (self.api == "auto" and org_audit)

    def collector(self, plan: FactPlan, now: Callable[[], datetime], *, org_audit: bool = False) -> Callable[
            [str], RepoFacts]:
        """A collect function bound to a new client (call once per worker thread)."""
        source: RestSource | GraphQLSource
        if self.uses_graphql(org_audit):
            source = GraphQLSource(self.new_client(), batch_size=self.graphql_batch, next_batch=self._claim)
        else:
            source = RestSource(self.new_client())

        def collect(repo: str) -> RepoFacts:
            try:
                return source.collect(repo, plan, now())
            except AuthError as exc:
                raise FatalCollectError(f"GitHub rejected the credentials: {exc}") from exc

        return collect
