"""A GitHub session for one CLI run: credentials, one client per worker, the summed cost.

PyGithub objects are not thread-safe, so every worker thread gets its own client (and so its own
connection pool and cost meter); the session adds their costs up for the run record. The token
never leaves the credentials object: clients and caches know only its identity hash.

Batching across workers: the runner hands repositories to whichever worker is free, one at a time,
but a GraphQL query pays off only over a batch. So the session owns the batches: a worker asked for
a repository nobody has taken claims it with the next untaken ones and collects them in one query;
a worker asked for a repository another worker is already collecting spends the wait collecting a
fresh batch of its own, then takes the other's answer. Every repository is collected exactly once.
The org listing's JSON (`permissions`, `security_and_analysis`) is handed to the collectors, which
then skip the per-repository GET /repos/{o}/{r}.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.facts import RepoFacts
from auditor.github.auth import Credentials, build_auth, credentials_from_env, token_identity
from auditor.github.cache import DiskEtagCache
from auditor.github.client import EtagCache, GitHubClient, make_client
from auditor.github.collect import OrgRepo, RestSource, list_org_repos, sum_costs
from auditor.github.errors import AuthError, CollectError
from auditor.github.graphql import GraphQLSource
from auditor.github.limiter import SharedLimiter
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
    limiter: SharedLimiter = field(default_factory=SharedLimiter)
    _clients: list[GitHubClient] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listing: list[str] = field(default_factory=list)
    _listed_json: dict[str, dict[str, Any]] = field(default_factory=dict)
    _claimed: set[str] = field(default_factory=set)
    _pending: dict[str, Future[RepoFacts]] = field(default_factory=dict)

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
                             identity=token_identity(self.creds), limiter=self.limiter)
        with self._lock:
            self._clients.append(client)
        return client

    def budget_text(self) -> str:
        """The rate-limit budget left, as GitHub last reported it, e.g. "budget 4,812 core, 4,990 graphql"."""
        left = dict(self.limiter.remaining)
        if not left:
            return ""
        return "budget " + ", ".join(f"{n:,} {resource}" for resource, n in sorted(left.items()))

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
            self._listed_json = {r.full_name: dict(r.data) for r in listing if r.data is not None}
        return ordered

    def _claim(self, name: str | None, size: int) -> list[str]:
        """`name` (unless taken) plus untaken listed repositories, up to `size`; each gets a pending answer.

        Must be called with the lock held.
        """
        batch = [name] if name is not None and name not in self._claimed else []
        for listed in self._listing:
            if len(batch) >= size:
                break
            if listed not in self._claimed and listed not in batch:
                batch.append(listed)
        for n in batch:
            self._claimed.add(n)
            self._pending[n] = Future()
        return batch

    def _run_batch(self, source: GraphQLSource, batch: Sequence[str], plan: FactPlan, now: datetime) -> None:
        """Collect `batch` in one GraphQL query and publish each answer (or the failure) to its waiters."""
        with self._lock:
            futures = [self._pending[n] for n in batch]
        try:
            got = {f.repo: f for f in source.collect_many(batch, plan, now)}
        except BaseException as exc:
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for n, fut in zip(batch, futures, strict=True):
            fut.set_result(got[n])

    def _batched(self, source: GraphQLSource, repo: str, plan: FactPlan, now: datetime) -> RepoFacts:
        """`repo`'s facts, collected once across all workers (see the module docstring)."""
        with self._lock:
            if repo in self._claimed and repo not in self._pending:
                self._claimed.discard(repo)  # asked again after its answer was taken: collect anew
            mine = self._claim(repo, source.batch_size)
            fut = self._pending[repo]
        if mine:
            self._run_batch(source, mine, plan, now)
        while not fut.done():
            with self._lock:
                extra = self._claim(None, source.batch_size)
            if not extra:
                break
            self._run_batch(source, extra, plan, now)
        try:
            return fut.result()
        finally:
            with self._lock:
                self._pending.pop(repo, None)

    def uses_graphql(self, org_audit: bool) -> bool:
        """`--api graphql`, or `auto` for an org audit (batching pays off only over many repositories)."""
        return self.api == "graphql" or (self.api == "auto" and org_audit)

    def collector(self, plan: FactPlan, now: Callable[[], datetime], *, org_audit: bool = False) -> Callable[
            [str], RepoFacts]:
        """A collect function bound to a new client (call once per worker thread)."""
        source: RestSource | GraphQLSource
        with self._lock:
            listed = dict(self._listed_json)
        if self.uses_graphql(org_audit):
            source = GraphQLSource(self.new_client(), batch_size=self.graphql_batch, listed=listed)
        else:
            source = RestSource(self.new_client(), listed=listed)

        def collect(repo: str) -> RepoFacts:
            try:
                if isinstance(source, GraphQLSource):
                    facts = self._batched(source, repo, plan, now())
                else:
                    facts = source.collect(repo, plan, now())
            except AuthError as exc:
                raise FatalCollectError(f"GitHub rejected the credentials: {exc}") from exc
            self._check_reachable(facts)
            return facts

        return collect

    def _check_reachable(self, facts: RepoFacts) -> None:
        """End the run (exit 3) when the repository is unreadable and GitHub never answered at all.

        A repository that GitHub refuses (404, 403) still costs an answered request; zero answers
        in the whole session means the API is unreachable (wrong --base-url, network down), which
        docs/cli.md makes exit 3, not a run of `unknown` results that passes the gate.
        """
        if facts.repo_gap is not None and self.cost().requests == 0:
            raise FatalCollectError(f"GitHub API unreachable at {self.base_url}: {facts.repo_gap.reason}")
