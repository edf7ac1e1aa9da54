"""Run an audit: collect facts per repository, evaluate, store each repo as it finishes, report.

The runner is independent of where facts come from: it takes a `Collect` callable (REST, GraphQL,
local clone) and a list of repository names. Each repository is stored in the history as soon as
it is evaluated, so an interrupted org audit loses nothing and can be resumed; a repository whose
collection fails gets `error` results with the reason, and the run goes on.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from auditor import __version__
from auditor.engine import error_results, evaluate
from auditor.facts import RepoFacts
from auditor.history import History, StoredWaiver
from auditor.model import ApiCost, PolicyRef, RepoSummary, Result, iso
from auditor.policy import Policy
from auditor.scoring import summarize_repo

log = logging.getLogger(__name__)

Collect = Callable[[str], RepoFacts]
"""Collect the facts of one repository (raises only for failures that end the whole run)."""


class FatalCollectError(Exception):
    """Collection cannot go on for any repository (e.g. authentication failed)."""


@dataclass
class RunOutcome:
    """What a run produced: its id, every result, per-repo summaries, cost, and what was skipped."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[Result] = field(default_factory=list)
    summaries: list[RepoSummary] = field(default_factory=list)
    api: ApiCost = field(default_factory=ApiCost)
    resumed: list[str] = field(default_factory=list)
    complete: bool = False


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id: the start time plus a short random suffix."""
    return f"{iso(now)}-{secrets.token_hex(2)}"


def policy_ref(policy: Policy) -> PolicyRef:
    """How a run records the policy it evaluated."""
    return PolicyRef(policy.name, policy.version, policy.digest)


class Progress:
    """Progress callbacks; the CLI plugs in a rich progress bar or plain log lines."""

    def start(self, total: int) -> None:
        """The run is about to audit `total` repositories."""

    def repo_done(self, repo: str, summary: RepoSummary, seconds: float) -> None:
        """One repository finished."""

    def finish(self) -> None:
        """The run ended (normally or not)."""


def audit_repos(
    *,
    policy: Policy,
    repos: Sequence[str],
    collect: Collect,
    history: History,
    scope: str,
    now: Callable[[], datetime],
    cost: Callable[[], ApiCost] = ApiCost,
    workers: int = 1,
    resume_run: str | None = None,
    progress: Progress | None = None,
    make_collect: Callable[[], Collect] | None = None,
    run_id: str | None = None,
    expected_repos: Sequence[str] | None = None,
) -> RunOutcome:
    """Audit `repos` and store every repository's results in `history` as it finishes.

    With `workers > 1`, each worker thread gets its own collector from `make_collect` (PyGithub
    clients are not thread-safe). With `resume_run`, repositories that run already finished are
    not collected again, and their stored results are carried into the outcome. With `run_id`, the
    run is started or joined under that id (shards of one org audit), and it is marked complete
    once every repo of `expected_repos` (the whole org, not just this shard) is stored.
    """
    progress = progress or Progress()
    started = now()
    sharded = run_id is not None
    if resume_run is not None:
        header = history.header(resume_run)
        run_id = resume_run
        started = header.started_at
        done = history.finished_repos(run_id)
    elif run_id is not None:
        history.join_run(run_id, started_at=started, tool_version=__version__, policy=policy_ref(policy),
                         scope=scope)
        done = history.finished_repos(run_id) & set(repos)
    else:
        run_id = new_run_id(started)
        history.begin_run(run_id, started_at=started, tool_version=__version__, policy=policy_ref(policy),
                          scope=scope)
        done = set()
    outcome = RunOutcome(run_id=run_id, started_at=started)
    history.store_waivers(run_id, [StoredWaiver(rule=w.rule, reason=w.reason, owner=w.owner, expires=w.expires,
                                                repos=w.repos, targets=w.targets) for w in policy.waivers])
    if done:
        previous = history.load_run(run_id)
        outcome.results.extend(r for r in previous.results if r.repo in done)
        outcome.summaries.extend(s for s in previous.repos if s.repo in done)
        outcome.resumed = sorted(done)
    todo = [r for r in repos if r not in done]
    progress.start(len(todo))

    def one(repo: str, collector: Collect) -> tuple[str, list[Result], float]:
        t0 = time.monotonic()
        try:
            facts = collector(repo)
        except FatalCollectError:
            raise
        except Exception as exc:  # noqa: BLE001 - one repo's failure must not end an org audit
            log.warning("collecting %s failed: %s", repo, exc)
            return repo, error_results(policy, repo, f"Collecting {repo} failed: {exc}"), time.monotonic() - t0
        return repo, evaluate(policy, facts), time.monotonic() - t0

    def store(repo: str, results: list[Result], seconds: float) -> None:
        summary = summarize_repo(repo, results)
        history.add_results(run_id, repo, results, summary)
        outcome.results.extend(results)
        outcome.summaries.append(summary)
        progress.repo_done(repo, summary, seconds)

    try:
        if workers <= 1 or len(todo) <= 1:
            for repo in todo:
                store(*one(repo, collect))
        else:
            local = threading.local()

            def in_worker(repo: str) -> tuple[str, list[Result], float]:
                if not hasattr(local, "collect"):
                    local.collect = make_collect() if make_collect else collect
                return one(repo, local.collect)

            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit") as pool:
                pending: set[Future[tuple[str, list[Result], float]]] = set()
                queue = list(todo)
                try:
                    while queue or pending:
                        while queue and len(pending) < workers * 2:
                            pending.add(pool.submit(in_worker, queue.pop(0)))
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            store(*fut.result())
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
    finally:
        outcome.api = cost()
        progress.finish()
    outcome.finished_at = now()
    if sharded:
        outcome.complete = history.finish_shard(run_id, outcome.finished_at, outcome.api,
                                                expected_repos if expected_repos is not None else repos)
    else:
        outcome.complete = True
        history.finish_run(run_id, outcome.finished_at, outcome.api, complete=True)
    return outcome
