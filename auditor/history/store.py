"""The history store: every run and every result, in SQLite by default or any SQL database by URL.

Writes are transactions that either land whole or not at all, so an audit killed mid-write leaves
the history consistent: earlier runs intact, the interrupted run absent or marked incomplete.
A long org audit stores each repository as it finishes (`begin_run`, `add_results`, `finish_run`),
which is also what lets an interrupted run be resumed (`finished_repos`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    Insert,
    Row,
    Table,
    create_engine,
    event,
    func,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from auditor import scoring
from auditor.history import schema as s
from auditor.model import ApiCost, PolicyRef, RepoSummary, Result, Run, WaiverRef

#: How long a writer waits for another writer's transaction before giving up.
BUSY_TIMEOUT_MS = 60_000


class HistoryError(Exception):
    """The history could not be opened, read or written; the message says which and why."""


@dataclass(frozen=True)
class StoredWaiver:
    """A policy waiver as stored with a run (the fields reports show)."""

    rule: str
    reason: str
    owner: str
    expires: date
    repos: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunHeader:
    """A run without its results: what `runs()` lists and trends iterate over."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    policy: PolicyRef
    api: ApiCost
    scope: str
    complete: bool


def to_url(target: str | Path) -> URL:
    """A SQLAlchemy URL for a URL string or a plain path (a path means SQLite; parents are created)."""
    text = str(target)
    if "://" in text:
        url = make_url(text)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            Path(str(url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        return url
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return URL.create("sqlite+pysqlite", database=str(path))


def _json_default(value: Any) -> Any:
    """Evidence is JSON; values JSON lacks are stored in their usual text form."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _evidence_json(evidence: dict[str, Any]) -> str:
    return json.dumps(evidence, sort_keys=True, separators=(",", ":"), default=_json_default)


def _detail_row(r: Result) -> dict[str, Any]:
    """The interned part of a result, with its content digest."""
    w = r.waiver
    row: dict[str, Any] = {
        "message": r.message,
        "evidence": _evidence_json(r.evidence),
        "remediation": r.remediation,
        "control": r.control,
        "waiver_owner": w.owner if w else None,
        "waiver_reason": w.reason if w else None,
        "waiver_expires": w.expires if w else None,
        "waiver_expired": w.expired if w else None,
    }
    material = json.dumps([row[k] for k in sorted(row)], default=_json_default, separators=(",", ":"))
    row["digest"] = hashlib.blake2b(material.encode(), digest_size=16).digest()
    return row


def _header(row: Row[Any]) -> RunHeader:
    return RunHeader(
        id=row.id, started_at=row.started_at, finished_at=row.finished_at, tool_version=row.tool_version,
        policy=PolicyRef(row.policy_name, row.policy_version, row.policy_digest),
        api=ApiCost(requests=row.api_requests, rate_limit_used=row.api_rate_limit_used,
                    retries=row.api_retries, not_modified=row.api_not_modified,
                    graphql_points=row.api_graphql_points),
        scope=row.scope, complete=bool(row.complete))


def _api_values(api: ApiCost) -> dict[str, int]:
    return {"api_requests": api.requests, "api_rate_limit_used": api.rate_limit_used,
            "api_retries": api.retries, "api_not_modified": api.not_modified,
            "api_graphql_points": api.graphql_points}


class History:
    """A handle on one history database. Cheap to open; safe to use from several threads."""

    def __init__(self, engine: Engine, where: str) -> None:
        self._engine = engine
        self._where = where
        self._sqlite = engine.dialect.name == "sqlite"

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(cls, target: str | Path) -> History:
        """Open (creating or migrating if needed) the history at a path or SQLAlchemy URL."""
        try:
            url = to_url(target)
        except (sa_exc.ArgumentError, OSError) as e:
            raise HistoryError(f"cannot open history {target}: {e}") from e
        where = url.render_as_string(hide_password=True)
        try:
            engine = create_engine(url)
        except (sa_exc.SQLAlchemyError, ImportError) as e:
            raise HistoryError(f"cannot open history {where}: {e}") from e
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_on_connect)
        history = cls(engine, where)
        try:
            history._prepare_schema()
        except HistoryError:
            engine.dispose()
            raise
        except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as e:
            engine.dispose()
            raise HistoryError(
                f"{where} is not an auditor history database, or it is corrupted or unreadable: "
                f"{_reason(e)}") from e
        return history

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for the trend queries and for tests that observe statements."""
        return self._engine

    @property
    def where(self) -> str:
        """The database location, password hidden, for messages."""
        return self._where

    def _prepare_schema(self) -> None:
        version = self._read_version()
        if version == s.SCHEMA_VERSION:
            return
        with self._tx(write=True) as conn:
            version = _version(conn, self._where)  # another process may have created or migrated it meanwhile
            if version is None:
                s.metadata.create_all(conn)
                conn.execute(insert(s.schema_version).values(version=s.SCHEMA_VERSION))
                return
            self._check_not_newer(version)
            for step in range(version, s.SCHEMA_VERSION):
                s.MIGRATIONS[step](conn)
            conn.execute(update(s.schema_version).values(version=s.SCHEMA_VERSION))

    def _read_version(self) -> int | None:
        with self._tx(write=False) as conn:
            version = _version(conn, self._where)
        if version is not None:
            self._check_not_newer(version)
        return version

    def _check_not_newer(self, version: int) -> None:
        if version > s.SCHEMA_VERSION:
            raise HistoryError(
                f"{self._where} was written by a newer auditor (history schema version {version}; "
                f"this auditor reads up to version {s.SCHEMA_VERSION}); upgrade auditor to use it")

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Connection]:
        """One transaction. On SQLite a writer takes the write lock up front (BEGIN IMMEDIATE)
        so two audits queue on the busy timeout instead of failing on a lock upgrade."""
        with self._engine.connect() as conn:
            if self._sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot of the history (the trend queries run inside one)."""
        with self._guard("read"), self._tx(write=False) as conn:
            yield conn

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except (sa_exc.SQLAlchemyError, sqlite3.Error) as e:
            raise HistoryError(f"could not {action} the history at {self._where}: {_reason(e)}") from e

    # ---------------------------------------------------------------- writing

    def begin_run(self, run_id: str, *, started_at: datetime, tool_version: str, policy: PolicyRef,
                  scope: str) -> str:
        """Record that a run started; it stays incomplete until `finish_run`."""
        with self._guard(f"start run {run_id} in"), self._tx(write=True) as conn:
            self._insert_run(conn, run_id, started_at=started_at, finished_at=None,
                             tool_version=tool_version, policy=policy, api=ApiCost(), scope=scope,
                             complete=False)
        return run_id

    def add_results(self, run_id: str, repo: str, results: Iterable[Result],
                    summary: RepoSummary | None = None) -> None:
        """Store one repository's results and summary in their own transaction.

        Storing a repo again for the same run replaces it, so a resumed run may redo a repo.
        """
        rs = list(results)
        with self._guard(f"store {repo} of run {run_id} in"), self._tx(write=True) as conn:
            run_pk = self._run_pk(conn, run_id)
            self._delete_repo(conn, run_pk, repo)
            seq = conn.execute(select(func.coalesce(func.max(s.results.c.seq) + 1, 0))
                               .where(s.results.c.run_pk == run_pk)).scalar_one()
            rseq = conn.execute(select(func.coalesce(func.max(s.repo_summaries.c.seq) + 1, 0))
                                .where(s.repo_summaries.c.run_pk == run_pk)).scalar_one()
            self._store_repo(conn, run_pk, repo, list(enumerate(rs, start=seq)),
                             summary=summary or scoring.summarize_repo(repo, rs), summary_seq=rseq)

    def finish_run(self, run_id: str, finished_at: datetime, api_cost: ApiCost, *,
                   complete: bool = True) -> None:
        """Close a run: its end time, what it cost, and whether every repo in scope was stored."""
        with self._guard(f"finish run {run_id} in"), self._tx(write=True) as conn:
            run_pk = self._run_pk(conn, run_id)
            conn.execute(update(s.runs).where(s.runs.c.pk == run_pk).values(
                finished_at=finished_at, complete=complete, **_api_values(api_cost)))

    def join_run(self, run_id: str, *, started_at: datetime, tool_version: str, policy: PolicyRef,
                 scope: str) -> str:
        """Start run `run_id`, or join it if another shard already started it.

        Shards of one org audit (`--shard K/N --run-id ID`) write into one run; joining checks the
        shard evaluates the same policy over the same scope, so one report never mixes two audits.
        """
        with self._guard(f"start or join run {run_id} in"), self._tx(write=True) as conn:
            row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).first()
            if row is None:
                self._insert_run(conn, run_id, started_at=started_at, finished_at=None,
                                 tool_version=tool_version, policy=policy, api=ApiCost(), scope=scope,
                                 complete=False)
                return run_id
            head = _header(row)
        if head.policy.digest != policy.digest or head.scope != scope:
            raise HistoryError(f"run {run_id} in {self._where} audits {head.scope} with policy "
                               f"{head.policy.name} ({head.policy.digest[:19]}); this shard audits {scope} with "
                               f"{policy.name} ({policy.digest[:19]}): give the shards the same policy and scope")
        return run_id

    def finish_shard(self, run_id: str, finished_at: datetime, api_cost: ApiCost, expected: Iterable[str]) -> bool:
        """Add one shard's cost to the run; mark it complete once every expected repo is stored.

        Returns whether the run is now complete. The last shard to finish completes the run, whichever
        it is; finishing reads and writes in one transaction, so two shards finishing together agree.
        """
        wanted = set(expected)
        with self._guard(f"finish a shard of run {run_id} in"), self._tx(write=True) as conn:
            run_pk = self._run_pk(conn, run_id)
            row = conn.execute(select(s.runs).where(s.runs.c.pk == run_pk)).one()
            done = set(conn.execute(
                select(s.repos.c.name).join(s.repo_summaries, s.repo_summaries.c.repo_pk == s.repos.c.pk)
                .where(s.repo_summaries.c.run_pk == run_pk)).scalars())
            complete = wanted <= done
            previous = _header(row).api
            total = ApiCost(previous.requests + api_cost.requests,
                            previous.rate_limit_used + api_cost.rate_limit_used,
                            previous.retries + api_cost.retries, previous.not_modified + api_cost.not_modified,
                            previous.graphql_points + api_cost.graphql_points)
            end = max(finished_at, row.finished_at) if row.finished_at is not None else finished_at
            conn.execute(update(s.runs).where(s.runs.c.pk == run_pk).values(
                finished_at=end, complete=complete, **_api_values(total)))
        return complete

    def record_run(self, run: Run) -> None:
        """Store a whole run, header, summaries and results, in ONE transaction."""
        by_repo: dict[str, list[tuple[int, Result]]] = {}
        for i, r in enumerate(run.results):
            by_repo.setdefault(r.repo, []).append((i, r))
        summaries = {rs.repo: (i, rs) for i, rs in enumerate(run.repos)}
        order = [rs.repo for rs in run.repos] + [r for r in by_repo if r not in summaries]
        with self._guard(f"record run {run.id} in"), self._tx(write=True) as conn:
            run_pk = self._insert_run(
                conn, run.id, started_at=run.started_at, finished_at=run.finished_at,
                tool_version=run.tool_version, policy=run.policy, api=run.api, scope=run.scope,
                complete=run.complete)
            for n, repo in enumerate(order):
                seq, summary = summaries.get(repo) or (
                    len(run.repos) + n, scoring.summarize_repo(repo, (r for _, r in by_repo[repo])))
                self._store_repo(conn, run_pk, repo, by_repo.get(repo, []), summary=summary, summary_seq=seq)

    def _insert_run(self, conn: Connection, run_id: str, *, started_at: datetime,
                    finished_at: datetime | None, tool_version: str, policy: PolicyRef, api: ApiCost,
                    scope: str, complete: bool) -> int:
        exists = conn.execute(select(s.runs.c.pk).where(s.runs.c.id == run_id)).first()
        if exists is not None:
            raise HistoryError(f"run {run_id} is already in the history at {self._where}")
        pk = conn.execute(insert(s.runs).values(
            id=run_id, started_at=started_at, finished_at=finished_at, tool_version=tool_version,
            policy_name=policy.name, policy_version=policy.version, policy_digest=policy.digest,
            scope=scope, complete=complete, **_api_values(api)).returning(s.runs.c.pk)).scalar_one()
        return int(pk)

    def _run_pk(self, conn: Connection, run_id: str) -> int:
        pk = conn.execute(select(s.runs.c.pk).where(s.runs.c.id == run_id)).scalar_one_or_none()
        if pk is None:
            raise HistoryError(f"no run {run_id} in the history at {self._where}")
        return int(pk)

    def _delete_repo(self, conn: Connection, run_pk: int, repo: str) -> None:
        repo_pk = conn.execute(select(s.repos.c.pk).where(s.repos.c.name == repo)).scalar_one_or_none()
        if repo_pk is None:
            return
        conn.execute(s.repo_summaries.delete().where(
            (s.repo_summaries.c.run_pk == run_pk) & (s.repo_summaries.c.repo_pk == repo_pk)))
        conn.execute(s.results.delete().where(
            (s.results.c.run_pk == run_pk)
            & s.results.c.finding_pk.in_(select(s.findings.c.pk).where(s.findings.c.repo_pk == repo_pk))))

    def _store_repo(self, conn: Connection, run_pk: int, repo: str, results: Sequence[tuple[int, Result]],
                    *, summary: RepoSummary, summary_seq: int) -> None:
        for _, r in results:
            if r.repo != repo:
                raise HistoryError(f"a result of {r.repo} was given as a result of {repo}")
        repo_pk = self._intern_one(conn, s.repos, {"name": repo})
        rule_pks = self._intern_rules(conn, {(r.rule, r.family) for _, r in results})
        finding_pks = self._intern_findings(conn, repo_pk, {(rule_pks[(r.rule, r.family)], r.target)
                                                            for _, r in results})
        detail_rows = [_detail_row(r) for _, r in results]
        detail_pks = self._intern_details(conn, detail_rows)
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        for (seq, r), d in zip(results, detail_rows, strict=True):
            finding_pk = finding_pks[(rule_pks[(r.rule, r.family)], r.target)]
            if finding_pk in seen:
                raise HistoryError(f"run has two results for {r.repo} {r.rule} {r.target}; "
                                   "a rule must report each target once")
            seen.add(finding_pk)
            rows.append({"run_pk": run_pk, "finding_pk": finding_pk, "seq": seq,
                         "status": s.STATUS_CODES[r.status], "severity": s.SEVERITY_CODES[r.severity],
                         "detail_pk": detail_pks[d["digest"]]})
        if rows:
            conn.execute(insert(s.results), rows)
        conn.execute(insert(s.repo_summaries).values(
            run_pk=run_pk, repo_pk=repo_pk, seq=summary_seq, status=summary.status, score=summary.score,
            coverage=summary.coverage, counts=json.dumps(summary.counts, sort_keys=True),
            error=summary.error))

    # Interning: look up what exists, insert only what is missing (ignoring a row another writer
    # inserted meanwhile), then look the missing ones up again. The common case, everything seen
    # before, costs one SELECT per table.

    def _insert_missing(self, table: Table, keys: Sequence[str]) -> Insert:
        if self._sqlite:
            return sqlite_dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        if self._engine.dialect.name == "postgresql":
            return pg_dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        return insert(table)

    def _intern_one(self, conn: Connection, table: Table, values: dict[str, Any]) -> int:
        cond = [table.c[k] == v for k, v in values.items()]
        pk = conn.execute(select(table.c.pk).where(*cond)).scalar_one_or_none()
        if pk is None:
            conn.execute(self._insert_missing(table, list(values)).values(**values))
            pk = conn.execute(select(table.c.pk).where(*cond)).scalar_one()
        return int(pk)

    def _intern_rules(self, conn: Connection, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        def fetch() -> dict[tuple[str, str], int]:
            q = select(s.rules.c.pk, s.rules.c.name, s.rules.c.family).where(
                s.rules.c.name.in_(sorted({n for n, _ in wanted})))
            return {(row.name, row.family): row.pk for row in conn.execute(q)}
        if not wanted:
            return {}
        have = fetch()
        missing = wanted - have.keys()
        if missing:
            conn.execute(self._insert_missing(s.rules, ("name", "family")),
                         [{"name": n, "family": f} for n, f in sorted(missing)])
            have = fetch()
        return have

    def _intern_findings(self, conn: Connection, repo_pk: int,
                         wanted: set[tuple[int, str]]) -> dict[tuple[int, str], int]:
        def fetch() -> dict[tuple[int, str], int]:
            q = select(s.findings.c.pk, s.findings.c.rule_pk, s.findings.c.target).where(
                s.findings.c.repo_pk == repo_pk)
            return {(row.rule_pk, row.target): row.pk for row in conn.execute(q)}
        if not wanted:
            return {}
        have = fetch()
        missing = wanted - have.keys()
        if missing:
            conn.execute(self._insert_missing(s.findings, ("repo_pk", "rule_pk", "target")),
                         [{"repo_pk": repo_pk, "rule_pk": rp, "target": t} for rp, t in sorted(missing)])
            have = fetch()
        return have

    def _intern_details(self, conn: Connection, rows: list[dict[str, Any]]) -> dict[bytes, int]:
        def fetch(digests: Iterable[bytes]) -> dict[bytes, int]:
            q = select(s.details.c.pk, s.details.c.digest).where(s.details.c.digest.in_(list(digests)))
            return {bytes(row.digest): row.pk for row in conn.execute(q)}
        unique = {d["digest"]: d for d in rows}
        if not unique:
            return {}
        have = fetch(unique)
        missing = [unique[d] for d in unique if d not in have]
        if missing:
            conn.execute(self._insert_missing(s.details, ("digest",)), missing)
            have.update(fetch(d["digest"] for d in missing))
        return have

    # ---------------------------------------------------------------- reading

    def runs(self, *, since: datetime | None = None, until: datetime | None = None,
             scope: str | None = None, complete_only: bool = False) -> list[RunHeader]:
        """Run headers, oldest first, optionally within [since, until] and of one scope."""
        q = select(s.runs).order_by(s.runs.c.started_at, s.runs.c.pk)
        if since is not None:
            q = q.where(s.runs.c.started_at >= since)
        if until is not None:
            q = q.where(s.runs.c.started_at <= until)
        if scope is not None:
            q = q.where(s.runs.c.scope == scope)
        if complete_only:
            q = q.where(s.runs.c.complete.is_(True))
        with self.read() as conn:
            return [_header(row) for row in conn.execute(q)]

    def latest_run(self, *, complete_only: bool = True) -> RunHeader | None:
        """The most recent run (complete ones only unless asked), None on an empty history."""
        found = self.runs(complete_only=complete_only)
        return found[-1] if found else None

    def run_near(self, at: datetime, tolerance: timedelta, *, complete_only: bool = True) -> RunHeader | None:
        """The run started closest to `at`, if one started within `tolerance` of it."""
        found = self.runs(since=at - tolerance, until=at + tolerance, complete_only=complete_only)
        if not found:
            return None
        return min(found, key=lambda h: abs(h.started_at - at))

    def header(self, run_id: str) -> RunHeader:
        """One run's header; HistoryError if there is no such run."""
        with self.read() as conn:
            row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).first()
        if row is None:
            raise HistoryError(f"no run {run_id} in the history at {self._where}")
        return _header(row)

    def store_waivers(self, run_id: str, waivers: Sequence[StoredWaiver]) -> None:
        """Keep the policy's waivers with the run, so `auditor report` can list them from the history."""
        text = json.dumps([{**w.__dict__, "expires": w.expires.isoformat(), "repos": list(w.repos),
                            "targets": list(w.targets)} for w in waivers], sort_keys=True)
        with self._guard(f"store the waivers of run {run_id} in"), self._tx(write=True) as conn:
            run_pk = self._run_pk(conn, run_id)
            conn.execute(update(s.runs).where(s.runs.c.pk == run_pk).values(policy_waivers=text))

    def run_waivers(self, run_id: str) -> list[StoredWaiver] | None:
        """The policy waivers stored with a run; None when the run predates storing them."""
        with self.read() as conn:
            text = conn.execute(select(s.runs.c.policy_waivers).where(s.runs.c.id == run_id)).scalar()
        if text is None:
            return None
        return [StoredWaiver(rule=w["rule"], reason=w["reason"], owner=w["owner"],
                             expires=date.fromisoformat(w["expires"]), repos=tuple(w.get("repos", ())),
                             targets=tuple(w.get("targets", ()))) for w in json.loads(text)]

    def finished_repos(self, run_id: str) -> set[str]:
        """Repositories whose results are stored for a run (what a resumed run may skip)."""
        q = (select(s.repos.c.name).join(s.repo_summaries, s.repo_summaries.c.repo_pk == s.repos.c.pk)
             .join(s.runs, s.runs.c.pk == s.repo_summaries.c.run_pk).where(s.runs.c.id == run_id))
        with self.read() as conn:
            self._run_pk(conn, run_id)
            return set(conn.execute(q).scalars())

    def load_run(self, run_id: str) -> Run:
        """A stored run with its summaries and results: repos by name, each repo's results in the order
        they were evaluated. The order does not depend on which worker or shard stored a repo first, so
        a sharded or parallel run reads back exactly like a sequential one."""
        with self.read() as conn:
            row = conn.execute(select(s.runs).where(s.runs.c.id == run_id)).first()
            if row is None:
                raise HistoryError(f"no run {run_id} in the history at {self._where}")
            head = _header(row)
            summaries = tuple(
                RepoSummary(repo=r.name, status=r.status, score=r.score, coverage=r.coverage,
                            counts=json.loads(r.counts), error=r.error)
                for r in conn.execute(
                    select(s.repos.c.name, s.repo_summaries).join(
                        s.repos, s.repos.c.pk == s.repo_summaries.c.repo_pk)
                    .where(s.repo_summaries.c.run_pk == row.pk).order_by(s.repos.c.name)))
            results = tuple(_result(r) for r in conn.execute(_results_query(row.pk)))
        return Run(id=head.id, started_at=head.started_at, finished_at=head.finished_at,
                   tool_version=head.tool_version, policy=head.policy, api=head.api, scope=head.scope,
                   complete=head.complete, repos=summaries, results=results)


def _results_query(run_pk: int) -> Any:
    r, f, d = s.results, s.findings, s.details
    return (select(r.c.status, r.c.severity, s.repos.c.name.label("repo"), s.rules.c.name.label("rule"),
                   s.rules.c.family, f.c.target, d.c.message, d.c.evidence, d.c.remediation, d.c.control,
                   d.c.waiver_owner, d.c.waiver_reason, d.c.waiver_expires, d.c.waiver_expired)
            .join(f, f.c.pk == r.c.finding_pk).join(s.repos, s.repos.c.pk == f.c.repo_pk)
            .join(s.rules, s.rules.c.pk == f.c.rule_pk).join(d, d.c.pk == r.c.detail_pk)
            .where(r.c.run_pk == run_pk).order_by(s.repos.c.name, r.c.seq))


def _result(row: Row[Any]) -> Result:
    waiver = None
    if row.waiver_owner is not None:
        waiver = WaiverRef(owner=row.waiver_owner, reason=row.waiver_reason, expires=row.waiver_expires,
                           expired=bool(row.waiver_expired))
    return Result(rule=row.rule, family=row.family, repo=row.repo, target=row.target,
                  status=s.STATUS_BY_CODE[row.status], severity=s.SEVERITY_BY_CODE[row.severity],
                  message=row.message, evidence=json.loads(row.evidence), remediation=row.remediation,
                  control=row.control, waiver=waiver)


def _version(conn: Connection, where: str) -> int | None:
    """The stored schema version; None for an empty database; HistoryError for a foreign one."""
    names = set(conn.dialect.get_table_names(conn))
    if s.schema_version.name not in names:
        if names:
            raise HistoryError(f"{where} has tables but no auditor schema version; "
                               "it is not an auditor history")
        return None
    version = conn.execute(select(s.schema_version.c.version)).scalar_one_or_none()
    if version is None:
        raise HistoryError(f"{where} has no auditor schema version row; the history is damaged")
    return int(version)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers run beside a writer; the busy timeout makes a second writer wait its turn.

    The driver's own transaction handling is switched off so `History._tx` decides how each
    transaction begins.
    """
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() != "wal":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _reason(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    return str(orig if orig is not None else e).splitlines()[0]


__all__ = ["History", "HistoryError", "RunHeader", "to_url"]
